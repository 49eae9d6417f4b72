// What the pages show of a resource, read off its FHIR form: names, MRNs,
// accession numbers, codes, stations and times as a person reads them.
// Pure; nothing here is HTML (the pages escape what these return).
import type { Resource } from '../../fhir/types';
import { accessionNumber } from '../../resources/orders';
import { scheduledStartOf } from '../../worklist/worklist-item';
import { ordersOf, referencedId } from '../../worklist/worklist-keys';

export { referencedId };

interface HumanName { family?: string; given?: string[]; prefix?: string[]; suffix?: string[]; text?: string }
interface Coding { system?: string; code?: string; display?: string }
interface Concept { coding?: Coding[]; text?: string }
interface Identifier { system?: string; value?: string; type?: Concept }
interface Reference { reference?: string; display?: string; identifier?: Identifier }

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

/** The accession number of an order or a study (the identifier typed v2-0203 ACSN). */
export function accessionOf(resource: Resource | undefined): string {
  return (resource && accessionNumber(resource)) ?? '';
}

/** The ids of the ServiceRequests a Task or an ImagingStudy is based on. */
export function orderIdsOf(resource: Resource): string[] {
  return ordersOf(resource).map((order) => order.id);
}

export function conceptText(concept: Concept | undefined): string {
  return concept?.text ?? concept?.coding?.find((coding) => coding.display)?.display ?? concept?.coding?.[0]?.code ?? '';
}

/** The requested procedure of an order (R5 CodeableReference, or R4's CodeableConcept). */
export function procedureOf(order: Resource | undefined): string {
  const code = order?.code as { concept?: Concept } & Concept | undefined;
  return conceptText(code?.concept ?? code);
}

/** A study's modality codes (R5 CodeableConcepts, or R4's Codings). */
export function modalitiesOf(study: Resource): string[] {
  const codes = ((study.modality ?? []) as Array<Concept & Coding>).map((concept) => concept.coding?.[0]?.code ?? concept.code ?? '').filter((code) => code !== '');
  return [...new Set(codes)];
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

/** When a Task is scheduled (the worklist's rule). */
export const scheduledOf = scheduledStartOf;

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
