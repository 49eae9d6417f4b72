// What a page shows beside the answer it renders, fetched through the same
// router with the same credentials (a page never shows what its reader may
// not read): the patients of a list of studies, the Tasks of orders, a
// patient's studies and orders. Bounded: a page of results at most, and the
// latest PAGE_LIMIT of a patient's history with a link to the rest.
import type { Bundle, Resource } from '../../fhir/types';
import { orderIdsOf, referencedId } from './fhir-values';

/** Runs a GET of this server (path below the base, parameters); undefined when it fails. */
export type PageSearch = (path: string[], query: Array<[string, string]>) => Promise<Resource | undefined>;

export const PAGE_LIMIT = 50;

export interface PageData {
  /** Resources shown beside the answer, by "Type/id". */
  related: Map<string, Resource>;
  /** Number of studies of each patient (the Patient table), by patient id. */
  studyCounts: Map<string, number>;
  /** The Tasks of each order, by ServiceRequest id. */
  tasksByOrder: Map<string, Resource[]>;
  /** A patient's or an order's studies, and a patient's orders (newest first). */
  studies?: Bundle;
  orders?: Bundle;
}

export function emptyPageData(): PageData {
  return { related: new Map(), studyCounts: new Map(), tasksByOrder: new Map() };
}

function matches(bundle: Resource | undefined): Resource[] {
  return ((bundle as Bundle | undefined)?.entry ?? [])
    .filter((entry) => entry.search?.mode !== 'include' && entry.search?.mode !== 'outcome')
    .flatMap((entry) => (entry.resource ? [entry.resource] : []));
}

function allResources(bundle: Resource | undefined): Resource[] {
  return ((bundle as Bundle | undefined)?.entry ?? []).flatMap((entry) => (entry.resource ? [entry.resource] : []));
}

function unique(ids: Array<string | undefined>): string[] {
  return [...new Set(ids.filter((id): id is string => id !== undefined))];
}

const patientOf = (resource: Resource) => referencedId(resource.subject ?? resource.for, 'Patient');

export async function gatherPageData(search: PageSearch, answer: Resource, path: readonly string[]): Promise<PageData> {
  const data = emptyPageData();
  const keep = (resources: Resource[]) => {
    for (const resource of resources) data.related.set(`${resource.resourceType}/${resource.id}`, resource);
  };
  const byIds = async (type: string, ids: string[]) => {
    if (ids.length > 0) keep(matches(await search([type], [['_id', ids.join(',')], ['_count', String(ids.length)]])));
  };
  const tasksOf = async (orderIds: string[]) => {
    if (orderIds.length === 0) return;
    const found = matches(await search(['Task'], [['based-on', orderIds.map((id) => `ServiceRequest/${id}`).join(',')], ['_count', '200']]));
    for (const task of found) {
      for (const orderId of unique(orderIdsOf(task))) data.tasksByOrder.set(orderId, [...(data.tasksByOrder.get(orderId) ?? []), task]);
    }
  };

  if (answer.resourceType === 'Bundle') {
    if (path[0] === '$worklist') {
      keep(allResources(answer));
      return data;
    }
    const found = matches(answer);
    switch (path[0]) {
      case 'ImagingStudy':
        await byIds('Patient', unique(found.map(patientOf)));
        break;
      case 'Patient':
        // One count each, for the first PAGE_LIMIT rows (a page asked with a large _count shows the rest without).
        await Promise.all(found.slice(0, PAGE_LIMIT).map(async (patient) => {
          const counted = await search(['ImagingStudy'], [['subject', `Patient/${patient.id}`], ['_summary', 'count']]);
          const total = (counted as Bundle | undefined)?.total;
          if (total !== undefined) data.studyCounts.set(patient.id!, total);
        }));
        break;
      case 'ServiceRequest':
        await Promise.all([byIds('Patient', unique(found.map(patientOf))), tasksOf(unique(found.map((order) => order.id)))]);
        break;
      case 'Task': {
        const orderIds = unique(found.flatMap(orderIdsOf));
        await Promise.all([byIds('Patient', unique(found.map(patientOf))), byIds('ServiceRequest', orderIds)]);
        break;
      }
    }
    return data;
  }

  const id = answer.id;
  if (!id) return data;
  const limit = String(PAGE_LIMIT);
  switch (answer.resourceType) {
    case 'ImagingStudy': {
      const orderIds = unique(orderIdsOf(answer));
      await Promise.all([byIds('Patient', unique([patientOf(answer)])), byIds('ServiceRequest', orderIds), tasksOf(orderIds)]);
      break;
    }
    case 'Patient': {
      const [studies, orders] = await Promise.all([
        search(['ImagingStudy'], [['subject', `Patient/${id}`], ['_sort', '-started'], ['_count', limit]]),
        search(['ServiceRequest'], [['subject', `Patient/${id}`], ['_sort', '-authored'], ['_count', limit]]),
      ]);
      data.studies = studies as Bundle | undefined;
      data.orders = orders as Bundle | undefined;
      await tasksOf(matches(orders).map((order) => order.id!));
      break;
    }
    case 'ServiceRequest': {
      const [studies] = await Promise.all([
        search(['ImagingStudy'], [['based-on', `ServiceRequest/${id}`], ['_count', limit]]),
        byIds('Patient', unique([patientOf(answer)])),
        tasksOf([id]),
      ]);
      data.studies = studies as Bundle | undefined;
      break;
    }
    case 'Task':
      await Promise.all([byIds('Patient', unique([patientOf(answer)])), byIds('ServiceRequest', unique(orderIdsOf(answer)))]);
      break;
  }
  return data;
}
