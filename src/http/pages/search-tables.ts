// A searchset as the table a person scans: the columns of its type (one
// declaration per type), headers that sort through _sort, the filters a
// radiographer clicks (today, a modality), paging, and the search form.
import type { Bundle, Resource } from '../../fhir/types';
import { escapeHtml } from '../../fhir/xhtml';
import {
  accessionOf, dateTimeText, modalitiesOf, mrnOf, nameOf, orderIdsOf, procedureOf, referencedId, scheduledOf, stationOf,
} from './fhir-values';
import type { PageData } from './page-data';
import { link, withQuery, type PageLocation } from './page-shell';

export interface TableContext {
  location: PageLocation;
  data: PageData;
  patientIdSystem?: string;
  /** The search parameters of the type, for the form. */
  searchParams: readonly string[];
  /** Today's range in the zone of the times shown: the parameters of a "Today" filter. */
  today: Array<[string, string]>;
  lastWeek: Array<[string, string]>;
}

interface Column {
  label: string;
  /** The search parameter _sort orders this column by. */
  sort?: string;
  /** The cell, as HTML (every value escaped). */
  cell(resource: Resource, context: TableContext): string;
}

const text = (value: string | number | undefined) => escapeHtml(value === undefined ? '' : String(value));

function resourceLink(resource: Resource, label: string, context: TableContext): string {
  return link(`${context.location.baseUrl}/${resource.resourceType}/${resource.id}`, label === '' ? `${resource.resourceType}/${resource.id}` : label);
}

function related(context: TableContext, type: string, id: string | undefined): Resource | undefined {
  return id === undefined ? undefined : context.data.related.get(`${type}/${id}`);
}

function patientCell(reference: unknown, context: TableContext): string {
  const id = referencedId(reference, 'Patient');
  const patient = related(context, 'Patient', id);
  if (!id) return text((reference as { display?: string } | undefined)?.display);
  const name = patient ? nameOf(patient) : '';
  const mrn = patient ? mrnOf(patient, context.patientIdSystem) : '';
  return `${link(`${context.location.baseUrl}/Patient/${id}`, name || `Patient/${id}`)}${mrn ? `<br><span class="muted">MRN ${text(mrn)}</span>` : ''}`;
}

function orderOfTask(task: Resource, context: TableContext): Resource | undefined {
  return orderIdsOf(task).map((id) => related(context, 'ServiceRequest', id)).find((order) => order !== undefined);
}

/** A Task's station and time, for an order: its first scheduled Task. */
function firstTask(order: Resource, context: TableContext): Resource | undefined {
  return (context.data.tasksByOrder.get(order.id ?? '') ?? [])[0];
}

const COLUMNS: Record<string, Column[]> = {
  ImagingStudy: [
    { label: 'Date and time', sort: 'started', cell: (study, c) => resourceLink(study, dateTimeText(study.started as string | undefined) || '(no date)', c) },
    { label: 'Patient', cell: (study, c) => patientCell(study.subject, c) },
    { label: 'Accession', cell: (study) => text(accessionOf(study)) },
    { label: 'Modalities', cell: (study) => text(modalitiesOf(study).join(', ')) },
    { label: 'Description', cell: (study) => text(study.description as string | undefined) },
    { label: 'Series / instances', cell: (study) => `${text(study.numberOfSeries as number | undefined)} / ${text(study.numberOfInstances as number | undefined)}` },
  ],
  Patient: [
    { label: 'Name', sort: 'name', cell: (patient, c) => resourceLink(patient, nameOf(patient), c) },
    { label: 'MRN', sort: 'identifier', cell: (patient, c) => text(mrnOf(patient, c.patientIdSystem)) },
    { label: 'Birth date', sort: 'birthdate', cell: (patient) => text(patient.birthDate as string | undefined) },
    { label: 'Sex', sort: 'gender', cell: (patient) => text(patient.gender as string | undefined) },
    {
      label: 'Studies',
      cell: (patient, c) => {
        const count = c.data.studyCounts.get(patient.id ?? '');
        return count === undefined ? '' : link(`${c.location.baseUrl}/ImagingStudy?subject=Patient/${patient.id}`, String(count));
      },
    },
  ],
  ServiceRequest: [
    { label: 'Accession', cell: (order, c) => resourceLink(order, accessionOf(order), c) },
    { label: 'Procedure', cell: (order) => text(procedureOf(order)) },
    { label: 'Patient', cell: (order, c) => patientCell(order.subject, c) },
    { label: 'Station', cell: (order, c) => text(stationOf(firstTask(order, c))) },
    { label: 'Scheduled', sort: 'occurrence', cell: (order, c) => text(dateTimeText(scheduledOf(firstTask(order, c), order))) },
    { label: 'Status', sort: 'status', cell: (order) => `<span class="status">${text(order.status as string | undefined)}</span>` },
  ],
  Task: [
    { label: 'Accession', cell: (task, c) => resourceLink(task, accessionOf(orderOfTask(task, c)), c) },
    { label: 'Procedure', cell: (task, c) => text((task.description as string | undefined) ?? procedureOf(orderOfTask(task, c))) },
    { label: 'Patient', cell: (task, c) => patientCell(task.for, c) },
    { label: 'Station', sort: 'owner', cell: (task) => text(stationOf(task)) },
    { label: 'Scheduled', cell: (task, c) => text(dateTimeText(scheduledOf(task, orderOfTask(task, c)))) },
    { label: 'Status', sort: 'status', cell: (task) => `<span class="status">${text(task.status as string | undefined)}</span>` },
  ],
};

/** Any other type: what every resource has. */
const GENERIC: Column[] = [
  { label: 'Resource', cell: (resource, c) => resourceLink(resource, '', c) },
  { label: 'Status', sort: 'status', cell: (resource) => text(resource.status as string | undefined) },
  { label: 'Last updated', sort: '_lastUpdated', cell: (resource) => text(dateTimeText((resource.meta as { lastUpdated?: string } | undefined)?.lastUpdated)) },
];

/** The request's parameters, without those a link replaces (and without paging: a new order or filter starts again). */
function keptQuery(query: ReadonlyArray<[string, string]>, replaced: readonly string[]): Array<[string, string]> {
  return query.filter(([name]) => !replaced.includes(name) && name !== '_offset');
}

function sortHeader(column: Column, context: TableContext): string {
  const { location } = context;
  const current = location.query.find(([name]) => name === '_sort')?.[1];
  if (!column.sort || (!context.searchParams.includes(column.sort) && column.sort !== '_lastUpdated')) {
    return `<th scope="col">${escapeHtml(column.label)}</th>`;
  }
  const ascending = current === column.sort;
  const descending = current === `-${column.sort}`;
  // Dates newest first on the first click; names and codes A to Z.
  const first = column.sort === 'started' || column.sort === 'occurrence' || column.sort === '_lastUpdated' ? `-${column.sort}` : column.sort;
  const next = ascending ? `-${column.sort}` : descending ? column.sort : first;
  const href = withQuery(`${location.baseUrl}/${location.path[0]}`, [...keptQuery(location.query, ['_sort']), ['_sort', next]]);
  const state = ascending ? ' aria-sort="ascending"' : descending ? ' aria-sort="descending"' : '';
  const mark = ascending ? ' ▲' : descending ? ' ▼' : '';
  const hint = next.startsWith('-') ? 'sort descending' : 'sort ascending';
  return `<th scope="col"${state}><a href="${escapeHtml(href)}" title="${hint}">${escapeHtml(column.label)}${mark}</a></th>`;
}

/** Filter links: each replaces its parameter in the current search. */
function filterLinks(label: string, options: Array<[string, Array<[string, string]>]>, replaced: string, context: TableContext): string {
  const { location } = context;
  const currentValues = location.query.filter(([name]) => name === replaced).map(([, value]) => value).join('&');
  const items = options.map(([text, params]) => {
    const href = withQuery(`${location.baseUrl}/${location.path[0]}`, [...keptQuery(location.query, [replaced]), ...params]);
    const isCurrent = params.map(([, value]) => value).join('&') === currentValues;
    return link(href, text, isCurrent ? ' aria-current="true"' : '');
  });
  return `<p class="filters"><span>${escapeHtml(label)}:</span> ${items.join(' ')}</p>`;
}

const MODALITIES = ['CT', 'MR', 'US', 'CR', 'DX', 'MG', 'NM', 'PT', 'XA', 'OT'];

function quickFilters(type: string, context: TableContext): string {
  if (type !== 'ImagingStudy') return '';
  return `<nav aria-label="Filters">${[
    filterLinks('Date', [['Today', context.today], ['Last 7 days', context.lastWeek], ['Any date', []]], 'started', context),
    filterLinks('Modality', [...MODALITIES.map((code): [string, Array<[string, string]>] => [code, [['modality', code]]]), ['Any', []]], 'modality', context),
  ].join('\n')}</nav>`;
}

function searchForm(type: string, context: TableContext): string {
  if (context.searchParams.length === 0) return '';
  const values = new Map(context.location.query);
  const fields = [...context.searchParams, '_count'].map((name, index) => {
    const id = `search-${index}`;
    const value = values.get(name);
    return `<label for="${id}">${escapeHtml(name)}</label> <input id="${id}" name="${escapeHtml(name)}" size="14"${value !== undefined ? ` value="${escapeHtml(value)}"` : ''}> `;
  }).join('');
  const open = context.location.query.some(([name]) => !name.startsWith('_')) ? ' open' : '';
  return `<details${open}><summary>Search form</summary><form method="get" action="${escapeHtml(`${context.location.baseUrl}/${type}`)}">`
    + `<fieldset><legend>Search ${escapeHtml(type)}</legend>${fields}<button type="submit">Search</button></fieldset></form></details>`;
}

const RELATIONS: Record<string, string> = { first: 'First page', previous: 'Previous page', next: 'Next page', last: 'Last page' };

function paging(bundle: Bundle): string {
  const links = (bundle.link ?? []).filter((l) => RELATIONS[l.relation] !== undefined);
  return links.length === 0 ? '' : `<nav aria-label="Pages of results"><p>${links.map((l) => link(l.url, RELATIONS[l.relation]!)).join(' | ')}</p></nav>`;
}

export function searchTable(bundle: Bundle, type: string, context: TableContext): string {
  const columns = COLUMNS[type] ?? GENERIC;
  const found = (bundle.entry ?? []).filter((entry) => entry.search?.mode !== 'include' && entry.search?.mode !== 'outcome' && entry.resource);
  const warnings = (bundle.entry ?? []).filter((entry) => entry.search?.mode === 'outcome')
    .flatMap((entry) => ((entry.resource?.issue ?? []) as Array<{ diagnostics?: string }>).map((issue) => issue.diagnostics ?? ''));
  const total = bundle.total !== undefined ? `${bundle.total} found` : `${found.length} on this page`;
  const rows = found.map((entry) => `<tr>${columns.map((column) => `<td>${column.cell(entry.resource!, context)}</td>`).join('')}</tr>`);
  const table = rows.length === 0
    ? '<p>Nothing found.</p>'
    : `<table><caption>${escapeHtml(`${type}: ${total}`)}</caption><thead><tr>${columns.map((column) => sortHeader(column, context)).join('')}</tr></thead>`
      + `<tbody>${rows.join('')}</tbody></table>`;
  return [
    quickFilters(type, context),
    searchForm(type, context),
    warnings.length > 0 ? `<ul class="error">${warnings.map((warning) => `<li>${escapeHtml(warning)}</li>`).join('')}</ul>` : '',
    `<p>${escapeHtml(total)}</p>`,
    table,
    paging(bundle),
  ].filter((part) => part !== '').join('\n');
}
