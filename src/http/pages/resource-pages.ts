// The page of one resource: what a person looks for first (a study's
// images, a patient's history, an order's progress), above the JSON.
import type { Bundle, Resource } from '../../fhir/types';
import { escapeHtml } from '../../fhir/xhtml';
import {
  accessionOf, conceptText, dateTimeText, modalitiesOf, mrnOf, nameOf, orderIdsOf, procedureOf, referencedId, scheduledOf, stationOf,
} from './fhir-values';
import type { PageData } from './page-data';
import { fhirRoot, link, orthancRoot, type PageLocation } from './page-shell';
import { ASSET_PATH } from './assets';

export interface ResourcePageContext {
  location: PageLocation;
  data: PageData;
  dicomWebRoot: string;
  patientIdSystem?: string;
}

const text = (value: unknown) => escapeHtml(value === undefined || value === null ? '' : String(value));

function summary(rows: Array<[string, string]>): string {
  const shown = rows.filter(([, value]) => value !== '');
  return `<table class="summary"><tbody>${shown.map(([label, value]) => `<tr><th scope="row">${escapeHtml(label)}</th><td>${value}</td></tr>`).join('')}</tbody></table>`;
}

function matches(bundle: Bundle | undefined): Resource[] {
  return (bundle?.entry ?? []).filter((entry) => entry.search?.mode !== 'include' && entry.search?.mode !== 'outcome')
    .flatMap((entry) => (entry.resource ? [entry.resource] : []));
}

/** The preview Orthanc renders of a study's series (its first series without `seriesUid`), through the plugin's redirect. */
export function previewUrl(baseUrl: string, studyId: string, seriesUid?: string): string {
  return `${fhirRoot(baseUrl)}/${ASSET_PATH}/preview/${encodeURIComponent(studyId)}${seriesUid ? `/${encodeURIComponent(seriesUid)}` : ''}`;
}

function patientLink(reference: unknown, context: ResourcePageContext): string {
  const id = referencedId(reference, 'Patient');
  if (!id) return text((reference as { display?: string } | undefined)?.display);
  const patient = context.data.related.get(`Patient/${id}`);
  const mrn = patient ? mrnOf(patient, context.patientIdSystem) : '';
  return `${link(`${context.location.baseUrl}/Patient/${id}`, (patient && nameOf(patient)) || `Patient/${id}`)}${mrn ? ` (MRN ${text(mrn)})` : ''}`;
}

function tasksList(tasks: readonly Resource[], context: ResourcePageContext): string {
  if (tasks.length === 0) return '';
  return `<ul>${tasks.map((task) => `<li>${link(`${context.location.baseUrl}/Task/${task.id}`, `Task ${task.id}`)}: <span class="status">${text(task.status)}</span>`
    + `${stationOf(task) ? `, ${text(stationOf(task))}` : ''}${scheduledOf(task, undefined) ? `, ${text(dateTimeText(scheduledOf(task, undefined)))}` : ''}</li>`).join('')}</ul>`;
}

function ordersOf(resource: Resource, context: ResourcePageContext): Resource[] {
  return orderIdsOf(resource).flatMap((id) => {
    const order = context.data.related.get(`ServiceRequest/${id}`);
    return order ? [order] : [];
  });
}

function orderLine(order: Resource, context: ResourcePageContext): string {
  const label = [accessionOf(order), procedureOf(order)].filter((part) => part !== '').join(' - ') || `ServiceRequest/${order.id}`;
  return `${link(`${context.location.baseUrl}/ServiceRequest/${order.id}`, label)}: <span class="status">${text(order.status)}</span>`
    + tasksList(context.data.tasksByOrder.get(order.id ?? '') ?? [], context);
}

interface Series { uid: string; number?: number; modality?: { code?: string; coding?: Array<{ code?: string }> }; description?: string; numberOfInstances?: number; bodySite?: unknown }

function seriesModality(series: Series): string {
  return series.modality?.coding?.[0]?.code ?? series.modality?.code ?? '';
}

export function studyPage(study: Resource, context: ResourcePageContext): string {
  const { baseUrl } = context.location;
  const orthanc = orthancRoot(baseUrl);
  const uid = ((study.identifier ?? []) as Array<{ system?: string; value?: string }>)
    .find((identifier) => identifier.system === 'urn:dicom:uid')?.value?.replace(/^urn:oid:/, '');
  const orders = ordersOf(study, context);
  const series = (study.series ?? []) as Series[];
  const rows: Array<[string, string]> = [
    ['Patient', patientLink(study.subject, context)],
    ['Date and time', text(dateTimeText(study.started as string | undefined))],
    ['Description', text(study.description)],
    ['Accession', text(accessionOf(study))],
    ['Modalities', text(modalitiesOf(study).join(', '))],
    ['Series / instances', `${text(study.numberOfSeries ?? 0)} / ${text(study.numberOfInstances ?? 0)}`],
    ['Status', text(study.status)],
    ['Order', orders.length > 0 ? orders.map((order) => orderLine(order, context)).join('<br>') : ''],
    ['Orthanc Explorer', link(`${orthanc}/app/explorer.html#study?uuid=${encodeURIComponent(study.id ?? '')}`, 'open the study')],
  ];
  if (uid) rows.push(['DICOMweb', link(`${orthanc}${context.dicomWebRoot}/studies/${encodeURIComponent(uid)}/metadata`, 'study metadata (WADO-RS)')]);
  const previews = series.map((item) => {
    const label = [`Series ${item.number ?? ''}`.trim(), seriesModality(item), item.description].filter((part) => part).join(' · ');
    return `<li><img src="${escapeHtml(previewUrl(baseUrl, study.id ?? '', item.uid))}" alt="${escapeHtml(`Preview of ${label}`)}" loading="lazy">`
      + `<span>${escapeHtml(label)}</span><br><span class="muted">${text(item.numberOfInstances ?? 0)} instances</span></li>`;
  });
  return [
    summary(rows),
    `<h2>Series (${series.length})</h2>`,
    previews.length > 0 ? `<ul class="previews">${previews.join('')}</ul>` : '<p>No series.</p>',
  ].join('\n');
}

function moreLink(bundle: Bundle | undefined, shown: number, href: string, what: string): string {
  const total = bundle?.total;
  return total !== undefined && total > shown ? `<p>${link(href, `All ${total} ${what}`)}</p>` : '';
}

export function patientPage(patient: Resource, context: ResourcePageContext): string {
  const { baseUrl } = context.location;
  const identifiers = ((patient.identifier ?? []) as Array<{ system?: string; value?: string }>)
    .map((identifier) => `${text(identifier.value)}${identifier.system ? ` <span class="muted">(${text(identifier.system)})</span>` : ''}`);
  const studies = matches(context.data.studies);
  const orders = matches(context.data.orders);
  const timeline = studies.map((study) => {
    const label = [dateTimeText(study.started as string | undefined) || '(no date)', modalitiesOf(study).join(', '), study.description as string | undefined]
      .filter((part) => part).join(' · ');
    return `<li><img src="${escapeHtml(previewUrl(baseUrl, study.id ?? ''))}" alt="${escapeHtml(`Preview of the study of ${label}`)}" loading="lazy">`
      + `<div>${link(`${baseUrl}/ImagingStudy/${study.id}`, label)}<br><span class="muted">${text(study.numberOfSeries ?? 0)} series, `
      + `${text(study.numberOfInstances ?? 0)} instances${accessionOf(study) ? `, accession ${text(accessionOf(study))}` : ''}</span></div></li>`;
  });
  const orderRows = orders.map((order) => {
    const tasks = context.data.tasksByOrder.get(order.id ?? '') ?? [];
    return `<tr><td>${link(`${baseUrl}/ServiceRequest/${order.id}`, accessionOf(order) || `ServiceRequest/${order.id}`)}</td><td>${text(procedureOf(order))}</td>`
      + `<td>${text(dateTimeText(scheduledOf(tasks[0], order)))}</td><td><span class="status">${text(order.status)}</span></td><td>${tasksList(tasks, context) || '-'}</td></tr>`;
  });
  return [
    summary([
      ['Name', text(nameOf(patient))],
      ['MRN', text(mrnOf(patient, context.patientIdSystem))],
      ['Identifiers', identifiers.join('<br>')],
      ['Birth date', text(patient.birthDate)],
      ['Sex', text(patient.gender)],
    ]),
    `<h2>Studies (${context.data.studies?.total ?? studies.length})</h2>`,
    timeline.length > 0 ? `<ol class="timeline">${timeline.join('')}</ol>` : '<p>No studies.</p>',
    moreLink(context.data.studies, studies.length, `${baseUrl}/ImagingStudy?subject=Patient/${patient.id}&_sort=-started`, 'studies'),
    `<h2>Orders (${context.data.orders?.total ?? orders.length})</h2>`,
    orderRows.length > 0
      ? `<table><caption>Orders and their Tasks, newest first</caption><thead><tr><th scope="col">Accession</th><th scope="col">Procedure</th><th scope="col">Scheduled</th>`
        + `<th scope="col">Status</th><th scope="col">Tasks</th></tr></thead><tbody>${orderRows.join('')}</tbody></table>`
      : '<p>No orders.</p>',
    moreLink(context.data.orders, orders.length, `${baseUrl}/ServiceRequest?subject=Patient/${patient.id}`, 'orders'),
  ].join('\n');
}

export function orderPage(order: Resource, context: ResourcePageContext): string {
  const { baseUrl } = context.location;
  const tasks = context.data.tasksByOrder.get(order.id ?? '') ?? [];
  const studies = matches(context.data.studies);
  return [
    summary([
      ['Accession', text(accessionOf(order))],
      ['Procedure', text(procedureOf(order))],
      ['Patient', patientLink(order.subject, context)],
      ['Status', `<span class="status">${text(order.status)}</span>`],
      ['Priority', text(order.priority)],
      ['Scheduled', text(dateTimeText(scheduledOf(tasks[0], order)))],
      ['Requester', text((order.requester as { display?: string } | undefined)?.display)],
      ['Reason', text(((order.reason ?? []) as Array<{ concept?: { text?: string } }>).map((reason) => conceptText(reason.concept)).join('; '))],
    ]),
    `<h2>Tasks (${tasks.length})</h2>`,
    tasksList(tasks, context) || '<p>No Tasks.</p>',
    `<h2>Studies (${studies.length})</h2>`,
    studies.length > 0
      ? `<ul>${studies.map((study) => `<li>${link(`${baseUrl}/ImagingStudy/${study.id}`, [dateTimeText(study.started as string | undefined), study.description as string | undefined].filter((part) => part).join(' · ') || `ImagingStudy/${study.id}`)}</li>`).join('')}</ul>`
      : '<p>No images yet.</p>',
  ].join('\n');
}

export function taskPage(task: Resource, context: ResourcePageContext): string {
  const orders = ordersOf(task, context);
  return summary([
    ['Status', `<span class="status">${text(task.status)}</span>`],
    ['Description', text(task.description)],
    ['Patient', patientLink(task.for, context)],
    ['Station', text(stationOf(task))],
    ['Scheduled', text(dateTimeText(scheduledOf(task, orders[0])))],
    ['Order', orders.map((order) => orderLine(order, { ...context, data: { ...context.data, tasksByOrder: new Map() } })).join('<br>')],
  ]);
}

export function resourceSummary(resource: Resource, context: ResourcePageContext): string {
  switch (resource.resourceType) {
    case 'ImagingStudy': return studyPage(resource, context);
    case 'Patient': return patientPage(resource, context);
    case 'ServiceRequest': return orderPage(resource, context);
    case 'Task': return taskPage(resource, context);
    default: return '';
  }
}

