// npx tsx bench/orders.ts: the cost of orders (ServiceRequest, Task) in the
// plugin's store, measured against native Orthanc in the same run.
//
// One Orthanc with the plugin, on a fresh temporary storage folder:
//  1. one Patient, then ORDERS orders in transactions of TX_PAIRS orders each.
//     An order is one ServiceRequest (the requested procedure) plus one Task
//     (its scheduled step, basedOn it), all for the one Patient. Then the
//     store's size (orthanc-fhir.sqlite + its -wal, live, and again after a
//     WAL checkpoint) per 10,000 orders, and the latency of
//     Task?status=requested&_count=50 with the store at ORDERS orders.
//  2. on top of that store, closed loop (CLIENTS keep-alive clients, SECONDS
//     each): native GET /system as the reference, POST /fhir/Task (every one a
//     durable commit: SQLite WAL, synchronous=FULL) and GET /fhir/Task/<id>
//     over the Tasks just created, with their ratios to /system.
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Orthanc } from '../test/support/orthanc';
import { patient, serviceRequest, task } from '../test/support/orders';
import { describe as line, load, type LoadResult } from './load';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ORDERS = Number(process.env.BENCH_ORDERS ?? 10000);
/** Orders per transaction: 25 orders = 50 entries. */
const TX_PAIRS = Number(process.env.BENCH_TX_PAIRS ?? 25);
const TX_CONCURRENCY = 2;
const FHIR_JSON = { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' };

type Json = Record<string, any>;

async function request(orthanc: Orthanc, method: string, path: string, body?: unknown): Promise<{ status: number; headers: Headers; body: Json }> {
  const response = await fetch(`${orthanc.url}${path}`, {
    method,
    headers: FHIR_JSON,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Json) : {} };
}

/** "http://host/fhir/Task/<id>/_history/1" -> "<id>" */
function idOf(location: string | null | undefined): string {
  const match = /\/([^/]+)\/([^/]+)\/_history\/[^/]+$/.exec(location ?? '');
  if (!match) throw new Error(`no id in Location '${location}'`);
  return match[2]!;
}

function orders(subject: string, first: number, count: number): Json {
  const entry: Json[] = [];
  for (let n = first; n < first + count; n++) {
    const sr = `urn:uuid:${randomUUID()}`;
    entry.push(
      { fullUrl: sr, resource: serviceRequest(subject, `ACC-${n}`), request: { method: 'POST', url: 'ServiceRequest' } },
      { resource: task(sr, subject), request: { method: 'POST', url: 'Task' } },
    );
  }
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

async function fill(orthanc: Orthanc, subject: string): Promise<number> {
  const started = Date.now();
  let next = 0;
  let done = 0;
  let reported = 0;
  await Promise.all(Array.from({ length: TX_CONCURRENCY }, async () => {
    while (next < ORDERS) {
      const first = next;
      const count = Math.min(TX_PAIRS, ORDERS - first);
      next += count;
      const answer = await request(orthanc, 'POST', '/fhir', orders(subject, first, count));
      const failed = (answer.body.entry as Json[] | undefined)?.find((e) => !String(e.response?.status).startsWith('201'));
      if (answer.status !== 200 || failed) {
        throw new Error(`transaction of orders ${first}..${first + count - 1}: ${answer.status} ${JSON.stringify(failed ?? answer.body).slice(0, 500)}`);
      }
      done += count;
      if (done - reported >= 2500) {
        reported = done;
        console.log(`  ${done} orders (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      }
    }
  }));
  return (Date.now() - started) / 1000;
}

async function total(orthanc: Orthanc, type: string): Promise<number> {
  const answer = await request(orthanc, 'GET', `/fhir/${type}?_summary=count`);
  if (answer.status !== 200) throw new Error(`${type}?_summary=count: ${answer.status}`);
  return answer.body.total as number;
}

function size(file: string): number {
  return existsSync(file) ? statSync(file).size : 0;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;

function storeSize(label: string, file: string, orderCount?: number): void {
  const main = size(file);
  const wal = size(`${file}-wal`);
  const per = orderCount === undefined ? ''
    : `   per 10,000 orders ${mib(((main + wal) / orderCount) * 10000)} (${((main + wal) / orderCount).toFixed(0)} B/order)`;
  console.log(`${label.padEnd(28)} .sqlite ${mib(main)} + -wal ${mib(wal)} = ${mib(main + wal)}${per}`);
}

/** A TRUNCATE checkpoint from a connection of our own (the plugin's stay open). */
function checkpoint(file: string): string {
  const db = new Database(file);
  try {
    const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number; log: number; checkpointed: number }>;
    return result!.busy === 0 ? 'complete' : `busy (${result!.checkpointed}/${result!.log} frames)`;
  } finally {
    db.close();
  }
}

function ratios(label: string, result: LoadResult, native: LoadResult): string {
  return `${label.padEnd(28)} throughput ${(result.perSecond / native.perSecond).toFixed(3)}x   p50 ${(result.p50 / native.p50).toFixed(1)}x   p99 ${(result.p99 / native.p99).toFixed(1)}x`;
}

async function main(): Promise<void> {
  const orthanc = await Orthanc.start({ fhir: { Enable: true }, verbose: false });
  const file = join(orthanc.dir, 'db', 'orthanc-fhir.sqlite');
  const benchStart = Date.now();
  let errors = 0;
  try {
    const createdPatient = await request(orthanc, 'POST', '/fhir/Patient', patient('BENCH-ORDERS', 'Bench', 'Orders'));
    if (createdPatient.status !== 201) throw new Error(`POST Patient: ${createdPatient.status} ${JSON.stringify(createdPatient.body)}`);
    const subject = `Patient/${idOf(createdPatient.headers.get('location'))}`;

    console.log(`orthanc-fhir orders benchmark (same Orthanc, fresh store; an order = 1 ServiceRequest + 1 Task, one Patient)`);
    const fs = execFileSync('stat', ['-f', '-c', '%T', orthanc.dir], { encoding: 'utf8' }).trim();
    console.log(`storage: ${orthanc.dir} (${fs})`);
    console.log(`loading ${ORDERS} orders: transactions of ${TX_PAIRS * 2} entries, ${TX_CONCURRENCY} at a time...`);
    const fillSeconds = await fill(orthanc, subject);
    const [tasks, requests] = [await total(orthanc, 'Task'), await total(orthanc, 'ServiceRequest')];
    console.log(`loaded in ${fillSeconds.toFixed(1)} s: ${(ORDERS / fillSeconds).toFixed(0)} orders/s, ${(Math.ceil(ORDERS / TX_PAIRS) / fillSeconds).toFixed(1)} transactions/s; store holds ${requests} ServiceRequest, ${tasks} Task, 1 Patient`);
    if (tasks !== ORDERS || requests !== ORDERS) throw new Error(`expected ${ORDERS} of each`);

    console.log('');
    console.log(`store size at ${ORDERS} orders (${file.replace(orthanc.dir, '<dir>')}):`);
    storeSize('live', file, ORDERS);
    const state = checkpoint(file);
    storeSize(`after checkpoint (${state})`, file, ORDERS);

    await load(orthanc.httpPort, () => ({ path: '/fhir/Task?status=requested&_count=50' }), { clients: 1, seconds: 1 });
    const search = await load(orthanc.httpPort, () => ({ path: '/fhir/Task?status=requested&_count=50' }), { clients: 1, seconds: SECONDS });
    console.log('');
    console.log(`search at ${ORDERS} orders (1 client, sequential, ${SECONDS} s):`);
    console.log(line('Task?status=requested&_count=50', search));
    errors += search.errors;

    // The throughput part: Tasks basedOn one more ServiceRequest.
    const sr = await request(orthanc, 'POST', '/fhir/ServiceRequest', serviceRequest(subject, 'ACC-LOAD'));
    if (sr.status !== 201) throw new Error(`POST ServiceRequest: ${sr.status}`);
    const body = JSON.stringify(task(`ServiceRequest/${idOf(sr.headers.get('location'))}`, subject));
    const ids: string[] = [];
    const post = () => ({ method: 'POST', path: '/fhir/Task', headers: FHIR_JSON, body });
    const collect = { onResponse: (status: number, headers: { location?: string }) => { if (status === 201) ids.push(idOf(headers.location)); } };
    let cursor = 0;
    const read = () => ({ path: `/fhir/Task/${ids[cursor++ % ids.length]}`, headers: { accept: 'application/fhir+json' } });

    // Warm up each route, then measure.
    await load(orthanc.httpPort, () => ({ path: '/system' }), { clients: CLIENTS, seconds: 1 });
    await load(orthanc.httpPort, post, { clients: CLIENTS, seconds: 1, expectStatus: 201, ...collect });
    await load(orthanc.httpPort, read, { clients: CLIENTS, seconds: 1 });
    const native = await load(orthanc.httpPort, () => ({ path: '/system' }), { clients: CLIENTS, seconds: SECONDS });
    const before = ids.length;
    const creates = await load(orthanc.httpPort, post, { clients: CLIENTS, seconds: SECONDS, expectStatus: 201, ...collect });
    if (ids.length - before !== creates.requests - creates.errors) throw new Error('a create answered 201 without a Location');
    cursor = 0;
    const reads = await load(orthanc.httpPort, read, { clients: CLIENTS, seconds: SECONDS });
    errors += native.errors + creates.errors + reads.errors;

    console.log('');
    console.log(`throughput on top of ${ORDERS} orders (${CLIENTS} keep-alive clients, ${SECONDS} s per route, closed loop):`);
    console.log(line('native GET /system', native));
    console.log(line('POST /fhir/Task (create)', creates));
    console.log(line('GET /fhir/Task/<id> (read)', reads));
    console.log(`ratios to native GET /system (reads over ${ids.length} created Tasks):`);
    console.log(ratios('POST /fhir/Task', creates, native));
    console.log(ratios('GET /fhir/Task/<id>', reads, native));
    console.log(`(each create is one durable commit: SQLite WAL, synchronous=FULL; ${creates.requests} creates in ${creates.seconds.toFixed(1)} s)`);
    const end = await total(orthanc, 'Task');
    storeSize(`store at the end (${end} Task)`, file);
    console.log(`benchmark time ${((Date.now() - benchStart) / 1000).toFixed(0)} s`);
    if (errors > 0) {
      console.log(`${errors} request(s) failed`);
      process.exitCode = 1;
    }
  } finally {
    await orthanc.dispose();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
