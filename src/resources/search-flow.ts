// The steps every search shares, whatever the store: parse once, let the
// store narrow the candidates, match the rest with the engine, complete the
// page, resolve _include / _revinclude through the registry, build the Bundle.
import type { Bundle, Resource } from '../fhir/types';
import type { FhirRequest } from '../interactions/request';
import {
  buildSearchBundle, includeReferences, parseSearchQuery, parseSearchRequest, revIncludeQueries, runSearch,
  type SearchDefinition, type SearchRequest,
} from '../search';
import type { ResourceRegistry } from './registry';

export interface Candidates {
  /** Resources to match; they may be summaries that complete() fills in. */
  resources: Resource[];
  /** The search still to apply in memory: filters the store applied exactly are left out. */
  remaining: SearchRequest;
}

export interface SearchSource {
  definition: SearchDefinition;
  candidates(search: SearchRequest): Promise<Candidates>;
  /** Turns the page's summaries into the resources to return. */
  complete(page: Resource[], request: FhirRequest): Promise<Resource[]>;
}

async function matchesOf(source: SearchSource, search: SearchRequest, request: FhirRequest) {
  const { resources, remaining } = await source.candidates(search);
  const { total, page } = runSearch(resources, remaining);
  return { total, page: await source.complete(page, request) };
}

export async function searchBundle(source: SearchSource, request: FhirRequest, registry: ResourceRegistry): Promise<Bundle> {
  const search = parseSearchRequest(source.definition, request);
  const { total, page } = await matchesOf(source, search, request);
  const included: Resource[] = await registry.readAll(includeReferences(page, search), request);
  for (const { resourceType, query } of revIncludeQueries(page, search)) {
    included.push(...(await registry.searchAll(resourceType, query, request)));
  }
  return buildSearchBundle({ search, baseUrl: request.baseUrl, matches: page, total, included });
}

/** All matches of a query (for another type's _revinclude), capped at MaxCount. */
export async function searchAllOf(source: SearchSource, query: Array<[string, string]>, request: FhirRequest): Promise<Resource[]> {
  const search: SearchRequest = {
    ...parseSearchQuery(source.definition, query, { baseUrl: request.baseUrl }),
    count: source.definition.maxCount,
    offset: 0,
  };
  return (await matchesOf(source, search, request)).page;
}
