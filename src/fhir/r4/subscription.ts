// Subscription and SubscriptionStatus R5 <-> R4. R4's own Subscription is
// query-based (criteria a search URL); the topic-based one that R5 defines
// reaches R4 clients in the form of the Subscriptions R5 Backport IG 1.1.0
// (http://hl7.org/fhir/uv/subscriptions-backport/), its profile
// backport-subscription (in meta.profile of the R4 form, not kept in R5):
//
//   R5                        R4
//   topic                     criteria (the topic's canonical)
//   filterBy (each)           criteria's extension backport-filter-criteria,
//                             'Type?param[:modifier]=[prefix]value'
//   channelType               channel.type (its code), with the extension
//                             backport-channel-type (the whole Coding) unless
//                             it is an R4 code of the standard system
//   endpoint                  channel.endpoint
//   parameter (each)          channel.header 'Name: value'
//   heartbeatPeriod, timeout, channel's extensions backport-heartbeat-period,
//   maxCount                  backport-timeout, backport-max-count
//   contentType               channel.payload ('application/fhir+json' when
//                             R5 has none: an R4 Subscription without payload
//                             would ask for no payload at all)
//   content                   payload's extension backport-payload-content
//   reason                    reason (1..1 in R4: a fixed text when R5 has
//                             none, which does not come back)
//   status entered-in-error   'off', the code kept in the primitive's extension
//   identifier, name,         the cross-version extensions (the IG's
//   managingEntity            identifier slice is that extension)
//   extension SUBSCRIPTION_ERROR_EXTENSION   error (server-owned: not read back)
//
// The channel's own id, modifierExtension and other extensions, and those of
// channel.type and channel.header, have no R5 element to go to: dropped.
//
// A criteria string that does not parse is a 422 (the IG leaves its syntax
// to search): the core never sees a filter it would have to guess at. Going
// back, each parameter of a criteria string is one filterBy; a filterBy
// without resourceType is written '?param=value' so that it comes back as it
// was (the core decides whether it takes such a filter).
//
// SubscriptionStatus has no R4 resource: the IG's backport-subscription-status-r4
// Parameters stands for it (in the first entry of a notification Bundle, see
// bundle.ts, and as the answer of $status). A Parameters stays a Parameters
// going back, except in a notification Bundle, whose first entry the profile
// marks.
import { unprocessable } from '../outcome';
import { type ElementMap, codeBackward, codeForward, extensionOnly, mapBackward, mapForward, typed } from './extensions';
import { type Json, compact, deepEqual, isObject, nonEmpty, objects, replaceKey } from './json';

const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/';

export const BACKPORT_SUBSCRIPTION_PROFILE = `${BACKPORT}backport-subscription`;
export const BACKPORT_STATUS_PROFILE = `${BACKPORT}backport-subscription-status-r4`;
export const BACKPORT_NOTIFICATION_PROFILE = `${BACKPORT}backport-subscription-notification-r4`;

const FILTER_CRITERIA = `${BACKPORT}backport-filter-criteria`;
const PAYLOAD_CONTENT = `${BACKPORT}backport-payload-content`;
const CHANNEL_TYPE = `${BACKPORT}backport-channel-type`;

/**
 * The last delivery error of a Subscription, which the core keeps in the R5
 * resource (valueString) and R4 shows in Subscription.error.
 */
export const SUBSCRIPTION_ERROR_EXTENSION = 'urn:orthanc-fhir:subscription-error';

export const CHANNEL_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/subscription-channel-type';

/** R4's channel.payload when R5 states no contentType: what this server sends. */
export const DEFAULT_CONTENT_TYPE = 'application/fhir+json';

/** R4's reason (1..1) when R5 has none; an R4 reason of exactly this text is none in R5. */
export const DEFAULT_R4_REASON = 'Topic-based subscription (no reason given)';

const R4_STATUS = ['requested', 'active', 'error', 'off'];
const R4_CHANNEL_TYPES = ['rest-hook', 'websocket', 'email', 'sms', 'message'];

/** The R5 elements carried by channel extensions of the IG, with their R4 value types. */
const CHANNEL_NUMBERS: ReadonlyArray<{ element: string; url: string; key: string }> = [
  { element: 'heartbeatPeriod', url: `${BACKPORT}backport-heartbeat-period`, key: 'valueUnsignedInt' },
  { element: 'timeout', url: `${BACKPORT}backport-timeout`, key: 'valueUnsignedInt' },
  { element: 'maxCount', url: `${BACKPORT}backport-max-count`, key: 'valuePositiveInt' },
];

const SUBSCRIPTION: readonly ElementMap[] = [
  extensionOnly('identifier', typed('Identifier'), true),
  extensionOnly('name', typed('String'), false),
  extensionOnly('managingEntity', typed('Reference'), false),
];

/** R5 elements the R4 channel (and criteria) replace. */
const CHANNEL_ELEMENTS = [
  'filterBy',
  'channelType',
  'endpoint',
  '_endpoint',
  'parameter',
  'heartbeatPeriod',
  'timeout',
  'contentType',
  '_contentType',
  'content',
  'maxCount',
];

/** A search prefix, only before a number or a date: 'ne' in 'negative' is no prefix. */
const PREFIX = /^(eq|ne|gt|lt|ge|le|sa|eb|ap)(?=-?[0-9])/;
/** A type name, or a canonical URL (R5 filterBy.resourceType is a uri). */
const CRITERIA_TYPE = /^(?:[A-Za-z][A-Za-z0-9]*|[a-z][a-z0-9+.-]*:[^\s?]+)$/;
const CRITERIA_PARAMETER = /^([A-Za-z0-9_][A-Za-z0-9_.-]*)(?::([A-Za-z][A-Za-z0-9-]*))?=(.+)$/s;

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** The extensions of `object` at `url`, and the object without them. */
function takeExtensions(object: unknown, url: string): { taken: Json[]; rest: Json | undefined } {
  if (!isObject(object)) return { taken: [], rest: undefined };
  const matches = (extension: unknown): extension is Json => isObject(extension) && extension.url === url;
  const all: unknown[] = Array.isArray(object.extension) ? object.extension : [];
  const taken = all.filter(matches);
  const kept = all.filter((extension) => !matches(extension));
  const rest: Json = { ...object };
  if (kept.length > 0) rest.extension = kept;
  else delete rest.extension;
  return { taken, rest: Object.keys(rest).length > 0 ? rest : undefined };
}

/** A primitive's element (`_x`) with `extensions` added; undefined when it has nothing. */
function withExtensions(element: unknown, extensions: Json[]): Json | undefined {
  const base = isObject(element) ? element : {};
  if (extensions.length === 0) return Object.keys(base).length > 0 ? base : undefined;
  return { ...base, extension: [...(Array.isArray(base.extension) ? base.extension : []), ...extensions] };
}

/** `resource` with `url` in meta.profile (meta placed after id when new). */
export function withProfile(resource: Json, url: string): Json {
  const meta = isObject(resource.meta) ? resource.meta : {};
  const profiles = Array.isArray(meta.profile) ? meta.profile : [];
  if (profiles.includes(url)) return resource;
  const updated = { ...meta, profile: [...profiles, url] };
  if (resource.meta !== undefined) return { ...resource, meta: updated };
  const result: Json = {};
  const anchor = 'id' in resource ? 'id' : 'resourceType';
  for (const [key, value] of Object.entries(resource)) {
    result[key] = value;
    if (key === anchor) result.meta = updated;
  }
  if (result.meta === undefined) result.meta = updated;
  return result;
}

/** `resource` without `url` in meta.profile, and without a meta left empty. */
export function withoutProfile(resource: Json, url: string): Json {
  if (!isObject(resource.meta) || !Array.isArray(resource.meta.profile) || !resource.meta.profile.includes(url)) return resource;
  const meta: Json = { ...resource.meta };
  const profiles = (resource.meta.profile as unknown[]).filter((profile) => profile !== url);
  if (profiles.length > 0) meta.profile = profiles;
  else delete meta.profile;
  const result: Json = { ...resource };
  if (Object.keys(meta).length > 0) result.meta = meta;
  else delete result.meta;
  return result;
}

export function hasProfile(resource: unknown, url: string): boolean {
  return isObject(resource) && isObject(resource.meta) && Array.isArray(resource.meta.profile) && resource.meta.profile.includes(url);
}

/** Only what would break the parse is escaped: '%' and '&' (a search value is percent-decoded). */
const escapeValue = (value: string) => value.replace(/%/g, '%25').replace(/&/g, '%26');

/** One R5 filterBy as a backport-filter-criteria string. */
function criteriaOf(filter: Json): string {
  const type = stringOf(filter.resourceType) ?? '';
  const modifier = typeof filter.modifier === 'string' ? `:${filter.modifier}` : '';
  const value = stringOf(filter.value) ?? '';
  // eq is search's default: written only where it parses back as a prefix.
  const comparator = stringOf(filter.comparator);
  const prefix = comparator !== undefined && (comparator !== 'eq' || /^-?[0-9]/.test(value)) ? comparator : '';
  return `${type}?${stringOf(filter.filterParameter) ?? ''}${modifier}=${prefix}${escapeValue(value)}`;
}

function badCriteria(text: string, index: number, why: string): Error {
  return unprocessable(
    `The filter criteria '${text}' (extension backport-filter-criteria) ${why}: expected 'Type?parameter[:modifier]=[prefix]value', parameters joined with '&'`,
    [`Subscription.criteria.extension[${index}]`],
  );
}

/** A backport-filter-criteria string as R5 filterBy items, one per parameter; a 422 when it does not parse. */
function filtersOf(text: string, index: number): Json[] {
  const question = text.indexOf('?');
  if (question < 0) throw badCriteria(text, index, "has no '?'");
  const type = text.slice(0, question);
  if (type !== '' && !CRITERIA_TYPE.test(type)) throw badCriteria(text, index, `names no resource type ('${type}')`);
  const query = text.slice(question + 1);
  if (query === '') throw badCriteria(text, index, 'has no parameter');
  return query.split('&').map((parameter) => {
    const match = CRITERIA_PARAMETER.exec(parameter);
    if (!match) throw badCriteria(text, index, `has a parameter '${parameter}' that is not 'name[:modifier]=value'`);
    const name = match[1];
    const modifier: string | undefined = match[2];
    const raw = match[3];
    let value: string;
    try {
      value = decodeURIComponent(raw);
    } catch {
      throw badCriteria(text, index, `has a badly percent-encoded value '${raw}'`);
    }
    const prefix = PREFIX.exec(value)?.[1];
    return compact({
      resourceType: type === '' ? undefined : type,
      filterParameter: name,
      comparator: prefix,
      modifier,
      value: prefix !== undefined ? value.slice(prefix.length) : value,
    });
  });
}

function channelTypeToR4(channelType: unknown): { type?: string; _type?: Json } {
  if (!isObject(channelType)) return {};
  const code = stringOf(channelType.code);
  const standard = code !== undefined && R4_CHANNEL_TYPES.includes(code) && deepEqual(channelType, { system: CHANNEL_TYPE_SYSTEM, code });
  // Another system, a display...: the IG's extension keeps the Coding; the code stays the R4 type.
  return compact({ type: code, _type: standard ? undefined : { extension: [{ url: CHANNEL_TYPE, valueCoding: channelType }] } });
}

function channelTypeFromR4(type: unknown, element: unknown): Json | undefined {
  const coding = takeExtensions(element, CHANNEL_TYPE).taken.map((extension) => extension.valueCoding).find(isObject);
  // The extension is used while it agrees with the code (an R4 client may have changed the code since).
  if (coding && coding.code === type) return coding;
  return typeof type === 'string' ? { system: CHANNEL_TYPE_SYSTEM, code: type } : undefined;
}

function headersOf(parameters: unknown): string[] | undefined {
  return nonEmpty(objects(parameters).map((parameter) => `${stringOf(parameter.name) ?? ''}: ${stringOf(parameter.value) ?? ''}`));
}

/** R4 headers 'Name: value' as R5 parameters; a 422 for one without a name or a value (R5 requires both). */
function parametersOf(headers: unknown): Json[] | undefined {
  if (!Array.isArray(headers)) return undefined;
  return nonEmpty(
    headers.map((header: unknown, index) => {
      const match = typeof header === 'string' ? /^\s*([^:\s][^:]*?)\s*:\s*(\S.*?)\s*$/s.exec(header) : null;
      if (!match) {
        throw unprocessable(`The channel header '${String(header)}' is not 'Name: value'`, [`Subscription.channel.header[${index}]`]);
      }
      return { name: match[1], value: match[2] };
    }),
  );
}

export function subscriptionToR4(resource: Json): Json {
  let result = mapForward(resource, 'Subscription', SUBSCRIPTION, 'R5');
  const { taken: errors, rest } = takeExtensions(result, SUBSCRIPTION_ERROR_EXTENSION);
  result = codeForward(rest ?? {}, 'status', 'Subscription', R4_STATUS, 'off', 'R5');
  const filters = objects(resource.filterBy).map((filter) => ({ url: FILTER_CRITERIA, valueString: criteriaOf(filter) }));
  const content = stringOf(resource.content);
  const numbers = CHANNEL_NUMBERS.filter(({ element }) => resource[element] !== undefined).map(({ element, url, key }) => ({
    url,
    [key]: resource[element],
  }));
  const channel = compact({
    extension: nonEmpty(numbers),
    ...channelTypeToR4(resource.channelType),
    endpoint: resource.endpoint,
    _endpoint: resource._endpoint,
    payload: stringOf(resource.contentType) ?? DEFAULT_CONTENT_TYPE,
    _payload: withExtensions(resource._contentType, content !== undefined ? [{ url: PAYLOAD_CONTENT, valueCode: content }] : []),
    header: headersOf(resource.parameter),
  });
  // R4's order: ... end, reason, criteria, error, channel; the R5 elements
  // after reason are all channel ones.
  result = replaceKey(result, ['topic', '_topic', ...CHANNEL_ELEMENTS], {});
  result = replaceKey(result, ['reason', '_reason'], {
    reason: resource.reason ?? DEFAULT_R4_REASON,
    _reason: resource._reason,
    criteria: resource.topic,
    _criteria: withExtensions(resource._topic, filters),
    error: errors.map((extension) => stringOf(extension.valueString)).find((text) => text !== undefined),
    channel,
  });
  return withProfile(result, BACKPORT_SUBSCRIPTION_PROFILE);
}

export function subscriptionFromR4(resource: Json): Json {
  let result = withoutProfile(resource, BACKPORT_SUBSCRIPTION_PROFILE);
  // Server-owned: neither R4's error nor the core's extension is taken from a client.
  result = replaceKey(takeExtensions(result, SUBSCRIPTION_ERROR_EXTENSION).rest ?? {}, ['error', '_error'], {});
  const criteria = takeExtensions(resource._criteria, FILTER_CRITERIA);
  const filterBy = criteria.taken.flatMap((extension, index) => {
    const text = stringOf(extension.valueString);
    if (text === undefined) throw badCriteria(String(extension.valueString), index, 'is not a valueString');
    return filtersOf(text, index);
  });
  result = replaceKey(result, ['criteria', '_criteria'], { topic: resource.criteria, _topic: criteria.rest });
  const channel = isObject(resource.channel) ? resource.channel : {};
  const payload = takeExtensions(channel._payload, PAYLOAD_CONTENT);
  const numbers: Json = {};
  for (const { element, url, key } of CHANNEL_NUMBERS) {
    numbers[element] = takeExtensions(channel, url).taken.map((extension) => extension[key]).find((value) => value !== undefined);
  }
  result = replaceKey(result, ['channel'], {
    filterBy: nonEmpty(filterBy),
    channelType: channelTypeFromR4(channel.type, channel._type),
    endpoint: channel.endpoint,
    _endpoint: channel._endpoint,
    parameter: parametersOf(channel.header),
    heartbeatPeriod: numbers.heartbeatPeriod,
    timeout: numbers.timeout,
    contentType: channel.payload,
    _contentType: payload.rest,
    content: payload.taken.map((extension) => extension.valueCode).find((code) => typeof code === 'string'),
    maxCount: numbers.maxCount,
  });
  if (result.reason === DEFAULT_R4_REASON) {
    const { reason: _reason, ...withoutReason } = result;
    result = withoutReason;
  }
  result = codeBackward(result, 'status', 'Subscription', 'off', 'R5');
  return mapBackward(result, 'Subscription', SUBSCRIPTION, 'R5');
}

/** integer64 is a JSON string in R5; R4's string parameters take it as it is. */
const integer64 = (value: unknown) => (typeof value === 'number' ? String(value) : value);

/** An R5 SubscriptionStatus as the IG's backport-subscription-status-r4 Parameters. */
export function subscriptionStatusToR4(resource: Json): Json {
  const parameter: Json[] = [];
  const add = (list: Json[], name: string, key: string, value: unknown) => {
    if (value !== undefined) list.push({ name, [key]: value });
  };
  add(parameter, 'subscription', 'valueReference', resource.subscription);
  add(parameter, 'topic', 'valueCanonical', resource.topic);
  add(parameter, 'status', 'valueCode', resource.status);
  add(parameter, 'type', 'valueCode', resource.type);
  add(parameter, 'events-since-subscription-start', 'valueString', integer64(resource.eventsSinceSubscriptionStart));
  for (const event of objects(resource.notificationEvent)) {
    const part: Json[] = [];
    add(part, 'event-number', 'valueString', integer64(event.eventNumber));
    add(part, 'timestamp', 'valueInstant', event.timestamp);
    add(part, 'focus', 'valueReference', event.focus);
    for (const context of objects(event.additionalContext)) add(part, 'additional-context', 'valueReference', context);
    parameter.push({ name: 'notification-event', ...(part.length > 0 ? { part } : {}) });
  }
  for (const error of objects(resource.error)) add(parameter, 'error', 'valueCodeableConcept', error);
  // A Parameters is a Resource, not a DomainResource: no text, extension or contained.
  const parameters = compact({
    resourceType: 'Parameters',
    id: resource.id,
    meta: resource.meta,
    implicitRules: resource.implicitRules,
    language: resource.language,
    parameter: nonEmpty(parameter),
  });
  return withProfile(parameters, BACKPORT_STATUS_PROFILE);
}

/** The reverse of subscriptionStatusToR4 (a notification Bundle's first entry, see bundle.ts). */
export function subscriptionStatusFromR4(parameters: Json): Json {
  const base = withoutProfile(parameters, BACKPORT_STATUS_PROFILE);
  const list = objects(base.parameter);
  const value = (items: Json[], name: string, key: string) => items.find((item) => item.name === name)?.[key];
  const events = list
    .filter((item) => item.name === 'notification-event')
    .map((item) => {
      const part = objects(item.part);
      return compact({
        eventNumber: value(part, 'event-number', 'valueString'),
        timestamp: value(part, 'timestamp', 'valueInstant'),
        focus: value(part, 'focus', 'valueReference'),
        additionalContext: nonEmpty(part.filter((p) => p.name === 'additional-context').map((p) => p.valueReference).filter(isObject)),
      });
    });
  return compact({
    resourceType: 'SubscriptionStatus',
    id: base.id,
    meta: base.meta,
    implicitRules: base.implicitRules,
    language: base.language,
    status: value(list, 'status', 'valueCode'),
    type: value(list, 'type', 'valueCode'),
    eventsSinceSubscriptionStart: value(list, 'events-since-subscription-start', 'valueString'),
    notificationEvent: nonEmpty(events),
    subscription: value(list, 'subscription', 'valueReference'),
    topic: value(list, 'topic', 'valueCanonical'),
    error: nonEmpty(list.filter((item) => item.name === 'error').map((item) => item.valueCodeableConcept).filter(isObject)),
  });
}
