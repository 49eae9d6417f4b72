// Search parameter definitions: the official R5 ones generated into
// schemas/search-parameters.json (scripts/gen-search-params.js), and what a
// resource provider declares it supports. defineSearch() validates the
// declaration when the provider module loads, so a typo or an expression the
// FHIRPath subset cannot evaluate fails at startup, not at search time.
import officialData from '../../schemas/search-parameters.json';
import type { SearchParamDeclaration, SearchParamType } from '../resources/provider';
import { compileFhirPath, FhirPathError } from './fhirpath';
import type { EngineParamType, ResolvedSearchParam } from './types';

export interface SearchParamDefinition {
  readonly url?: string;
  readonly type: SearchParamType;
  readonly expression?: string;
  readonly target?: readonly string[];
  readonly description?: string;
  /**
   * token: the code system of the primitive values the expression selects, a
   * `code` taking it from its required binding (Patient.gender:
   * http://hl7.org/fhir/administrative-gender). Absent: no system (id,
   * string, uri, boolean). implicitSystemByCode when the bound value set
   * draws from several systems (Task.intent).
   */
  readonly implicitSystem?: string;
  readonly implicitSystemByCode?: Readonly<Record<string, string>>;
  /** False when the engine cannot evaluate it; unsupportedReason says why. */
  readonly supported?: boolean;
  readonly unsupportedReason?: string;
}

interface OfficialFile {
  common: Record<string, SearchParamDefinition>;
  resources: Record<string, Record<string, SearchParamDefinition>>;
}

const official = officialData as unknown as OfficialFile;

const ENGINE_TYPES: readonly string[] = ['date', 'number', 'reference', 'string', 'token', 'uri'];

/** The official definition of `code` for `resourceType` (common ones such as _id included). */
export function officialSearchParam(resourceType: string, code: string): SearchParamDefinition | undefined {
  return official.resources[resourceType]?.[code] ?? official.common[code];
}

/** Resource types for which the official definitions were generated. */
export function officialResourceTypes(): string[] {
  return Object.keys(official.resources);
}

export interface SearchSetup {
  readonly resourceType: string;
  /** Codes of the supported parameters (_id, _lastUpdated included when supported). */
  readonly params: readonly string[];
  /** Definitions for codes with no (usable) official one; they win over the official definition. */
  readonly custom?: Readonly<Record<string, SearchParamDefinition>>;
  /** The _include values to advertise, 'ImagingStudy:subject' or 'ImagingStudy:subject:Patient'; default: every reference parameter. */
  readonly include?: readonly string[];
  /** Page size when _count is absent. Default 20. */
  readonly defaultCount?: number;
  /** Larger _count values are lowered to this. Default 100. */
  readonly maxCount?: number;
}

export interface SearchDefinition {
  readonly resourceType: string;
  readonly params: ReadonlyMap<string, ResolvedSearchParam>;
  readonly include: readonly string[];
  readonly defaultCount: number;
  readonly maxCount: number;
}

/** Compiles one definition, throwing a plain Error (a configuration bug, not a client error). */
export function resolveSearchParam(resourceType: string, code: string, definition?: SearchParamDefinition): ResolvedSearchParam {
  const where = `search parameter ${resourceType}.${code}`;
  if (definition === undefined) throw new Error(`${where}: no definition (official or custom)`);
  if (!ENGINE_TYPES.includes(definition.type)) throw new Error(`${where}: type '${definition.type}' is not implemented`);
  if (definition.supported === false) throw new Error(`${where}: not supported (${definition.unsupportedReason ?? 'no reason given'})`);
  if (definition.expression === undefined) throw new Error(`${where}: no FHIRPath expression`);
  let expression;
  try {
    expression = compileFhirPath(definition.expression);
  } catch (error) {
    if (error instanceof FhirPathError) throw new Error(`${where}: ${error.message}`);
    throw error;
  }
  return {
    code,
    type: definition.type as EngineParamType,
    expression,
    target: definition.target ?? [],
    url: definition.url,
    description: definition.description,
    ...(definition.implicitSystem !== undefined ? { implicitSystem: definition.implicitSystem } : {}),
    ...(definition.implicitSystemByCode !== undefined ? { implicitSystemByCode: definition.implicitSystemByCode } : {}),
  };
}

function lookup(setup: SearchSetup, resourceType: string, code: string): ResolvedSearchParam {
  const custom = resourceType === setup.resourceType ? setup.custom?.[code] : undefined;
  return resolveSearchParam(resourceType, code, custom ?? officialSearchParam(resourceType, code));
}

/** Validates and compiles a provider's search declaration. Call once, at module load. */
export function defineSearch(setup: SearchSetup): SearchDefinition {
  const params = new Map<string, ResolvedSearchParam>();
  for (const code of setup.params) params.set(code, lookup(setup, setup.resourceType, code));
  // By default every reference parameter can be followed by _include; which
  // other types' references lead here (_revinclude) is the catalog's to say
  // (SearchCatalog.revIncludesOf).
  const include = setup.include ?? [...params.values()].filter((p) => p.type === 'reference').map((p) => `${setup.resourceType}:${p.code}`);
  for (const value of include) {
    const [source, code, target, extra] = value.split(':');
    if (source !== setup.resourceType || code === undefined || extra !== undefined) {
      throw new Error(`_include '${value}' of ${setup.resourceType}: expected '${setup.resourceType}:param[:Type]'`);
    }
    const param = params.get(code) ?? lookup(setup, source, code);
    if (param.type !== 'reference') throw new Error(`_include '${value}': '${code}' is not a reference parameter`);
    if (target !== undefined && param.target.length > 0 && !param.target.includes(target)) {
      throw new Error(`_include '${value}': '${target}' is not a target of '${code}'`);
    }
  }
  const defaultCount = setup.defaultCount ?? 20;
  const maxCount = setup.maxCount ?? 100;
  if (!Number.isInteger(defaultCount) || !Number.isInteger(maxCount) || defaultCount < 0 || defaultCount > maxCount) {
    throw new Error(`search of ${setup.resourceType}: bad page sizes (default ${defaultCount}, max ${maxCount})`);
  }
  return {
    resourceType: setup.resourceType,
    params,
    include,
    defaultCount,
    maxCount,
  };
}

/** The provider's searchParams declaration (for the router and the CapabilityStatement). */
export function searchParamDeclarations(definition: SearchDefinition): SearchParamDeclaration[] {
  return [...definition.params.values()].map((param) => ({
    name: param.code,
    type: param.type,
    ...(param.url ? { definition: param.url } : {}),
    ...(param.description ? { documentation: param.description } : {}),
  }));
}
