// The search definitions of the indexed types, compiled once from their
// declarations: chains, _has and _revinclude read the other types' from here.
import { defineSearch, SearchCatalog, type SearchDefinition } from '../search';
import { SEARCH_DECLARATIONS } from './search-declarations';

/**
 * Indexed types that no other type's search reaches: the audit trail is
 * read by administrators on its own, never joined to the clinical searches
 * (a chain, _has or _revinclude from a Patient search would answer who
 * accessed what to anyone who may search Patients, and would join against
 * a row per request ever served).
 */
const SEPARATE: ReadonlySet<string> = new Set(['AuditEvent']);

const DEFINITIONS: ReadonlyMap<string, SearchDefinition> = new Map(
  Object.entries(SEARCH_DECLARATIONS).map(([resourceType, declaration]) => [resourceType, defineSearch({ resourceType, ...declaration })]),
);

/** The types searches join (chains, _has, _revinclude, _include:iterate): every indexed type but the separate ones. */
export const SEARCH_CATALOG = new SearchCatalog([...DEFINITIONS.values()].filter((definition) => !SEPARATE.has(definition.resourceType)));

/** The definition the index rows of a type are made from: every indexed type, the separate ones included. */
export function indexedDefinition(type: string): SearchDefinition | undefined {
  return DEFINITIONS.get(type);
}
