// npx tsx bench/worklist.ts: Modality Worklist C-FIND latency with ORDERS
// scheduled orders, our plugin beside Debian's ModalityWorklists sample plugin
// serving the same entries as .wl files, in one run (about 3 minutes at 10,000).
//
//  1. Orthanc A: this plugin, worklist enabled. ORDERS orders (Patient +
//     ServiceRequest + Task each; 5 modalities, 4 stations each, 100 days,
//     names with non-ASCII letters) loaded with FHIR transactions.
//  2. One universal C-FIND against A (findscu -W -X, every key the plugin
//     fills) gives the same ORDERS entries as DICOM files (Part 10, written by
//     findscu as received): each is read back with dcmjs in process, checked
//     against the order it came from, and renamed to a .wl file as it is.
//  3. Orthanc B: only the sample plugin, reading that folder.
//  4. Queries a modality sends: (a) a station's worklist for one day, (b) a
//     modality over a week, (c) one PatientID, (d) universal. Each query type
//     runs with several parameter sets, each set as one findscu association
//     with --repeat (the universal query on ours: one association per query):
//     the latency of one query is the time from "Sending Find Request" to
//     "Received Final Find Response" in findscu's own log (microsecond
//     timestamps), so findscu's start-up and the association are not in it
//     (they are reported apart, as the wall time of a whole findscu run that
//     finds nothing). Answer counts are checked against the orders (the
//     oracle) on both servers, and answers of (a)-(c) compared key by key.
//
// Environment: BENCH_ORDERS, BENCH_RUNS, BENCH_SETS, BENCH_UNIVERSAL_RUNS,
// BENCH_UNIVERSAL_RUNS_SAMPLE, BENCH_TX_ORDERS, BENCH_NAGLE=1 (DCMTK's default
// Nagle, see below), BENCH_KEEP=1 (keep the temporary folder of .wl files).
import dcmjs from 'dcmjs';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Orthanc, WORKLISTS_PLUGIN } from '../test/support/orthanc';
import { DCM, patient, serviceRequest, task } from '../test/support/orders';
import { percentile } from './load';
// mulberry32, seeded: every run has the same orders and queries.
import { random } from './scale-data';

const ORDERS = Number(process.env.BENCH_ORDERS ?? 10000);
/** Queries per type and server (parameter sets x --repeat). */
const RUNS = Number(process.env.BENCH_RUNS ?? 12);
const SETS = Number(process.env.BENCH_SETS ?? 4);
/** Universal queries on ours and on the sample (ours takes tens of seconds at 10,000). */
const UNIVERSAL_RUNS = Number(process.env.BENCH_UNIVERSAL_RUNS ?? 1);
/** Universal queries on the sample per association (one association per run on ours). */
const UNIVERSAL_RUNS_SAMPLE = Number(process.env.BENCH_UNIVERSAL_RUNS_SAMPLE ?? 5);
/**
 * Debian's DCMTK (Orthanc's and findscu's) leaves Nagle's algorithm on unless
 * TCP_NODELAY=1 is in the environment: every DIMSE round trip then waits for
 * delayed ACKs, about 40 ms per side on loopback (a C-ECHO takes ~88 ms, 0.1 ms
 * with TCP_NODELAY=1). That floor would hide the servers' own work, so both
 * Orthancs (they inherit this environment) and findscu run with TCP_NODELAY=1;
 * BENCH_NAGLE=1 keeps DCMTK's default.
 */
if (!process.env.BENCH_NAGLE) process.env.TCP_NODELAY = '1';
/** Orders per transaction (3 entries each). */
const TX_ORDERS = Number(process.env.BENCH_TX_ORDERS ?? 25);
const TX_CONCURRENCY = 2;
const DAYS = 100;
const FIRST_DAY = Date.UTC(2030, 5, 1);
/**
 * Orthanc 1.10 transcodes every worklist answer to its DefaultEncoding
 * (Latin1 unless configured), whatever the item's or the query's
 * SpecificCharacterSet, dropping what Latin-1 cannot say (Иванова -> '',
 * Łukasz -> ukasz), with either plugin. UTF-8 on both servers keeps the names.
 */
const UTF8 = { DefaultEncoding: 'Utf8' };
const FHIR_JSON = { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' };

type Json = Record<string, any>;

// --- the orders ----------------------------------------------------------

const PROCEDURES: Record<string, { code: string; display: string }> = {
  CT: { code: '24627-2', display: 'CT Chest' },
  MR: { code: '24590-2', display: 'MR Brain' },
  US: { code: '24558-9', display: 'US Abdomen' },
  CR: { code: '36643-5', display: 'XR Chest 2 Views' },
  MG: { code: '24606-6', display: 'MG Breast Screening' },
};
const MODALITIES = Object.keys(PROCEDURES);
const STATIONS_PER_MODALITY = 4;
const FAMILY = ['Müller', 'Martin', 'Dupont', 'García', 'Núñez', 'Kowalski', 'Østergaard', 'Smith', 'Björk', 'Çelik',
  'Dvořák', 'Nguyễn', 'Παπαδόπουλος', 'Иванова', '山田', 'O\'Brien', 'Lefèvre', 'Schmidt', 'Jansen', 'Rossi'];
const GIVEN = ['Jürgen', 'Anne', 'José', 'Zoë', 'Łukasz', 'François', 'Ana', 'Ελένη', 'Ольга', '太郎', 'Mary', 'Sven',
  'Ingrid', 'Ahmet', 'Jiří', 'Thảo', 'Paul', 'Chloé', 'Lars', 'Giulia'];

interface Order {
  n: number;
  patientId: string;
  family: string;
  given: string;
  accession: string;
  modality: string;
  station: string;
  /** YYYYMMDD */
  date: string;
  /** HHMMSS */
  time: string;
  start: string;
}


const pick = <T>(next: () => number, values: readonly T[]): T => values[Math.floor(next() * values.length)]!;
const pad = (value: number, width = 2) => String(value).padStart(width, '0');
const dayString = (day: number) => new Date(FIRST_DAY + day * 86400000).toISOString().slice(0, 10).replace(/-/g, '');

function makeOrders(): Order[] {
  const next = random(42);
  return Array.from({ length: ORDERS }, (_, n) => {
    const modality = pick(next, MODALITIES);
    const station = `${modality}${pad(1 + Math.floor(next() * STATIONS_PER_MODALITY))}`;
    const day = Math.floor(next() * DAYS);
    const slot = Math.floor(next() * 44); // 07:00 .. 17:45, every 15 minutes
    const [hh, mm] = [7 + Math.floor(slot / 4), (slot % 4) * 15];
    const iso = new Date(FIRST_DAY + day * 86400000).toISOString().slice(0, 10);
    return {
      n, patientId: `WLB-${pad(n, 5)}`, family: pick(next, FAMILY), given: pick(next, GIVEN), accession: `WLBA${pad(n, 6)}`,
      modality, station, date: dayString(day), time: `${pad(hh)}${pad(mm)}00`, start: `${iso}T${pad(hh)}:${pad(mm)}:00Z`,
    };
  });
}

function transaction(orders: Order[]): Json {
  const entry: Json[] = [];
  for (const order of orders) {
    const p = `urn:uuid:${randomUUID()}`;
    const sr = `urn:uuid:${randomUUID()}`;
    const procedure = PROCEDURES[order.modality]!;
    entry.push(
      { fullUrl: p, resource: patient(order.patientId, order.family, order.given), request: { method: 'POST', url: 'Patient' } },
      {
        fullUrl: sr,
        resource: serviceRequest(p, order.accession, {
          occurrenceDateTime: order.start,
          code: { concept: { coding: [{ system: 'http://loinc.org', code: procedure.code, display: procedure.display }], text: procedure.display } },
        }),
        request: { method: 'POST', url: 'ServiceRequest' },
      },
      {
        resource: task(sr, p, {
          requestedPeriod: { start: order.start },
          owner: { type: 'Device', identifier: { system: 'urn:dicom:ae', value: order.station }, display: order.station },
          input: [{ type: { coding: [{ system: DCM, code: '121139' }] }, valueCodeableConcept: { coding: [{ system: DCM, code: order.modality }] } }],
        }),
        request: { method: 'POST', url: 'Task' },
      },
    );
  }
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

async function fill(orthanc: Orthanc, orders: Order[]): Promise<number> {
  const started = Date.now();
  let next = 0;
  await Promise.all(Array.from({ length: TX_CONCURRENCY }, async () => {
    while (next < orders.length) {
      const batch = orders.slice(next, next + TX_ORDERS);
      next += batch.length;
      const response = await fetch(`${orthanc.fhirUrl}`, { method: 'POST', headers: FHIR_JSON, body: JSON.stringify(transaction(batch)) });
      const body = (await response.json()) as Json;
      const failed = (body.entry as Json[] | undefined)?.find((e) => !String(e.response?.status).startsWith('201'));
      if (response.status !== 200 || failed) {
        throw new Error(`transaction of orders ${batch[0]!.n}..: ${response.status} ${JSON.stringify(failed ?? body).slice(0, 500)}`);
      }
    }
  }));
  return (Date.now() - started) / 1000;
}

async function total(orthanc: Orthanc, type: string): Promise<number> {
  const response = await fetch(`${orthanc.fhirUrl}/${type}?_summary=count`, { headers: FHIR_JSON });
  return ((await response.json()) as Json).total as number;
}

// --- findscu -------------------------------------------------------------

/** Every key the plugin fills (worklist-item.ts), as return keys. */
const RETURN_KEYS = [
  'SpecificCharacterSet', 'PatientName', 'PatientID', 'IssuerOfPatientID', 'PatientBirthDate', 'PatientSex',
  'AccessionNumber', 'ReferringPhysicianName', 'StudyInstanceUID', 'RequestingPhysician', 'RequestedProcedureDescription',
  'RequestedProcedureCodeSequence[0].CodeValue', 'RequestedProcedureCodeSequence[0].CodingSchemeDesignator',
  'RequestedProcedureCodeSequence[0].CodeMeaning', 'RequestedProcedureID', 'RequestedProcedurePriority',
  'ReasonForTheRequestedProcedure',
];
const STEP_KEYS = ['Modality', 'ScheduledStationAETitle', 'ScheduledProcedureStepStartDate', 'ScheduledProcedureStepStartTime',
  'ScheduledProcedureStepDescription', 'ScheduledProcedureStepID', 'ScheduledPerformingPhysicianName'];

/** The keys of a query: matching values given, every other key returned. */
function queryKeys(top: Record<string, string>, step: Record<string, string>): string[] {
  return [
    ...RETURN_KEYS.map((key) => (top[key] !== undefined ? `${key}=${top[key]}` : key)),
    ...STEP_KEYS.map((key) => `ScheduledProcedureStepSequence[0].${key}${step[key] !== undefined ? `=${step[key]}` : ''}`),
  ];
}

interface Query {
  label: string;
  keys: string[];
  expected: number;
}

// findscu's log with microsecond timestamps; with -sr (no dataset dumps) it says
// "Sending Find Request (MsgID n)", "Received Find Response n (Pending)" for
// each answer and "Received Final Find Response (Success)".
const LOGGER = [
  'log4cplus.rootLogger = INFO, console',
  'log4cplus.appender.console = log4cplus::ConsoleAppender',
  'log4cplus.appender.console.layout = log4cplus::PatternLayout',
  'log4cplus.appender.console.layout.ConversionPattern = %D{%H:%M:%S.%Q} %m%n',
].join('\n');

/**
 * findscu's options besides the keys. Its socket timeout (-ts, 60 s by
 * default) aborts a query whose first answer takes longer: Orthanc sends
 * nothing until the plugin has built every answer, which for a universal
 * query on ours at 10,000 items is about that long. No socket timeout here;
 * run() kills findscu at 180 s instead.
 */
const FINDSCU = ['-aet', 'MODALITY', '-aec', 'ORTHANC', '-ts', '0'];

function run(command: string, args: string[], timeoutMs = 180000): Promise<{ stdout: string; stderr: string; ms: number }> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    execFile(command, args, { encoding: 'utf8', maxBuffer: 256 * 2 ** 20, timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')}: ${error.message}\n${stderr.slice(-2000)}`));
      else resolve({ stdout, stderr, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
    });
  });
}

interface Timed {
  /** Latency of each query, ms. */
  latencies: number[];
  /** Answers of each query. */
  counts: number[];
}

/** Per query: latency and answer count, from findscu's log (see LOGGER). */
function parseFindLog(output: string, queries: number, what: string): Timed {
  const result: Timed = { latencies: [], counts: [] };
  const lines = output.split('\n');
  const fail = (i: number, why: string) => {
    const context = lines.slice(Math.max(0, i - 3), i + 12).filter((l) => !/Received Find Response \d+ \(Pending\)/.test(l));
    return new Error(`findscu (${what}): ${why}\n  ${context.join('\n  ')}`);
  };
  let start: number | undefined;
  let count = 0;
  for (const [i, line] of lines.entries()) {
    const match = /^(\d\d):(\d\d):(\d\d)\.(\d{3})\.(\d{3}) (.*)$/.exec(line);
    if (!match) continue;
    const [, h, m, s, ms, us, text] = match;
    const t = ((Number(h) * 60 + Number(m)) * 60 + Number(s)) * 1000 + Number(ms) + Number(us) / 1000;
    if (text!.startsWith('Sending Find Request')) {
      start = t;
      count = 0;
    } else if (text!.startsWith('Received Final Find Response')) {
      if (start === undefined) throw fail(i, 'a final response before a request');
      if (!/\(Success\)/.test(text!)) throw fail(i, text!);
      result.latencies.push(t >= start ? t - start : t + 86400000 - start);
      result.counts.push(count);
      start = undefined;
    } else if (/^Received Find Response \d+/.test(text!)) {
      count++;
    } else if (/error|fail|abort/i.test(text!)) {
      throw fail(i, text!);
    }
  }
  if (result.latencies.length !== queries) throw fail(lines.length - 12, `${result.latencies.length} of ${queries} queries completed`);
  return result;
}

/** One association, `repeat` times the query. */
async function timedQueries(port: number, keys: string[], repeat: number, logConfig: string, what = `port ${port}`): Promise<Timed> {
  const args = ['-W', ...FINDSCU, '-lc', logConfig, '-sr', '--repeat', String(repeat),
    ...keys.flatMap((k) => ['-k', k]), '127.0.0.1', String(port)];
  const { stdout, stderr } = await run('findscu', args);
  return parseFindLog(`${stdout}\n${stderr}`, repeat, what);
}

/** Median C-ECHO round trip in one association, from echoscu's log. */
async function echoes(port: number, logConfig: string): Promise<number> {
  const { stdout, stderr } = await run('echoscu', ['-aec', 'ORTHANC', '-lc', logConfig, '--repeat', '10', '127.0.0.1', String(port)]);
  const times: number[] = [];
  let start: number | undefined;
  for (const line of `${stdout}\n${stderr}`.split('\n')) {
    const match = /^(\d\d):(\d\d):(\d\d)\.(\d{3})\.(\d{3}) (.*)$/.exec(line);
    if (!match) continue;
    const t = ((Number(match[1]) * 60 + Number(match[2])) * 60 + Number(match[3])) * 1000 + Number(match[4]) + Number(match[5]) / 1000;
    if (match[6]!.startsWith('Sending Echo Request')) start = t;
    else if (match[6]!.startsWith('Received Echo Response') && start !== undefined) times.push(t >= start ? t - start : t + 86400000 - start);
  }
  return percentile(sorted(times), 50);
}

/** One findscu run extracting the answers as DICOM files (rsp0001.dcm, ...) into `dir`, and its latency. */
async function extract(port: number, keys: string[], dir: string, logConfig: string): Promise<{ files: string[]; ms: number }> {
  mkdirSync(dir, { recursive: true });
  const { stdout, stderr } = await run('findscu', ['-W', ...FINDSCU, '-lc', logConfig, '-sr', '-X', '-od', dir,
    ...keys.flatMap((k) => ['-k', k]), '127.0.0.1', String(port)]);
  const timed = parseFindLog(`${stdout}\n${stderr}`, 1, `extract from port ${port}`);
  const files = readdirSync(dir).filter((f) => /^rsp\d+\.dcm$/.test(f)).sort().map((f) => join(dir, f));
  if (files.length !== timed.counts[0]) throw new Error(`findscu -X wrote ${files.length} files for ${timed.counts[0]} answers`);
  return { files, ms: timed.latencies[0]! };
}

// --- DICOM files (dcmjs, in process) --------------------------------------

interface DcmjsReader {
  DicomMessage: { readFile(buffer: ArrayBuffer): { dict: unknown } };
  DicomMetaDictionary: { naturalizeDataset(dict: unknown): Json };
}
const reader = dcmjs.data as unknown as DcmjsReader;

function readDicom(file: string): Json {
  const bytes = readFileSync(file);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const dataset = reader.DicomMetaDictionary.naturalizeDataset(reader.DicomMessage.readFile(buffer).dict);
  delete dataset._meta;
  delete dataset._vrMap;
  return dataset;
}

const text = (value: unknown): string => {
  const first = Array.isArray(value) ? value[0] : value;
  if (first && typeof first === 'object') return String((first as Json).Alphabetic ?? '');
  return first === undefined || first === null ? '' : String(first).trim();
};

/** An answer as plain keyword -> string, sequences as arrays of the same, for comparisons. */
function plain(dataset: Json): Json {
  const result: Json = {};
  for (const [key, value] of Object.entries(dataset)) {
    if (key.startsWith('_')) continue;
    result[key] = Array.isArray(value) && value.length > 0 && typeof value[0] === 'object' && !('Alphabetic' in value[0])
      ? value.map((item: Json) => plain(item))
      : text(value);
  }
  return result;
}

/** The answer's facts that the order fixes: what the .wl file must say. */
function checkAgainstOrder(answer: Json, order: Order | undefined, file: string): void {
  const step = (answer.ScheduledProcedureStepSequence as Json[] | undefined)?.[0] ?? {};
  const seen = {
    PatientName: answer.PatientName, PatientID: answer.PatientID, Modality: step.Modality,
    ScheduledStationAETitle: step.ScheduledStationAETitle, ScheduledProcedureStepStartDate: step.ScheduledProcedureStepStartDate,
    ScheduledProcedureStepStartTime: step.ScheduledProcedureStepStartTime,
  };
  const wanted = order && {
    PatientName: `${order.family}^${order.given}`, PatientID: order.patientId, Modality: order.modality,
    ScheduledStationAETitle: order.station, ScheduledProcedureStepStartDate: order.date, ScheduledProcedureStepStartTime: order.time,
  };
  if (JSON.stringify(seen) !== JSON.stringify(wanted)) {
    throw new Error(`${file} (AccessionNumber ${answer.AccessionNumber}): ${JSON.stringify(seen)}, expected ${JSON.stringify(wanted)}`);
  }
}

// --- the report -------------------------------------------------------------

const ms = (value: number) => `${value.toFixed(1).padStart(7)} ms`;
const sorted = (values: number[]) => [...values].sort((a, b) => a - b);

async function measure(label: string, queries: Query[], repeat: number, a: Orthanc, b: Orthanc, logConfig: string, sampleRepeat = repeat): Promise<boolean> {
  const ours: number[] = [];
  const sample: number[] = [];
  let agree = true;
  const counts = { ours: [] as number[], sample: [] as number[], orders: queries.map((query) => query.expected) };
  for (const query of queries) {
    for (const [server, into, key, times] of [[a, ours, 'ours', repeat], [b, sample, 'sample', sampleRepeat]] as const) {
      const timed = await timedQueries(server.dicomPort, query.keys, times, logConfig, `${key}, ${label} [${query.label}]`);
      into.push(...timed.latencies);
      if (timed.counts.some((count) => count !== timed.counts[0])) {
        agree = false;
        console.log(`  MISMATCH ${label} [${query.label}] on ${key}: the same query answered ${timed.counts.join('/')} items`);
      }
      if (timed.counts[0] !== query.expected) {
        agree = false;
        console.log(`  MISMATCH ${label} [${query.label}] on ${key}: ${timed.counts.join('/')} answers, the orders say ${query.expected}`);
      }
      counts[key].push(timed.counts[0]!);
    }
  }
  const [o, s] = [sorted(ours), sorted(sample)];
  const [o50, s50] = [percentile(o, 50), percentile(s, 50)];
  console.log(`${label}: ${queries.map((q) => q.label).join(', ')}`);
  console.log(`    answers ours ${counts.ours.join('/')}, sample ${counts.sample.join('/')}, orders ${counts.orders.join('/')}`);
  console.log(`    ours p50 ${ms(o50)} p99 ${ms(percentile(o, 99))} | sample p50 ${ms(s50)} p99 ${ms(percentile(s, 99))} | ours/sample p50 ${(o50 / s50).toFixed(2)}x p99 ${(percentile(o, 99) / percentile(s, 99)).toFixed(2)}x  (${o.length} + ${s.length} queries)`);
  return agree;
}

async function main(): Promise<void> {
  const benchStart = Date.now();
  const work = mkdtempSync(join(tmpdir(), 'orthanc-fhir-wl-bench-'));
  const database = join(work, 'worklists');
  mkdirSync(database);
  const logConfig = join(work, 'findscu-log.cfg');
  writeFileSync(logConfig, `${LOGGER}\n`);
  let a: Orthanc | undefined;
  let b: Orthanc | undefined;
  try {
    const orders = makeOrders();
    const byAccession = new Map(orders.map((order) => [order.accession, order]));

    // 1. Orthanc A with the orders.
    a = await Orthanc.start({ fhir: { Enable: true, Worklist: { Enable: true } }, extra: { DicomAlwaysAllowFindWorklist: true, ...UTF8 }, verbose: false });
    console.log(`orthanc-fhir worklist benchmark: ${ORDERS} scheduled orders (${MODALITIES.length} modalities, ${MODALITIES.length * STATIONS_PER_MODALITY} stations, ${DAYS} days)`);
    console.log(`loading: transactions of ${TX_ORDERS} orders (Patient + ServiceRequest + Task each), ${TX_CONCURRENCY} at a time...`);
    const fillSeconds = await fill(a, orders);
    const [patients, requests, tasks] = [await total(a, 'Patient'), await total(a, 'ServiceRequest'), await total(a, 'Task')];
    console.log(`loaded in ${fillSeconds.toFixed(1)} s (${(ORDERS / fillSeconds).toFixed(0)} orders/s): ${patients} Patient, ${requests} ServiceRequest, ${tasks} Task`);
    if (patients !== ORDERS || requests !== ORDERS || tasks !== ORDERS) throw new Error(`expected ${ORDERS} of each`);

    // 2. The same entries as .wl files: a universal query's answers, checked against the orders.
    const universalKeys = queryKeys({}, {});
    const t0 = Date.now();
    const { files, ms: extractMs } = await extract(a.dicomPort, universalKeys, join(work, 'universal'), logConfig);
    const extractSeconds = (Date.now() - t0) / 1000;
    if (files.length !== ORDERS) throw new Error(`the universal query on ours answered ${files.length} items, not ${ORDERS}`);
    const seen = new Set<string>();
    let nonAscii = 0;
    for (const [i, file] of files.entries()) {
      const answer = readDicom(file);
      const accession = text(answer.AccessionNumber);
      checkAgainstOrder(plain(answer), byAccession.get(accession), file);
      if (seen.has(accession)) throw new Error(`AccessionNumber ${accession} answered twice`);
      seen.add(accession);
      if (/[^\x00-\x7f]/.test(text(answer.PatientName))) nonAscii++;
      renameSync(file, join(database, `${pad(i + 1, 5)}.wl`));
    }
    console.log(`worklist files: ${files.length} items from one universal C-FIND on ours (query ${(extractMs / 1000).toFixed(1)} s, findscu -X run ${extractSeconds.toFixed(1)} s), each checked against its order (${nonAscii} names not ASCII, intact), saved as ${files.length} .wl files (${((Date.now() - t0) / 1000 - extractSeconds).toFixed(1)} s)`);

    // 3. Orthanc B: the sample plugin alone, on those files.
    b = await Orthanc.start({
      withPlugin: false,
      extraPlugins: [WORKLISTS_PLUGIN],
      extra: { Worklists: { Enable: true, Database: database }, DicomAlwaysAllowFindWorklist: true, ...UTF8 },
      verbose: false,
    });
    const check = (await timedQueries(b.dicomPort, queryKeys({}, { ScheduledStationAETitle: orders[0]!.station }), 1, logConfig)).counts[0];
    const expectedCheck = orders.filter((o) => o.station === orders[0]!.station).length;
    console.log(`sample plugin reads them: station ${orders[0]!.station} has ${check} items on the sample (orders: ${expectedCheck})`);
    if (check !== expectedCheck) throw new Error('the sample plugin does not serve the .wl files');

    // 4. The queries: parameter sets from a seeded generator, expected counts from the orders.
    const next = random(7);
    const stations = MODALITIES.flatMap((m) => Array.from({ length: STATIONS_PER_MODALITY }, (_, i) => `${m}${pad(i + 1)}`));
    const count = (keep: (o: Order) => boolean) => orders.filter(keep).length;
    const sets = <T>(make: () => T) => Array.from({ length: SETS }, make);
    const stationDay: Query[] = sets(() => {
      const [station, date] = [pick(next, stations), dayString(Math.floor(next() * DAYS))];
      return { label: `${station} ${date}`, keys: queryKeys({}, { ScheduledStationAETitle: station, ScheduledProcedureStepStartDate: date }), expected: count((o) => o.station === station && o.date === date) };
    });
    const modalityWeek: Query[] = sets(() => {
      const [modality, day] = [pick(next, MODALITIES), Math.floor(next() * (DAYS - 7))];
      const [from, to] = [dayString(day), dayString(day + 6)];
      return { label: `${modality} ${from}-${to}`, keys: queryKeys({}, { Modality: modality, ScheduledProcedureStepStartDate: `${from}-${to}` }), expected: count((o) => o.modality === modality && o.date >= from && o.date <= to) };
    });
    const byPatient: Query[] = sets(() => {
      const order = pick(next, orders);
      return { label: order.patientId, keys: queryKeys({ PatientID: order.patientId }, {}), expected: count((o) => o.patientId === order.patientId) };
    });
    const nothing: Query = { label: 'PatientID=nobody', keys: queryKeys({ PatientID: 'nobody' }, {}), expected: 0 };
    const universal: Query = { label: 'universal', keys: universalKeys, expected: ORDERS };

    // Same answers, key by key, on both servers for one query of each kind.
    let agree = true;
    for (const query of [stationDay[0]!, modalityWeek[0]!, byPatient[0]!]) {
      const [ours, sample] = await Promise.all([a, b].map(async (server, i) => {
        const dir = join(work, `compare-${i}`);
        const answers = (await extract(server.dicomPort, query.keys, dir, logConfig)).files.map((file) => JSON.stringify(plain(readDicom(file))));
        rmSync(dir, { recursive: true, force: true });
        return answers.sort();
      }));
      const same = JSON.stringify(ours) === JSON.stringify(sample);
      agree &&= same && ours.length === query.expected;
      console.log(`answers compared key by key [${query.label}]: ours ${ours!.length}, sample ${sample!.length}, orders ${query.expected}: ${same ? 'identical' : 'DIFFERENT'}`);
      if (!same) {
        const only = (x: string[], y: string[]) => x.filter((item) => !y.includes(item)).slice(0, 2);
        console.log(`  only in ours:   ${only(ours!, sample!).join('\n                  ')}`);
        console.log(`  only in sample: ${only(sample!, ours!).join('\n                  ')}`);
      }
    }

    // Warm-up, then the measurements.
    for (const server of [a, b]) await timedQueries(server.dicomPort, stationDay[0]!.keys, 2, logConfig);
    const repeat = Math.max(1, Math.round(RUNS / SETS));
    console.log('');
    console.log(`C-FIND latency in one association per parameter set (${SETS} sets x --repeat ${repeat}), ${RETURN_KEYS.length + STEP_KEYS.length} return keys, TCP_NODELAY ${process.env.TCP_NODELAY === '1' ? 'on' : 'off (DCMTK default: Nagle)'}; with ${RUNS} queries p99 is the slowest`);
    agree = (await measure('(a) station + day (AE title, date)', stationDay, repeat, a, b, logConfig)) && agree;
    agree = (await measure('(b) modality + 7-day date range', modalityWeek, repeat, a, b, logConfig)) && agree;
    agree = (await measure('(c) PatientID', byPatient, repeat, a, b, logConfig)) && agree;
    agree = (await measure('    no match (PatientID=nobody)', [nothing], repeat * 2, a, b, logConfig)) && agree;
    // One association per universal query on ours: at 10,000 items one takes about a minute.
    agree = (await measure(`(d) universal (all ${ORDERS}; ours: ${UNIVERSAL_RUNS} association(s) x 1, sample: ${UNIVERSAL_RUNS} x ${UNIVERSAL_RUNS_SAMPLE})`,
      Array.from({ length: UNIVERSAL_RUNS }, () => universal), 1, a, b, logConfig, UNIVERSAL_RUNS_SAMPLE)) && agree;

    if (extractMs > 30000) {
      console.log(`note: the universal query on ours answers nothing for ${(extractMs / 1000).toFixed(0)} s (every item is built before the first is sent): past 60 s a default findscu (-ts 60) aborts the association; modalities often wait 30-60 s`);
    }

    // What one findscu process adds around a query (start-up, association, release).
    const walls = { ours: [] as number[], sample: [] as number[] };
    for (let i = 0; i < 5; i++) {
      for (const [server, key] of [[a, 'ours'], [b, 'sample']] as const) {
        const args = ['-W', ...FINDSCU, ...nothing.keys.flatMap((k) => ['-k', k]), '127.0.0.1', String(server.dicomPort)];
        walls[key].push((await run('findscu', args)).ms);
      }
    }
    const [wo, ws] = [sorted(walls.ours), sorted(walls.sample)];
    console.log(`whole findscu run, no match (start-up + association + query): ours p50 ${ms(percentile(wo, 50))}, sample p50 ${ms(percentile(ws, 50))} (5 runs each)`);
    const echo = await echoes(a.dicomPort, logConfig);
    console.log(`C-ECHO round trip on ours (DICOM floor, no worklist): p50 ${ms(echo)} (10 in one association)`);
    console.log(`answer counts: ${agree ? 'ours and the sample agree with the orders everywhere' : 'MISMATCH (see above)'}`);
    console.log(`benchmark time ${((Date.now() - benchStart) / 1000).toFixed(0)} s`);
    if (!agree) process.exitCode = 1;
  } finally {
    await a?.dispose();
    await b?.dispose();
    if (!process.env.BENCH_KEEP) rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
