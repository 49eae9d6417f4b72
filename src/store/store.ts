// The one interface behind which the plugin keeps the data it owns (orders,
// and Patients written before any image arrives). The embedded default is
// SQLite (sqlite-store.ts); a PostgreSQL back end, shared by several Orthanc
// instances, would implement the same interface.
import type { Resource } from '../fhir/types';

export interface ResourceVersion {
  resourceType: string;
  id: string;
  versionId: number;
  /** An instant. */
  lastUpdated: string;
  /** The resource with its meta filled in; absent for a deletion. */
  resource?: Resource;
}

export interface HistoryPage {
  total: number;
  /** Newest first. */
  versions: ResourceVersion[];
}

export interface HistoryQuery {
  count: number;
  offset: number;
  /** Only versions at or after this instant. */
  since?: string;
}

/** The writes of one transaction; reads through it see its own writes. */
export interface StoreWriter {
  current(resourceType: string, id: string): ResourceVersion | undefined;
  /** Appends the next version; `resource` undefined records a deletion. */
  put(resourceType: string, id: string, resource: Resource | undefined): ResourceVersion;
  /** The plugin's own bookkeeping (e.g. how far Orthanc's changes were followed). */
  putSetting(key: string, value: string): void;
}

export interface Store {
  /** The latest version (possibly a deletion), or undefined if the id never existed. */
  current(resourceType: string, id: string): Promise<ResourceVersion | undefined>;
  version(resourceType: string, id: string, versionId: number): Promise<ResourceVersion | undefined>;
  history(resourceType: string, id: string | undefined, query: HistoryQuery): Promise<HistoryPage>;
  setting(key: string): Promise<string | undefined>;
  /** Every live (not deleted) resource of a type, latest versions. */
  list(resourceType: string): Promise<Resource[]>;
  /**
   * Runs `work` as one atomic, durable transaction: when the promise
   * resolves, every write is on disk; when `work` throws, none is. A
   * transaction started inside `work` joins it. Reads made meanwhile by other
   * requests see only committed data.
   */
  transaction<T>(work: (writer: StoreWriter) => Promise<T> | T): Promise<T>;
  close(): void;
}
