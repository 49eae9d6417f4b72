// The search index's version, and indexing the stored resources again, in
// batches of one transaction each (between the clients' writes, which index
// themselves): after an upgrade of the index tables, or when they were
// deleted. The same for both stores.
import { OperationOutcomeError, outcome } from '../fhir/outcome';
import type { ResourceIndexer, StoreWriter } from './store';
import type { VersionRow } from './versions';

/** Bumped when the index tables or what goes into them change: the index is then rebuilt at start. */
export const INDEX_VERSION = '2';
/** The setting that holds the version the index was built with. */
export const INDEX_VERSION_KEY = 'index-version';
export const INDEX_TABLES = ['sp_token', 'sp_string', 'sp_date', 'sp_number', 'sp_ref', 'sp_sort'];

export const NO_INDEXER: ResourceIndexer = { rows: async () => undefined, dependents: () => [] };

/**
 * The version an index made by `indexer` is recorded with: INDEX_VERSION
 * and the indexer's signature (what its rows depend on besides the
 * resources: the worklist's zone), so that a change of either makes the
 * index again at start, with the same machinery as an upgrade.
 */
export function indexVersionOf(indexer: ResourceIndexer): string {
  return indexer.signature ? `${INDEX_VERSION} ${indexer.signature}` : INDEX_VERSION;
}

/** The 503 of a store whose stored resources are being indexed again (here, with its progress; or by another Orthanc). */
export function rebuildingError(progress?: { done: number; total: number }): OperationOutcomeError {
  const where = progress ? ` (${progress.done} of ${progress.total} resources)` : ' (by another Orthanc sharing the database)';
  return new OperationOutcomeError(503, outcome('transient', `The search index is being rebuilt${where}; try again shortly`),
    { 'retry-after': '10' });
}

export interface Reindexable {
  transaction<T>(work: (writer: StoreWriter) => Promise<T> | T): Promise<T>;
  /** Inside a transaction: the latest versions after (type, id), in that order. */
  latestAfter(after: readonly [string, string]): Promise<VersionRow[]>;
  /** Inside a transaction: indexes one stored version again. */
  reindex(row: VersionRow): Promise<void>;
  /** Inside the last batch's transaction: records that the index is complete. */
  indexComplete(): Promise<void>;
}

export async function reindexInBatches(store: Reindexable, progress: { done: number; total: number }, log: (message: string) => void): Promise<void> {
  let after: [string, string] = ['', ''];
  let lastLog = Date.now();
  for (;;) {
    const rows = await store.transaction(async () => {
      const batch = await store.latestAfter(after);
      for (const row of batch) await store.reindex(row);
      if (batch.length === 0) await store.indexComplete();
      return batch;
    });
    if (rows.length === 0) return;
    after = [rows.at(-1)!.type, rows.at(-1)!.id];
    progress.done += rows.length;
    if (Date.now() - lastLog > 10000) {
      lastLog = Date.now();
      log(`search index: ${progress.done} of ${progress.total} stored resources indexed`);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}
