// The zone of DICOM times without TimezoneOffsetFromUTC and of worklist
// times, on the real Orthanc: by default the Orthanc process's local zone
// (TZ), DST-aware at each date; a fixed DefaultTimezoneOffset wins over TZ;
// "none" turns times off. One storage folder, restarted with each setting:
// a change of zone rebuilds the imaging index (searches by `started` with a
// time) and re-indexes the Tasks' worklist date keys (C-FIND by date).
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { makeDicomFiles, newUid, storescu } from '../support/dicom';
import { patient, serviceRequest, task } from '../support/orders';
import { Orthanc } from '../support/orthanc';
import { findWorklist, type WorklistAnswer } from '../support/worklist';

type Json = Record<string, any>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One study without TimezoneOffsetFromUTC (nor SeriesDate/Time). */
function study(accession: string, date: string): string[] {
  return makeDicomFiles([{
    patientId: 'TZ-P', patientName: 'Zone^Test', studyUid: newUid(), studyDate: date, studyTime: '101530', accessionNumber: accession,
    seriesUid: newUid(), seriesNumber: 1, modality: 'CT', sopInstanceUid: newUid(), instanceNumber: 1,
  }]);
}

/** Scheduled at 23:30 UTC: the next day in Brussels, which the date key must follow. */
const SCHEDULED = '2030-06-01T23:30:00Z';

describe('the zone of DICOM and worklist times', function () {
  this.timeout(300000);
  const dir = mkdtempSync(join(tmpdir(), 'orthanc-fhir-tz-'));
  let orthanc: Orthanc | undefined;
  let ports: { http: number; dicom: number } | undefined;
  let starts = 0;

  async function get(path: string): Promise<Json> {
    const response = await fetch(`${orthanc!.fhirUrl}/${path}`, { headers: { accept: 'application/fhir+json' } });
    expect(response.status, path).to.equal(200);
    return (await response.json()) as Json;
  }
  const accessions = (bundle: Json) =>
    ((bundle.entry ?? []) as Json[]).map((e) => (e.resource.identifier as Json[]).find((i) => i.type)?.value as string).sort();
  const started = async (accession: string) => (await get(`ImagingStudy?identifier=${accession}`)).entry[0].resource.started as string;
  const searched = async (query: string) => accessions(await get(`ImagingStudy?${query}&_count=100`));
  const worklistOn = (date: string) => findWorklist(orthanc!.dicomPort, [`ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=${date}`,
    'ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime', 'AccessionNumber']);
  const step = (answer: WorklistAnswer) => (answer.ScheduledProcedureStepSequence as WorklistAnswer[])[0]!;

  /**
   * (Re)starts on the same data with this environment and zone setting, and
   * waits until the indexes are complete (rebuilt, when the zone changed):
   * the searches below then read them, not Orthanc live.
   */
  async function start(env: Record<string, string>, zone?: string, rebuilds = false): Promise<void> {
    if (orthanc) {
      await orthanc.stop();
      // A log per start: what is waited for below is this start's.
      renameSync(orthanc.logFile, `${orthanc.logFile}.${starts}`);
    }
    starts += 1;
    orthanc = await Orthanc.start({
      dir, env, ...(ports ? { ports } : {}),
      fhir: { Enable: true, Worklist: { Enable: true }, ...(zone !== undefined ? { DefaultTimezoneOffset: zone } : {}) },
      extra: { DicomAlwaysAllowFindWorklist: true },
    });
    ports = { http: orthanc.httpPort, dicom: orthanc.dicomPort };
    const ready = () => orthanc!.log().includes('imaging search index complete')
      && (!rebuilds || /search index: the \d+ stored resources are indexed/.test(orthanc!.log()));
    const deadline = Date.now() + 60000;
    while (!ready() && Date.now() < deadline) await sleep(100);
    expect(ready(), 'the indexes were built').to.equal(true);
  }

  before(async () => {
    await start({ TZ: 'Europe/Brussels' });
    storescu(orthanc!.dicomPort, [...study('TZ-WINTER', '20240115'), ...study('TZ-SUMMER', '20240715')]);
    const post = async (body: Json) => {
      const response = await fetch(`${orthanc!.fhirUrl}/${body.resourceType}`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(body) });
      expect(response.status).to.equal(201);
      return (await response.json()) as Json;
    };
    const p = await post(patient('TZ-WL-P'));
    const order = await post(serviceRequest(`Patient/${p.id}`, 'TZ-WL', { occurrenceDateTime: SCHEDULED }));
    await post(task(`ServiceRequest/${order.id}`, `Patient/${p.id}`, { requestedPeriod: { start: SCHEDULED } }));
  });
  after(async () => {
    await orthanc?.dispose();
    if (!process.env.ORTHANC_FHIR_KEEP) rmSync(dir, { recursive: true, force: true });
  });

  it('TZ=Europe/Brussels, no setting: the local zone, +01:00 in January and +02:00 in July; searches by started with a time', async () => {
    expect(await started('TZ-WINTER')).to.equal('2024-01-15T10:15:30+01:00');
    expect(await started('TZ-SUMMER')).to.equal('2024-07-15T10:15:30+02:00');
    expect(await searched('started=ge2024-01-15T10:00:00%2B01:00')).to.deep.equal(['TZ-SUMMER', 'TZ-WINTER']);
    expect(await searched('started=ge2024-01-15T10:15:00%2B01:00&started=lt2024-01-15T10:16:00%2B01:00')).to.deep.equal(['TZ-WINTER']);
    // 10:15:30+01:00 is 09:15:30Z: not in the minute after 10:15Z.
    expect(await searched('started=ge2024-01-15T10:15:00Z&started=lt2024-01-15T10:16:00Z')).to.deep.equal([]);
    expect(await searched('started=ge2024-07-15T08:15:00Z&started=lt2024-07-15T08:16:00Z')).to.deep.equal(['TZ-SUMMER']);
  });

  it('TZ=Europe/Brussels: the worklist gives the local date and time of the scheduled instant, and C-FIND by that date finds it', () => {
    const [answer, ...others] = worklistOn('20300602');
    expect(others).to.deep.equal([]);
    expect(answer!.AccessionNumber).to.equal('TZ-WL');
    expect(step(answer!)).to.include({ ScheduledProcedureStepStartDate: '20300602', ScheduledProcedureStepStartTime: '013000' });
    expect(worklistOn('20300601')).to.deep.equal([]);
  });

  it('TZ=UTC: +00:00, the imaging index and the worklist date keys rebuilt in the new zone', async () => {
    await start({ TZ: 'UTC' }, undefined, true);
    expect(await started('TZ-WINTER')).to.equal('2024-01-15T10:15:30+00:00');
    expect(await started('TZ-SUMMER')).to.equal('2024-07-15T10:15:30+00:00');
    // Through the rebuilt index: the Brussels one held 09:15:30Z.
    expect(await searched('started=ge2024-01-15T10:15:00Z&started=lt2024-01-15T10:16:00Z')).to.deep.equal(['TZ-WINTER']);
    expect(await searched('started=ge2024-01-15T10:00:00%2B01:00')).to.deep.equal(['TZ-SUMMER', 'TZ-WINTER']);
    // The Task's date key was 20300602 in Brussels.
    const [answer, ...others] = worklistOn('20300601');
    expect(others).to.deep.equal([]);
    expect(step(answer!)).to.include({ ScheduledProcedureStepStartDate: '20300601', ScheduledProcedureStepStartTime: '233000' });
    expect(worklistOn('20300602')).to.deep.equal([]);
  });

  it('DefaultTimezoneOffset "-05:00" wins over TZ=Europe/Brussels, whatever the date', async () => {
    await start({ TZ: 'Europe/Brussels' }, '-05:00', true);
    expect(await started('TZ-WINTER')).to.equal('2024-01-15T10:15:30-05:00');
    expect(await started('TZ-SUMMER')).to.equal('2024-07-15T10:15:30-05:00');
    expect(await searched('started=ge2024-01-15T15:15:00Z&started=lt2024-01-15T15:16:00Z')).to.deep.equal(['TZ-WINTER']);
    const [answer] = worklistOn('20300601');
    expect(step(answer!)).to.include({ ScheduledProcedureStepStartDate: '20300601', ScheduledProcedureStepStartTime: '183000' });
  });

  it('DefaultTimezoneOffset "none": date precision; worklist times as written', async () => {
    await start({ TZ: 'Europe/Brussels' }, 'none', true);
    expect(await started('TZ-WINTER')).to.equal('2024-01-15');
    expect(await started('TZ-SUMMER')).to.equal('2024-07-15');
    expect(await searched('started=2024-01-15')).to.deep.equal(['TZ-WINTER']);
    const [answer] = worklistOn('20300601');
    expect(step(answer!)).to.include({ ScheduledProcedureStepStartDate: '20300601', ScheduledProcedureStepStartTime: '233000' });
  });
});
