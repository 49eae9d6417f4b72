// Bundle R5 <-> R4 (https://hl7.org/fhir/R5/bundle-version-maps.html):
// entries convert one by one (entry.resource, entry.response.outcome).
// R5 `issues` has no R4 home, and an R4 Bundle has no extension element:
// in a searchset it becomes the R4 form, an entry with search.mode
// 'outcome', marked with the cross-version extension (valueBoolean true) on
// the entry so that it goes back to `issues`; in other Bundle types it is
// dropped. The search names in link URLs (self, next...), and in
// conditional request URLs and ifNoneExist of transaction/batch entries, are
// renamed (search-names.ts).
//
// R5 type 'subscription-notification' is the Subscriptions R5 Backport IG's
// R4 notification: a 'history' Bundle with the profile
// backport-subscription-notification-r4, its first entry the
// SubscriptionStatus as Parameters (subscription.ts). A history Bundle's
// entries need a request and a response in R4: the status entry gets the IG's
// GET <subscription>/$status, 200; a focus entry without them GET Type/id
// (what the IG allows where the triggering interaction is not known), 200
// (201 for a POST). Going back, the profile marks the notification; the
// status Parameters becomes the SubscriptionStatus again, and a request or
// response equal to the one that would have been filled in is dropped (the
// core sets none: an R5 one that happens to equal it is said the same way).
import { codeBackward, codeForward, crossVersionUrl } from './extensions';
import { type Json, deepEqual, isObject } from './json';
import { type SearchVersion, rewriteQueryString } from './search-names';
import {
  BACKPORT_NOTIFICATION_PROFILE,
  BACKPORT_STATUS_PROFILE,
  hasProfile,
  subscriptionStatusFromR4,
  withProfile,
  withoutProfile,
} from './subscription';

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

/** The request a notification entry gets in R4 when it has none (computed on the R5 entry). */
function notificationRequest(entry: Json, index: number): Json | undefined {
  const resource = isObject(entry.resource) ? entry.resource : undefined;
  if (index === 0 && resource?.resourceType === 'SubscriptionStatus') {
    const subscription = isObject(resource.subscription) ? resource.subscription.reference : undefined;
    // Without a reference, the type-level $status (all the client's Subscriptions).
    return { method: 'GET', url: `${typeof subscription === 'string' ? subscription : 'Subscription'}/$status` };
  }
  if (typeof resource?.resourceType === 'string' && typeof resource.id === 'string') {
    return { method: 'GET', url: `${resource.resourceType}/${resource.id}` };
  }
  if (typeof entry.fullUrl !== 'string') return undefined;
  // An id-only entry: its fullUrl, relative when it is a RESTful one.
  const relative = /(?:^|\/)([A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(entry.fullUrl)?.[1];
  return { method: 'GET', url: relative ?? entry.fullUrl };
}

function notificationResponse(request: unknown): Json {
  return { status: isObject(request) && request.method === 'POST' ? '201' : '200' };
}

/** A converted notification entry with the request and response R4's history Bundle needs. */
function withHistoryRequest(r5Entry: Json, converted: Json, index: number): Json {
  const request = converted.request ?? notificationRequest(r5Entry, index);
  if (request === undefined) return converted;
  return { ...converted, request, response: converted.response ?? notificationResponse(request) };
}

/** The reverse of withHistoryRequest, on the entry converted back to R5. */
function withoutHistoryRequest(entry: Json, index: number): Json {
  const { request, response, ...rest } = entry;
  const result: Json = { ...rest };
  if (request !== undefined && !deepEqual(request, notificationRequest(rest, index))) result.request = request;
  if (response !== undefined && !deepEqual(response, notificationResponse(request))) result.response = response;
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
  const notification = bundle.type === 'subscription-notification';
  let result: Json = convertLinks(rest, 'R4');
  const entries = Array.isArray(bundle.entry)
    ? bundle.entry.map((entry: unknown, index) => {
        if (!isObject(entry)) return entry;
        const converted = convertEntry(entry, convert, 'R4');
        return notification ? withHistoryRequest(entry, converted, index) : converted;
      })
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
  if (notification) return withProfile({ ...result, type: 'history' }, BACKPORT_NOTIFICATION_PROFILE);
  // R4 has the other R5 codes: kept for the codes of a later release.
  return codeForward(result, 'type', 'Bundle', R4_BUNDLE_TYPES, 'collection', 'R5');
}

/** A notification entry back to R5: the status Parameters as the SubscriptionStatus. */
function notificationEntryFromR4(entry: Json, converted: Json, index: number): Json {
  const status = index === 0 && isObject(entry.resource) && hasProfile(entry.resource, BACKPORT_STATUS_PROFILE);
  const result = status && isObject(entry.resource) ? { ...converted, resource: subscriptionStatusFromR4(entry.resource) } : converted;
  return withoutHistoryRequest(result, index);
}

export function bundleFromR4(bundle: Json, convert: Converter): Json {
  const notification = bundle.type === 'history' && hasProfile(bundle, BACKPORT_NOTIFICATION_PROFILE);
  // A code R4 lacks, in the primitive's extension (how earlier versions of this view wrote a notification).
  let result: Json = convertLinks(codeBackward(bundle, 'type', 'Bundle', 'collection', 'R5'), 'R5');
  if (notification) result = { ...withoutProfile(result, BACKPORT_NOTIFICATION_PROFILE), type: 'subscription-notification' };
  if (!Array.isArray(bundle.entry)) return result;
  const issuesEntry = bundle.entry.find(isIssuesEntry);
  const entries = bundle.entry
    .filter((entry: unknown) => entry !== issuesEntry)
    .map((entry: unknown, index) => {
      if (!isObject(entry)) return entry;
      const converted = convertEntry(entry, convert, 'R5');
      return notification ? notificationEntryFromR4(entry, converted, index) : converted;
    });
  const { entry: _entry, ...withoutEntries } = result;
  result = entries.length > 0 ? { ...withoutEntries, entry: entries } : withoutEntries;
  if (issuesEntry && isObject(issuesEntry.resource)) {
    // issues comes before entry in R5's element order.
    const { entry, ...head } = result;
    result = { ...head, issues: convert(issuesEntry.resource), ...(entry !== undefined ? { entry } : {}) };
  }
  return result;
}
