// What the search index holds of each indexed resource: the rows of its
// declared parameters (search/index-rows.ts) and the keys its modules look
// resources up by. Handed to the store, which indexes every write with it.
import type { Resource } from '../fhir/types';
import { indexRows, type IndexKeys } from '../search';
import type { ResourceIndexer } from '../store/store';
import { accessionNumber, studyInstanceUid } from './orders';
import { SEARCH_CATALOG } from './search-catalog';
import type { IndexedType } from './search-declarations';

/** A stored resource that keys read, by type and id. */
export type Lookup = (type: string, id: string) => Resource | undefined;

/**
 * Keys of a type derived for lookups. Pure: the other stored resources they
 * read (a Task's order) are named by `reads` and fetched before `keys` runs.
 */
export interface KeysOf {
  reads?(resource: Resource): Array<{ type: string; id: string }>;
  keys(resource: Resource, read: Lookup): IndexKeys;
}

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
  const own: Partial<Record<IndexedType, KeysOf>> = { ServiceRequest: { keys: serviceRequestKeys } };
  return {
    async rows(resource, read, baseUrl) {
      const definition = SEARCH_CATALOG.get(resource.resourceType);
      if (!definition) return undefined;
      const type = resource.resourceType as IndexedType;
      const derive = [own[type], options.keys?.[type]].filter((k): k is KeysOf => k !== undefined);
      const fetched = new Map<string, Resource | undefined>();
      for (const { type: t, id } of derive.flatMap((k) => k.reads?.(resource) ?? [])) fetched.set(`${t}/${id}`, await read(t, id));
      const lookup: Lookup = (t, id) => fetched.get(`${t}/${id}`);
      const keys = Object.assign({}, ...derive.map((k) => k.keys(resource, lookup))) as IndexKeys;
      return indexRows(definition, resource, keys, baseUrl);
    },
    dependents: (type) => options.dependents?.[type] ?? [],
  };
}
