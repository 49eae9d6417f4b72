// The index keys of a Task that is on the worklist (a scheduled step of an
// active ServiceRequest, with a patient): the values a modality's query
// narrows by, so that a C-FIND reads only its candidates. Computed when the
// Task or its ServiceRequest is written (the store re-indexes a Task after
// its order changes). Pure.
import type { Reference, Resource } from '../fhir/types';
import type { IndexKeys } from '../search';
import { zonePolicy, type ZonePolicy } from '../resources/imaging';
import { accessionNumber } from '../resources/orders';
import { aeTitle, modality, scheduledStart, SCHEDULED_TASK_STATUSES, shortId } from './worklist-item';

export const WORKLIST_KEYS = {
  member: '$wl',
  station: '$wl-station',
  modality: '$wl-modality',
  date: '$wl-date',
  patient: '$wl-patient',
  accession: '$wl-accession',
} as const;

export function referencedId(reference: unknown, type: string): string | undefined {
  const value = (reference as Reference | undefined)?.reference;
  return value?.startsWith(`${type}/`) ? value.slice(type.length + 1) : undefined;
}

/** The active order of a Task, among those it is based on. */
export function activeOrder(task: Resource, read: (type: string, id: string) => Resource | undefined): Resource | undefined {
  for (const reference of (task.basedOn ?? []) as Reference[]) {
    const id = referencedId(reference, 'ServiceRequest');
    const order = id === undefined ? undefined : read('ServiceRequest', id);
    if (order?.status === 'active') return order;
  }
  return undefined;
}

export function worklistPatientRef(task: Resource, order: Resource): string | undefined {
  return referencedId(task.for, 'Patient') ?? referencedId(order.subject, 'Patient');
}

/** The ServiceRequests a Task is based on: what its keys read. */
export function ordersOf(task: Resource): Array<{ type: string; id: string }> {
  return ((task.basedOn ?? []) as Reference[]).flatMap((reference) => {
    const id = referencedId(reference, 'ServiceRequest');
    return id === undefined ? [] : [{ type: 'ServiceRequest', id }];
  });
}

/**
 * `timezoneOffset`: the zone scheduled times are expressed in, as the items'
 * (a date key is the local date of the start in that zone, DST-aware at that
 * instant). The store's index signature carries the zone, so that a change
 * of zone re-indexes the keys (main.ts).
 */
export function worklistKeys(timezoneOffset: string | ZonePolicy | undefined) {
  const zone = zonePolicy(timezoneOffset);
  return { reads: ordersOf, keys: (task: Resource, read: (type: string, id: string) => Resource | undefined): IndexKeys => {
    if (!SCHEDULED_TASK_STATUSES.includes(task.status as string)) return {};
    const order = activeOrder(task, read);
    const patient = order && worklistPatientRef(task, order);
    if (!order || !patient) return {};
    // The same values as the item's (worklist-item.ts), without building it.
    const present = (value: string | undefined) => (value ? [value] : []);
    return {
      [WORKLIST_KEYS.member]: ['1'],
      [WORKLIST_KEYS.station]: present(aeTitle(task)),
      [WORKLIST_KEYS.modality]: present(modality(task)),
      [WORKLIST_KEYS.date]: present(scheduledStart(task, order, zone).date),
      [WORKLIST_KEYS.patient]: [patient],
      [WORKLIST_KEYS.accession]: present(shortId(accessionNumber(order) ?? '')),
    };
  } };
}
