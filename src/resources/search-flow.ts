// The steps every search shares: parse once, let the index find the page's
// ids (in the database, never by listing a type), load those resources,
// resolve _include / _revinclude through the registry, build the Bundle.
// The matches and included resources get their narratives here, before
// _summary / _elements subset them in the Bundle (narrative.ts).
import type { Bundle, OperationOutcomeIssue, Resource } from '../fhir/types';
import { unavailable } from '../fhir/outcome';
import { searchNameFromR4 } from '../fhir/r4';
import {
  buildSearchBundle, includeReferences, joinedFilter, joinedTypes, matchesSearch, parseSearchQuery, parseSearchRequest, revIncludeQueries, runSearch,
  type ParseOptions, type SearchDefinition, type SearchRequest,
} from '../search';
import type { SearchIds } from '../store/store';
import { withNarrative } from './narrative';
import type { InteractionContext } from './provider';
import type { ResourceRegistry } from './registry';
import { SEARCH_CATALOG } from './search-catalog';

/** InteractionContext.fhirVersion of an R4 client. */
const R4_VERSION = '4.0';

export interface SearchSource {
  definition: SearchDefinition;
  /** The page's ids from the index (filters, sort, count and offset applied there). */
  find(search: SearchRequest): Promise<SearchIds>;
  /** The resources of those ids, as a read returns them; gone ones are left out. */
  load(ids: readonly string[], context: InteractionContext): Promise<Resource[]>;
  /**
   * Whether the loaded resources are matched again: for resources read live
   * (Orthanc's), whose index may trail the read by a change.
   */
  recheck?: boolean;
  /** The search as this type reads it (e.g. both forms of a DICOM UID), for the index and the re-check. */
  normalize?(search: SearchRequest): SearchRequest;
}

interface Matches {
  page: Resource[];
  more: boolean;
  total?: number;
}

async function matchesOf(source: SearchSource, asked: SearchRequest, context: InteractionContext): Promise<Matches> {
  const search = source.normalize ? source.normalize(asked) : asked;
  const found = await source.find(search);
  const loaded = await source.load(found.ids, context);
  const page = source.recheck ? loaded.filter((resource) => matchesSearch(resource, search)) : loaded;
  return found.total === undefined ? { page, more: found.more } : { page, more: found.more, total: found.total };
}

/**
 * The catalog of the indexed types, and for an R4 client its names of their
 * parameters: the edge renames what is unambiguous, a chain through a
 * reference to several types (Task.basedOn: ServiceRequest 'code' is R5's
 * code-concept, Task's 'code' is code) is read per target type.
 */
function parseOptions(context: InteractionContext): Pick<ParseOptions, 'catalog' | 'alias'> {
  return context.fhirVersion === R4_VERSION ? { catalog: SEARCH_CATALOG, alias: searchNameFromR4 } : { catalog: SEARCH_CATALOG };
}

/**
 * The source of a type whose few resources are held or made in memory (the
 * DICOMweb Endpoint, the SubscriptionTopics): matched there, nothing indexed.
 */
export function inMemorySource(definition: SearchDefinition, resources: () => Promise<readonly Resource[]>): SearchSource {
  let page: Resource[] = [];
  return {
    definition,
    async find(search: SearchRequest) {
      const result = runSearch([...(await resources())], search);
      page = result.page;
      return { ids: page.map((r) => r.id!), more: search.offset + page.length < result.total, total: result.total };
    },
    load: async () => page,
  };
}

/** Chains and _has are joins in the index: before the imaging index is built, they wait for it. */
export function refuseJoinsWhileBuilding(search: SearchRequest): void {
  const joined = joinedFilter(search);
  if (joined) throw unavailable(`'${joined}' needs the search index, which is being built from Orthanc's studies; try again shortly`);
}

/** _include:iterate follows references this many steps from the matches at most. */
const MAX_INCLUDE_ROUNDS = 4;
/** A page includes at most this many resources: what :iterate reaches is bounded by it. */
export const MAX_INCLUDED = 500;

interface Included {
  resources: Resource[];
  /** Whether MAX_INCLUDED stopped the includes. */
  truncated: boolean;
}

/**
 * The resources _include and _revinclude add to a page: the rules apply to
 * the matches, then the :iterate ones to what the previous step added, until
 * nothing new comes, MAX_INCLUDE_ROUNDS steps or MAX_INCLUDED resources.
 */
async function includedOf(page: readonly Resource[], search: SearchRequest, context: InteractionContext, registry: ResourceRegistry): Promise<Included> {
  const key = (r: Resource) => `${r.resourceType}/${r.id}`;
  const seen = new Set(page.map(key));
  const resources: Resource[] = [];
  let frontier: readonly Resource[] = page;
  for (let round = 0; round < MAX_INCLUDE_ROUNDS && frontier.length > 0; round++) {
    const include = search.include.filter((rule) => round === 0 || rule.iterate);
    const revInclude = search.revInclude.filter((rule) => round === 0 || rule.iterate);
    if (include.length === 0 && revInclude.length === 0) break;
    const found: Resource[] = await registry.readAll(includeReferences(frontier, include, search.baseUrl), context);
    for (const { resourceType, query } of revIncludeQueries(frontier, revInclude)) {
      found.push(...(await registry.searchAll(resourceType, query, context)));
    }
    const added = found.filter((r) => !seen.has(key(r)) && seen.add(key(r)));
    if (resources.length + added.length > MAX_INCLUDED) {
      resources.push(...added.slice(0, MAX_INCLUDED - resources.length));
      return { resources, truncated: true };
    }
    resources.push(...added);
    frontier = added;
  }
  return { resources, truncated: false };
}

export async function searchBundle(source: SearchSource, context: InteractionContext, registry: ResourceRegistry): Promise<Bundle> {
  const parsed = parseSearchRequest(source.definition, context, parseOptions(context));
  // A chain or _has into Patient or ImagingStudy from another type reads their index: it must be caught up.
  const joined = joinedTypes(parsed);
  if (joined.length > 0 && !(await registry.indexesCurrent(joined))) refuseJoinsWhileBuilding(parsed);
  const { total, page, more } = await matchesOf(source, parsed, context);
  const included = await includedOf(page, parsed, context, registry);
  const truncation: OperationOutcomeIssue[] = included.truncated
    ? [{ severity: 'information', code: 'too-costly', diagnostics: `_include and _revinclude stopped at ${MAX_INCLUDED} resources for this page; ask for smaller pages` }]
    : [];
  const search = truncation.length > 0 ? { ...parsed, warnings: [...parsed.warnings, ...truncation] } : parsed;
  return buildSearchBundle({
    search, baseUrl: context.baseUrl, matches: page.map((r) => withNarrative(r)), total, more, included: included.resources.map((r) => withNarrative(r)),
  });
}

/** The first `limit` matches of a query (for another type's _revinclude, or a condition). */
export async function searchAllOf(
  source: SearchSource, query: Array<[string, string]>, context: InteractionContext, limit = source.definition.maxCount,
): Promise<Resource[]> {
  const search: SearchRequest = {
    ...parseSearchQuery(source.definition, query, { baseUrl: context.baseUrl, ...parseOptions(context) }),
    count: Math.min(limit, source.definition.maxCount),
    offset: 0,
  };
  return (await matchesOf(source, search, context)).page;
}
