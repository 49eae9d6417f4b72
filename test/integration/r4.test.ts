// FHIR R4 beside R5 on the same data (issue #11), against the real Orthanc:
// version negotiation (Accept's fhirVersion, /fhir/R4 and /fhir/R5), the
// RIS transaction written in R4 reaching the worklist (findscu) and closing
// the loop (storescu), an R4 client reading back what it wrote, and every R4
// answer valid against the official R4 definitions.
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { makeDicomFiles, newUid, storescu } from '../support/dicom';
import { expectOutcome, failure, fhirClient } from '../support/fhir';
import { validateR4 } from '../support/fhir-schema-r4';
import { Orthanc } from '../support/orthanc';
import { ACSN_TYPE, DCM, patient } from '../support/orders';
import { findWorklist } from '../support/worklist';

type Json = Record<string, any>;

const R4_JSON = 'application/fhir+json; fhirVersion=4.0';

/** An R4 ServiceRequest as a RIS writes it: code is a CodeableConcept, reasons and locations as R4 has them. */
function r4ServiceRequest(subject: string, accession: string, extra: Json = {}): Json {
  return {
    resourceType: 'ServiceRequest',
    status: 'active',
    intent: 'order',
    subject: { reference: subject },
    code: { coding: [{ system: 'http://loinc.org', code: '24627-2', display: 'CT Chest' }], text: 'CT chest' },
    identifier: [{ type: ACSN_TYPE, system: 'urn:oid:2.25.42', value: accession }],
    authoredOn: '2030-05-01T08:00:00Z',
    occurrenceDateTime: '2030-06-01T09:30:00Z',
    reasonCode: [{ text: 'Persistent cough' }],
    locationCode: [{ text: 'CT room 1' }],
    patientInstruction: 'Fasting for 4 hours',
    note: [{ text: 'Contrast allergy: none' }],
    ...extra,
  };
}

function r4Task(basedOn: string, subject: string, extra: Json = {}): Json {
  return {
    resourceType: 'Task',
    status: 'requested',
    intent: 'order',
    basedOn: [{ reference: basedOn }],
    focus: { reference: basedOn },
    for: { reference: subject },
    authoredOn: '2030-05-01T08:00:00Z',
    owner: { type: 'Device', identifier: { system: 'urn:dicom:ae', value: 'CT01' }, display: 'CT01' },
    reasonCode: { text: 'Scheduled CT' },
    input: [{ type: { coding: [{ system: DCM, code: '121139' }] }, valueCodeableConcept: { coding: [{ system: DCM, code: 'CT' }] } }],
    ...extra,
  };
}

/** What the server adds to what a client wrote: id, meta, and resolved references. */
/** What the client wrote of a resource answered: less what the server adds (id, meta, the generated narrative). */
function written(resource: Json): Json {
  const { id: _id, meta: _meta, text, ...rest } = resource;
  return text === undefined || text.status === 'generated' ? rest : { ...rest, text };
}

describe('FHIR R4 beside R5', function () {
  this.timeout(180000);
  let orthanc: Orthanc;
  let r4: any;
  const raw = async (path: string, accept?: string, init: RequestInit = {}) => {
    const response = await fetch(`${orthanc.url}${path}`, { ...init, headers: { ...(accept ? { accept } : {}), ...(init.headers ?? {}) } });
    const text = await response.text();
    return { status: response.status, contentType: response.headers.get('content-type') ?? '', body: text ? (JSON.parse(text) as Json) : undefined };
  };
  const expectR4Valid = (resource: Json, what: string) => expect(validateR4(resource), what).to.deep.equal([]);

  before(async () => {
    orthanc = await Orthanc.start({
      fhir: { Enable: true, Worklist: { Enable: true } }, withDicomWeb: true,
      extra: { DicomAlwaysAllowFindWorklist: true, StableAge: 1, DefaultEncoding: 'Utf8' },
    });
    r4 = fhirClient(`${orthanc.fhirUrl}/R4`);
  });
  after(async () => orthanc?.dispose());

  it('negotiates: R5 without a version, R4 with fhirVersion=4.0 on the same URL, /fhir/R4 and /fhir/R5, 406 for others', async () => {
    const r5 = await raw('/fhir/metadata');
    expect(r5.body!.fhirVersion).to.equal('5.0.0');
    expect(r5.contentType).not.to.match(/fhirVersion/);
    const asked = await raw('/fhir/metadata', R4_JSON);
    expect(asked.body!.fhirVersion).to.equal('4.0.1');
    expect(asked.contentType).to.match(/^application\/fhir\+json; fhirVersion=4\.0/);
    expectR4Valid(asked.body!, 'CapabilityStatement');
    expect((await raw('/fhir/R4/metadata')).body!.fhirVersion).to.equal('4.0.1');
    expect((await raw('/fhir/R5/metadata')).body!.fhirVersion).to.equal('5.0.0');
    expect((await raw('/fhir/metadata', 'application/fhir+json; fhirVersion=5.0')).contentType).to.match(/fhirVersion=5\.0/);
    const other = await raw('/fhir/metadata', 'application/fhir+json; fhirVersion=3.0');
    expect(other.status).to.equal(406);
    expectOutcome(other.body);
    const versions = await raw('/fhir/R4/$versions');
    expect(versions.body!.parameter.map((p: Json) => p.valueCode)).to.deep.equal(['4.0', '5.0', '5.0']);
    // The R4 CapabilityStatement names the R4 search parameters (ServiceRequest code, ImagingStudy basedon).
    const resources = new Map<string, Json>(asked.body!.rest[0].resource.map((r: Json) => [r.type, r]));
    expect(resources.get('ServiceRequest')!.searchParam.map((p: Json) => p.name)).to.include('code').and.not.include('code-concept');
    expect(resources.get('ImagingStudy')!.searchParam.map((p: Json) => p.name)).to.include('basedon');
  });

  it('the RIS transaction in R4 reaches the worklist, the study closes the loop, and an R4 client reads the completed Task and the study', async () => {
    const p = `urn:uuid:${randomUUID()}`;
    const sr = `urn:uuid:${randomUUID()}`;
    const answer = (await r4.transaction({ body: {
      resourceType: 'Bundle', type: 'transaction', entry: [
        { fullUrl: p, resource: patient('R4-1', 'Roe', 'Rita'), request: { method: 'POST', url: 'Patient' } },
        { fullUrl: sr, resource: r4ServiceRequest(p, 'R4A-1'), request: { method: 'POST', url: 'ServiceRequest' } },
        { resource: r4Task(sr, p), request: { method: 'POST', url: 'Task' } },
      ],
    } })) as Json;
    expectR4Valid(answer, 'transaction-response');
    expect(answer.entry.map((e: Json) => e.response.status)).to.deep.equal(['201 Created', '201 Created', '201 Created']);
    const [patientId, orderId, taskId] = answer.entry.map((e: Json) => e.resource.id as string);

    // Read back, in R4, what was written, element for element.
    const order = (await r4.read({ resourceType: 'ServiceRequest', id: orderId })) as Json;
    expectR4Valid(order, 'ServiceRequest');
    const sent = r4ServiceRequest(`Patient/${patientId}`, 'R4A-1');
    expect(written(order)).to.deep.equal({ ...sent, identifier: order.identifier });
    expect(order.identifier[0]).to.deep.equal(sent.identifier[0]); // the server adds the study UID after it
    const t = (await r4.read({ resourceType: 'Task', id: taskId })) as Json;
    expectR4Valid(t, 'Task');
    expect(written(t)).to.deep.equal(r4Task(`ServiceRequest/${orderId}`, `Patient/${patientId}`));
    // The same order in R5: code is a CodeableReference, reasons a CodeableReference list.
    const r5 = (await fhirClient(orthanc.fhirUrl).read({ resourceType: 'ServiceRequest', id: orderId })) as Json;
    expect(r5.code).to.deep.equal({ concept: sent.code });
    expect(r5.reason).to.deep.equal([{ concept: sent.reasonCode[0] }]);

    // The modality's worklist has the step.
    const [item] = findWorklist(orthanc.dicomPort, ['AccessionNumber=R4A-1', 'StudyInstanceUID', 'PatientID', 'PatientName', 'ScheduledProcedureStepSequence']);
    expect(item, 'worklist item').to.not.equal(undefined);
    expect(item!.PatientID).to.equal('R4-1');
    storescu(orthanc.dicomPort, makeDicomFiles([1, 2].map((n) => ({
      patientId: 'R4-1', patientName: String(item!.PatientName), studyUid: String(item!.StudyInstanceUID), accessionNumber: 'R4A-1',
      seriesUid: `${item!.StudyInstanceUID}.1`, seriesNumber: 1, modality: 'CT', bodyPart: 'CHEST', sopInstanceUid: newUid(), instanceNumber: n,
    }))));
    let task: Json = {};
    for (let i = 0; i < 80 && task.status !== 'completed'; i++) {
      task = (await r4.read({ resourceType: 'Task', id: taskId })) as Json;
      if (task.status !== 'completed') await new Promise((r) => setTimeout(r, 250));
    }
    expect(task.status).to.equal('completed');
    expectR4Valid(task, 'completed Task');
    const output = task.output[0].valueReference.reference as string;
    const study = (await r4.read({ resourceType: 'ImagingStudy', id: output.split('/')[1] })) as Json;
    expectR4Valid(study, 'ImagingStudy');
    expect(study.basedOn).to.deep.equal([{ reference: `ServiceRequest/${orderId}` }]);
    // R4 shapes: modality a Coding list, series.modality a Coding, procedureCode rather than procedure.
    expect(study.modality).to.deep.equal([{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'CT' }]);
    expect(study.series[0].modality).to.include({ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'CT' });
    expect(study).not.to.have.property('procedure');
    const endpoint = (await r4.read({ resourceType: 'Endpoint', id: study.endpoint[0].reference.split('/')[1] })) as Json;
    expectR4Valid(endpoint, 'Endpoint');
    expect(endpoint.payloadType[0].coding[0]).to.include({ code: 'DICOM WADO-RS' });
    expect(endpoint.connectionType).to.include({ code: 'dicom-wado-rs' });
    expect(endpoint.address).to.equal(`${orthanc.url}/dicom-web`);
  });

  it('searches in R4 with R4 names, pages with R4 links, includes, and every resource served is valid R4', async () => {
    const p = (await r4.create({ resourceType: 'Patient', body: patient('R4-2') })) as Json;
    for (const accession of ['R4S-1', 'R4S-2', 'R4S-3']) {
      await r4.create({ resourceType: 'ServiceRequest', body: r4ServiceRequest(`Patient/${p.id}`, accession) });
    }
    const page = (await r4.search({ resourceType: 'ServiceRequest', searchParams: { code: 'http://loinc.org|24627-2', subject: `Patient/${p.id}`, _count: '2', _include: 'ServiceRequest:subject' } })) as Json;
    expectR4Valid(page, 'searchset');
    expect(page.entry.filter((e: Json) => e.search.mode === 'match')).to.have.length(2);
    expect(page.entry.filter((e: Json) => e.search.mode === 'include').map((e: Json) => e.resource.id)).to.deep.equal([p.id]);
    const next = page.link.find((l: Json) => l.relation === 'next').url as string;
    expect(next.startsWith(`${orthanc.fhirUrl}/R4/ServiceRequest?`)).to.equal(true);
    expect(next).to.match(/[?&]code=/).and.not.match(/code-concept/);
    const second = (await (await fetch(next)).json()) as Json;
    expect(second.entry.filter((e: Json) => e.search.mode === 'match')).to.have.length(1);
    // The same data in both versions: the ids match.
    const r5 = (await fhirClient(orthanc.fhirUrl).search({ resourceType: 'ServiceRequest', searchParams: { 'code-concept': 'http://loinc.org|24627-2', subject: `Patient/${p.id}` } })) as Json;
    expect(r5.total).to.equal(3);
    for (const type of ['Patient', 'ImagingStudy', 'Endpoint', 'Task']) {
      const all = (await r4.search({ resourceType: type, searchParams: { _count: '50' } })) as Json;
      for (const entry of all.entry ?? []) expectR4Valid(entry.resource, `${type}/${entry.resource.id}`);
    }
    const history = (await r4.resourceHistory({ resourceType: 'ServiceRequest', id: page.entry[0].resource.id })) as Json;
    expectR4Valid(history, 'history');
    // A chain through Task.basedOn (a ServiceRequest or a Task) with R4's names: the order's 'code' is R5's code-concept.
    const order = page.entry[0].resource as Json;
    const t = (await r4.create({ resourceType: 'Task', body: r4Task(`ServiceRequest/${order.id}`, `Patient/${p.id}`, { status: 'on-hold' }) })) as Json;
    const chained = (await r4.search({ resourceType: 'Task', searchParams: { 'based-on.code': 'http://loinc.org|24627-2', status: 'on-hold' } })) as Json;
    expect(chained.entry.map((e: Json) => e.resource.id)).to.deep.equal([t.id]);
    // The same inside an R4 batch: its entries are read in R4 too.
    const batch = (await r4.batch({ body: { resourceType: 'Bundle', type: 'batch', entry: [
      { request: { method: 'GET', url: 'Task?based-on.code=http://loinc.org|24627-2&status=on-hold' } },
    ] } })) as Json;
    expect(batch.entry[0].resource.entry.map((e: Json) => e.resource.id)).to.deep.equal([t.id]);
  });

  it('validates R4 writes against R4: an R5-shaped ServiceRequest is a 422 naming the element; errors are R4 OperationOutcomes', async () => {
    const p = (await r4.create({ resourceType: 'Patient', body: patient('R4-3') })) as Json;
    const r5Shaped = { ...r4ServiceRequest(`Patient/${p.id}`, 'R4V-1'), code: { concept: { text: 'CT chest' } } };
    const refused = await failure(r4.create({ resourceType: 'ServiceRequest', body: r5Shaped }));
    expect(refused.status).to.equal(422);
    expectOutcome(refused.data);
    expect(JSON.stringify(refused.data)).to.match(/ServiceRequest\.code/);
    const missing = await failure(r4.create({ resourceType: 'Task', body: { ...r4Task('ServiceRequest/x', `Patient/${p.id}`), intent: undefined } }));
    expect(missing.status).to.equal(422);
    const notFound = await raw('/fhir/R4/Task/no-such-task');
    expect(notFound.status).to.equal(404);
    expectOutcome(notFound.body);
    expectR4Valid(notFound.body!, 'OperationOutcome');
  });

  it('updates in R4, conditionally too (in a batch), and reads back the update', async () => {
    const p = (await r4.create({ resourceType: 'Patient', body: patient('R4-4') })) as Json;
    const created = (await r4.create({ resourceType: 'ServiceRequest', body: r4ServiceRequest(`Patient/${p.id}`, 'R4U-1') })) as Json;
    const changed = { ...created, status: 'on-hold', reasonCode: [{ text: 'Rescheduled' }] };
    const updated = (await r4.update({ resourceType: 'ServiceRequest', id: created.id, body: changed })) as Json;
    expect(updated.meta.versionId).to.equal('2');
    expect(written(updated)).to.deep.equal(written(changed));
    // Sent back with the narrative of the version read, served with one of the update.
    expect(updated.text.div).to.contain('on-hold').and.not.to.equal(created.text.div);
    const batch = (await r4.batch({ body: { resourceType: 'Bundle', type: 'batch', entry: [
      { resource: { ...r4ServiceRequest(`Patient/${p.id}`, 'R4U-1'), status: 'revoked' }, request: { method: 'PUT', url: 'ServiceRequest?identifier=urn:oid:2.25.42|R4U-1' } },
      { resource: r4ServiceRequest(`Patient/${p.id}`, 'R4U-2'), request: { method: 'PUT', url: 'ServiceRequest?code=http://loinc.org|24627-2&identifier=R4U-2' } },
    ] } })) as Json;
    expectR4Valid(batch, 'batch-response');
    expect(batch.entry.map((e: Json) => e.response.status)).to.deep.equal(['200 OK', '201 Created']);
    expect(batch.entry[0].resource.id).to.equal(created.id);
    expect(((await r4.read({ resourceType: 'ServiceRequest', id: created.id })) as Json).status).to.equal('revoked');
  });
});
