// Two Orthancs, one FHIR state: a real PostgreSQL server (a throw-away
// cluster made here), two real Orthancs with Debian's PostgreSQL index
// plugin and one shared storage folder, both with this plugin on its
// PostgreSQL store (the connection of Orthanc's own "PostgreSQL" section).
// Writes through one are seen by the other at once; races between them are
// settled by the database; an Orthanc killed, or PostgreSQL restarting,
// loses nothing acknowledged.
import { expect } from 'chai';
import { Client } from 'pg';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDicomFiles, newUid, storescu } from '../support/dicom';
import { Orthanc } from '../support/orthanc';
import { orderTransaction, patient, serviceRequest, task } from '../support/orders';
import { POSTGRESQL_INDEX_PLUGIN, PostgresCluster } from '../support/postgres';
import { findWorklist } from '../support/worklist';
import { Receiver, statusOf } from '../support/receiver';

type Json = Record<string, any>;

const REQUEST_TIMEOUT_S = 10;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Answer {
  status: number;
  body?: Json;
  headers: Headers;
  ms: number;
}

/** One HTTP request; a connection failure (a killed Orthanc) is status 0. */
async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const started = Date.now();
  try {
    const response = await fetch(url, { ...init, headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json', ...init.headers } });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Json) : undefined, headers: response.headers, ms: Date.now() - started };
  } catch {
    return { status: 0, headers: new Headers(), ms: Date.now() - started };
  }
}

const post = (base: string, type: string, body: unknown, headers: Record<string, string> = {}) =>
  call(type ? `${base}/${type}` : base, { method: 'POST', body: JSON.stringify(body), headers });
const put = (base: string, type: string, id: string, body: unknown, headers: Record<string, string> = {}) =>
  call(`${base}/${type}/${id}`, { method: 'PUT', body: JSON.stringify(body), headers });
const get = (base: string, path: string) => call(`${base}/${path}`);

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe('several Orthancs on one PostgreSQL', function () {
  this.timeout(300000);
  let cluster: PostgresCluster;
  let storage: string;
  let a: Orthanc;
  let b: Orthanc;
  let patientRef: string;
  let receiver: Receiver;
  const STUDIES_BEFORE = 12;

  const start = (name: string, fhir: Json = {}) => Orthanc.start({
    fhir: { Enable: true, Store: 'PostgreSQL', RequestTimeout: REQUEST_TIMEOUT_S, Worklist: { Enable: true },
      Subscriptions: { AllowedEndpoints: [`${receiver.url}/`], MaxRetryInterval: 2 }, ...fhir },
    extraPlugins: [POSTGRESQL_INDEX_PLUGIN],
    extra: { PostgreSQL: cluster.orthancIndexConfig(), DatabaseServerIdentifier: name, DicomAlwaysAllowFindWorklist: true, StableAge: 1 },
    storageDir: storage,
  });

  before(async () => {
    receiver = await Receiver.start();
    cluster = await PostgresCluster.start();
    storage = mkdtempSync(join(tmpdir(), 'orthanc-fhir-shared-'));
    // Studies already in Orthanc before the plugin is enabled: its imaging index is built once, for both.
    const early = await start('early', { Enable: false });
    const uid = newUid();
    storescu(early.dicomPort, makeDicomFiles(Array.from({ length: STUDIES_BEFORE }, (_, i) => ({
      patientId: `EARLY-${i % 4}`, studyUid: `${uid}.${i}`, seriesUid: `${uid}.${i}.1`, modality: i % 3 === 0 ? 'MR' : 'CT', sopInstanceUid: newUid(),
    }))));
    await early.dispose();
    // At the same moment: the schema is made once, and one of them builds the imaging index.
    [a, b] = await Promise.all([start('A'), start('B')]);
    const created = await post(a.fhirUrl, 'Patient', patient('PG-1'));
    expect(created.status).to.equal(201);
    patientRef = `Patient/${created.body!.id}`;
  });

  after(async () => {
    await a?.dispose();
    await b?.dispose();
    await cluster?.dispose();
    await receiver?.close();
    if (storage && !process.env.ORTHANC_FHIR_KEEP) rmSync(storage, { recursive: true, force: true });
  });

  it('keeps its tables in a schema of their own, in the database of Orthanc\'s index', async () => {
    const tables = (await cluster.psql("SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_name IN ('versions', 'sp_token', 'resources') ORDER BY 1")).trim().split('\n');
    expect(tables).to.deep.equal(['fhir.sp_token', 'fhir.versions', 'public.resources']);
    // Migration 2 added the audit trail's table (#12), 3 the Subscriptions' queue (#13).
    expect((await cluster.psql('SELECT version FROM fhir.schema_version')).trim()).to.equal('3');
    expect((await cluster.psql("SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_name = 'audit_event'")).trim()).to.equal('fhir.audit_event');
  });

  it('builds the imaging index of the studies already there once, for both', async () => {
    for (const orthanc of [a, b]) {
      await until('every early study searchable', async () => {
        const found = await get(orthanc.fhirUrl, 'ImagingStudy?_summary=count');
        return found.body?.total === STUDIES_BEFORE ? true : undefined;
      });
    }
    const modality = await get(b.fhirUrl, 'ImagingStudy?modality=MR&_count=100');
    expect(modality.body!.entry).to.have.length(STUDIES_BEFORE / 3);
    // Until the index is complete, searches read Orthanc live (the same answers): wait for it.
    const built = () => [a, b].filter((o) => /imaging search index complete/.test(o.log()));
    await until('the imaging index built', async () => (built().length > 0 ? true : undefined));
    await sleep(2000);
    expect(built(), 'Orthancs that built the index').to.have.length(1);
    expect([a, b].filter((o) => /building the imaging search index/.test(o.log())), 'Orthancs that began building').to.have.length(1);
    expect((await cluster.psql("SELECT count(*) FROM fhir.sp_resource WHERE type = 'ImagingStudy'")).trim()).to.equal(String(STUDIES_BEFORE));
  });

  it('a RIS order through A is in B\'s worklist; the study stored to B completes its Task once, linked, read through A', async () => {
    const bundle = await post(a.fhirUrl, '', orderTransaction('PG-RIS', 'PGACC-1'));
    expect(bundle.status).to.equal(200);
    const [, requestEntry, taskEntry] = bundle.body!.entry as Json[];
    const idIn = (entry: Json) => /\/(?:ServiceRequest|Task)\/([^/]+)\/_history\//.exec(entry.response.location)![1]!;
    const requestId = idIn(requestEntry);
    const taskId = idIn(taskEntry);
    // At once, through the other Orthanc: read, search, history and worklist.
    expect((await get(b.fhirUrl, `ServiceRequest/${requestId}`)).status).to.equal(200);
    expect((await get(b.fhirUrl, 'ServiceRequest?identifier=PGACC-1')).body!.total).to.equal(1);
    expect((await get(b.fhirUrl, `Task/${taskId}/_history`)).body!.total).to.equal(1);
    const [item, ...others] = findWorklist(b.dicomPort, ['AccessionNumber=PGACC-1', 'StudyInstanceUID', 'PatientID', 'PatientName']);
    expect(others).to.have.length(0);
    expect(item!.PatientID).to.equal('PG-RIS');

    const uid = String(item!.StudyInstanceUID);
    storescu(b.dicomPort, makeDicomFiles([1, 2].map((n) => ({
      patientId: 'PG-RIS', patientName: String(item!.PatientName), studyUid: uid, accessionNumber: 'PGACC-1',
      seriesUid: `${uid}.1`, seriesNumber: 1, modality: 'CT', sopInstanceUid: newUid(), instanceNumber: n,
    }))));
    const completed = await until('the Task completed', async () => {
      const read = await get(a.fhirUrl, `Task/${taskId}`);
      return read.body?.status === 'completed' ? read.body : undefined;
    });
    const studyId = completed.output[0].valueReference.reference.split('/')[1];
    const study = await get(a.fhirUrl, `ImagingStudy/${studyId}`);
    expect(study.body!.basedOn).to.deep.equal([{ reference: `ServiceRequest/${requestId}` }]);
    // Both Orthancs follow the shared change log: give the other one time to (not) apply it again.
    await sleep(3000);
    const history = await get(b.fhirUrl, `Task/${taskId}/_history`);
    const statuses = (history.body!.entry as Json[]).map((e) => e.resource.status).reverse();
    expect(statuses).to.deep.equal(['requested', 'in-progress', 'completed']);
    expect(findWorklist(a.dicomPort, ['AccessionNumber=PGACC-1'])).to.have.length(0);
  });

  it('Subscriptions across A and B: each event queued once, numbered without gaps, delivered once by one of them', async () => {
    const p = (await post(a.fhirUrl, 'Patient', patient('PG-SUB'))).body!;
    const order = (await post(b.fhirUrl, 'ServiceRequest', serviceRequest(`Patient/${p.id}`, 'PGSUB-1'))).body!;
    const subscription = (path: string, topic: string, filterBy: Json[]) => ({
      resourceType: 'Subscription', status: 'requested', topic, endpoint: `${receiver.url}${path}`, content: 'id-only', filterBy,
      channelType: { system: 'http://terminology.hl7.org/CodeSystem/subscription-channel-type', code: 'rest-hook' },
    });
    expect((await post(a.fhirUrl, 'Subscription', subscription('/pg-tasks', 'urn:orthanc-fhir:topic:task', [{ filterParameter: 'patient', value: `Patient/${p.id}` }]))).status).to.equal(201);
    expect((await post(b.fhirUrl, 'Subscription', subscription('/pg-studies', 'urn:orthanc-fhir:topic:imaging-study', [{ filterParameter: 'identifier', value: 'PGSUB-STUDY' }]))).status).to.equal(201);
    await receiver.waitFor('/pg-tasks', (got) => got.length > 0);
    await receiver.waitFor('/pg-studies', (got) => got.length > 0);
    // 40 Tasks, written through A and B at once.
    const written = await Promise.all(Array.from({ length: 40 }, async (_, i) =>
      (await post(i % 2 === 0 ? a.fhirUrl : b.fhirUrl, 'Task', task(`ServiceRequest/${order.id}`, `Patient/${p.id}`))).body!.id as string));
    // A study stored to A: both Orthancs follow the shared change log; the page that tells of it is applied once.
    storescu(a.dicomPort, makeDicomFiles([{ patientId: 'PG-SUB', studyUid: newUid(), seriesUid: newUid(), sopInstanceUid: newUid(), modality: 'CT', accessionNumber: 'PGSUB-STUDY' }]));
    const numbered = (path: string) => {
      const seen = new Map<number, string>();
      for (const r of receiver.at(path)) {
        const status = statusOf(r.body);
        if (status.type !== 'event-notification') continue;
        for (const event of status.notificationEvent) seen.set(Number(event.eventNumber), `${event.focus.reference}`);
      }
      return seen;
    };
    await until('every Task event', async () => (numbered('/pg-tasks').size >= 40 ? true : undefined));
    await until('the study\'s create and stable events', async () => (numbered('/pg-studies').size >= 2 ? true : undefined));
    await sleep(3000); // time for a second delivery or a second queueing, were there one
    const tasks = numbered('/pg-tasks');
    expect([...tasks.keys()].sort((x, y) => x - y)).to.deep.equal(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(new Set([...tasks.values()].map((reference) => reference.split('/')[5]))).to.deep.equal(new Set(written));
    const studies = numbered('/pg-studies');
    expect([...studies.keys()].sort((x, y) => x - y)).to.deep.equal(Array.from({ length: studies.size }, (_, i) => i + 1));
    const creates = receiver.at('/pg-studies').flatMap((r) => r.body.entry.slice(1)).filter((e: Json) => e.request?.method === 'POST');
    expect(new Set(creates.map((e: Json) => e.fullUrl)).size).to.equal(1);
    expect(studies.size).to.be.at.most(3); // create, stable, and at most one update
  });

  it('applies a change Orthanc commits after later ones (a change number that was skipped), once', async () => {
    // What two Orthancs writing one index do: a transaction takes change number N, and commits after others took N+1...
    const held = new Client({ connectionString: cluster.connectionUri });
    await held.connect();
    try {
      await held.query('BEGIN');
      const n = Number((await held.query("SELECT nextval(pg_get_serial_sequence('changes', 'seq')) AS n")).rows[0].n);
      const uid = newUid();
      storescu(a.dicomPort, makeDicomFiles([{ patientId: 'PG-LATE', studyUid: uid, seriesUid: `${uid}.1`, modality: 'CT', sopInstanceUid: newUid() }]));
      const setting = async (key: string) => (await cluster.psql(`SELECT value FROM fhir.settings WHERE key = '${key}'`)).trim();
      await until('the plugins past the missing number', async () => (Number(await setting('orthanc-changes-seq')) > n ? true : undefined));
      expect(JSON.parse(await setting('orthanc-changes-gaps')).map((g: Json) => g.seq)).to.include(n);
      // ...then it commits: a change of that study, under the number skipped.
      await held.query(`INSERT INTO changes (seq, changeType, internalId, resourceType, date)
        SELECT $1, changeType, internalId, resourceType, date FROM changes WHERE seq > $1 AND resourceType = 1 ORDER BY seq LIMIT 1`, [n]);
      await held.query('COMMIT');
      await until('the late change applied', async () => ([a, b].some((o) => o.log().includes(`applied change ${n} (`)) ? true : undefined));
      expect(JSON.parse(await setting('orthanc-changes-gaps')).map((g: Json) => g.seq)).to.not.include(n);
      await sleep(2000);
      expect([a, b].map((o) => o.log().split(`applied change ${n} (`).length - 1).reduce((x, y) => x + y), 'times applied').to.equal(1);
    } finally {
      await held.end();
    }
  });

  async function newTask(accession: string): Promise<Json> {
    const request = await post(a.fhirUrl, 'ServiceRequest', serviceRequest(patientRef, accession));
    const created = await post(b.fhirUrl, 'Task', task(`ServiceRequest/${request.body!.id}`, patientRef));
    expect(created.status).to.equal(201);
    return created.body!;
  }

  it('50 concurrent If-Match updates split across A and B: exactly one wins', async () => {
    const original = await newTask('PG-IFMATCH');
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) =>
      put(i % 2 ? b.fhirUrl : a.fhirUrl, 'Task', original.id, { ...original, businessStatus: { text: `writer ${i}` } }, { 'if-match': 'W/"1"' })));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 200), statuses.join(' ')).to.have.length(1);
    expect(statuses.filter((s) => s === 412), statuses.join(' ')).to.have.length(49);
    const history = await get(a.fhirUrl, `Task/${original.id}/_history`);
    expect(history.body!.total).to.equal(2);
  });

  it('50 writers retrying on 412 through A and B: versions 2..51, no update lost', async () => {
    const original = await newTask('PG-RETRY');
    await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      const base = i % 2 ? b.fhirUrl : a.fhirUrl;
      for (let attempt = 0; attempt < 500; attempt++) {
        const current = (await get(base, `Task/${original.id}`)).body!;
        const note = [...(current.note ?? []), { text: `writer ${i}` }];
        const written = await put(base, 'Task', original.id, { ...current, note }, { 'if-match': `W/"${current.meta.versionId}"` });
        if (written.status === 200) return;
        expect(written.status, JSON.stringify(written.body)).to.equal(412);
      }
      throw new Error(`writer ${i} never got through`);
    }));
    const history = await get(b.fhirUrl, `Task/${original.id}/_history?_count=100`);
    const versions = (history.body!.entry as Json[]).map((e) => Number(e.resource.meta.versionId)).sort((x, y) => x - y);
    expect(versions).to.deep.equal(Array.from({ length: 51 }, (_, i) => i + 1));
    const final = (await get(a.fhirUrl, `Task/${original.id}`)).body!;
    expect((final.note as Json[]).map((n) => n.text).sort()).to.deep.equal(Array.from({ length: 50 }, (_, i) => `writer ${i}`).sort());
  });

  it('the same conditional create sent to A and B at the same moment stores one resource', async () => {
    for (let round = 0; round < 10; round++) {
      const accession = `PG-COND-${round}`;
      const body = serviceRequest(patientRef, accession);
      const answers = await Promise.all([a, b].map((o) => post(o.fhirUrl, 'ServiceRequest', body, { 'if-none-exist': `identifier=urn:oid:2.25.42|${accession}` })));
      expect(answers.map((r) => r.status).sort(), `round ${round}`).to.deep.equal([200, 201]);
      expect(answers[0]!.body!.id).to.equal(answers[1]!.body!.id);
      expect((await get(b.fhirUrl, `ServiceRequest?identifier=${accession}`)).body!.total).to.equal(1);
    }
  });

  /**
   * Creates ServiceRequests through both Orthancs, `workers` at a time, once
   * `acknowledgedAtLeast` of them are in (the load is going on), until stop():
   * every answer, and the ids acknowledged.
   */
  async function burst(workers: number, acknowledgedAtLeast: number) {
    let n = 0;
    let stopping = false;
    const answers: Answer[] = [];
    const acknowledged: string[] = [];
    const done = Promise.all(Array.from({ length: workers }, async (_, w) => {
      while (!stopping) {
        const target = (n++ + w) % 2 ? b : a;
        const answer = await post(target.fhirUrl, 'ServiceRequest', serviceRequest(patientRef, `PG-BURST-${n}`));
        answers.push(answer);
        if (answer.status === 201) acknowledged.push(answer.body!.id);
        if (answer.status !== 201) await sleep(20);
      }
    }));
    await until('writes going on', async () => (acknowledged.length >= acknowledgedAtLeast ? true : undefined));
    const stop = async () => {
      stopping = true;
      await done;
    };
    /** The answers whose status is none of `expected`, described. */
    const unexpected = (...expected: number[]) => answers.filter((r) => !expected.includes(r.status)).map((r) => `${r.status} ${JSON.stringify(r.body)}`);
    return { answers, acknowledged, stop, unexpected };
  }

  it('kill -9 of A during a burst of creates through A and B: every 201 reads back through B', async () => {
    const { answers, acknowledged, stop, unexpected } = await burst(8, 41);
    await a.stop('SIGKILL');
    await sleep(1000);
    await stop();
    expect(answers.filter((r) => r.status === 0).length, 'requests cut off by the kill').to.be.greaterThan(0);
    expect(unexpected(0, 201), unexpected(0, 201).join('\n')).to.deep.equal([]);
    for (const id of acknowledged) expect((await get(b.fhirUrl, `ServiceRequest/${id}`)).status, id).to.equal(200);
    await a.restart();
    expect((await get(a.fhirUrl, `ServiceRequest/${acknowledged.at(-1)}`)).status).to.equal(200);
  });

  it('PostgreSQL stopped and started under load: 503 during the outage, then every request succeeds, nothing acknowledged lost', async () => {
    const { answers, acknowledged, stop, unexpected } = await burst(4, 21);
    await cluster.stop('fast');
    const outageStarted = answers.length;
    await sleep(3000);
    await cluster.startAgain();
    const restarted = answers.length;
    // Service resumes by itself: within a few seconds every request succeeds again.
    await sleep(4000);
    const settled = answers.length;
    await until('writes after the restart', async () => (answers.length > settled + 40 ? true : undefined));
    await stop();

    const outage = answers.slice(outageStarted, restarted);
    expect(outage.filter((r) => r.status === 503).length, 'answers 503 during the outage').to.be.greaterThan(0);
    for (const r of outage.filter((x) => x.status === 503)) {
      expect(r.body!.resourceType).to.equal('OperationOutcome');
      expect(r.body!.issue[0].code).to.equal('transient');
    }
    expect(unexpected(201, 503), unexpected(201, 503).join('\n')).to.deep.equal([]);
    expect(Math.max(...answers.map((r) => r.ms)), 'slowest answer, ms').to.be.below(REQUEST_TIMEOUT_S * 1000);
    const after = answers.slice(settled);
    expect(after.filter((r) => r.status !== 201).map((r) => r.status), 'after the restart').to.deep.equal([]);
    for (const id of acknowledged) expect((await get(b.fhirUrl, `ServiceRequest/${id}`)).status, id).to.equal(200);
    // Orthanc itself served throughout: the process is the one started.
    expect((await fetch(`${a.url}/system`)).status).to.equal(200);
  });

  it('re-indexes the stored resources once when the index is outdated, both Orthancs answering 503 meanwhile, then the same', async () => {
    const before = (await get(a.fhirUrl, 'ServiceRequest?_summary=count')).body!.total;
    const tasks = (await get(a.fhirUrl, 'Task?status=requested&_summary=count')).body!.total;
    expect(before).to.be.greaterThan(50);
    await Promise.all([a.stop(), b.stop()]);
    // What an upgrade of the index tables does: the index version no longer matches.
    await cluster.psql("UPDATE fhir.settings SET value = '0' WHERE key = 'index-version'");
    await Promise.all([a.restart(), b.restart()]);
    for (const orthanc of [a, b]) {
      const total = await until('the re-index done', async () => {
        const answer = await get(orthanc.fhirUrl, 'ServiceRequest?_summary=count');
        if (answer.status === 503) expect(answer.headers.get('retry-after')).to.not.equal(null);
        else expect(answer.status).to.equal(200);
        return answer.status === 200 ? answer.body!.total : undefined;
      });
      expect(total).to.equal(before);
      expect((await get(orthanc.fhirUrl, 'Task?status=requested&_summary=count')).body!.total).to.equal(tasks);
    }
    const logs = [a, b].map((o) => o.log().match(/the \d+ stored resources are indexed/g)?.length ?? 0);
    expect(logs.reduce((x, y) => x + y), 'Orthancs that re-indexed').to.equal(1);
  });

  it('starts while PostgreSQL is down: 503 with a clear log line, then serves once it is up', async () => {
    await cluster.stop('fast');
    // Orthanc's own index in SQLite here: only the FHIR store waits for the database.
    const c = await Orthanc.start({ fhir: { Enable: true, Store: 'PostgreSQL', PostgreSQL: { ConnectionUri: cluster.connectionUri, Schema: 'fhir_c' } } });
    try {
      const answer = await get(c.fhirUrl, 'ServiceRequest');
      expect(answer.status).to.equal(503);
      expect(answer.body!.issue[0].code).to.equal('transient');
      expect(c.log()).to.match(/PostgreSQL store: cannot open postgresql:\/\/127\.0\.0\.1:\d+\/orthanc \(from "Fhir\.PostgreSQL"\), schema "fhir_c": .*retrying/);
      await cluster.startAgain();
      const served = await until('served after the database came up', async () => {
        const read = await get(c.fhirUrl, 'ServiceRequest');
        return read.status === 200 ? read : undefined;
      });
      expect(served.body!.resourceType).to.equal('Bundle');
      expect(c.log()).to.match(/PostgreSQL store: using .* schema "fhir_c"/);
    } finally {
      await c.dispose();
    }
  });
});
