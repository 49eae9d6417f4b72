// Content negotiation (FHIR R5 http.html#mime-type): `_format` overrides the
// Accept header; JSON is served as application/fhir+json, browsers get a
// readable HTML page, and formats not served (XML, Turtle) get a 406.
import { notAcceptable, unsupportedMediaType } from '../fhir/outcome';

export type ResponseFormat = 'json' | 'html';

const FORMAT_ALIASES: Record<string, ResponseFormat | null> = {
  json: 'json',
  'application/json': 'json',
  'application/fhir+json': 'json',
  html: 'html',
  'text/html': 'html',
  xml: null,
  'text/xml': null,
  'application/xml': null,
  'application/fhir+xml': null,
  ttl: null,
  'application/fhir+turtle': null,
  'text/turtle': null,
};

interface AcceptRange {
  type: string;
  q: number;
}

export function parseAccept(header: string): AcceptRange[] {
  return header
    .split(',')
    .map((part) => {
      const [type, ...params] = part.trim().split(';');
      let q = 1;
      for (const param of params) {
        const [key, value] = param.trim().split('=');
        if (key?.trim().toLowerCase() === 'q') {
          const parsed = Number(value);
          q = Number.isFinite(parsed) ? parsed : 0;
        }
      }
      return { type: (type ?? '').trim().toLowerCase(), q };
    })
    .filter((range) => range.type !== '' && range.q > 0);
}

function formatOfMediaRange(type: string): ResponseFormat | undefined {
  if (type === 'application/fhir+json' || type === 'application/json' || type === 'json') return 'json';
  if (type === 'text/html' || type === 'application/xhtml+xml') return 'html';
  if (type === '*/*' || type === 'application/*') return 'json';
  if (type === 'text/*') return 'html';
  return undefined;
}

/**
 * Chooses the answer's format. `_format` wins over Accept; with neither, or a
 * wildcard, JSON. Throws a 406 OperationOutcome for formats not served.
 */
export function negotiate(format: string | undefined, accept: string | undefined): ResponseFormat {
  if (format !== undefined) {
    const key = format.trim().toLowerCase().split(';')[0]!.trim();
    const chosen = Object.prototype.hasOwnProperty.call(FORMAT_ALIASES, key) ? FORMAT_ALIASES[key] : undefined;
    if (chosen === undefined || chosen === null) {
      throw notAcceptable(`_format=${format} is not served; use json (application/fhir+json) or html`);
    }
    return chosen;
  }
  if (accept === undefined || accept.trim() === '') {
    return 'json';
  }
  const ranges = parseAccept(accept);
  if (ranges.length === 0) {
    return 'json';
  }
  // Highest q first; among equals, the order the client wrote.
  const ordered = ranges.map((range, index) => ({ ...range, index })).sort((a, b) => b.q - a.q || a.index - b.index);
  for (const range of ordered) {
    const chosen = formatOfMediaRange(range.type);
    if (chosen !== undefined) {
      return chosen;
    }
  }
  throw notAcceptable(`None of the formats accepted (${accept}) is served; use application/fhir+json`);
}

/** The fhirVersion parameter of a media type ('application/fhir+json; fhirVersion=4.0'), if any. */
function fhirVersionParameter(mediaType: string): string | undefined {
  for (const param of mediaType.split(';').slice(1)) {
    const [key, value] = param.split('=');
    if (key?.trim().toLowerCase() === 'fhirversion' && value !== undefined) return value.trim().replace(/^"|"$/g, '');
  }
  return undefined;
}

/**
 * The FHIR version a client asks for (R5 http.html#version-parameter): the
 * fhirVersion parameter of its Accept header, else of its Content-Type;
 * undefined when it names none (the default). A version this server does
 * not speak is a 406. `served` are codes such as '4.0' (a release such as
 * 4.0.1 names its version too).
 */
export function requestedFhirVersion(accept: string | undefined, contentType: string | undefined, served: readonly string[]): string | undefined {
  const asked = (accept ?? '').split(',').map(fhirVersionParameter).find((v) => v !== undefined) ?? fhirVersionParameter(contentType ?? '');
  if (asked === undefined) return undefined;
  const code = /^(\d+\.\d+)(\.\d+)?$/.exec(asked)?.[1];
  if (code === undefined || !served.includes(code)) {
    throw notAcceptable(`fhirVersion=${asked} is not served; this server speaks FHIR ${served.join(' and ')}`);
  }
  return code;
}

/** The JSON media type of an answer, naming the version when the client chose one. */
export function fhirJson(fhirVersion: string | undefined): string {
  return fhirVersion === undefined ? FHIR_JSON : `application/fhir+json; fhirVersion=${fhirVersion}; charset=utf-8`;
}

/** Request bodies must be FHIR JSON. */
export function checkBodyContentType(contentType: string | undefined): void {
  if (contentType === undefined || contentType.trim() === '') {
    return; // lenient: many clients omit it for JSON
  }
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/fhir+json' && type !== 'application/json') {
    throw unsupportedMediaType(`Content-Type ${type} is not accepted; send application/fhir+json`);
  }
}

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';
export const HTML = 'text/html; charset=utf-8';
