// What a Subscription asks for, checked and reduced to what delivery needs
// (its "spec", kept with the queue's row): the topic, the filters as a
// search of the topic's type, the endpoint (within the allow-list), the
// headers, the payload, the timing, the FHIR version of the subscriber and
// what its credentials may read. Pure: the Subscription module checks a
// write with it, the event source and the deliverer read the spec back.
import { validateHeaderName, validateHeaderValue } from 'node:http';
import { parseScopes, type Access } from '../fhir/access';
import { OperationOutcomeError, outcome, unprocessable } from '../fhir/outcome';
import type { Resource } from '../fhir/types';
import { defineSearch, parseSearchQuery, type SearchDefinition } from '../search';
import { SEARCH_DECLARATIONS } from './search-declarations';
import { topicOf, type TopicDeclaration, type TopicType } from './subscription-topics';

export const CHANNEL_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/subscription-channel-type';
export type Content = 'empty' | 'id-only' | 'full-resource';
const CONTENTS: readonly Content[] = ['empty', 'id-only', 'full-resource'];
/** Headers the deliverer sets itself, or that would change how the request is framed. */
const RESERVED_HEADERS = new Set(['host', 'content-type', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'te', 'trailer', 'keep-alive', 'expect']);
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const MAX_HEADERS = 20;
const MAX_HEADER_BYTES = 4096;

export const DEFAULT_TIMEOUT_SECONDS = 10;
export const MAX_TIMEOUT_SECONDS = 60;
export const DEFAULT_MAX_COUNT = 20;
export const MAX_MAX_COUNT = 100;

/** The credentials of whoever wrote the Subscription, as kept (the grants are parsed again from the scopes). */
export interface SubscriberAccess {
  admin: boolean;
  scopes: readonly string[];
  patient?: string;
  subject?: string;
  issuer?: string;
  client?: string;
  user?: string;
}

export interface SubscriptionSpec {
  topic: string;
  /** The filters as search parameters of the topic's type. */
  filters: Array<[string, string]>;
  endpoint: string;
  headers: Array<[string, string]>;
  content: Content;
  contentType: string;
  heartbeatSeconds?: number;
  timeoutSeconds: number;
  maxCount: number;
  /** Epoch ms after which the Subscription is off. */
  end?: number;
  /** The public base URL the Subscription was written through: the notifications' references are on it. */
  baseUrl: string;
  /** '4.0': the subscriber gets R4 (backport) notifications. */
  fhirVersion: '4.0' | '5.0';
  /** Absent: authorization is off, every event may be told. */
  access?: SubscriberAccess;
}

const definitions = new Map<TopicType, SearchDefinition>();

export function searchDefinitionOf(type: TopicType): SearchDefinition {
  let definition = definitions.get(type);
  if (!definition) {
    definition = defineSearch({ resourceType: type, ...SEARCH_DECLARATIONS[type], defaultCount: 1, maxCount: 1000 });
    definitions.set(type, definition);
  }
  return definition;
}

/** Who a Subscription belongs to: the token's subject under its issuer, else its client, else the Basic user; none with authorization off. */
export function ownerOf(access: Pick<SubscriberAccess, 'subject' | 'issuer' | 'client' | 'user'> | undefined): string | undefined {
  if (!access) return undefined;
  if (access.subject !== undefined) return `${access.issuer ?? ''}|${access.subject}`;
  if (access.client !== undefined) return `client:${access.client}`;
  return access.user !== undefined ? `user:${access.user}` : undefined;
}

export function accessOf(stored: SubscriberAccess): Access {
  return { ...stored, grants: parseScopes(stored.scopes) };
}

export function storedAccess(access: Access): SubscriberAccess {
  const { grants: _grants, ...kept } = access;
  return kept;
}

/** Whether the deliverer looks at a Subscription even when nothing is queued for it: a heartbeat or an end is due some day. */
export function isTimed(spec: SubscriptionSpec): boolean {
  return spec.heartbeatSeconds !== undefined || spec.end !== undefined;
}

/** Whether `endpoint` falls under one of the allowed prefixes, compared on the parsed URLs. */
export function endpointAllowed(endpoint: string, allowed: readonly string[]): boolean {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return false;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password) return false;
  return allowed.some((text) => {
    const prefix = new URL(text);
    if (url.protocol !== prefix.protocol || url.hostname !== prefix.hostname || url.port !== prefix.port) return false;
    const path = prefix.pathname.endsWith('/') ? prefix.pathname : `${prefix.pathname}/`;
    return url.pathname === prefix.pathname || url.pathname.startsWith(path);
  });
}

function invalid(diagnostics: string, expression: string): OperationOutcomeError {
  return unprocessable(diagnostics, [`Subscription.${expression}`]);
}

/** The filterBy of a Subscription as search parameters of its topic's type, each checked against the topic's canFilterBy. */
export function filterQuery(topic: TopicDeclaration, resource: Resource): Array<[string, string]> {
  const filterBy = (resource.filterBy ?? []) as Array<Record<string, unknown>>;
  const query: Array<[string, string]> = [];
  filterBy.forEach((filter, i) => {
    const at = `filterBy[${i}]`;
    const type = typeof filter.resourceType === 'string' ? filter.resourceType.replace(/^http:\/\/hl7\.org\/fhir\/StructureDefinition\//, '') : topic.type;
    if (type !== topic.type) throw invalid(`The topic ${topic.url} is about ${topic.type}, not ${type}`, `${at}.resourceType`);
    const declared = topic.filters.find((f) => f.param === filter.filterParameter);
    if (!declared) {
      throw invalid(`The topic ${topic.url} cannot filter by '${String(filter.filterParameter)}' (it can by ${topic.filters.map((f) => f.param).join(', ')})`, `${at}.filterParameter`);
    }
    if (filter.comparator !== undefined && filter.comparator !== 'eq') throw invalid(`Only the comparator eq is supported (not ${String(filter.comparator)})`, `${at}.comparator`);
    const modifier = filter.modifier;
    if (modifier !== undefined && !(declared.modifiers ?? []).includes(String(modifier))) {
      throw invalid(`The filter '${declared.param}' takes no modifier ${String(modifier)}`, `${at}.modifier`);
    }
    query.push([modifier === undefined ? declared.param : `${declared.param}:${String(modifier)}`, String(filter.value)]);
  });
  try {
    // The same parser as a search of the type: what it refuses, a filter may not hold.
    parseSearchQuery(searchDefinitionOf(topic.type), query);
  } catch (error) {
    if (error instanceof OperationOutcomeError) throw invalid(`A filter is not a valid search of ${topic.type}: ${error.outcome.issue[0]?.diagnostics ?? ''}`, 'filterBy');
    throw error;
  }
  return query;
}

function seconds(resource: Resource, key: string, fallback: number | undefined, max: number): number | undefined {
  const value = resource[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) throw invalid(`${key} must be a whole number between 1 and ${max}`, key);
  return value;
}

function headersOf(resource: Resource): Array<[string, string]> {
  const parameters = (resource.parameter ?? []) as Array<{ name?: unknown; value?: unknown }>;
  if (parameters.length > MAX_HEADERS) throw invalid(`At most ${MAX_HEADERS} headers`, 'parameter');
  return parameters.map((parameter, i) => {
    const name = String(parameter.name);
    const value = String(parameter.value);
    if (!HEADER_NAME.test(name) || RESERVED_HEADERS.has(name.toLowerCase())) throw invalid(`'${name}' cannot be sent as an HTTP header`, `parameter[${i}].name`);
    // What Node's HTTP client would refuse at every delivery is refused now.
    try {
      validateHeaderName(name);
      validateHeaderValue(name, value);
    } catch {
      throw invalid('A header value holds only visible characters, spaces and tabs (no line break, no control character, Latin-1)', `parameter[${i}].value`);
    }
    if (value.length > MAX_HEADER_BYTES) throw invalid(`A header value is at most ${MAX_HEADER_BYTES} characters`, `parameter[${i}].value`);
    return [name, value];
  });
}

export interface SpecOptions {
  allowedEndpoints: readonly string[];
  baseUrl: string;
  fhirVersion?: string;
  access?: Access;
}

/** Checks a valid R5 Subscription against what the server delivers; its spec, or a 422 naming the element. */
export function subscriptionSpec(resource: Resource, options: SpecOptions): SubscriptionSpec {
  const topic = topicOf(resource.topic as string | undefined);
  if (!topic) throw invalid(`Unknown topic ${String(resource.topic)}: GET SubscriptionTopic lists those served`, 'topic');
  const channel = resource.channelType as { system?: string; code?: string } | undefined;
  if (channel?.code !== 'rest-hook' || (channel.system !== undefined && channel.system !== CHANNEL_TYPE_SYSTEM)) {
    throw invalid(`Only the channel type rest-hook (${CHANNEL_TYPE_SYSTEM}) is supported`, 'channelType');
  }
  const endpoint = resource.endpoint;
  if (typeof endpoint !== 'string') throw invalid('A rest-hook Subscription needs an endpoint', 'endpoint');
  if (!endpointAllowed(endpoint, options.allowedEndpoints)) {
    throw new OperationOutcomeError(422, outcome('business-rule',
      `The endpoint ${endpoint} is not allowed: notifications go only to the URL prefixes of "Fhir.Subscriptions.AllowedEndpoints"`, { expression: ['Subscription.endpoint'] }));
  }
  const content = (resource.content ?? 'id-only') as Content;
  if (!CONTENTS.includes(content)) throw invalid(`content must be one of ${CONTENTS.join(', ')}`, 'content');
  const contentType = (resource.contentType as string | undefined) ?? 'application/fhir+json';
  if (!/^application\/(fhir\+)?json$/.test(contentType)) throw invalid('Notifications are sent as application/fhir+json only', 'contentType');
  // A leap second (…:60) is a valid instant that Date.parse refuses: the moment just before the next second.
  const end = resource.end === undefined ? undefined : Date.parse(String(resource.end).replace(/:60(\.\d+)?(?=Z|[+-])/, ':59.999'));
  const heartbeatSeconds = seconds(resource, 'heartbeatPeriod', undefined, 86400);
  return {
    topic: topic.url,
    filters: filterQuery(topic, resource),
    endpoint,
    headers: headersOf(resource),
    content,
    contentType,
    ...(heartbeatSeconds !== undefined ? { heartbeatSeconds } : {}),
    timeoutSeconds: seconds(resource, 'timeout', DEFAULT_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS)!,
    maxCount: seconds(resource, 'maxCount', DEFAULT_MAX_COUNT, MAX_MAX_COUNT)!,
    ...(end !== undefined && !Number.isNaN(end) ? { end } : {}),
    baseUrl: options.baseUrl,
    fhirVersion: options.fhirVersion === '4.0' ? '4.0' : '5.0',
    ...(options.access ? { access: storedAccess(options.access) } : {}),
  };
}

/**
 * The status a write leaves: the server owns active and error. A client asks
 * (requested; active is read as a request too) or stops (off); an update
 * that keeps what the server set keeps it.
 */
export function requestedStatus(asked: unknown, previous: string | undefined): 'requested' | 'active' | 'error' | 'off' {
  if (asked === 'off') return 'off';
  if (asked === 'requested') return 'requested';
  if ((asked === 'active' || asked === 'error') && (previous === 'active' || previous === 'error')) return previous;
  if (asked === 'active') return 'requested';
  throw invalid(`A client sets status requested or off (the server sets active and error), not ${String(asked)}`, 'status');
}
