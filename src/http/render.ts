// Turns a resource into the bytes of an answer: FHIR JSON, or for a browser
// the page of html-page.ts.
import type { Resource } from '../fhir/types';
import { escapeHtml, resourcePage, type PageContext } from './html-page';
import { fhirRoot, link, orthancRoot, pageShell, withQuery } from './pages/page-shell';
import { FHIR_JSON, HTML, type ResponseFormat } from './negotiation';

/** The page a person gets at /fhir: the server, its FHIR version, its resource types, where the day's work is. */
export function landingPage(capabilityStatement: Resource, baseUrl: string, counts: ReadonlyMap<string, number> = new Map(),
  today: Array<[string, string]> = []): string {
  const rest = (capabilityStatement.rest as Array<{ resource?: Array<{ type: string; documentation?: string }> }> | undefined)?.[0];
  const types = (rest?.resource ?? [])
    .map((r) => {
      const count = counts.has(r.type) ? ` (${counts.get(r.type)})` : '';
      return `<li>${link(`${baseUrl}/${r.type}`, r.type)}${escapeHtml(count)}${r.documentation ? ` - ${escapeHtml(r.documentation)}` : ''}</li>`;
    })
    .join('');
  const software = capabilityStatement.software as { name?: string; version?: string } | undefined;
  const root = fhirRoot(baseUrl);
  return pageShell({
    title: `${software?.name ?? 'orthanc-fhir'} ${software?.version ?? ''}`.trim(),
    location: { baseUrl, path: [], query: [] },
    body: [
      `<p>FHIR ${escapeHtml(String(capabilityStatement.fhirVersion ?? ''))} server of this Orthanc, base URL <code>${escapeHtml(baseUrl)}</code>.</p>`,
      `<h2>Today</h2><ul><li>${link(withQuery(`${baseUrl}/ImagingStudy`, [...today, ['_sort', '-started']]), "Today's studies")}</li>`
        + `<li>${link(`${root}/$worklist`, "Today's worklist")}</li></ul>`,
      `<h2>Resource types</h2><ul>${types}</ul>`,
      `<p>${link(`${baseUrl}/metadata`, 'CapabilityStatement')} - ${link(`${orthancRoot(baseUrl)}/app/explorer.html`, 'Orthanc Explorer')}</p>`,
    ].join('\n'),
  });
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
