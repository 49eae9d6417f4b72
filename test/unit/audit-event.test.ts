// The audit trail: the AuditEvent of one access (valid R5, its outcome and
// agents), the row the trail's table keeps of it and the AuditEvent read
// back from that row, the read-only provider searching the table (against
// an in-memory AuditLog that evaluates the AuditQuery), R4, and the batching
// of AuditTrail against a store double (better-sqlite3 cannot load under the
// unit tests' Node). The SQL of the table is tested in audit-log.test.ts.
import { expect } from 'chai';
import type { FhirConfig } from '../../src/config';
import { toR4 } from '../../src/fhir/r4';
import type { Bundle, Resource } from '../../src/fhir/types';
import type { FhirRequest } from '../../src/interactions/request';
import { Router } from '../../src/interactions/router';
import { auditEntry, auditEvent, auditEventOfRow, CLIENT_ID_SYSTEM, REGISTERED_USERS_SYSTEM, type AuditRecord } from '../../src/resources/audit-event';
import { createAuditEventResource } from '../../src/resources/audit-event-resource';
import { AuditTrail, type AuditStore } from '../../src/resources/audit-trail';
import type { InteractionContext } from '../../src/resources/provider';
import type { AuditEntry, AuditLog, AuditQuery, AuditRow } from '../../src/store/audit-log';
import type { Store } from '../../src/store/store';
import { fhirProblems, loadFhirSchema } from '../support/fhir-schema';
import { failureOf } from '../support/outcome-error';

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


describe('the trail\'s row of an access', function () {
  this.timeout(60_000);
  before(() => loadFhirSchema());

  it('a token subject: agent <issuer>|<sub>, the client under the client-id URN, patient, entity Type/id, outcome, recorded in ms', () => {
    expect(auditEntry(read)).to.deep.equal({
      recorded: Date.parse('2030-06-01T09:30:00.123Z'),
      agent: `${ISSUER}|alice`,
      client: `${CLIENT_ID_SYSTEM}|viewer-app`,
      patient: 'p1',
      entity: 'Patient/p1',
      outcome: '0',
      body: JSON.stringify(read),
    });
    expect(CLIENT_ID_SYSTEM).to.equal('urn:ietf:params:oauth:client-id');
    // A subject without an issuer: an identifier without a system (agent:identifier=|alice).
    expect(auditEntry({ ...read, issuer: undefined }).agent).to.equal('|alice');
    // The subject is the requestor, whatever Basic user name came with it.
    expect(auditEntry({ ...search, subject: 'bob', issuer: ISSUER }).agent).to.equal(`${ISSUER}|bob`);
  });

  it('an HTTP Basic user: agent urn:orthanc:registered-users|<user>; a type without an id is no entity', () => {
    const entry = auditEntry(search);
    expect(REGISTERED_USERS_SYSTEM).to.equal('urn:orthanc:registered-users');
    expect(entry.agent).to.equal('urn:orthanc:registered-users|orthanc-admin');
    expect(entry).to.not.have.any.keys('client', 'patient', 'entity');
    expect(entry).to.include({ recorded: Date.parse(search.recorded), outcome: '0' });
  });

  it('anonymous: no agent; absent (and empty) values are absent columns', () => {
    const entry = auditEntry(refused);
    expect(entry).to.deep.equal({ recorded: Date.parse('2030-06-01T07:32:00Z'), outcome: '4', body: JSON.stringify(refused) });
    const blank = auditEntry({ ...read, subject: '', user: ' ', client: '', patient: '', id: '' });
    expect(Object.keys(blank).sort()).to.deep.equal(['body', 'outcome', 'recorded']);
    // The DICOMweb access of a patient, no resource named.
    expect(auditEntry(metadata)).to.include({ agent: `${ISSUER}|alice`, patient: 'p1' }).and.not.have.property('entity');
  });

  it('outcome 0 below 400, 4 for a 4xx, 8 for a 5xx, as the AuditEvent says', () => {
    for (const [status, code] of [[200, '0'], [304, '0'], [399, '0'], [400, '4'], [403, '4'], [499, '4'], [500, '8'], [503, '8']] as const) {
      const record = { ...read, status };
      expect(auditEntry(record).outcome, String(status)).to.equal(code);
      expect(auditEntry(record).outcome).to.equal((auditEvent(record) as Json).outcome.code.code);
    }
    expect(auditEntry(failed).outcome).to.equal('8');
  });

  it('the body is the record itself; a record whose time is no instant is refused (TypeError)', () => {
    for (const record of [read, search, refused, metadata, failed]) expect(JSON.parse(auditEntry(record).body)).to.deep.equal(record);
    // A bearer token sent in the query is not kept, in the row either.
    expect(auditEntry(qido).body).to.not.contain('secret');
    expect(JSON.parse(auditEntry(qido).body).request).to.equal('GET /dicom-web/studies?PatientID=P1&access_token=redacted');
    expect(() => auditEntry({ ...read, recorded: 'yesterday' })).to.throw(TypeError, /recorded/);
    expect(() => auditEntry({ ...read, recorded: '' })).to.throw(TypeError, /recorded/);
  });

  it('read back: the AuditEvent of the record, id its sequence number, version 1, last updated when recorded', () => {
    const event = auditEventOfRow(42, auditEntry(read).body) as Json;
    expect(event.resourceType).to.equal('AuditEvent');
    expect(event.id).to.equal('42');
    expect(event.meta).to.deep.equal({ versionId: '1', lastUpdated: '2030-06-01T09:30:00.123Z' });
    const { id, meta, ...rest } = event;
    expect(rest).to.deep.equal(auditEvent(read));
    // PostgreSQL's BIGSERIAL comes back as a string; an offset is normalized to UTC.
    const big = auditEventOfRow('9007199254740993', auditEntry(refused).body) as Json;
    expect(big.id).to.equal('9007199254740993');
    expect(big.meta.lastUpdated).to.equal('2030-06-01T07:32:00.000Z');
    // A token in a query stays out of the AuditEvent read back.
    expect(JSON.stringify(auditEventOfRow(5, auditEntry(qido).body))).to.not.contain('secret');
  });

  it('read back, every kind of access is valid R5 (official schema and JSON rules)', () => {
    const records = [read, search, refused, metadata, qido, failed, { ...read, interaction: 'frobnicate' }];
    records.forEach((record, i) => {
      const event = auditEventOfRow(i + 1, auditEntry(record).body) as Json as { resourceType: string };
      expect(fhirProblems(event), record.request).to.deep.equal([]);
    });
  });
});

/**
 * An in-memory AuditLog: the rows appended, numbered from 1, and what the
 * SQL of audit-log.ts asks of them evaluated here (each filter any of its
 * values, an agent the requestor or the client; newest first by recorded
 * then seq unless ascending; the page). Keeps the queries it was asked.
 */
class MemoryAuditLog implements AuditLog {
  readonly rows: Array<AuditEntry & { seq: number }> = [];
  readonly searches: AuditQuery[] = [];
  readonly counts: AuditQuery[] = [];
  readonly reads: number[] = [];

  async append(entries: readonly AuditEntry[]): Promise<void> {
    for (const entry of entries) this.rows.push({ ...entry, seq: this.rows.length + 1 });
  }

  async search(query: AuditQuery): Promise<AuditRow[]> {
    this.searches.push(query);
    const sign = query.ascending ? 1 : -1;
    return this.matching(query)
      .sort((a, b) => sign * (a.recorded - b.recorded || a.seq - b.seq))
      .slice(query.offset, query.offset + query.limit)
      .map(({ seq, body }) => ({ seq, body }));
  }

  async count(query: AuditQuery): Promise<number> {
    this.counts.push(query);
    return this.matching(query).length;
  }

  async read(seq: number): Promise<AuditRow | undefined> {
    this.reads.push(seq);
    const row = this.rows.find((r) => r.seq === seq);
    return row && { seq: row.seq, body: row.body };
  }

  private matching(query: AuditQuery): Array<AuditEntry & { seq: number }> {
    const anyOf = (values: readonly string[] | undefined, ...columns: Array<string | undefined>) =>
      values === undefined || columns.some((column) => column !== undefined && values.includes(column));
    return this.rows.filter((row) => (query.from === undefined || row.recorded >= query.from)
      && (query.to === undefined || row.recorded < query.to)
      && anyOf(query.agents, row.agent, row.client)
      && anyOf(query.patients, row.patient)
      && anyOf(query.entities, row.entity)
      && anyOf(query.outcomes, row.outcome));
  }
}

/** Another subject, another day, another patient and client. */
const bob: AuditRecord = {
  ...read, recorded: '2030-06-02T08:00:00Z', request: 'GET /fhir/Patient/p2', id: 'p2', patient: 'p2', subject: 'bob', client: 'other-app',
};
/** The trail, in the order written: the seq of each is its place + 1 (the newest is not the last written: refused is the oldest). */
const TRAIL: readonly AuditRecord[] = [read, search, refused, metadata, qido, failed, bob];
const seqOf = (record: AuditRecord) => String(TRAIL.indexOf(record) + 1);
const seqsOf = (...records: AuditRecord[]) => records.map(seqOf);

describe('the AuditEvent provider', () => {
  const config = { defaultCount: 20, maxCount: 100 } as FhirConfig;
  let log: MemoryAuditLog;
  const storeOf = (audit: AuditLog): Store => ({ audit, outside: <T>(work: () => T): T => work() }) as unknown as Store;
  const other = { type: 'Endpoint', interactions: ['read'], searchParams: [], searchRevInclude: ['AuditEvent:entity', 'Task:focus'] } as const;
  const server = { name: 'orthanc-fhir', version: '1.0.0', orthancVersion: '1.12.0', date: '2030-01-01' };
  let provider: ReturnType<typeof createAuditEventResource>;
  let router: Router;

  beforeEach(async () => {
    log = new MemoryAuditLog();
    await log.append(TRAIL.map(auditEntry));
    provider = createAuditEventResource(storeOf(log), config);
    router = new Router([provider, other], [], server);
  });

  const context = (query: Array<[string, string]>, extra: Partial<InteractionContext> = {}): InteractionContext =>
    ({ baseUrl: 'http://h/fhir', query, lenient: false, ...extra });
  const find = (...query: Array<[string, string]>): Promise<Bundle> => provider.search!(context(query));
  const ids = async (...query: Array<[string, string]>): Promise<string[]> => ((await find(...query)).entry ?? []).map((e) => e.resource!.id!);
  const linkOf = (bundle: Bundle, relation: string): URL | undefined => {
    const url = bundle.link?.find((l) => l.relation === relation)?.url;
    return url === undefined ? undefined : new URL(url);
  };
  const paramsOf = (url: URL | undefined): Array<[string, string]> => [...url!.searchParams];
  const request = (method: FhirRequest['method'], path: string[], extra: Partial<FhirRequest> = {}): FhirRequest =>
    ({ method, path, query: [], headers: {}, baseUrl: 'http://h/fhir', ...extra });
  const failure = failureOf;

  it('is read-only and for administrators: read and search-type; no write method', () => {
    expect(provider.type).to.equal('AuditEvent');
    expect(provider.interactions).to.deep.equal(['read', 'search-type']);
    expect(provider.adminOnly).to.equal(true);
    for (const method of ['create', 'update', 'delete', 'vread', 'history', 'conditionalTarget', 'conditionalUpdate', 'conditionalDelete', 'assignId'] as const) {
      expect(provider[method], method).to.equal(undefined);
    }
    expect(provider.searchParams.map((p) => p.name)).to.deep.equal(['date', 'agent', 'patient', 'entity', 'outcome']);
  });

  it('answers every write, vread and history 405', async () => {
    const body = { ...auditEvent(read), id: '1' };
    for (const [method, path] of [['POST', ['AuditEvent']], ['PUT', ['AuditEvent', '1']], ['DELETE', ['AuditEvent', '1']], ['PUT', ['AuditEvent']],
      ['DELETE', ['AuditEvent']], ['GET', ['AuditEvent', '_history']], ['GET', ['AuditEvent', '1', '_history']], ['GET', ['AuditEvent', '1', '_history', '1']]] as const) {
      const error = await failure(router.handle(request(method, [...path], { body })));
      expect(error.status, `${method} ${path.join('/')}`).to.equal(405);
    }
    expect(log.rows).to.have.length(TRAIL.length);
  });

  it('reads an AuditEvent by its sequence number', async () => {
    const event = await provider.read!(seqOf(metadata), context([]));
    expect(event).to.deep.equal(auditEventOfRow(Number(seqOf(metadata)), JSON.stringify(metadata)));
    expect(event).to.include({ resourceType: 'AuditEvent', id: seqOf(metadata) });
    expect((event as Json).patient).to.deep.equal({ reference: 'Patient/p1' });
    expect(log.reads).to.deep.equal([Number(seqOf(metadata))]);
    const response = await router.handle(request('GET', ['AuditEvent', seqOf(read)]));
    expect(response.status).to.equal(200);
    expect(response.resource).to.include({ id: seqOf(read) });
    expect((response.resource as Json).meta).to.deep.equal({ versionId: '1', lastUpdated: '2030-06-01T09:30:00.123Z' });
    expect(response.headers).to.include({ etag: 'W/"1"' });
  });

  it('an unknown or non-numeric id is a 404 (a non-numeric one never reaches the store)', async () => {
    for (const id of ['99', '0', String(TRAIL.length + 1)]) {
      const error = await failure(provider.read!(id, context([])));
      expect(error.status, id).to.equal(404);
      expect(error.message).to.contain(`AuditEvent/${id}`);
    }
    const before = log.reads.length;
    for (const id of ['x1', '1.5', '-1', '1e3', '1234567890123456789']) expect((await failure(provider.read!(id, context([])))).status, id).to.equal(404);
    expect(log.reads).to.have.length(before);
  });

  it('a search without parameters: every AuditEvent, newest first, with its total, fullUrl and match mode', async () => {
    const bundle = await find();
    expect(bundle).to.include({ resourceType: 'Bundle', type: 'searchset', total: TRAIL.length });
    expect(bundle.entry!.map((e) => e.resource!.id)).to.deep.equal(seqsOf(bob, failed, qido, metadata, search, read, refused));
    const first = bundle.entry![0]!;
    expect(first.fullUrl).to.equal(`http://h/fhir/AuditEvent/${seqOf(bob)}`);
    expect(first.search).to.deep.equal({ mode: 'match' });
    expect(first.resource).to.deep.equal(auditEventOfRow(Number(seqOf(bob)), JSON.stringify(bob)));
    expect(linkOf(bundle, 'next')).to.equal(undefined);
    expect(linkOf(bundle, 'previous')).to.equal(undefined);
    // One more row than the page is asked for: whether there is a next page.
    expect(log.searches.at(-1)).to.deep.equal({ limit: config.defaultCount + 1, offset: 0 });
    expect(log.counts).to.deep.equal([]);
    // Through the router too.
    const response = await router.handle(request('GET', ['AuditEvent'], { query: [['outcome', '8']] }));
    expect((response.resource as Bundle).entry!.map((e) => e.resource!.id)).to.deep.equal(seqsOf(failed));
  });

  it('date: a day, a minute, an instant with an offset (eq, the default, is within the value\'s precision)', async () => {
    expect(await ids(['date', '2030-06-01'])).to.deep.equal(seqsOf(failed, qido, metadata, search, read, refused));
    expect(await ids(['date', 'eq2030-06-02'])).to.deep.equal(seqsOf(bob));
    expect(await ids(['date', '2030-06-01T09:30'])).to.deep.equal(seqsOf(read));
    expect(await ids(['date', '2030-06-01T09:32:00+02:00'])).to.deep.equal(seqsOf(refused));
    expect(await ids(['date', '2030-06'])).to.deep.equal(seqsOf(bob, failed, qido, metadata, search, read, refused));
    expect(await ids(['date', '2030-07'])).to.deep.equal([]);
    expect(log.searches.at(-1)).to.include({ from: Date.parse('2030-07-01T00:00:00Z'), to: Date.parse('2030-08-01T00:00:00Z') });
  });

  it('date prefixes ge, gt, le, lt, and two dates make a range', async () => {
    expect(await ids(['date', 'ge2030-06-01T09:33:00Z'])).to.deep.equal(seqsOf(bob, failed, qido, metadata));
    expect(await ids(['date', 'gt2030-06-01T09:33:00Z'])).to.deep.equal(seqsOf(bob, failed, qido));
    expect(await ids(['date', 'le2030-06-01T09:31:00Z'])).to.deep.equal(seqsOf(search, read, refused));
    expect(await ids(['date', 'lt2030-06-01T09:31:00Z'])).to.deep.equal(seqsOf(read, refused));
    // lt an instant excludes it, le includes it.
    expect(await ids(['date', 'lt2030-06-01T09:32:00+02:00'])).to.deep.equal([]);
    expect(await ids(['date', 'le2030-06-01T09:32:00+02:00'])).to.deep.equal(seqsOf(refused));
    expect(await ids(['date', 'ge2030-06-01T09:31:00Z'], ['date', 'lt2030-06-01T09:35:00Z'])).to.deep.equal(seqsOf(qido, metadata, search));
    // The narrower bound of each side holds.
    expect(await ids(['date', 'ge2030-06-01'], ['date', 'ge2030-06-02'], ['date', 'le2030-06-02'], ['date', 'lt2030-06-03'])).to.deep.equal(seqsOf(bob));
    expect(await ids(['date', 'ge2030-06-02'], ['date', 'lt2030-06-01T09:35:00Z'])).to.deep.equal([]);
  });

  it('a date that is no date, or another prefix, is a 400', async () => {
    for (const value of ['yesterday', 'ne2030-06-01', 'sa2030-06-01', '2030-13-01', 'ge', '']) {
      const error = await failure(find(['date', value]));
      expect(error.status, value).to.equal(400);
    }
  });

  it('takes one agent:identifier (a row has two agents: two parameters would not say which each is)', async () => {
    const error = await failure(find(['agent:identifier', `${ISSUER}|alice`], ['agent:identifier', `${CLIENT_ID_SYSTEM}|viewer-app`]));
    expect(error.status).to.equal(400);
  });

  it('agent:identifier: the requestor (token subject under its issuer, Basic user) or the OAuth client', async () => {
    expect(await ids(['agent:identifier', `${ISSUER}|alice`])).to.deep.equal(seqsOf(qido, metadata, read));
    expect(await ids(['agent:identifier', `${REGISTERED_USERS_SYSTEM}|orthanc-admin`])).to.deep.equal(seqsOf(search));
    expect(await ids(['agent:identifier', `${CLIENT_ID_SYSTEM}|viewer-app`])).to.deep.equal(seqsOf(read));
    expect(await ids(['agent:identifier', `${CLIENT_ID_SYSTEM}|other-app`])).to.deep.equal(seqsOf(bob));
    // The system is part of the identifier.
    expect(await ids(['agent:identifier', 'alice'])).to.deep.equal([]);
    expect(await ids(['agent:identifier', 'https://other.example.org|alice'])).to.deep.equal([]);
    // Comma alternatives are ORed.
    expect(await ids(['agent:identifier', `${ISSUER}|bob,${REGISTERED_USERS_SYSTEM}|orthanc-admin`])).to.deep.equal(seqsOf(bob, search));
    // agent without :identifier is not searched.
    expect((await failure(find(['agent', 'Practitioner/x']))).status).to.equal(400);
  });

  it('patient as Patient/x or x, entity as Type/id', async () => {
    expect(await ids(['patient', 'Patient/p1'])).to.deep.equal(seqsOf(metadata, read));
    expect(await ids(['patient', 'p1'])).to.deep.equal(seqsOf(metadata, read));
    expect(await ids(['patient', 'http://h/fhir/Patient/p2'])).to.deep.equal(seqsOf(bob));
    expect(await ids(['patient', 'p1,Patient/p2'])).to.deep.equal(seqsOf(bob, metadata, read));
    expect(await ids(['patient', 'p3'])).to.deep.equal([]);
    expect(await ids(['entity', 'Patient/p1'])).to.deep.equal(seqsOf(read));
    expect(await ids(['entity', 'Patient/p1,Patient/p2'])).to.deep.equal(seqsOf(bob, read));
    expect(await ids(['entity', 'ImagingStudy/p1'])).to.deep.equal([]);
    expect(log.searches.at(-1)!.entities).to.deep.equal(['ImagingStudy/p1']);
  });

  it('outcome, with or without the audit-event-outcome system; another system matches nothing', async () => {
    expect(await ids(['outcome', '4'])).to.deep.equal(seqsOf(qido, refused));
    expect(await ids(['outcome', 'http://terminology.hl7.org/CodeSystem/audit-event-outcome|8'])).to.deep.equal(seqsOf(failed));
    expect(await ids(['outcome', '0,8'])).to.deep.equal(seqsOf(bob, failed, metadata, search, read));
    expect(await ids(['outcome', 'http://example.org/outcomes|4'])).to.deep.equal([]);
    expect(await ids(['outcome', '12'])).to.deep.equal([]);
  });

  it('several parameters are ANDed; one repeated must hold each time', async () => {
    expect(await ids(['agent:identifier', `${ISSUER}|alice`], ['outcome', '0'])).to.deep.equal(seqsOf(metadata, read));
    expect(await ids(['agent:identifier', `${ISSUER}|alice`], ['outcome', '0'], ['date', 'ge2030-06-01T09:31:00Z'])).to.deep.equal(seqsOf(metadata));
    expect(await ids(['patient', 'p1'], ['entity', 'Patient/p1'], ['outcome', '0'])).to.deep.equal(seqsOf(read));
    expect(await ids(['patient', 'p1'], ['outcome', '4'])).to.deep.equal([]);
    expect(await ids(['patient', 'p1,p2'], ['patient', 'Patient/p2'])).to.deep.equal(seqsOf(bob));
    expect(await ids(['patient', 'p1'], ['patient', 'p2'])).to.deep.equal([]);
    expect(await ids(['outcome', '0,4'], ['outcome', '4,8'])).to.deep.equal(seqsOf(qido, refused));
  });

  it('pages with _count: next and previous links keep the filters and carry _offset; the total once the last page is reached', async () => {
    const filter: Array<[string, string]> = [['outcome', '0,4'], ['date', 'ge2030-06-01']];
    const expected = seqsOf(bob, qido, metadata, search, read, refused);
    const pages: string[][] = [];
    const totals: Array<number | undefined> = [];
    let bundle = await find(...filter, ['_count', '2']);
    for (;;) {
      pages.push((bundle.entry ?? []).map((e) => e.resource!.id!));
      totals.push(bundle.total);
      const self = linkOf(bundle, 'self')!;
      expect(self.origin + self.pathname).to.equal('http://h/fhir/AuditEvent');
      expect(self.searchParams.getAll('outcome')).to.deep.equal(['0,4']);
      expect(self.searchParams.getAll('date')).to.deep.equal(['ge2030-06-01']);
      expect(self.searchParams.get('_count')).to.equal('2');
      const offset = (pages.length - 1) * 2;
      expect(self.searchParams.get('_offset')).to.equal(offset === 0 ? null : String(offset));
      const previous = linkOf(bundle, 'previous');
      if (offset === 0) expect(previous).to.equal(undefined);
      else expect(previous!.searchParams.get('_offset') ?? '0').to.equal(String(offset - 2));
      const next = linkOf(bundle, 'next');
      if (next === undefined) break;
      expect(next.searchParams.get('_offset')).to.equal(String(offset + 2));
      expect(next.searchParams.getAll('outcome')).to.deep.equal(['0,4']);
      expect(pages.length).to.be.below(10);
      bundle = await find(...paramsOf(next));
    }
    expect(pages).to.deep.equal([expected.slice(0, 2), expected.slice(2, 4), expected.slice(4, 6)]);
    expect(totals).to.deep.equal([undefined, undefined, expected.length]);
    // A last page that is not full has the total too; a page past the end has none.
    const last = await find(...filter, ['_count', '4'], ['_offset', '4']);
    expect(last.entry!.map((e) => e.resource!.id)).to.deep.equal(expected.slice(4));
    expect(last.total).to.equal(expected.length);
    expect(linkOf(last, 'previous')!.searchParams.get('_offset')).to.equal(null);
    const beyond = await find(...filter, ['_count', '2'], ['_offset', '10']);
    expect(beyond).to.not.have.property('entry');
    expect(beyond).to.not.have.property('total');
  });

  it('_total=accurate counts on every page, with the filters of the search', async () => {
    const bundle = await find(['agent:identifier', `${ISSUER}|alice`], ['_count', '1'], ['_total', 'accurate']);
    expect(bundle.total).to.equal(3);
    expect(bundle.entry!.map((e) => e.resource!.id)).to.deep.equal(seqsOf(qido));
    expect(log.counts.at(-1)).to.deep.include({ agents: [`${ISSUER}|alice`] });
    const next = linkOf(bundle, 'next')!;
    expect(next.searchParams.get('_total')).to.equal('accurate');
    const second = await find(...paramsOf(next));
    expect(second.total).to.equal(3);
    expect(second.entry!.map((e) => e.resource!.id)).to.deep.equal(seqsOf(metadata));
  });

  it('_count defaults to the configured count and is capped at the maximum; a bad _count or _offset is a 400', async () => {
    const small = createAuditEventResource(storeOf(log), { defaultCount: 2, maxCount: 3 } as FhirConfig);
    const page = await small.search!(context([]));
    expect(page.entry).to.have.length(2);
    expect(linkOf(page, 'self')!.searchParams.get('_count')).to.equal('2');
    const capped = await small.search!(context([['_count', '50']]));
    expect(capped.entry).to.have.length(3);
    expect(linkOf(capped, 'next')!.searchParams.get('_count')).to.equal('3');
    for (const [name, value] of [['_count', 'abc'], ['_count', '-1'], ['_count', '2.5'], ['_offset', '-1'], ['_offset', 'x']]) {
      expect((await failure(find([name!, value!]))).status, `${name}=${value}`).to.equal(400);
    }
  });

  it('_sort=date: oldest first (recorded, not the order written); -date is the default; nothing else sorts', async () => {
    expect(await ids(['_sort', 'date'])).to.deep.equal(seqsOf(refused, read, search, metadata, qido, failed, bob));
    expect(await ids(['_sort', '-date'])).to.deep.equal(seqsOf(bob, failed, qido, metadata, search, read, refused));
    const ascending = await find(['_sort', 'date'], ['_count', '2']);
    expect(ascending.entry!.map((e) => e.resource!.id)).to.deep.equal(seqsOf(refused, read));
    const next = linkOf(ascending, 'next')!;
    expect(next.searchParams.get('_sort')).to.equal('date');
    expect((await find(...paramsOf(next))).entry!.map((e) => e.resource!.id)).to.deep.equal(seqsOf(search, metadata));
    for (const value of ['_lastUpdated', 'outcome', 'date,outcome']) expect((await failure(find(['_sort', value]))).status, value).to.equal(400);
  });

  it('_summary=count: the total of the search, no entries', async () => {
    const bundle = await find(['outcome', '4'], ['_summary', 'count']);
    expect(bundle).to.include({ resourceType: 'Bundle', type: 'searchset', total: 2 });
    expect(bundle).to.not.have.property('entry');
    expect(linkOf(bundle, 'self')!.searchParams.get('_summary')).to.equal('count');
    expect(log.searches).to.deep.equal([]);
    expect((await find(['date', '2030-06-02'], ['_summary', 'count'])).total).to.equal(1);
    expect((await failure(find(['_summary', 'true']))).status).to.equal(400);
  });

  it('an unknown parameter is a 400, ignored when lenient', async () => {
    const error = await failure(find(['code', 'read']));
    expect(error.status).to.equal(400);
    expect(error.message).to.contain('\'code\'');
    const lenient = await provider.search!(context([['code', 'read'], ['outcome', '8']], { lenient: true }));
    expect(lenient.entry!.map((e) => e.resource!.id)).to.deep.equal(seqsOf(failed));
    expect(linkOf(lenient, 'self')!.searchParams.has('code')).to.equal(false);
    const header = await router.handle(request('GET', ['AuditEvent'], { query: [['code', 'read']], headers: { prefer: 'handling=lenient' } }));
    expect((header.resource as Bundle).total).to.equal(TRAIL.length);
  });

  it('is served in R5 only: an R4 request is a 404 that says so, and the R4 CapabilityStatement leaves it out', async () => {
    const r4 = { fhirVersion: '4.0' };
    for (const [path, query] of [[['AuditEvent', '1'], []], [['AuditEvent'], []], [['AuditEvent'], [['outcome', '0']]]] as const) {
      const error = await failure(router.handle(request('GET', [...path], { ...r4, query: query.map(([n, v]) => [n, v] as [string, string]) })));
      expect(error.status, path.join('/')).to.equal(404);
      expect(error.message).to.match(/AuditEvent is served in FHIR R5 only/);
    }
    expect((await failure(provider.read!('1', context([], r4)))).status).to.equal(404);
    expect(log.reads).to.deep.equal([]);
    expect(log.searches).to.deep.equal([]);
    // R5 is answered.
    expect((await provider.read!('1', context([], { fhirVersion: '5.0' }))).id).to.equal('1');
    const statement = router.capabilityStatement('http://h/fhir') as Json;
    const types = statement.rest[0].resource.map((r: Json) => r.type);
    expect(types).to.deep.equal(['AuditEvent', 'Endpoint']);
    const auditEventEntry = statement.rest[0].resource[0];
    expect(auditEventEntry.interaction.map((i: Json) => i.code)).to.have.members(['read', 'search-type']);
    const [endpoint, ...more] = (toR4(statement as Resource) as Json).rest[0].resource;
    expect(more).to.deep.equal([]);
    expect(endpoint).to.include({ type: 'Endpoint' });
    expect(endpoint.searchRevInclude).to.deep.equal(['Task:focus']);
  });
});

/** A store double that records each append as one batch; `failNext` fails that many, `gate` holds each until opened. */
class FakeStore implements AuditStore {
  readonly batches: Array<readonly AuditEntry[]> = [];
  failNext = 0;
  attempts = 0;
  gate: Promise<void> | undefined;
  inOutside = 0;
  /** Appends started while no outside() ran: they would have joined the caller's transaction. */
  notOutside = 0;
  private depth = 0;
  private open?: () => void;

  readonly audit: AuditLog = {
    append: async (entries: readonly AuditEntry[]): Promise<void> => {
      if (this.depth === 0) this.notOutside++;
      this.attempts++;
      // A database answers after I/O, not within the caller's microtasks.
      await new Promise((resolve) => setImmediate(resolve));
      if (this.gate) await this.gate;
      if (this.failNext > 0) {
        this.failNext--;
        throw new Error('database is locked');
      }
      // Kept as given (a real store may read it later, once its transaction runs): the trail must not change it.
      this.batches.push(entries);
    },
    search: async () => { throw new Error('the trail does not search'); },
    count: async () => { throw new Error('the trail does not count'); },
    read: async () => { throw new Error('the trail does not read'); },
  };

  hold(): void {
    this.gate = new Promise((resolve) => { this.open = resolve; });
  }

  release(): void {
    this.gate = undefined;
    this.open?.();
  }

  outside<T>(work: () => T): T {
    this.inOutside++;
    this.depth++;
    try {
      return work();
    } finally {
      this.depth--;
    }
  }

  get rows(): AuditEntry[] {
    return this.batches.flat();
  }

  get written(): number {
    return this.rows.length;
  }
}

const nth = (i: number): AuditRecord => ({ ...read, request: `GET /fhir/Patient/p${i}`, id: `p${i}` });
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('AuditTrail', () => {
  let logs: string[];
  const log = (message: string) => logs.push(message);
  beforeEach(() => { logs = []; });

  it('writes 1200 records in 3 batches of at most 500, each row once and in order, outside the caller\'s transaction', async () => {
    const store = new FakeStore();
    const trail = new AuditTrail(store, { log });
    for (let i = 0; i < 1200; i++) await trail.record(nth(i));
    await trail.flush();
    expect(store.batches.map((b) => b.length)).to.deep.equal([500, 500, 200]);
    const rows = store.rows;
    expect(rows.map((r) => r.entity)).to.deep.equal([...Array(1200).keys()].map((i) => `Patient/p${i}`));
    expect(rows.map((r) => JSON.parse(r.body).request)).to.deep.equal([...Array(1200).keys()].map((i) => `GET /fhir/Patient/p${i}`));
    expect(rows[7]).to.deep.equal(auditEntry(nth(7)));
    expect(rows.every((r) => r.agent === `${ISSUER}|alice` && r.patient === 'p1' && r.outcome === '0')).to.equal(true);
    expect(store.inOutside).to.equal(3);
    expect(store.notOutside).to.equal(0);
    expect(trail.waiting).to.equal(0);
    await trail.close();
    expect(store.batches).to.have.length(3);
    expect(logs).to.deep.equal([]);
  });

  it('flushes a few records after the interval, on its own', async () => {
    const store = new FakeStore();
    const trail = new AuditTrail(store, { log, intervalMs: 20 });
    await trail.record(nth(1));
    await trail.record(nth(2));
    expect(store.batches).to.have.length(0);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(store.batches.map((b) => b.map((r) => r.entity))).to.deep.equal([['Patient/p1', 'Patient/p2']]);
    await trail.close();
  });

  it('retries a failed batch with backoff, keeping its records, and logs the failure and the recovery', async () => {
    const store = new FakeStore();
    store.failNext = 2;
    const trail = new AuditTrail(store, { log, intervalMs: 5, retryMs: 10 });
    for (let i = 0; i < 3; i++) await trail.record(nth(i));
    for (let i = 0; i < 100 && store.written < 3; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(store.attempts).to.equal(3);
    expect(store.batches.map((b) => b.map((r) => r.entity))).to.deep.equal([['Patient/p0', 'Patient/p1', 'Patient/p2']]);
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
    expect(store.rows.map((r) => r.entity)).to.deep.equal([...Array(20).keys()].map((i) => `Patient/p${i}`));
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
    expect(store.written).to.equal(0);
    await trail.flush();
    expect(store.rows.map((r) => JSON.parse(r.body))).to.deep.equal([nth(1)]);
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
    expect(store.rows.map((r) => r.entity)).to.deep.equal([0, 1, 2, 3, 4, 5, 6].map((i) => `Patient/p${i}`));
    expect(store.batches.every((b) => b.length <= 2)).to.equal(true);
    await trail.close();
  });

  it('only one flush at a time, however many are asked', async () => {
    const store = new FakeStore();
    let running = 0;
    let most = 0;
    const append = store.audit.append;
    store.audit.append = async (entries) => {
      most = Math.max(most, ++running);
      try {
        await new Promise((resolve) => setTimeout(resolve, 2));
        return await append(entries);
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
    expect(new Set(store.rows.map((r) => r.entity)).size).to.equal(20);
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
    const store = new FakeStore();
    const trail = new AuditTrail(store, { log });
    expect(() => trail.record({ ...read, recorded: 'never' })).to.throw(TypeError);
    expect(trail.waiting).to.equal(0);
    await trail.close();
    expect(store.attempts).to.equal(0);
  });
});
