// Turns a resource into the bytes of an answer. The HTML form is a plain,
// self-contained page (no scripts, no external resources) so that a browser
// opening a /fhir URL reads the resource instead of downloading JSON.
import type { OperationOutcome, Resource } from '../fhir/types';
import { FHIR_JSON, HTML, type ResponseFormat } from './negotiation';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function title(resource: Resource): string {
  if (resource.resourceType === 'OperationOutcome') {
    return 'Error';
  }
  return resource.id ? `${resource.resourceType}/${resource.id}` : resource.resourceType;
}

function htmlPage(resource: Resource, status: number, baseUrl: string): string {
  const isError = resource.resourceType === 'OperationOutcome' && status >= 400;
  const issues = isError
    ? (resource as OperationOutcome).issue
        .map((issue) => `<li>${escapeHtml(issue.diagnostics ?? issue.code)}</li>`)
        .join('')
    : '';
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${escapeHtml(title(resource))} - Orthanc FHIR</title>`,
    '<style>body{font-family:sans-serif;margin:2em}pre{background:#f6f8fa;padding:1em;overflow:auto}',
    '.error{color:#a00}</style></head><body>',
    `<h1${isError ? ' class="error"' : ''}>${escapeHtml(isError ? `Error ${status}` : title(resource))}</h1>`,
    isError ? `<ul class="error">${issues}</ul>` : '',
    `<pre>${escapeHtml(JSON.stringify(resource, null, 2))}</pre>`,
    `<p><a href="${escapeHtml(baseUrl)}/metadata">CapabilityStatement</a></p>`,
    '</body></html>',
  ].join('\n');
}

/** The page a person gets at /fhir: the server, its FHIR version, its resource types. */
export function landingPage(capabilityStatement: Resource, baseUrl: string): string {
  const rest = (capabilityStatement.rest as Array<{ resource?: Array<{ type: string; documentation?: string }> }> | undefined)?.[0];
  const types = (rest?.resource ?? [])
    .map((r) => `<li><a href="${escapeHtml(`${baseUrl}/${r.type}`)}">${escapeHtml(r.type)}</a>${r.documentation ? ` - ${escapeHtml(r.documentation)}` : ''}</li>`)
    .join('');
  const software = capabilityStatement.software as { name?: string; version?: string } | undefined;
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8"><title>Orthanc FHIR</title>',
    '<style>body{font-family:sans-serif;margin:2em}</style></head><body>',
    `<h1>${escapeHtml(`${software?.name ?? 'orthanc-fhir'} ${software?.version ?? ''}`)}</h1>`,
    `<p>FHIR ${escapeHtml(String(capabilityStatement.fhirVersion ?? ''))} server of this Orthanc, base URL <code>${escapeHtml(baseUrl)}</code>.</p>`,
    `<ul>${types}</ul>`,
    `<p><a href="${escapeHtml(baseUrl)}/metadata">CapabilityStatement</a> - <a href="/app/explorer.html">Orthanc Explorer</a></p>`,
    '</body></html>',
  ].join('\n');
}

/** Resources answered again and again unchanged (the CapabilityStatement) are serialized once. */
const serialized = new WeakMap<Resource, string>();

function compactJson(resource: Resource): string {
  let text = serialized.get(resource);
  if (text === undefined) {
    text = JSON.stringify(resource);
    if (Object.isFrozen(resource)) serialized.set(resource, text);
  }
  return text;
}

export function renderResource(
  resource: Resource | undefined,
  status: number,
  format: ResponseFormat,
  pretty: boolean,
  baseUrl: string,
): { contentType: string; body: string } {
  if (resource === undefined) {
    return { contentType: FHIR_JSON, body: '' };
  }
  if (format === 'html') {
    return { contentType: HTML, body: htmlPage(resource, status, baseUrl) };
  }
  return { contentType: FHIR_JSON, body: pretty ? JSON.stringify(resource, null, 2) : compactJson(resource) };
}
