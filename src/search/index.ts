// The search engine's public API: pure functions over FHIR JSON, no I/O.
//
//   const search = defineSearch({ resourceType: 'Patient', params: ['_id', 'name', 'birthdate'] }); // at load
//   const request = parseSearchRequest(search, fhirRequest);   // 400 OperationOutcomeError on bad input
//   const { total, page } = runSearch(patients, request);      // or matchesSearch() per resource
//   return buildSearchBundle({ search: request, baseUrl: fhirRequest.baseUrl, matches: page, total });
export { buildSearchBundle, searchQuery, searchUrl, type SearchBundleInput } from './bundle';
export { SearchCatalog } from './catalog';
export { parseDateRange } from './dates';
export {
  defineSearch, officialResourceTypes, officialSearchParam, resolveSearchParam, searchParamDeclarations,
  type SearchDefinition, type SearchParamDefinition, type SearchSetup,
} from './definitions';
export { compileFhirPath, evaluateFhirPath, FhirPathError, type CompiledFhirPath, type FhirPathItem } from './fhirpath';
export { compareForSort, matchesFilter, matchesSearch, memoizedItems, normalizeText, type ItemsOf } from './match';
export { parseSearchQuery, parseSearchRequest, preferLenient, type ParseOptions, type SearchInput } from './parse';
export { indexRows, paramKey, type IndexKeys, type IndexRows } from './index-rows';
export { readSubset, subset, SUBSETTED, type SubsetRequest } from './subset';
export { includeReferences, joinedFilter, joinedTypes, revIncludeQueries, runSearch, type SearchResult } from './run';
export type * from './types';
