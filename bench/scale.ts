// npm run bench:scale: how the plugin's requests scale with the data, in one
// run, against native Orthanc requests measured beside them. Prints markdown
// tables to stdout (progress to stderr):
//
//  orders   one Orthanc data folder grown to each SCALE_ORDERS size in turn
//           (default 10,000, 100,000, 1,000,000): FHIR transactions of
//           SCALE_TX_ORDERS orders (45: 9 Patients + 45 ServiceRequests + 45
//           Tasks = 99 entries) as a RIS writes them (../shared/orders-
//           interface.md); 10 stations, scheduled over one year, 90% of the
//           Tasks completed, one Patient per 5 orders. At each size: searches
//           and reads, a worklist C-FIND (findscu) for a station and day, RSS,
//           then a restart and the first search after it.
//  studies  a second folder grown to each SCALE_STUDIES size (default 10,000,
//           100,000): studies of 1-3 series of one 16x16 image, three per
//           patient, dates over 25 years, modalities skewed (NM 1%), sent
//           with parallel POST /instances. At each size: reads and searches
//           (among them a chain, ImagingStudy?patient.identifier=, and
//           reverse chains, Patient?_has:ImagingStudy:patient:modality=),
//           native /tools/find beside them, the R4 view of a read and of a
//           search page against R5 (a table of the p50 ratios), RSS, then a
//           restart and the first search after it.
//
// Each cell: p50 / p95 of up to SCALE_SAMPLES (100) sequential requests, with
// values picked at random (seeded, SCALE_SEED) among what exists, and the
// p50's ratio to the smallest size. A cell stops early past
// SCALE_CELL_SECONDS (20; after 5 requests, or 3 past twice that), or after 2
// time-outs: a request has SCALE_TIMEOUT seconds (30; also the plugin's
// RequestTimeout, whose 504 counts as a time-out) and a time-out or an error
// is written in the cell; a crashed Orthanc is restarted and the run goes on.
// A growth step that takes longer than SCALE_GROW_MINUTES (40) stops there:
// that size is measured at what was reached, larger ones are skipped (a kept
// folder goes on growing in the next run). Also SCALE_TX_ORDERS (45),
// SCALE_TX_CONCURRENCY (2), SCALE_UPLOADS (4 parallel POST /instances).
//
// SCALE_KEEP_DIR=<folder> keeps both data folders (<folder>/orders,
// <folder>/studies) for the next run: generation resumes from what exists
// (studies by their computed Orthanc ids, orders by a journal of the
// transactions answered, beside the data), so later runs only measure.
// Without it the data lives in a temporary folder, removed at the end.
// Ctrl-C once: the transactions in flight finish and are journaled, then the
// tables so far are printed.
//
// --store postgresql (or SCALE_STORE=postgresql; default sqlite): the same
// run on the PostgreSQL store, as a site would set it up: the bench starts
// one throw-away PostgreSQL cluster (test/support/postgres.ts), and each part
// has a database of its own (orders, studies: Orthanc's statistics must count
// that part's data only) holding both Orthanc's index (Debian's PostgreSQL
// index plugin) and the FHIR tables (schema fhir, through Orthanc's own
// "PostgreSQL" section). Restarts come back on the same database. At the
// largest size of each part it also measures the read throughput of two
// Orthancs on that one database and storage folder against one:
// SCALE_CLIENTS (8) concurrent clients for SCALE_THROUGHPUT_SECONDS (20) on a
// mix of the part's reads and searches, first all on A, then half on A and
// half on B. SCALE_KEEP_DIR is refused with postgresql: the cluster lives in
// a temporary folder of its own (PostgresCluster makes and removes it), so
// the kept Orthanc folders would point at a database that is gone.
//
// Neither Orthanc nor findscu gets TCP_NODELAY in its environment (Debian's
// DCMTK reads it in every process): the plugin is meant to make low latency
// the default. findscu gets TCP_NODELAY=1 only when a calibration shows the
// client side needs it, and the output says so.
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, appendFileSync, existsSync, statSync } from 'node:fs';
import http from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Orthanc, PLUGIN, type OrthancOptions } from '../test/support/orthanc';
import { PostgresCluster, POSTGRESQL_INDEX_PLUGIN } from '../test/support/postgres';
import { DCM, patient as patientResource, serviceRequest, task } from '../test/support/orders';
import {
  ACCESSION_SYSTEM, STEP_ID_SYSTEM, ORDERS_PER_PATIENT, PROCEDURES, RARE_MODALITY, STUDIES_PER_PATIENT, STUDY_DAYS,
  encodeInstance, givenPrefix, instances, order, orderPatient, orderStudy, patientOrthancId, random, selfCheck, study,
  studyDate, studyId, type Instance, type Order,
} from './scale-data';
import { FINDSCU_LOGGER, alive, findscu, httpRequest, relaunch, settle, type Answer, type FindResult } from './scale-client';

// --- configuration -----------------------------------------------------------

function sizes(name: string, fallback: string): number[] {
  const text = process.env[name] ?? fallback;
  const values = text.split(',').map((v) => v.trim()).filter((v) => v !== '' && v !== 'none').map(Number);
  if (values.some((v) => !Number.isInteger(v) || v <= 0)) throw new Error(`${name}: a list of positive integers, not '${text}'`);
  return [...new Set(values)].sort((a, b) => a - b);
}
const num = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}: a positive number, not '${process.env[name]}'`);
  return value;
};

const ORDER_SIZES = sizes('SCALE_ORDERS', '10000,100000,1000000');
const STUDY_SIZES = sizes('SCALE_STUDIES', '10000,100000');
const KEEP = process.env.SCALE_KEEP_DIR;
const SAMPLES = Math.round(num('SCALE_SAMPLES', 100));
const MIN_SAMPLES = 5;
const CELL_SECONDS = num('SCALE_CELL_SECONDS', 20);
const TIMEOUT_S = num('SCALE_TIMEOUT', 30);
/** The client waits a little longer than the plugin's RequestTimeout, so that the plugin's 504 arrives. */
const CLIENT_TIMEOUT_MS = TIMEOUT_S * 1000 + 5000;
const TX_ORDERS = Math.max(ORDERS_PER_PATIENT, Math.round(num('SCALE_TX_ORDERS', 45) / ORDERS_PER_PATIENT) * ORDERS_PER_PATIENT);
const TX_CONCURRENCY = Math.round(num('SCALE_TX_CONCURRENCY', 2));
const UPLOADS = Math.round(num('SCALE_UPLOADS', 4));
/** The most one growth step may take; past it that size is measured at what was reached, and larger sizes are skipped. */
const GROW_MINUTES = num('SCALE_GROW_MINUTES', 40);
const SEED = Math.round(num('SCALE_SEED', 1));
const CROSS_STUDIES = 20;
const THROUGHPUT_CLIENTS = Math.round(num('SCALE_CLIENTS', 8));
const THROUGHPUT_SECONDS = num('SCALE_THROUGHPUT_SECONDS', 20);

/** The longest wait for Orthanc to go idle after a growth step. */
const SETTLE_MAX_S = 300;
const FHIR_JSON = { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' };

/** --store <sqlite|postgresql> (also --store=...), else SCALE_STORE, else sqlite. */
function storeOption(): 'sqlite' | 'postgresql' {
  const args = process.argv.slice(2);
  const at = args.findIndex((a) => a === '--store' || a.startsWith('--store='));
  const text = (at < 0 ? process.env.SCALE_STORE ?? 'sqlite' : args[at]!.includes('=') ? args[at]!.slice('--store='.length) : args[at + 1] ?? '').toLowerCase();
  if (text !== 'sqlite' && text !== 'postgresql') throw new Error(`--store (or SCALE_STORE): sqlite or postgresql, not '${text}'`);
  return text;
}
const STORE = storeOption();
if (STORE === 'postgresql' && KEEP) {
  throw new Error('SCALE_KEEP_DIR is not supported with --store postgresql: the PostgreSQL cluster is temporary (see the comment at the top of bench/scale.ts)');
}
/** The run's PostgreSQL cluster (--store postgresql), started by main(). */
let cluster: PostgresCluster | undefined;

type Json = Record<string, any>;

const benchStart = Date.now();
const clock = () => {
  const s = Math.floor((Date.now() - benchStart) / 1000);
  return `${String(Math.floor(s / 60)).padStart(3)}:${String(s % 60).padStart(2, '0')}`;
};
const log = (message: string) => process.stderr.write(`[${clock()}] ${message}\n`);
const notes: string[] = [];
const note = (message: string) => {
  notes.push(message);
  log(`note: ${message}`);
};
const timings: string[] = [];
/** Seconds per 10,000 items of the last growth step of each phase, for the estimate of a default run. */
const lastRates: { orders?: number; studies?: number } = {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let stopping = false;
process.on('SIGINT', () => {
  if (stopping) process.exit(130);
  stopping = true;
  log('interrupted: finishing what is in flight, then printing the tables so far (Ctrl-C again to quit now)');
});

const inheritedNoDelay = process.env.TCP_NODELAY;
delete process.env.TCP_NODELAY; // Orthanc inherits this environment
const FINDSCU_ENV: NodeJS.ProcessEnv = { ...process.env };

/** dist/plugin/ may be rebuilt while this runs: each (re)start of Orthanc loads what is there then. */
const BUILD_FILES = [PLUGIN, join(dirname(PLUGIN), 'orthanc-fhir.js'), join(dirname(PLUGIN), 'better_sqlite3.node')];
const buildStamp = () => BUILD_FILES.map((f) => (existsSync(f) ? `${statSync(f).mtimeMs}:${statSync(f).size}` : 'none')).join(' ');
let loadedBuild: string | undefined;
function checkBuild(when: string): void {
  const now = buildStamp();
  if (loadedBuild !== undefined && now !== loadedBuild) {
    note(`dist/plugin/ was rebuilt before ${when}: the numbers from there on are of another build than those before`);
  }
  loadedBuild = now;
}
const buildTime = () => {
  const bundle = BUILD_FILES[1]!;
  return existsSync(bundle) ? new Date(statSync(bundle).mtimeMs).toISOString().slice(0, 16) + 'Z' : '?';
};

// --- the tables ----------------------------------------------------------------

interface Cell {
  text: string;
  /** What the ratio to the smallest size is computed from (latency p50, rate, bytes). */
  value?: number;
}

class Table {
  readonly columns: string[] = [];
  private readonly rows = new Map<string, Map<number, Cell>>();
  /** What a row is called in the output, when not its key. */
  private readonly labels = new Map<string, string>();

  constructor(readonly title: string, rowOrder: string[]) {
    for (const row of rowOrder) this.rows.set(row, new Map());
  }

  column(label: string): number {
    this.columns.push(label);
    return this.columns.length - 1;
  }

  label(row: string, label: string): void {
    this.labels.set(row, label);
  }

  set(row: string, column: number, cell: Cell): void {
    if (!this.rows.has(row)) this.rows.set(row, new Map());
    this.rows.get(row)!.set(column, cell);
  }

  render(): string {
    const lines = [`| ${this.title} | ${this.columns.join(' | ')} |`, `|---|${this.columns.map(() => '---:').join('|')}|`];
    for (const [row, cells] of this.rows) {
      if (cells.size === 0) continue;
      let base: number | undefined;
      const texts = this.columns.map((_, c) => {
        const cell = cells.get(c);
        if (!cell) return '—';
        if (cell.value === undefined || !Number.isFinite(cell.value)) return cell.text;
        if (base === undefined) {
          base = cell.value;
          return cell.text;
        }
        return `${cell.text} (${ratio(cell.value / base)})`;
      });
      lines.push(`| ${this.labels.get(row) ?? row} | ${texts.join(' | ')} |`);
    }
    return lines.join('\n');
  }
}

const ratio = (r: number) => `${r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2)}x`;
const ms = (value: number) => (value >= 100 ? value.toFixed(0) : value >= 1 ? value.toFixed(1) : value.toFixed(2));
const count = (n: number) => (n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}M` : n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

// --- measuring a cell ------------------------------------------------------------

interface Sample {
  ms: number;
  /** 'timeout', or what went wrong; undefined when answered as expected. */
  failure?: string;
  /** Answered, but not what the data says (a note, the latency counts). */
  wrong?: string;
}

interface Server {
  orthanc: Orthanc;
  agent: http.Agent;
  name: string;
}

function newServer(orthanc: Orthanc, name: string): Server {
  return { orthanc, name, agent: new http.Agent({ keepAlive: true, maxSockets: 1 }) };
}

const get = (server: Server, path: string, accept = 'application/fhir+json') =>
  httpRequest(server.agent, server.orthanc.httpPort, 'GET', path, { headers: { accept }, timeoutMs: CLIENT_TIMEOUT_MS });

/** A FHIR request as a sample: 200 and, when given, a check of the answer. */
async function fhirSample(server: Server, path: string, check?: (body: Json) => string | undefined): Promise<Sample> {
  const answer = await get(server, path);
  return asSample(answer, check);
}

function asSample(answer: Answer, check?: (body: Json) => string | undefined): Sample {
  if (answer.failure) return { ms: answer.ms, failure: answer.failure };
  if (answer.status !== 200) {
    let detail = '';
    try {
      detail = ((JSON.parse(answer.body) as Json).issue?.[0]?.diagnostics as string | undefined)?.slice(0, 80) ?? '';
    } catch {
      detail = answer.body.slice(0, 80);
    }
    return { ms: answer.ms, failure: `${answer.status}${detail ? ` ${detail}` : ''}` };
  }
  if (!check) return { ms: answer.ms };
  let wrong: string | undefined;
  try {
    wrong = check(JSON.parse(answer.body) as Json);
  } catch (error) {
    wrong = `unreadable answer: ${String(error).slice(0, 80)}`;
  }
  return { ms: answer.ms, ...(wrong ? { wrong } : {}) };
}

/** Entries of a searchset that are matches (not includes, not outcomes). */
const matches = (bundle: Json) => ((bundle.entry ?? []) as Json[]).filter((e) => (e.search?.mode ?? 'match') === 'match');
const expectMatches = (wanted: number) => (bundle: Json) => {
  const got = matches(bundle).length;
  return got === wanted ? undefined : `${got} matches, the data says ${wanted}`;
};

/** Measures one cell; returns its p50 (undefined when nothing was answered in time). */
async function measure(
  table: Table, column: number, row: string, server: Server,
  probe: (next: () => number, i: number) => Promise<Sample>,
): Promise<number | undefined> {
  if (stopping) return undefined;
  const next = random(SEED * 7919 + hashString(row) + column * 104729);
  const latencies: number[] = [];
  const failures = new Map<string, number>();
  const wrong = new Map<string, number>();
  let timeouts = 0;
  let errors = 0;
  let crashed = false;
  const t0 = Date.now();
  let i = 0;
  for (; i < SAMPLES && !stopping; i++) {
    const elapsed = (Date.now() - t0) / 1000;
    if (i >= MIN_SAMPLES && elapsed >= CELL_SECONDS) break;
    if ((i >= 3 && elapsed >= 2 * CELL_SECONDS) || elapsed >= 4 * CELL_SECONDS) break;
    if (timeouts >= 2 || (errors >= 3 && latencies.length === 0)) break;
    const sample = await probe(next, i);
    if (sample.failure === 'timeout') {
      timeouts++;
      latencies.push(Infinity);
    } else if (sample.failure) {
      errors++;
      failures.set(sample.failure, (failures.get(sample.failure) ?? 0) + 1);
      if (/ECONNREFUSED|ECONNRESET|socket hang up|EPIPE/.test(sample.failure) && !alive(server.orthanc)) {
        note(`${server.name}: Orthanc died during "${row}" at ${table.columns[column]}; restarted. ${lastErrors(server)}`);
        await restartAfterCrash(server);
        failures.set('Orthanc crashed', 1);
        crashed = true;
        break;
      }
    } else {
      latencies.push(sample.ms);
      if (sample.wrong) wrong.set(sample.wrong, (wrong.get(sample.wrong) ?? 0) + 1);
    }
  }
  const n = latencies.length;
  latencies.sort((a, b) => a - b);
  const p50 = percentile(latencies, 50);
  const p95 = percentile(latencies, 95);
  const failureText = [...failures].map(([what, k]) => `${k}x ${what}`).join('; ');
  let cell: Cell;
  if (n === 0 || !Number.isFinite(p50)) {
    cell = { text: n > 0 && timeouts > 0 ? `timeout (${timeouts} of ${n + errors})` : `error (${failureText || 'none answered'})` };
  } else {
    const extra: string[] = [];
    if (n + errors < SAMPLES) extra.push(`n=${n + errors}`);
    if (timeouts > 0) extra.push(`${timeouts} timeout`);
    if (errors > 0) extra.push(`${errors} error`);
    if (crashed) extra.push('Orthanc crashed');
    const p95Text = Number.isFinite(p95) ? `${ms(p95)} ms` : `>${TIMEOUT_S * 1000} ms`;
    cell = { text: `${ms(p50)} / ${p95Text}${wrong.size > 0 ? ' !' : ''}${extra.length ? ` [${extra.join(', ')}]` : ''}`, value: p50 };
  }
  if (errors > 0) note(`${row} at ${table.columns[column]}: ${failureText}`);
  for (const [what, k] of wrong) note(`${row} at ${table.columns[column]}: ${k} of ${n} answers wrong: ${what} (cell marked !)`);
  table.set(row, column, cell);
  log(`  ${row}: ${cell.text} (${i} requests, ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return cell.value;
}

function hashString(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** The last error lines of Orthanc's log (its folder may be temporary). */
function lastErrors(server: Server): string {
  const lines = server.orthanc.log().split('\n').filter((line) => /^E\d{4}|error|fatal|abort|out of memory/i.test(line));
  return lines.length === 0 ? 'No error in its log.' : `Its log ends: ${lines.slice(-3).map((l) => l.slice(0, 200)).join(' / ')}`;
}

async function restartAfterCrash(server: Server): Promise<void> {
  server.agent.destroy();
  server.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    await relaunch(server.orthanc, 600000);
    checkBuild(`${server.name}'s restart after the crash`);
  } catch (error) {
    note(`${server.name}: Orthanc did not come back: ${String(error).slice(0, 300)}`);
  }
}

/** After a restart: the first answer to `path` (503s while the plugin starts are waited out). */
async function firstAnswer(server: Server, path: string): Promise<Cell> {
  const t0 = Date.now();
  let unavailable = 0;
  for (;;) {
    const answer = await get(server, path);
    if (answer.status === 503 && Date.now() - t0 < CLIENT_TIMEOUT_MS) {
      unavailable++;
      await sleep(50);
      continue;
    }
    const total = Date.now() - t0;
    const waited = unavailable > 0 ? `, after ${unavailable} x 503 while starting` : '';
    if (answer.failure || answer.status !== 200) {
      return { text: `${answer.failure ?? `error ${answer.status}`} (${ms(total)} ms${waited})` };
    }
    return { text: `${ms(total)} ms${waited}`, value: total };
  }
}

async function restartAndFirst(server: Server, table: Table, column: number, upRow: string, firstRow: string, path: string): Promise<void> {
  if (stopping) return;
  log(`${server.name}: restart on the same data`);
  server.agent.destroy();
  server.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let up: number;
  try {
    up = await relaunch(server.orthanc, 600000);
  } catch (error) {
    table.set(upRow, column, { text: 'did not start' });
    note(`${server.name}: Orthanc did not restart: ${String(error).slice(0, 300)}`);
    return;
  }
  checkBuild(`${server.name}'s restart at ${table.columns[column]}`);
  table.set(upRow, column, { text: `${ms(up)} ms`, value: up });
  const first = await firstAnswer(server, path);
  table.set(firstRow, column, first);
  log(`  restart: /system after ${ms(up)} ms; first ${path.replace('/fhir/', '')}: ${first.text}`);
}

function rssCell(server: Server, table: Table, column: number, row: string): void {
  try {
    const rss = server.orthanc.rss();
    table.set(row, column, { text: mib(rss), value: rss });
  } catch {
    table.set(row, column, { text: 'not running' });
  }
}

// --- the store, and two Orthancs on one database -------------------------------

/**
 * A part's Orthanc options (all but its folder): on PostgreSQL, Orthanc's
 * index and the FHIR tables in the part's own database of the run's cluster.
 * Every restart and the second Orthanc write their configuration from these,
 * so all of them use that one database. SQLite is named rather than left to
 * the default, so that ORTHANC_FHIR_TEST_PG (test/support/orthanc.ts) cannot
 * move a sqlite run onto PostgreSQL.
 */
/**
 * Orthanc's PostgreSQL index connections (SCALE_PG_INDEX_CONNECTIONS, default
 * 1 as Debian's): more let Orthanc's reads run side by side, but with Orthanc
 * 1.10.1 and the plugin 4.0 its concurrent writes collide and are retried.
 */
const PG_INDEX_CONNECTIONS = Number(process.env.SCALE_PG_INDEX_CONNECTIONS ?? 1);

async function partOptions(database: string, fhir: Json, extra: Json = {}): Promise<OrthancOptions> {
  if (!cluster) return { fhir: { ...fhir, Store: 'SQLite' }, extra, verbose: false };
  await cluster.psql(`CREATE DATABASE ${database}`);
  return {
    fhir: { ...fhir, Store: 'PostgreSQL' },
    extra: { ...extra, PostgreSQL: cluster.orthancIndexConfig({ Database: database, IndexConnectionsCount: PG_INDEX_CONNECTIONS }) },
    extraPlugins: [POSTGRESQL_INDEX_PLUGIN],
    verbose: false,
  };
}

/** One request of a throughput mix: its path, from the client's seeded random source. */
interface Read {
  name: string;
  path: (next: () => number) => string;
}

const throughputTable = new Table('part, at its largest size: the mix of reads (picked at random)', []);
const THROUGHPUT_ALONE = throughputTable.column(`A alone (${THROUGHPUT_CLIENTS} clients)`);
const THROUGHPUT_SHARED = throughputTable.column(`A and B (${Math.ceil(THROUGHPUT_CLIENTS / 2)} + ${Math.floor(THROUGHPUT_CLIENTS / 2)} clients)`);
let throughputMeasured = 0;

/**
 * THROUGHPUT_CLIENTS clients for `seconds`, each on a keep-alive connection
 * of its own to one of `servers` in turn, each sending the next request of
 * the mix once the last is answered. Answers/s (200s only), in all and by server.
 */
async function load(servers: Server[], mix: Read[], seconds: number): Promise<Cell> {
  const clients = Array.from({ length: THROUGHPUT_CLIENTS }, (_, c) => newServer(servers[c % servers.length]!.orthanc, servers[c % servers.length]!.name));
  const latencies: number[] = [];
  const answered = new Map<string, number>();
  const failures = new Map<string, number>();
  const t0 = Date.now();
  await Promise.all(clients.map(async (client, c) => {
    const next = random(SEED * 7919 + c);
    while (Date.now() - t0 < seconds * 1000 && !stopping) {
      const sample = await fhirSample(client, mix[Math.floor(next() * mix.length)]!.path(next));
      if (sample.failure) {
        const what = `${client.name}: ${sample.failure}`;
        failures.set(what, (failures.get(what) ?? 0) + 1);
      } else {
        latencies.push(sample.ms);
        answered.set(client.name, (answered.get(client.name) ?? 0) + 1);
      }
    }
    client.agent.destroy();
  }));
  // Until the last answer: the clients stop sending at `seconds`, the requests in flight still count.
  const elapsed = (Date.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const rate = latencies.length / elapsed;
  const each = servers.length > 1 ? ` = ${servers.map((s) => `${s.name.slice(-1)} ${((answered.get(s.name) ?? 0) / elapsed).toFixed(0)}`).join(' + ')}` : '';
  const failed = [...failures.values()].reduce((sum, k) => sum + k, 0);
  if (failed > 0) note(`throughput on ${servers.map((s) => s.name).join(' and ')}: ${[...failures].map(([what, k]) => `${k}x ${what}`).join('; ')}`);
  return {
    text: `${rate.toFixed(0)} req/s${each}, p50 ${ms(percentile(latencies, 50))} / p95 ${ms(percentile(latencies, 95))} ms${failed > 0 ? ` [${failed} error]` : ''}`,
    value: rate,
  };
}

/**
 * --store postgresql: the read throughput of two Orthancs on the part's one
 * database and storage folder against one, in the same run: a second
 * Orthanc B (its own folder and ports) beside `a`, then the same load on A
 * alone and split across A and B.
 */
async function twoOrthancs(part: string, size: string, a: Server, options: OrthancOptions, mix: Read[]): Promise<void> {
  if (!cluster || stopping) return;
  if (!alive(a.orthanc)) {
    note(`${part}: Orthanc is not running, no two-Orthanc throughput`);
    return;
  }
  log(`${part}: a second Orthanc on the same database and storage folder, for the throughput of two`);
  const row = `${part} at ${size}: ${mix.map((r) => r.name).join(', ')}`;
  let b: Orthanc | undefined;
  try {
    b = await Orthanc.start({ ...options, storageDir: String(a.orthanc.configuration().StorageDirectory) });
    checkBuild(`the second Orthanc of the ${part} part`);
    const second = newServer(b, `${part} B`);
    const first = await firstAnswer(second, mix[0]!.path(random(SEED)));
    second.agent.destroy();
    log(`  B up; its first ${mix[0]!.name}: ${first.text}`);
    // B's plugin may still follow Orthanc's changes, then both get an unmeasured warm-up (caches, connection pools).
    await settle(b, SETTLE_MAX_S);
    await load([a, second], mix, 5);
    const servers = [{ ...a, name: `${part} A` }, second];
    const alone = await load(servers.slice(0, 1), mix, THROUGHPUT_SECONDS);
    log(`  A alone: ${alone.text}`);
    const shared = await load(servers, mix, THROUGHPUT_SECONDS);
    log(`  A and B: ${shared.text}`);
    throughputTable.set(row, THROUGHPUT_ALONE, alone);
    throughputTable.set(row, THROUGHPUT_SHARED, shared);
    throughputMeasured++;
    for (const server of servers) if (!alive(server.orthanc)) note(`${server.name} died during the throughput measurement. ${lastErrors(server)}`);
  } catch (error) {
    note(`${part}: the two-Orthanc throughput failed: ${String(error).slice(0, 300)}`);
  } finally {
    await b?.dispose();
  }
}

// --- orders: generation, resumable ------------------------------------------------

/** Ids of what the transactions created, by order and patient index, kept in a journal beside the data. */
class OrderJournal {
  readonly sr: string[] = [];
  readonly task: string[] = [];
  readonly patient: string[] = [];
  covered: Uint8Array = new Uint8Array(0);
  orders = 0;
  /** 1 + the highest order index created. */
  end = 0;

  constructor(readonly file: string) {
    if (!existsSync(file)) return;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        this.record(JSON.parse(line) as JournalLine, false);
      } catch {
        // a line cut short by an interruption: its transaction is checked again
      }
    }
  }

  private grow(size: number): void {
    if (size <= this.covered.length) return;
    const bigger = new Uint8Array(Math.max(size, this.covered.length * 2));
    bigger.set(this.covered);
    this.covered = bigger;
  }

  has(n: number): boolean {
    return n < this.covered.length && this.covered[n] === 1;
  }

  record(line: JournalLine, write = true): void {
    this.grow(line.b);
    this.end = Math.max(this.end, line.b);
    for (const [p, id] of line.p) this.patient[p] = id;
    for (let n = line.a; n < line.b; n++) {
      if (this.covered[n] !== 1) this.orders++;
      this.covered[n] = 1;
      this.sr[n] = line.sr[n - line.a]!;
      this.task[n] = line.t[n - line.a]!;
    }
    if (write) appendFileSync(this.file, `${JSON.stringify(line)}\n`);
  }

  /** The orders below `target` not created yet, as transactions: runs cut at multiples of TX_ORDERS. */
  missing(target: number): Array<[number, number]> {
    const chunks: Array<[number, number]> = [];
    let n = 0;
    while (n < target) {
      if (this.has(n)) {
        n++;
        continue;
      }
      const a = n;
      let b = a + 1;
      while (b < target && !this.has(b) && b % TX_ORDERS !== 0) b++;
      chunks.push([a, b]);
      n = b;
    }
    return chunks;
  }
}

interface JournalLine {
  a: number;
  b: number;
  /** [patient index, id] of Patients created (or found) here. */
  p: Array<[number, string]>;
  sr: string[];
  t: string[];
}

/**
 * The transaction of orders [a, b). `conditional`: for a second attempt after
 * a failure whose outcome is unknown, ServiceRequest and Task are
 * conditional creates (by accession number, by step id), so that a first
 * attempt committed late is not doubled (a Patient's second create updates it).
 */
function orderBundle(a: number, b: number, journal: OrderJournal, conditional = false): { bundle: Json; created: number[] } {
  const entry: Json[] = [];
  const refs = new Map<number, string>();
  const created: number[] = [];
  for (let p = Math.floor(a / ORDERS_PER_PATIENT); p <= Math.floor((b - 1) / ORDERS_PER_PATIENT); p++) {
    const known = journal.patient[p];
    if (known && p * ORDERS_PER_PATIENT < a) {
      refs.set(p, `Patient/${known}`);
      continue;
    }
    const who = orderPatient(p);
    const fullUrl = `urn:uuid:${randomUUID()}`;
    refs.set(p, fullUrl);
    created.push(p);
    entry.push({
      fullUrl,
      resource: { ...patientResource(who.patientId, who.family, who.given), gender: who.gender, birthDate: who.birthDate },
      request: { method: 'POST', url: 'Patient' },
    });
  }
  for (let n = a; n < b; n++) {
    const o = order(n);
    const subject = refs.get(o.patient)!;
    const sr = `urn:uuid:${randomUUID()}`;
    const procedure = PROCEDURES[o.modality]!;
    entry.push(
      {
        fullUrl: sr,
        resource: serviceRequest(subject, o.accession, {
          status: o.requested ? 'active' : 'completed',
          authoredOn: o.authoredOn,
          occurrenceDateTime: o.start,
          code: { concept: { coding: [{ system: 'http://loinc.org', code: procedure.code, display: procedure.display }], text: procedure.display } },
        }),
        request: { method: 'POST', url: 'ServiceRequest', ...(conditional ? { ifNoneExist: `identifier=${ACCESSION_SYSTEM}|${o.accession}` } : {}) },
      },
      {
        resource: task(sr, subject, {
          identifier: [{ system: STEP_ID_SYSTEM, value: o.stepId }],
          status: o.requested ? 'requested' : 'completed',
          authoredOn: o.authoredOn,
          requestedPeriod: { start: o.start },
          owner: { type: 'Device', identifier: { system: 'urn:dicom:ae', value: o.station }, display: o.station },
          input: [{ type: { coding: [{ system: DCM, code: '121139' }] }, valueCodeableConcept: { coding: [{ system: DCM, code: o.modality }] } }],
        }),
        request: { method: 'POST', url: 'Task', ...(conditional ? { ifNoneExist: `identifier=${STEP_ID_SYSTEM}|${o.stepId}` } : {}) },
      },
    );
  }
  return { bundle: { resourceType: 'Bundle', type: 'transaction', entry }, created };
}

const idIn = (location: unknown) => /([^/]+)\/_history\/[^/]+$/.exec(String(location ?? ''))?.[1];

/** The journal line of an answered transaction, or why it failed. */
function answered(answer: Answer, a: number, b: number, created: number[]): JournalLine | string {
  if (answer.failure) return answer.failure;
  let body: Json;
  try {
    body = JSON.parse(answer.body) as Json;
  } catch {
    return `${answer.status} (not JSON)`;
  }
  if (answer.status !== 200) return `${answer.status} ${JSON.stringify(body.issue?.[0]?.diagnostics ?? body).slice(0, 300)}`;
  const entries = (body.entry ?? []) as Json[];
  // 201, or 200 for a conditional create that found its resource
  const ids = entries.map((e) => (/^20[01]/.test(String(e.response?.status ?? '')) ? idIn(e.response?.location) : undefined));
  if (entries.length !== created.length + 2 * (b - a) || ids.some((id) => !id)) {
    return `transaction answered ${entries.length} entries, ${ids.filter((id) => !id).length} without 201/200 and a Location`;
  }
  const orderIds = ids.slice(created.length);
  return {
    a, b, p: created.map((p, i) => [p, ids[i]!]),
    sr: orderIds.filter((_, i) => i % 2 === 0) as string[], t: orderIds.filter((_, i) => i % 2 === 1) as string[],
  };
}

/**
 * Orders of [a, b) that were committed but not journaled (an interrupted run,
 * a time-out after the commit): found by accession number, journaled.
 * Returns how many were found, or undefined when the search failed.
 */
async function adopt(server: Server, journal: OrderJournal, a: number, b: number): Promise<number | undefined> {
  const values = [];
  for (let n = a; n < b; n++) values.push(`${ACCESSION_SYSTEM}|${order(n).accession}`);
  const path = `/fhir/ServiceRequest?identifier=${values.map(encodeURIComponent).join(',')}&_revinclude=Task:based-on&_count=${4 * (b - a) + 10}`;
  const answer = await get(server, path);
  if (answer.failure || answer.status !== 200) return undefined;
  const entries = ((JSON.parse(answer.body) as Json).entry ?? []) as Json[];
  const byAccession = new Map<string, Json>();
  const taskOf = new Map<string, string>();
  for (const { resource } of entries) {
    if (resource?.resourceType === 'ServiceRequest') {
      const accession = ((resource.identifier ?? []) as Json[]).find((i) => i.system === ACCESSION_SYSTEM)?.value;
      if (accession) byAccession.set(accession, resource);
    } else if (resource?.resourceType === 'Task') {
      for (const ref of (resource.basedOn ?? []) as Json[]) taskOf.set(String(ref.reference), resource.id);
    }
  }
  let found = 0;
  let run: JournalLine | undefined;
  const flush = () => {
    if (run && run.sr.length > 0) journal.record(run);
    run = undefined;
  };
  for (let n = a; n < b; n++) {
    const sr = byAccession.get(order(n).accession);
    const t = sr && taskOf.get(`ServiceRequest/${sr.id}`);
    if (!sr || !t) {
      flush();
      continue;
    }
    found++;
    run ??= { a: n, b: n, p: [], sr: [], t: [] };
    run.b = n + 1;
    run.sr.push(sr.id);
    run.t.push(t);
    const p = order(n).patient;
    const subject = /^Patient\/(.+)$/.exec(String(sr.subject?.reference ?? ''))?.[1];
    if (subject && !journal.patient[p]) run.p.push([p, subject]);
  }
  flush();
  return found;
}

interface Growth {
  seconds: number;
  resources: number;
  orders: number;
  failure?: string;
}

async function growOrders(server: Server, journal: OrderJournal, target: number): Promise<Growth> {
  const chunks = journal.missing(target);
  const todo = chunks.reduce((sum, [a, b]) => sum + b - a, 0);
  const growth: Growth = { seconds: 0, resources: 0, orders: 0 };
  if (todo === 0) return growth;
  log(`orders: generating ${todo} (to ${target}) in ${chunks.length} transactions of up to ${TX_ORDERS} orders, ${TX_CONCURRENCY} at a time`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: TX_CONCURRENCY });
  const t0 = Date.now();
  let next = 0;
  let lastReport = Date.now();
  /** While a failed transaction is looked into, no other is sent. */
  let recovery: Promise<void> | undefined;
  const one = async (a: number, b: number, conditional = false): Promise<string | undefined> => {
    for (let attempt = 1; ; attempt++) {
      while (recovery) await recovery;
      const { bundle, created } = orderBundle(a, b, journal, conditional);
      const answer = await httpRequest(agent, server.orthanc.httpPort, 'POST', '/fhir', { headers: FHIR_JSON, body: JSON.stringify(bundle), timeoutMs: CLIENT_TIMEOUT_MS });
      const result = answered(answer, a, b, created);
      if (typeof result !== 'string') {
        journal.record(result);
        growth.resources += created.length + 2 * (b - a);
        growth.orders += b - a;
        return undefined;
      }
      if (answer.status >= 400 && answer.status < 500) return `orders ${a}..${b - 1}: ${result}`;
      if (attempt >= 3) return `orders ${a}..${b - 1}: ${result} (3 attempts)`;
      log(`  transaction of orders ${a}..${b - 1}: ${result}; once Orthanc is idle, checking whether it was committed, then again`);
      // A 504 does not stop the transaction: it may still commit. Nothing new
      // is sent until Orthanc is idle, then the orders are looked for.
      const mine = (async () => {
        if (!alive(server.orthanc)) {
          note(`${server.name}: Orthanc died while loading orders (at ${journal.orders}); restarted. ${lastErrors(server)}`);
          await restartAfterCrash(server);
        }
        await settle(server.orthanc, 300, attempt);
      })();
      recovery = mine;
      await mine;
      if (recovery === mine) recovery = undefined;
      let found = await adopt(server, journal, a, b);
      if (found === undefined) found = await adopt(server, journal, a, b);
      // Not found: sent again. Unknown (the search failed too): sent again as conditional creates.
      if (found === undefined) conditional = true;
      if (found && found > 0) {
        growth.orders += found;
        growth.resources += 2 * found;
        if (found === b - a) return undefined;
        // partly there (cannot be: a transaction is atomic); make the rest
        const rest = journal.missing(b).filter(([x]) => x >= a);
        for (const [x, y] of rest) {
          const failed = await one(x, y, true);
          if (failed) return failed;
        }
        return undefined;
      }
    }
  };
  const deadline = t0 + GROW_MINUTES * 60000;
  await Promise.all(Array.from({ length: TX_CONCURRENCY }, async () => {
    while (next < chunks.length && !stopping && !growth.failure) {
      if (Date.now() > deadline) {
        growth.failure ??= `SCALE_GROW_MINUTES=${GROW_MINUTES} reached (${growth.orders} of ${todo} orders generated)`;
        break;
      }
      const [a, b] = chunks[next++]!;
      const failed = await one(a, b);
      if (failed) growth.failure ??= failed;
      if (Date.now() - lastReport >= 10000) {
        lastReport = Date.now();
        const seconds = (Date.now() - t0) / 1000;
        const rate = growth.orders / seconds;
        log(`  ${journal.orders}/${target} orders (${rate.toFixed(0)} orders/s, ${(growth.resources / seconds).toFixed(0)} resources/s, ~${((todo - growth.orders) / rate / 60).toFixed(1)} min left)`);
      }
    }
  }));
  agent.destroy();
  growth.seconds = (Date.now() - t0) / 1000;
  return growth;
}

async function countOf(server: Server, type: string): Promise<number | undefined> {
  const answer = await get(server, `/fhir/${type}?_summary=count`);
  if (answer.status !== 200) return undefined;
  return (JSON.parse(answer.body) as Json).total as number | undefined;
}

/** On a kept folder: orders the server has that the journal misses (an interrupted run) are adopted. */
async function reconcile(server: Server, journal: OrderJournal): Promise<void> {
  if (journal.orders === 0) return;
  const total = await countOf(server, 'ServiceRequest');
  if (total === undefined) {
    note(`kept orders folder: ServiceRequest?_summary=count did not answer; the journal (${journal.orders} orders) is trusted`);
    return;
  }
  if (total === journal.orders) return;
  log(`orders: the server holds ${total} ServiceRequests, the journal ${journal.orders}: looking for transactions committed but not journaled`);
  const limit = journal.end + TX_ORDERS * (TX_CONCURRENCY + 2);
  for (const [a, b] of journal.missing(limit).slice(0, 4 * (TX_CONCURRENCY + 2))) await adopt(server, journal, a, b);
  if (journal.orders !== total) {
    note(`kept orders folder: the server holds ${total} ServiceRequests, the journal knows ${journal.orders}; some accession numbers may be there twice`);
  }
}

// --- studies: generation, resumable ------------------------------------------------

/** Orthanc instance ids present (GET /instances lists them all). */
async function presentInstances(server: Server): Promise<Set<string>> {
  const answer = await httpRequest(server.agent, server.orthanc.httpPort, 'GET', '/instances', { timeoutMs: 600000 });
  if (answer.status !== 200) throw new Error(`GET /instances: ${answer.status} ${answer.failure ?? answer.body.slice(0, 200)}`);
  return new Set(JSON.parse(answer.body) as string[]);
}

interface Upload {
  seconds: number;
  failed: number;
  sent: number;
  /** SCALE_GROW_MINUTES reached before everything was sent. */
  outOfTime: boolean;
}

async function upload(server: Server, todo: Instance[], what: string): Promise<Upload> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: UPLOADS });
  const t0 = Date.now();
  let next = 0;
  let done = 0;
  let failed = 0;
  let lastReport = Date.now();
  let checked = false;
  let outOfTime = false;
  const deadline = t0 + GROW_MINUTES * 60000;
  await Promise.all(Array.from({ length: UPLOADS }, async () => {
    while (next < todo.length && !stopping) {
      if (Date.now() > deadline) {
        outOfTime = true;
        break;
      }
      const instance = todo[next++]!;
      const body = encodeInstance(instance);
      for (let attempt = 1; ; attempt++) {
        const answer = await httpRequest(agent, server.orthanc.httpPort, 'POST', '/instances', {
          headers: { 'content-type': 'application/dicom' }, body, timeoutMs: 120000,
        });
        if (answer.status === 200) {
          if (!checked) {
            checked = true;
            const id = (JSON.parse(answer.body) as Json).ID;
            if (id !== instance.id) throw new Error(`Orthanc's id of ${instance.sopUid} is ${id}, computed ${instance.id}: the resume logic would be wrong`);
          }
          break;
        }
        if (attempt >= 4) {
          failed++;
          if (failed <= 3) note(`${what}: POST /instances of ${instance.sopUid} failed 4 times: ${answer.failure ?? answer.status} ${answer.body.slice(0, 200)}`);
          break;
        }
        if (!alive(server.orthanc)) {
          note(`${server.name}: Orthanc died while receiving instances; restarted. ${lastErrors(server)}`);
          await restartAfterCrash(server);
        }
        await sleep(500 * attempt);
      }
      done++;
      if (Date.now() - lastReport >= 10000) {
        lastReport = Date.now();
        const seconds = (Date.now() - t0) / 1000;
        log(`  ${done}/${todo.length} instances (${(done / seconds).toFixed(0)}/s, ~${((todo.length - done) / (done / seconds) / 60).toFixed(1)} min left)`);
      }
    }
  }));
  agent.destroy();
  return { seconds: (Date.now() - t0) / 1000, failed, sent: done, outOfTime };
}

// --- orders phase -------------------------------------------------------------------

const ORDER_ROWS = {
  taskRequested: '`Task?status=requested&_count=20`',
  srIdentifier: '`ServiceRequest?identifier=<system>|<accession>`',
  taskRead: '`Task/<id>` (read)',
  taskBasedOn: '`Task?based-on=ServiceRequest/<id>`',
  srPatient: '`ServiceRequest?patient=Patient/<id>`',
  patientGiven: '`Patient?given=<3 letters>` (Patients written over FHIR)',
  worklist: 'worklist C-FIND, station + day (findscu, one association each)',
  crossRead: `\`ImagingStudy/<id>\` (read; ${CROSS_STUDIES} studies beside the orders)`,
  system: 'native `GET /system`',
  rss: 'Orthanc RSS after the measurements',
  ingest: `ingest: transactions of ${TX_ORDERS / ORDERS_PER_PATIENT * (2 * ORDERS_PER_PATIENT + 1)} entries, ${TX_CONCURRENCY} at a time (resources/s)`,
  up: 'restart: Orthanc up (`/system` answers)',
  first: 'restart: first `Task?status=requested&_count=20`',
};

/** The worklist query: what a modality asks for its day. */
function worklistKeys(station: string, date: string): string[] {
  return [
    'PatientName', 'PatientID', 'PatientBirthDate', 'PatientSex', 'AccessionNumber', 'StudyInstanceUID',
    'RequestedProcedureDescription', 'RequestedProcedureID',
    'ScheduledProcedureStepSequence[0].Modality',
    `ScheduledProcedureStepSequence[0].ScheduledStationAETitle=${station}`,
    `ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=${date}`,
    'ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime',
    'ScheduledProcedureStepSequence[0].ScheduledProcedureStepDescription',
    'ScheduledProcedureStepSequence[0].ScheduledProcedureStepID',
  ];
}

let clientNoDelay: boolean | undefined;

/** Does findscu (the client) need TCP_NODELAY=1? Same queries with and without, alternated. */
async function calibrateNoDelay(server: Server, picks: Order[], logConfig: string): Promise<void> {
  const plain: number[] = [];
  const nodelay: number[] = [];
  const echoPlain: number[] = [];
  const echoNoDelay: number[] = [];
  const withNoDelay = { ...FINDSCU_ENV, TCP_NODELAY: '1' };
  for (let i = 0; i < 6; i++) {
    const o = picks[i % picks.length]!;
    for (const [env, into] of [[FINDSCU_ENV, plain], [withNoDelay, nodelay]] as const) {
      const result = await findscu(server.orthanc.dicomPort, worklistKeys(o.station, o.date), logConfig, env, CLIENT_TIMEOUT_MS + 5000);
      if (!result.failure) into.push(result.ms);
    }
    for (const [env, into] of [[FINDSCU_ENV, echoPlain], [withNoDelay, echoNoDelay]] as const) {
      const result = await findscu(server.orthanc.dicomPort, [], logConfig, env, 30000, 'echoscu');
      if (!result.failure) into.push(result.ms);
    }
  }
  const med = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50);
  const [p, d, ep, ed] = [med(plain), med(nodelay), med(echoPlain), med(echoNoDelay)];
  clientNoDelay = Number.isFinite(p) && Number.isFinite(d) && p - d > 20;
  const verdict = clientNoDelay
    ? `the client side needs it (${ms(p - d)} ms of Nagle/delayed-ACK wait without): the worklist row is measured with TCP_NODELAY=1 in findscu's environment only`
    : 'the client side does not need it: the worklist row is measured with findscu\'s default environment (no TCP_NODELAY)';
  note(`TCP_NODELAY calibration (Orthanc never has it): worklist C-FIND p50 ${ms(p)} ms with findscu's default, ${ms(d)} ms with TCP_NODELAY=1 in findscu's environment; C-ECHO ${ms(ep)} vs ${ms(ed)} ms: ${verdict}`);
  if (Number.isFinite(ed) && ed > 30) note(`a C-ECHO takes ${ms(ed)} ms even with TCP_NODELAY=1 on the client: the server side (Orthanc with the plugin) still waits for delayed ACKs`);
}

async function ordersPhase(orderTable: Table): Promise<void> {
  const dir = KEEP ? join(KEEP, 'orders') : mkdtempSync(join(tmpdir(), 'orthanc-fhir-scale-orders-'));
  mkdirSync(dir, { recursive: true });
  const logConfig = join(dir, 'findscu-log.cfg');
  writeFileSync(logConfig, `${FINDSCU_LOGGER}\n`);
  log(`orders: Orthanc on ${dir}`);
  const options = await partOptions('orders',
    { Enable: true, RequestTimeout: TIMEOUT_S, Worklist: { Enable: true } },
    { DicomAlwaysAllowFindWorklist: true, DefaultEncoding: 'Utf8' });
  const orthanc = await Orthanc.start({ dir, ...options });
  checkBuild('the start of the orders phase');
  const server = newServer(orthanc, 'orders');
  try {
    await describeServer(server);
    const journal = new OrderJournal(join(dir, 'scale-orders.jsonl'));
    if (journal.orders > 0) log(`orders: the journal knows ${journal.orders} orders`);
    await reconcile(server, journal);

    // The studies beside the orders (patients and accession numbers of orders 0, 5, 10, ...).
    const cross = Array.from({ length: CROSS_STUDIES }, (_, i) => orderStudy(i));
    const present = await presentInstances(server);
    const crossTodo = cross.flatMap(instances).filter((instance) => !present.has(instance.id));
    if (crossTodo.length > 0) {
      await upload(server, crossTodo, 'orders folder');
      // Stable (StableAge 2 s) and followed by the plugin before any order exists: no Task is completed by them.
      await settle(orthanc, 60, 4);
    }

    for (const target of ORDER_SIZES) {
      if (stopping) break;
      if (journal.orders > target && target !== ORDER_SIZES[ORDER_SIZES.length - 1]) {
        note(`orders: ${count(target)} skipped, the kept folder already holds ${journal.orders} orders`);
        continue;
      }
      const phaseStart = Date.now();
      const growth = await growOrders(server, journal, target);
      const have = journal.orders;
      const column = orderTable.column(have === target ? `${count(target)} orders` : `${have} orders (of ${count(target)})`);
      if (growth.orders > 0) {
        const rate = growth.resources / growth.seconds;
        orderTable.set(ORDER_ROWS.ingest, column, { text: `${rate.toFixed(0)}/s (${(growth.orders / growth.seconds).toFixed(0)} orders/s)`, value: rate });
        timings.push(`orders to ${count(target)}: ${growth.orders} generated in ${(growth.seconds / 60).toFixed(1)} min = ${(growth.seconds / growth.orders * 10000).toFixed(0)} s per 10k orders`);
        lastRates.orders = (growth.seconds / growth.orders) * 10000;
      } else {
        orderTable.set(ORDER_ROWS.ingest, column, { text: 'reused (kept folder)' });
      }
      if (growth.failure) note(`orders: growth to ${count(target)} stopped: ${growth.failure}; measured at ${have}`);
      if (stopping) break;
      const idle = await settle(orthanc, SETTLE_MAX_S);
      log(`orders: ${have} orders; Orthanc idle after ${idle.toFixed(0)} s; measuring`);
      const measureStart = Date.now();
      await measureOrders(server, journal, orderTable, column, logConfig, cross);
      rssCell(server, orderTable, column, ORDER_ROWS.rss);
      await restartAndFirst(server, orderTable, column, ORDER_ROWS.up, ORDER_ROWS.first, '/fhir/Task?status=requested&_count=20');
      timings.push(`orders at ${count(have)}: measurements ${((Date.now() - measureStart) / 60000).toFixed(1)} min (this size in all ${((Date.now() - phaseStart) / 60000).toFixed(1)} min)`);
      if (growth.failure) break;
    }
    if (orderTable.columns.length > 0 && journal.orders > 0) {
      await twoOrthancs('orders', orderTable.columns[orderTable.columns.length - 1]!, server, options, [
        { name: '`Task?status=requested&_count=20`', path: () => '/fhir/Task?status=requested&_count=20' },
        { name: '`ServiceRequest/<id>`', path: (next) => `/fhir/ServiceRequest/${journal.sr[pickOrder(journal, next)]}` },
        { name: '`ServiceRequest?identifier=`', path: (next) => `/fhir/ServiceRequest?identifier=${encodeURIComponent(`${ACCESSION_SYSTEM}|${order(pickOrder(journal, next)).accession}`)}` },
        { name: '`Task?based-on=`', path: (next) => `/fhir/Task?based-on=ServiceRequest/${journal.sr[pickOrder(journal, next)]}` },
        { name: '`Patient?given=`', path: (next) => `/fhir/Patient?given=${encodeURIComponent(givenPrefix(orderPatient(order(pickOrder(journal, next)).patient).given))}` },
      ]);
    }
  } finally {
    server.agent.destroy();
    await orthanc.dispose();
    if (!KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

/** A random order among those created. */
function pickOrder(journal: OrderJournal, next: () => number): number {
  for (;;) {
    const n = Math.floor(next() * journal.end);
    if (journal.has(n)) return n;
  }
}

async function measureOrders(server: Server, journal: OrderJournal, table: Table, column: number, logConfig: string, cross: ReturnType<typeof orderStudy>[]): Promise<void> {
  const size = journal.end;
  if (journal.orders === 0) {
    note(`orders at ${table.columns[column]}: no order, nothing measured`);
    return;
  }
  // What the data says, for the checks and the worklist picks.
  const requested: Order[] = [];
  const perStationDay = new Map<string, number>();
  for (let n = 0; n < size; n++) {
    if (!journal.has(n)) continue;
    const o = order(n);
    if (!o.requested) continue;
    requested.push(o);
    const key = `${o.station} ${o.date}`;
    perStationDay.set(key, (perStationDay.get(key) ?? 0) + 1);
  }
  const ordersOf = (p: number) => Array.from({ length: ORDERS_PER_PATIENT }, (_, k) => p * ORDERS_PER_PATIENT + k).filter((n) => journal.has(n)).length;

  await measure(table, column, ORDER_ROWS.taskRequested, server, () =>
    fhirSample(server, '/fhir/Task?status=requested&_count=20', (bundle) => {
      const got = matches(bundle);
      if (got.length !== Math.min(20, requested.length)) return `${got.length} matches, the data says ${Math.min(20, requested.length)}`;
      return got.every((e) => e.resource?.status === 'requested') ? undefined : 'a match is not requested';
    }));
  await measure(table, column, ORDER_ROWS.srIdentifier, server, (next) =>
    fhirSample(server, `/fhir/ServiceRequest?identifier=${encodeURIComponent(`${ACCESSION_SYSTEM}|${order(pickOrder(journal, next)).accession}`)}`, expectMatches(1)));
  await measure(table, column, ORDER_ROWS.taskRead, server, (next) => fhirSample(server, `/fhir/Task/${journal.task[pickOrder(journal, next)]}`));
  await measure(table, column, ORDER_ROWS.taskBasedOn, server, (next) =>
    fhirSample(server, `/fhir/Task?based-on=ServiceRequest/${journal.sr[pickOrder(journal, next)]}`, expectMatches(1)));
  await measure(table, column, ORDER_ROWS.srPatient, server, (next) => {
    const p = order(pickOrder(journal, next)).patient;
    return fhirSample(server, `/fhir/ServiceRequest?patient=Patient/${journal.patient[p]}`, expectMatches(Math.min(20, ordersOf(p))));
  });
  await measure(table, column, ORDER_ROWS.patientGiven, server, (next) =>
    fhirSample(server, `/fhir/Patient?given=${encodeURIComponent(givenPrefix(orderPatient(order(pickOrder(journal, next)).patient).given))}`,
      (bundle) => (matches(bundle).length > 0 ? undefined : 'no match')));

  if (requested.length === 0) {
    note(`worklist at ${table.columns[column]}: no requested Task, nothing to query`);
  } else {
    if (clientNoDelay === undefined) {
      const calibration = random(SEED);
      await calibrateNoDelay(server, Array.from({ length: 6 }, () => requested[Math.floor(calibration() * requested.length)]!), logConfig);
    }
    const env = clientNoDelay ? { ...FINDSCU_ENV, TCP_NODELAY: '1' } : FINDSCU_ENV;
    const row = ORDER_ROWS.worklist;
    table.label(row, `${row}${clientNoDelay ? ', findscu with TCP_NODELAY=1 (see the notes)' : ''}`);
    await measure(table, column, row, server, async (next) => {
      const o = requested[Math.floor(next() * requested.length)]!;
      const result: FindResult = await findscu(server.orthanc.dicomPort, worklistKeys(o.station, o.date), logConfig, env, CLIENT_TIMEOUT_MS + 5000);
      if (result.failure) return { ms: result.wallMs, failure: result.failure };
      const wanted = perStationDay.get(`${o.station} ${o.date}`) ?? 0;
      return { ms: result.ms, ...(result.answers !== wanted ? { wrong: `${result.answers} answers, the data says ${wanted}` } : {}) };
    });
  }
  await measure(table, column, ORDER_ROWS.crossRead, server, (next) =>
    fhirSample(server, `/fhir/ImagingStudy/${studyId(cross[Math.floor(next() * cross.length)]!)}`, (body) => {
      const based = body.basedOn?.[0]?.reference as string | undefined;
      return based?.startsWith('ServiceRequest/') || !journal.has(0) ? undefined : 'no basedOn reference to its order';
    }));
  await measure(table, column, ORDER_ROWS.system, server, async () => asSample(await get(server, '/system', 'application/json')));
}

// --- studies phase ----------------------------------------------------------------

/** The R4 view (src/interactions/version-view.ts): the same requests, answered in R4. */
const R4_ACCEPT = 'application/fhir+json; fhirVersion=4.0';
/** The common modality of the reverse chain beside the rare one. */
const COMMON_MODALITY = 'CT';

const STUDY_ROWS = {
  read: '`ImagingStudy/<id>` (read)',
  readR4: `\`ImagingStudy/<id>\` (read), R4 view (\`Accept: ${R4_ACCEPT}\`; interleaved with R5 reads, see below)`,
  started: '`ImagingStudy?started=ge<date>&_count=20` (~3% match)',
  startedR4: '`ImagingStudy?started=ge<date>&_count=20`, R4 view (interleaved with R5, see below)',
  modality: `\`ImagingStudy?modality=${RARE_MODALITY}\` (1% of the studies)`,
  sort: '`ImagingStudy?_sort=-started&_count=20`',
  patientGiven: '`Patient?given=<3 letters>` (patients from DICOM)',
  patient: '`ImagingStudy?patient=Patient/<id>`',
  // \| : a pipe inside a markdown table cell, even in a code span.
  chain: '`ImagingStudy?patient.identifier=<system>\\|<PatientID>` (chain; a patient\'s 3 studies)',
  hasRare: `\`Patient?_has:ImagingStudy:patient:modality=${RARE_MODALITY}\` (reverse chain, default \`_count\` 20; ~3% of the patients)`,
  hasRareTotal: `\`Patient?_has:ImagingStudy:patient:modality=${RARE_MODALITY}&_total=accurate\``,
  hasCommon: `\`Patient?_has:ImagingStudy:patient:modality=${COMMON_MODALITY}\` (~66% of the patients)`,
  identifier: '`ImagingStudy?identifier=<accession>`',
  system: 'native `GET /system`',
  findDate: 'native `POST /tools/find` Study, StudyDate `<date>-` (~3%), Expand',
  findAccession: 'native `POST /tools/find` Study, AccessionNumber, Expand',
  findPatientStudies: 'native `POST /tools/find` Patient, PatientID, then `GET /patients/<id>/studies` (the chain\'s answer)',
  findModality: `native \`POST /tools/find\` Study, ModalitiesInStudy ${RARE_MODALITY}, Expand (its patients: the reverse chain's answer, all of it)`,
  rss: 'Orthanc RSS after the measurements',
  ingest: `ingest: \`POST /instances\`, ${UPLOADS} in parallel (instances/s)`,
  up: 'restart: Orthanc up (`/system` answers)',
  first: 'restart: first `ImagingStudy?started=ge<date>&_count=20`',
};

const R4_ROWS = {
  read: '`ImagingStudy/<id>` (read)',
  started: '`ImagingStudy?started=ge<date>&_count=20` (a page of 20)',
};
/** The R4 view against R5, per size: the p50s of R4 and R5 requests sent interleaved in one cell. */
const r4Table = new Table('request: R4 p50 / R5 p50', Object.values(R4_ROWS));

/** Whether an ImagingStudy is in R4's shape (modality a Coding) or R5's (a CodeableConcept). */
function studyVersion(resource: Json | undefined): 'R4' | 'R5' | '?' {
  const modality = (resource?.modality as Json[] | undefined)?.[0];
  if (typeof modality?.code === 'string') return 'R4';
  if (Array.isArray(modality?.coding)) return 'R5';
  return '?';
}

async function studiesPhase(studyTable: Table): Promise<void> {
  selfCheck();
  const dir = KEEP ? join(KEEP, 'studies') : mkdtempSync(join(tmpdir(), 'orthanc-fhir-scale-studies-'));
  mkdirSync(dir, { recursive: true });
  log(`studies: Orthanc on ${dir}`);
  const options = await partOptions('studies', { Enable: true, RequestTimeout: TIMEOUT_S });
  const orthanc = await Orthanc.start({ dir, ...options });
  checkBuild('the start of the studies phase');
  const server = newServer(orthanc, 'studies');
  /** The largest size measured, for the two-Orthanc throughput. */
  let largest: { size: number; startedPath: string } | undefined;
  try {
    await describeServer(server);
    for (const target of STUDY_SIZES) {
      if (stopping) break;
      const phaseStart = Date.now();
      const present = await presentInstances(server);
      const todo: Instance[] = [];
      for (let s = 0; s < target; s++) for (const instance of instances(study(s))) if (!present.has(instance.id)) todo.push(instance);
      let uploaded: Upload = { seconds: 0, failed: 0, sent: 0, outOfTime: false };
      if (todo.length > 0) {
        log(`studies: sending ${todo.length} missing instances (to ${target} studies), ${UPLOADS} in parallel`);
        uploaded = await upload(server, todo, `studies to ${count(target)}`);
      }
      const stats = JSON.parse((await get(server, '/statistics', 'application/json')).body) as { CountStudies: number; CountInstances: number };
      if (stats.CountStudies > target && target !== STUDY_SIZES[STUDY_SIZES.length - 1]) {
        note(`studies: ${count(target)} skipped, the kept folder already holds ${stats.CountStudies} studies`);
        continue;
      }
      const have = stats.CountStudies;
      const column = studyTable.column(stats.CountStudies === target ? `${count(target)} studies` : `${stats.CountStudies} studies (of ${count(target)})`);
      r4Table.column(studyTable.columns[column]!);
      if (uploaded.sent > 0 && uploaded.seconds > 0) {
        const rate = (uploaded.sent - uploaded.failed) / uploaded.seconds;
        studyTable.set(STUDY_ROWS.ingest, column, { text: `${rate.toFixed(0)}/s`, value: rate });
        const studiesSent = new Set(todo.slice(0, uploaded.sent).map((i) => i.study.s)).size;
        timings.push(`studies to ${count(target)}: ${studiesSent} studies (${uploaded.sent} instances) sent in ${(uploaded.seconds / 60).toFixed(1)} min = ${(uploaded.seconds / studiesSent * 10000).toFixed(0)} s per 10k studies`);
        lastRates.studies = (uploaded.seconds / studiesSent) * 10000;
      } else {
        studyTable.set(STUDY_ROWS.ingest, column, { text: 'reused (kept folder)' });
      }
      if (uploaded.outOfTime) note(`studies: growth to ${count(target)} stopped: SCALE_GROW_MINUTES=${GROW_MINUTES} reached; measured at ${stats.CountStudies} studies`);
      const idle = await settle(orthanc, SETTLE_MAX_S, todo.length > 0 ? 4 : 0);
      if (idle >= SETTLE_MAX_S) note(`studies at ${count(target)}: Orthanc still busy ${SETTLE_MAX_S} s after the upload; measured anyway`);
      timings.push(`studies at ${count(target)}: Orthanc busy ${idle.toFixed(0)} s after the upload (the plugin following Orthanc's changes)`);
      log(`studies: ${stats.CountStudies} studies, ${stats.CountInstances} instances; idle after ${idle.toFixed(0)} s; measuring`);
      const measureStart = Date.now();
      const startedPath = await measureStudies(server, have, studyTable, column);
      if (have > 0) largest = { size: have, startedPath };
      rssCell(server, studyTable, column, STUDY_ROWS.rss);
      await restartAndFirst(server, studyTable, column, STUDY_ROWS.up, STUDY_ROWS.first, startedPath);
      timings.push(`studies at ${count(have)}: measurements ${((Date.now() - measureStart) / 60000).toFixed(1)} min (this size in all ${((Date.now() - phaseStart) / 60000).toFixed(1)} min)`);
      if (uploaded.outOfTime) break;
    }
    if (largest) {
      const { size, startedPath } = largest;
      const pick = (next: () => number) => study(Math.floor(next() * size));
      await twoOrthancs('studies', studyTable.columns[studyTable.columns.length - 1]!, server, options, [
        { name: '`ImagingStudy/<id>`', path: (next) => `/fhir/ImagingStudy/${studyId(pick(next))}` },
        { name: `\`ImagingStudy?modality=${RARE_MODALITY}\``, path: () => `/fhir/ImagingStudy?modality=${RARE_MODALITY}` },
        { name: '`ImagingStudy?started=ge<date>&_count=20`', path: () => startedPath },
        { name: '`Patient?given=`', path: (next) => `/fhir/Patient?given=${encodeURIComponent(givenPrefix(pick(next).person.given))}` },
      ]);
    }
  } finally {
    server.agent.destroy();
    await orthanc.dispose();
    if (!KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

/** Measures at `size` studies; returns the started=ge path used after the restart. */
async function measureStudies(server: Server, size: number, table: Table, column: number): Promise<string> {
  // What the data says: studies by day (for ~3% cut-offs), of the rare modality, per patient.
  const byDay = new Uint32Array(STUDY_DAYS);
  let rare = 0;
  /** Patients (by index) with a study of the rare modality, of the common one: the reverse chains' answers. */
  const rarePatients = new Set<number>();
  const commonPatients = new Set<number>();
  for (let s = 0; s < size; s++) {
    const one = study(s);
    byDay[one.day]!++;
    if (one.modality === RARE_MODALITY) {
      rare++;
      rarePatients.add(Math.floor(s / STUDIES_PER_PATIENT));
    }
    if (one.modality === COMMON_MODALITY) commonPatients.add(Math.floor(s / STUDIES_PER_PATIENT));
  }
  /** The day from which `fraction` of the studies are on or after it, and how many. */
  const cutOff = (fraction: number) => {
    let after = 0;
    for (let day = STUDY_DAYS - 1; day >= 0; day--) {
      after += byDay[day]!;
      if (after >= fraction * size) return { day, after };
    }
    return { day: 0, after };
  };
  const dayFor = (next: () => number) => cutOff(0.025 + next() * 0.01);
  const patients = Math.ceil(size / STUDIES_PER_PATIENT);
  const studiesOf = (q: number) => Math.min(size, (q + 1) * STUDIES_PER_PATIENT) - q * STUDIES_PER_PATIENT;
  const pick = (next: () => number) => study(Math.floor(next() * size));
  if (size === 0) {
    note(`studies at ${table.columns[column]}: no study, nothing measured`);
    return `/fhir/ImagingStudy?started=ge2024-01-01&_count=20`;
  }

  /**
   * The R4 view against R5 on one kind of request, interleaved: each sample
   * sends one request in each version (on picks of their own, the order
   * alternating), so that neither gets the warmer cache or the quieter
   * moment. The R4 latencies make the R4 row's cell; the ratio is of the
   * two p50s.
   */
  const versus = async (r4Row: string, ratioRow: string, request: (next: () => number) => { path: string; check: (body: Json, version: 'R4' | 'R5') => string | undefined }) => {
    const r5: number[] = [];
    const r5Failures = new Map<string, number>();
    const r4 = await measure(table, column, r4Row, server, async (next, i) => {
      const inR4 = request(next);
      const inR5 = request(next);
      const r5Sample = async () => {
        const sample = asSample(await get(server, inR5.path), (body) => inR5.check(body, 'R5'));
        const failure = sample.failure ?? sample.wrong;
        if (failure) r5Failures.set(failure, (r5Failures.get(failure) ?? 0) + 1);
        else r5.push(sample.ms);
      };
      if (i % 2 === 1) await r5Sample();
      const sample = asSample(await get(server, inR4.path, R4_ACCEPT), (body) => inR4.check(body, 'R4'));
      if (i % 2 === 0) await r5Sample();
      return sample;
    });
    if (r5Failures.size > 0) note(`${r4Row} at ${table.columns[column]}: the R5 requests beside it: ${[...r5Failures].map(([what, k]) => `${k}x ${what}`).join('; ')}`);
    r5.sort((a, b) => a - b);
    const r5p50 = percentile(r5, 50);
    r4Table.set(ratioRow, column, r4 === undefined || !Number.isFinite(r5p50) ? { text: '—' }
      : { text: `${ratio(r4 / r5p50)} (${ms(r4)} / ${ms(r5p50)} ms, ${r5.length} pairs)` });
  };
  const inVersion = (body: Json | undefined, version: 'R4' | 'R5') => {
    const got = studyVersion(body);
    return got === version ? undefined : `an ImagingStudy in ${got}'s shape, not ${version}'s`;
  };
  await measure(table, column, STUDY_ROWS.read, server, (next) => fhirSample(server, `/fhir/ImagingStudy/${studyId(pick(next))}`));
  await versus(STUDY_ROWS.readR4, R4_ROWS.read, (next) => ({ path: `/fhir/ImagingStudy/${studyId(pick(next))}`, check: inVersion }));
  await measure(table, column, STUDY_ROWS.started, server, (next) => {
    const { day, after } = dayFor(next);
    return fhirSample(server, `/fhir/ImagingStudy?started=ge${studyDate(day)}&_count=20`, expectMatches(Math.min(20, after)));
  });
  await versus(STUDY_ROWS.startedR4, R4_ROWS.started, (next) => {
    const { day, after } = dayFor(next);
    return {
      path: `/fhir/ImagingStudy?started=ge${studyDate(day)}&_count=20`,
      check: (bundle, version) => expectMatches(Math.min(20, after))(bundle) ?? inVersion(matches(bundle)[0]?.resource, version),
    };
  });
  await measure(table, column, STUDY_ROWS.modality, server, () =>
    fhirSample(server, `/fhir/ImagingStudy?modality=${RARE_MODALITY}`, expectMatches(Math.min(20, rare))));
  await measure(table, column, STUDY_ROWS.sort, server, () =>
    fhirSample(server, '/fhir/ImagingStudy?_sort=-started&_count=20', (bundle) => {
      const got = matches(bundle).map((e) => String(e.resource?.started ?? ''));
      if (got.length !== Math.min(20, size)) return `${got.length} matches, the data says ${Math.min(20, size)}`;
      return got.every((value, i) => i === 0 || value <= got[i - 1]!) ? undefined : 'not sorted by started, descending';
    }));
  await measure(table, column, STUDY_ROWS.patientGiven, server, (next) =>
    fhirSample(server, `/fhir/Patient?given=${encodeURIComponent(givenPrefix(pick(next).person.given))}`, (bundle) => (matches(bundle).length > 0 ? undefined : 'no match')));
  await measure(table, column, STUDY_ROWS.patient, server, (next) => {
    const q = Math.floor(next() * patients);
    return fhirSample(server, `/fhir/ImagingStudy?patient=Patient/${patientOrthancId(study(q * STUDIES_PER_PATIENT).person)}`, expectMatches(studiesOf(q)));
  });
  // The chain: a patient's identifier as its Patient carries it (PatientID, under the system the server gives it).
  const first = study(0).person;
  let idSystem = '';
  const patientAnswer = await get(server, `/fhir/Patient/${patientOrthancId(first)}`);
  if (patientAnswer.status === 200) {
    const found = ((JSON.parse(patientAnswer.body) as Json).identifier as Json[] | undefined)?.find((i) => i.value === first.patientId);
    if (found) idSystem = typeof found.system === 'string' ? found.system : '';
    else note(`studies at ${table.columns[column]}: Patient/${patientOrthancId(first)} has no identifier ${first.patientId}; the chain searches '|<PatientID>'`);
  } else {
    note(`studies at ${table.columns[column]}: Patient/${patientOrthancId(first)}: ${patientAnswer.failure ?? patientAnswer.status}; the chain searches '|<PatientID>'`);
  }
  if (column === 0) note(`the chain's identifier: ${idSystem === '' ? 'PatientID without a system (the server gives none), searched as \`|<PatientID>\`' : `system ${idSystem}`}`);
  await measure(table, column, STUDY_ROWS.chain, server, (next) => {
    const q = Math.floor(next() * patients);
    const value = `${idSystem}|${study(q * STUDIES_PER_PATIENT).person.patientId}`;
    return fhirSample(server, `/fhir/ImagingStudy?patient.identifier=${encodeURIComponent(value)}`, expectMatches(studiesOf(q)));
  });
  // The reverse chain: the patients with a study of a modality (the first page), against what the data says.
  const hasCheck = (patientsWith: number, total: boolean) => (bundle: Json) => {
    const got = matches(bundle);
    if (got.length !== Math.min(20, patientsWith)) return `${got.length} matches, the data says ${Math.min(20, patientsWith)}`;
    if (got.some((e) => e.resource?.resourceType !== 'Patient')) return 'a match is not a Patient';
    if (total && bundle.total !== patientsWith) return `total ${bundle.total}, the data says ${patientsWith}`;
    return undefined;
  };
  await measure(table, column, STUDY_ROWS.hasRare, server, () =>
    fhirSample(server, `/fhir/Patient?_has:ImagingStudy:patient:modality=${RARE_MODALITY}`, hasCheck(rarePatients.size, false)));
  await measure(table, column, STUDY_ROWS.hasRareTotal, server, () =>
    fhirSample(server, `/fhir/Patient?_has:ImagingStudy:patient:modality=${RARE_MODALITY}&_total=accurate`, hasCheck(rarePatients.size, true)));
  await measure(table, column, STUDY_ROWS.hasCommon, server, () =>
    fhirSample(server, `/fhir/Patient?_has:ImagingStudy:patient:modality=${COMMON_MODALITY}`, hasCheck(commonPatients.size, false)));
  await measure(table, column, STUDY_ROWS.identifier, server, (next) =>
    fhirSample(server, `/fhir/ImagingStudy?identifier=${encodeURIComponent(pick(next).accession)}`, expectMatches(1)));
  await measure(table, column, STUDY_ROWS.system, server, async () => asSample(await get(server, '/system', 'application/json')));
  const find = async (query: Record<string, string>, wanted: number) => {
    const answer = await httpRequest(server.agent, server.orthanc.httpPort, 'POST', '/tools/find', {
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Level: 'Study', Query: query, Expand: true }), timeoutMs: CLIENT_TIMEOUT_MS,
    });
    return asSample(answer, (found) => ((found as unknown as unknown[]).length === wanted ? undefined : `${(found as unknown as unknown[]).length} studies, the data says ${wanted}`));
  };
  await measure(table, column, STUDY_ROWS.findDate, server, (next) => {
    const { day, after } = dayFor(next);
    return find({ StudyDate: `${studyDate(day).replace(/-/g, '')}-` }, after);
  });
  await measure(table, column, STUDY_ROWS.findAccession, server, (next) => find({ AccessionNumber: pick(next).accession }, 1));
  const post = (level: string, query: Record<string, string>, expand: boolean) =>
    httpRequest(server.agent, server.orthanc.httpPort, 'POST', '/tools/find', {
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Level: level, Query: query, Expand: expand }), timeoutMs: CLIENT_TIMEOUT_MS,
    });
  await measure(table, column, STUDY_ROWS.findPatientStudies, server, async (next) => {
    const q = Math.floor(next() * patients);
    const found = await post('Patient', { PatientID: study(q * STUDIES_PER_PATIENT).person.patientId }, false);
    if (found.failure || found.status !== 200) return asSample(found);
    const ids = JSON.parse(found.body) as string[];
    if (ids.length !== 1) return { ms: found.ms, wrong: `${ids.length} patients, the data says 1` };
    const studies = await httpRequest(server.agent, server.orthanc.httpPort, 'GET', `/patients/${ids[0]}/studies`, { timeoutMs: CLIENT_TIMEOUT_MS });
    const sample = asSample(studies, (list) => ((list as unknown as unknown[]).length === studiesOf(q) ? undefined : `${(list as unknown as unknown[]).length} studies, the data says ${studiesOf(q)}`));
    return { ...sample, ms: found.ms + studies.ms };
  });
  await measure(table, column, STUDY_ROWS.findModality, server, async () =>
    asSample(await post('Study', { ModalitiesInStudy: RARE_MODALITY }, true), (found) => {
      const patientsFound = new Set((found as unknown as Json[]).map((one) => one.ParentPatient)).size;
      return patientsFound === rarePatients.size ? undefined : `${patientsFound} patients, the data says ${rarePatients.size}`;
    }));
  return `/fhir/ImagingStudy?started=ge${studyDate(cutOff(0.03).day)}&_count=20`;
}

/**
 * PostgreSQL's ERROR/FATAL lines counted by message and statement, most
 * frequent first: the serialization failures that the store retries are
 * expected under concurrent writes, anything else is worth a look.
 */
function postgresErrors(text: string): string | undefined {
  const lines = text.split('\n');
  const kinds = new Map<string, number>();
  lines.forEach((line, i) => {
    const error = /\b(ERROR|FATAL|PANIC):\s+(.*)$/.exec(line);
    if (!error) return;
    // DETAIL and HINT lines may come first; the STATEMENT line names what failed.
    const statement = lines.slice(i + 1, i + 4).map((l) => /\bSTATEMENT:\s+(.*)$/.exec(l)?.[1]).find((s) => s !== undefined);
    const key = `${error[1]}: ${error[2]!.slice(0, 120)}${statement ? ` (in \`${statement.slice(0, 120)}\`)` : ''}`;
    kinds.set(key, (kinds.get(key) ?? 0) + 1);
  });
  if (kinds.size === 0) return undefined;
  return [...kinds].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([what, k]) => `${k}x ${what}`).join('; ')
    + (kinds.size > 6 ? `; and ${kinds.size - 6} other messages` : '');
}

// --- the run --------------------------------------------------------------------------

const header: string[] = [];

async function describeServer(server: Server): Promise<void> {
  if (header.length > 0) return;
  const system = JSON.parse((await get(server, '/system', 'application/json')).body) as Json;
  let plugin = '?';
  for (let i = 0; i < 100; i++) {
    const metadata = await get(server, '/fhir/metadata');
    if (metadata.status === 200) {
      plugin = (JSON.parse(metadata.body) as Json).software?.version ?? '?';
      break;
    }
    await sleep(100);
  }
  header.push(`Orthanc ${system.Version}, orthanc-fhir ${plugin} (dist/plugin/ built ${buildTime()}), ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}`);
}

async function main(): Promise<void> {
  log(`bench:scale: orders ${ORDER_SIZES.map(count).join(', ') || 'none'}; studies ${STUDY_SIZES.map(count).join(', ') || 'none'}; `
    + `up to ${SAMPLES} requests a cell (${CELL_SECONDS} s), time-out ${TIMEOUT_S} s; ${KEEP ? `data kept in ${KEEP}` : 'data in a temporary folder'}; store ${STORE}`);
  if (inheritedNoDelay !== undefined) note(`TCP_NODELAY=${inheritedNoDelay} was in the environment: removed for Orthanc and findscu`);
  const orderTable = new Table('request', Object.values(ORDER_ROWS));
  const studyTable = new Table('request', Object.values(STUDY_ROWS));
  let failure: unknown;
  let store = 'SQLite (the default): the FHIR store in SQLite, Orthanc\'s own SQLite index';
  try {
    if (STORE === 'postgresql') {
      cluster = await PostgresCluster.start();
      log(`PostgreSQL: a throw-away cluster on port ${cluster.port}, in ${cluster.dir}`);
      store = `PostgreSQL ${(await cluster.psql('SHOW server_version')).trim()} (a throw-away cluster on loopback, default settings but fsync on), `
        + `one database per part holding Orthanc's index (Debian's PostgreSQL index plugin, IndexConnectionsCount ${PG_INDEX_CONNECTIONS}) and the FHIR tables (schema fhir)`;
    }
    if (ORDER_SIZES.length > 0) await ordersPhase(orderTable);
    if (STUDY_SIZES.length > 0 && !stopping) await studiesPhase(studyTable);
  } catch (error) {
    failure = error;
    log(`failed: ${(error as Error)?.stack ?? String(error)}`);
  } finally {
    if (cluster) {
      const errors = postgresErrors(await cluster.log());
      if (errors) note(`PostgreSQL's log (its folder is removed): ${errors}`);
      await cluster.dispose();
    }
  }
  const out: string[] = [];
  out.push(`## orthanc-fhir at scale (\`npm run bench:scale\`), ${STORE === 'postgresql' ? 'PostgreSQL' : 'SQLite'} store`, '');
  out.push(`${header[0] ?? ''}; ${new Date().toISOString().slice(0, 16)}Z, ${((Date.now() - benchStart) / 60000).toFixed(1)} min in all.`);
  out.push(`Store: ${store}.`);
  out.push(`Settings: --store ${STORE} SCALE_ORDERS=${ORDER_SIZES.join(',')} SCALE_STUDIES=${STUDY_SIZES.join(',')} SCALE_SAMPLES=${SAMPLES} SCALE_CELL_SECONDS=${CELL_SECONDS} `
    + `SCALE_TIMEOUT=${TIMEOUT_S} SCALE_GROW_MINUTES=${GROW_MINUTES} SCALE_TX_ORDERS=${TX_ORDERS} SCALE_TX_CONCURRENCY=${TX_CONCURRENCY} SCALE_UPLOADS=${UPLOADS} SCALE_SEED=${SEED}${KEEP ? ` SCALE_KEEP_DIR=${KEEP}` : ''}`
    + `${cluster ? ` SCALE_CLIENTS=${THROUGHPUT_CLIENTS} SCALE_THROUGHPUT_SECONDS=${THROUGHPUT_SECONDS}` : ''}.`);
  out.push(`Cells: p50 / p95 in ms over up to ${SAMPLES} sequential requests on one keep-alive connection (values picked at random, seeded, among what exists), `
    + `(Nx): the p50 against the smallest size; [n=...]: fewer requests (a cell stops after ${CELL_SECONDS} s, or 2 time-outs of ${TIMEOUT_S} s); `
    + '!: some answers differ from what the data says (see the notes). Worklist: the C-FIND\'s own latency in findscu\'s log (request sent to final response), without findscu\'s start-up and association.');
  if (orderTable.columns.length > 0) {
    out.push('', `### orders (${TX_ORDERS} per transaction with their Patients, 1 Patient per ${ORDERS_PER_PATIENT} orders, 10 stations, scheduled over a year, 10% of the Tasks requested)`, '', orderTable.render());
  }
  if (studyTable.columns.length > 0) {
    out.push('', `### studies (1-3 series of one 16x16 image each, ${STUDIES_PER_PATIENT} per patient, 2000-2024, NM 1% of the studies)`, '', studyTable.render());
    out.push('', '### the R4 view against R5 (studies)', '',
      `The p50 of a request answered in R4 (\`Accept: ${R4_ACCEPT}\`: the R5 answer converted at the edge, src/interactions/version-view.ts) `
      + 'over the same kind of request in R5, at each size, sent interleaved in one cell: each sample one request in each version, on picks of their own, '
      + 'the order alternating (so neither gets the warmer cache or the quieter moment); the R4 p50 is the R4 row\'s of the table above.', '', r4Table.render());
  }
  if (throughputMeasured > 0) {
    out.push('', `### two Orthancs on one database (PostgreSQL), read throughput`, '',
      `At the largest size of each part, a second Orthanc B (the same database and storage folder, its own ports) beside A: ${THROUGHPUT_CLIENTS} clients, `
      + `each on its own keep-alive connection sending its next request when answered, for ${THROUGHPUT_SECONDS} s on A alone, then split across A and B; `
      + `requests/s answered 200 (A + B the share of each), p50 / p95, and (Nx) the rate of two against one. The machine has ${cpus().length} cores, `
      + 'shared by both Orthancs, PostgreSQL and this client: the ratio is bounded by them, not by the store.', '', throughputTable.render());
  }
  if (notes.length > 0) out.push('', 'Notes:', ...notes.map((n) => `- ${n}`));
  if (lastRates.orders !== undefined || lastRates.studies !== undefined) {
    const minutes = (per10k: number | undefined, items: number) => (per10k === undefined ? undefined : (per10k * items) / 10000 / 60);
    const [o, st] = [minutes(lastRates.orders, 1e6), minutes(lastRates.studies, 1e5)];
    timings.push(`generating the default sizes from scratch at the last steps' rates (linear; the rates fall as the data grows, so more): `
      + `${o === undefined ? '' : `1M orders ~${o.toFixed(0)} min`}${o !== undefined && st !== undefined ? ', ' : ''}${st === undefined ? '' : `100k studies ~${st.toFixed(0)} min`}`);
  }
  if (timings.length > 0) out.push('', 'Timings:', ...timings.map((t) => `- ${t}`));
  if (failure) out.push('', `The run stopped early: ${String((failure as Error)?.message ?? failure).slice(0, 500)}`);
  if (stopping) out.push('', 'Interrupted (Ctrl-C): the tables hold what was measured so far.');
  process.stdout.write(`${out.join('\n')}\n`);
  if (failure) process.exitCode = 1;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
