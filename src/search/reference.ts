// Reading FHIR reference strings: 'Patient/123', 'Patient/123/_history/2',
// 'https://host/fhir/Patient/123', '#contained', 'urn:uuid:...'. Shared by
// FHIRPath resolve() and reference search matching.

export interface ParsedReference {
  /** The resource type, when the reference has the RESTful 'Type/id' shape. */
  type?: string;
  id?: string;
  version?: string;
  /** Everything before 'Type/id' in an absolute URL, without trailing slash. */
  base?: string;
  /** The reference as written, without a version. */
  url: string;
}

// From the Reference.reference regex of the spec, with a generic type name
// rather than the list of R5 types.
const RESTFUL = /^(?:(https?:\/\/.+?)\/)?([A-Z][A-Za-z0-9]*)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/([A-Za-z0-9\-.]{1,64}))?$/;

export function parseReference(reference: string): ParsedReference {
  const match = RESTFUL.exec(reference);
  if (!match) return { url: reference };
  const [, base, type, id, version] = match;
  const url = version === undefined ? reference : reference.slice(0, reference.lastIndexOf('/_history/'));
  return { type, id, version, base, url };
}

/**
 * The relative 'Type/id' form of a reference to this server's own base, the
 * reference itself (without version) otherwise. Relative and absolute
 * references to the same resource thus compare equal.
 */
export function localReference(reference: string, baseUrl?: string): string {
  const parsed = parseReference(reference);
  if (parsed.type === undefined) return parsed.url;
  if (parsed.base === undefined || (baseUrl !== undefined && sameBase(parsed.base, baseUrl))) {
    return `${parsed.type}/${parsed.id}`;
  }
  return parsed.url;
}

function sameBase(a: string, b: string): boolean {
  const strip = (url: string) => url.replace(/\/+$/, '').toLowerCase();
  return strip(a) === strip(b);
}
