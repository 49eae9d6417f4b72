// The resource's JSON as the page's last part: pretty-printed, highlighted,
// every reference into this server and every web address clickable.
import { escapeHtml } from '../../fhir/xhtml';

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
