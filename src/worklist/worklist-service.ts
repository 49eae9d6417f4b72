// Answers a modality's worklist query from the orders: one item per Task
// that is a scheduled procedure step (SCHEDULED_TASK_STATUSES) of an active
// ServiceRequest. The query's exact keys find the candidates in the index
// (worklist-keys.ts); each is read and pre-selected conservatively, and
// Orthanc's own matcher (in the shim) decides what answers the query.
import type { FhirConfig } from '../config';
import type { Resource } from '../fhir/types';
import { orthancPatientId, patientIdOf } from '../resources/patient-identity';
import type { KeyCondition, Store } from '../store/store';
import { byTag, TAGS } from './dicom-tags';
import { SCHEDULED_TASK_STATUSES, worklistItem, type WorklistItem } from './worklist-item';
import { activeOrder, ordersOf, WORKLIST_KEYS, worklistPatientRef } from './worklist-keys';

type QueryJson = Record<string, unknown>;

/** One scheduled procedure step: its Task, order and patient, and the item a modality gets. */
export interface WorklistStep {
  task: Resource;
  order: Resource;
  patient: Resource | undefined;
  item: WorklistItem;
}

export interface WorklistAnswer {
  items: WorklistItem[];
  /** Most answers (0: no limit); Orthanc marks the answer incomplete beyond it. */
  limit: number;
}

/** Whether an item's value can match a query value (a superset of DICOM's rules). */
function mayMatch(queryValue: unknown, itemValue: unknown): boolean {
  if (typeof queryValue !== 'string' || queryValue === '' || typeof itemValue !== 'string') return true;
  if (/[*?\\]/.test(queryValue)) return true; // wildcards and lists: Orthanc decides
  const range = /^(\d*)-(\d*)$/.exec(queryValue);
  if (range) return (range[1] === '' || itemValue >= range[1]!) && (range[2] === '' || itemValue <= range[2]!);
  return queryValue === itemValue;
}

/** `query` is keyed by tag, as Orthanc hands it over; `item` by keyword. */
function preselected(query: QueryJson, item: WorklistItem): boolean {
  const step = ((query[TAGS.ScheduledProcedureStepSequence!] as QueryJson[] | undefined) ?? [])[0] ?? {};
  const itemStep = (item.ScheduledProcedureStepSequence as Array<Record<string, string>>)[0]!;
  return ['PatientID', 'AccessionNumber', 'StudyInstanceUID'].every((key) => mayMatch(query[TAGS[key]!], item[key]))
    && ['Modality', 'ScheduledStationAETitle', 'ScheduledProcedureStepStartDate'].every((key) => mayMatch(step[TAGS[key]!], itemStep[key]));
}

/**
 * Every key the query asks for is in the answer, empty when unknown (DICOM
 * PS3.4 C.4.1.1.3.2: return keys are always returned); inside sequences too.
 */
export function withRequestedKeys(query: QueryJson, item: WorklistItem): WorklistItem {
  const complete: WorklistItem = { ...item };
  for (const [key, value] of Object.entries(query)) {
    if (key === TAGS.SpecificCharacterSet) continue;
    const present = complete[key];
    if (Array.isArray(value)) {
      const wanted = (value[0] ?? {}) as QueryJson;
      const items = Array.isArray(present) ? present : [];
      complete[key] = items.length > 0
        ? items.map((entry) => withRequestedKeys(wanted, entry as WorklistItem) as Record<string, string>)
        : [];
    } else if (present === undefined) {
      complete[key] = '';
    }
  }
  return complete;
}

/** An exact query value (no wildcard, list or range): a key to look candidates up by. */
function exact(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' && !/[*?\\]/.test(value) ? value : undefined;
}

/** A DICOM date or date range as [from, to] (either end open). */
function dateRange(value: unknown): { from?: string; to?: string } | undefined {
  if (typeof value !== 'string' || value === '' || /[*?\\]/.test(value)) return undefined;
  const match = /^(\d{8})?-(\d{8})?$/.exec(value);
  if (match) return { ...(match[1] ? { from: match[1] } : {}), ...(match[2] ? { to: match[2] } : {}) };
  return /^\d{8}$/.test(value) ? { from: value, to: value } : undefined;
}

export class WorklistService {
  constructor(
    private readonly store: Store,
    private readonly readPatient: (id: string) => Promise<Resource | undefined>,
    private readonly config: FhirConfig,
  ) {}

  /** The index conditions a query narrows the candidates by, the store drives from the narrowest. */
  private conditions(query: QueryJson, issuerAet: string, byIssuer: boolean): KeyCondition[] {
    const step = ((query[TAGS.ScheduledProcedureStepSequence!] as QueryJson[] | undefined) ?? [])[0] ?? {};
    const conditions: KeyCondition[] = [];
    const equal = (key: string, value: string | undefined) => {
      if (value !== undefined) conditions.push({ key, values: [value] });
    };
    const patientId = exact(query[TAGS.PatientID!]);
    equal(WORKLIST_KEYS.patient, patientId === undefined ? undefined : orthancPatientId(patientId));
    equal(WORKLIST_KEYS.accession, exact(query[TAGS.AccessionNumber!]));
    const date = dateRange(step[TAGS.ScheduledProcedureStepStartDate!]);
    if (date) conditions.push({ key: WORKLIST_KEYS.date, ...date });
    equal(WORKLIST_KEYS.station, byIssuer ? issuerAet : exact(step[TAGS.ScheduledStationAETitle!]));
    equal(WORKLIST_KEYS.modality, exact(step[TAGS.Modality!]));
    conditions.push({ key: WORKLIST_KEYS.member, values: ['1'] });
    return conditions;
  }

  /** The step of one candidate Task; undefined when it left the worklist meanwhile. */
  private async step(task: Resource, orders: Map<string, Resource | undefined>, patients: Map<string, Promise<Resource | undefined>>): Promise<WorklistStep | undefined> {
    if (!SCHEDULED_TASK_STATUSES.includes(task.status as string)) return undefined;
    const order = activeOrder(task, (_type, id) => orders.get(id));
    const patientRef = order && worklistPatientRef(task, order);
    if (!order || !patientRef) return undefined;
    if (!patients.has(patientRef)) patients.set(patientRef, this.readPatient(patientRef));
    const patient = await patients.get(patientRef);
    const patientId = patient && patientIdOf(patient, this.config.patientIdSystem);
    if (!patientId) return undefined;
    return { task, order, patient, item: worklistItem(task, order, patient, { patientId, timezoneOffset: this.config.defaultTimezoneOffset }) };
  }

  /** `queryText`: the query as Orthanc's DICOM JSON keyed by tag ("0010,0010"). */
  async answer(queryText: string, issuerAet: string): Promise<WorklistAnswer> {
    const query = byTag(JSON.parse(queryText || '{}') as QueryJson);
    const steps = await this.matching(query, issuerAet);
    const tagged = (item: WorklistItem) => byTag(item) as WorklistItem;
    return { items: steps.map((step) => withRequestedKeys(query, tagged(step.item))), limit: this.config.worklist.limitAnswers };
  }

  /**
   * The steps of one day, of a station and a modality when given: what a
   * modality's C-FIND with those exact keys gets (the same candidates and
   * items as answer()), in the order of their scheduled time, for the
   * worklist page. `date` is YYYYMMDD.
   */
  async day(date: string, station?: string, modality?: string): Promise<WorklistStep[]> {
    const step: QueryJson = { [TAGS.ScheduledProcedureStepStartDate!]: date };
    if (station) step[TAGS.ScheduledStationAETitle!] = station;
    if (modality) step[TAGS.Modality!] = modality;
    // The issuer's AE title plays no part here: the page names its station itself.
    const steps = await this.matching({ [TAGS.ScheduledProcedureStepSequence!]: [step] }, '', false);
    const keyed = steps.map((found) => {
      const sps = (found.item.ScheduledProcedureStepSequence as Array<Record<string, string>>)[0]!;
      return { found, key: `${sps.ScheduledProcedureStepStartDate ?? ''}${sps.ScheduledProcedureStepStartTime ?? ''} ${sps.ScheduledStationAETitle ?? ''} ${found.task.id ?? ''}` };
    });
    return keyed.sort((a, b) => a.key.localeCompare(b.key)).map(({ found }) => found);
  }

  private async matching(query: QueryJson, issuerAet: string, byIssuer = this.config.worklist.filterIssuerAet): Promise<WorklistStep[]> {
    const candidates = await this.store.keyed('Task', this.conditions(query, issuerAet, byIssuer));
    // The candidates, then their orders, read now in one read each (a Task may have left the worklist meanwhile).
    const tasks = (await this.store.currentOf('Task', candidates)).flatMap((version) => (version.resource ? [version.resource] : []));
    const orderIds = [...new Set(tasks.flatMap((task) => ordersOf(task).map((order) => order.id)))];
    const orders = new Map((await this.store.currentOf('ServiceRequest', orderIds)).map((version) => [version.id, version.resource]));
    const patients = new Map<string, Promise<Resource | undefined>>();
    return (await Promise.all(tasks.map((task) => this.step(task, orders, patients))))
      .filter((found): found is WorklistStep => found !== undefined && preselected(query, found.item));
  }
}
