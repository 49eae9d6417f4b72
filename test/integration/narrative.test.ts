// Generated narratives over HTTP, against the real Orthanc: every
// DomainResource answered carries text (ImagingStudy and Patient from DICOM,
// a PatientName holding markup escaped; ServiceRequest, Task, their writes,
// searches, history, $everything, batches, errors, R4), _summary=text keeps
// it, _elements without text drops it, and a generated text sent back in a
// PUT is not kept: the resource is served with a fresh one.
import { expect } from 'chai';
import { makeDicomFiles, newUid, storescu } from '../support/dicom';
import { fhirClient } from '../support/fhir';
import { fhirProblems, loadFhirSchema } from '../support/fhir-schema';
import { validateR4 } from '../support/fhir-schema-r4';
import { Orthanc } from '../support/orthanc';
import { patient, serviceRequest, task } from '../support/orders';

type Json = Record<string, any>;

/** fhir-kit-client's typings want FhirResource bodies; these tests build plain JSON. */
type LooseClient = { [K in keyof ReturnType<typeof fhirClient>]: ReturnType<typeof fhirClient>[K] extends (...args: never[]) => infer R
  ? (params?: any) => R : ReturnType<typeof fhirClient>[K] };

const XHTML_ROOT = '<div xmlns="http://www.w3.org/1999/xhtml">';

/** The narrative's text as a reader sees it (tags out, character references decoded). */
function shown(resource: Json): string {
  return String(resource.text.div).replace(/<[^>]+>/g, ' ').replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))
    .replace(/\s+/g, ' ').trim();
}

function expectGenerated(resource: Json, what: string): void {
  expect(resource.text, what).to.be.an('object');
  expect(resource.text.status, what).to.equal('generated');
  expect(resource.text.div, what).to.match(new RegExp(`^${XHTML_ROOT.replace(/[/.]/g, '\\$&')}.*</div>$`));
  expect(resource.text.div, what).not.to.match(/<script|<img|<style|<form|\son\w+=/i);
}

async function json(url: string, init: RequestInit = {}): Promise<{ status: number; body: Json }> {
  const response = await fetch(url, init);
  return { status: response.status, body: (await response.json()) as Json };
}

describe('generated narratives over HTTP', function () {
  this.timeout(120000);
  let orthanc: Orthanc;
  let client: LooseClient;
  // No '=' in it: DICOM PN would read it as a component group separator.
  const HOSTILE = '<script>alert(1)</script>^<b>Eve</b>';
  let studyId: string;
  let dicomPatientId: string;
  let patientRef: string;

  before(async () => {
    loadFhirSchema();
    orthanc = await Orthanc.start({ withDicomWeb: true, fhir: { Enable: true }, extra: { DefaultEncoding: 'Utf8' } });
    client = fhirClient(orthanc.fhirUrl) as unknown as LooseClient;
    const studyUid = newUid();
    const seriesUid = newUid();
    storescu(orthanc.dicomPort, makeDicomFiles([1, 2].map((instanceNumber) => ({
      patientId: 'NARR-1', patientName: HOSTILE, birthDate: '19800101', sex: 'F', studyUid, studyDate: '20240131', studyTime: '101530',
      studyDescription: 'CT <chest> & abdomen', accessionNumber: 'NARR-ACC-1', seriesUid, seriesNumber: 1, modality: 'CT',
      sopInstanceUid: newUid(), instanceNumber,
    }))));
    const found = (await client.search({ resourceType: 'ImagingStudy', searchParams: { identifier: 'NARR-ACC-1' } })) as Json;
    expect(found.entry, 'the study is served').to.have.length(1);
    studyId = found.entry[0].resource.id;
    dicomPatientId = found.entry[0].resource.subject.reference.split('/')[1];
    const written = (await client.create({ resourceType: 'Patient', body: patient('NARR-RIS-1', 'Doe', 'Jane') })) as Json;
    patientRef = `Patient/${written.id}`;
  });
  after(async () => orthanc?.dispose());

  it('reads an ImagingStudy and its Patient from DICOM with narratives, the PatientName holding markup escaped', async () => {
    const study = (await client.read({ resourceType: 'ImagingStudy', id: studyId })) as Json;
    expectGenerated(study, 'ImagingStudy');
    expect(study.text.div).to.contain('&#60;script&#62;alert(1)&#60;/script&#62;').and.contain('&#60;b&#62;Eve&#60;/b&#62;');
    const text = shown(study);
    expect(text).to.contain('(MRN NARR-1)').and.contain('Started 2024-01-31').and.contain('Modalities CT')
      .and.contain('Description CT <chest> & abdomen').and.contain('Accession NARR-ACC-1').and.contain('1 series, 2 instances')
      .and.contain('Status available');
    expect(fhirProblems(study as { resourceType: string })).to.deep.equal([]);

    const dicomPatient = (await client.read({ resourceType: 'Patient', id: dicomPatientId })) as Json;
    expectGenerated(dicomPatient, 'Patient');
    expect(dicomPatient.text.div).to.contain('&#60;script&#62;').and.not.to.contain('<script>');
    expect(shown(dicomPatient)).to.contain('MRN NARR-1').and.contain('Birth date 1980-01-01').and.contain('Sex female');
    expect(fhirProblems(dicomPatient as { resourceType: string })).to.deep.equal([]);

    const endpoint = (await client.read({ resourceType: 'Endpoint', id: 'dicomweb' })) as Json;
    expectGenerated(endpoint, 'Endpoint');
    expect(shown(endpoint)).to.contain('Connection type dicom-wado-rs');
  });

  it('serves ServiceRequest and Task with narratives: created, read, vread, searched, in history, $everything, batch', async () => {
    const order = (await client.create({ resourceType: 'ServiceRequest', body: serviceRequest(patientRef, 'NARR-A-1') })) as Json;
    expectGenerated(order, 'created ServiceRequest');
    expect(shown(order)).to.contain('Procedure CT chest').and.contain('Accession NARR-A-1').and.contain('Status active (order)')
      .and.contain('Occurrence 2030-06-01 09:30:00 UTC').and.contain(`Patient ${patientRef}`);
    expect(fhirProblems(order as { resourceType: string })).to.deep.equal([]);
    const step = (await client.create({ resourceType: 'Task', body: task(`ServiceRequest/${order.id}`, patientRef) })) as Json;
    expectGenerated(step, 'created Task');
    expect(shown(step)).to.contain('Status requested').and.contain('Station CT01').and.contain('Scheduled start 2030-06-01 09:30:00 UTC')
      .and.contain(`For ${patientRef}`);
    // The same narrative read, vread, searched: made from the same resource, the version untouched.
    const read = (await client.read({ resourceType: 'Task', id: step.id })) as Json;
    expect(read).to.deep.equal(step);
    expect(read.meta.versionId).to.equal('1');
    expect(await client.vread({ resourceType: 'Task', id: step.id, version: '1' })).to.deep.equal(step);
    const searched = (await client.search({ resourceType: 'Task', searchParams: { _id: step.id, _include: 'Task:based-on' } })) as Json;
    expect(searched).not.to.have.property('text');
    for (const entry of searched.entry) expectGenerated(entry.resource, `searched ${entry.resource.resourceType}`);
    expect(searched.entry.map((e: Json) => e.search.mode)).to.deep.equal(['match', 'include']);
    const history = (await client.history({ resourceType: 'Task', id: step.id })) as Json;
    expectGenerated(history.entry[0].resource, 'history entry');
    const everything = (await client.operation({ name: 'everything', resourceType: 'Patient', id: patientRef.split('/')[1], method: 'GET' })) as Json;
    expect(everything.entry.map((e: Json) => e.resource.resourceType).sort()).to.deep.equal(['Patient', 'ServiceRequest', 'Task']);
    for (const entry of everything.entry) expectGenerated(entry.resource, `$everything ${entry.resource.resourceType}`);
    expect(shown(everything.entry.find((e: Json) => e.resource.resourceType === 'Patient').resource)).to.contain('Name Jane Doe').and.contain('MRN NARR-RIS-1');

    const batch = await json(orthanc.fhirUrl, {
      method: 'POST', headers: { 'content-type': 'application/fhir+json', prefer: 'return=representation' },
      body: JSON.stringify({ resourceType: 'Bundle', type: 'batch', entry: [
        { resource: serviceRequest(patientRef, 'NARR-A-2'), request: { method: 'POST', url: 'ServiceRequest' } },
        { request: { method: 'GET', url: `Task?_id=${step.id}` } },
        { request: { method: 'GET', url: 'Task/unknown' } },
      ] }),
    });
    expect(batch.status).to.equal(200);
    expect(batch.body).not.to.have.property('text');
    expectGenerated(batch.body.entry[0].resource, 'batch create');
    expect(batch.body.entry[1].resource).not.to.have.property('text');
    expectGenerated(batch.body.entry[1].resource.entry[0].resource, 'batch search entry');
    expectGenerated(batch.body.entry[2].response.outcome, 'batch entry error');
  });

  it('_summary=text returns the narrative, _elements=id does not, in searches and reads', async () => {
    const order = (await client.create({ resourceType: 'ServiceRequest', body: serviceRequest(patientRef, 'NARR-A-3') })) as Json;
    const text = (await client.search({ resourceType: 'ServiceRequest', searchParams: { _id: order.id, _summary: 'text' } })) as Json;
    expect(text.entry[0].resource.text).to.deep.equal(order.text);
    expect(text.entry[0].resource).not.to.have.property('code');
    const ids = (await client.search({ resourceType: 'ServiceRequest', searchParams: { _id: order.id, _elements: 'id' } })) as Json;
    expect(ids.entry[0].resource).not.to.have.property('text');
    const readText = await json(`${orthanc.fhirUrl}/ServiceRequest/${order.id}?_summary=text`);
    expect(readText.body.text).to.deep.equal(order.text);
    const readIds = await json(`${orthanc.fhirUrl}/ServiceRequest/${order.id}?_elements=id`);
    expect(readIds.body).not.to.have.property('text');
    const studies = (await client.search({ resourceType: 'ImagingStudy', searchParams: { _id: studyId, _elements: 'status' } })) as Json;
    expect(studies.entry[0].resource).not.to.have.property('text');
  });

  it('serves a PUT carrying a stale generated text with a fresh one, and keeps a text of the client', async () => {
    const created = (await client.create({ resourceType: 'Task', body: task('ServiceRequest/x', patientRef) })) as Json;
    const read = (await client.read({ resourceType: 'Task', id: created.id })) as Json;
    expect(shown(read)).to.contain('Status requested');
    // A client edits the status of what it read and sends it all back, the old narrative with it.
    const updated = (await client.update({ resourceType: 'Task', id: created.id, body: { ...read, status: 'in-progress' } })) as Json;
    expect(updated.meta.versionId).to.equal('2');
    expect(shown(updated)).to.contain('Status in-progress').and.not.to.contain('Status requested');
    const again = (await client.read({ resourceType: 'Task', id: created.id })) as Json;
    expect(again.text).to.deep.equal(updated.text);
    const version1 = (await client.vread({ resourceType: 'Task', id: created.id, version: '1' })) as Json;
    expect(shown(version1)).to.contain('Status requested');
    // A text the client wrote itself is its own: kept as written.
    const own = { status: 'additional', div: '<div xmlns="http://www.w3.org/1999/xhtml"><p>Step 1 of the CT chest order</p></div>' };
    await client.update({ resourceType: 'Task', id: created.id, body: { ...again, status: 'completed', text: own } });
    expect(((await client.read({ resourceType: 'Task', id: created.id })) as Json).text).to.deep.equal(own);
  });

  it('gives errors, the CapabilityStatement and R4 answers narratives of their own', async () => {
    const missing = await json(`${orthanc.fhirUrl}/Task/nothing-here`);
    expect(missing.status).to.equal(404);
    expectGenerated(missing.body, 'OperationOutcome');
    expect(shown(missing.body)).to.contain('not-found').and.contain('Task/nothing-here');
    const bad = await json(`${orthanc.fhirUrl}/Task?_count=<b>`);
    expect(bad.status).to.equal(400);
    // The value sent is echoed in the diagnostics: as text.
    expect(bad.body.issue[0].diagnostics).to.contain('<b>');
    expect(bad.body.text.div).to.contain('&#60;b&#62;');
    expect(shown(bad.body)).to.contain('<b>');

    const statement = (await json(`${orthanc.fhirUrl}/metadata`)).body;
    expectGenerated(statement, 'CapabilityStatement');
    expect(shown(statement)).to.contain('FHIR version 5.0.0').and.contain('ImagingStudy').and.contain('SubscriptionTopic');
    const r4Statement = (await json(`${orthanc.fhirUrl}/R4/metadata`)).body;
    expectGenerated(r4Statement, 'R4 CapabilityStatement');
    expect(shown(r4Statement)).to.contain('FHIR version 4.0.1').and.not.to.contain('SubscriptionTopic');
    expect(validateR4(r4Statement)).to.deep.equal([]);

    const order = (await client.create({ resourceType: 'ServiceRequest', body: serviceRequest(patientRef, 'NARR-A-4') })) as Json;
    const r4Order = (await json(`${orthanc.fhirUrl}/R4/ServiceRequest/${order.id}`)).body;
    expect(r4Order.text).to.deep.equal(order.text);
    expect(validateR4(r4Order)).to.deep.equal([]);
    const r4Study = (await json(`${orthanc.fhirUrl}/R4/ImagingStudy/${studyId}`)).body;
    expectGenerated(r4Study, 'R4 ImagingStudy');
    expect(validateR4(r4Study)).to.deep.equal([]);
  });
});
