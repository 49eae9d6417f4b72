// Patient, ImagingStudy and Endpoint served live from Orthanc's index, over a
// tricky dataset of real DICOM files sent by storescu, through fhir-kit-client.
import { expect } from 'chai';
import { expectOutcome, failure, fhirClient } from '../support/fhir';
import { fhirProblems } from '../support/fhir-schema';
import { imagingDataset, sendDataset, type Dataset } from '../support/imaging-dataset';
import { Orthanc } from '../support/orthanc';

type Json = Record<string, any>;

async function json(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Json }> {
  const response = await fetch(url, { headers });
  return { status: response.status, body: (await response.json()) as Json };
}

function ids(bundle: Json, mode = 'match'): string[] {
  return (bundle.entry ?? []).filter((e: Json) => e.search?.mode === mode).map((e: Json) => `${e.resource.resourceType}/${e.resource.id}`).sort();
}

describe('imaging resources from Orthanc', function () {
  this.timeout(120000);
  let orthanc: Orthanc;
  let dataset: Dataset;
  let patients: Json[];
  let studies: Json[];
  const client = () => fhirClient(orthanc.fhirUrl);
  const search = async (resourceType: string, searchParams: Json) =>
    (await client().search({ resourceType, searchParams: { _count: '1000', ...searchParams } })) as Json;
  const patientBy = (patientId: string) => patients.find((p) => p.identifier?.some((i: Json) => i.value === patientId))!;
  const studyWith = (accession: string) => studies.filter((s) => s.identifier?.some((i: Json) => i.value === accession));

  before(async () => {
    orthanc = await Orthanc.start({
      withDicomWeb: true,
      fhir: { Enable: true, PatientIdSystem: 'urn:oid:1.2.3.4.5' },
    });
    dataset = imagingDataset();
    sendDataset(orthanc.dicomPort, dataset);
    patients = (await search('Patient', {})).entry.map((e: Json) => e.resource);
    studies = (await search('ImagingStudy', {})).entry.map((e: Json) => e.resource);
  });
  after(async () => orthanc?.dispose());

  it('serves every patient and study, each valid against the R5 schema', async () => {
    expect(patients).to.have.length(5);
    expect(studies).to.have.length(6);
    for (const resource of [...patients, ...studies]) {
      const read = (await client().read({ resourceType: resource.resourceType, id: resource.id })) as Json;
      expect(fhirProblems(read as { resourceType: string }), `${resource.resourceType}/${resource.id}`).to.deep.equal([]);
    }
    const endpoint = (await client().read({ resourceType: 'Endpoint', id: 'dicomweb' })) as Json;
    expect(fhirProblems(endpoint as { resourceType: string })).to.deep.equal([]);
  });

  it("uses Orthanc's own ids", async () => {
    const orthancStudies = (await (await fetch(`${orthanc.url}/studies`)).json()) as string[];
    expect(studies.map((s) => s.id).sort()).to.deep.equal([...orthancStudies].sort());
    const orthancPatients = (await (await fetch(`${orthanc.url}/patients`)).json()) as string[];
    expect(patients.map((p) => p.id).sort()).to.deep.equal([...orthancPatients].sort());
  });

  it('maps a patient: identifiers, names with every component and group, gender, birth date', () => {
    const muller = patientBy('MRN 001/2024-A');
    expect(muller.identifier[0]).to.include({ system: 'urn:oid:1.2.3.4.5', value: 'MRN 001/2024-A' });
    expect(muller.name[0]).to.deep.include({ family: 'Müller', given: ['Jürgen', 'Karl'], prefix: ['Dr.'], suffix: ['Jr.'] });
    expect(muller).to.include({ gender: 'male', birthDate: '1965-04-12' });
    const yamada = patientBy('JP-0002');
    expect(yamada.name.map((n: Json) => n.family)).to.deep.equal(['Yamada', '山田', 'やまだ']);
    const anonymous = patientBy("O'Brien #3");
    expect(anonymous).to.not.have.any.keys('birthDate', 'gender');
  });

  it('maps a study: identifiers, modalities, started with its zone, series and instances', () => {
    const [chest] = studyWith('ACC-1001');
    expect(chest.status).to.equal('available');
    expect(chest.identifier[0].system).to.equal('urn:dicom:uid');
    expect(chest.identifier[0].value).to.match(/^urn:oid:2\.25\./);
    expect(chest.modality.map((m: Json) => m.coding[0].code).sort()).to.deep.equal(['CT', 'PT']);
    expect(chest.started).to.equal('2024-01-31T10:15:30+01:00');
    expect(chest.referrer.display).to.contain('House');
    expect(chest.procedure[0].concept.coding[0]).to.include({ system: 'http://loinc.org', code: '24627-2' });
    expect(chest.numberOfSeries).to.equal(2);
    expect(chest.numberOfInstances).to.equal(5);
    const ct = chest.series.find((s: Json) => s.modality.coding[0].code === 'CT');
    expect(ct.number).to.equal(1);
    expect(ct.numberOfInstances).to.equal(3);
    expect(ct.instance).to.have.length(3);
    expect(ct.instance[0].sopClass).to.deep.include({ system: 'urn:ietf:rfc:3986', code: 'urn:oid:1.2.840.10008.5.1.4.1.1.2' });
    expect(chest.basedOn[0].identifier.value).to.equal('ACC-1001');
    expect(chest.endpoint).to.deep.equal([{ reference: 'Endpoint/dicomweb' }]);
    const [head] = studyWith('ACC-0900');
    expect(head.started).to.equal('2023-06-15');
    expect(head.series[0]).to.not.have.property('number');
    expect(head.series[0].laterality.coding[0].code).to.be.a('string');
  });

  it('keeps one study UID under two PatientIDs apart', async () => {
    const twins = studyWith('ACC-TWIN');
    expect(twins).to.have.length(2);
    expect(new Set(twins.map((s) => s.subject.reference)).size).to.equal(2);
    const found = await search('ImagingStudy', { identifier: `urn:dicom:uid|urn:oid:${dataset.sharedStudyUid}` });
    expect(ids(found)).to.have.length(2);
    const bare = await search('ImagingStudy', { identifier: dataset.sharedStudyUid });
    expect(ids(bare)).to.deep.equal(ids(found));
  });

  it('searches patients by identifier, name, family, given, birthdate and gender', async () => {
    const muller = `Patient/${patientBy('MRN 001/2024-A').id}`;
    expect(ids(await search('Patient', { identifier: 'urn:oid:1.2.3.4.5|MRN 001/2024-A' }))).to.deep.equal([muller]);
    expect(ids(await search('Patient', { identifier: 'MRN 001/2024-A' }))).to.deep.equal([muller]);
    expect(ids(await search('Patient', { identifier: 'urn:other|MRN 001/2024-A' }))).to.deep.equal([]);
    expect(ids(await search('Patient', { name: 'muller' }))).to.deep.equal([muller]);
    expect(ids(await search('Patient', { family: 'MÜL' }))).to.deep.equal([muller]);
    expect(ids(await search('Patient', { 'family:exact': 'müller' }))).to.deep.equal([]);
    expect(ids(await search('Patient', { given: 'karl' }))).to.deep.equal([muller]);
    expect(ids(await search('Patient', { name: '山田' }))).to.have.length(1);
    expect(ids(await search('Patient', { birthdate: '1965' }))).to.deep.equal([muller]);
    expect(ids(await search('Patient', { birthdate: 'ge1988-07-30' }))).to.have.length(3);
    expect(ids(await search('Patient', { birthdate: 'lt1965-04-12' }))).to.deep.equal([]);
    expect(ids(await search('Patient', { gender: 'female' }))).to.have.length(2);
    expect(ids(await search('Patient', { gender: 'male,other' }))).to.have.length(2);
  });

  it('never reads a client value as a DICOM wildcard', async () => {
    expect(ids(await search('Patient', { identifier: '*' }))).to.deep.equal([]);
    expect(ids(await search('Patient', { identifier: 'MRN*' }))).to.deep.equal([]);
    expect(ids(await search('Patient', { name: '*' }))).to.deep.equal([]);
    expect(ids(await search('ImagingStudy', { identifier: 'ACC-100?' }))).to.deep.equal([]);
  });

  it('searches studies by patient, started, modality, series, instance, dicom-class and more', async () => {
    const muller = patientBy('MRN 001/2024-A').id;
    const [chest] = studyWith('ACC-1001');
    const [head] = studyWith('ACC-0900');
    const both = [`ImagingStudy/${chest.id}`, `ImagingStudy/${head.id}`].sort();
    expect(ids(await search('ImagingStudy', { patient: muller }))).to.deep.equal(both);
    expect(ids(await search('ImagingStudy', { subject: `Patient/${muller}` }))).to.deep.equal(both);
    expect(ids(await search('ImagingStudy', { subject: `${orthanc.fhirUrl}/Patient/${muller}` }))).to.deep.equal(both);
    expect(ids(await search('ImagingStudy', { started: 'ge2024-01-31', patient: muller }))).to.deep.equal([`ImagingStudy/${chest.id}`]);
    expect(ids(await search('ImagingStudy', { started: '2023-06' }))).to.deep.equal([`ImagingStudy/${head.id}`]);
    expect(ids(await search('ImagingStudy', { modality: 'PT' }))).to.deep.equal([`ImagingStudy/${chest.id}`]);
    expect(ids(await search('ImagingStudy', { modality: 'http://dicom.nema.org/resources/ontology/DCM|MR,US' }))).to.have.length(2);
    expect(ids(await search('ImagingStudy', { series: chest.series[0].uid }))).to.deep.equal([`ImagingStudy/${chest.id}`]);
    expect(ids(await search('ImagingStudy', { instance: chest.series[0].instance[1].uid }))).to.deep.equal([`ImagingStudy/${chest.id}`]);
    expect(ids(await search('ImagingStudy', { 'dicom-class': '1.2.840.10008.5.1.4.1.1.4' }))).to.deep.equal([`ImagingStudy/${head.id}`]);
    expect(ids(await search('ImagingStudy', { identifier: 'ACC-1001' }))).to.deep.equal([`ImagingStudy/${chest.id}`]);
    expect(ids(await search('ImagingStudy', { 'based-on:identifier': 'ACC-0900' }))).to.deep.equal([`ImagingStudy/${head.id}`]);
    expect(ids(await search('ImagingStudy', { status: 'available' }))).to.have.length(6);
    expect(ids(await search('ImagingStudy', { endpoint: 'Endpoint/dicomweb' }))).to.have.length(6);
  });

  it('includes subjects and endpoints, and reverse-includes studies on patients', async () => {
    const [chest] = studyWith('ACC-1001');
    const bundle = await search('ImagingStudy', { _id: chest.id, _include: ['ImagingStudy:subject', 'ImagingStudy:endpoint'] });
    expect(ids(bundle, 'include')).to.deep.equal(['Endpoint/dicomweb', chest.subject.reference].sort());
    const reverse = await search('Patient', { identifier: 'MRN 001/2024-A', _revinclude: 'ImagingStudy:subject' });
    expect(ids(reverse, 'include')).to.have.length(2);
  });

  it('pages with next/previous links, a total, and _summary=count', async () => {
    // A broad search is not counted unless asked (_total=accurate): the next link says that more follow.
    const uncounted = (await client().search({ resourceType: 'ImagingStudy', searchParams: { _count: '2' } })) as Json;
    expect(uncounted).to.not.have.property('total');
    let bundle = (await client().search({ resourceType: 'ImagingStudy', searchParams: { _count: '2', _total: 'accurate' } })) as Json;
    expect(bundle.total).to.equal(6);
    const seen: string[] = [];
    let pages = 0;
    while (bundle) {
      pages++;
      seen.push(...ids(bundle));
      expect(bundle.entry).to.have.length.at.most(2);
      bundle = (await client().nextPage({ bundle: bundle as any })) as Json;
    }
    expect(pages).to.equal(3);
    expect(new Set(seen).size).to.equal(6);
    const count = await search('ImagingStudy', { _summary: 'count' });
    expect(count.total).to.equal(6);
    expect(count).to.not.have.property('entry');
  });

  it('answers 400 for an unknown parameter, or a warning with Prefer: handling=lenient', async () => {
    const strict = await failure(client().search({ resourceType: 'Patient', searchParams: { colour: 'blue' } }));
    expect(strict.status).to.equal(400);
    expectOutcome(strict.data, 'not-supported');
    const lenient = await json(`${orthanc.fhirUrl}/Patient?colour=blue`, { prefer: 'handling=lenient' });
    expect(lenient.status).to.equal(200);
    expect(lenient.body.total).to.equal(5);
    expect(lenient.body.entry.some((e: Json) => e.search.mode === 'outcome')).to.equal(true);
    const badDate = await json(`${orthanc.fhirUrl}/ImagingStudy?started=yesterday`);
    expect(badDate.status).to.equal(400);
  });

  it('answers 404 for an unknown id', async () => {
    for (const resourceType of ['Patient', 'ImagingStudy', 'Endpoint']) {
      const missing = await failure(client().read({ resourceType, id: 'nope' }));
      expect(missing.status, resourceType).to.equal(404);
      expectOutcome(missing.data, 'not-found');
    }
  });

  it('leads through the Endpoint to the study over DICOMweb WADO-RS', async () => {
    const [chest] = studyWith('ACC-1001');
    const endpoint = (await client().read({ resourceType: 'Endpoint', id: chest.endpoint[0].reference.split('/')[1] })) as Json;
    expect(endpoint.connectionType[0].coding[0].code).to.equal('dicom-wado-rs');
    expect(endpoint.address).to.equal(`${orthanc.url}/dicom-web`);
    const uid = chest.identifier[0].value.replace('urn:oid:', '');
    const metadata = await fetch(`${endpoint.address}/studies/${uid}/metadata`, { headers: { accept: 'application/dicom+json' } });
    expect(metadata.status).to.equal(200);
    const instances = (await metadata.json()) as Json[];
    expect(instances).to.have.length(5);
    expect(instances[0]['0020000D'].Value[0]).to.equal(uid);
  });

  it('builds the Endpoint address from the proxy headers', async () => {
    const endpoint = await json(`${orthanc.fhirUrl}/Endpoint/dicomweb`, {
      'x-forwarded-host': 'pacs.example.org',
      'x-forwarded-proto': 'https',
    });
    expect(endpoint.body.address).to.equal('https://pacs.example.org/dicom-web');
  });

  it('lists exactly these interactions and parameters in the CapabilityStatement', async () => {
    const statement = (await client().capabilityStatement()) as Json;
    const resources = Object.fromEntries(statement.rest[0].resource.map((r: Json) => [r.type, r]));
    expect(Object.keys(resources).sort()).to.deep.equal(['Endpoint', 'ImagingStudy', 'Patient', 'ServiceRequest', 'Subscription', 'SubscriptionTopic', 'Task']);
    const params = (type: string) => resources[type].searchParam.map((p: Json) => p.name).sort();
    expect(params('Patient')).to.deep.equal(['_id', '_lastUpdated', 'birthdate', 'family', 'gender', 'given', 'identifier', 'name']);
    expect(params('ImagingStudy')).to.deep.equal(['_id', '_lastUpdated', 'based-on', 'dicom-class', 'endpoint', 'identifier', 'instance',
      'modality', 'patient', 'referrer', 'series', 'started', 'status', 'subject']);
    expect(params('Endpoint')).to.deep.equal(['_id', '_lastUpdated', 'connection-type', 'name', 'status']);
    // Every reference parameter can be included; every reference to a Patient, of any type here, reverse-included.
    expect(resources.ImagingStudy.searchInclude).to.deep.equal(['ImagingStudy:patient', 'ImagingStudy:subject', 'ImagingStudy:endpoint',
      'ImagingStudy:referrer', 'ImagingStudy:based-on']);
    expect(resources.Patient.searchRevInclude).to.deep.equal(['ImagingStudy:patient', 'ImagingStudy:subject', 'ServiceRequest:patient',
      'ServiceRequest:performer', 'ServiceRequest:subject', 'Task:based-on', 'Task:focus', 'Task:owner', 'Task:patient', 'Task:subject']);
    expect(resources.Endpoint.searchRevInclude).to.deep.equal(['ImagingStudy:endpoint', 'Task:based-on', 'Task:focus', 'Task:subject']);
    for (const type of ['ImagingStudy', 'Endpoint']) {
      expect(resources[type].interaction.map((i: Json) => i.code)).to.deep.equal(['read', 'search-type']);
    }
    expect(resources.Patient.interaction.map((i: Json) => i.code)).to.deep.equal(['read', 'vread', 'update', 'create', 'search-type']);
    expect(resources.SubscriptionTopic.interaction.map((i: Json) => i.code)).to.deep.equal(['read', 'search-type']);
    expect(params('Subscription')).to.deep.equal(['_id', '_lastUpdated', 'content-level', 'identifier', 'name', 'status', 'topic', 'type', 'url']);
  });
});

describe('imaging resources without the DICOMweb plugin', function () {
  this.timeout(120000);
  let orthanc: Orthanc;
  before(async () => {
    orthanc = await Orthanc.start({ fhir: { Enable: true } });
    sendDataset(orthanc.dicomPort, imagingDataset());
  });
  after(async () => orthanc?.dispose());

  it('has no Endpoint and no ImagingStudy.endpoint', async () => {
    const endpoints = await json(`${orthanc.fhirUrl}/Endpoint`);
    expect(endpoints.body.total).to.equal(0);
    expect((await json(`${orthanc.fhirUrl}/Endpoint/dicomweb`)).status).to.equal(404);
    const studies = await json(`${orthanc.fhirUrl}/ImagingStudy`);
    for (const entry of studies.body.entry) expect(entry.resource).to.not.have.property('endpoint');
  });
});
