// The searchset Bundle of a search (R5 search.html, bundle.html): matches,
// included resources, an outcome entry for what lenient handling ignored,
// and paging links that repeat the search in a canonical form (parameters
// sorted, properly encoded) with _offset as the page cursor.
import type { Bundle, BundleEntry, BundleLink, Resource } from '../fhir/types';
import { subset } from './subset';
import type { SearchRequest } from './types';

export interface SearchBundleInput {
  readonly search: SearchRequest;
  /** Public base URL of the FHIR service, without trailing slash. */
  readonly baseUrl: string;
  /** The page of matches, in order. */
  readonly matches: readonly Resource[];
  /** Matches over all pages; undefined when unknown (no 'last' link then). */
  readonly total?: number;
  /** Whether matches follow this page (the index reads one more than the page); else judged from total or a full page. */
  readonly more?: boolean;
  /** Resources found by _include and _revinclude. */
  readonly included?: readonly Resource[];
  readonly id?: string;
  /** Bundle.timestamp, an instant. */
  readonly timestamp?: string;
}

/** The query of the search in canonical order, with `offset` as the page cursor. */
export function searchQuery(search: SearchRequest, offset: number): Array<[string, string]> {
  const query: Array<[string, string]> = search.filters
    .map((filter): [string, string] => [filter.name, filter.rawValue])
    .sort(([n1, v1], [n2, v2]) => compare(n1, n2) || compare(v1, v2));
  if (search.sort.length > 0) {
    query.push(['_sort', search.sort.map((rule) => `${rule.descending ? '-' : ''}${rule.param.code}`).join(',')]);
  }
  for (const raw of search.include.map((rule) => rule.raw).sort(compare)) query.push(['_include', raw]);
  for (const raw of search.revInclude.map((rule) => rule.raw).sort(compare)) query.push(['_revinclude', raw]);
  if (search.summary !== undefined) query.push(['_summary', search.summary]);
  if (search.total !== undefined) query.push(['_total', search.total]);
  if (search.elements !== undefined) query.push(['_elements', search.elements.join(',')]);
  query.push(['_count', String(search.count)]);
  if (offset > 0) query.push(['_offset', String(offset)]);
  return query;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** ':' is left readable in names ('name:exact'); everything else is percent-encoded. */
export function searchUrl(baseUrl: string, search: SearchRequest, offset: number): string {
  const query = searchQuery(search, offset)
    .map(([name, value]) => `${encodeURIComponent(name).replace(/%3A/gi, ':')}=${encodeURIComponent(value)}`)
    .join('&');
  return `${baseUrl}/${search.resourceType}?${query}`;
}

function pagingLinks(input: SearchBundleInput): BundleLink[] {
  const { search, baseUrl, total } = input;
  const link = (relation: string, offset: number): BundleLink => ({ relation, url: searchUrl(baseUrl, search, offset) });
  const links = [link('self', search.offset)];
  if (search.summary === 'count' || search.count === 0) return links;
  links.push(link('first', 0));
  if (search.offset > 0) links.push(link('previous', Math.max(0, search.offset - search.count)));
  const next = search.offset + search.count;
  // Without a total, a full page may be followed by more.
  const more = input.more ?? (total !== undefined ? next < total : input.matches.length >= search.count);
  if (more) links.push(link('next', next));
  if (total !== undefined && total > search.offset) {
    links.push(link('last', search.offset + Math.floor((total - 1 - search.offset) / search.count) * search.count));
  }
  return links;
}

export function buildSearchBundle(input: SearchBundleInput): Bundle {
  const { search, baseUrl } = input;
  const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset' };
  if (input.id !== undefined) bundle.id = input.id;
  if (input.timestamp !== undefined) bundle.timestamp = input.timestamp;
  if (input.total !== undefined && search.total !== 'none') bundle.total = input.total;
  bundle.link = pagingLinks(input);

  const entries: BundleEntry[] = [];
  const seen = new Set<string>();
  const add = (resource: Resource, mode: 'match' | 'include') => {
    const key = `${resource.resourceType}/${resource.id}`;
    // A resource is in a searchset once, as a match if it is one.
    if (seen.has(key)) return;
    seen.add(key);
    entries.push({ fullUrl: `${baseUrl}/${key}`, resource: subset(resource, search, search.resourceType), search: { mode } });
  };
  if (search.summary !== 'count') {
    for (const resource of input.matches) add(resource, 'match');
    for (const resource of input.included ?? []) add(resource, 'include');
  }
  if (search.warnings.length > 0) {
    entries.push({ resource: { resourceType: 'OperationOutcome', issue: [...search.warnings] }, search: { mode: 'outcome' } });
  }
  if (entries.length > 0) bundle.entry = entries;
  return bundle;
}
