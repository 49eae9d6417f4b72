// The index rows of a resource (the HAPI JPA way: HFJ_SPIDX_TOKEN, _STRING,
// _DATE, HFJ_RES_LINK): every declared search parameter's FHIRPath is
// evaluated once, at write time, and its values are stored in the shape the
// SQL search compares (search-sql.ts). The values are extracted by the very
// functions the in-memory matcher uses (match.ts), so that both agree.
// Pure: no I/O.
import type { Resource } from '../fhir/types';
import type { SearchDefinition } from './definitions';
import { normalizeText, numberOf, referenceCandidates, stringParts, targetRange, tokenCandidates, tokenTexts } from './match';
import type { FhirPathItem } from './fhirpath';
import type { ResolvedSearchParam } from './types';

/** Dates are epoch milliseconds; open ends of a Period are these bounds. */
export const DATE_MIN = -1e16;
export const DATE_MAX = 1e16;

// An absent system, code, target or URL is '' (FHIR strings are never empty),
// so that every column can be part of a primary key.
export interface TokenRow { p: string; system: string; code: string }
export interface StringRow { p: string; norm: string; exact: string }
export interface DateRow { p: string; low: number; high: number }
export interface NumberRow { p: string; value: number }
/** A local reference has its type and id; any other (external, canonical, urn:uuid) its URL. */
export interface ReferenceRow { p: string; targetType: string; targetId: string; url: string }
/** One per (resource, date parameter): what _sort orders by (lowest start ascending, highest end descending). */
export interface SortRow { p: string; asc: number; desc: number }

export interface IndexRows {
  tokens: TokenRow[];
  strings: StringRow[];
  dates: DateRow[];
  numbers: NumberRow[];
  references: ReferenceRow[];
  sorts: SortRow[];
}

/** Extra token keys a resource module derives for its own lookups ("$study-uid"), not search parameters. */
export type IndexKeys = Record<string, readonly string[]>;

/** The parameter name the rows carry: "<type>.<code>", modifiers after a colon ("Task.code:text"). */
export function paramKey(resourceType: string, code: string, variant?: string): string {
  return variant === undefined ? `${resourceType}.${code}` : `${resourceType}.${code}:${variant}`;
}

function clamp(value: number): number {
  return Math.max(DATE_MIN, Math.min(DATE_MAX, value));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function dedupe<T extends object>(rows: T[]): T[] {
  if (rows.length < 2) return rows;
  const seen = new Set<string>();
  return rows.filter((row) => {
    const key = Object.values(row).join('\u0000');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const MAIN_ROWS: Record<ResolvedSearchParam['type'], keyof Omit<IndexRows, 'sorts'>> = {
  token: 'tokens', uri: 'tokens', string: 'strings', date: 'dates', number: 'numbers', reference: 'references',
};

function addParam(rows: IndexRows, resourceType: string, param: ResolvedSearchParam, resource: Resource, baseUrl?: string): void {
  const p = paramKey(resourceType, param.code);
  const items = param.expression.evaluate(resource);
  if (items.length === 0) return;
  const main = rows[MAIN_ROWS[param.type]] as Array<{ p: string }>;
  const before = main.length;
  addValues(rows, resourceType, param, p, items, baseUrl);
  // Values that give no row (a Reference with only a display, say) still
  // make the parameter present for :missing, as the matcher counts them.
  if (!main.slice(before).some((row) => row.p === p)) {
    rows.tokens.push({ p: paramKey(resourceType, param.code, 'present'), system: '', code: '1' });
  }
}

function addValues(
  rows: IndexRows, resourceType: string, param: ResolvedSearchParam, p: string, items: readonly FhirPathItem[], baseUrl?: string,
): void {
  switch (param.type) {
    case 'string':
      for (const item of items) {
        for (const part of stringParts(item.value)) rows.strings.push({ p, norm: normalizeText(part), exact: part });
      }
      return;
    case 'token':
      for (const item of items) {
        for (const c of tokenCandidates(item.value, param)) rows.tokens.push({ p, system: c.system ?? '', code: c.code ?? '' });
        for (const text of tokenTexts(item.value)) rows.strings.push({ p: paramKey(resourceType, param.code, 'text'), norm: normalizeText(text), exact: text });
        // :of-type on an Identifier: its type's system and code, with its value.
        const value = item.value;
        if (isObject(value) && isObject(value.type) && typeof value.value === 'string') {
          const codings = Array.isArray(value.type.coding) ? value.type.coding.filter(isObject) : [];
          for (const coding of codings) {
            if (typeof coding.system === 'string' && typeof coding.code === 'string') {
              rows.tokens.push({ p: paramKey(resourceType, param.code, 'of-type'), system: coding.system, code: `${coding.code}|${value.value}` });
            }
          }
        }
      }
      return;
    case 'date': {
      let asc = Infinity;
      let desc = -Infinity;
      for (const item of items) {
        const range = targetRange(item);
        if (range === undefined) continue;
        rows.dates.push({ p, low: clamp(range.low), high: clamp(range.high) });
        asc = Math.min(asc, clamp(range.low));
        desc = Math.max(desc, clamp(range.high));
      }
      if (asc !== Infinity) rows.sorts.push({ p, asc, desc });
      return;
    }
    case 'number':
      for (const item of items) {
        const n = numberOf(item.value);
        if (n !== undefined) rows.numbers.push({ p, value: n });
      }
      return;
    case 'uri':
      for (const item of items) if (typeof item.value === 'string') rows.tokens.push({ p, system: '', code: item.value });
      return;
    case 'reference':
      for (const item of items) {
        for (const c of referenceCandidates(item.value, baseUrl)) {
          const local = c.type !== undefined && c.id !== undefined;
          rows.references.push(local ? { p, targetType: c.type!, targetId: c.id!, url: '' } : { p, targetType: '', targetId: '', url: c.url ?? '' });
        }
        const identifier = isObject(item.value) ? item.value.identifier : undefined;
        for (const c of tokenCandidates(identifier)) {
          if (!c.implicit) rows.tokens.push({ p: paramKey(resourceType, param.code, 'identifier'), system: c.system ?? '', code: c.code ?? '' });
        }
      }
      return;
  }
}

/**
 * The rows of `resource` for every parameter of its type's definition, plus
 * its module's own keys. `baseUrl`: absolute references to it are local.
 */
export function indexRows(definition: SearchDefinition, resource: Resource, keys: IndexKeys = {}, baseUrl?: string): IndexRows {
  const rows: IndexRows = { tokens: [], strings: [], dates: [], numbers: [], references: [], sorts: [] };
  // _id is the resource row's own column (search-sql.ts).
  for (const param of definition.params.values()) if (param.code !== '_id') addParam(rows, definition.resourceType, param, resource, baseUrl);
  for (const [key, values] of Object.entries(keys)) {
    for (const value of values) rows.tokens.push({ p: paramKey(definition.resourceType, key), system: '', code: value });
  }
  return {
    tokens: dedupe(rows.tokens),
    strings: dedupe(rows.strings),
    dates: dedupe(rows.dates),
    numbers: dedupe(rows.numbers),
    references: dedupe(rows.references),
    sorts: rows.sorts,
  };
}
