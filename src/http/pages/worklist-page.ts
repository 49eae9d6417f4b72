// The worklist page: the scheduled procedure steps of a day by station,
// read off the $worklist answer with the same functions the modality
// worklist uses (station, modality, scheduled time, PatientID), so that the
// page reads what findscu gets. It refreshes itself (pages.js) and works
// without script (a link refreshes it).
import type { Bundle, Resource } from '../../fhir/types';
import { escapeHtml } from '../../fhir/xhtml';
import { patientIdOf } from '../../resources/patient-identity';
import { aeTitle, modality, scheduledStart } from '../../worklist/worklist-item';
import { accessionOf, nameOf, orderIdsOf, procedureOf, referencedId } from './fhir-values';
import { link, withQuery, type PageLocation } from './page-shell';

export interface WorklistPageContext {
  location: PageLocation;
  timezoneOffset?: string;
  patientIdSystem?: string;
}

export const WORKLIST_REFRESH_SECONDS = 30;

interface Row {
  task: Resource;
  order?: Resource;
  patient?: Resource;
  station: string;
  time: string;
}

const text = (value: unknown) => escapeHtml(value === undefined || value === null ? '' : String(value));

function dayOf(bundle: Bundle): string {
  const self = bundle.link?.find((l) => l.relation === 'self')?.url ?? '';
  return /[?&]date=(\d{4}-\d{2}-\d{2})/.exec(self)?.[1] ?? '';
}

function shiftDay(day: string, days: number): string {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

function rowsOf(bundle: Bundle, context: WorklistPageContext): Row[] {
  const byReference = new Map((bundle.entry ?? []).flatMap((entry) => (entry.resource ? [[`${entry.resource.resourceType}/${entry.resource.id}`, entry.resource] as const] : [])));
  return (bundle.entry ?? []).filter((entry) => entry.search?.mode === 'match' && entry.resource).map((entry) => {
    const task = entry.resource!;
    const order = orderIdsOf(task).map((id) => byReference.get(`ServiceRequest/${id}`)).find((found) => found !== undefined);
    const patientId = referencedId(task.for, 'Patient') ?? referencedId(order?.subject, 'Patient');
    const { time } = order ? scheduledStart(task, order, context.timezoneOffset) : { time: '' };
    return {
      task,
      ...(order ? { order } : {}),
      ...(patientId && byReference.get(`Patient/${patientId}`) ? { patient: byReference.get(`Patient/${patientId}`)! } : {}),
      station: aeTitle(task),
      time: time.length >= 4 ? `${time.slice(0, 2)}:${time.slice(2, 4)}` : '',
    };
  });
}

function form(location: PageLocation, day: string, stations: string[]): string {
  const value = (name: string) => location.query.find(([key]) => key === name)?.[1] ?? '';
  const options = (id: string, values: string[]) => `<datalist id="${id}">${values.map((v) => `<option value="${escapeHtml(v)}">`).join('')}</datalist>`;
  const here = `${location.baseUrl}/$worklist`;
  const kept = location.query.filter(([name]) => name !== 'date');
  return [
    `<form method="get" action="${escapeHtml(here)}"><fieldset><legend>Day, station and modality</legend>`,
    `<label for="worklist-date">Day</label> <input id="worklist-date" type="date" name="date" value="${escapeHtml(day)}"> `,
    `<label for="worklist-station">Station (AE title)</label> <input id="worklist-station" name="station" size="16" list="worklist-stations" value="${escapeHtml(value('station'))}"> `,
    options('worklist-stations', stations),
    `<label for="worklist-modality">Modality</label> <input id="worklist-modality" name="modality" size="6" list="worklist-modalities" value="${escapeHtml(value('modality'))}"> `,
    options('worklist-modalities', ['CT', 'MR', 'US', 'CR', 'DX', 'MG', 'NM', 'PT', 'XA', 'OT']),
    '<button type="submit">Show</button></fieldset></form>',
    `<nav aria-label="Days"><p>${link(withQuery(here, [...kept, ['date', shiftDay(day, -1)]]), 'Previous day')} | `
      + `${link(withQuery(here, kept), 'Today')} | ${link(withQuery(here, [...kept, ['date', shiftDay(day, 1)]]), 'Next day')}</p></nav>`,
  ].join('\n');
}

export function worklistPage(bundle: Bundle, context: WorklistPageContext): string {
  const day = dayOf(bundle);
  const rows = rowsOf(bundle, context);
  const stations = [...new Set(rows.map((row) => row.station))].sort();
  const groups = stations.map((station, index) => {
    const own = rows.filter((row) => row.station === station);
    const body = own.map((row) => `<tr><td>${text(row.time)}</td><td>${row.patient ? link(`${context.location.baseUrl}/Patient/${row.patient.id}`, nameOf(row.patient) || row.patient.id!) : ''}</td>`
      + `<td>${text(row.patient ? patientIdOf(row.patient, context.patientIdSystem) : '')}</td><td>${text(row.patient?.birthDate)}</td>`
      + `<td>${row.order ? link(`${context.location.baseUrl}/ServiceRequest/${row.order.id}`, accessionOf(row.order) || row.order.id!) : ''}</td>`
      + `<td>${text((row.task.description as string | undefined) ?? procedureOf(row.order))}</td><td>${text(modality(row.task))}</td>`
      + `<td>${link(`${context.location.baseUrl}/Task/${row.task.id}`, String(row.task.status ?? ''))}</td></tr>`).join('');
    return `<section aria-labelledby="station-${index}"><h2 id="station-${index}">Station ${escapeHtml(station || '(none)')} (${own.length})</h2>`
      + '<table><thead><tr><th scope="col">Time</th><th scope="col">Patient</th><th scope="col">Patient ID</th><th scope="col">Birth date</th>'
      + '<th scope="col">Accession</th><th scope="col">Procedure</th><th scope="col">Modality</th><th scope="col">Status</th></tr></thead>'
      + `<tbody>${body}</tbody></table></section>`;
  });
  const refresh = link(withQuery(`${context.location.baseUrl}/$worklist`, context.location.query as Array<[string, string]>), 'Refresh now');
  return [
    form(context.location, day, stations),
    `<p>${refresh} <span id="refresh-status" aria-live="polite"></span></p>`,
    `<div id="refreshed"><p>${escapeHtml(`${rows.length} scheduled step${rows.length === 1 ? '' : 's'} on ${day}`
      + `${bundle.total !== undefined && bundle.total > rows.length ? ` (the first of ${bundle.total}: choose a station or a modality)` : ''}`)}</p>`,
    groups.length > 0 ? groups.join('\n') : '<p>Nothing scheduled.</p>',
    '</div>',
  ].join('\n');
}
