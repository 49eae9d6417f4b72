// Matching a resource against a parsed SearchRequest (R5 search.html): each
// filter evaluates its parameter's FHIRPath on the resource and compares the
// values found with the filter's values according to the parameter type.
// Also the _sort comparator, which reads the same values.
import type { Resource } from '../fhir/types';
import { parseDateRange } from './dates';
import type { FhirPathItem } from './fhirpath';
import { localReference, parseReference } from './reference';
import type {
  DateRange, DateValue, EngineParamType, NumberValue, ReferenceValue, ResolvedSearchParam, SearchFilter, SearchRequest, TokenValue,
} from './types';

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** Case- and accent-insensitive form: 'Müller' and 'MULLER' both give 'muller'. */
export function normalizeText(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** The values a parameter's expression finds in a resource. */
export type ItemsOf = (param: ResolvedSearchParam, resource: Resource) => FhirPathItem[];

const evaluateParam: ItemsOf = (param, resource) => param.expression.evaluate(resource);

/**
 * Evaluates each parameter's expression once: one resource matched against
 * many searches (the filters of many Subscriptions) reads its values once.
 */
export function memoizedItems(): ItemsOf {
  const found = new Map<unknown, { resource: Resource; items: FhirPathItem[] }>();
  return (param, resource) => {
    const known = found.get(param.expression);
    if (known && known.resource === resource) return known.items;
    const items = param.expression.evaluate(resource);
    found.set(param.expression, { resource, items });
    return items;
  };
}

export function matchesSearch(resource: Resource, search: SearchRequest, itemsOf: ItemsOf = evaluateParam): boolean {
  return resource.resourceType === search.resourceType && search.filters.every((filter) => matchesFilter(resource, filter, search, itemsOf));
}

export function matchesFilter(resource: Resource, filter: SearchFilter, search: Pick<SearchRequest, 'now' | 'baseUrl'>, itemsOf: ItemsOf = evaluateParam): boolean {
  const items = itemsOf(filter.param, resource);
  switch (filter.kind) {
    case 'missing':
      return (items.length === 0) === filter.missing;
    case 'string':
      return items.some((item) => stringParts(item.value).some((part) => filter.values.some((v) => matchString(part, v, filter.modifier))));
    case 'token': {
      const found = items.some((item) => tokenCandidates(item.value, filter.param).some((c) => filter.values.some((v) => tokenMatches(c, v))));
      // :not also matches resources that have no value at all (search.html).
      return filter.not ? !found : found;
    }
    case 'token-text':
      return items.some((item) => tokenTexts(item.value).some((text) => filter.values.some((v) => normalizeText(text).startsWith(normalizeText(v)))));
    case 'token-of-type':
      return items.some((item) => {
        const id = item.value;
        if (!isObject(id) || !isObject(id.type)) return false;
        const codings = Array.isArray(id.type.coding) ? id.type.coding.filter(isObject) : [];
        return filter.values.some((v) => id.value === v.value && codings.some((c) => c.system === v.system && c.code === v.code));
      });
    case 'date':
      return items.some((item) => {
        const range = targetRange(item);
        return range !== undefined && filter.values.some((v) => dateMatches(v, range, search.now));
      });
    case 'number':
      return items.some((item) => {
        const n = numberOf(item.value);
        return n !== undefined && filter.values.some((v) => numberMatches(v, n));
      });
    case 'reference':
      return items.some((item) => referenceCandidates(item.value, search.baseUrl).some((c) => filter.values.some((v) => referenceMatches(c, v))));
    case 'reference-identifier':
      return items.some((item) => {
        const identifier = isObject(item.value) ? item.value.identifier : undefined;
        return tokenCandidates(identifier).some((c) => !c.implicit && filter.values.some((v) => tokenMatches(c, v)));
      });
    case 'uri':
      return items.some((item) => typeof item.value === 'string' && filter.values.includes(item.value));
    case 'chain':
    case 'has':
      // They concern other resources, which only the index joins: a re-check
      // of a resource read live leaves them to the index's answer.
      return true;
  }
}

// --- string ---------------------------------------------------------------

// HumanName and Address are searched on all their string parts (the union of both lists).
const STRING_PARTS = ['text', 'family', 'given', 'prefix', 'suffix', 'line', 'city', 'district', 'state', 'postalCode', 'country'];

export function stringParts(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (!isObject(value)) return [];
  return STRING_PARTS.flatMap((key) => strings(value[key]));
}

function matchString(part: string, value: string, modifier?: 'exact' | 'contains'): boolean {
  if (modifier === 'exact') return part === value;
  const text = normalizeText(part);
  return modifier === 'contains' ? text.includes(normalizeText(value)) : text.startsWith(normalizeText(value));
}

// --- token ----------------------------------------------------------------

/** implicit: a primitive element (code, id, string, uri, boolean...), whose system is not in the data. */
export interface TokenCandidate {
  readonly system?: string;
  readonly code?: string;
  readonly implicit: boolean;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Where a primitive value's system comes from: the parameter's element binding (none for id, string, uri, boolean). */
export type ImplicitSystems = Pick<ResolvedSearchParam, 'implicitSystem' | 'implicitSystemByCode'>;

function implicitSystemOf(code: string, systems?: ImplicitSystems): string | undefined {
  if (systems?.implicitSystem !== undefined) return systems.implicitSystem;
  const byCode = systems?.implicitSystemByCode;
  return byCode !== undefined && Object.prototype.hasOwnProperty.call(byCode, code) ? byCode[code] : undefined;
}

/**
 * Coding: system|code; CodeableConcept: each coding; Identifier and
 * ContactPoint: system|value; a primitive: its value, with the system its
 * parameter gives it (a bound code's code system, R5 search.html token table).
 */
export function tokenCandidates(value: unknown, systems?: ImplicitSystems): TokenCandidate[] {
  if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number') {
    const code = String(value);
    const system = implicitSystemOf(code, systems);
    return [system === undefined ? { code, implicit: true } : { system, code, implicit: true }];
  }
  if (!isObject(value)) return [];
  if (Array.isArray(value.coding)) return value.coding.flatMap((coding) => tokenCandidates(coding));
  if ('code' in value) return [{ system: optionalString(value.system), code: optionalString(value.code), implicit: false }];
  if ('value' in value) return [{ system: optionalString(value.system), code: optionalString(value.value), implicit: false }];
  return [];
}

/** code: any system; |code: no system; system|: any code of that system; system|code: both. */
function tokenMatches(candidate: TokenCandidate, value: TokenValue): boolean {
  if (value.code !== undefined && candidate.code !== value.code) return false;
  if (value.system === undefined) return true;
  if (value.system === '') return candidate.system === undefined;
  return candidate.system === value.system;
}

/** The text a :text search looks at: CodeableConcept.text, Coding.display, Identifier.type text. */
export function tokenTexts(value: unknown): string[] {
  if (!isObject(value)) return [];
  const codings = Array.isArray(value.coding) ? value.coding.filter(isObject) : [];
  const own = [...strings(value.text), ...strings(value.display), ...codings.flatMap((c) => strings(c.display))];
  return isObject(value.type) ? [...own, ...tokenTexts(value.type)] : own;
}

// --- date -----------------------------------------------------------------

/** The range a date, dateTime, instant, Period or Timing value covers. */
export function targetRange(item: FhirPathItem): DateRange | undefined {
  const value = item.value;
  if (typeof value === 'string') return parseDateRange(value);
  if (!isObject(value)) return undefined;
  if ('start' in value || 'end' in value) {
    const start = typeof value.start === 'string' ? parseDateRange(value.start) : undefined;
    const end = typeof value.end === 'string' ? parseDateRange(value.end) : undefined;
    if (start === undefined && end === undefined) return undefined;
    // A missing end means ongoing, a missing start an unknown beginning: both open.
    return { low: start?.low ?? -Infinity, high: end?.high ?? Infinity };
  }
  // Timing: the hull of its events and its bounds.
  const repeat = isObject(value.repeat) ? value.repeat : {};
  const ranges = [
    ...strings(value.event).map(parseDateRange),
    isObject(repeat.boundsPeriod) ? targetRange({ value: repeat.boundsPeriod }) : undefined,
  ].filter((r): r is DateRange => r !== undefined);
  if (ranges.length === 0) return undefined;
  return { low: Math.min(...ranges.map((r) => r.low)), high: Math.max(...ranges.map((r) => r.high)) };
}

/**
 * The prefix rules of search.html, between the search range s and the
 * target range t. ap widens s by 10% of the gap between now and s (0 when s
 * contains now) and then asks for an overlap.
 */
export function dateMatches(value: DateValue, t: DateRange, now: number): boolean {
  const s = value.range;
  const contained = t.low >= s.low && t.high <= s.high;
  switch (value.prefix) {
    case 'eq':
      return contained;
    case 'ne':
      return !contained;
    case 'gt':
      return t.high > s.high;
    case 'lt':
      return t.low < s.low;
    case 'ge':
      return t.high > s.high || contained;
    case 'le':
      return t.low < s.low || contained;
    case 'sa':
      return t.low >= s.high;
    case 'eb':
      return t.high <= s.low;
    case 'ap': {
      const gap = now < s.low ? s.low - now : now >= s.high ? now - s.high : 0;
      const margin = 0.1 * gap;
      return t.low < s.high + margin && t.high > s.low - margin;
    }
  }
}

// --- number ---------------------------------------------------------------

export function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  return isObject(value) && typeof value.value === 'number' ? value.value : undefined;
}

/** eq/ne use the value's implicit precision range; ap is within 10% of the value. */
function numberMatches(value: NumberValue, n: number): boolean {
  switch (value.prefix) {
    case 'eq':
      return n >= value.low && n < value.high;
    case 'ne':
      return n < value.low || n >= value.high;
    case 'gt':
    case 'sa':
      return n > value.value;
    case 'lt':
    case 'eb':
      return n < value.value;
    case 'ge':
      return n >= value.value;
    case 'le':
      return n <= value.value;
    case 'ap':
      return Math.abs(n - value.value) <= Math.abs(0.1 * value.value);
  }
}

// --- reference ------------------------------------------------------------

/** A Reference (relative, absolute or logical) or a canonical/uri string, as local 'Type/id' when it is one. */
export function referenceCandidates(value: unknown, baseUrl?: string): ReferenceValue[] {
  const reference = isObject(value) ? value.reference : value;
  if (typeof reference !== 'string') return [];
  const local = parseReference(localReference(reference, baseUrl));
  if (local.type !== undefined && local.base === undefined) return [{ type: local.type, id: local.id, url: local.url }];
  return [{ url: reference }];
}

/** Canonicals compare on the URL; a version in the search value must match too ('url|1.0'). */
function sameUrl(candidate: string, searched: string): boolean {
  const [url, version] = candidate.split('|');
  const [wantedUrl, wantedVersion] = searched.split('|');
  return url === wantedUrl && (wantedVersion === undefined || version === wantedVersion);
}

function referenceMatches(candidate: ReferenceValue, value: ReferenceValue): boolean {
  if (value.url !== undefined) return candidate.url !== undefined && sameUrl(candidate.url, value.url);
  if (value.type !== undefined && candidate.type !== value.type) return false;
  return candidate.id !== undefined && candidate.id === value.id;
}

/** 'Type/id' of the local resources a resource refers to through a reference parameter's values. */
export function localReferences(items: readonly FhirPathItem[], baseUrl?: string): Array<{ type: string; id: string }> {
  return items
    .flatMap((item) => referenceCandidates(item.value, baseUrl))
    .filter((c) => c.type !== undefined && c.id !== undefined)
    .map((c) => ({ type: c.type!, id: c.id! }));
}

// --- _sort ----------------------------------------------------------------

type SortKey = string | number;

function sortKeys(item: FhirPathItem, type: EngineParamType, descending: boolean, baseUrl?: string): SortKey[] {
  const value = item.value;
  switch (type) {
    case 'date': {
      const range = targetRange(item);
      return range ? [descending ? range.high : range.low] : [];
    }
    case 'number': {
      const n = numberOf(value);
      return n === undefined ? [] : [n];
    }
    case 'string': {
      // HumanName sorts on family then given, Address on its parts in order.
      const text = typeof value === 'string' ? value : stringParts(isObject(value) && 'family' in value ? { family: value.family, given: value.given } : value).join(' ');
      return text === '' ? [] : [normalizeText(text)];
    }
    case 'token':
      return tokenCandidates(value).flatMap((c) => (c.code === undefined ? [] : [c.code]));
    case 'reference':
      return referenceCandidates(value, baseUrl).flatMap((c) => (c.url === undefined ? [] : [c.url]));
    case 'uri':
      return typeof value === 'string' ? [value] : [];
  }
}

function compareKeys(a: SortKey, b: SortKey): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Comparator for the request's _sort rules. A multi-valued element sorts on
 * its lowest value ascending and its highest descending; resources without a
 * value come last either way; ties end on the id so that pages are stable.
 */
export function compareForSort(search: Pick<SearchRequest, 'sort' | 'baseUrl'>): (a: Resource, b: Resource) => number {
  const keyOf = (resource: Resource, index: number): SortKey | undefined => {
    const rule = search.sort[index]!;
    const keys = rule.param.expression.evaluate(resource).flatMap((item) => sortKeys(item, rule.param.type, rule.descending, search.baseUrl));
    if (keys.length === 0) return undefined;
    return keys.reduce((best, key) => (compareKeys(key, best) * (rule.descending ? -1 : 1) < 0 ? key : best));
  };
  // A sort compares each resource many times: evaluate its keys once.
  const cache = new WeakMap<Resource, Array<SortKey | undefined>>();
  const keysOf = (resource: Resource) => {
    let keys = cache.get(resource);
    if (keys === undefined) {
      keys = search.sort.map((_, i) => keyOf(resource, i));
      cache.set(resource, keys);
    }
    return keys;
  };
  return (a, b) => {
    const keysA = keysOf(a);
    const keysB = keysOf(b);
    for (let i = 0; i < search.sort.length; i++) {
      const ka = keysA[i];
      const kb = keysB[i];
      if (ka === undefined || kb === undefined) {
        if (ka !== kb) return ka === undefined ? 1 : -1;
        continue;
      }
      const order = compareKeys(ka, kb) * (search.sort[i]!.descending ? -1 : 1);
      if (order !== 0) return order;
    }
    return compareKeys(a.id ?? '', b.id ?? '');
  };
}
