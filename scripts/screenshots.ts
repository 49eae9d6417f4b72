// The README's screenshots: Orthanc with the plugin and a day of work (two
// stations' orders, today's CT and MR studies with several series, older
// studies), each page opened in Debian's Chromium and saved as a PNG in
// docs/screenshots/. `npm run screenshots`; `--keep` leaves Orthanc running.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser } from '../test/support/browser';
import { makeDicomFiles, newUid, storescu, type InstanceSpec } from '../test/support/dicom';
import { ACSN_TYPE, DCM } from '../test/support/orders';
import { Orthanc, ROOT } from '../test/support/orthanc';

type Json = Record<string, unknown>;

const pad = (n: number) => String(n).padStart(2, '0');
const now = new Date();
const today = `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}`;
const isoDay = `${today.slice(0, 4)}-${today.slice(4, 6)}-${today.slice(6)}`;

const PATIENTS = [
  { patientId: 'MRN-1001', patientName: 'Müller^Jürgen', birthDate: '19650412', sex: 'M', family: 'Müller', given: 'Jürgen', gender: 'male' },
  { patientId: 'MRN-1002', patientName: 'Yamada^Hanako', birthDate: '19880730', sex: 'F', family: 'Yamada', given: 'Hanako', gender: 'female' },
  { patientId: 'MRN-1003', patientName: 'Dubois^Claire', birthDate: '19720203', sex: 'F', family: 'Dubois', given: 'Claire', gender: 'female' },
];

function study(patient: (typeof PATIENTS)[number], date: string, time: string, modality: string, description: string, accession: string,
  series: Array<[string, number]>): InstanceSpec[] {
  const studyUid = newUid();
  return series.flatMap(([seriesDescription, count], s) => {
    const seriesUid = newUid();
    return [...Array(count)].map((_, i) => ({
      ...patient, studyUid, studyDate: date, studyTime: time, studyDescription: description, accessionNumber: accession,
      seriesUid, seriesNumber: s + 1, seriesDescription, modality, sopInstanceUid: newUid(), instanceNumber: i + 1, imageSize: 128,
    }));
  });
}

function order(patient: (typeof PATIENTS)[number], accession: string, procedure: string, code: string, station: string, modality: string, time: string): Json {
  const p = `urn:uuid:${randomUUID()}`;
  const sr = `urn:uuid:${randomUUID()}`;
  const start = new Date(`${isoDay}T${time}:00`).toISOString();
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: p,
        resource: {
          resourceType: 'Patient', identifier: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] }, value: patient.patientId }],
          name: [{ family: patient.family, given: [patient.given] }], gender: patient.gender,
          birthDate: `${patient.birthDate.slice(0, 4)}-${patient.birthDate.slice(4, 6)}-${patient.birthDate.slice(6)}`,
        },
        request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${patient.patientId}` },
      },
      {
        fullUrl: sr,
        resource: {
          resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: { reference: p }, priority: 'routine',
          code: { concept: { coding: [{ system: 'http://loinc.org', code, display: procedure }], text: procedure } },
          identifier: [{ type: ACSN_TYPE, system: 'urn:oid:2.25.42', value: accession }], occurrenceDateTime: start,
          requester: { display: 'Dr. Gregory House' },
        },
        request: { method: 'POST', url: 'ServiceRequest' },
      },
      {
        resource: {
          resourceType: 'Task', status: 'requested', intent: 'order', basedOn: [{ reference: sr }], for: { reference: p },
          requestedPeriod: { start }, description: procedure,
          owner: { type: 'Device', identifier: { system: 'urn:dicom:ae', value: station }, display: station },
          input: [{ type: { coding: [{ system: DCM, code: '121139' }] }, valueCodeableConcept: { coding: [{ system: DCM, code: modality }] } }],
        },
        request: { method: 'POST', url: 'Task' },
      },
    ],
  };
}

async function main(): Promise<void> {
  const orthanc = await Orthanc.start({
    withDicomWeb: true,
    fhir: { Enable: true, Worklist: { Enable: true } },
    extra: { DicomAlwaysAllowFindWorklist: true, StableAge: 1, DefaultEncoding: 'Utf8' },
  });
  try {
    const [muller, yamada, dubois] = PATIENTS as [typeof PATIENTS[0], typeof PATIENTS[0], typeof PATIENTS[0]];
    storescu(orthanc.dicomPort, makeDicomFiles([
      ...study(muller, today, '083000', 'CT', 'CT chest with contrast', 'ACC-2001', [['Topogram', 1], ['Axial 5 mm', 5], ['Axial 1 mm', 5], ['Coronal MPR', 3]]),
      ...study(yamada, today, '094500', 'CT', 'CT abdomen', 'ACC-2002', [['Topogram', 1], ['Portal venous', 5]]),
      ...study(dubois, today, '111500', 'MR', 'MR knee right', 'ACC-2003', [['PD sag', 4], ['T1 cor', 4]]),
      ...study(muller, '20230615', '101530', 'MR', 'MR head', 'ACC-1501', [['T2 axial', 4], ['FLAIR', 4]]),
      ...study(muller, '20210102', '160000', 'CR', 'Chest X-ray', 'ACC-1101', [['PA', 1], ['Lateral', 1]]),
    ]));
    for (const transaction of [
      order(muller, 'ACC-3001', 'CT chest follow-up', '24627-2', 'CT01', 'CT', '14:00'),
      order(yamada, 'ACC-3002', 'CT abdomen and pelvis', '36813-4', 'CT01', 'CT', '15:30'),
      order(dubois, 'ACC-3003', 'MR knee left', '24590-2', 'MR01', 'MR', '13:15'),
      order(muller, 'ACC-3004', 'MR head', '24590-2', 'MR01', 'MR', '16:45'),
    ]) {
      const answer = await fetch(orthanc.fhirUrl, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(transaction) });
      if (!answer.ok) throw new Error(`transaction: ${answer.status} ${await answer.text()}`);
    }
    const studies = (await (await fetch(`${orthanc.fhirUrl}/ImagingStudy?identifier=ACC-2001`)).json()) as { entry: Array<{ resource: { id: string; subject: { reference: string } } }> };
    const first = studies.entry[0]!.resource;
    const dir = join(ROOT, 'docs/screenshots');
    mkdirSync(dir, { recursive: true });
    const browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const shots: Array<[string, string]> = [
      ['landing', orthanc.fhirUrl],
      ['studies', `${orthanc.fhirUrl}/ImagingStudy?_sort=-started`],
      ['study', `${orthanc.fhirUrl}/ImagingStudy/${first.id}`],
      ['patient', `${orthanc.fhirUrl}/${first.subject.reference}`],
      ['patients', `${orthanc.fhirUrl}/Patient`],
      ['orders', `${orthanc.fhirUrl}/ServiceRequest?_sort=occurrence`],
      ['tasks', `${orthanc.fhirUrl}/Task`],
      ['worklist', `${orthanc.fhirUrl}/$worklist`],
    ];
    for (const [name, url] of shots) {
      await page.goto(url, { waitUntil: 'networkidle' });
      await page.screenshot({ path: join(dir, `${name}.png`), fullPage: false });
      console.log(`${name}: ${url}`);
    }
    await browser.close();
    if (process.argv.includes('--keep')) {
      console.log(`Orthanc: ${orthanc.url} (Ctrl-C stops it)`);
      await new Promise<void>((resolve) => process.on('SIGINT', () => resolve()));
    }
  } finally {
    await orthanc.dispose();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
