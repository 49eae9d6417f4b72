// The steps every search shares: parse once, let the index find the page's
// ids (in the database, never by listing a type), load those resources,
// resolve _include / _revinclude through the registry, build the Bundle.
import type { Bundle, Resource } from '../fhir/types';
import {
  buildSearchBundle, includeReferences, matchesSearch, parseSearchQuery, parseSearchRequest, revIncludeQueries,
  type SearchDefinition, type SearchRequest,
} from '../search';
import type { SearchIds } from '../store/store';
import type { InteractionContext } from './provider';
import type { ResourceRegistry } from './registry';

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

export async function searchBundle(source: SearchSource, context: InteractionContext, registry: ResourceRegistry): Promise<Bundle> {
  const search = parseSearchRequest(source.definition, context);
  const { total, page, more } = await matchesOf(source, search, context);
  const included: Resource[] = await registry.readAll(includeReferences(page, search), context);
  for (const { resourceType, query } of revIncludeQueries(page, search)) {
    included.push(...(await registry.searchAll(resourceType, query, context)));
  }
  return buildSearchBundle({ search, baseUrl: context.baseUrl, matches: page, total, more, included });
}

/** The first `limit` matches of a query (for another type's _revinclude, or a condition). */
export async function searchAllOf(
  source: SearchSource, query: Array<[string, string]>, context: InteractionContext, limit = source.definition.maxCount,
): Promise<Resource[]> {
  const search: SearchRequest = {
    ...parseSearchQuery(source.definition, query, { baseUrl: context.baseUrl }),
    count: Math.min(limit, source.definition.maxCount),
    offset: 0,
  };
  return (await matchesOf(source, search, context)).page;
}
