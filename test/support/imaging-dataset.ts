// A small but tricky imaging dataset, made as real DICOM files by dcmtk and
// sent with storescu: PatientIDs with spaces and punctuation, UTF-8 and
// multi-group names, missing dates and times, series without numbers,
// several modalities, and one StudyInstanceUID under two PatientIDs.
import { makeDicomFiles, newUid, storescu, type InstanceSpec } from './dicom';

export interface Dataset {
  instances: InstanceSpec[];
  /** StudyInstanceUID shared by two patients. */
  sharedStudyUid: string;
}

const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';
const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';

export function imagingDataset(): Dataset {
  const instances: InstanceSpec[] = [];
  const sharedStudyUid = newUid();
  const add = (spec: Omit<InstanceSpec, 'sopInstanceUid'>, count = 1) => {
    for (let i = 0; i < count; i++) instances.push({ ...spec, sopInstanceUid: newUid(), instanceNumber: (spec.instanceNumber ?? 0) + i + 1 });
  };

  const muller = { patientId: 'MRN 001/2024-A', patientName: 'Müller^Jürgen^Karl^Dr.^Jr.', birthDate: '19650412', sex: 'M' };
  const chest = { ...muller, studyUid: newUid(), studyDate: '20240131', studyTime: '101530', timezoneOffset: '+0100',
    studyDescription: 'CT chest', accessionNumber: 'ACC-1001', referringPhysician: 'House^Gregory',
    procedureCode: { value: '24627-2', scheme: 'LN', meaning: 'CT Chest' } };
  const chestAxial = newUid();
  add({ ...chest, seriesUid: chestAxial, seriesNumber: 1, seriesDescription: 'axial', modality: 'CT', bodyPart: 'CHEST', sopClassUid: CT_IMAGE_STORAGE }, 3);
  add({ ...chest, seriesUid: newUid(), seriesNumber: 2, seriesDescription: 'PET', modality: 'PT' }, 2);

  const head = { ...muller, studyUid: newUid(), studyDate: '20230615', studyDescription: 'MR head', accessionNumber: 'ACC-0900' };
  add({ ...head, seriesUid: newUid(), modality: 'MR', laterality: 'L', sopClassUid: MR_IMAGE_STORAGE }, 2);

  const yamada = { patientId: 'JP-0002', patientName: 'Yamada^Hanako=山田^花子=やまだ^はなこ', birthDate: '19880730', sex: 'F' };
  add({ ...yamada, studyUid: newUid(), studyDate: '20240201', studyTime: '0830', studyDescription: 'US abdomen',
    accessionNumber: 'ACC-1002', seriesUid: newUid(), seriesNumber: 1, modality: 'US' }, 1);

  // No birth date, no sex, no study date or time, no accession, no series number.
  const anonymous = { patientId: "O'Brien #3", patientName: "O'Brien^Seán" };
  add({ ...anonymous, studyUid: newUid(), seriesUid: newUid(), modality: 'DX' }, 1);

  // The same study UID under two PatientIDs: two studies in Orthanc.
  add({ patientId: 'TWIN-A', patientName: 'Twin^Alpha', birthDate: '20000101', sex: 'O', studyUid: sharedStudyUid,
    studyDate: '20220101', accessionNumber: 'ACC-TWIN', seriesUid: newUid(), seriesNumber: 1, modality: 'CR' }, 1);
  add({ patientId: 'TWIN-B', patientName: 'Twin^Beta', birthDate: '20000101', sex: 'F', studyUid: sharedStudyUid,
    studyDate: '20220101', accessionNumber: 'ACC-TWIN', seriesUid: newUid(), seriesNumber: 1, modality: 'CR' }, 1);

  return { instances, sharedStudyUid };
}

export function sendDataset(dicomPort: number, dataset: Dataset): void {
  storescu(dicomPort, makeDicomFiles(dataset.instances));
}
