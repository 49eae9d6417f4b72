// Bundle R5 <-> R4 (https://hl7.org/fhir/R5/bundle-version-maps.html):
// entries convert one by one (entry.resource, entry.response.outcome).
// R5 `issues` has no R4 home, and an R4 Bundle has no extension element:
// in a searchset it becomes the R4 form, an entry with search.mode
// 'outcome', marked with the cross-version extension (valueBoolean true) on
// the entry so that it goes back to `issues`; in other Bundle types it is
// dropped. R5 type 'subscription-notification' is 'collection' in R4, the
// code kept in the primitive's extension. The search names in link URLs
// (self, next...), and in conditional request URLs and ifNoneExist of
// transaction/batch entries, are renamed (search-names.ts).
import { codeBackward, codeForward, crossVersionUrl } from './extensions';
import { type Json, isObject } from './json';
import { type SearchVersion, rewriteQueryString } from './search-names';

export type Converter = (resource: Json) => Json;

const R4_BUNDLE_TYPES = [
  'document',
  'message',
  'transaction',
  'transaction-response',
  'batch',
  'batch-response',
  'history',
  'searchset',
  'collection',
];

const ISSUES_URL = crossVersionUrl('R5', 'Bundle.issues');

function convertRequestUrl(url: string, resourceType: string | undefined, to: SearchVersion): string {
  const question = url.indexOf('?');
  if (question < 0) return url;
  const path = url.slice(0, question);
  const type = /^\/?([A-Z][A-Za-z]+)(?:\/|$)/.exec(path)?.[1] ?? resourceType;
  if (type === undefined) return url;
  return `${path}?${rewriteQueryString(type, url.slice(question + 1), to)}`;
}

/** A link's query (self, next...) with the other version's search names; its type from the path. */
function convertLinkUrl(url: string, to: SearchVersion): string {
  const question = url.indexOf('?');
  if (question < 0) return url;
  const path = url.slice(0, question);
  const type = path
    .split('/')
    .reverse()
    .find((segment) => /^[A-Z][A-Za-z]+$/.test(segment));
  return type === undefined ? url : `${path}?${rewriteQueryString(type, url.slice(question + 1), to)}`;
}

function convertLinks(bundle: Json, to: SearchVersion): Json {
  if (!Array.isArray(bundle.link)) return bundle;
  return {
    ...bundle,
    link: bundle.link.map((link: unknown) =>
      isObject(link) && typeof link.url === 'string' ? { ...link, url: convertLinkUrl(link.url, to) } : link,
    ),
  };
}

function convertEntry(entry: Json, convert: Converter, to: SearchVersion): Json {
  const result: Json = { ...entry };
  const resource = isObject(entry.resource) ? entry.resource : undefined;
  if (resource) result.resource = convert(resource);
  if (isObject(entry.response) && isObject(entry.response.outcome)) {
    result.response = { ...entry.response, outcome: convert(entry.response.outcome) };
  }
  if (isObject(entry.request)) {
    const request: Json = { ...entry.request };
    const type = typeof resource?.resourceType === 'string' ? resource.resourceType : undefined;
    if (typeof request.url === 'string') request.url = convertRequestUrl(request.url, type, to);
    if (typeof request.ifNoneExist === 'string' && type !== undefined) {
      request.ifNoneExist = rewriteQueryString(type, request.ifNoneExist, to);
    }
    result.request = request;
  }
  return result;
}

function isIssuesEntry(entry: unknown): entry is Json {
  return (
    isObject(entry) &&
    Array.isArray(entry.extension) &&
    entry.extension.some((extension: unknown) => isObject(extension) && extension.url === ISSUES_URL && extension.valueBoolean === true)
  );
}

export function bundleToR4(bundle: Json, convert: Converter): Json {
  const { issues, ...rest } = bundle;
  let result: Json = convertLinks(rest, 'R4');
  const entries = Array.isArray(bundle.entry)
    ? bundle.entry.map((entry: unknown) => (isObject(entry) ? convertEntry(entry, convert, 'R4') : entry))
    : undefined;
  if (isObject(issues) && bundle.type === 'searchset') {
    const outcome: Json = {
      extension: [{ url: ISSUES_URL, valueBoolean: true }],
      resource: convert(issues),
      search: { mode: 'outcome' },
    };
    result = { ...result, entry: [...(entries ?? []), outcome] };
  } else if (entries) {
    result = { ...result, entry: entries };
  }
  return codeForward(result, 'type', 'Bundle', R4_BUNDLE_TYPES, 'collection', 'R5');
}

export function bundleFromR4(bundle: Json, convert: Converter): Json {
  let result: Json = convertLinks(codeBackward(bundle, 'type', 'Bundle', 'collection', 'R5'), 'R5');
  if (!Array.isArray(bundle.entry)) return result;
  const issuesEntry = bundle.entry.find(isIssuesEntry);
  const entries = bundle.entry
    .filter((entry: unknown) => entry !== issuesEntry)
    .map((entry: unknown) => (isObject(entry) ? convertEntry(entry, convert, 'R5') : entry));
  const { entry: _entry, ...withoutEntries } = result;
  result = entries.length > 0 ? { ...withoutEntries, entry: entries } : withoutEntries;
  if (issuesEntry && isObject(issuesEntry.resource)) {
    // issues comes before entry in R5's element order.
    const { entry, ...head } = result;
    result = { ...head, issues: convert(issuesEntry.resource), ...(entry !== undefined ? { entry } : {}) };
  }
  return result;
}
