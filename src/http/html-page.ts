// The pages a person gets from /fhir in a browser: the same resource or
// Bundle, pretty-printed with every reference and link clickable, a summary
// above an ImagingStudy, a search form on a searchset, errors shown as errors.
// Self-contained (no script, no external resource); every value from data is
// escaped.
import type { OperationOutcome, Resource } from '../fhir/types';
import { escapeHtml } from '../fhir/xhtml';

export { escapeHtml };

export interface PageContext {
  /** Public base URL of /fhir. */
  baseUrl: string;
  status: number;
  /** Search parameter names by resource type, for the search forms. */
  searchParams: ReadonlyMap<string, readonly string[]>;
  /** DICOMweb root of this Orthanc ("/dicom-web"), for the study links. */
  dicomWebRoot: string;
}

const STYLE = [
  'body{font-family:sans-serif;margin:2em;max-width:80em}',
  'pre{background:#f6f8fa;padding:1em;overflow:auto}',
  '.k{color:#905}.s{color:#070}.n{color:#00a}.error{color:#a00}',
  'table.summary td{padding:.2em 1em .2em 0}',
  'form label{display:inline-block;margin:.2em 1em .2em 0}',
].join('');

const RESOURCE_REFERENCE = /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}(\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/** A string value as HTML: a link when it points into this server (or is a web URL). */
function stringValue(key: string, value: string, baseUrl: string): string {
  const quoted = `"${escapeHtml(value)}"`;
  let href: string | undefined;
  if (key === 'reference' && RESOURCE_REFERENCE.test(value)) href = `${baseUrl}/${value}`;
  else if (/^https?:\/\//.test(value) && (value.startsWith(baseUrl) || key === 'url' || key === 'fullUrl' || key === 'address')) href = value;
  return href ? `<a class="s" href="${escapeHtml(href)}">${quoted}</a>` : `<span class="s">${quoted}</span>`;
}

/** JSON.stringify(value, null, 2), as escaped, highlighted HTML with links. */
export function jsonHtml(value: unknown, baseUrl: string, key = '', indent = ''): string {
  if (typeof value === 'string') return stringValue(key, value, baseUrl);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return `<span class="n">${escapeHtml(String(value))}</span>`;
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((item) => inner + jsonHtml(item, baseUrl, key, inner)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return '{}';
  const lines = entries.map(([k, v]) => `${inner}<span class="k">"${escapeHtml(k)}"</span>: ${jsonHtml(v, baseUrl, k, inner)}`);
  return `{\n${lines.join(',\n')}\n${indent}}`;
}

function link(href: string, text: string): string {
  return `<a href="${escapeHtml(href)}">${escapeHtml(text)}</a>`;
}

function studySummary(study: Resource, context: PageContext): string {
  const orthanc = context.baseUrl.replace(/\/fhir$/, '');
  const subject = (study.subject as { reference?: string } | undefined)?.reference;
  const modalities = ((study.modality ?? []) as Array<{ coding?: Array<{ code?: string }> }>)
    .map((m) => m.coding?.[0]?.code).filter(Boolean).join(', ');
  const uid = ((study.identifier ?? []) as Array<{ system?: string; value?: string }>)
    .find((i) => i.system === 'urn:dicom:uid')?.value?.replace(/^urn:oid:/, '');
  const rows: Array<[string, string]> = [
    ['Patient', subject ? link(`${context.baseUrl}/${subject}`, subject) : ''],
    ['Date', escapeHtml(String(study.started ?? ''))],
    ['Description', escapeHtml(String(study.description ?? ''))],
    ['Modalities', escapeHtml(modalities)],
    ['Series / instances', `${escapeHtml(String(study.numberOfSeries ?? 0))} / ${escapeHtml(String(study.numberOfInstances ?? 0))}`],
    ['Orthanc Explorer', link(`${orthanc}/app/explorer.html#study?uuid=${encodeURIComponent(study.id ?? '')}`, 'open the study')],
  ];
  if (uid) rows.push(['DICOMweb', link(`${orthanc}${context.dicomWebRoot}/studies/${encodeURIComponent(uid)}/metadata`, 'study metadata (WADO-RS)')]);
  return `<table class="summary">${rows.map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`).join('')}</table>`;
}

function searchForm(type: string, context: PageContext): string {
  const params = context.searchParams.get(type);
  if (!params || params.length === 0) return '';
  const fields = [...params, '_count']
    .map((name) => `<label>${escapeHtml(name)} <input name="${escapeHtml(name)}" size="14"></label>`)
    .join('');
  return `<form method="get" action="${escapeHtml(`${context.baseUrl}/${type}`)}"><fieldset><legend>Search ${escapeHtml(type)}</legend>${fields}<input type="hidden" name="_format" value="html"><button type="submit">Search</button></fieldset></form>`;
}

function searchType(bundle: Resource, baseUrl: string): string | undefined {
  const self = ((bundle.link ?? []) as Array<{ relation: string; url: string }>).find((l) => l.relation === 'self')?.url;
  const path = self?.startsWith(baseUrl) ? self.slice(baseUrl.length + 1).split(/[/?]/)[0] : undefined;
  return path && /^[A-Z][A-Za-z]+$/.test(path) ? path : undefined;
}

function pagingLinks(bundle: Resource): string {
  const links = ((bundle.link ?? []) as Array<{ relation: string; url: string }>).filter((l) => l.relation !== 'self');
  return links.length === 0 ? '' : `<p>${links.map((l) => link(l.url, l.relation)).join(' | ')}</p>`;
}

export function resourcePage(resource: Resource, context: PageContext): string {
  const isError = resource.resourceType === 'OperationOutcome' && context.status >= 400;
  const title = isError ? `Error ${context.status}` : resource.id ? `${resource.resourceType}/${resource.id}` : resource.resourceType;
  const parts: string[] = [];
  if (isError) {
    const issues = (resource as OperationOutcome).issue.map((issue) => `<li>${escapeHtml(issue.diagnostics ?? issue.code)}</li>`).join('');
    parts.push(`<ul class="error">${issues}</ul>`);
  }
  if (resource.resourceType === 'ImagingStudy') parts.push(studySummary(resource, context));
  if (resource.resourceType === 'Bundle') {
    const type = searchType(resource, context.baseUrl);
    if (type) parts.push(searchForm(type, context));
    if (resource.total !== undefined) parts.push(`<p>${escapeHtml(String(resource.total))} found</p>`);
    parts.push(pagingLinks(resource));
  }
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${escapeHtml(title)} - Orthanc FHIR</title>`,
    `<style>${STYLE}</style></head><body>`,
    `<p>${link(context.baseUrl, 'FHIR home')} | ${link(`${context.baseUrl}/metadata`, 'CapabilityStatement')}</p>`,
    `<h1${isError ? ' class="error"' : ''}>${escapeHtml(title)}</h1>`,
    ...parts,
    `<pre>${jsonHtml(resource, context.baseUrl)}</pre>`,
    '</body></html>',
  ].join('\n');
}
