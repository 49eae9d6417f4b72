// Fuzzing the FHIR write and search surface against the real Orthanc with
// fast-check: random JSON, random FHIR-like resources and Bundles, raw bytes
// and truncated JSON, random query strings, and mutations of the valid orders
// of ../support/orders.ts. For every request:
//   - the status is never 5xx (nor is any entry of a batch-response);
//   - the answer is JSON, an OperationOutcome when the status is >= 400
//     (except 405, which Orthanc sends without a body, with Allow);
//   - a rejected request (>= 400), and any search, leaves the stored data as
//     it was: the type-level history totals of ServiceRequest and Task, the
//     number of Patients, and the sentinel Task and Patient read before/after;
//   - an accepted write reads back equal to what the answer returned.
// At the end Orthanc is still alive, its log shows no crash, and
// /fhir/metadata answers.
//
// Each property is bounded in runs and, shrinking included, in time
// (FUZZ_TIME_LIMIT_MS, 30 s). Reproduce a failure with the seed it prints:
// FUZZ_SEED=<n> (and FUZZ_SCALE to multiply the number of runs, e.g.
// FUZZ_SCALE=0.2 for a quick pass). The counterexamples found so far are kept
// below as plain regression tests, one per cause.
import { expect } from 'chai';
import fc from 'fast-check';
import { readFileSync, statSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { orthancPatientId } from '../../src/resources/patient-identity';
import {
  type BodySpec, type FuzzContext, type Json, type Mutation, bodyBytes, brokenBody, deepOrHugeBody, fuzzBundle, fuzzJson,
  fuzzResource, mutate, mutation, queryString, searchPaths, wellFormed, writeHeaders,
} from '../support/fuzz-arbitraries';
import { orderTransaction, patient, serviceRequest, task } from '../support/orders';
import { Orthanc } from '../support/orthanc';

const SEED = Number(process.env.FUZZ_SEED ?? 20250611);
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
/** Per property, shrinking included: the whole file stays within a few minutes even when something fails. */
const TIME_LIMIT_MS = Number(process.env.FUZZ_TIME_LIMIT_MS ?? 30000);
const MAX_BODY_SIZE = 200000;
const FHIR_JSON = 'application/fhir+json';

type Obj = Record<string, any>;

interface FuzzRequest {
  method: string;
  /** Below /fhir, query included. */
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json?: Obj;
}

interface Snapshot {
  serviceRequests: number;
  tasks: number;
  patients: number;
  sentinelTask: { status: number; body: unknown };
  sentinelPatient: { status: number; body: unknown };
}

function clip(text: string, max = 1500): string {
  return text.length > max ? `${text.slice(0, max)}... (${text.length} characters)` : text;
}

function describeRequest(request: FuzzRequest): string {
  const body = request.body === undefined ? '' : Buffer.isBuffer(request.body) && !isUtf8(request.body)
    ? `\n  body (hex): ${clip(request.body.toString('hex'))}`
    : `\n  body: ${clip(request.body.toString())}`;
  return `${request.method} /fhir${request.path}\n  headers: ${JSON.stringify(request.headers)}${body}`;
}

function isUtf8(buffer: Buffer): boolean {
  return Buffer.from(buffer.toString('utf8'), 'utf8').equals(buffer);
}

/** Header values fetch refuses (outside Latin-1, control characters) are sent percent-encoded. */
function sendable(headers: Record<string, string>): Record<string, string> {
  const safe: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    safe[name] = /^[\x20-\x7e\x80-\xff]*$/.test(value) ? value.trim() : encodeURIComponent(wellFormed(value));
  }
  return safe;
}

/** Whether the query (or a form POST _search body) carries _format, %-encoded or not. */
function asksForFormat(request: FuzzRequest): boolean {
  const text = `${request.path}&${request.path.includes('/_search') ? String(request.body ?? '') : ''}`;
  const decoded = text.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return decoded.includes('_format');
}

/** Type/id from a Location or fullUrl below the base. */
function locate(url: string | undefined, base: string): { type: string; id: string; version?: string } | undefined {
  if (!url) return undefined;
  const relative = url.startsWith(base) ? url.slice(base.length) : url;
  const match = /^\/?([A-Za-z]+)\/([^/?]+)(?:\/_history\/([^/?]+))?$/.exec(relative);
  return match ? { type: match[1]!, id: match[2]!, version: match[3] } : undefined;
}

class Violation extends Error {
  constructor(why: string, request: FuzzRequest, answer: Answer | undefined, log: string) {
    super([
      `INVARIANT BROKEN: ${why}`,
      `request: ${describeRequest(request)}`,
      answer
        ? `answer: ${answer.status} ${answer.headers.get('content-type') ?? ''}\n  ${clip(answer.text, 3000)}`
        : 'answer: none',
      log ? `Orthanc log meanwhile:\n${clip(log, 3000)}` : '',
    ].filter((line) => line !== '').join('\n'));
    this.name = 'Violation';
  }
}

/** Sends requests to the real Orthanc and checks every invariant after each one. */
class Harness {
  baseline!: Snapshot;
  statuses = new Map<string, number>();
  requests = 0;

  constructor(readonly orthanc: Orthanc, readonly context: FuzzContext) {}

  private logSize(): number {
    try {
      return statSync(this.orthanc.logFile).size;
    } catch {
      return 0;
    }
  }

  private logSince(offset: number): string {
    try {
      return readFileSync(this.orthanc.logFile).subarray(offset).toString('utf8')
        .split('\n').filter((line) => /^[EW]\d{4}/.test(line) && !/HttpServer|main\.cpp/.test(line)).join('\n');
    } catch {
      return '';
    }
  }

  private alive(): boolean {
    try {
      process.kill(this.orthanc.pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  async send(request: FuzzRequest): Promise<Answer> {
    const url = `${this.orthanc.fhirUrl}${request.path}`;
    const response = await fetch(url, {
      method: request.method,
      headers: sendable(request.headers),
      body: request.method === 'GET' || request.method === 'DELETE' ? undefined : request.body,
    });
    const text = await response.text();
    let json: Obj | undefined;
    try {
      json = text === '' ? undefined : (JSON.parse(text) as Obj);
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, text, json };
  }

  private async get(path: string): Promise<Answer> {
    return this.send({ method: 'GET', path, headers: {} });
  }

  async snapshot(): Promise<Snapshot> {
    const [serviceRequests, tasks, patients, sentinelTask, sentinelPatient] = await Promise.all([
      this.get('/ServiceRequest/_history?_count=0'),
      this.get('/Task/_history?_count=0'),
      this.get('/Patient?_summary=count'),
      this.get(`/Task/${this.context.taskId}`),
      this.get(`/Patient/${this.context.patientId}`),
    ]);
    for (const answer of [serviceRequests, tasks, patients]) {
      if (answer.status !== 200 || typeof answer.json?.total !== 'number') {
        throw new Error(`cannot read the data totals: ${answer.status} ${clip(answer.text)}`);
      }
    }
    return {
      serviceRequests: serviceRequests.json!.total,
      tasks: tasks.json!.total,
      patients: patients.json!.total,
      sentinelTask: { status: sentinelTask.status, body: sentinelTask.json ?? sentinelTask.text },
      sentinelPatient: { status: sentinelPatient.status, body: sentinelPatient.json ?? sentinelPatient.text },
    };
  }

  /** Sends one fuzzed request and checks every invariant; throws a Violation naming the request and the answer. */
  async exchange(request: FuzzRequest): Promise<Answer> {
    const before = this.baseline;
    const offset = this.logSize();
    this.requests++;
    let answer: Answer;
    try {
      answer = await this.send(request);
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause;
      throw new Violation(
        `no answer (${String(error)}${cause?.code ? `, ${cause.code}` : ''}); Orthanc process ${this.alive() ? 'still alive' : 'GONE (crashed)'}`,
        request, undefined, this.logSince(offset),
      );
    }
    let after: Snapshot | undefined;
    try {
      after = await this.check(request, answer, before, offset);
    } finally {
      // Whatever happened, the next request (a shrinking replay included) compares with the data as it is now.
      this.baseline = after ?? await this.snapshot().catch(() => before); // Orthanc gone: the violation says so
    }
    return answer;
  }

  private async check(request: FuzzRequest, answer: Answer, before: Snapshot, offset: number): Promise<Snapshot> {
    const fail = (why: string): never => {
      throw new Violation(why, request, answer, this.logSince(offset));
    };
    const key = String(answer.status);
    this.statuses.set(key, (this.statuses.get(key) ?? 0) + 1);

    if (answer.status >= 500) {
      const now = await this.snapshot();
      const changed = isDeepStrictEqual(before, now) ? 'the stored data is unchanged' : `AND THE STORED DATA CHANGED:\n  before: ${clip(JSON.stringify(before))}\n  after:  ${clip(JSON.stringify(now))}`;
      fail(`status ${answer.status} (${changed})`);
    }
    this.checkForm(request, answer, fail);

    const after = await this.snapshot();
    const isWrite = (request.method === 'POST' || request.method === 'PUT' || request.method === 'DELETE') && !request.path.includes('/_search');
    if (answer.status >= 400 || !isWrite) {
      if (!isDeepStrictEqual(before, after)) {
        fail(`the request was ${answer.status >= 400 ? 'rejected' : 'a read'} but the stored data changed:\n  before: ${clip(JSON.stringify(before))}\n  after:  ${clip(JSON.stringify(after))}`);
      }
    } else if (answer.json?.resourceType === 'Bundle' && request.path.split('?')[0] === '') {
      await this.checkAcceptedBundle(answer, before, after, fail);
    } else {
      await this.checkAcceptedWrite(request, answer, before, after, fail);
    }
    return after;
  }

  /** JSON everywhere; an OperationOutcome for errors; 405 without a body but with Allow. */
  private checkForm(request: FuzzRequest, answer: Answer, fail: (why: string) => never): void {
    if (answer.status === 405) {
      if (!answer.headers.get('allow') && answer.headers.get('allow') !== '') fail('405 without an Allow header');
      if (answer.text !== '' && answer.json?.resourceType !== 'OperationOutcome') fail('405 with a body that is not an OperationOutcome');
      return;
    }
    if (answer.text === '') {
      const minimal = /return=minimal/.test(request.headers.prefer ?? '');
      if (!(answer.status === 204 || (minimal && answer.status < 300))) fail('an empty answer');
      return;
    }
    const contentType = answer.headers.get('content-type') ?? '';
    if (contentType.startsWith('text/html') && asksForFormat(request)) return; // HTML asked for with _format
    if (!contentType.startsWith(FHIR_JSON)) fail(`content-type ${contentType}, not ${FHIR_JSON}`);
    if (answer.json === undefined || typeof answer.json !== 'object' || Array.isArray(answer.json)) fail('the body is not a JSON object');
    if (typeof answer.json!.resourceType !== 'string') fail('the body is not a resource');
    if (answer.status >= 400) {
      if (answer.json!.resourceType !== 'OperationOutcome') fail(`a ${answer.status} whose body is not an OperationOutcome`);
      const issues = answer.json!.issue;
      if (!Array.isArray(issues) || issues.length === 0 || !issues.every((i: Obj) => typeof i?.severity === 'string' && typeof i?.code === 'string')) {
        fail('an OperationOutcome without well-formed issues');
      }
    }
    if (answer.json!.resourceType === 'Bundle' && Array.isArray(answer.json!.entry)) {
      answer.json!.entry.forEach((entry: Obj, index: number) => {
        const status = entry?.response?.status;
        if (status === undefined) return; // searchset and history entries
        const code = Number(/^(\d{3})/.exec(String(status))?.[1]);
        if (!(code >= 100)) fail(`Bundle.entry[${index}].response.status ${JSON.stringify(status)} is not a status`);
        if (code >= 500) fail(`Bundle.entry[${index}] answered ${status}`);
        if (code >= 400 && entry.response.outcome?.resourceType !== 'OperationOutcome') {
          fail(`Bundle.entry[${index}] answered ${status} without an OperationOutcome`);
        }
      });
    }
  }

  private async readBack(url: string, fail: (why: string) => never): Promise<Obj> {
    const absolute = url.startsWith('http') ? url : `${this.orthanc.fhirUrl}/${url.replace(/^\//, '')}`;
    const relative = absolute.startsWith(this.orthanc.fhirUrl) ? absolute.slice(this.orthanc.fhirUrl.length) : fail(`the location ${url} is not on this server`);
    const answer = await this.get(relative);
    if (answer.status !== 200 || !answer.json) fail(`the accepted write does not read back: GET ${relative} answered ${answer.status} ${clip(answer.text)}`);
    return answer.json!;
  }

  /** A 2xx create or update: the resource reads back as answered; totals move by at most one write. */
  private async checkAcceptedWrite(request: FuzzRequest, answer: Answer, before: Snapshot, after: Snapshot, fail: (why: string) => never): Promise<void> {
    if (answer.status !== 200 && answer.status !== 201) fail(`an accepted write answered ${answer.status}`);
    const type = request.path.split('?')[0]!.split('/')[1]!;
    const body = answer.json;
    if (body?.resourceType === type && typeof body.id === 'string') {
      const read = await this.readBack(`${type}/${body.id}`, fail);
      if (!isDeepStrictEqual(read, body)) {
        fail(`the accepted write reads back differently:\n  answered: ${clip(JSON.stringify(body))}\n  read:     ${clip(JSON.stringify(read))}`);
      }
    } else {
      // Prefer: return=minimal or return=OperationOutcome: the Location names the version written
      // (read, not vread: Patient has no vread).
      const location = answer.headers.get('location') ?? undefined;
      const where = locate(location, this.orthanc.fhirUrl);
      if (!where || where.type !== type) fail(`an accepted write without its resource nor a Location (${location})`);
      const current = await this.readBack(`${type}/${where!.id}`, fail);
      if (where!.version !== undefined && current.meta?.versionId !== where!.version) {
        fail(`the Location names version ${where!.version} but ${type}/${where!.id} reads back at version ${current.meta?.versionId}`);
      }
    }
    const delta = { ServiceRequest: after.serviceRequests - before.serviceRequests, Task: after.tasks - before.tasks } as Record<string, number>;
    for (const [counted, change] of Object.entries(delta)) {
      const expected = counted !== type ? [0] : answer.status === 201 ? [1] : [0, 1];
      if (!expected.includes(change)) fail(`the ${counted} history grew by ${change} after an accepted ${type} write (${answer.status})`);
    }
    if (type !== 'Task' && !isDeepStrictEqual(before.sentinelTask, after.sentinelTask)) fail('a write of another type changed the sentinel Task');
    if (type !== 'Patient' && (before.patients !== after.patients || !isDeepStrictEqual(before.sentinelPatient, after.sentinelPatient))) {
      fail('a write of another type changed the Patients');
    }
  }

  /** A 200 batch-response or transaction-response: written entries read back; totals move by what the entries say. */
  private async checkAcceptedBundle(answer: Answer, before: Snapshot, after: Snapshot, fail: (why: string) => never): Promise<void> {
    const base = this.orthanc.fhirUrl;
    const bundle = answer.json!;
    if (bundle.type !== 'batch-response' && bundle.type !== 'transaction-response') fail(`a 200 to a Bundle POST of type ${bundle.type}`);
    const entries: Obj[] = Array.isArray(bundle.entry) ? bundle.entry : [];
    const written = entries.map((entry) => locate(entry?.response?.location, base));
    const keys = written.filter((w) => w !== undefined).map((w) => `${w!.type}/${w!.id}`);
    for (const [index, entry] of entries.entries()) {
      const where = written[index];
      if (!where || !/^2/.test(String(entry.response?.status))) continue;
      if (keys.filter((key) => key === `${where.type}/${where.id}`).length > 1) continue; // written twice in the Bundle
      const read = await this.readBack(`${where.type}/${where.id}`, fail);
      if (where.version !== undefined && read.meta?.versionId !== where.version) {
        fail(`Bundle.entry[${index}] names version ${where.version} but ${where.type}/${where.id} reads back at version ${read.meta?.versionId}`);
      }
      // With Prefer: return=OperationOutcome the entry carries an outcome instead of the resource.
      if (entry.resource?.resourceType === where.type && !isDeepStrictEqual(read, entry.resource)) {
        fail(`Bundle.entry[${index}] reads back differently:\n  answered: ${clip(JSON.stringify(entry.resource))}\n  read:     ${clip(JSON.stringify(read))}`);
      }
    }
    // Entries that may have written, by type: the ones with a 2xx and a location or an etag.
    const created = { ServiceRequest: 0, Task: 0 } as Record<string, number>;
    const mayWrite = { ServiceRequest: 0, Task: 0 } as Record<string, number>;
    for (const [index, entry] of entries.entries()) {
      if (!/^2/.test(String(entry?.response?.status))) continue;
      if (!entry.response.location && !entry.response.etag) continue; // reads and no-op deletes
      const type = written[index]?.type ?? undefined;
      if (type === undefined) {
        if (entry.response.etag && !entry.response.location) {
          // A delete: its type is not in the answer; count it for both.
          mayWrite.ServiceRequest!++;
          mayWrite.Task!++;
          continue;
        }
        return; // a nested Bundle or some other write we cannot attribute: no total check
      }
      if (type in mayWrite) {
        mayWrite[type]!++;
        if (String(entry.response.status).startsWith('201')) created[type]!++;
      }
    }
    const delta = { ServiceRequest: after.serviceRequests - before.serviceRequests, Task: after.tasks - before.tasks } as Record<string, number>;
    for (const type of ['ServiceRequest', 'Task']) {
      if (delta[type]! < created[type]! || delta[type]! > mayWrite[type]!) {
        fail(`the ${type} history grew by ${delta[type]} but the Bundle's answer accounts for ${created[type]} to ${mayWrite[type]} writes`);
      }
    }
  }
}

/** Runs a property with fast-check, bounded in runs and time; on failure, the report names the seed to reproduce it. */
async function fuzz<T>(
  harness: Harness,
  name: string,
  seed: number,
  numRuns: number,
  arbitrary: fc.Arbitrary<T>,
  run: (value: T) => Promise<void>,
): Promise<void> {
  harness.statuses.clear();
  const requestsBefore = harness.requests;
  const started = Date.now();
  // fast-check's time limit does not wait for the run in flight: its requests
  // would land during the next property and break its before/after check.
  let inFlight: Promise<unknown> = Promise.resolve();
  const details = await fc.check(fc.asyncProperty(arbitrary, async (value) => {
    const running = run(value);
    inFlight = running.catch(() => undefined);
    await running;
  }), { numRuns, seed, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false });
  await inFlight;
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const statuses = [...harness.statuses.entries()].sort().map(([status, n]) => `${status}:${n}`).join(' ');
  console.log(`      [fuzz] ${name}: ${details.numRuns} runs${details.interrupted ? ' (interrupted by the time limit)' : ''}, `
    + `${harness.requests - requestsBefore} requests in ${seconds} s; statuses ${statuses}`);
  if (details.failed) {
    const report = await fc.asyncDefaultReportMessage(details);
    const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    throw new Error(`Property "${name}" failed. Reproduce with FUZZ_SEED=${SEED} (this property's fast-check seed: ${details.seed}, `
      + `path: ${details.counterexamplePath ?? 'n/a'}).\n${error}\n\n${report}`);
  }
}

describe('orders fuzz: random JSON and FHIR-like resources never get a 5xx nor change data when rejected', function () {
  this.timeout(300000);
  let orthanc: Orthanc;
  let harness: Harness;
  let context: FuzzContext;
  let counter = 0;
  const next = () => `${Date.now().toString(36)}-${++counter}`;

  before(async () => {
    orthanc = await Orthanc.start({ fhir: { Enable: true, MaxBodySize: MAX_BODY_SIZE } });
    const post = async (type: string, body: unknown): Promise<Obj> => {
      const response = await fetch(`${orthanc.fhirUrl}/${type}`, { method: 'POST', headers: { 'content-type': FHIR_JSON }, body: JSON.stringify(body) });
      expect(response.status, `creating the sentinel ${type}`).to.be.oneOf([200, 201]);
      return (await response.json()) as Obj;
    };
    const p = await post('Patient', patient('FZ-SENTINEL', 'Sentinel', 'Fuzz'));
    const sr = await post('ServiceRequest', serviceRequest(`Patient/${p.id}`, 'FZ-SENTINEL'));
    const t = await post('Task', task(`ServiceRequest/${sr.id}`, `Patient/${p.id}`));
    expect(p.id).to.equal(orthancPatientId('FZ-SENTINEL'));
    context = { taskId: t.id, serviceRequestId: sr.id, patientId: p.id };
    harness = new Harness(orthanc, context);
    harness.baseline = await harness.snapshot();
    console.log(`      [fuzz] seed ${SEED} (FUZZ_SEED), scale ${SCALE} (FUZZ_SCALE); Orthanc pid ${orthanc.pid}`);
  });

  after(async () => orthanc?.dispose());

  it('random JSON bodies POSTed and PUT to /fhir/ServiceRequest, /fhir/Task, /fhir/Patient and /fhir/Task/<existing id>', async () => {
    const target = fc.constantFrom<[string, string]>(
      ['POST', '/ServiceRequest'], ['POST', '/Task'], ['POST', '/Patient'], ['PUT', `/Task/${context.taskId}`],
      ['PUT', `/ServiceRequest/${context.serviceRequestId}`], ['PUT', `/Patient/${context.patientId}`], ['PUT', '/Task/fz-json'],
      ['PUT', '/ServiceRequest'], ['PUT', '/Task'], ['PUT', '/Patient'], ['POST', `/Task/${context.taskId}`], ['DELETE', '/Patient'],
    );
    const body: fc.Arbitrary<BodySpec> = fc.oneof(
      { weight: 3, arbitrary: fuzzJson.map((value): BodySpec => ({ kind: 'json', value })) },
      { weight: 5, arbitrary: fuzzResource.map((value): BodySpec => ({ kind: 'json', value })) },
      { weight: 1, arbitrary: deepOrHugeBody },
    );
    await fuzz(harness, 'random JSON to type and instance endpoints', SEED + 1, runs(500),
      fc.record({ target, body, headers: writeHeaders, sameId: fc.boolean() }),
      async ({ target: [method, path], body: spec, headers, sameId }) => {
        // Half of the time the body's id is the URL's, so that updates get past the id check.
        let bodySpec = spec;
        const id = path.split('/')[2];
        if (sameId && id && spec.kind === 'json' && spec.value !== null && typeof spec.value === 'object' && !Array.isArray(spec.value)) {
          bodySpec = { kind: 'json', value: { ...spec.value, id } };
        }
        await harness.exchange({ method, path, headers: { 'content-type': FHIR_JSON, ...headers }, body: bodyBytes(bodySpec) });
      });
  });

  it('random batch and transaction Bundles (random entries) POSTed to /fhir', async () => {
    const body: fc.Arbitrary<BodySpec> = fc.oneof(
      { weight: 8, arbitrary: fuzzBundle(context).map((value): BodySpec => ({ kind: 'json', value })) },
      { weight: 1, arbitrary: fuzzJson.map((value): BodySpec => ({ kind: 'json', value })) },
      { weight: 1, arbitrary: deepOrHugeBody },
    );
    await fuzz(harness, 'random Bundles to the base', SEED + 2, runs(500),
      fc.record({ body, headers: writeHeaders, method: fc.constantFrom('POST', 'POST', 'POST', 'POST', 'PUT') }),
      async ({ body: spec, headers, method }) => {
        await harness.exchange({ method, path: '', headers: { 'content-type': FHIR_JSON, ...headers }, body: bodyBytes(spec) });
      });
  });

  it('random raw bytes and truncated JSON sent as application/fhir+json', async () => {
    const valid: Json[] = [
      serviceRequest(`Patient/${context.patientId}`, 'FZ-RAW'), task(`ServiceRequest/${context.serviceRequestId}`, `Patient/${context.patientId}`),
      patient('FZ-RAW'), orderTransaction('FZ-RAW', 'FZ-RAW-A'),
    ];
    const target = fc.constantFrom<[string, string]>(
      ['POST', '/ServiceRequest'], ['POST', '/Task'], ['POST', '/Patient'], ['PUT', `/Task/${context.taskId}`], ['POST', ''],
      ['PUT', `/Patient/${context.patientId}`],
    );
    const contentType = fc.constantFrom(
      FHIR_JSON, FHIR_JSON, FHIR_JSON, `${FHIR_JSON}; charset=utf-8`, 'application/json', `${FHIR_JSON};charset=iso-8859-1`,
      'text/plain', 'application/x-www-form-urlencoded', 'application/fhir+xml', '',
    );
    await fuzz(harness, 'raw bytes and truncated JSON', SEED + 3, runs(300),
      fc.record({ target, body: brokenBody(valid), contentType }),
      async ({ target: [method, path], body, contentType: type }) => {
        await harness.exchange({ method, path, headers: type === '' ? {} : { 'content-type': type }, body: bodyBytes(body) });
      });
  });

  it('random query strings on searches and histories (names, modifiers, prefixes, commas, pipes, %-encodings)', async () => {
    await fuzz(harness, 'random search query strings', SEED + 4, runs(500),
      fc.record({ path: searchPaths(context), query: queryString, viaPost: fc.boolean(), lenient: fc.boolean() }),
      async ({ path, query, viaPost, lenient }) => {
        const headers: Record<string, string> = lenient ? { prefer: 'handling=lenient' } : {};
        const isType = /^\/[A-Za-z]+$/.test(path);
        if (viaPost && isType) {
          await harness.exchange({ method: 'POST', path: `${path}/_search`, headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, body: query });
        } else {
          await harness.exchange({ method: 'GET', path: `${path}?${query}`, headers });
        }
      });
  });

  it('mutated valid ServiceRequests, Tasks and Patients, created and updated (some accepted, most rejected)', async () => {
    const accepted = { n: 0 };
    const rejected = { n: 0 };
    await fuzz(harness, 'mutated resources', SEED + 5, runs(600),
      fc.record({
        type: fc.constantFrom('ServiceRequest', 'Task', 'Patient'),
        via: fc.constantFrom('create', 'create', 'update-existing', 'update-new'),
        mutations: fc.array(mutation, { maxLength: 3 }),
        headers: writeHeaders,
      }),
      async ({ type, via, mutations, headers }) => {
        const n = next();
        const patientId = via === 'update-existing' ? 'FZ-SENTINEL' : `FZ-P-${n}`;
        const base: Obj = type === 'ServiceRequest'
          ? serviceRequest(`Patient/${context.patientId}`, `FZ-A-${n}`)
          : type === 'Task'
            ? task(`ServiceRequest/${context.serviceRequestId}`, `Patient/${context.patientId}`)
            : patient(patientId, 'Fuzz', 'Mutant');
        let path = `/${type}`;
        if (via !== 'create') {
          const id = type === 'Patient' ? orthancPatientId(patientId)
            : via === 'update-existing' ? (type === 'Task' ? context.taskId : context.serviceRequestId) : `fz-${n}`;
          base.id = id;
          path = `/${type}/${id}`;
        }
        const body = mutate(base as Json, mutations as Mutation[]);
        const answer = await harness.exchange({ method: via === 'create' ? 'POST' : 'PUT', path, headers: { 'content-type': FHIR_JSON, ...headers }, body: bodyBytes({ kind: 'json', value: body }) });
        (answer.status < 300 ? accepted : rejected).n++;
      });
    console.log(`      [fuzz] mutated resources: ${accepted.n} accepted, ${rejected.n} rejected`);
    expect(accepted.n, 'some mutated resources are accepted').to.be.greaterThan(0);
    expect(rejected.n, 'most mutated resources are rejected').to.be.greaterThan(accepted.n);
  });

  it('mutated RIS transactions and batches (Patient + ServiceRequest + Task, urn:uuid links, extra entries)', async () => {
    const extra = fc.constantFrom('put-sentinel', 'delete-new', 'get-search', 'post-task', 'put-new-task');
    await fuzz(harness, 'mutated transactions and batches', SEED + 6, runs(500),
      fc.record({
        type: fc.constantFrom('transaction', 'transaction', 'batch'),
        extras: fc.array(extra, { maxLength: 2 }),
        mutations: fc.array(mutation, { maxLength: 3 }),
        headers: writeHeaders,
      }),
      async ({ type, extras, mutations, headers }) => {
        const n = next();
        const bundle: Obj = orderTransaction(`FZ-TX-${n}`, `FZ-TXA-${n}`);
        bundle.type = type;
        const ref = { patient: `Patient/${context.patientId}`, sr: `ServiceRequest/${context.serviceRequestId}` };
        for (const kind of extras) {
          if (kind === 'put-sentinel') {
            bundle.entry.push({ resource: { ...task(ref.sr, ref.patient, { status: 'accepted' }), id: context.taskId }, request: { method: 'PUT', url: `Task/${context.taskId}` } });
          } else if (kind === 'delete-new') {
            bundle.entry.push({ request: { method: 'DELETE', url: `Task/fz-gone-${n}` } });
          } else if (kind === 'get-search') {
            bundle.entry.push({ request: { method: 'GET', url: `Task?based-on=${ref.sr}&_count=1` } });
          } else if (kind === 'post-task') {
            bundle.entry.push({ resource: task(ref.sr, ref.patient), request: { method: 'POST', url: 'Task' } });
          } else {
            bundle.entry.push({ resource: { ...task(ref.sr, ref.patient), id: `fz-tx-${n}` }, request: { method: 'PUT', url: `Task/fz-tx-${n}` } });
          }
        }
        const body = mutate(bundle as Json, mutations as Mutation[]);
        await harness.exchange({ method: 'POST', path: '', headers: { 'content-type': FHIR_JSON, ...headers }, body: bodyBytes({ kind: 'json', value: body }) });
      });
  });

  describe('counterexamples the fuzz found (kept as regressions, one per cause)', () => {
    const exchange = (body: string) => harness.exchange({ method: 'POST', path: '', headers: { 'content-type': FHIR_JSON }, body });
    const bundle = (type: string, ...entry: Obj[]) => JSON.stringify({ resourceType: 'Bundle', type, entry });
    /** Sends every body, then fails with all the violations (not only the first). */
    async function all(bodies: string[]): Promise<void> {
      const violations: string[] = [];
      for (const body of bodies) {
        try {
          await exchange(body);
        } catch (error) {
          violations.push((error as Error).message);
        }
      }
      if (violations.length > 0) throw new Error(`${violations.length} of ${bodies.length} requests broke an invariant:\n\n${violations.join('\n\n')}`);
    }

    it('a transaction POSTing a Patient with a malformed identifier is a 4xx (422 like a plain POST), not a 500', async () => {
      const post = (resource: Obj) => bundle('transaction', { request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient', ...resource } });
      await all([
        post({ identifier: {} }),
        post({ identifier: [null] }),
        post({ identifier: [{ type: { coding: {} }, value: 'FZ-R1' }] }),
        post({ identifier: [{ value: 5 }] }),
        post({ identifier: [{ value: ['FZ-R1'] }] }),
      ]);
    });

    it('a batch or transaction entry whose url has a malformed %-encoding is a 400, not a 500', async () => {
      await all([
        bundle('transaction', { request: { method: 'GET', url: 'Task/%zz' } }),
        bundle('batch', { request: { method: 'GET', url: 'Task/%zz' } }),
        bundle('batch', { request: { method: 'GET', url: '%' } }),
      ]);
    });

    it('a transaction entry nesting 40 000 levels deep (80 kB) is a 422 (as the same resource POSTed alone), not a 500', async () => {
      await all([bodyBytes({ kind: 'deep', depth: 40000, container: 'array', resourceType: 'Task', place: 'transaction' }) as string]);
    });
  });

  describe('at the end', () => {
    it('leaves Orthanc alive, serving, and without a crash in its log', async () => {
      expect(() => process.kill(orthanc.pid, 0), 'the Orthanc process').not.to.throw();
      const system = await fetch(`${orthanc.url}/system`);
      expect(system.status).to.equal(200);
      const metadata = await fetch(`${orthanc.fhirUrl}/metadata`);
      expect(metadata.status).to.equal(200);
      expect(((await metadata.json()) as Obj).resourceType).to.equal('CapabilityStatement');
      const log = orthanc.log();
      const crashes = log.split('\n').filter((line) =>
        /restarting the JavaScript environment|did not stop in time|Segmentation fault|terminate called|Aborted|core dumped|std::bad_alloc|FATAL|request failed/i.test(line));
      expect(crashes, 'crash lines in the Orthanc log').to.deep.equal([]);
      // Handler failures are 500s, which the properties above report with their request; listed here for the record.
      const failures = log.split('\n').filter((line) => /FHIR: .* failed: /.test(line));
      if (failures.length > 0) console.log(`      [fuzz] ${failures.length} handler failure(s) in the log, e.g.\n        ${failures.slice(0, 5).map((l) => clip(l, 300)).join('\n        ')}`);
      expect(harness.requests, 'fuzzed requests sent').to.be.greaterThan(100);
    });
  });
});
