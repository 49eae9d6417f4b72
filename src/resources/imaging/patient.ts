// Orthanc patient -> FHIR R5 Patient. Pure: the caller fetches the JSON.
//
// Input: GET /patients/{id} (database only). Orthanc 1.10.1 indexes
// PatientName, PatientID, PatientBirthDate, PatientSex and OtherPatientIDs;
// IssuerOfPatientID, its qualifiers and OtherPatientIDsSequence are only in
// the DICOM files, so a caller that wants them passes `extraTags`, e.g. from
// GET /patients/{id}/module?simplify (reads one file).
import type { Meta } from '../../fhir/types';
import type { AssignedIdentifier, HumanName, PatientResource } from './fhir-r5';
import type { OrthancPatient, OrthancTagItem, OrthancTags } from './orthanc-types';
import { MEDICAL_RECORD_TYPE, dicomSexToGender } from './dicom-codes';
import { checkConfiguredOffset, dicomDateToFhirDate, orthancTimestampToInstant } from './dicom-datetime';
import { resolveIssuer } from './dicom-issuer';
import { personNameToHumanNames } from './dicom-pn';
import { firstTagItems, firstTagString, tagItems, tagString, tagValues } from './dicom-tags';

export interface PatientInput {
  patient: OrthancPatient;
  /** Patient-level tags read from a DICOM file (simplified JSON), for what 1.10.1 does not index. */
  extraTags?: OrthancTags;
}

export interface PatientMapOptions {
  /** Identifier.system of PatientID when no issuer is stated (this PACS's own namespace). */
  patientIdSystem?: string;
  /** IssuerOfPatientID local name -> Identifier.system (see dicom-issuer.ts for the convention). */
  issuerSystems?: Readonly<Record<string, string>>;
  /** Tag each name with the ISO 21090 representation extension (ABC/IDE/SYL). Default false. */
  nameRepresentationExtension?: boolean;
  /** UTC offset of Orthanc's LastUpdate; default 'Z' (Orthanc 1.10.1 writes UTC). */
  lastUpdateOffset?: string;
}

function sameIdentifier(a: AssignedIdentifier, b: AssignedIdentifier): boolean {
  return a.value === b.value && a.system === b.system;
}

function otherIdentifier(
  value: string,
  issuer: string | undefined,
  qualifiers: OrthancTagItem | undefined,
  options: PatientMapOptions,
): AssignedIdentifier {
  const namespace = resolveIssuer(issuer, qualifiers, {
    defaultSystem: options.patientIdSystem,
    issuerSystems: options.issuerSystems,
  });
  const identifier: AssignedIdentifier = { use: 'secondary' };
  if (namespace.system) identifier.system = namespace.system;
  identifier.value = value;
  if (namespace.assigner) identifier.assigner = namespace.assigner;
  return identifier;
}

/**
 * PatientID first (use 'usual', type MR), then OtherPatientIDsSequence, then
 * the retired OtherPatientIDs values not already listed (use 'secondary').
 * OtherPatientIDs carries no issuer, so those get no system: claiming the
 * default namespace for them would be a guess.
 */
export function patientIdentifiers(
  tags: OrthancTags,
  extraTags: OrthancTags | undefined,
  options: PatientMapOptions = {},
): AssignedIdentifier[] {
  const identifiers: AssignedIdentifier[] = [];
  const add = (identifier: AssignedIdentifier) => {
    if (!identifiers.some((existing) => sameIdentifier(existing, identifier))) identifiers.push(identifier);
  };

  const patientId = firstTagString('PatientID', tags, extraTags);
  if (patientId !== undefined) {
    const namespace = resolveIssuer(
      firstTagString('IssuerOfPatientID', tags, extraTags),
      firstTagItems('IssuerOfPatientIDQualifiersSequence', tags, extraTags)[0],
      { defaultSystem: options.patientIdSystem, issuerSystems: options.issuerSystems },
    );
    const identifier: AssignedIdentifier = { use: 'usual', type: MEDICAL_RECORD_TYPE };
    if (namespace.system) identifier.system = namespace.system;
    identifier.value = patientId;
    if (namespace.assigner) identifier.assigner = namespace.assigner;
    add(identifier);
  }

  for (const item of firstTagItems('OtherPatientIDsSequence', tags, extraTags)) {
    const value = tagString(item, 'PatientID');
    if (value === undefined) continue;
    const qualifiers = tagItems(item, 'IssuerOfPatientIDQualifiersSequence')[0];
    add(otherIdentifier(value, tagString(item, 'IssuerOfPatientID'), qualifiers, options));
  }

  const listed = new Set(identifiers.map((identifier) => identifier.value));
  const otherIds = tagValues(tags, 'OtherPatientIDs');
  for (const value of otherIds.length > 0 ? otherIds : tagValues(extraTags, 'OtherPatientIDs')) {
    if (listed.has(value)) continue;
    listed.add(value);
    identifiers.push({ use: 'secondary', value });
  }
  return identifiers;
}

export function mapPatient(input: PatientInput, options: PatientMapOptions = {}): PatientResource {
  const lastUpdateOffset = checkConfiguredOffset(options.lastUpdateOffset, 'lastUpdateOffset') ?? 'Z';
  const { patient, extraTags } = input;
  const tags = patient.MainDicomTags;
  const resource: PatientResource = { resourceType: 'Patient', id: patient.ID };

  const lastUpdated = orthancTimestampToInstant(patient.LastUpdate, lastUpdateOffset);
  if (lastUpdated) {
    const meta: Meta = { lastUpdated };
    resource.meta = meta;
  }

  const identifiers = patientIdentifiers(tags, extraTags, options);
  if (identifiers.length > 0) resource.identifier = identifiers;

  const names: HumanName[] = personNameToHumanNames(firstTagString('PatientName', tags, extraTags), {
    representationExtension: options.nameRepresentationExtension,
  });
  if (names.length > 0) resource.name = names;

  const gender = dicomSexToGender(firstTagString('PatientSex', tags, extraTags));
  if (gender) resource.gender = gender;

  const birthDate = dicomDateToFhirDate(firstTagString('PatientBirthDate', tags, extraTags));
  if (birthDate) resource.birthDate = birthDate;

  return resource;
}
