// Running a parsed search over resources the provider has in memory, and
// what _include/_revinclude need fetched. The engine does no I/O: the
// provider reads the resources, and fetches the included ones itself.
import { notSupported } from '../fhir/outcome';
import type { Resource } from '../fhir/types';
import { compareForSort, localReferences, matchesSearch } from './match';
import type { IncludeRule, SearchRequest } from './types';

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
  const joined = joinedFilter(search);
  if (joined) throw notSupported(`'${joined}' is answered from the search index only, which does not hold ${search.resourceType}`, [joined]);
  const matches: Resource[] = [];
  for (const resource of candidates) if (matchesSearch(resource, search)) matches.push(resource);
  if (search.sort.length > 0) matches.sort(compareForSort(search));
  const page = search.summary === 'count' ? [] : matches.slice(search.offset, search.offset + search.count);
  return { total: matches.length, page };
}

/** The name of the first chain or _has of a search (which only the index can answer), if any. */
export function joinedFilter(search: Pick<SearchRequest, 'filters'>): string | undefined {
  return search.filters.find((filter) => filter.kind === 'chain' || filter.kind === 'has')?.name;
}

/** The other types a search's chains and _has read the index of, nested ones included. */
export function joinedTypes(search: Pick<SearchRequest, 'filters'>): string[] {
  const types = new Set<string>();
  const visit = (filter: SearchRequest['filters'][number]): void => {
    if (filter.kind === 'chain') {
      for (const target of filter.targets) {
        types.add(target.type);
        visit(target.filter);
      }
    } else if (filter.kind === 'has') {
      types.add(filter.source);
      visit(filter.inner);
    }
  };
  search.filters.forEach(visit);
  return [...types];
}

/**
 * The local resources that `rules` ask for from `resources` (the matches, or
 * for :iterate the resources included so far), deduplicated, in first-seen
 * order. A rule reads only the resources of its source type.
 */
export function includeReferences(
  resources: readonly Resource[], rules: readonly IncludeRule[], baseUrl?: string,
): Array<{ type: string; id: string }> {
  const found = new Map<string, { type: string; id: string }>();
  for (const rule of rules) {
    for (const resource of resources) {
      if (resource.resourceType !== rule.source) continue;
      for (const ref of localReferences(rule.param.expression.evaluate(resource), baseUrl)) {
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
 * _revinclude=ImagingStudy:patient on a page of Patients), over the
 * resources the rule's reference can point to.
 */
export function revIncludeQueries(
  resources: readonly Resource[], rules: readonly IncludeRule[],
): Array<{ resourceType: string; query: Array<[string, string]> }> {
  return rules.flatMap((rule) => {
    const references = resources
      .filter((r) => r.id !== undefined && (rule.target ?? r.resourceType) === r.resourceType)
      .filter((r) => rule.param.target.length === 0 || rule.param.target.includes(r.resourceType))
      .map((r) => `${r.resourceType}/${r.id}`);
    return references.length === 0 ? [] : [{ resourceType: rule.source, query: [[rule.param.code, references.join(',')] as [string, string]] }];
  });
}
