// The modality worklist from FHIR orders, with dcmtk's findscu and storescu
// as the modality, and the loop back from images to orders.
import { expect } from 'chai';
import { makeDicomFiles, newUid, storescu } from '../support/dicom';
import { fhirClient } from '../support/fhir';
import { Orthanc, WORKLISTS_PLUGIN } from '../support/orthanc';
import { DCM, patient, serviceRequest, task } from '../support/orders';
import { findWorklist, type WorklistAnswer } from '../support/worklist';

type Json = Record<string, any>;

const modalityInput = (code: string) => [{ type: { coding: [{ system: DCM, code: '121139' }] }, valueCodeableConcept: { coding: [{ system: DCM, code }] } }];
const station = (ae: string) => ({ type: 'Device', identifier: { system: 'urn:dicom:ae', value: ae }, display: ae });

interface Order {
  patientId: string;
  name?: [string, string];
  accession: string;
  modality: string;
  ae: string;
  start: string;
  taskStatus?: string;
  requestStatus?: string;
}

const ORDERS: Order[] = [
  { patientId: 'WL-1', name: ['Müller', 'Jürgen'], accession: 'WLA-1', modality: 'CT', ae: 'CT01', start: '2030-06-01T09:30:00Z' },
  { patientId: 'WL-2', name: ['Martin', 'Anne'], accession: 'WLA-2', modality: 'MR', ae: 'MR01', start: '2030-06-02T14:00:00Z' },
  { patientId: 'WL-3', name: ['Mueller', 'Otto'], accession: 'WLA-3', modality: 'CT', ae: 'CT02', start: '2030-06-03T08:15:00Z' },
  { patientId: 'WL-4', accession: 'WLA-4', modality: 'CT', ae: 'CT01', start: '2030-06-01T11:00:00Z', taskStatus: 'cancelled' },
  { patientId: 'WL-5', accession: 'WLA-5', modality: 'CT', ae: 'CT01', start: '2030-06-01T12:00:00Z', taskStatus: 'completed' },
  { patientId: 'WL-6', accession: 'WLA-6', modality: 'CT', ae: 'CT01', start: '2030-06-01T13:00:00Z', requestStatus: 'revoked' },
];

const accessions = (answers: WorklistAnswer[]) => answers.map((a) => a.AccessionNumber).sort();
const step = (answer: WorklistAnswer) => (answer.ScheduledProcedureStepSequence as WorklistAnswer[])[0]!;

describe('modality worklist from FHIR orders', function () {
  this.timeout(180000);
  let orthanc: Orthanc;
  const client = () => fhirClient(orthanc.fhirUrl) as any;
  const created = new Map<string, { request: Json; task: Json; patient: Json }>();

  async function placeOrder(order: Order) {
    const p = await client().create({ resourceType: 'Patient', body: patient(order.patientId, ...(order.name ?? ['Doe', 'Jane'])) });
    const request = await client().create({
      resourceType: 'ServiceRequest',
      body: serviceRequest(`Patient/${p.id}`, order.accession, { occurrenceDateTime: order.start, status: order.requestStatus ?? 'active' }),
    });
    const t = await client().create({
      resourceType: 'Task',
      body: task(`ServiceRequest/${request.id}`, `Patient/${p.id}`, {
        status: order.taskStatus ?? 'requested', requestedPeriod: { start: order.start }, owner: station(order.ae), input: modalityInput(order.modality),
      }),
    });
    created.set(order.accession, { request, task: t, patient: p });
  }

  before(async () => {
    orthanc = await Orthanc.start({
      fhir: { Enable: true, Worklist: { Enable: true } },
      // Orthanc converts worklist answers to DefaultEncoding: UTF-8 keeps every script.
      extra: { DicomAlwaysAllowFindWorklist: true, StableAge: 1, DefaultEncoding: 'Utf8' },
    });
    for (const order of ORDERS) await placeOrder(order);
  });
  after(async () => orthanc?.dispose());

  it('answers a query by modality with exactly the scheduled CT steps, every requested key present', () => {
    const answers = findWorklist(orthanc.dicomPort, [
      'ScheduledProcedureStepSequence[0].Modality=CT', 'PatientName', 'PatientID', 'PatientBirthDate', 'PatientSex',
      'AccessionNumber', 'StudyInstanceUID', 'ReferringPhysicianName', 'RequestedProcedureDescription',
      'ScheduledProcedureStepSequence[0].ScheduledStationAETitle', 'ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate',
      'ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime', 'ScheduledProcedureStepSequence[0].ScheduledProcedureStepID',
    ]);
    expect(accessions(answers)).to.deep.equal(['WLA-1', 'WLA-3']);
    const muller = answers.find((a) => a.AccessionNumber === 'WLA-1')!;
    expect(muller).to.include({ PatientID: 'WL-1', PatientBirthDate: '19700101', PatientSex: 'F', RequestedProcedureDescription: 'CT chest' });
    expect(muller).to.have.property('ReferringPhysicianName', '');
    expect(muller.StudyInstanceUID).to.match(/^2\.25\.\d+$/);
    const uid = (created.get('WLA-1')!.request.identifier as Json[]).find((i) => i.system === 'urn:dicom:uid')!.value;
    expect(`urn:oid:${muller.StudyInstanceUID}`).to.equal(uid);
    expect(step(muller)).to.include({ Modality: 'CT', ScheduledStationAETitle: 'CT01', ScheduledProcedureStepStartDate: '20300601', ScheduledProcedureStepStartTime: '093000' });
    expect(step(muller).ScheduledProcedureStepID).to.have.length.within(1, 16);
  });

  it('keeps non-ASCII names intact (ISO_IR 192), Latin or not', async () => {
    const [answer] = findWorklist(orthanc.dicomPort, ['PatientID=WL-1', 'PatientName', 'SpecificCharacterSet']);
    expect(answer!.PatientName).to.equal('Müller^Jürgen');
    expect(answer!.SpecificCharacterSet).to.equal('ISO_IR 192');
    await placeOrder({ patientId: 'WL-CYR', name: ['Иванова', 'Анна'], accession: 'WLA-CYR', modality: 'MG', ae: 'MG01', start: '2030-06-09T10:00:00Z' });
    const [cyrillic] = findWorklist(orthanc.dicomPort, ['PatientID=WL-CYR', 'PatientName']);
    expect(cyrillic!.PatientName).to.equal('Иванова^Анна');
    const t = created.get('WLA-CYR')!.task;
    await client().update({ resourceType: 'Task', id: t.id, body: { ...t, status: 'cancelled' } });
  });

  it('matches station AE title, date ranges, name wildcards, PatientID and AccessionNumber', () => {
    const q = (...keys: string[]) => accessions(findWorklist(orthanc.dicomPort, ['AccessionNumber', ...keys]));
    expect(q('ScheduledProcedureStepSequence[0].ScheduledStationAETitle=CT01')).to.deep.equal(['WLA-1']);
    expect(q('ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=20300601-20300602')).to.deep.equal(['WLA-1', 'WLA-2']);
    expect(q('ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=20300603')).to.deep.equal(['WLA-3']);
    expect(q('PatientName=M*ller*')).to.deep.equal(['WLA-1', 'WLA-3']);
    expect(q('PatientName=Mar?in*')).to.deep.equal(['WLA-2']);
    expect(q('PatientID=WL-2')).to.deep.equal(['WLA-2']);
    expect(q('AccessionNumber=WLA-3').filter((a) => a === 'WLA-3')).to.deep.equal(['WLA-3']);
    expect(findWorklist(orthanc.dicomPort, ['AccessionNumber=WLA-3'])).to.have.length(1);
    expect(q('PatientID=nobody')).to.deep.equal([]);
  });

  it('leaves cancelled, completed, revoked and deleted orders out', async () => {
    const all = () => accessions(findWorklist(orthanc.dicomPort, ['AccessionNumber']));
    expect(all()).to.deep.equal(['WLA-1', 'WLA-2', 'WLA-3']);
    await client().delete({ resourceType: 'ServiceRequest', id: created.get('WLA-2')!.request.id });
    expect(all()).to.deep.equal(['WLA-1', 'WLA-3']);
    const t = created.get('WLA-3')!.task;
    await client().update({ resourceType: 'Task', id: t.id, body: { ...t, status: 'cancelled' } });
    expect(all()).to.deep.equal(['WLA-1']);
  });

  it('moves the Task on when the modality sends the study, and links ImagingStudy.basedOn', async () => {
    const [item] = findWorklist(orthanc.dicomPort, ['AccessionNumber=WLA-1', 'StudyInstanceUID', 'PatientID', 'PatientName']);
    const { request, task: t } = created.get('WLA-1')!;
    storescu(orthanc.dicomPort, makeDicomFiles([1, 2].map((n) => ({
      patientId: String(item!.PatientID), patientName: String(item!.PatientName), studyUid: String(item!.StudyInstanceUID),
      accessionNumber: 'WLA-1', seriesUid: `${item!.StudyInstanceUID}.1`, seriesNumber: 1, modality: 'CT',
      sopInstanceUid: newUid(), instanceNumber: n,
    }))));
    let current: Json = {};
    for (let i = 0; i < 60 && current.status !== 'completed'; i++) {
      current = await client().read({ resourceType: 'Task', id: t.id });
      if (current.status !== 'completed') await new Promise((r) => setTimeout(r, 250));
    }
    expect(current.status).to.equal('completed');
    const output = current.output[0].valueReference.reference as string;
    expect(output).to.match(/^ImagingStudy\//);
    const history = await client().resourceHistory({ resourceType: 'Task', id: t.id });
    expect(history.entry.map((e: Json) => e.resource.status)).to.include('in-progress');
    const study = await client().read({ resourceType: 'ImagingStudy', id: output.split('/')[1] });
    expect(study.basedOn).to.deep.equal([{ reference: `ServiceRequest/${request.id}` }]);
    const linked = await client().search({ resourceType: 'ImagingStudy', searchParams: { 'based-on': `ServiceRequest/${request.id}` } });
    expect(linked.total).to.equal(1);
    expect(accessions(findWorklist(orthanc.dicomPort, ['AccessionNumber']))).to.deep.equal([]);
  });

  it('catches up with studies that arrived while the plugin was down', async () => {
    await placeOrder({ patientId: 'WL-7', accession: 'WLA-7', modality: 'US', ae: 'US01', start: '2030-07-01T10:00:00Z' });
    const { task: t, request } = created.get('WLA-7')!;
    const uid = (request.identifier as Json[]).find((i) => i.system === 'urn:dicom:uid')!.value.replace('urn:oid:', '');
    await orthanc.stop();
    const offline = await Orthanc.start({ dir: orthanc.dir, fhir: { Enable: false }, extra: { StableAge: 1 } });
    storescu(offline.dicomPort, makeDicomFiles([{ patientId: 'WL-7', studyUid: uid, seriesUid: `${uid}.1`, modality: 'US', sopInstanceUid: newUid(), accessionNumber: 'WLA-7' }]));
    await new Promise((r) => setTimeout(r, 3000)); // the study becomes stable meanwhile
    await offline.stop();
    await orthanc.restart();
    let current: Json = {};
    for (let i = 0; i < 60 && current.status !== 'completed'; i++) {
      current = await client().read({ resourceType: 'Task', id: t.id });
      if (current.status !== 'completed') await new Promise((r) => setTimeout(r, 250));
    }
    expect(current.status).to.equal('completed');
  });
});

describe('modality worklist beside the ModalityWorklists sample plugin', function () {
  this.timeout(60000);
  it('keeps running and names both plugins in the log', async () => {
    const orthanc = await Orthanc.start({
      fhir: { Enable: true, Worklist: { Enable: true } },
      extra: { Plugins: [], DicomAlwaysAllowFindWorklist: true, Worklists: { Enable: true, Database: '/tmp' } },
      extraPlugins: [WORKLISTS_PLUGIN],
    });
    try {
      expect((await fetch(`${orthanc.fhirUrl}/metadata`)).status).to.equal(200);
      let log = '';
      for (let i = 0; i < 40 && !/both orthanc-fhir and/.test(log); i++) {
        await new Promise((r) => setTimeout(r, 100));
        log = orthanc.log();
      }
      expect(log).to.match(/both orthanc-fhir and worklists are loaded/);
      // Loaded first, this plugin's callback is the one Orthanc kept: the log says so (the shim registers it after the bundle starts).
      expect(log).to.match(/orthanc-fhir \(from FHIR orders\) answers modality worklist queries/);
    } finally {
      await orthanc.dispose();
    }
  });
});
