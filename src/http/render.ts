// Turns a resource into the bytes of an answer: FHIR JSON, or for a browser
// the page of html-page.ts.
import type { Resource } from '../fhir/types';
import { escapeHtml, resourcePage, type PageContext } from './html-page';
import { FHIR_JSON, HTML, type ResponseFormat } from './negotiation';

/** The page a person gets at /fhir: the server, its FHIR version, its resource types. */
export function landingPage(capabilityStatement: Resource, baseUrl: string, counts: ReadonlyMap<string, number> = new Map()): string {
  const rest = (capabilityStatement.rest as Array<{ resource?: Array<{ type: string; documentation?: string }> }> | undefined)?.[0];
  const types = (rest?.resource ?? [])
    .map((r) => {
      const count = counts.has(r.type) ? ` (${counts.get(r.type)})` : '';
      return `<li><a href="${escapeHtml(`${baseUrl}/${r.type}`)}">${escapeHtml(r.type)}</a>${count}${r.documentation ? ` - ${escapeHtml(r.documentation)}` : ''}</li>`;
    })
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
  format: ResponseFormat,
  pretty: boolean,
  page: PageContext,
): { contentType: string; body: string } {
  if (resource === undefined) {
    return { contentType: FHIR_JSON, body: '' };
  }
  if (format === 'html') {
    return { contentType: HTML, body: resourcePage(resource, page) };
  }
  return { contentType: FHIR_JSON, body: pretty ? JSON.stringify(resource, null, 2) : compactJson(resource) };
}
