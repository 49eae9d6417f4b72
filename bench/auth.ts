// npm run bench:auth: the cost of SMART on FHIR authorization (#12), measured
// in one run against the same server with it off.
//
// Two Orthancs with the plugin and DICOMweb, started from the same
// configuration but "Fhir.Authorization": one with it on (a JWKS file written
// by the test issuer, RegisteredUsers for Basic), one with it off. Both get
// the same data with storescu (PATIENTS patients, STUDIES studies of
// INSTANCES CT instances), then, closed loop (CLIENTS keep-alive clients,
// SECONDS per measurement), ROUNDS rounds with the off and on runs of each
// route interleaved (their order flipped every round) to cancel drift; the
// median of the rounds is reported:
//  1. GET /fhir/ImagingStudy/<id>: off, on with a user/*.rs token, on with a
//     patient-context token (patient/*.rs + patient claim) reading that
//     patient's studies (all three read the same studies);
//  2. GET /fhir/ImagingStudy?_count=10: the same (the patient-context search
//     is narrowed to the patient, so it is also compared with ?patient= off);
//  3. GET /dicom-web/studies/<uid>/metadata: off without a token, on with a
//     user/ImagingStudy.rs and with a patient/ImagingStudy.rs token (the
//     request filter's round trip, plus the UID lookup for the patient);
//  4. native GET /system as the reference: off, and on with Basic
//     credentials of RegisteredUsers or an AdminScope token (the request
//     filter's round trip and the credentials check, not audited).
// Tokens go on every request (Authorization: Bearer); the verifier caches a
// verified token. Every answer's status is checked: anything but 200 is an
// error. Besides req/s and latency, the Orthanc's own CPU time per request
// (from /proc: all its threads, the plugin's JavaScript and the audit
// trail's writes included) is shown: it is less disturbed than req/s by the
// load generator sharing the machine. The auth-on Orthanc writes an
// AuditEvent per access to /fhir and the images (in batches); how many were
// written during the rounds is counted with an admin token.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { orthancPatientId } from '../src/resources/patient-identity';
import { makeDicomFiles, newUid, storescu, type InstanceSpec } from '../test/support/dicom';
import { TestIssuer } from '../test/support/issuer';
import { Orthanc } from '../test/support/orthanc';
import { describe as line, load, type LoadResult, type RequestSpec } from './load';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PATIENTS = Number(process.env.BENCH_PATIENTS ?? 5);
const STUDIES = Number(process.env.BENCH_STUDIES ?? 20);
const INSTANCES = Number(process.env.BENCH_INSTANCES ?? 3);

const ISSUER = 'https://issuer.bench.example.org';
const AUDIENCE = 'https://pacs.bench.example.org/fhir';
const ADMIN_SCOPE = 'orthanc/admin';
const BASIC = `Basic ${Buffer.from('clerk:s3cret').toString('base64')}`;
const FHIR = { accept: 'application/fhir+json' };
const DICOM_JSON = { accept: 'application/dicom+json' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Json = Record<string, any>;
type Side = 'off' | 'on';

interface Case {
  key: string;
  group: string;
  label: string;
  side: Side;
  token: string;
  /** The case this one is compared with (an auth-off one). */
  base?: string;
  /** Audited by the auth-on Orthanc (an AuditEvent per request). */
  audited: boolean;
  next: () => RequestSpec;
}

interface Measured {
  results: LoadResult[];
  /** The Orthanc's CPU time (user + system) per request, ms, per round. */
  cpu: number[];
  /** Statuses other than 200 seen (0: no answer), with their counts. */
  statuses: Map<number, number>;
}

async function get(orthanc: Orthanc, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${orthanc.url}${path}`, { headers });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    // not JSON
  }
  return { status: response.status, body };
}

async function ok(orthanc: Orthanc, path: string, headers: Record<string, string> = {}): Promise<any> {
  const answer = await get(orthanc, path, headers);
  if (answer.status !== 200) throw new Error(`GET ${path}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 500)}`);
  return answer.body;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function dataset(): { specs: InstanceSpec[]; patientIds: string[]; studyUids: string[][] } {
  const specs: InstanceSpec[] = [];
  const patientIds = Array.from({ length: PATIENTS }, (_, p) => `BENCH-AUTH-${p + 1}`);
  const studyUids: string[][] = patientIds.map(() => []);
  for (let s = 0; s < STUDIES; s++) {
    const p = s % PATIENTS;
    const studyUid = newUid();
    const seriesUid = newUid();
    studyUids[p]!.push(studyUid);
    for (let i = 1; i <= INSTANCES; i++) {
      specs.push({
        patientId: patientIds[p]!, patientName: `Bench^Auth${p + 1}`, birthDate: '19700101', sex: 'O',
        studyUid, studyDate: '20240101', studyTime: '101010', accessionNumber: `BA${String(s + 1).padStart(6, '0')}`,
        seriesUid, seriesNumber: 1, modality: 'CT', sopInstanceUid: newUid(), instanceNumber: i,
      });
    }
  }
  return { specs, patientIds, studyUids };
}

/** Until the FHIR ImagingStudy search shows every study. */
async function waitIndexed(orthanc: Orthanc, headers: Record<string, string>): Promise<number> {
  const started = Date.now();
  let total = -1;
  while (Date.now() - started < 120000) {
    total = (await ok(orthanc, '/fhir/ImagingStudy?_summary=count', { ...FHIR, ...headers })).total as number;
    if (total === STUDIES) return (Date.now() - started) / 1000;
    await sleep(250);
  }
  throw new Error(`ImagingStudy search shows ${total} of ${STUDIES} studies after 120 s`);
}

async function auditCount(orthanc: Orthanc, admin: string): Promise<number> {
  return (await ok(orthanc, '/fhir/AuditEvent?_summary=count', { ...FHIR, ...bearer(admin) })).total as number;
}

/**
 * The AuditEvent count once it has stopped growing (the trail flushes every
 * 200 ms) and reached `atLeast`. Every count query is itself audited: a poll
 * that finds one more event than the last one has found only that query's.
 * Returns the count and how many count queries were made.
 */
async function settledAuditCount(orthanc: Orthanc, admin: string, atLeast = 0): Promise<{ count: number; queries: number }> {
  const deadline = Date.now() + 60000;
  let last = await auditCount(orthanc, admin);
  let queries = 1;
  let still = 0;
  while (Date.now() < deadline) {
    await sleep(500);
    const now = await auditCount(orthanc, admin);
    queries += 1;
    still = now - last <= 1 ? still + 1 : 0;
    last = now;
    if (now >= atLeast && still >= 2) break;
  }
  return { count: last, queries };
}

async function measure(orthancs: Record<Side, Orthanc>, c: Case, seconds: number, into?: Measured): Promise<LoadResult> {
  const statuses = new Map<number, number>();
  const onResponse = (status: number) => {
    if (status !== 200) statuses.set(status, (statuses.get(status) ?? 0) + 1);
  };
  const cpuBefore = cpuMs(orthancs[c.side]);
  const result = await load(orthancs[c.side].httpPort, c.next, { clients: CLIENTS, seconds, onResponse });
  const cpu = (cpuMs(orthancs[c.side]) - cpuBefore) / result.requests;
  // Failures without an answer (the observer saw none of them).
  const seen = [...statuses.values()].reduce((a, b) => a + b, 0);
  if (result.errors > seen) statuses.set(0, result.errors - seen);
  if (into) {
    into.results.push(result);
    into.cpu.push(cpu);
    for (const [status, n] of statuses) into.statuses.set(status, (into.statuses.get(status) ?? 0) + n);
  }
  return result;
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU time used so far by the Orthanc process (all its threads: user + system), ms. */
function cpuMs(orthanc: Orthanc): number {
  // The fields after the command name (in parentheses, which may hold spaces): utime and stime are the 12th and 13th.
  const stat = readFileSync(`/proc/${orthanc.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

const totalErrors = (m: Measured) => m.results.reduce((sum, r) => sum + r.errors, 0);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function summary(m: Measured): { perSecond: number; p50: number; p99: number; cpu: number; errors: number; requests: number } {
  return {
    cpu: median(m.cpu),
    perSecond: median(m.results.map((r) => r.perSecond)),
    p50: median(m.results.map((r) => r.p50)),
    p99: median(m.results.map((r) => r.p99)),
    errors: totalErrors(m),
    requests: m.results.reduce((sum, r) => sum + r.requests, 0),
  };
}

const statusText = (statuses: Map<number, number>) =>
  [...statuses].sort(([a], [b]) => a - b).map(([status, n]) => `${status === 0 ? 'no answer' : status} x${n}`).join(', ');
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

async function main(): Promise<void> {
  const benchStart = Date.now();
  const scratch = mkdtempSync(join(tmpdir(), 'orthanc-fhir-bench-auth-'));
  const issuer = await TestIssuer.create({ issuer: ISSUER, audience: AUDIENCE });
  const jwks = join(scratch, 'jwks.json');
  await issuer.writeJwksFile(jwks);
  // The same configuration but "Fhir.Authorization" (RegisteredUsers is only read by the plugin with it on).
  const extra = { RegisteredUsers: { clerk: 's3cret' }, AuthenticationEnabled: false };
  const authorization = {
    Enable: true, Issuer: ISSUER, Audience: AUDIENCE, Jwks: jwks, AdminScope: ADMIN_SCOPE,
    TokenEndpoint: `${ISSUER}/token`, AuthorizeEndpoint: `${ISSUER}/authorize`,
  };
  const orthancs: Partial<Record<Side, Orthanc>> = {};
  try {
    orthancs.off = await Orthanc.start({ fhir: { Enable: true }, withDicomWeb: true, extra, verbose: false });
    orthancs.on = await Orthanc.start({ fhir: { Enable: true, Authorization: authorization }, withDicomWeb: true, extra, verbose: false });
    const both = orthancs as Record<Side, Orthanc>;
    const { off, on } = both;

    // Tokens for the whole run (it is longer than the issuer's default 5 minutes).
    const token = (claims: Json) => issuer.token({ sub: 'bench-user', client_id: 'bench-app', ...claims }, { expiresIn: 4 * 3600 });
    const admin = await token({ scope: `openid ${ADMIN_SCOPE}` });

    const { specs, patientIds, studyUids } = dataset();
    mkdirSync(join(scratch, 'dicom'));
    const files = makeDicomFiles(specs, join(scratch, 'dicom'));
    const sendStart = Date.now();
    storescu(off.dicomPort, files);
    storescu(on.dicomPort, files);
    console.log(`orthanc-fhir authorization benchmark (#12): two Orthancs, same configuration but "Fhir.Authorization", both with DICOMweb`);
    console.log(`dataset: ${PATIENTS} patients, ${STUDIES} studies x ${INSTANCES} CT instances, sent with storescu to each (${((Date.now() - sendStart) / 1000).toFixed(1)} s)`);
    const [offWait, onWait] = await Promise.all([waitIndexed(off, {}), waitIndexed(on, bearer(admin))]);
    console.log(`ImagingStudy search shows all ${STUDIES} studies: off after ${offWait.toFixed(1)} s, on after ${onWait.toFixed(1)} s`);

    // The patient whose studies everybody reads: the first one.
    const patient = orthancPatientId(patientIds[0]!);
    const uids = studyUids[0]!;
    const studies = await ok(off, `/fhir/ImagingStudy?patient=${patient}&_count=100`, FHIR);
    const ids = (studies.entry as Json[]).map((e) => e.resource.id as string);
    if (ids.length !== uids.length) throw new Error(`ImagingStudy?patient=${patient}: ${ids.length} studies, expected ${uids.length}`);

    const user = await token({ scope: 'user/*.rs' });
    const mine = await token({ scope: 'launch/patient patient/*.rs', patient });
    const userImages = await token({ scope: 'user/ImagingStudy.rs' });
    const mineImages = await token({ scope: 'patient/ImagingStudy.rs', patient });

    // Each case cycles over the patient's studies with a cursor of its own.
    const cycle = <T>(items: T[], make: (item: T) => RequestSpec) => {
      let cursor = 0;
      return () => make(items[cursor++ % items.length]!);
    };
    const read = (headers: Record<string, string>) => cycle(ids, (id) => ({ path: `/fhir/ImagingStudy/${id}`, headers: { ...FHIR, ...headers } }));
    const search = (headers: Record<string, string>, query = '_count=10') => () => ({ path: `/fhir/ImagingStudy?${query}`, headers: { ...FHIR, ...headers } });
    const metadata = (headers: Record<string, string>) => cycle(uids, (uid) => ({ path: `/dicom-web/studies/${uid}/metadata`, headers: { ...DICOM_JSON, ...headers } }));
    const patientQuery = `patient=${patient}&_count=10`;
    const cases: Case[] = [
      { key: 'read-off', group: 'read', label: 'GET /fhir/ImagingStudy/<id>', side: 'off', token: 'none', audited: false, next: read({}) },
      { key: 'read-user', group: 'read', label: 'GET /fhir/ImagingStudy/<id>', side: 'on', token: 'user/*.rs', base: 'read-off', audited: true, next: read(bearer(user)) },
      { key: 'read-patient', group: 'read', label: 'GET /fhir/ImagingStudy/<id>', side: 'on', token: 'patient/*.rs + patient', base: 'read-off', audited: true, next: read(bearer(mine)) },
      { key: 'search-off', group: 'search', label: 'GET /fhir/ImagingStudy?_count=10', side: 'off', token: 'none', audited: false, next: search({}) },
      { key: 'search-user', group: 'search', label: 'GET /fhir/ImagingStudy?_count=10', side: 'on', token: 'user/*.rs', base: 'search-off', audited: true, next: search(bearer(user)) },
      { key: 'search-patient-off', group: 'search', label: `GET /fhir/ImagingStudy?patient=<id>&_count=10`, side: 'off', token: 'none', audited: false, next: search({}, patientQuery) },
      { key: 'search-patient', group: 'search', label: 'GET /fhir/ImagingStudy?_count=10', side: 'on', token: 'patient/*.rs + patient', base: 'search-patient-off', audited: true, next: search(bearer(mine)) },
      { key: 'metadata-off', group: 'metadata', label: 'GET /dicom-web/studies/<uid>/metadata', side: 'off', token: 'none', audited: false, next: metadata({}) },
      { key: 'metadata-user', group: 'metadata', label: 'GET /dicom-web/studies/<uid>/metadata', side: 'on', token: 'user/ImagingStudy.rs', base: 'metadata-off', audited: true, next: metadata(bearer(userImages)) },
      { key: 'metadata-patient', group: 'metadata', label: 'GET /dicom-web/studies/<uid>/metadata', side: 'on', token: 'patient/ImagingStudy.rs + patient', base: 'metadata-off', audited: true, next: metadata(bearer(mineImages)) },
      { key: 'system-off', group: 'system', label: 'native GET /system', side: 'off', token: 'none', audited: false, next: () => ({ path: '/system' }) },
      { key: 'system-basic', group: 'system', label: 'native GET /system', side: 'on', token: 'Basic (RegisteredUsers)', base: 'system-off', audited: false, next: () => ({ path: '/system', headers: { authorization: BASIC } }) },
      { key: 'system-admin', group: 'system', label: 'native GET /system', side: 'on', token: 'AdminScope', base: 'system-off', audited: false, next: () => ({ path: '/system', headers: bearer(admin) }) },
    ];

    // The answers are the ones expected, once, before any load: same resources off and on, narrowed for the patient.
    const offRead = await ok(off, `/fhir/ImagingStudy/${ids[0]}`, FHIR);
    const userRead = await ok(on, `/fhir/ImagingStudy/${ids[0]}`, { ...FHIR, ...bearer(user) });
    const mineRead = await ok(on, `/fhir/ImagingStudy/${ids[0]}`, { ...FHIR, ...bearer(mine) });
    for (const [label, body] of [['user', userRead], ['patient', mineRead]] as const) {
      if (body.subject?.reference !== offRead.subject?.reference || body.numberOfInstances !== INSTANCES) {
        throw new Error(`ImagingStudy/${ids[0]} read with the ${label} token differs from auth off: ${JSON.stringify(body).slice(0, 300)}`);
      }
    }
    const entries = async (orthanc: Orthanc, query: string, headers: Record<string, string>) =>
      ((await ok(orthanc, `/fhir/ImagingStudy?${query}`, { ...FHIR, ...headers })).entry as Json[] | undefined ?? []);
    const expectEntries = (label: string, found: Json[], count: number, onlyPatient: boolean) => {
      if (found.length !== count) throw new Error(`${label}: ${found.length} entries, expected ${count}`);
      if (onlyPatient && found.some((e) => e.resource.subject?.reference !== `Patient/${patient}`)) throw new Error(`${label}: another patient's study`);
    };
    expectEntries('search off', await entries(off, '_count=10', {}), Math.min(10, STUDIES), false);
    expectEntries('search user', await entries(on, '_count=10', bearer(user)), Math.min(10, STUDIES), false);
    expectEntries('search patient', await entries(on, '_count=10', bearer(mine)), Math.min(10, uids.length), true);
    expectEntries('search ?patient= off', await entries(off, patientQuery, {}), Math.min(10, uids.length), true);
    for (const [label, orthanc, headers] of [['off', off, {}], ['user', on, bearer(userImages)], ['patient', on, bearer(mineImages)]] as const) {
      const instances = (await ok(orthanc, `/dicom-web/studies/${uids[0]}/metadata`, { ...DICOM_JSON, ...headers })) as Json[];
      if (instances.length !== INSTANCES) throw new Error(`metadata (${label}): ${instances.length} instances, expected ${INSTANCES}`);
    }
    // And the refusals are real: no token, another patient's study.
    const other = studyUids[1]!;
    if ((await get(on, `/fhir/ImagingStudy/${ids[0]}`, FHIR)).status !== 401) throw new Error('a read without a token was not refused with 401');
    if ((await get(on, `/dicom-web/studies/${other[0]}/metadata`, bearer(mineImages))).status !== 403) throw new Error("another patient's metadata was not refused");

    console.log(`parameters: ${CLIENTS} keep-alive clients, ${SECONDS} s per measurement, ${ROUNDS} round(s) of off/on interleaved (order flipped each round), median of rounds; node ${process.version}`);
    console.log(`reads and metadata cycle over the ${uids.length} studies of one patient (Patient/${patient}); every answer must be 200`);

    // Warm up every case (and fail at once on a wrong answer rather than measure it).
    for (const c of cases) {
      const warm = await measure(both, c, 1);
      if (warm.errors > 0) throw new Error(`warm-up of ${c.label} (${c.side}, ${c.token}): ${warm.errors} of ${warm.requests} failed`);
    }
    const auditBefore = await settledAuditCount(on, admin);

    const measured = new Map<string, Measured>(cases.map((c) => [c.key, { results: [], cpu: [], statuses: new Map() }]));
    const groups = [...new Set(cases.map((c) => c.group))];
    for (let round = 1; round <= ROUNDS; round++) {
      console.log('');
      console.log(`round ${round}/${ROUNDS}:`);
      for (const group of groups) {
        const inGroup = cases.filter((c) => c.group === group);
        for (const c of round % 2 === 1 ? inGroup : [...inGroup].reverse()) {
          const result = await measure(both, c, SECONDS, measured.get(c.key)!);
          const cpu = measured.get(c.key)!.cpu.at(-1)!;
          console.log(`  ${line(`${c.side.padEnd(3)} ${c.token.padEnd(34)} ${c.label}`, result)}   Orthanc CPU ${cpu.toFixed(2)} ms/req`);
        }
      }
    }
    const auditedRequests = cases.filter((c) => c.audited).reduce((sum, c) => sum + summary(measured.get(c.key)!).requests, 0);
    const auditAfter = await settledAuditCount(on, admin, auditBefore.count + auditedRequests);
    const rss = { off: off.rss(), on: on.rss() };

    console.log('');
    console.log(`results (median of ${ROUNDS} round(s); ${CLIENTS} clients, ${SECONDS} s each; ratio: auth on / auth off, req/s):`);
    console.log('');
    console.log('| route | auth | token | req/s | p50 ms | p99 ms | Orthanc CPU ms/req | CPU on-off ms/req | errors | on/off req/s |');
    console.log('|---|---|---|---:|---:|---:|---:|---:|---:|---:|');
    let errors = 0;
    for (const c of cases) {
      const m = measured.get(c.key)!;
      const s = summary(m);
      errors += s.errors;
      const base = c.base === undefined ? undefined : summary(measured.get(c.base)!);
      const ratio = base === undefined ? '' : `${(s.perSecond / base.perSecond).toFixed(2)}x`;
      const errorText = s.errors === 0 ? '0' : `${s.errors} (${statusText(m.statuses)})`;
      console.log(`| ${c.label} | ${c.side} | ${c.token} | ${s.perSecond.toFixed(0)} | ${s.p50.toFixed(2)} | ${s.p99.toFixed(2)} | ${s.cpu.toFixed(3)} | ${base === undefined ? '' : (s.cpu - base.cpu >= 0 ? '+' : '') + (s.cpu - base.cpu).toFixed(3)} | ${errorText} | ${ratio} |`);
    }
    const perSecond = (key: string) => summary(measured.get(key)!).perSecond;
    console.log('');
    console.log(`the patient-context search returns the patient's ${Math.min(10, uids.length)} studies (of ${STUDIES}); its ratio is to ?patient=<id>&_count=10 off (the same answer), to ?_count=10 off it is ${(perSecond('search-patient') / perSecond('search-off')).toFixed(2)}x`);
    // Less the count queries made after the first count (each audited too; the last one may not be written yet).
    const written = auditAfter.count - auditBefore.count - (auditAfter.queries - 1);
    const secondsOn = cases.filter((c) => c.audited).reduce((sum, c) => sum + measured.get(c.key)!.results.reduce((t, r) => t + r.seconds, 0), 0);
    console.log(`AuditEvents written during the rounds on the auth-on Orthanc: ${written} for ${auditedRequests} audited requests sent (/fhir and /dicom-web)${written === auditedRequests ? '' : ` (${written - auditedRequests > 0 ? '+' : ''}${written - auditedRequests})`}, ${(written / secondsOn).toFixed(0)}/s over their ${secondsOn.toFixed(0)} s; ${auditAfter.count} in the store`);
    console.log(`resident memory at the end: auth off ${mib(rss.off)}, auth on ${mib(rss.on)}`);
    console.log(`benchmark time ${((Date.now() - benchStart) / 1000).toFixed(0)} s`);
    if (errors > 0) {
      console.log(`${errors} request(s) failed`);
      process.exitCode = 1;
    }
  } finally {
    await orthancs.on?.dispose();
    await orthancs.off?.dispose();
    await issuer.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
