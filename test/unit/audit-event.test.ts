// The audit trail: the AuditEvent of one access (valid R5, its outcome and
// agents), how it is indexed and searched (agent:identifier), the read-only
// provider, R4, and the batching of AuditTrail against a store double
// (better-sqlite3 cannot load under the unit tests' Node).
import { expect } from 'chai';
import type { FhirConfig } from '../../src/config';
import { toR4 } from '../../src/fhir/r4';
import { OperationOutcomeError } from '../../src/fhir/outcome';
import type { Resource } from '../../src/fhir/types';
import type { FhirRequest } from '../../src/interactions/request';
import { Router } from '../../src/interactions/router';
import { auditEvent, auditEventSetup, CLIENT_ID_SYSTEM, REGISTERED_USERS_SYSTEM, type AuditRecord } from '../../src/resources/audit-event';
import { AuditTrail, type AuditStore } from '../../src/resources/audit-trail';
import { ResourceRegistry } from '../../src/resources/registry';
import { indexedDefinition, SEARCH_CATALOG } from '../../src/resources/search-catalog';
import { createIndexer } from '../../src/resources/search-indexer';
import { createStoredResource, READ_ONLY_INTERACTIONS } from '../../src/resources/stored-resource';
import { matchesSearch, parseSearchQuery, type IndexRows } from '../../src/search';
import { positiveRows } from '../../src/search/search-sql';
import type { PutOptions, ResourceVersion, Store, StoreWriter } from '../../src/store/store';
import { fhirProblems, loadFhirSchema } from '../support/fhir-schema';

type Json = Record<string, any>;

const ISSUER = 'https://idp.example.org/realms/pacs';

const read: AuditRecord = {
  recorded: '2030-06-01T09:30:00.123Z',
  interaction: 'read',
  action: 'R',
  request: 'GET /fhir/Patient/p1',
  type: 'Patient',
  id: 'p1',
  patient: 'p1',
  subject: 'alice',
  issuer: ISSUER,
  client: 'viewer-app',
  address: '10.0.0.7',
  status: 200,
};

const search: AuditRecord = {
  recorded: '2030-06-01T09:31:00Z',
  interaction: 'search-type',
  action: 'E',
  request: 'GET /fhir/ImagingStudy?patient=Patient%2Fp1&modality=CT',
  type: 'ImagingStudy',
  user: 'orthanc-admin',
  status: 200,
};

const refused: AuditRecord = {
  recorded: '2030-06-01T09:32:00+02:00',
  interaction: 'search-type',
  action: 'E',
  request: 'GET /fhir/ImagingStudy?identifier=x',
  type: 'ImagingStudy',
  address: '2001:db8::1',
  status: 401,
  reason: 'the token has expired',
};

const metadata: AuditRecord = {
  recorded: '2030-06-01T09:33:00Z',
  interaction: 'dicomweb',
  action: 'R',
  request: 'GET /dicom-web/studies/1.2.3/metadata',
  patient: 'p1',
  subject: 'alice',
  issuer: ISSUER,
  status: 200,
};

const qido: AuditRecord = {
  recorded: '2030-06-01T09:34:00Z',
  interaction: 'dicomweb',
  action: 'R',
  request: 'GET /dicom-web/studies?PatientID=P1&access_token=eyJhbGciOi.secret.sig',
  subject: 'alice',
  issuer: ISSUER,
  status: 403,
  reason: 'a search of the archive must be narrowed to the token\'s patient',
};

const failed: AuditRecord = {
  recorded: '2030-06-01T09:35:00Z', interaction: 'transaction', action: 'E', request: 'POST /fhir', status: 503, reason: 'the store is unreachable',
};

const decoded = (base64: string) => Buffer.from(base64, 'base64').toString('utf8');

describe('AuditEvent of an access', function () {
  this.timeout(60_000);
  before(() => loadFhirSchema());

  it('is valid R5 (official schema and JSON rules) for every kind of access', () => {
    for (const record of [read, search, refused, metadata, qido, failed, { ...read, interaction: 'frobnicate' }]) {
      expect(fhirProblems(auditEvent(record) as Json as { resourceType: string }), record.request).to.deep.equal([]);
    }
  });

  it('a FHIR read: rest, its restful-interaction, when, the patient, the resource and the request line', () => {
    const event = auditEvent(read) as Json;
    expect(event.resourceType).to.equal('AuditEvent');
    expect(event.category).to.deep.equal([{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'Restful Operation' }] }]);
    expect(event.code).to.deep.equal({ coding: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' }] });
    expect(event.action).to.equal('R');
    expect(event.recorded).to.equal('2030-06-01T09:30:00.123Z');
    expect(event.occurredDateTime).to.equal(event.recorded);
    expect(event.patient).to.deep.equal({ reference: 'Patient/p1' });
    expect(event.source).to.deep.equal({ observer: { display: 'orthanc-fhir' } });
    expect(event.entity).to.deep.equal([{ what: { reference: 'Patient/p1' }, detail: [{ type: { text: 'request' }, valueString: 'GET /fhir/Patient/p1' }] }]);
    expect(event).to.not.have.property('id');
  });

  it('the outcome: 0 below 400, 4 for a 4xx, 8 for a 5xx, with the status and the reason', () => {
    const outcome = (record: AuditRecord) => (auditEvent(record) as Json).outcome;
    expect(outcome(read)).to.deep.equal({
      code: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-outcome', code: '0', display: 'Success' },
      detail: [{ text: 'HTTP 200' }],
    });
    expect(outcome({ ...read, status: 304 }).code.code).to.equal('0');
    expect(outcome(refused)).to.deep.equal({
      code: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-outcome', code: '4', display: 'Minor failure' },
      detail: [{ text: 'HTTP 401: the token has expired' }],
    });
    expect(outcome({ ...read, status: 499 }).code.code).to.equal('4');
    expect(outcome(failed).code).to.include({ code: '8', display: 'Serious failure' });
    // An offset is normalized to UTC.
    expect((auditEvent(refused) as Json).recorded).to.equal('2030-06-01T07:32:00.000Z');
  });

  it('agents: the token subject under its issuer (requestor, with the address), then the OAuth client', () => {
    expect((auditEvent(read) as Json).agent).to.deep.equal([
      { who: { identifier: { system: ISSUER, value: 'alice' }, display: 'alice' }, requestor: true, networkString: '10.0.0.7' },
      { who: { identifier: { system: CLIENT_ID_SYSTEM, value: 'viewer-app' } }, requestor: false },
    ]);
  });

  it('agents: an HTTP Basic user under Orthanc\'s RegisteredUsers; an anonymous requestor when no one is known', () => {
    expect((auditEvent(search) as Json).agent).to.deep.equal([
      { who: { identifier: { system: REGISTERED_USERS_SYSTEM, value: 'orthanc-admin' }, display: 'orthanc-admin' }, requestor: true },
    ]);
    expect((auditEvent(refused) as Json).agent).to.deep.equal([{ who: { display: 'anonymous' }, requestor: true, networkString: '2001:db8::1' }]);
    // Empty strings are absent values (FHIR has none).
    expect((auditEvent({ ...refused, subject: '', user: ' ', client: '', address: '' }) as Json).agent).to.deep.equal([{ who: { display: 'anonymous' }, requestor: true }]);
  });

  it('a search carries its query (base64) beside the request line', () => {
    const [entity] = (auditEvent(search) as Json).entity;
    expect(entity).to.not.have.property('what');
    expect(decoded(entity.query)).to.equal('patient=Patient%2Fp1&modality=CT');
    expect(entity.detail[0].valueString).to.equal(search.request);
    // Not a read's query (_summary, _elements are no search).
    expect((auditEvent({ ...read, request: 'GET /fhir/Patient/p1?_summary=true' }) as Json).entity[0]).to.not.have.property('query');
  });

  it('DICOMweb: DICOM\'s Instances Accessed, or Query for QIDO-RS, with the bearer token of a query redacted', () => {
    const retrieve = auditEvent(metadata) as Json;
    const accessed = { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110103', display: 'DICOM Instances Accessed' };
    expect(retrieve.category).to.deep.equal([{ coding: [accessed] }]);
    expect(retrieve.code).to.deep.equal({ coding: [accessed], text: 'DICOMweb' });
    expect(retrieve.patient).to.deep.equal({ reference: 'Patient/p1' });
    const query = auditEvent(qido) as Json;
    expect(query.category[0].coding[0]).to.include({ code: '110112', display: 'Query' });
    expect(query.outcome.code.code).to.equal('4');
    expect(query.entity[0].detail[0].valueString).to.equal('GET /dicom-web/studies?PatientID=P1&access_token=redacted');
    expect(decoded(query.entity[0].query)).to.equal('PatientID=P1&access_token=redacted');
    expect(JSON.stringify(query)).to.not.contain('secret');
    const orthanc = auditEvent({ ...metadata, interaction: 'orthanc', request: 'DELETE /studies/abc', action: 'D', status: 403 }) as Json;
    expect(orthanc.code).to.deep.equal({ coding: [accessed], text: 'Orthanc REST API' });
    expect(orthanc.action).to.equal('D');
  });

  it('refuses a record whose time is no instant, before it reaches a batch', () => {
    expect(() => auditEvent({ ...read, recorded: 'yesterday' })).to.throw(TypeError, /recorded/);
  });
});

describe('AuditEvent search', () => {
  const definition = indexedDefinition('AuditEvent')!;
  const indexer = createIndexer();
  const rowsOf = async (resource: Resource): Promise<IndexRows> => (await indexer.rows(resource, async () => undefined))!;
  const stored = (record: AuditRecord, id: string): Resource => ({ ...auditEvent(record), id, meta: { versionId: '1', lastUpdated: '2030-06-01T10:00:00Z' } });

  it('declares the official R5 parameters it indexes', () => {
    expect([...definition.params.keys()]).to.deep.equal(['_id', '_lastUpdated', 'date', 'agent', 'patient', 'entity', 'outcome', 'action', 'category', 'code']);
    const expressions = Object.fromEntries([...definition.params.values()].map((p) => [p.code, [p.type, p.url]]));
    expect(expressions.agent).to.deep.equal(['reference', 'http://hl7.org/fhir/SearchParameter/AuditEvent-agent']);
    // R5 defines date for AuditEvent (AuditEvent.recorded) in its combined clinical-date.
    expect(expressions.date).to.deep.equal(['date', 'http://hl7.org/fhir/SearchParameter/clinical-date']);
    expect(definition.params.get('date')!.expression.evaluate(auditEvent(read)).map((item) => item.value)).to.deep.equal([read.recorded]);
  });

  it('indexes who by the identifier of agent.who, and the patient, entity, outcome, action, code and date', async () => {
    const rows = await rowsOf(stored(read, 'e1'));
    expect(rows.tokens).to.deep.include({ p: 'AuditEvent.agent:identifier', system: ISSUER, code: 'alice' });
    expect(rows.tokens).to.deep.include({ p: 'AuditEvent.agent:identifier', system: CLIENT_ID_SYSTEM, code: 'viewer-app' });
    expect(rows.tokens).to.deep.include({ p: 'AuditEvent.outcome', system: 'http://terminology.hl7.org/CodeSystem/audit-event-outcome', code: '0' });
    expect(rows.tokens).to.deep.include({ p: 'AuditEvent.action', system: 'http://hl7.org/fhir/audit-event-action', code: 'R' });
    expect(rows.tokens).to.deep.include({ p: 'AuditEvent.code', system: 'http://hl7.org/fhir/restful-interaction', code: 'read' });
    expect(rows.references).to.deep.include({ p: 'AuditEvent.patient', targetType: 'Patient', targetId: 'p1', url: '' });
    expect(rows.references).to.deep.include({ p: 'AuditEvent.entity', targetType: 'Patient', targetId: 'p1', url: '' });
    // An instant to the millisecond: the range of that millisecond.
    expect(rows.dates).to.deep.include({ p: 'AuditEvent.date', low: Date.parse(read.recorded), high: Date.parse(read.recorded) + 1 });
    // An anonymous agent has no identifier: the parameter is present all the same (:missing).
    const anonymous = await rowsOf(stored(refused, 'e2'));
    expect(anonymous.tokens.filter((t) => t.p.startsWith('AuditEvent.agent'))).to.deep.equal([{ p: 'AuditEvent.agent:present', system: '', code: '1' }]);
  });

  it('agent:identifier=system|value finds the events of that subject, in the index as in memory', () => {
    const query = parseSearchQuery(definition, [['agent:identifier', `${ISSUER}|alice`], ['outcome', '0'], ['date', 'ge2030-06-01']], { catalog: SEARCH_CATALOG });
    expect(query.filters[0]!.kind).to.equal('reference-identifier');
    expect(positiveRows(query.filters[0]!, 'AuditEvent', 0)!.params).to.have.members(['AuditEvent.agent:identifier', ISSUER, 'alice']);
    expect(matchesSearch(stored(read, 'e1'), query)).to.equal(true);
    expect(matchesSearch(stored(metadata, 'e3'), query)).to.equal(true);
    expect(matchesSearch(stored({ ...read, subject: 'bob' }, 'e4'), query)).to.equal(false);
    expect(matchesSearch(stored({ ...read, status: 403 }, 'e5'), query)).to.equal(false);
    const basic = parseSearchQuery(definition, [['agent:identifier', `${REGISTERED_USERS_SYSTEM}|orthanc-admin`]], { catalog: SEARCH_CATALOG });
    expect(matchesSearch(stored(search, 'e6'), basic)).to.equal(true);
    // Its own chains reach the other types.
    const chained = parseSearchQuery(definition, [['patient.identifier', 'urn:x|1']], { catalog: SEARCH_CATALOG });
    expect(chained.filters[0]!.kind).to.equal('chain');
  });

  it('no other type\'s search reaches it: no _revinclude, _has or chain into the audit trail', () => {
    expect(SEARCH_CATALOG.get('AuditEvent')).to.equal(undefined);
    for (const type of SEARCH_CATALOG.types()) expect(SEARCH_CATALOG.revIncludesOf(type).filter((v) => v.startsWith('AuditEvent:'))).to.deep.equal([]);
    const patient = SEARCH_CATALOG.get('Patient')!;
    expect(() => parseSearchQuery(patient, [['_has:AuditEvent:patient:outcome', '4']], { catalog: SEARCH_CATALOG })).to.throw(OperationOutcomeError, /AuditEvent/);
    const task = SEARCH_CATALOG.get('Task')!;
    expect(() => parseSearchQuery(task, [['focus:AuditEvent.outcome', '4']], { catalog: SEARCH_CATALOG })).to.throw(OperationOutcomeError);
  });
});

/** The store a provider reads: one AuditEvent, one version. */
function readingStore(): Store {
  const event: Resource = { ...auditEvent(read), id: 'e1', meta: { versionId: '1', lastUpdated: '2030-06-01T10:00:00Z' } };
  const version: ResourceVersion = { resourceType: 'AuditEvent', id: 'e1', versionId: 1, lastUpdated: '2030-06-01T10:00:00Z', resource: event };
  return {
    current: async (type: string, id: string) => (type === 'AuditEvent' && id === 'e1' ? version : undefined),
    version: async (type: string, id: string, versionId: number) => (type === 'AuditEvent' && id === 'e1' && versionId === 1 ? version : undefined),
    history: async () => ({ total: 1, versions: [version] }),
  } as unknown as Store;
}

describe('the AuditEvent provider', () => {
  const config = { defaultCount: 20, maxCount: 100 } as FhirConfig;
  const provider = createStoredResource(auditEventSetup(), readingStore(), new ResourceRegistry(), config);
  const other = { type: 'Endpoint', interactions: ['read'], searchParams: [], searchRevInclude: ['AuditEvent:entity', 'Task:focus'] } as const;
  const router = new Router([provider, other], [], { name: 'orthanc-fhir', version: '1.0.0', orthancVersion: '1.12.0', date: '2030-01-01' });
  const request = (method: FhirRequest['method'], path: string[], extra: Partial<FhirRequest> = {}): FhirRequest =>
    ({ method, path, query: [], headers: {}, baseUrl: 'http://h/fhir', ...extra });
  const failure = async (promise: Promise<unknown>): Promise<OperationOutcomeError> => {
    try {
      await promise;
    } catch (error) {
      if (error instanceof OperationOutcomeError) return error;
      throw error;
    }
    throw new Error('expected a failure');
  };

  it('is read-only and for administrators: read, vread, history-instance, search-type; no write method', () => {
    expect(provider.interactions).to.deep.equal(READ_ONLY_INTERACTIONS);
    expect(provider.adminOnly).to.equal(true);
    for (const method of ['create', 'update', 'delete', 'conditionalTarget', 'conditionalUpdate', 'conditionalDelete', 'assignId'] as const) {
      expect(provider[method], method).to.equal(undefined);
    }
  });

  it('answers every write 405, and reads', async () => {
    const body = { ...auditEvent(read) };
    for (const [method, path] of [['POST', ['AuditEvent']], ['PUT', ['AuditEvent', 'e1']], ['DELETE', ['AuditEvent', 'e1']], ['PUT', ['AuditEvent']],
      ['DELETE', ['AuditEvent']], ['GET', ['AuditEvent', '_history']]] as const) {
      const error = await failure(router.handle(request(method, [...path], { body: { ...body, id: 'e1' } })));
      expect(error.status, `${method} ${path.join('/')}`).to.equal(405);
    }
    expect((await router.handle(request('GET', ['AuditEvent', 'e1']))).resource).to.include({ resourceType: 'AuditEvent', id: 'e1' });
    expect((await router.handle(request('GET', ['AuditEvent', 'e1', '_history', '1']))).status).to.equal(200);
    expect((await router.handle(request('GET', ['AuditEvent', 'e1', '_history']))).resource).to.include({ type: 'history', total: 1 });
  });

  it('is served in R5 only: an R4 request is a 404 that says so, and the R4 CapabilityStatement leaves it out', async () => {
    const r4 = { fhirVersion: '4.0' };
    for (const path of [['AuditEvent', 'e1'], ['AuditEvent', 'e1', '_history', '1'], ['AuditEvent', 'e1', '_history'], ['AuditEvent']]) {
      const error = await failure(router.handle(request('GET', path, r4)));
      expect(error.status, path.join('/')).to.equal(404);
      expect(error.message).to.match(/AuditEvent is served in FHIR R5 only/);
    }
    const statement = router.capabilityStatement('http://h/fhir') as Json;
    expect(statement.rest[0].resource.map((r: Json) => r.type)).to.deep.equal(['AuditEvent', 'Endpoint']);
    const [endpoint, ...more] = (toR4(statement as Resource) as Json).rest[0].resource;
    expect(more).to.deep.equal([]);
    expect(endpoint).to.include({ type: 'Endpoint' });
    expect(endpoint.searchRevInclude).to.deep.equal(['Task:focus']);
  });
});

/** A store double that records its transactions; `failNext` fails that many, `gate` holds each until opened. */
class FakeStore implements AuditStore {
  readonly transactions: Array<Array<{ type: string; id: string; resource: Resource; options?: PutOptions }>> = [];
  failNext = 0;
  attempts = 0;
  gate: Promise<void> | undefined;
  inOutside = 0;
  private open?: () => void;

  hold(): void {
    this.gate = new Promise((resolve) => { this.open = resolve; });
  }

  release(): void {
    this.gate = undefined;
    this.open?.();
  }

  outside<T>(work: () => T): T {
    this.inOutside++;
    return work();
  }

  async transaction<T>(work: (writer: StoreWriter) => Promise<T> | T): Promise<T> {
    this.attempts++;
    if (this.gate) await this.gate;
    const puts: FakeStore['transactions'][number] = [];
    const writer = {
      put: async (type: string, id: string, resource: Resource | undefined, options?: PutOptions) => {
        puts.push({ type, id, resource: resource!, ...(options ? { options } : {}) });
        return { resourceType: type, id, versionId: 1, lastUpdated: '2030-01-01T00:00:00Z', resource };
      },
    } as unknown as StoreWriter;
    const result = await work(writer);
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('database is locked');
    }
    this.transactions.push(puts);
    return result;
  }

  get written(): number {
    return this.transactions.reduce((n, t) => n + t.length, 0);
  }
}

const nth = (i: number): AuditRecord => ({ ...read, request: `GET /fhir/Patient/p${i}`, id: `p${i}` });
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('AuditTrail', () => {
  let logs: string[];
  const log = (message: string) => logs.push(message);
  beforeEach(() => { logs = []; });

  it('writes 1200 records in 3 transactions of at most 500, each AuditEvent once with a fresh id, outside the caller\'s transaction', async () => {
    const store = new FakeStore();
    const trail = new AuditTrail(store, { log, baseUrl: 'http://h/fhir' });
    for (let i = 0; i < 1200; i++) await trail.record(nth(i));
    await trail.flush();
    expect(store.transactions.map((t) => t.length)).to.deep.equal([500, 500, 200]);
    const puts = store.transactions.flat();
    expect(puts.map((p) => p.resource.entity)).to.deep.equal([...Array(1200).keys()].map((i) => (auditEvent(nth(i)) as Json).entity));
    expect(new Set(puts.map((p) => p.id)).size).to.equal(1200);
    expect(puts.every((p) => p.type === 'AuditEvent' && p.options?.fresh === true && p.options.baseUrl === 'http://h/fhir')).to.equal(true);
    expect(store.inOutside).to.equal(3);
    expect(trail.waiting).to.equal(0);
    await trail.close();
    expect(logs).to.deep.equal([]);
  });

  it('flushes a few records after the interval, on its own', async () => {
    const store = new FakeStore();
    const trail = new AuditTrail(store, { log, intervalMs: 20 });
    await trail.record(nth(1));
    await trail.record(nth(2));
    expect(store.transactions).to.have.length(0);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(store.transactions.map((t) => t.length)).to.deep.equal([2]);
    await trail.close();
  });

  it('retries a failed transaction with backoff, keeping its records, and logs the failure and the recovery', async () => {
    const store = new FakeStore();
    store.failNext = 2;
    const trail = new AuditTrail(store, { log, intervalMs: 5, retryMs: 10 });
    for (let i = 0; i < 3; i++) await trail.record(nth(i));
    for (let i = 0; i < 100 && store.written < 3; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(store.attempts).to.equal(3);
    expect(store.transactions.map((t) => t.length)).to.deep.equal([3]);
    expect(logs).to.have.length(3);
    expect(logs[0]).to.match(/writing 3 AuditEvents failed \(failure 1, 3 waiting, next try in 10 ms\): Error: database is locked/);
    expect(logs[1]).to.match(/failure 2, 3 waiting, next try in 20 ms/);
    expect(logs[2]).to.match(/writing again after 2 failed attempts/);
    await trail.close();
  });

  it('while the store fails, full batches wait for the backoff instead of trying again at once', async () => {
    const store = new FakeStore();
    store.failNext = 1_000;
    const trail = new AuditTrail(store, { log, batchSize: 2, retryMs: 40, maxRetryMs: 40 });
    for (let i = 0; i < 20; i++) {
      await trail.record(nth(i));
      await settle();
    }
    expect(store.attempts).to.be.at.most(2);
    expect(trail.waiting).to.equal(20);
    store.failNext = 0;
    for (let i = 0; i < 100 && trail.waiting > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(store.written).to.equal(20);
    await trail.close();
  });

  it('flush() rejects while the store fails, the records stay and are written by a later flush', async () => {
    const store = new FakeStore();
    store.failNext = 1;
    const trail = new AuditTrail(store, { log, retryMs: 60_000 });
    await trail.record(nth(1));
    let error: unknown;
    await trail.flush().catch((e: unknown) => { error = e; });
    expect((error as Error).message).to.equal('database is locked');
    expect(trail.waiting).to.equal(1);
    await trail.flush();
    expect(store.written).to.equal(1);
    expect(trail.waiting).to.equal(0);
    await trail.close();
  });

  it('when the queue is full, record() waits until a flush makes room (backpressure), in order, dropping nothing', async () => {
    const store = new FakeStore();
    store.hold();
    const trail = new AuditTrail(store, { log, batchSize: 2, capacity: 4, intervalMs: 1000 });
    for (let i = 0; i < 4; i++) await trail.record(nth(i));
    let admitted = 0;
    const waits = [4, 5, 6].map((i) => trail.record(nth(i)).then(() => { admitted++; }));
    await settle();
    expect(admitted).to.equal(0);
    expect(trail.waiting).to.equal(7);
    expect(store.attempts).to.equal(1); // one flush at a time, held
    store.release();
    await Promise.all(waits);
    await trail.flush();
    expect(admitted).to.equal(3);
    expect(store.transactions.flat().map((p) => (p.resource as Json).entity[0].what.reference)).to.deep.equal([0, 1, 2, 3, 4, 5, 6].map((i) => `Patient/p${i}`));
    expect(store.transactions.every((t) => t.length <= 2)).to.equal(true);
    await trail.close();
  });

  it('only one flush at a time, however many are asked', async () => {
    const store = new FakeStore();
    let running = 0;
    let most = 0;
    const transaction = store.transaction.bind(store);
    store.transaction = async (work) => {
      most = Math.max(most, ++running);
      try {
        await new Promise((resolve) => setTimeout(resolve, 2));
        return await transaction(work);
      } finally {
        running--;
      }
    };
    const trail = new AuditTrail(store, { log, batchSize: 3 });
    const flushes: Array<Promise<void>> = [];
    for (let i = 0; i < 20; i++) {
      await trail.record(nth(i));
      flushes.push(trail.flush());
    }
    await Promise.all(flushes);
    expect(most).to.equal(1);
    expect(store.written).to.equal(20);
    await trail.close();
  });

  it('close() writes what waits, stops the timer, never rejects; records after it are logged', async () => {
    const store = new FakeStore();
    const trail = new AuditTrail(store, { log, intervalMs: 60_000 });
    await trail.record(nth(1));
    await trail.close();
    expect(store.written).to.equal(1);
    await trail.record(nth(2));
    expect(store.written).to.equal(1);
    expect(logs).to.have.length(1);
    expect(logs[0]).to.match(/after the trail was closed is not recorded: GET \/fhir\/Patient\/p2/);

    const failing = new FakeStore();
    failing.failNext = 5;
    const broken = new AuditTrail(failing, { log, intervalMs: 60_000 });
    await broken.record(nth(3));
    await broken.close();
    expect(logs.at(-1)).to.match(/closed with 1 AuditEvents not written/);
    expect(failing.attempts).to.equal(1);
  });

  it('refuses a bad record to its caller, at once', async () => {
    const trail = new AuditTrail(new FakeStore(), { log });
    expect(() => trail.record({ ...read, recorded: 'never' })).to.throw(TypeError);
    expect(trail.waiting).to.equal(0);
    await trail.close();
  });
});
