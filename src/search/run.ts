// Running a parsed search over resources the provider has in memory, and
// what _include/_revinclude need fetched. The engine does no I/O: the
// provider reads the resources, and fetches the included ones itself.
import type { Resource } from '../fhir/types';
import { compareForSort, localReferences, matchesSearch } from './match';
import type { SearchRequest } from './types';

export interface SearchResult {
  /** Number of matches over all pages. */
  readonly total: number;
  /** The requested page of matches (empty for _summary=count or _count=0). */
  readonly page: Resource[];
}

/**
 * Filters, sorts (_sort, then id) and pages. Without _sort the candidates'
 * own order is kept, which must then be stable across requests for _offset
 * paging to be consistent.
 */
export function runSearch(candidates: Iterable<Resource>, search: SearchRequest): SearchResult {
  const matches: Resource[] = [];
  for (const resource of candidates) if (matchesSearch(resource, search)) matches.push(resource);
  if (search.sort.length > 0) matches.sort(compareForSort(search));
  const page = search.summary === 'count' ? [] : matches.slice(search.offset, search.offset + search.count);
  return { total: matches.length, page };
}

/** The local resources that _include asks for, deduplicated, in first-seen order. */
export function includeReferences(page: readonly Resource[], search: SearchRequest): Array<{ type: string; id: string }> {
  const found = new Map<string, { type: string; id: string }>();
  for (const rule of search.include) {
    for (const resource of page) {
      for (const ref of localReferences(rule.param.expression.evaluate(resource), search.baseUrl)) {
        if (rule.target !== undefined && ref.type !== rule.target) continue;
        if (rule.param.target.length > 0 && !rule.param.target.includes(ref.type)) continue;
        found.set(`${ref.type}/${ref.id}`, ref);
      }
    }
  }
  return [...found.values()];
}

/**
 * One search per _revinclude rule, to run on the referring type's provider
 * (e.g. ImagingStudy?patient=Patient/1,Patient/2 for
 * _revinclude=ImagingStudy:patient on a page of Patients).
 */
export function revIncludeQueries(page: readonly Resource[], search: SearchRequest): Array<{ resourceType: string; query: Array<[string, string]> }> {
  const references = page.filter((r) => r.id !== undefined).map((r) => `${r.resourceType}/${r.id}`);
  if (references.length === 0) return [];
  return search.revInclude.map((rule) => ({ resourceType: rule.source, query: [[rule.param.code, references.join(',')]] }));
}
