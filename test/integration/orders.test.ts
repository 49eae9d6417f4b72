// Orders (ServiceRequest, Task) and Patient writes through fhir-kit-client,
// against the real Orthanc: every REST interaction, transactions, validation,
// and the Patient ids Orthanc itself gives once images arrive.
import { expect } from 'chai';
import Client from 'fhir-kit-client';
import { makeDicomFiles, newUid, storescu } from '../support/dicom';
import { expectOutcome, failure, fhirClient } from '../support/fhir';
import { fhirProblems } from '../support/fhir-schema';
import { Orthanc } from '../support/orthanc';
import { orderTransaction, patient, serviceRequest, task } from '../support/orders';

type Json = Record<string, any>;

function http(resource: Json): Response {
  return Client.httpFor(resource as never).response as Response;
}

/** fhir-kit-client's typings want FhirResource bodies; these tests build plain JSON. */
type LooseClient = { [K in keyof Client]: Client[K] extends (...args: never[]) => infer R ? (params?: any) => R : Client[K] };

async function raw(url: string, init: RequestInit = {}) {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, any>) : undefined };
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  raw(url, { method: 'POST', headers: { 'content-type': 'application/fhir+json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('orders: ServiceRequest, Task and Patient writes', function () {
  this.timeout(120000);
  let orthanc: Orthanc;
  let client: LooseClient;
  let patientRef: string;

  before(async () => {
    orthanc = await Orthanc.start({ fhir: { Enable: true, MaxBodySize: 200000 } });
    client = fhirClient(orthanc.fhirUrl) as unknown as LooseClient;
    const created = (await client.create({ resourceType: 'Patient', body: patient('ORD-1') })) as Json;
    patientRef = `Patient/${created.id}`;
  });
  after(async () => orthanc?.dispose());

  it('creates, reads and vreads a ServiceRequest with version headers', async () => {
    const created = (await client.create({ resourceType: 'ServiceRequest', body: serviceRequest(patientRef, 'A-1') })) as Json;
    const response = http(created);
    expect(response.status).to.equal(201);
    expect(response.headers.get('location')).to.equal(`${orthanc.fhirUrl}/ServiceRequest/${created.id}/_history/1`);
    expect(response.headers.get('etag')).to.equal('W/"1"');
    expect(created.meta.versionId).to.equal('1');
    expect(fhirProblems(created as { resourceType: string })).to.deep.equal([]);
    const read = (await client.read({ resourceType: 'ServiceRequest', id: created.id })) as Json;
    expect(read).to.deep.equal(created);
    expect(http(read).headers.get('etag')).to.equal('W/"1"');
    const vread = (await client.vread({ resourceType: 'ServiceRequest', id: created.id, version: '1' })) as Json;
    expect(vread).to.deep.equal(created);
  });

  it('updates with If-Match, refuses a stale version with 412, and creates on PUT to a new id', async () => {
    const created = (await client.create({ resourceType: 'Task', body: task('ServiceRequest/x', patientRef) })) as Json;
    const updated = (await client.update({
      resourceType: 'Task', id: created.id, body: { ...created, status: 'accepted' }, options: { headers: { 'If-Match': 'W/"1"' } },
    })) as Json;
    expect(updated.meta.versionId).to.equal('2');
    expect(updated.status).to.equal('accepted');
    const stale = await failure(client.update({
      resourceType: 'Task', id: created.id, body: { ...created, status: 'cancelled' }, options: { headers: { 'If-Match': 'W/"1"' } },
    }));
    expect(stale.status).to.equal(412);
    expectOutcome(stale.data, 'conflict');
    expect(((await client.read({ resourceType: 'Task', id: created.id })) as Json).status).to.equal('accepted');
    const id = `new-${Date.now()}`;
    const put = (await client.update({ resourceType: 'Task', id, body: { ...task('ServiceRequest/x', patientRef), id } })) as Json;
    expect(http(put).status).to.equal(201);
    const mismatch = await failure(client.update({ resourceType: 'Task', id: 'other', body: { ...task('ServiceRequest/x', patientRef), id } }));
    expect(mismatch.status).to.equal(400);
  });

  it('deletes: a later read answers 410 Gone, vread of the old version still works, history shows it all', async () => {
    const created = (await client.create({ resourceType: 'ServiceRequest', body: serviceRequest(patientRef, 'A-DEL') })) as Json;
    await client.delete({ resourceType: 'ServiceRequest', id: created.id });
    const gone = await failure(client.read({ resourceType: 'ServiceRequest', id: created.id }));
    expect(gone.status).to.equal(410);
    expectOutcome(gone.data, 'deleted');
    expect(((await client.vread({ resourceType: 'ServiceRequest', id: created.id, version: '1' })) as Json).id).to.equal(created.id);
    const history = (await client.resourceHistory({ resourceType: 'ServiceRequest', id: created.id })) as Json;
    expect(history.type).to.equal('history');
    expect(history.total).to.equal(2);
    expect(history.entry.map((e: Json) => e.request.method)).to.deep.equal(['DELETE', 'POST']);
    expect(fhirProblems(history as { resourceType: string })).to.deep.equal([]);
    const typeHistory = (await client.typeHistory({ resourceType: 'ServiceRequest' })) as Json;
    expect(typeHistory.total).to.be.at.least(3);
    const missing = await failure(client.read({ resourceType: 'ServiceRequest', id: 'never-existed' }));
    expect(missing.status).to.equal(404);
  });

  it('creates conditionally with If-None-Exist', async () => {
    const body = serviceRequest(patientRef, 'A-COND');
    const headers = { 'If-None-Exist': 'identifier=urn:oid:2.25.42|A-COND' };
    const first = (await client.create({ resourceType: 'ServiceRequest', body, options: { headers } })) as Json;
    expect(http(first).status).to.equal(201);
    const second = (await client.create({ resourceType: 'ServiceRequest', body, options: { headers } })) as Json;
    expect(http(second).status).to.equal(200);
    expect(second.id).to.equal(first.id);
  });

  it('honours Prefer: return=minimal and return=OperationOutcome', async () => {
    const minimal = await post(`${orthanc.fhirUrl}/ServiceRequest`, serviceRequest(patientRef, 'A-MIN'), { prefer: 'return=minimal' });
    expect(minimal.status).to.equal(201);
    expect(minimal.body).to.equal(undefined);
    expect(minimal.headers.get('location')).to.match(/\/ServiceRequest\/[^/]+\/_history\/1$/);
    const informed = await post(`${orthanc.fhirUrl}/ServiceRequest`, serviceRequest(patientRef, 'A-OO'), { prefer: 'return=OperationOutcome' });
    expect(informed.status).to.equal(201);
    expect(informed.body?.resourceType).to.equal('OperationOutcome');
  });

  it('runs a RIS transaction (Patient + ServiceRequest + Task) and resolves its urn:uuid references', async () => {
    const response = (await client.transaction({ body: orderTransaction('TX-1', 'A-TX1') })) as Json;
    expect(response.type).to.equal('transaction-response');
    expect(response.entry.map((e: Json) => e.response.status)).to.deep.equal(['201 Created', '201 Created', '201 Created']);
    const [p, sr, t] = response.entry.map((e: Json) => e.resource);
    expect(sr.subject.reference).to.equal(`Patient/${p.id}`);
    expect(t.basedOn[0].reference).to.equal(`ServiceRequest/${sr.id}`);
    expect(t.for.reference).to.equal(`Patient/${p.id}`);
    const bundle = (await client.search({ resourceType: 'ServiceRequest', searchParams: { _id: sr.id, _revinclude: 'Task:based-on' } })) as Json;
    expect(bundle.entry.map((e: Json) => `${e.resource.resourceType}:${e.search.mode}`)).to.deep.equal(['ServiceRequest:match', 'Task:include']);
  });

  it('rolls back a whole transaction when one entry fails, storing nothing', async () => {
    const before = ((await client.typeHistory({ resourceType: 'ServiceRequest' })) as Json).total;
    const bundle = orderTransaction('TX-BAD', 'A-TXBAD');
    delete bundle.entry[2].resource.intent; // an invalid Task, processed after the ServiceRequest
    const rejected = await failure(client.transaction({ body: bundle }));
    expect(rejected.status).to.equal(422);
    expectOutcome(rejected.data, 'required');
    expect(JSON.stringify(rejected.data)).to.contain('Task.intent');
    expect(((await client.typeHistory({ resourceType: 'ServiceRequest' })) as Json).total).to.equal(before);
    const search = (await client.search({ resourceType: 'ServiceRequest', searchParams: { identifier: 'A-TXBAD' } })) as Json;
    expect(search.total).to.equal(0);
  });

  it('answers a batch entry by entry', async () => {
    const response = (await client.batch({
      body: {
        resourceType: 'Bundle', type: 'batch', entry: [
          { resource: serviceRequest(patientRef, 'A-B1'), request: { method: 'POST', url: 'ServiceRequest' } },
          { resource: { resourceType: 'ServiceRequest' }, request: { method: 'POST', url: 'ServiceRequest' } },
          { request: { method: 'GET', url: 'ServiceRequest?identifier=A-B1' } },
        ],
      },
    })) as Json;
    expect(response.type).to.equal('batch-response');
    expect(response.entry.map((e: Json) => e.response.status.split(' ')[0])).to.deep.equal(['201', '422', '200']);
    expect(response.entry[2].resource.total).to.equal(1);
  });

  it('rejects malformed JSON, a wrong resourceType and an oversized body with 400, broken rules with 422 naming the path', async () => {
    const url = `${orthanc.fhirUrl}/ServiceRequest`;
    const before = ((await client.typeHistory({ resourceType: 'ServiceRequest' })) as Json).total;
    const malformed = await post(url, '{"resourceType": "ServiceRequest",');
    expect(malformed.status).to.equal(400);
    const wrongType = await post(url, patient('X'));
    expect(wrongType.status).to.equal(400);
    expect(wrongType.body?.issue[0].expression).to.deep.equal(['resourceType']);
    const big = await post(url, { ...serviceRequest(patientRef, 'A-BIG'), note: [{ text: 'x'.repeat(300000) }] });
    expect(big.status).to.equal(400);
    expectOutcome(big.body, 'too-long');
    const noAccession = serviceRequest(patientRef, 'A-NOACC');
    noAccession.identifier[0].type.coding[0].code = 'PLAC';
    const rule = await post(url, noAccession);
    expect(rule.status).to.equal(422);
    expect(JSON.stringify(rule.body)).to.contain('ServiceRequest.identifier');
    const schema = await post(url, { ...serviceRequest(patientRef, 'A-SCHEMA'), status: 'bogus' });
    expect(schema.status).to.equal(422);
    expect(schema.body?.issue[0].expression[0]).to.equal('ServiceRequest.status');
    expect(((await client.typeHistory({ resourceType: 'ServiceRequest' })) as Json).total).to.equal(before);
  });

  it('searches orders by their parameters, includes and sorts', async () => {
    const p = (await client.create({ resourceType: 'Patient', body: patient('SEARCH-1', 'Search') })) as Json;
    const ref = `Patient/${p.id}`;
    const early = (await client.create({ resourceType: 'ServiceRequest', body: serviceRequest(ref, 'S-1', { authoredOn: '2030-01-01T00:00:00Z' }) })) as Json;
    const late = (await client.create({ resourceType: 'ServiceRequest', body: serviceRequest(ref, 'S-2', { authoredOn: '2030-02-01T00:00:00Z', status: 'on-hold' }) })) as Json;
    const t = (await client.create({ resourceType: 'Task', body: task(`ServiceRequest/${early.id}`, ref) })) as Json;
    const ids = async (resourceType: string, searchParams: Json) =>
      ((await client.search({ resourceType, searchParams })) as Json).entry?.filter((e: Json) => e.search.mode === 'match').map((e: Json) => e.resource.id) ?? [];
    expect(await ids('ServiceRequest', { patient: p.id, _sort: '-authored' })).to.deep.equal([late.id, early.id]);
    expect(await ids('ServiceRequest', { subject: ref, status: 'active' })).to.deep.equal([early.id]);
    expect(await ids('ServiceRequest', { patient: p.id, authored: 'ge2030-01-15' })).to.deep.equal([late.id]);
    expect(await ids('ServiceRequest', { patient: p.id, 'code-concept': 'http://loinc.org|24627-2', _sort: 'authored' })).to.deep.equal([early.id, late.id]);
    expect(await ids('ServiceRequest', { identifier: 'urn:oid:2.25.42|S-2' })).to.deep.equal([late.id]);
    expect(await ids('Task', { 'based-on': `ServiceRequest/${early.id}` })).to.deep.equal([t.id]);
    expect(await ids('Task', { patient: ref, status: 'requested', 'owner:identifier': 'urn:dicom:ae|CT01' })).to.deep.equal([t.id]);
    expect(await ids('Task', { patient: ref, 'owner:identifier': 'urn:dicom:ae|CT99' })).to.deep.equal([]);
    const included = (await client.search({ resourceType: 'Task', searchParams: { _id: t.id, _include: 'Task:based-on' } })) as Json;
    expect(included.entry.map((e: Json) => e.resource.id)).to.deep.equal([t.id, early.id]);
    const unknown = await failure(client.search({ resourceType: 'Task', searchParams: { nonsense: '1' } }));
    expect(unknown.status).to.equal(400);
  });

  it('pages through orders with fhir-kit-client', async () => {
    const p = (await client.create({ resourceType: 'Patient', body: patient('PAGE-1') })) as Json;
    for (let i = 0; i < 7; i++) await client.create({ resourceType: 'ServiceRequest', body: serviceRequest(`Patient/${p.id}`, `P-${i}`) });
    let bundle = (await client.search({ resourceType: 'ServiceRequest', searchParams: { patient: p.id, _count: '3' } })) as Json;
    expect(bundle.total).to.equal(7);
    const seen: string[] = [];
    while (bundle) {
      seen.push(...bundle.entry.map((e: Json) => e.resource.id));
      bundle = (await client.nextPage({ bundle: bundle as any })) as Json;
    }
    expect(new Set(seen).size).to.equal(7);
  });

  it("gives a written Patient the id Orthanc gives the same PatientID, and merges both on read", async () => {
    const written = (await client.create({ resourceType: 'Patient', body: patient('MERGE 7/B', 'Written', 'Name') })) as Json;
    expect(http(written).status).to.equal(201);
    storescu(orthanc.dicomPort, makeDicomFiles([{
      patientId: 'MERGE 7/B', patientName: 'Dicom^Name', birthDate: '19700101', sex: 'F', studyUid: newUid(),
      seriesUid: newUid(), modality: 'CT', sopInstanceUid: newUid(), accessionNumber: 'A-MERGE',
    }]));
    const orthancPatients = (await (await fetch(`${orthanc.url}/patients`)).json()) as string[];
    expect(orthancPatients).to.include(written.id);
    const merged = (await client.read({ resourceType: 'Patient', id: written.id })) as Json;
    expect(merged.name[0].family).to.equal('Written');
    expect(merged.meta.versionId).to.equal('1');
    const studies = (await client.search({ resourceType: 'ImagingStudy', searchParams: { patient: written.id } })) as Json;
    expect(studies.total).to.equal(1);
    const found = (await client.search({ resourceType: 'Patient', searchParams: { family: 'written' } })) as Json;
    expect(found.entry.map((e: Json) => e.resource.id)).to.deep.equal([written.id]);
    const again = (await client.create({ resourceType: 'Patient', body: patient('MERGE 7/B', 'Renamed') })) as Json;
    expect(http(again).status).to.equal(200);
    expect(again.id).to.equal(written.id);
    expect(again.meta.versionId).to.equal('2');
    const contradiction = await failure(client.update({ resourceType: 'Patient', id: written.id, body: { ...patient('OTHER-ID'), id: written.id } }));
    expect(contradiction.status).to.equal(422);
    expect(JSON.stringify(contradiction.data)).to.contain('Patient.identifier');
  });

  it('lists the write interactions in the CapabilityStatement', async () => {
    const statement = (await client.capabilityStatement()) as Json;
    const byType = Object.fromEntries(statement.rest[0].resource.map((r: Json) => [r.type, r]));
    const codes = (type: string) => byType[type].interaction.map((i: Json) => i.code);
    for (const type of ['ServiceRequest', 'Task']) {
      expect(codes(type)).to.include.members(['read', 'vread', 'update', 'delete', 'history-instance', 'history-type', 'create', 'search-type']);
    }
    expect(codes('Patient')).to.include.members(['create', 'update']);
    expect(statement.rest[0].interaction.map((i: Json) => i.code)).to.deep.equal(['batch', 'transaction']);
    expect(byType.ServiceRequest.searchParam.map((p: Json) => p.name)).to.include.members(['code-concept', 'occurrence', 'requisition', '_lastUpdated']);
  });
});
