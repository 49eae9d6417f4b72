// npm run bench:imaging: the imaging resources against the native Orthanc
// REST calls that fetch the same facts, in one run. A study of 4 series x 100
// instances is read; ImagingStudy?patient= and ?started=ge are searched over
// 10,000 studies. The data (made with dcmjs, sent with parallel HTTP POST
// /instances) is kept in .bench/imaging: a run sends only what is missing
// (by StudyInstanceUID, and SOPInstanceUID for the big study), so later runs
// start at once and an interrupted generation resumes.
import dcmjs from 'dcmjs';
import http from 'node:http';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Orthanc, ROOT } from '../test/support/orthanc';
import { percentile } from './load';

const STUDIES = Number(process.env.BENCH_STUDIES ?? 10000);
const RUNS = Number(process.env.BENCH_RUNS ?? 30);
/** Parallel POST /instances while the data is generated. */
const UPLOADS = Number(process.env.BENCH_UPLOADS ?? 6);
const CT = '1.2.840.10008.5.1.4.1.1.2';

interface Spec {
  patient: number;
  study: string;
  series: string;
  instance: string;
  date: string;
  seriesNumber: number;
  instanceNumber: number;
}

function dicom(spec: Spec): Buffer {
  const dataset = {
    SpecificCharacterSet: 'ISO_IR 192', SOPClassUID: CT, SOPInstanceUID: spec.instance,
    StudyInstanceUID: spec.study, SeriesInstanceUID: spec.series, PatientID: `BENCH-${spec.patient}`,
    PatientName: `Bench^Patient${spec.patient}`, PatientBirthDate: '19700101', PatientSex: 'O',
    StudyDate: spec.date, StudyTime: '101010', AccessionNumber: `A${spec.study.slice(-10)}`, Modality: 'CT',
    SeriesNumber: String(spec.seriesNumber), InstanceNumber: String(spec.instanceNumber),
    _meta: { MediaStorageSOPClassUID: CT, MediaStorageSOPInstanceUID: spec.instance, TransferSyntaxUID: '1.2.840.10008.1.2.1' },
  };
  return Buffer.from(dcmjs.data.datasetToBuffer(dataset));
}

function postInstance(agent: http.Agent, port: number, body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, agent, method: 'POST', path: '/instances', headers: { 'content-type': 'application/dicom', 'content-length': body.length } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      },
    );
    request.setTimeout(60000, () => request.destroy(new Error('POST /instances timed out')));
    request.on('error', reject);
    request.end(body);
  });
}

/** Sends each instance with POST /instances, UPLOADS at a time, retrying a failed one a few times. */
async function send(orthanc: Orthanc, specs: Spec[]): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: UPLOADS });
  const started = Date.now();
  let next = 0;
  let done = 0;
  try {
    await Promise.all(Array.from({ length: UPLOADS }, async () => {
      while (next < specs.length) {
        const spec = specs[next++]!;
        const body = dicom(spec);
        for (let attempt = 1; ; attempt++) {
          try {
            const answer = await postInstance(agent, orthanc.httpPort, body);
            if (answer.status !== 200) throw new Error(`${answer.status} ${answer.text.slice(0, 300)}`);
            break;
          } catch (error) {
            if (attempt >= 4) throw new Error(`POST /instances of ${spec.instance} failed ${attempt} times: ${String(error)}`);
            await new Promise((r) => setTimeout(r, 500 * attempt));
          }
        }
        if (++done % 1000 === 0 || done === specs.length) {
          const seconds = (Date.now() - started) / 1000;
          console.log(`  ${done}/${specs.length} instances sent (${seconds.toFixed(0)} s, ${(done / seconds).toFixed(0)}/s)`);
        }
      }
    }));
  } finally {
    agent.destroy();
  }
}

const uid = (...parts: number[]) => `1.2.826.0.1.3680043.10.999.${parts.join('.')}`;

/** One tag of every resource of a level that matches the query (expanded /tools/find). */
async function present(orthanc: Orthanc, level: 'Study' | 'Instance', query: Record<string, string>, tag: string): Promise<Set<string>> {
  const response = await fetch(`${orthanc.url}/tools/find`, { method: 'POST', body: JSON.stringify({ Level: level, Query: query, Expand: true }) });
  if (response.status !== 200) throw new Error(`/tools/find: ${response.status} ${await response.text()}`);
  const found = (await response.json()) as Array<{ MainDicomTags: Record<string, string> }>;
  return new Set(found.map((resource) => resource.MainDicomTags[tag]!));
}

/** The dataset: the big study (4 series x 100 instances) and STUDIES one-instance studies. */
function dataset(): { big: Spec[]; many: Spec[] } {
  const big: Spec[] = [];
  for (let s = 1; s <= 4; s++) {
    for (let i = 1; i <= 100; i++) {
      big.push({ patient: 0, study: uid(0), series: uid(0, s), instance: uid(0, s, i), date: '20240101', seriesNumber: s, instanceNumber: i });
    }
  }
  const many: Spec[] = [];
  for (let n = 1; n <= STUDIES; n++) {
    const day = new Date(Date.UTC(2015, 0, 1) + (n % 3650) * 86400000).toISOString().slice(0, 10).replace(/-/g, '');
    many.push({ patient: 1 + (n % 1000), study: uid(1, n), series: uid(1, n, 1), instance: uid(1, n, 1, 1), date: day, seriesNumber: 1, instanceNumber: 1 });
  }
  return { big, many };
}

/** What of the dataset is not in Orthanc yet: instances of the big study, and one-instance studies by StudyInstanceUID. */
async function missing(orthanc: Orthanc): Promise<Spec[]> {
  const { big, many } = dataset();
  const instances = await present(orthanc, 'Instance', { StudyInstanceUID: uid(0) }, 'SOPInstanceUID');
  const studies = await present(orthanc, 'Study', {}, 'StudyInstanceUID');
  return [...big.filter((spec) => !instances.has(spec.instance)), ...many.filter((spec) => !studies.has(spec.study))];
}

/** Generates (dcmjs) and uploads what is missing; the data stays in .bench/imaging for later runs. */
async function ensureData(orthanc: Orthanc): Promise<void> {
  const todo = await missing(orthanc);
  if (todo.length === 0) return;
  console.log(`generating ${todo.length} missing instances of ${STUDIES + 400} (${STUDIES} studies and one of 4 x 100; kept in ${orthanc.dir}), ${UPLOADS} parallel POST /instances...`);
  await send(orthanc, todo);
  const left = await missing(orthanc);
  if (left.length > 0) throw new Error(`${left.length} instances still missing after the upload (first: ${left[0]!.instance})`);
}

async function timed(urls: string[]): Promise<number> {
  const start = process.hrtime.bigint();
  for (const url of urls) {
    const response = await fetch(url);
    if (response.status !== 200) throw new Error(`${url}: ${response.status}`);
    await response.arrayBuffer();
  }
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function measure(label: string, fhir: (i: number) => string[], native: (i: number) => Promise<string[]> | string[]) {
  const f: number[] = [];
  const n: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    f.push(await timed(fhir(i)));
    n.push(await timed(await native(i)));
  }
  f.sort((a, b) => a - b);
  n.sort((a, b) => a - b);
  const [fp50, np50] = [percentile(f, 50), percentile(n, 50)];
  console.log(`${label.padEnd(34)} fhir p50 ${fp50.toFixed(1).padStart(7)} ms  p99 ${percentile(f, 99).toFixed(1).padStart(7)} ms | native p50 ${np50.toFixed(1).padStart(7)} ms | ratio ${(fp50 / np50).toFixed(2)}x`);
}

async function main(): Promise<void> {
  const dir = process.env.BENCH_IMAGING_DIR ?? join(ROOT, '.bench/imaging');
  mkdirSync(dir, { recursive: true });
  const orthanc = await Orthanc.start({ dir, verbose: false, fhir: { Enable: true }, withDicomWeb: true });
  try {
    await ensureData(orthanc);
    const get = async <T>(path: string) => (await (await fetch(`${orthanc.url}${path}`)).json()) as T;
    const found = await (await fetch(`${orthanc.url}/tools/find`, { method: 'POST', body: JSON.stringify({ Level: 'Study', Query: { StudyInstanceUID: uid(0) } }) })).json() as string[];
    const big = found[0]!;
    const series = await get<Array<{ Instances: string[] }>>(`/studies/${big}/series?expand`);
    const patients = await get<string[]>('/patients');
    const stats = await get<{ CountStudies: number; CountSeries: number; CountInstances: number }>('/statistics');
    console.log(`orthanc-fhir imaging benchmark: ${STUDIES} studies, ${RUNS} runs each, sequential requests`);
    console.log(`dataset: ${stats.CountStudies} studies, ${stats.CountSeries} series, ${stats.CountInstances} instances, ${patients.length} patients`);
    await measure('read ImagingStudy (4 x 100)', () => [`${orthanc.fhirUrl}/ImagingStudy/${big}`], () => [
      `${orthanc.url}/studies/${big}`, `${orthanc.url}/studies/${big}/series?expand`, `${orthanc.url}/studies/${big}/instances?expand`,
      ...series.map((s) => `${orthanc.url}/instances/${s.Instances[0]}/tags?simplify`),
    ]);
    await measure('ImagingStudy?patient=', (i) => [`${orthanc.fhirUrl}/ImagingStudy?patient=${patients[i % patients.length]}`],
      (i) => [`${orthanc.url}/patients/${patients[i % patients.length]}/studies?expand`]);
    const nativeFind = async () => {
      const start = process.hrtime.bigint();
      await (await fetch(`${orthanc.url}/tools/find`, { method: 'POST', body: JSON.stringify({ Level: 'Study', Query: { StudyDate: '20240601-' }, Expand: true }) })).json();
      return Number(process.hrtime.bigint() - start) / 1e6;
    };
    const f: number[] = [];
    const n: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      f.push(await timed([`${orthanc.fhirUrl}/ImagingStudy?started=ge2024-06-01`]));
      n.push(await nativeFind());
    }
    f.sort((a, b) => a - b);
    n.sort((a, b) => a - b);
    console.log(`${'ImagingStudy?started=ge2024-06-01'.padEnd(34)} fhir p50 ${percentile(f, 50).toFixed(1).padStart(7)} ms  p99 ${percentile(f, 99).toFixed(1).padStart(7)} ms | native p50 ${percentile(n, 50).toFixed(1).padStart(7)} ms | ratio ${(percentile(f, 50) / percentile(n, 50)).toFixed(2)}x`);
  } finally {
    await orthanc.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
