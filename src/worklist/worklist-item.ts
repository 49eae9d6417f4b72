// One modality worklist item (DICOM PS3.4 K.6, in Orthanc's create-dicom JSON)
// from a scheduled Task, its ServiceRequest and its Patient, along the lines
// of HL7's draft imaging-service-request guide. Pure: the README's mapping
// table documents the same choices.
import { createHash } from 'node:crypto';
import type { CodeableConcept, Coding, Identifier, Reference, Resource } from '../fhir/types';
import { CODING_SCHEME_SYSTEMS, DCM_SYSTEM, wallClockAt, zonePolicy, type ZonePolicy } from '../resources/imaging';
import { accessionNumber, studyInstanceUid } from '../resources/orders';

export type WorklistItem = Record<string, string | Array<Record<string, string>>>;

export const AE_TITLE_SYSTEM = 'urn:dicom:ae';
const MODALITY_INPUT = '121139';

/** Task statuses that are a scheduled procedure step still to be performed. */
export const SCHEDULED_TASK_STATUSES: readonly string[] = ['requested', 'received', 'accepted', 'ready', 'in-progress'];

const DESIGNATORS = new Map(Object.entries(CODING_SCHEME_SYSTEMS).map(([designator, system]) => [system, designator]));
const PRIORITIES: Record<string, string> = { routine: 'ROUTINE', urgent: 'HIGH', asap: 'HIGH', stat: 'STAT' };
const SEX: Record<string, string> = { male: 'M', female: 'F', other: 'O' };

interface HumanName {
  family?: string;
  given?: string[];
  prefix?: string[];
  suffix?: string[];
  text?: string;
}

function identifiers(resource: Resource | undefined): Identifier[] {
  return (resource?.identifier ?? []) as Identifier[];
}

/** DICOM PN from FHIR names: the first name is the alphabetic group, then ideographic and phonetic. */
export function personName(names: HumanName[] | undefined): string {
  const group = (name: HumanName) => {
    const given = name.given ?? [];
    const parts = [name.family ?? '', given[0] ?? '', given.slice(1).join(' '), (name.prefix ?? []).join(' '), (name.suffix ?? []).join(' ')];
    const joined = parts.join('^').replace(/\^+$/, '');
    return joined !== '' ? joined : (name.text ?? '');
  };
  return (names ?? []).slice(0, 3).map(group).join('=').replace(/=+$/, '');
}

/** A FHIR dateTime that carries a time and a zone: an instant the worklist's zone can express. */
const ZONED = /T\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)$/;

/**
 * YYYYMMDD and HHMMSS of a FHIR dateTime as the modality's local date and
 * time (DICOM's are local, without a zone): a zoned time is expressed in
 * `zone` (a fixed offset, or the process's local zone at that instant,
 * DST-aware; time-zone.ts); with no zone ("none", or absent), or for a value
 * without a time, the clock time written in the value.
 */
export function dicomDateTime(value: string | undefined, zone?: string | ZonePolicy): { date: string; time: string } {
  if (!value) return { date: '', time: '' };
  const policy = zonePolicy(zone);
  // Not a Date for a leap second ("23:59:60Z"), which Date cannot parse: the clock time written.
  const clock = ZONED.test(value) ? wallClockAt(policy, Date.parse(value)) : undefined;
  if (clock) {
    const pad = (n: number, width = 2) => String(n).padStart(width, '0');
    return { date: `${pad(clock.year, 4)}${pad(clock.month)}${pad(clock.day)}`, time: `${pad(clock.hour)}${pad(clock.minute)}${pad(clock.second)}` };
  }
  const match = /^(\d{4})(?:-(\d\d))?(?:-(\d\d))?(?:T(\d\d):(\d\d)(?::(\d\d))?)?/.exec(value);
  if (!match) return { date: '', time: '' };
  const [, y, mo, d, h, mi, s] = match;
  return { date: `${y}${mo ?? ''}${d ?? ''}`, time: h ? `${h}${mi}${s ?? '00'}` : '' };
}

/** An SH value (16 characters at most): the value when short enough, else a stable digest of it. */
export function shortId(value: string): string {
  return value.length <= 16 ? value : createHash('sha1').update(value).digest('hex').slice(0, 16).toUpperCase();
}

function codeItems(concept: CodeableConcept | undefined): Array<Record<string, string>> {
  return (concept?.coding ?? [])
    .filter((coding): coding is Coding & { code: string } => coding.code !== undefined)
    .map((coding) => ({
      CodeValue: coding.code,
      CodingSchemeDesignator: (coding.system && DESIGNATORS.get(coding.system)) ?? '99LOCAL',
      CodeMeaning: coding.display ?? concept?.text ?? coding.code,
    }));
}

export function aeTitle(task: Resource): string {
  const candidates = [task.owner as Reference | undefined, ...((task.requestedPerformer ?? []) as Array<{ reference?: Reference }>).map((p) => p.reference)];
  const found = candidates.find((reference) => reference?.identifier?.system === AE_TITLE_SYSTEM && reference.identifier.value);
  return found?.identifier?.value ?? '';
}

export function modality(task: Resource): string {
  const inputs = (task.input ?? []) as Array<{ type?: CodeableConcept; valueCodeableConcept?: CodeableConcept }>;
  const input = inputs.find((i) => i.type?.coding?.some((c) => c.system === DCM_SYSTEM && c.code === MODALITY_INPUT));
  return input?.valueCodeableConcept?.coding?.find((c) => c.system === DCM_SYSTEM)?.code ?? '';
}

function display(reference: unknown): string {
  const found = reference as Reference | undefined;
  return found?.display ? personName([{ text: found.display }]) : '';
}

export interface WorklistContext {
  /** PatientID of the Patient (see patient-identity.ts). */
  patientId: string;
  /** The zone scheduled times are expressed in (the configured DefaultTimezoneOffset: "local", "none" or an offset). */
  timezoneOffset?: string | ZonePolicy;
}

/** When the step is scheduled, as FHIR writes it: the Task's requested start, else the order's occurrence. */
export function scheduledStartOf(task: Resource | undefined, serviceRequest: Resource | undefined): string | undefined {
  return ((task?.requestedPeriod as { start?: string } | undefined)?.start) ?? (serviceRequest?.occurrenceDateTime as string | undefined);
}

/** The same as DICOM date and time, in the worklist's zone. */
export function scheduledStart(task: Resource, serviceRequest: Resource, timezoneOffset?: string | ZonePolicy): { date: string; time: string } {
  return dicomDateTime(scheduledStartOf(task, serviceRequest), timezoneOffset);
}

export function worklistItem(task: Resource, serviceRequest: Resource, patient: Resource | undefined, context: WorklistContext): WorklistItem {
  const concept = (serviceRequest.code as { concept?: CodeableConcept } | undefined)?.concept;
  const start = scheduledStart(task, serviceRequest, context.timezoneOffset);
  const requester = (serviceRequest.requester as Reference | undefined)?.display;
  const reasons = ((serviceRequest.reason ?? []) as Array<{ concept?: CodeableConcept }>)
    .map((reason) => reason.concept?.text ?? reason.concept?.coding?.[0]?.display)
    .filter(Boolean);
  const description = (task.description as string | undefined) ?? concept?.text ?? concept?.coding?.[0]?.display ?? '';
  const item: WorklistItem = {
    PatientName: personName(patient?.name as HumanName[] | undefined),
    PatientID: context.patientId,
    PatientBirthDate: ((patient?.birthDate as string | undefined) ?? '').replace(/-/g, ''),
    PatientSex: SEX[(patient?.gender as string | undefined) ?? ''] ?? '',
    AccessionNumber: shortId(accessionNumber(serviceRequest) ?? ''),
    RequestedProcedureDescription: concept?.text ?? concept?.coding?.[0]?.display ?? '',
    RequestedProcedureCodeSequence: codeItems(concept),
    RequestedProcedureID: shortId(identifiers(serviceRequest).find((i) => i.use === 'official')?.value ?? serviceRequest.id ?? ''),
    RequestingPhysician: requester ? personName([{ text: requester }]) : '',
    RequestedProcedurePriority: PRIORITIES[(serviceRequest.priority as string | undefined) ?? ''] ?? '',
    ReasonForTheRequestedProcedure: reasons.join('; '),
    StudyInstanceUID: studyInstanceUid(serviceRequest) ?? '',
    ScheduledProcedureStepSequence: [{
      Modality: modality(task),
      ScheduledStationAETitle: aeTitle(task),
      ScheduledProcedureStepStartDate: start.date,
      ScheduledProcedureStepStartTime: start.time,
      ScheduledProcedureStepDescription: description,
      ScheduledProcedureStepID: shortId(identifiers(task)[0]?.value ?? task.id ?? ''),
      ScheduledPerformingPhysicianName: display(((task.requestedPerformer ?? []) as Array<{ reference?: Reference }>)
        .find((p) => p.reference?.type === 'Practitioner' || p.reference?.reference?.startsWith('Practitioner/'))?.reference),
    }],
  };
  const patientSystem = identifiers(patient).find((i) => i.value === context.patientId)?.system;
  if (patientSystem) item.IssuerOfPatientID = patientSystem;
  // ISO_IR 192 (UTF-8) when some text is not ASCII; otherwise the default repertoire.
  if (/[^\x00-\x7f]/.test(JSON.stringify(item))) item.SpecificCharacterSet = 'ISO_IR 192';
  return item;
}
