// The frame of every page: language, title, the navigation between the
// pages a radiographer and a clerk use, a skip link, and the style sheet and
// script served by the plugin (no inline style or script: see assets.ts).
import { escapeHtml } from '../../fhir/xhtml';
import { ASSET_PATH } from './assets';

/** What a page knows of where it is. */
export interface PageLocation {
  /** Public base URL of /fhir (or /fhir/R4). */
  baseUrl: string;
  /** The path below the base, e.g. ['ImagingStudy'] or ['Patient', 'x']. */
  path: readonly string[];
  /** The request's parameters (without _format and _pretty). */
  query: ReadonlyArray<[string, string]>;
}

export function link(href: string, text: string, attributes = ''): string {
  return `<a href="${escapeHtml(href)}"${attributes}>${escapeHtml(text)}</a>`;
}

/** Orthanc's own root (Explorer, REST API), the FHIR base without /fhir and its version segment. */
export function orthancRoot(baseUrl: string): string {
  return baseUrl.replace(/\/fhir(\/R[45])?$/, '');
}

/** The FHIR base of /fhir itself (assets and the worklist live there whatever the version of the page). */
export function fhirRoot(baseUrl: string): string {
  return baseUrl.replace(/\/R[45]$/, '');
}

/** `url` with `query` as its query string (none when empty). */
export function withQuery(url: string, query: ReadonlyArray<[string, string]>): string {
  const text = new URLSearchParams(query as Array<[string, string]>).toString();
  return text === '' ? url : `${url}?${text}`;
}

const SECTIONS: ReadonlyArray<[string, string]> = [
  ['ImagingStudy', 'Studies'],
  ['Patient', 'Patients'],
  ['ServiceRequest', 'Orders'],
  ['Task', 'Tasks'],
  ['$worklist', 'Worklist'],
];

export interface ShellOptions {
  title: string;
  location: PageLocation;
  body: string;
  /** The page's JSON, one click away. */
  jsonUrl?: string;
  /** Seconds between refreshes of the #refreshed part (by the script; without it, a link). */
  refreshSeconds?: number;
  error?: boolean;
}

export function pageShell({ title, location, body, jsonUrl, refreshSeconds, error }: ShellOptions): string {
  const { baseUrl } = location;
  const root = fhirRoot(baseUrl);
  const current = location.path[0];
  const nav = [
    link(baseUrl, 'FHIR home', current === undefined ? ' aria-current="page"' : ''),
    ...SECTIONS.map(([path, label]) => link(`${path === '$worklist' ? root : baseUrl}/${path}`, label,
      current === path && location.path.length === 1 ? ' aria-current="page"' : '')),
    link(`${orthancRoot(baseUrl)}/app/explorer.html`, 'Orthanc Explorer'),
  ].join('');
  const refresh = refreshSeconds
    ? ` data-refresh="${refreshSeconds}"`
    : '';
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)} - Orthanc FHIR</title>`,
    `<link rel="stylesheet" href="${escapeHtml(`${root}/${ASSET_PATH}/pages.css`)}">`,
    refreshSeconds ? `<script src="${escapeHtml(`${root}/${ASSET_PATH}/pages.js`)}" defer></script>` : '',
    '</head><body>',
    '<a class="skip" href="#content">Skip to the content</a>',
    `<header><nav aria-label="Pages">${nav}</nav></header>`,
    `<main id="content"${refresh}>`,
    `<h1${error ? ' class="error"' : ''}>${escapeHtml(title)}</h1>`,
    jsonUrl ? `<p>${link(jsonUrl, 'This page as FHIR JSON')}</p>` : '',
    body,
    '</main></body></html>',
  ].filter((part) => part !== '').join('\n');
}
