// Parses a type-level search query (R5 search.html) into a SearchRequest.
// Errors are OperationOutcomeErrors with status 400 naming the parameter:
// a bad value is always an error; an unknown or unsupported parameter is an
// error too unless the client asked for lenient handling
// (Prefer: handling=lenient), in which case it is ignored with a warning.
// Modifiers the server does not support are always rejected, as the spec
// requires. Paging uses _offset (the index of the page's first match), which
// the Bundle links carry: the engine is stateless and I/O-free.
import { badRequest, notSupported } from '../fhir/outcome';
import type { OperationOutcomeIssue } from '../fhir/types';
import { SearchCatalog } from './catalog';
import { parseDateRange } from './dates';
import type { SearchDefinition } from './definitions';
import { localReference, parseReference } from './reference';
import type {
  IncludeRule, NumberValue, OfTypeValue, Prefix, ReferenceValue, ResolvedSearchParam, SearchFilter, SearchRequest,
  SortRule, SummaryMode, TokenValue, TotalMode,
} from './types';

export interface ParseOptions {
  /** Ignore unknown/unsupported parameters with a warning instead of failing. */
  readonly lenient?: boolean;
  /** Public base URL: absolute reference values on it are read as relative ones. */
  readonly baseUrl?: string;
  /** 'Now' for the ap prefix; defaults to the current time. */
  readonly now?: number | Date;
  /** The other indexed types' definitions, for chains, _has, _include:iterate and _revinclude. */
  readonly catalog?: SearchCatalog;
  /**
   * The code a type's parameter has here when the client's FHIR version names
   * it otherwise (R4's ServiceRequest 'code' is R5's 'code-concept'): a chain
   * over references to several types (Task.basedOn) is then read per type.
   */
  readonly alias?: (resourceType: string, code: string) => string;
}

// Handled by the HTTP layer (content negotiation, pretty printing).
const TRANSPORT_PARAMS = new Set(['_format', '_pretty']);
const SINGLE_RESULT_PARAMS = new Set(['_count', '_offset', '_sort', '_summary', '_total', '_elements']);
const PREFIXES: readonly Prefix[] = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'];
// Modifiers defined by the spec that this server does not implement (others are unknown).
const KNOWN_MODIFIERS = new Set(['above', 'below', 'code-text', 'contains', 'exact', 'identifier', 'in', 'iterate',
  'missing', 'not', 'not-in', 'of-type', 'text', 'text-advanced', 'type']);
const ID = /^[A-Za-z0-9\-.]{1,64}$/;
/** Chains and _has nest at most this deep ('a.b.c.d'): each level is one more join. */
const MAX_CHAIN_DEPTH = 4;
const SUMMARY_MODES: readonly string[] = ['true', 'text', 'data', 'count', 'false'];

/** True when the Prefer header asks for lenient handling of unknown parameters. */
export function preferLenient(headers: Readonly<Record<string, string>>): boolean {
  const prefer = headers['prefer'];
  return prefer !== undefined && prefer.split(/[,;]/).some((p) => p.replace(/\s+/g, '').toLowerCase() === 'handling=lenient');
}

/** What a search is asked with: its parameters, whether to be lenient (Prefer: handling=lenient), the public base. */
export interface SearchInput {
  readonly query: ReadonlyArray<readonly [string, string]>;
  readonly lenient: boolean;
  readonly baseUrl: string;
}

/** Parses a request's search parameters. */
export function parseSearchRequest(
  definition: SearchDefinition, input: SearchInput,
  options: Pick<ParseOptions, 'now' | 'catalog' | 'alias'> = {},
): SearchRequest {
  return parseSearchQuery(definition, input.query, { ...options, lenient: input.lenient, baseUrl: input.baseUrl });
}

/** Splits at separators not preceded by a backslash; the pieces keep their escapes. */
export function splitUnescaped(value: string, separator: string): string[] {
  const pieces: string[] = [];
  let current = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\' && i + 1 < value.length) {
      current += c + value[++i];
    } else if (c === separator) {
      pieces.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  pieces.push(current);
  return pieces;
}

/** Removes the search escapes \\, \, \| and \$. */
export function unescapeValue(value: string): string {
  return value.replace(/\\([\\,|$])/g, '$1');
}

export function parseSearchQuery(
  definition: SearchDefinition,
  query: ReadonlyArray<readonly [string, string]>,
  options: ParseOptions = {},
): SearchRequest {
  const warnings: OperationOutcomeIssue[] = [];
  const unsupported = (diagnostics: string, name: string): void => {
    if (!options.lenient) throw notSupported(diagnostics, [name]);
    warnings.push({ severity: 'warning', code: 'not-supported', diagnostics: `${diagnostics}: ignored`, expression: [name] });
  };
  const seen = new Set<string>();
  const filters: SearchFilter[] = [];
  const include: IncludeRule[] = [];
  const revInclude: IncludeRule[] = [];
  let count = definition.defaultCount;
  let offset = 0;
  let sort: SortRule[] = [];
  let summary: SummaryMode | undefined;
  let total: TotalMode | undefined;
  let elements: string[] | undefined;

  for (const [name, value] of query) {
    const colon = name.indexOf(':');
    const code = colon < 0 ? name : name.slice(0, colon);
    const modifier = colon < 0 ? undefined : name.slice(colon + 1);
    if (TRANSPORT_PARAMS.has(name)) continue;
    // A parameter without a value is ignored (search.html), as a browser's
    // search form sends every field, filled or not.
    if (value === '') continue;
    if (SINGLE_RESULT_PARAMS.has(name)) {
      if (seen.has(name)) throw badRequest(`Parameter '${name}' may appear only once`, [name]);
      seen.add(name);
    }
    switch (name) {
      case '_count':
        count = Math.min(nonNegativeInteger(name, value), definition.maxCount);
        continue;
      case '_offset':
        offset = nonNegativeInteger(name, value);
        continue;
      case '_sort':
        sort = parseSort(definition, value, unsupported);
        continue;
      case '_include':
      case '_revinclude':
      case '_include:iterate':
      case '_revinclude:iterate': {
        const kind = code as '_include' | '_revinclude';
        const rule = parseInclude(definition, options.catalog, kind, value, modifier === 'iterate');
        if (rule) (kind === '_include' ? include : revInclude).push(rule);
        else unsupported(`${name}=${value} is not supported for ${definition.resourceType}`, name);
        continue;
      }
      case '_summary':
        if (!SUMMARY_MODES.includes(value)) throw badRequest(`_summary must be one of true, text, data, count, false (got '${value}')`, [name]);
        summary = value as SummaryMode;
        continue;
      case '_total':
        if (value !== 'none' && value !== 'estimate' && value !== 'accurate') {
          throw badRequest(`_total must be none, estimate or accurate (got '${value}')`, [name]);
        }
        total = value;
        continue;
      case '_elements':
        elements = value.split(',').map((e) => e.trim()).filter((e) => e !== '');
        for (const element of elements) {
          if (!/^(?:[A-Z][A-Za-z]*\.)?[A-Za-z][A-Za-z0-9]*$/.test(element)) throw badRequest(`_elements: '${element}' is not an element name`, [name]);
        }
        continue;
    }
    if (modifier !== undefined && (SINGLE_RESULT_PARAMS.has(code) || code === '_include' || code === '_revinclude')) {
      unsupported(`'${name}' is not supported`, name);
      continue;
    }
    const filter = parseNamedFilter(definition, name, value, { ...options, unsupported, depth: 0 });
    if (filter) filters.push(filter);
  }

  const now = options.now === undefined ? Date.now() : typeof options.now === 'number' ? options.now : options.now.getTime();
  return {
    resourceType: definition.resourceType,
    filters, sort, include, revInclude, count, offset, summary, total, elements, warnings, now,
    baseUrl: options.baseUrl,
  };
}

function nonNegativeInteger(name: string, value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw badRequest(`${name} must be a non-negative integer (got '${value}')`, [name]);
  return Number(value);
}

function parseSort(definition: SearchDefinition, value: string, unsupported: (d: string, n: string) => void): SortRule[] {
  const rules: SortRule[] = [];
  for (const item of value.split(',')) {
    const descending = item.startsWith('-');
    const code = descending ? item.slice(1) : item;
    if (code === '') throw badRequest(`_sort has an empty item ('${value}')`, ['_sort']);
    const param = definition.params.get(code);
    if (param) rules.push({ param, descending });
    else unsupported(`Cannot sort on '${code}': not a search parameter of ${definition.resourceType}`, '_sort');
  }
  return rules;
}

/**
 * An _include or _revinclude of a reference parameter the types declare
 * ('Source:param[:Target]'), or undefined for one not supported ('*', an
 * undeclared parameter). Without :iterate, an _include starts from this
 * type and a _revinclude must be able to point to it.
 */
function parseInclude(
  definition: SearchDefinition, catalog: SearchCatalog | undefined, name: '_include' | '_revinclude', value: string, iterate: boolean,
): IncludeRule | undefined {
  if (value === '*' || value.endsWith(':*')) return undefined; // every reference: not supported
  const [source, code, target, extra] = value.split(':');
  if (!source || !code || extra !== undefined) throw badRequest(`${name}: '${value}' is not Type:parameter[:targetType]`, [name]);
  const param = source === definition.resourceType ? definition.params.get(code) : catalog?.reference(source, code);
  if (param?.type !== 'reference') return undefined;
  if (!iterate && name === '_include' && source !== definition.resourceType) return undefined;
  if (!iterate && name === '_revinclude' && !SearchCatalog.canTarget(param, definition.resourceType)) return undefined;
  if (target !== undefined && !SearchCatalog.canTarget(param, target)) {
    throw badRequest(`${name}: ${target} is not a target type of '${source}.${code}'`, [name]);
  }
  return { source, param, target, raw: value, iterate };
}

interface NamedFilterOptions {
  readonly baseUrl?: string;
  readonly catalog?: SearchCatalog;
  readonly alias?: (resourceType: string, code: string) => string;
  readonly unsupported: (diagnostics: string, name: string) => void;
  readonly depth: number;
}

/**
 * One filter parameter of `definition`'s type, by its full name: a plain
 * parameter with its modifier ('name:exact'), a chain ('subject:Patient.name')
 * or a _has ('_has:Task:based-on:status'), whose inner names are parsed the
 * same way against the other type. Undefined when lenient handling ignored it.
 */
function parseNamedFilter(definition: SearchDefinition, name: string, value: string, options: NamedFilterOptions): SearchFilter | undefined {
  const type = definition.resourceType;
  if (name.startsWith('_has:')) return parseHas(definition, name, value, options);
  const dot = name.indexOf('.');
  const head = dot < 0 ? name : name.slice(0, dot);
  const colon = head.indexOf(':');
  const code = colon < 0 ? head : head.slice(0, colon);
  const modifier = colon < 0 ? undefined : head.slice(colon + 1);
  const param = definition.params.get(code);
  if (param === undefined) {
    options.unsupported(`Unknown or unsupported search parameter '${code}' for ${type}`, name);
    return undefined;
  }
  if (dot < 0) return parseFilter(param, name, modifier, value, options.baseUrl);
  return parseChain(param, name, modifier, name.slice(dot + 1), value, options);
}

function nested(name: string, options: NamedFilterOptions): NamedFilterOptions {
  if (options.depth + 1 >= MAX_CHAIN_DEPTH) throw badRequest(`'${name}' chains more than ${MAX_CHAIN_DEPTH} levels`, [name]);
  return { ...options, depth: options.depth + 1 };
}

/** 'param[:Type].rest': the inner filter is parsed for every indexed target type that has the next parameter. */
function parseChain(
  param: ResolvedSearchParam, name: string, modifier: string | undefined, rest: string, value: string,
  options: NamedFilterOptions,
): SearchFilter | undefined {
  if (param.type !== 'reference') throw badRequest(`'${param.code}' is not a reference parameter: it cannot be chained ('${name}')`, [name]);
  if (modifier !== undefined && !/^[A-Z][A-Za-z]+$/.test(modifier)) {
    throw badRequest(`'${name}': only a type modifier (:Patient) may come before a chain`, [name]);
  }
  if (modifier !== undefined && !SearchCatalog.canTarget(param, modifier)) throw badRequest(`${modifier} is not a target type of '${param.code}'`, [name]);
  const catalog = options.catalog;
  const nextCode = rest.split(/[.:]/)[0]!;
  const candidates = modifier !== undefined ? [modifier] : (catalog?.types() ?? []).filter((t) => SearchCatalog.canTarget(param, t));
  const inner = nested(name, options);
  const targets = candidates.flatMap((targetType) => {
    const target = catalog?.get(targetType);
    const code = target?.params.has(nextCode) ? nextCode : options.alias?.(targetType, nextCode);
    if (!target || code === undefined || !target.params.has(code)) return [];
    const filter = parseNamedFilter(target, code + rest.slice(nextCode.length), value, inner);
    return filter ? [{ type: targetType, filter }] : [];
  });
  if (targets.length === 0) {
    options.unsupported(`Chained search '${name}': no type '${param.code}' can refer to here has a search parameter '${nextCode}'`, name);
    return undefined;
  }
  return { kind: 'chain', param, name, rawValue: value, targets };
}

/** '_has:Source:param:rest': `rest` is a parameter of Source (or another _has), `param` Source's reference to this type. */
function parseHas(definition: SearchDefinition, name: string, value: string, options: NamedFilterOptions): SearchFilter | undefined {
  const [, source, code, ...restParts] = name.split(':');
  const rest = restParts.join(':');
  if (!source || !code || rest === '') throw badRequest(`'${name}' is not _has:Type:reference:parameter`, [name]);
  const sourceDefinition = options.catalog?.get(source);
  const param = options.catalog?.reference(source, code);
  if (sourceDefinition === undefined || param === undefined) {
    options.unsupported(`_has: ${source} has no reference search parameter '${code}' here`, name);
    return undefined;
  }
  if (!SearchCatalog.canTarget(param, definition.resourceType)) {
    throw badRequest(`_has: '${source}.${code}' cannot refer to ${definition.resourceType}`, [name]);
  }
  const inner = parseNamedFilter(sourceDefinition, rest, value, nested(name, options));
  return inner ? { kind: 'has', param, name, rawValue: value, source, inner } : undefined;
}

function parseFilter(param: ResolvedSearchParam, name: string, modifier: string | undefined, rawValue: string, baseUrl?: string): SearchFilter {
  const base = { param, name, rawValue };
  const values = splitUnescaped(rawValue, ',').filter((v) => v !== '');
  const invalid = (message: string) => badRequest(`Parameter '${name}': ${message}`, [name]);
  if (modifier === 'missing') {
    if (rawValue !== 'true' && rawValue !== 'false') throw invalid(`:missing takes true or false (got '${rawValue}')`);
    return { ...base, kind: 'missing', missing: rawValue === 'true' };
  }
  const rejectModifier = () => {
    if (modifier !== undefined && !KNOWN_MODIFIERS.has(modifier)) throw invalid(`unknown modifier ':${modifier}'`);
    return notSupported(`Modifier ':${modifier}' is not supported on ${param.type} parameter '${param.code}'`, [name]);
  };
  switch (param.type) {
    case 'string':
      if (modifier !== undefined && modifier !== 'exact' && modifier !== 'contains') throw rejectModifier();
      return { ...base, kind: 'string', modifier, values: values.map(unescapeValue) };
    case 'token':
      if (modifier === 'text') return { ...base, kind: 'token-text', values: values.map(unescapeValue) };
      if (modifier === 'of-type') return { ...base, kind: 'token-of-type', values: values.map((v) => parseOfType(v, invalid)) };
      if (modifier !== undefined && modifier !== 'not') throw rejectModifier();
      return { ...base, kind: 'token', not: modifier === 'not', values: values.map((v) => parseToken(v, invalid)) };
    case 'date':
      if (modifier !== undefined) throw rejectModifier();
      return {
        ...base,
        kind: 'date',
        values: values.map((v) => {
          const [prefix, text] = splitPrefix(v, invalid);
          const range = parseDateRange(text);
          if (!range) throw invalid(`'${text}' is not a valid date, dateTime or instant`);
          return { prefix, range };
        }),
      };
    case 'number':
      if (modifier !== undefined) throw rejectModifier();
      return { ...base, kind: 'number', values: values.map((v) => parseNumber(v, invalid)) };
    case 'uri':
      if (modifier !== undefined) throw rejectModifier();
      return { ...base, kind: 'uri', values: values.map(unescapeValue) };
    case 'reference': {
      if (modifier === 'identifier') {
        return { ...base, kind: 'reference-identifier', values: values.map((v) => parseToken(v, invalid)) };
      }
      const typeModifier = modifier !== undefined && /^[A-Z][A-Za-z]+$/.test(modifier) ? modifier : undefined;
      if (modifier !== undefined && typeModifier === undefined) throw rejectModifier();
      if (typeModifier && param.target.length > 0 && !param.target.includes(typeModifier)) {
        throw invalid(`${typeModifier} is not a target type of '${param.code}'`);
      }
      return { ...base, kind: 'reference', values: values.map((v) => parseReferenceValue(unescapeValue(v), param, typeModifier, baseUrl, invalid)) };
    }
  }
}

function parseToken(piece: string, invalid: (m: string) => Error): TokenValue {
  const parts = splitUnescaped(piece, '|').map(unescapeValue);
  if (parts.length === 1) return { code: parts[0] };
  if (parts.length > 2) throw invalid(`'${piece}' has more than one unescaped '|'`);
  const [system, code] = parts as [string, string];
  if (system === '' && code === '') throw invalid(`'|' alone is not a token`);
  return code === '' ? { system } : { system, code };
}

function parseOfType(piece: string, invalid: (m: string) => Error): OfTypeValue {
  const parts = splitUnescaped(piece, '|').map(unescapeValue);
  if (parts.length !== 3 || parts.some((p) => p === '')) throw invalid(`:of-type takes system|code|value (got '${piece}')`);
  const [system, code, value] = parts as [string, string, string];
  return { system, code, value };
}

function splitPrefix(piece: string, invalid: (m: string) => Error): [Prefix, string] {
  const head = piece.slice(0, 2);
  if (/^[a-z]{2}$/.test(head)) {
    if (!(PREFIXES as readonly string[]).includes(head)) throw invalid(`unknown prefix '${head}'`);
    return [head as Prefix, piece.slice(2)];
  }
  return ['eq', piece];
}

function parseNumber(piece: string, invalid: (m: string) => Error): NumberValue {
  const [prefix, text] = splitPrefix(piece, invalid);
  const match = /^([+-]?\d+(?:\.(\d+))?)(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!match) throw invalid(`'${text}' is not a number`);
  const value = Number(text);
  // Implicit precision: half a unit of the last significant digit (100 -> ±0.5, 1e2 -> ±50).
  const half = 0.5 * 10 ** (Number(match[3] ?? 0) - (match[2]?.length ?? 0));
  return { prefix, value, low: value - half, high: value + half };
}

function parseReferenceValue(
  value: string,
  param: ResolvedSearchParam,
  typeModifier: string | undefined,
  baseUrl: string | undefined,
  invalid: (m: string) => Error,
): ReferenceValue {
  if (typeModifier !== undefined && ID.test(value)) return { type: typeModifier, id: value };
  const parsed = parseReference(value);
  if (parsed.type !== undefined) {
    const local = parseReference(localReference(value, baseUrl));
    if (local.base !== undefined) return { url: local.url }; // another server's resource: compared as a URL
    if (typeModifier !== undefined && typeModifier !== local.type) throw invalid(`'${value}' is not a ${typeModifier}`);
    if (param.target.length > 0 && !param.target.includes(local.type!)) {
      throw invalid(`${local.type} is not a target type of '${param.code}'`);
    }
    return { type: local.type, id: local.id };
  }
  if (typeModifier !== undefined) throw invalid(`'${value}' is not a ${typeModifier} id`);
  return ID.test(value) ? { id: value } : { url: value };
}
