// What the search index holds of each indexed resource: the rows of its
// declared parameters (search/index-rows.ts) and the keys its modules look
// resources up by. Handed to the store, which indexes every write with it.
import type { Resource } from '../fhir/types';
import { defineSearch, indexRows, type IndexKeys, type SearchDefinition } from '../search';
import type { ResourceIndexer } from '../store/store';
import { accessionNumber, studyInstanceUid } from './orders';
import { SEARCH_DECLARATIONS, type IndexedType } from './search-declarations';

/** Keys of a type derived for lookups, given a read of other stored resources (e.g. a Task's order). */
export type KeysOf = (resource: Resource, read: (type: string, id: string) => Resource | undefined) => IndexKeys;

/** The keys the orders are looked up by: the study of an order (ImagingStudy.basedOn, the order tracker). */
export const ORDER_KEYS = { studyUid: '$study-uid', accession: '$accession' } as const;

function serviceRequestKeys(resource: Resource): IndexKeys {
  const uid = studyInstanceUid(resource);
  const accession = accessionNumber(resource);
  return {
    [ORDER_KEYS.studyUid]: uid ? [uid] : [],
    [ORDER_KEYS.accession]: accession ? [accession] : [],
  };
}

export interface IndexerOptions {
  /** More keys per type (the worklist's, for Tasks). */
  keys?: Partial<Record<IndexedType, KeysOf>>;
  /** Types whose keys read another type, re-indexed when one they refer to (through `param`) is written. */
  dependents?: Partial<Record<string, Array<{ type: IndexedType; param: string }>>>;
}

export function createIndexer(options: IndexerOptions = {}): ResourceIndexer {
  const definitions = new Map<string, SearchDefinition>();
  for (const [type, declaration] of Object.entries(SEARCH_DECLARATIONS)) {
    definitions.set(type, defineSearch({ resourceType: type, ...declaration, maxCount: 10000 }));
  }
  const own: Partial<Record<IndexedType, KeysOf>> = { ServiceRequest: serviceRequestKeys };
  return {
    rows(resource, read, baseUrl) {
      const definition = definitions.get(resource.resourceType);
      if (!definition) return undefined;
      const type = resource.resourceType as IndexedType;
      const keys = { ...(own[type]?.(resource, read) ?? {}), ...(options.keys?.[type]?.(resource, read) ?? {}) };
      return indexRows(definition, resource, keys, baseUrl);
    },
    dependents: (type) => options.dependents?.[type] ?? [],
  };
}
