// How a Patient written over FHIR meets the same patient in DICOM. Orthanc
// names a patient after its PatientID (the SHA-1 of the PatientID, in five
// groups of eight hex digits), so a Patient stored before any image arrives
// gets that id, and ImagingStudy.subject points at it once images come.
import { createHash } from 'node:crypto';
import type { Coding, Identifier, Resource } from '../fhir/types';

const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';

/** The id Orthanc gives the patient of this PatientID (verified against Orthanc by the tests). */
export function orthancPatientId(patientId: string): string {
  const hash = createHash('sha1').update(patientId, 'utf8').digest('hex');
  return hash.match(/.{8}/g)!.join('-');
}

/**
 * The identifier that carries the DICOM PatientID: the one of the configured
 * system when there is one; else the one typed MR; else the first with a value.
 */
export function patientIdOf(patient: Resource, patientIdSystem: string | undefined): string | undefined {
  // Also called on bodies not yet validated (a transaction assigns ids first): take nothing on trust.
  const raw: unknown[] = Array.isArray(patient.identifier) ? patient.identifier : [];
  const identifiers = raw.filter((identifier): identifier is Identifier =>
    typeof identifier === 'object' && identifier !== null && typeof (identifier as Identifier).value === 'string' && (identifier as Identifier).value !== '');
  const isMr = (identifier: Identifier) => {
    const coding: unknown = identifier.type?.coding;
    return Array.isArray(coding) && coding.some((c: Coding | null) => c?.system === V2_0203 && c.code === 'MR');
  };
  const chosen = patientIdSystem !== undefined
    ? identifiers.find((identifier) => identifier.system === patientIdSystem)
    : identifiers.find(isMr) ?? identifiers[0];
  return chosen?.value;
}

function latest(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return new Date(a) >= new Date(b) ? a : b;
}

/**
 * The Patient read when both exist: the stored resource (the RIS is the
 * master of demographics) completed by DICOM. Identifiers are the union;
 * name, gender and birthDate come from DICOM only when the stored resource
 * has none; meta.versionId is the stored version, lastUpdated the later one.
 */
export function mergePatient(stored: Resource | undefined, dicom: Resource | undefined): Resource | undefined {
  if (!stored || !dicom) return stored ?? dicom;
  const merged: Resource = { ...stored };
  const key = (identifier: Identifier) => `${identifier.system ?? ''}|${identifier.value ?? ''}`;
  const identifiers = [...((stored.identifier ?? []) as Identifier[])];
  const known = new Set(identifiers.map(key));
  for (const identifier of (dicom.identifier ?? []) as Identifier[]) {
    if (!known.has(key(identifier))) identifiers.push(identifier);
  }
  if (identifiers.length > 0) merged.identifier = identifiers;
  for (const element of ['name', 'gender', 'birthDate']) {
    if (merged[element] === undefined && dicom[element] !== undefined) merged[element] = dicom[element];
  }
  const lastUpdated = latest(stored.meta?.lastUpdated, dicom.meta?.lastUpdated);
  merged.meta = { ...stored.meta, ...(lastUpdated ? { lastUpdated } : {}) };
  return merged;
}
