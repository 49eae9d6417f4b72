// The orders a RIS places: ServiceRequest (the requested procedure) and Task
// (each scheduled procedure step), kept in the plugin's store. Their search
// parameters are R5's own names (code-concept on ServiceRequest: R5 has no
// plain "code" there).
import { randomUUID } from 'node:crypto';
import { unprocessable } from '../fhir/outcome';
import type { Identifier, Resource } from '../fhir/types';
import type { StoredTypeSetup } from './stored-resource';

const DICOM_UID = 'urn:dicom:uid';
const ACSN = { system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' };

function identifiers(resource: Resource | undefined): Identifier[] {
  return (resource?.identifier ?? []) as Identifier[];
}

export function accessionNumber(serviceRequest: Resource): string | undefined {
  return identifiers(serviceRequest).find((i) => i.type?.coding?.some((c) => c.system === ACSN.system && c.code === ACSN.code))?.value;
}

export function studyInstanceUid(serviceRequest: Resource): string | undefined {
  const value = identifiers(serviceRequest).find((i) => i.system === DICOM_UID)?.value;
  return value?.replace(/^urn:oid:/, '');
}

/** A DICOM UID under the 2.25 root (ITU-T X.667: a UUID as a decimal integer). */
export function newDicomUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`).toString()}`;
}

/**
 * The StudyInstanceUID of an order: the client's, else assigned by the server
 * on creation; never changed afterwards, so that the modality (through the
 * worklist) and Orthanc agree on the study.
 */
export function withStudyInstanceUid(resource: Resource, previous: Resource | undefined): Resource {
  const uidOf = (r: Resource | undefined) => ((r?.identifier ?? []) as Identifier[]).find((i) => i.system === DICOM_UID);
  const kept = uidOf(previous);
  const given = uidOf(resource);
  if (kept && given && given.value !== kept.value) {
    throw unprocessable(`The study instance UID of an order never changes (it is ${kept.value})`, ['ServiceRequest.identifier']);
  }
  if (given) return resource;
  const identifier: Identifier = kept ?? { system: DICOM_UID, value: `urn:oid:${newDicomUid()}` };
  return { ...resource, identifier: [...((resource.identifier ?? []) as Identifier[]), identifier] };
}

/** The StudyInstanceUID and accession number of orders: what links them to their studies. */
export function studyKeysOf(...orders: ReadonlyArray<Resource | undefined>): { uids: string[]; accessions: string[] } {
  const present = orders.filter((o): o is Resource => o !== undefined);
  const uids = present.map(studyInstanceUid).filter((v): v is string => v !== undefined);
  const accessions = present.map(accessionNumber).filter((v): v is string => v !== undefined);
  return { uids: [...new Set(uids)], accessions: [...new Set(accessions)] };
}

/**
 * `studiesChanged`: an ImagingStudy's basedOn is the order of its UID or
 * accession number, so the studies of an order written or deleted (those of
 * its keys before and after) are indexed again.
 */
export function serviceRequestSetup(
  validate: (resource: Resource) => void,
  studiesChanged?: (keys: { uids: string[]; accessions: string[] }) => Promise<void>,
): StoredTypeSetup {
  return {
    type: 'ServiceRequest',
    documentation: 'Imaging orders (requested procedures); the modality worklist reads them',
    validate,
    prepare: withStudyInstanceUid,
    ...(studiesChanged ? { written: (previous: Resource | undefined, current: Resource | undefined) => studiesChanged(studyKeysOf(previous, current)) } : {}),
  };
}

export function taskSetup(validate: (resource: Resource) => void): StoredTypeSetup {
  return {
    type: 'Task',
    documentation: 'Scheduled procedure steps of imaging orders (basedOn a ServiceRequest)',
    validate,
  };
}
