// The search definitions of the indexed types, compiled once from their
// declarations: chains, _has and _revinclude read the other types' from here.
import { defineSearch, SearchCatalog } from '../search';
import { SEARCH_DECLARATIONS } from './search-declarations';

export const SEARCH_CATALOG = new SearchCatalog(
  Object.entries(SEARCH_DECLARATIONS).map(([resourceType, declaration]) => defineSearch({ resourceType, ...declaration })),
);
