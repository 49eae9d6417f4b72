// Generated narratives (R5 narrative.html): Resource.text, the XHTML an EHR
// shows of a resource at a glance, on every DomainResource this server
// answers that brings no text of its own. Made when a resource is served,
// never stored: a written resource keeps the text its client gave, but a
// generated one sent back is dropped (withoutGeneratedText), so that it
// cannot outlive the data it described. Pure: no I/O.
//
// The XHTML is the narrow subset FHIR allows (txt-1, txt-2): a root div in
// the XHTML namespace holding p, b, table, tbody, tr, th and td, no
// attribute but the namespace, every value from data escaped (a DICOM
// PatientName may hold markup), short: a line per fact, long values cut.
import { narrativeText, outcomeNarrative } from '../fhir/outcome';
import type { CodeableConcept, Coding, OperationOutcomeIssue, Reference, Resource } from '../fhir/types';
import { SUBSETTED } from '../search';
import { V2_0203_SYSTEM } from './imaging/dicom-codes';

export interface Narrative {
  status: 'generated' | 'extensions' | 'additional' | 'empty';
  div: string;
}

/** The patient of an ImagingStudy as its DICOM records it: the study has only a reference. */
export interface PatientLine {
  name?: string;
  mrn?: string;
}

/** What a resource does not say of itself but its narrative shows. */
export interface NarrativeHints {
  patient?: PatientLine;
}

type Json = Record<string, unknown>;
type Row = readonly [label: string, value: string | undefined];

interface Summary {
  title: string;
  rows: readonly Row[];
}

/** Resources that are not DomainResources: no text element (Bundle, Parameters, Binary). */
const NOT_DOMAIN: ReadonlySet<string> = new Set(['Bundle', 'Parameters', 'Binary']);
/** A value longer than this is cut: a narrative is a glance, the data is in the resource. */
const MAX_VALUE = 200;
/** Of a list (identifiers, resource types), at most this many are named. */
const MAX_ITEMS = 5;
/** Bundles in Bundles (a batch-response entry holding a searchset): no deeper. */
const MAX_DEPTH = 4;
/** The elements that come before text in a DomainResource (R5 element order). */
const BEFORE_TEXT: ReadonlySet<string> = new Set(['resourceType', 'id', 'meta', 'implicitRules', 'language']);

// --- reading FHIR JSON, trusting nothing (a client's resource) -------------

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function string(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

function objects(value: unknown): Json[] {
  return (Array.isArray(value) ? value : [value]).filter(isObject);
}

function joined(values: ReadonlyArray<string | undefined>, separator = ', '): string | undefined {
  const present = values.filter((value): value is string => value !== undefined);
  if (present.length === 0) return undefined;
  const shown = present.slice(0, MAX_ITEMS).join(separator);
  return present.length > MAX_ITEMS ? `${shown} and ${present.length - MAX_ITEMS} more` : shown;
}

/** A code as people in imaging say it (CT, DICOMweb): the first coding's code, else a display or the text. */
function codeOf(concept: Json): string | undefined {
  const coding = objects(concept.coding)[0];
  return string(coding?.code) ?? string(coding?.display) ?? string(concept.text);
}

function codingText(coding: Coding | undefined): string | undefined {
  return string(coding?.display) ?? string(coding?.code);
}

function conceptText(concept: unknown): string | undefined {
  if (!isObject(concept)) return undefined;
  const { text, coding } = concept as CodeableConcept;
  return string(text) ?? objects(coding).map((c) => codingText(c as Coding)).find((t) => t !== undefined);
}

function referenceText(reference: unknown): string | undefined {
  if (!isObject(reference)) return undefined;
  const { display, identifier, reference: literal } = reference as Reference;
  return string(display) ?? string(identifier?.value) ?? string(literal);
}

/** Whether an identifier is typed with a v2-0203 code (MR, ACSN). */
function typed(identifier: Json, code: string): boolean {
  const type = identifier.type;
  return isObject(type) && objects(type.coding).some((coding) => coding.system === V2_0203_SYSTEM && coding.code === code);
}

function identifierValues(resource: Json, code: string): string | undefined {
  return joined(objects(resource.identifier).filter((identifier) => typed(identifier, code)).map((identifier) => string(identifier.value)));
}

/** '2024-01-31T10:15:30.25+01:00' -> '2024-01-31 10:15:30 +01:00': the instant as the data gives it, its zone not converted. */
function dateTime(value: unknown): string | undefined {
  const text = string(value);
  if (text === undefined) return undefined;
  const match = /^(\d{4}(?:-\d\d(?:-\d\d)?)?)(?:T(\d\d:\d\d(?::\d\d)?)(?:\.\d+)?(Z|[+-]\d\d:\d\d)?)?$/.exec(text);
  if (!match) return text;
  const [, date, time, zone] = match;
  return [date, time, zone === 'Z' ? 'UTC' : zone].filter((part) => part !== undefined).join(' ');
}

function period(value: unknown): string | undefined {
  if (!isObject(value)) return undefined;
  const start = dateTime(value.start);
  const end = dateTime(value.end);
  return start !== undefined && end !== undefined ? `${start} to ${end}` : start !== undefined ? `from ${start}` : end !== undefined ? `until ${end}` : undefined;
}

function humanName(value: unknown): string | undefined {
  if (!isObject(value)) return undefined;
  const strings = (list: unknown) => (Array.isArray(list) ? list.map(string) : []);
  // All its parts: a name is not a list to cut short.
  const parts = [...strings(value.prefix), ...strings(value.given), string(value.family), ...strings(value.suffix)].filter((p) => p !== undefined);
  return string(value.text) ?? (parts.length > 0 ? parts.join(' ') : undefined);
}

/** The name an EHR shows: the official one, else the usual one, else the first. */
function patientName(resource: Json): string | undefined {
  const names = objects(resource.name);
  const chosen = names.find((n) => n.use === 'official') ?? names.find((n) => n.use === 'usual') ?? names[0];
  return humanName(chosen);
}

function plural(count: unknown, one: string, many: string): string | undefined {
  return typeof count === 'number' ? `${count} ${count === 1 ? one : many}` : undefined;
}

function withQualifier(main: string | undefined, qualifier: string | undefined): string | undefined {
  if (main === undefined) return qualifier;
  return qualifier === undefined ? main : `${main} (${qualifier})`;
}

// --- what each type shows --------------------------------------------------

type Describe = (resource: Json, hints: NarrativeHints) => Summary;

const ACTIONS: Readonly<Record<string, string>> = { C: 'create', R: 'read', U: 'update', D: 'delete', E: 'execute' };

const DESCRIBE: Readonly<Record<string, Describe>> = {
  ImagingStudy: (study, { patient }) => {
    const subject = patient && (patient.name !== undefined || patient.mrn !== undefined)
      ? withQualifier(patient.name, patient.mrn !== undefined ? `MRN ${patient.mrn}` : undefined)
      : referenceText(study.subject);
    return {
      title: 'Imaging study',
      rows: [
        ['Patient', subject],
        ['Started', dateTime(study.started)],
        ['Modalities', joined(objects(study.modality).map(codeOf))],
        ['Description', string(study.description)],
        ['Accession', identifierValues(study, 'ACSN')],
        ['Series and instances', joined([plural(study.numberOfSeries, 'series', 'series'), plural(study.numberOfInstances, 'instance', 'instances')])],
        ['Status', string(study.status)],
      ],
    };
  },
  Patient: (patient) => ({
    title: 'Patient',
    rows: [
      ['Name', patientName(patient)],
      ['MRN', identifierValues(patient, 'MR')],
      ['Identifiers', joined(objects(patient.identifier).filter((i) => !typed(i, 'MR')).map((i) => withQualifier(string(i.value), conceptText(i.type))))],
      ['Birth date', string(patient.birthDate)],
      ['Sex', string(patient.gender)],
    ],
  }),
  ServiceRequest: (order) => ({
    title: 'Service request',
    rows: [
      ['Procedure', isObject(order.code) ? conceptText(order.code.concept) ?? referenceText(order.code.reference) : undefined],
      ['Patient', referenceText(order.subject)],
      ['Accession', identifierValues(order, 'ACSN')],
      ['Status', withQualifier(string(order.status), string(order.intent))],
      ['Occurrence', dateTime(order.occurrenceDateTime) ?? period(order.occurrencePeriod)
        ?? (isObject(order.occurrenceTiming) && Array.isArray(order.occurrenceTiming.event) ? dateTime(order.occurrenceTiming.event[0]) : undefined)],
      ['Requester', referenceText(order.requester)],
    ],
  }),
  Task: (task) => ({
    title: 'Task',
    rows: [
      ['Status', withQualifier(string(task.status), conceptText(task.businessStatus))],
      ['Description', string(task.description)],
      ['Focus', referenceText(task.focus)],
      ['Station', referenceText(task.owner)],
      ['Scheduled start', isObject(task.requestedPeriod) ? dateTime(task.requestedPeriod.start) : undefined],
      ['For', referenceText(task.for)],
    ],
  }),
  Endpoint: (endpoint) => ({
    title: 'Endpoint',
    rows: [
      ['Name', string(endpoint.name)],
      ['Address', string(endpoint.address)],
      ['Connection type', joined(objects(endpoint.connectionType).map(codeOf))],
      ['Status', string(endpoint.status)],
    ],
  }),
  // The channel's headers (parameter) are credentials for the receiver: never shown.
  Subscription: (subscription) => ({
    title: 'Subscription',
    rows: [
      ['Topic', string(subscription.topic)],
      ['Status', string(subscription.status)],
      ['Channel type', isObject(subscription.channelType) ? string(subscription.channelType.code) ?? string(subscription.channelType.display) : undefined],
      ['Endpoint', string(subscription.endpoint)],
    ],
  }),
  SubscriptionTopic: (topic) => ({
    title: 'Subscription topic',
    rows: [['Title', string(topic.title)], ['URL', string(topic.url)]],
  }),
  SubscriptionStatus: (status) => ({
    title: 'Subscription status',
    rows: [
      ['Status', string(status.status)],
      ['Type', string(status.type)],
      ['Events since start', string(status.eventsSinceSubscriptionStart) ?? (typeof status.eventsSinceSubscriptionStart === 'number' ? String(status.eventsSinceSubscriptionStart) : undefined)],
    ],
  }),
  AuditEvent: (event) => ({
    title: 'Audit event',
    rows: [
      ['Action', withQualifier(ACTIONS[String(event.action)], conceptText(event.code))],
      ['Recorded', dateTime(event.recorded)],
      ['Outcome', isObject(event.outcome) ? withQualifier(codingText(event.outcome.code as Coding | undefined), joined(objects(event.outcome.detail).map(conceptText))) : undefined],
      ['Agent', joined(objects(event.agent).map((agent) => referenceText(agent.who)))],
    ],
  }),
  CapabilityStatement: (statement) => ({
    title: 'Capability statement',
    rows: [
      ['Software', isObject(statement.software) ? joined([string(statement.software.name), string(statement.software.version)], ' ') : undefined],
      ['FHIR version', string(statement.fhirVersion)],
      // All of them: this list is what the statement is read for.
      ['Resource types', objects(statement.rest).flatMap((rest) => objects(rest.resource).map((r) => string(r.type)))
        .filter((type): type is string => type !== undefined).join(', ') || undefined],
    ],
  }),
};

/** Any other DomainResource: what it is. */
function generic(resource: Json): Summary {
  return { title: String(resource.resourceType), rows: [['Id', string(resource.id)]] };
}

function clip(value: string): string {
  return value.length > MAX_VALUE ? `${value.slice(0, MAX_VALUE - 1)}…` : value;
}

function render({ title, rows }: Summary): string {
  const cells = rows.flatMap(([label, value]) => (value === undefined ? [] : [`<tr><th>${narrativeText(label)}</th><td>${narrativeText(clip(value))}</td></tr>`]));
  const table = cells.length > 0 ? `<table><tbody>${cells.join('')}</tbody></table>` : '';
  return `<div xmlns="http://www.w3.org/1999/xhtml"><p><b>${narrativeText(title)}</b></p>${table}</div>`;
}

/** The generated narrative of a DomainResource. */
export function narrativeOf(resource: Resource, hints: NarrativeHints = {}): Narrative {
  if (resource.resourceType === 'OperationOutcome') {
    return outcomeNarrative(objects(resource.issue) as unknown as OperationOutcomeIssue[]);
  }
  const describe = DESCRIBE[resource.resourceType] ?? generic;
  return { status: 'generated', div: render(describe(resource, hints)) };
}

function isSubsetted(resource: Resource): boolean {
  const tags: unknown = resource.meta?.tag;
  return Array.isArray(tags) && tags.some((tag: unknown) => isObject(tag) && tag.system === SUBSETTED.system && tag.code === SUBSETTED.code);
}

/**
 * The resource with its generated narrative: itself when it has a text, is
 * no DomainResource, or is a subset (_summary, _elements decided what it
 * holds); otherwise a copy with `text` in its place of the element order
 * (after id, meta, implicitRules, language). The resource given is never
 * changed: it may be frozen, or shared by a cache.
 */
export function withNarrative<T extends Resource>(resource: T, hints: NarrativeHints = {}): T {
  if (resource.text !== undefined || NOT_DOMAIN.has(resource.resourceType) || isSubsetted(resource)) return resource;
  const text = narrativeOf(resource, hints);
  // The elements before text first, then text; assign keeps their places and adds the rest after.
  const copy: Json = {};
  for (const key of BEFORE_TEXT) if (resource[key] !== undefined) copy[key] = resource[key];
  copy.text = text;
  Object.assign(copy, resource);
  return copy as T;
}

/** `list` with `narrate` applied to each item; the same array when no item changed. */
function mapShared(list: readonly unknown[], narrate: (item: unknown) => unknown): readonly unknown[] {
  let changed = false;
  const mapped = list.map((item) => {
    const next = narrate(item);
    if (next !== item) changed = true;
    return next;
  });
  return changed ? mapped : list;
}

/**
 * withNarrative for whatever an interaction answers: a DomainResource, or
 * the DomainResources in a Bundle's entries (resource and response.outcome,
 * a nested Bundle's too) or in a Parameters (resource, parts). What needs
 * no narrative is shared, not copied: a searchset whose entries have theirs
 * comes back as it was.
 */
export function withNarratives<T extends Resource>(resource: T, depth = 0): T {
  if (depth > MAX_DEPTH) return resource;
  const inner = (value: unknown) => (isObject(value) && typeof value.resourceType === 'string' ? withNarratives(value as Resource, depth + 1) : value);
  if (resource.resourceType === 'Bundle') {
    if (!Array.isArray(resource.entry)) return resource;
    const entry = mapShared(resource.entry, (item) => {
      if (!isObject(item)) return item;
      const narrated = inner(item.resource);
      const response = isObject(item.response) ? item.response : undefined;
      const outcome = inner(response?.outcome);
      if (narrated === item.resource && outcome === response?.outcome) return item;
      return { ...item, ...(narrated !== undefined ? { resource: narrated } : {}), ...(outcome !== response?.outcome ? { response: { ...response, outcome } } : {}) };
    });
    return entry === resource.entry ? resource : { ...resource, entry };
  }
  if (resource.resourceType === 'Parameters') {
    if (!Array.isArray(resource.parameter)) return resource;
    const narrate = (item: unknown): unknown => {
      if (!isObject(item)) return item;
      const narrated = inner(item.resource);
      const part = Array.isArray(item.part) ? mapShared(item.part, narrate) : item.part;
      if (narrated === item.resource && part === item.part) return item;
      return { ...item, ...(narrated !== undefined ? { resource: narrated } : {}), ...(part !== undefined ? { part } : {}) };
    };
    const parameter = mapShared(resource.parameter, narrate);
    return parameter === resource.parameter ? resource : { ...resource, parameter };
  }
  return withNarrative(resource);
}

/**
 * What is stored of a written resource: a client's own text is kept, a
 * generated one dropped (it is made again whenever the resource is served,
 * from what it then holds).
 */
export function withoutGeneratedText<T extends Resource>(resource: T): T {
  if (!isObject(resource.text) || resource.text.status !== 'generated') return resource;
  const { text: _generated, ...rest } = resource;
  return rest as T;
}
