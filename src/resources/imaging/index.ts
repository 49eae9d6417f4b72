// Pure mappers from Orthanc's REST JSON to FHIR R5 Patient, ImagingStudy and
// Endpoint, and the DICOM value helpers they are built on.
export * from './orthanc-types';
export * from './fhir-r5';
export * from './dicom-tags';
export * from './dicom-pn';
export * from './dicom-datetime';
export * from './time-zone';
export * from './dicom-codes';
export * from './dicom-issuer';
export * from './patient';
export * from './imaging-study';
export * from './endpoint';
