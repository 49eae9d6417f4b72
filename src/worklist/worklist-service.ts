// Answers a modality's worklist query from the orders: one item per Task
// that is a scheduled procedure step (SCHEDULED_TASK_STATUSES) of an active
// ServiceRequest. The query only pre-selects candidates here, conservatively;
// Orthanc's own matcher (in the shim) decides what answers the query.
import type { FhirConfig } from '../config';
import type { Reference, Resource } from '../fhir/types';
import { patientIdOf } from '../resources/patient-identity';
import type { Store } from '../store/store';
import { byTag, TAGS } from './dicom-tags';
import { SCHEDULED_TASK_STATUSES, worklistItem, type WorklistItem } from './worklist-item';

type QueryJson = Record<string, unknown>;

export interface WorklistAnswer {
  items: WorklistItem[];
  /** Most answers (0: no limit); Orthanc marks the answer incomplete beyond it. */
  limit: number;
}

function referencedId(reference: unknown, type: string): string | undefined {
  const value = (reference as Reference | undefined)?.reference;
  return value?.startsWith(`${type}/`) ? value.slice(type.length + 1) : undefined;
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

export class WorklistService {
  /** Items of the last computation, with the store lists they came from (same lists: same items). */
  private memo?: { sources: readonly Resource[][]; items: Promise<WorklistItem[]> };

  constructor(
    private readonly store: Store,
    private readonly readPatient: (id: string) => Promise<Resource | undefined>,
    private readonly config: FhirConfig,
  ) {}

  /**
   * The items of every scheduled step, whatever the query. The store hands
   * out the same lists until a write changes them, so items are rebuilt only
   * after an order or a Patient changed.
   */
  async items(): Promise<WorklistItem[]> {
    const sources = await Promise.all([this.store.list('Task'), this.store.list('ServiceRequest'), this.store.list('Patient')]);
    if (this.memo && this.memo.sources.every((list, i) => list === sources[i])) return this.memo.items;
    const items = this.build(sources[0], sources[1], sources[2]);
    this.memo = { sources, items };
    items.catch(() => (this.memo = undefined));
    return items;
  }

  private async build(tasks: Resource[], requests: Resource[], stored: Resource[]): Promise<WorklistItem[]> {
    const active = new Map(requests.filter((r) => r.status === 'active').map((r) => [r.id!, r]));
    const patients = new Map(stored.map((p) => [p.id!, p]));
    const items: WorklistItem[] = [];
    for (const task of tasks) {
      if (!SCHEDULED_TASK_STATUSES.includes(task.status as string)) continue;
      const order = ((task.basedOn ?? []) as Reference[]).map((r) => active.get(referencedId(r, 'ServiceRequest') ?? '')).find(Boolean);
      const patientRef = referencedId(task.for, 'Patient') ?? (order && referencedId(order.subject, 'Patient'));
      if (!order || !patientRef) continue;
      if (!patients.has(patientRef)) {
        const found = await this.readPatient(patientRef);
        if (found) patients.set(patientRef, found);
      }
      const patient = patients.get(patientRef);
      const patientId = patient && patientIdOf(patient, this.config.patientIdSystem);
      if (!patientId) continue;
      items.push(worklistItem(task, order, patient, { patientId, timezoneOffset: this.config.defaultTimezoneOffset }));
    }
    return items;
  }

  /** `queryText`: the query as Orthanc's DICOM JSON keyed by tag ("0010,0010"). */
  async answer(queryText: string, issuerAet: string): Promise<WorklistAnswer> {
    const query = byTag(JSON.parse(queryText || '{}') as QueryJson);
    const { filterIssuerAet, limitAnswers } = this.config.worklist;
    const items = (await this.items()).filter((item) => preselected(query, item)
      && (!filterIssuerAet || (item.ScheduledProcedureStepSequence as Array<Record<string, string>>)[0]!.ScheduledStationAETitle === issuerAet));
    const tagged = (item: WorklistItem) => byTag(item) as WorklistItem;
    return { items: items.map((item) => withRequestedKeys(query, tagged(item))), limit: limitAnswers };
  }
}
