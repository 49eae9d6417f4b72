// Runs Orthanc with the FHIR plugin, the DICOMweb plugin and demo data sent
// by storescu, prints the URLs and waits for Ctrl-C. The demo's storage lives
// in .demo/ and survives restarts.
import { createServer } from 'node:net';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeDicomFiles, newUid, storescu, type InstanceSpec } from '../test/support/dicom';
import { Orthanc, ROOT } from '../test/support/orthanc';
import { orderTransaction } from '../test/support/orders';

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

function demoInstances(): InstanceSpec[] {
  const patients = [
    { patientId: 'DEMO-001', patientName: 'Müller^Jürgen^^Dr.', birthDate: '19650412', sex: 'M' },
    { patientId: 'DEMO-002', patientName: 'Yamada^Hanako=山田^花子=やまだ^はなこ', birthDate: '19880730', sex: 'F' },
    { patientId: 'DEMO-003', patientName: 'Doe^Alex', birthDate: '20010101', sex: 'O' },
  ];
  const specs: InstanceSpec[] = [];
  patients.forEach((patient, p) => {
    for (const [s, modality, description, bodyPart] of [
      [0, 'CT', 'CT chest', 'CHEST'],
      [1, 'MR', 'MR brain', 'HEAD'],
    ] as const) {
      const studyUid = newUid();
      const seriesUid = newUid();
      for (let i = 1; i <= 3; i++) {
        specs.push({
          ...patient,
          studyUid,
          studyDate: `2024010${p + 1}`,
          studyTime: `0${8 + s}3000`,
          studyDescription: description,
          accessionNumber: `ACC-${p + 1}${s + 1}`,
          referringPhysician: 'House^Gregory',
          seriesUid,
          seriesNumber: 1,
          seriesDescription: `${description} series`,
          modality,
          bodyPart,
          sopInstanceUid: newUid(),
          instanceNumber: i,
        });
      }
    }
  });
  return specs;
}

async function main(): Promise<void> {
  const dir = join(ROOT, '.demo');
  mkdirSync(dir, { recursive: true });
  const httpPort = Number(process.env.ORTHANC_HTTP_PORT ?? 8042);
  const dicomPort = Number(process.env.ORTHANC_DICOM_PORT ?? 4242);
  if (!(await portIsFree(httpPort)) || !(await portIsFree(dicomPort))) {
    console.error(`Port ${httpPort} or ${dicomPort} is taken (Debian's own orthanc service, maybe: systemctl stop orthanc).`);
    console.error('Choose others with ORTHANC_HTTP_PORT=... ORTHANC_DICOM_PORT=... bash scripts/demo.sh');
    process.exit(1);
  }
  const orthanc = await Orthanc.start({
    dir,
    ports: { http: httpPort, dicom: dicomPort },
    withDicomWeb: true,
    verbose: false,
    fhir: { Enable: true, Worklist: { Enable: true } },
    extra: { RemoteAccessAllowed: true, Name: 'orthanc-fhir-demo', DicomAlwaysAllowFindWorklist: true, DefaultEncoding: 'Utf8' },
  });
  const studies = (await (await fetch(`${orthanc.url}/studies`)).json()) as string[];
  if (studies.length === 0) {
    storescu(orthanc.dicomPort, makeDicomFiles(demoInstances()));
    // Two orders waiting on the worklist, as a RIS would place them.
    for (const [patientId, accession] of [['DEMO-010', 'ORD-2001'], ['DEMO-011', 'ORD-2002']] as const) {
      const response = await fetch(`${orthanc.fhirUrl}`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify(orderTransaction(patientId, accession)),
      });
      if (response.status !== 200) console.error(`demo order ${accession}: ${response.status} ${await response.text()}`);
    }
  }
  console.log(`Orthanc Explorer: http://localhost:${httpPort}/app/explorer.html`);
  console.log(`FHIR endpoint:    http://localhost:${httpPort}/fhir  (CapabilityStatement: /fhir/metadata)`);
  console.log(`DICOMweb:         http://localhost:${httpPort}/dicom-web/studies`);
  console.log(`DICOM port:       ${dicomPort} (AET ORTHANC; modality worklist: findscu -W -aec ORTHANC localhost ${dicomPort} -k PatientName -k AccessionNumber)`);
  console.log(`Orthanc log:      ${orthanc.logFile}`);
  console.log('Ctrl-C stops Orthanc.');
  const stop = async () => {
    await orthanc.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
