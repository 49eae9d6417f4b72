// What the pages show of a resource, read off its FHIR form: names, MRNs,
// accession numbers, codes, stations and times as a person reads them.
// Pure; nothing here is HTML (the pages escape what these return).
import type { Resource } from '../../fhir/types';

interface HumanName { family?: string; given?: string[]; prefix?: string[]; suffix?: string[]; text?: string }
interface Coding { system?: string; code?: string; display?: string }
interface Concept { coding?: Coding[]; text?: string }
interface Identifier { system?: string; value?: string; type?: Concept }
interface Reference { reference?: string; display?: string; identifier?: Identifier }

const ACSN = 'ACSN';
const MR = 'MR';

function identifiers(resource: Resource | undefined): Identifier[] {
  return (resource?.identifier ?? []) as Identifier[];
}

function typed(resource: Resource | undefined, code: string): Identifier | undefined {
  return identifiers(resource).find((identifier) => identifier.type?.coding?.some((coding) => coding.code === code));
}

/** "Family, Given Middle" of the first name (its text when it has no parts). */
export function nameOf(patient: Resource | undefined): string {
  const name = ((patient?.name ?? []) as HumanName[])[0];
  if (!name) return '';
  const given = (name.given ?? []).join(' ');
  const parts = [name.family, given].filter((part) => part !== undefined && part !== '');
  return parts.length > 0 ? parts.join(', ') : (name.text ?? '');
}

/** The medical record number: the identifier of the configured system, else the one typed MR, else the first. */
export function mrnOf(patient: Resource | undefined, patientIdSystem?: string): string {
  const all = identifiers(patient);
  const chosen = (patientIdSystem ? all.find((identifier) => identifier.system === patientIdSystem) : undefined)
    ?? typed(patient, MR) ?? all[0];
  return chosen?.value ?? '';
}

export function accessionOf(resource: Resource | undefined): string {
  return typed(resource, ACSN)?.value ?? '';
}

export function conceptText(concept: Concept | undefined): string {
  return concept?.text ?? concept?.coding?.find((coding) => coding.display)?.display ?? concept?.coding?.[0]?.code ?? '';
}

/** The requested procedure of an order (R5 CodeableReference, or R4's CodeableConcept). */
export function procedureOf(order: Resource | undefined): string {
  const code = order?.code as { concept?: Concept } & Concept | undefined;
  return conceptText(code?.concept ?? code);
}

export function modalitiesOf(study: Resource): string[] {
  const codes = ((study.modality ?? []) as Concept[]).map((concept) => concept.coding?.[0]?.code ?? '').filter((code) => code !== '');
  return [...new Set(codes)];
}

/** The id of a literal reference to `type` ("Patient/x" -> "x"). */
export function referencedId(reference: unknown, type: string): string | undefined {
  const text = (reference as Reference | undefined)?.reference;
  const match = text ? new RegExp(`^(?:.*/)?${type}/([A-Za-z0-9.-]{1,64})$`).exec(text) : null;
  return match?.[1];
}

/** The station a Task is scheduled on: its owner's (or first requested performer's) AE title or name. */
export function stationOf(task: Resource | undefined): string {
  const candidates = [task?.owner, ...((task?.requestedPerformer ?? []) as Array<{ reference?: Reference } | Reference>)
    .map((performer) => ('reference' in performer && typeof performer.reference === 'object' ? performer.reference : performer) as Reference)];
  for (const candidate of candidates as Array<Reference | undefined>) {
    const value = candidate?.identifier?.value ?? candidate?.display;
    if (value) return value;
  }
  return '';
}

/** When a Task is scheduled: its requested start, else its order's occurrence. */
export function scheduledOf(task: Resource | undefined, order: Resource | undefined): string | undefined {
  return ((task?.requestedPeriod as { start?: string } | undefined)?.start) ?? (order?.occurrenceDateTime as string | undefined);
}

/**
 * A FHIR date or dateTime as a person reads it: "2024-01-31 10:15" (seconds
 * when not zero), the offset as written, so that it reads the same as the
 * JSON; the date alone when it has no time.
 */
export function dateTimeText(value: string | undefined): string {
  if (!value) return '';
  const match = /^(\d{4}(?:-\d{2}(?:-\d{2})?)?)(?:T(\d{2}:\d{2})(:\d{2})?(?:\.\d+)?(Z|[+-]\d{2}:\d{2})?)?$/.exec(value);
  if (!match) return value;
  const [, date, time, seconds, zone] = match;
  if (!time) return date!;
  return `${date} ${time}${seconds && seconds !== ':00' ? seconds : ''}${zone ? ` ${zone === 'Z' ? 'UTC' : zone}` : ''}`;
}
