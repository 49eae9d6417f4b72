// The pages a person gets from /fhir in a browser: a searchset as a table
// of its type, a resource as what a person looks for in it (a study's
// previews, a patient's history, an order's Tasks), the worklist of a day,
// errors as errors; the JSON one click away. Every value from data is
// escaped; the only script is the plugin's own (pages/assets.ts).
import type { Bundle, OperationOutcome, Resource } from '../fhir/types';
import { escapeHtml } from '../fhir/xhtml';
import { dayRange } from './pages/day-range';
import { jsonHtml } from './pages/json-view';
import { emptyPageData, type PageData } from './pages/page-data';
import { pageShell, withQuery, type PageLocation } from './pages/page-shell';
import { resourceSummary } from './pages/resource-pages';
import { searchTable } from './pages/search-tables';
import { WORKLIST_REFRESH_SECONDS, worklistPage } from './pages/worklist-page';

export { escapeHtml, jsonHtml };

export interface PageContext {
  /** Public base URL of /fhir. */
  baseUrl: string;
  status: number;
  /** Search parameter names by resource type, for the search forms. */
  searchParams: ReadonlyMap<string, readonly string[]>;
  /** DICOMweb root of this Orthanc ("/dicom-web"), for the study links. */
  dicomWebRoot: string;
  /** The path below the base and the request's parameters (links that sort, filter and page keep them). */
  path?: readonly string[];
  query?: ReadonlyArray<[string, string]>;
  /** What the page shows beside the answer (pages/page-data.ts). */
  data?: PageData;
  patientIdSystem?: string;
  /** The fixed offset times are shown in; undefined: the process's local zone. */
  timezoneOffset?: string;
  now?: Date;
}

const TITLES: Record<string, string> = { ImagingStudy: 'Studies', Patient: 'Patients', ServiceRequest: 'Orders', Task: 'Tasks' };

function searchType(bundle: Resource, baseUrl: string): string | undefined {
  const self = ((bundle.link ?? []) as Array<{ relation: string; url: string }>).find((l) => l.relation === 'self')?.url;
  const path = self?.startsWith(baseUrl) ? self.slice(baseUrl.length + 1).split(/[/?]/)[0] : undefined;
  return path && /^[A-Z][A-Za-z]+$/.test(path) ? path : undefined;
}

function jsonPart(resource: Resource, baseUrl: string, open: boolean): string {
  return `<details${open ? ' open' : ''}><summary>FHIR JSON</summary><pre>${jsonHtml(resource, baseUrl)}</pre></details>`;
}

export function resourcePage(resource: Resource, context: PageContext): string {
  const location: PageLocation = { baseUrl: context.baseUrl, path: context.path ?? [], query: context.query ?? [] };
  const data = context.data ?? emptyPageData();
  const jsonUrl = location.path.length > 0
    ? withQuery(`${context.baseUrl}/${location.path.join('/')}`, [...location.query, ['_format', 'json'], ['_pretty', 'true']])
    : undefined;
  const shell = (title: string, body: string, extra: { refreshSeconds?: number; error?: boolean } = {}) =>
    pageShell({ title, location, body, ...(jsonUrl ? { jsonUrl } : {}), ...extra });

  if (resource.resourceType === 'OperationOutcome' && context.status >= 400) {
    const issues = (resource as OperationOutcome).issue.map((issue) => `<li>${escapeHtml(issue.diagnostics ?? issue.code)}</li>`).join('');
    return shell(`Error ${context.status}`, `<ul class="error">${issues}</ul>\n${jsonPart(resource, context.baseUrl, false)}`, { error: true });
  }
  if (resource.resourceType === 'Bundle') {
    const bundle = resource as Bundle;
    if (location.path[0] === '$worklist') {
      const body = worklistPage(bundle, {
        location,
        ...(context.timezoneOffset ? { timezoneOffset: context.timezoneOffset } : {}),
        ...(context.patientIdSystem ? { patientIdSystem: context.patientIdSystem } : {}),
      });
      return shell('Worklist', `${body}\n${jsonPart(resource, context.baseUrl, false)}`, { refreshSeconds: WORKLIST_REFRESH_SECONDS });
    }
    const type = bundle.type === 'searchset' ? (location.path.length === 1 ? location.path[0] : undefined) ?? searchType(bundle, context.baseUrl) : undefined;
    if (type && /^[A-Z]/.test(type)) {
      const now = context.now ?? new Date();
      const table = searchTable(bundle, type, {
        location: { ...location, path: [type] },
        data,
        ...(context.patientIdSystem ? { patientIdSystem: context.patientIdSystem } : {}),
        searchParams: context.searchParams.get(type) ?? [],
        today: dayRange(now, 1, context.timezoneOffset),
        lastWeek: dayRange(now, 7, context.timezoneOffset),
      });
      return shell(TITLES[type] ?? type, `${table}\n${jsonPart(resource, context.baseUrl, false)}`);
    }
    return shell('Bundle', jsonPart(resource, context.baseUrl, true));
  }
  const title = resource.id ? `${resource.resourceType}/${resource.id}` : resource.resourceType;
  const summary = resourceSummary(resource, {
    location, data, dicomWebRoot: context.dicomWebRoot, ...(context.patientIdSystem ? { patientIdSystem: context.patientIdSystem } : {}),
  });
  return shell(title, `${summary}\n${jsonPart(resource, context.baseUrl, summary === '')}`);
}
