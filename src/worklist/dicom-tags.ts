// The tags of the worklist attributes. Items are built with keywords (easy to
// read and test) and leave keyed by tag: Orthanc's DICOM toolkit resolves a
// keyword by scanning its whole dictionary, a thousand times slower.
export const TAGS: Readonly<Record<string, string>> = {
  SpecificCharacterSet: '0008,0005',
  AccessionNumber: '0008,0050',
  Modality: '0008,0060',
  ReferringPhysicianName: '0008,0090',
  CodeValue: '0008,0100',
  CodingSchemeDesignator: '0008,0102',
  CodeMeaning: '0008,0104',
  PatientName: '0010,0010',
  PatientID: '0010,0020',
  IssuerOfPatientID: '0010,0021',
  PatientBirthDate: '0010,0030',
  PatientSex: '0010,0040',
  StudyInstanceUID: '0020,000d',
  RequestingPhysician: '0032,1032',
  RequestedProcedureDescription: '0032,1060',
  RequestedProcedureCodeSequence: '0032,1064',
  ScheduledStationAETitle: '0040,0001',
  ScheduledProcedureStepStartDate: '0040,0002',
  ScheduledProcedureStepStartTime: '0040,0003',
  ScheduledPerformingPhysicianName: '0040,0006',
  ScheduledProcedureStepDescription: '0040,0007',
  ScheduledProcedureStepID: '0040,0009',
  ScheduledProcedureStepSequence: '0040,0100',
  RequestedProcedureID: '0040,1001',
  ReasonForTheRequestedProcedure: '0040,1002',
  RequestedProcedurePriority: '0040,1003',
};

type Dataset = Record<string, unknown>;

/** The same dataset keyed by tag (sequences too); keys already tags are kept. */
export function byTag(dataset: Dataset): Dataset {
  const tagged: Dataset = {};
  for (const [key, value] of Object.entries(dataset)) {
    tagged[TAGS[key] ?? key.toLowerCase()] = Array.isArray(value) ? value.map((item) => byTag(item as Dataset)) : value;
  }
  return tagged;
}
