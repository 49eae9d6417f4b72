// Indexing the stored resources again, in batches of one transaction each
// (between the clients' writes, which index themselves): after an upgrade
// of the index tables, or when they were deleted. The same for both stores.
import type { StoreWriter } from './store';
import type { VersionRow } from './versions';

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
