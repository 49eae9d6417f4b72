// DICOM coded values to FHIR codings: coding scheme designators, code
// sequence items, modality, SOP class, laterality, sex, and the identifier
// namespaces of DICOM issuers.
import type { CodeableConcept, Coding } from '../../fhir/types';
import type { AdministrativeGender } from './fhir-r5';
import type { OrthancTagItem } from './orthanc-types';
import { tagString } from './dicom-tags';

/** DICOM Controlled Terminology (PS3.16), the system of modality codes. */
export const DCM_SYSTEM = 'http://dicom.nema.org/resources/ontology/DCM';
/** Identifier.system for DICOM UIDs (ImagingStudy implementation notes). */
export const DICOM_UID_SYSTEM = 'urn:dicom:uid';
/** Coding.system for SOP classes, whose code is the UID as an urn:oid. */
export const URI_SYSTEM = 'urn:ietf:rfc:3986';
export const SNOMED_SYSTEM = 'http://snomed.info/sct';
export const V2_0203_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v2-0203';

/** v2-0203 identifier type for accession numbers. */
export const ACCESSION_TYPE: CodeableConcept = {
  coding: [{ system: V2_0203_SYSTEM, code: 'ACSN', display: 'Accession ID' }],
};

/** v2-0203 identifier type for medical record numbers (DICOM PatientID). */
export const MEDICAL_RECORD_TYPE: CodeableConcept = {
  coding: [{ system: V2_0203_SYSTEM, code: 'MR', display: 'Medical record number' }],
};

/**
 * The FHIR system of the coding schemes found in imaging data (PS3.16
 * Table 8-1 and HL7 Terminology). SRT holds SNOMED-RT style ids such as
 * "T-D3000", which are not SNOMED CT concept ids, hence its own URI. Local
 * schemes ("99..." designators) have no known system: callers can add them.
 */
export const CODING_SCHEME_SYSTEMS: Readonly<Record<string, string>> = {
  DCM: DCM_SYSTEM,
  LN: 'http://loinc.org',
  SCT: SNOMED_SYSTEM,
  SRT: 'http://snomed.info/srt',
  RADLEX: 'http://radlex.org',
  UCUM: 'http://unitsofmeasure.org',
  I10: 'http://hl7.org/fhir/sid/icd-10',
  C4: 'http://www.ama-assn.org/go/cpt',
};

/**
 * The FHIR system for a coding scheme designator: the caller's table first,
 * then the built-in one; undefined for an unknown (e.g. local) scheme.
 */
export function codingSchemeSystem(
  designator: string | undefined,
  extra: Readonly<Record<string, string>> = {},
): string | undefined {
  if (designator === undefined) return undefined;
  const key = designator.trim();
  return extra[key] ?? CODING_SCHEME_SYSTEMS[key] ?? CODING_SCHEME_SYSTEMS[key.toUpperCase()];
}

/**
 * One item of a DICOM code sequence (CodeValue / LongCodeValue /
 * URNCodeValue, CodingSchemeDesignator, CodingSchemeVersion, CodeMeaning)
 * as a Coding. An unknown scheme keeps code and display without a system
 * rather than inventing one. Undefined when the item has no code.
 */
export function codeItemToCoding(item: OrthancTagItem, extraSystems: Readonly<Record<string, string>> = {}): Coding | undefined {
  const meaning = tagString(item, 'CodeMeaning');
  const urn = tagString(item, 'URNCodeValue');
  const code = tagString(item, 'CodeValue') ?? tagString(item, 'LongCodeValue');
  const coding: Coding = {};
  if (code !== undefined) {
    const system = codingSchemeSystem(tagString(item, 'CodingSchemeDesignator'), extraSystems);
    if (system) coding.system = system;
    const version = tagString(item, 'CodingSchemeVersion');
    if (version && system) coding.version = version;
    coding.code = code;
  } else if (urn !== undefined) {
    // A URN code is its own namespace (PS3.3 §8.3.2).
    coding.system = URI_SYSTEM;
    coding.code = urn;
  } else {
    return undefined;
  }
  if (meaning) coding.display = meaning;
  return coding;
}

/** A code sequence item as a CodeableConcept: the coding, or the meaning as text. */
export function codeItemToConcept(
  item: OrthancTagItem,
  extraSystems: Readonly<Record<string, string>> = {},
): CodeableConcept | undefined {
  const coding = codeItemToCoding(item, extraSystems);
  if (coding) return { coding: [coding] };
  const meaning = tagString(item, 'CodeMeaning');
  return meaning ? { text: meaning } : undefined;
}

/** A Modality (0008,0060) value as a DCM coding. */
export function modalityCoding(modality: string): Coding {
  return { system: DCM_SYSTEM, code: modality.trim() };
}

/** A SOP Class UID as the ImagingStudy.series.instance.sopClass coding. */
export function sopClassCoding(sopClassUid: string): Coding {
  return { system: URI_SYSTEM, code: `urn:oid:${sopClassUid.trim()}` };
}

/**
 * Laterality (0020,0060) and Image Laterality (0020,0062) codes to the
 * SNOMED CT concepts of DICOM CID 244 "Laterality", the value set the R5
 * element is bound to. Code meanings as in CID 244.
 */
const LATERALITY: Readonly<Record<string, Coding>> = {
  R: { system: SNOMED_SYSTEM, code: '24028007', display: 'Right' },
  L: { system: SNOMED_SYSTEM, code: '7771000', display: 'Left' },
  B: { system: SNOMED_SYSTEM, code: '51440002', display: 'Right and left' },
  U: { system: SNOMED_SYSTEM, code: '66459002', display: 'Unilateral' },
};

/** A laterality code as a CodeableConcept; an unknown value is kept as text. */
export function lateralityConcept(value: string | undefined): CodeableConcept | undefined {
  const code = value?.trim().toUpperCase();
  if (!code) return undefined;
  const coding = LATERALITY[code];
  return coding ? { coding: [{ ...coding }] } : { text: value?.trim() };
}

/**
 * PatientSex (0010,0040) to administrative gender. M/F/O are DICOM's
 * enumerated values; any other non-empty value is a sex that was recorded
 * but cannot be interpreted, hence 'unknown'; no value, no gender.
 */
export function dicomSexToGender(value: string | undefined): AdministrativeGender | undefined {
  const code = value?.trim().toUpperCase();
  if (!code) return undefined;
  switch (code) {
    case 'M':
      return 'male';
    case 'F':
      return 'female';
    case 'O':
      return 'other';
    default:
      return 'unknown';
  }
}

const OID = /^[0-2](\.(0|[1-9]\d*))+$/;
const ABSOLUTE_URI = /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/;

export function isOid(value: string): boolean {
  return OID.test(value);
}

export function isAbsoluteUri(value: string): boolean {
  return ABSOLUTE_URI.test(value);
}

/**
 * A DICOM Universal Entity ID and its type (the HL7 v2 HD pair used by the
 * issuer qualifier sequences) as a FHIR system URI, when the type tells how.
 */
export function universalEntityIdToSystem(id: string | undefined, type: string | undefined): string | undefined {
  const value = id?.trim();
  if (!value) return undefined;
  switch (type?.trim().toUpperCase()) {
    case 'ISO':
      return isOid(value) ? `urn:oid:${value}` : undefined;
    case 'UUID':
      return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)
        ? `urn:uuid:${value.toLowerCase()}`
        : undefined;
    case 'URI':
    case 'URL':
      return isAbsoluteUri(value) ? value : undefined;
    default:
      return undefined;
  }
}
