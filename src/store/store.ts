// The one interface behind which the plugin keeps the data it owns (orders,
// and Patients written before any image arrives) and the search index of
// every type (the stored ones, indexed as they are written, and the imaging
// ones, indexed from Orthanc's change log). Searches run in the database:
// nothing here lists a whole type into memory, and nothing assumes this
// process is the only writer. The embedded default is SQLite
// (sqlite-store.ts); the PostgreSQL back end (postgres-store.ts) implements
// the same contract for several Orthancs sharing one database.
import type { AuditLog } from './audit-log';
import type { SubscriptionReads, SubscriptionWrites } from './subscription-queue';
import type { Resource } from '../fhir/types';
import type { IndexRows } from '../search/index-rows';
import type { SearchRequest } from '../search/types';

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

/** Turns a resource into its search index rows (search/index-rows.ts); undefined for a type not indexed. */
export interface ResourceIndexer {
  rows(resource: Resource, read: (type: string, id: string) => Promise<Resource | undefined>, baseUrl?: string): Promise<IndexRows | undefined>;
  /**
   * The resources whose rows read resources of `type` (a Task's worklist keys
   * read its ServiceRequest): after a write of one, those referring to it
   * through `param` are re-indexed in the same transaction.
   */
  dependents(type: string): ReadonlyArray<{ type: string; param: string }>;
  /**
   * What the rows depend on besides the resources (a setting such as the
   * worklist's zone, which its date keys are computed in); the stores
   * record it with the index's version, so that a change rebuilds the index.
   */
  readonly signature?: string;
}

export interface PutOptions {
  /** The public base URL of the writing request: absolute references to it are local. */
  baseUrl?: string;
  /** Index this instead of the stored body (a Patient is searched as merged with DICOM). */
  indexAs?: Resource;
  /** The id was made for this write (a create): it most likely names no resource yet. */
  fresh?: boolean;
}

/** A search the store runs on its index: the parsed request's filters, sort and page. */
export type IndexedSearch = Pick<SearchRequest, 'resourceType' | 'filters' | 'sort' | 'now' | 'count' | 'offset' | 'total' | 'summary'>;

export interface SearchIds {
  /** The page's ids, in order. */
  ids: string[];
  /** Whether matches follow the page. */
  more: boolean;
  /** Matches over all pages, when asked for (_total=accurate, _summary=count) or known for free. */
  total?: number;
}

/** A condition on a module's own index key: equal to one of `values`, or between `from` and `to` (text order, inclusive). */
export interface KeyCondition {
  key: string;
  values?: readonly string[];
  from?: string;
  to?: string;
}

/**
 * The writes of one transaction; reads through it see its own writes. A
 * resource read with current() cannot be written by another transaction,
 * from any process, until this one ends (no lost update).
 */
export interface StoreWriter {
  current(resourceType: string, id: string): Promise<ResourceVersion | undefined>;
  /** Appends the next version and indexes it; `resource` undefined records a deletion. */
  put(resourceType: string, id: string, resource: Resource | undefined, options?: PutOptions): Promise<ResourceVersion>;
  /**
   * Indexes a resource the store does not keep (imaging resources, read
   * live from Orthanc), or removes it from the index (undefined).
   */
  index(resourceType: string, id: string, resource: Resource | undefined): Promise<void>;
  /** A setting as this transaction sees it (a cursor to compare before moving it); no other transaction moves it meanwhile. */
  setting(key: string): Promise<string | undefined>;
  /**
   * Serializes this transaction with every other that takes the same key,
   * from any process, until it ends: a conditional create takes its
   * condition before it searches, so that two cannot both find nothing.
   */
  lock(key: string): Promise<void>;
  /** The plugin's own bookkeeping (e.g. how far Orthanc's changes were followed). */
  putSetting(key: string, value: string): Promise<void>;
  /**
   * Runs `work` once the outermost transaction has committed, outside it,
   * before transaction() resolves (so a write's answer waits for it): what
   * derives from the committed data elsewhere (the index of the studies an
   * order is for). Not run when the transaction rolls back; its failure is
   * logged, the write stands.
   */
  afterCommit(work: () => Promise<void>): void;
  /** The Subscriptions' delivery state and event queue, in this transaction. */
  readonly subscriptions: SubscriptionWrites;
}

/** The afterCommit work of one transaction attempt. */
export class CommitHooks {
  private readonly hooks: Array<() => Promise<void>> = [];

  add(work: () => Promise<void>): void {
    this.hooks.push(work);
  }

  async run(log: (message: string) => void): Promise<void> {
    for (const hook of this.hooks) {
      try {
        await hook();
      } catch (error) {
        log(`work after a commit failed (the write stands): ${(error as Error)?.stack ?? String(error)}`);
      }
    }
  }
}

export interface TransactionOptions {
  /**
   * false: the commit need not be on disk when the promise resolves (it is
   * once a later durable commit is, or the database's own flush ran): only
   * for bookkeeping whose loss in a power cut is harmless (a delivery's
   * lease, a notification's acknowledgement: at worst sent again). A
   * transaction joined by another keeps the outer one's durability.
   */
  durable?: boolean;
}

export interface Store {
  /** The audit trail's append-only table. */
  readonly audit: AuditLog;
  /** The Subscriptions' queue as committed (its writes go through StoreWriter.subscriptions). */
  readonly subscriptions: SubscriptionReads;
  /** The latest version (possibly a deletion), or undefined if the id never existed. */
  current(resourceType: string, id: string): Promise<ResourceVersion | undefined>;
  /** The latest versions of several resources of a type, in one read: those that exist, in the order of `ids`. */
  currentOf(resourceType: string, ids: readonly string[]): Promise<ResourceVersion[]>;
  version(resourceType: string, id: string, versionId: number): Promise<ResourceVersion | undefined>;
  history(resourceType: string, id: string | undefined, query: HistoryQuery): Promise<HistoryPage>;
  setting(key: string): Promise<string | undefined>;
  /** Runs a search over the index: ids of the page, in order. Inside a transaction, sees its writes. */
  search(search: IndexedSearch): Promise<SearchIds>;
  /** Ids of the indexed resources of a type with any of `values` under a module's own key ("$study-uid"). */
  lookup(resourceType: string, key: string, values: readonly string[]): Promise<string[]>;
  /**
   * Ids of the resources of a type whose keys meet every condition (a key
   * equal to one of `values`, or within [from, to] as text), in row order.
   */
  keyed(resourceType: string, conditions: readonly KeyCondition[]): Promise<string[]>;
  /** How many resources of a type the index holds. */
  indexedCount(resourceType: string): Promise<number>;
  /**
   * Runs `work` as one atomic, durable transaction: when the promise
   * resolves, every write is on disk; when `work` throws, none is. A
   * transaction started inside `work` joins it. Reads made meanwhile by other
   * requests see only committed data. `work` may run more than once (a
   * conflict with another process's transaction is retried): it must have
   * no effect outside the store.
   */
  transaction<T>(work: (writer: StoreWriter) => Promise<T> | T, options?: TransactionOptions): Promise<T>;
  /**
   * Runs `work` while holding the lock `name`, shared by every process on
   * this store (a page of Orthanc's change log is applied by one Orthanc at a
   * time). With `wait: false`, answers undefined at once when another holds it.
   */
  exclusive<T>(name: string, work: () => Promise<T>, options?: { wait?: boolean }): Promise<T | undefined>;
  /** Whether other processes write this store too (Orthanc's change events then reach only one of them: poll). */
  readonly shared: boolean;
  /** Background upkeep at start: re-indexing the stored resources after an upgrade (searches answer 503 meanwhile). */
  maintain(): Promise<void>;
  /** Whether the caller runs inside a transaction (its reads see its writes). */
  readonly inTransaction: boolean;
  /** Runs `work` outside the caller's transaction: what it starts (a background job) does not join it. */
  outside<T>(work: () => T): T;
  close(): void;
}
