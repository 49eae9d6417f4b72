// npm run bench:imaging: the imaging resources against the native Orthanc
// REST calls that fetch the same facts, in one run. A study of 4 series x 100
// instances is read; ImagingStudy?patient= and ?started=ge are searched over
// 10,000 studies. The data (made with dcmjs, sent with storescu) is kept in
// .bench/imaging so that later runs start at once.
import dcmjs from 'dcmjs';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Orthanc, ROOT } from '../test/support/orthanc';
import { percentile } from './load';

const STUDIES = Number(process.env.BENCH_STUDIES ?? 10000);
const RUNS = Number(process.env.BENCH_RUNS ?? 30);
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

function send(orthanc: Orthanc, specs: Spec[]): void {
  const dir = mkdtempSync(join(tmpdir(), 'bench-dicom-'));
  try {
    for (let start = 0; start < specs.length; start += 1000) {
      const files = specs.slice(start, start + 1000).map((spec, i) => {
        const file = join(dir, `${start + i}.dcm`);
        writeFileSync(file, dicom(spec));
        return file;
      });
      execFileSync('storescu', ['-aec', 'ORTHANC', '127.0.0.1', String(orthanc.dicomPort), ...files], { stdio: 'ignore' });
      for (const file of files) rmSync(file);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const uid = (...parts: number[]) => `1.2.826.0.1.3680043.10.999.${parts.join('.')}`;

async function ensureData(orthanc: Orthanc): Promise<void> {
  const count = ((await (await fetch(`${orthanc.url}/statistics`)).json()) as { CountStudies: number }).CountStudies;
  if (count >= STUDIES + 1) return;
  console.log(`generating ${STUDIES} studies and one of 4 x 100 instances (kept in .bench/imaging)...`);
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
  send(orthanc, [...big, ...many]);
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
  const dir = join(ROOT, '.bench/imaging');
  mkdirSync(dir, { recursive: true });
  const orthanc = await Orthanc.start({ dir, verbose: false, fhir: { Enable: true }, withDicomWeb: true });
  try {
    await ensureData(orthanc);
    const get = async <T>(path: string) => (await (await fetch(`${orthanc.url}${path}`)).json()) as T;
    const found = await (await fetch(`${orthanc.url}/tools/find`, { method: 'POST', body: JSON.stringify({ Level: 'Study', Query: { StudyInstanceUID: uid(0) } }) })).json() as string[];
    const big = found[0]!;
    const series = await get<Array<{ Instances: string[] }>>(`/studies/${big}/series?expand`);
    const patients = await get<string[]>('/patients');
    console.log(`orthanc-fhir imaging benchmark: ${STUDIES} studies, ${RUNS} runs each, sequential requests`);
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
