// The embedded store: one SQLite database file (better-sqlite3), in WAL mode
// with synchronous=FULL so that a commit is on disk before the write is
// answered. Writes go through one connection, one transaction at a time;
// reads use a second connection, so they never see a transaction that is
// still open (and may yet roll back). Searches run here, over index tables
// filled in the same transaction as the write they index.
import { AsyncLocalStorage } from 'node:async_hooks';
import Database, { type Database as Connection, type Statement } from 'better-sqlite3';
import type { Resource } from '../fhir/types';
import type { IndexRows } from '../search/index-rows';
import { paramKey } from '../search/index-rows';
import type { Sql, SqlValue } from '../search/search-sql';
import { keyedIds, lookupQuery, runSearch, type SqlRunner } from './index-search';
import { AUDIT_INSERT, AUDIT_READ, auditCountSql, auditSchema, auditSearchSql, auditValues, type AuditLog, type AuditRow } from './audit-log';
import { INDEX_TABLES, INDEX_VERSION_KEY, indexVersionOf, NO_INDEXER, rebuildingError, reindexInBatches } from './reindex';
import { CommitHooks, type HistoryPage, type HistoryQuery, type IndexedSearch, type KeyCondition, type PutOptions, type ResourceIndexer, type ResourceVersion, type SearchIds, type Store, type StoreWriter, type TransactionOptions } from './store';
import { subscriptionSchema, subscriptionWrites, type SubscriptionReads, type SubscriptionWrites } from './subscription-queue';
import { bodyOf, indexedAs, stamped, toVersion, VERSION_STATEMENTS, type VersionRow } from './versions';


const SCHEMA = `
CREATE TABLE IF NOT EXISTS versions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  last_updated TEXT NOT NULL,
  body TEXT,
  UNIQUE (type, id, version)
);
CREATE INDEX IF NOT EXISTS versions_by_type ON versions (type, seq);
CREATE TABLE IF NOT EXISTS settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS current (
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (type, id)
) WITHOUT ROWID;
`;

// The search index. Rows are clustered by resource (rid) so that re-indexing
// one is a range delete; one secondary index per table serves the searches.
const INDEX_SCHEMA = `
CREATE TABLE IF NOT EXISTS sp_resource (
  rid INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  UNIQUE (type, id)
);
CREATE INDEX IF NOT EXISTS sp_resource_by_type ON sp_resource (type, rid);
CREATE TABLE IF NOT EXISTS sp_token (
  rid INTEGER NOT NULL, p TEXT NOT NULL, system TEXT NOT NULL, code TEXT NOT NULL,
  PRIMARY KEY (rid, p, system, code)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sp_token_by_code ON sp_token (p, code, rid);
CREATE TABLE IF NOT EXISTS sp_string (
  rid INTEGER NOT NULL, p TEXT NOT NULL, norm TEXT NOT NULL, exact TEXT NOT NULL,
  PRIMARY KEY (rid, p, norm, exact)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sp_string_by_norm ON sp_string (p, norm);
CREATE TABLE IF NOT EXISTS sp_date (
  rid INTEGER NOT NULL, p TEXT NOT NULL, low REAL NOT NULL, high REAL NOT NULL,
  PRIMARY KEY (rid, p, low, high)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sp_date_by_low ON sp_date (p, low);
CREATE INDEX IF NOT EXISTS sp_date_by_high ON sp_date (p, high);
CREATE TABLE IF NOT EXISTS sp_number (
  rid INTEGER NOT NULL, p TEXT NOT NULL, value REAL NOT NULL,
  PRIMARY KEY (rid, p, value)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sp_number_by_value ON sp_number (p, value);
CREATE TABLE IF NOT EXISTS sp_ref (
  rid INTEGER NOT NULL, p TEXT NOT NULL, target_type TEXT NOT NULL, target_id TEXT NOT NULL, url TEXT NOT NULL,
  PRIMARY KEY (rid, p, target_type, target_id, url)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sp_ref_by_target ON sp_ref (p, target_id, url);
CREATE TABLE IF NOT EXISTS sp_sort (
  rid INTEGER NOT NULL, p TEXT NOT NULL, asc_key REAL NOT NULL, desc_key REAL NOT NULL,
  PRIMARY KEY (rid, p)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sp_sort_asc ON sp_sort (p, asc_key, rid);
CREATE INDEX IF NOT EXISTS sp_sort_desc ON sp_sort (p, desc_key, rid);
`;

/** The statements the reading connection prepares (it may not write). */
const READS = ['current', 'version', 'historyOfId', 'historyOfType', 'countOfId', 'countOfType', 'setting', 'indexedCount'] as const;


/** Prepared statements of one connection, the ad-hoc search ones kept in a small LRU. */
class Queries implements SqlRunner {
  private readonly statements = new Map<string, Statement>();
  private readonly adHoc = new Map<string, Statement>();

  constructor(private readonly db: Connection, texts: readonly string[]) {
    for (const text of texts) this.statements.set(text, db.prepare(text));
  }

  run(text: string, ...params: SqlValue[]): void {
    this.statements.get(text)!.run(...params);
  }

  get<T>(text: string, ...params: SqlValue[]): T | undefined {
    return this.statements.get(text)!.get(...params) as T | undefined;
  }

  rows<T>(text: string, ...params: SqlValue[]): T[] {
    return this.statements.get(text)!.all(...params) as T[];
  }

  /** A search's statement: its text depends only on the query's shape, so few distinct ones recur. */
  prepared(text: string): Statement {
    let statement = this.adHoc.get(text);
    if (statement) {
      this.adHoc.delete(text);
    } else {
      statement = this.db.prepare(text);
      if (this.adHoc.size >= 256) this.adHoc.delete(this.adHoc.keys().next().value as string);
    }
    this.adHoc.set(text, statement);
    return statement;
  }

  async all<T>(query: Sql): Promise<T[]> {
    return this.prepared(query.text).all(...(query.params as SqlValue[])) as T[];
  }

  /** Runs any statement: its rows when it answers some (a SELECT, a RETURNING). */
  async execute<T>(text: string, params: readonly SqlValue[]): Promise<T[]> {
    const statement = this.prepared(text);
    if (statement.reader) return statement.all(...(params as SqlValue[])) as T[];
    statement.run(...(params as SqlValue[]));
    return [];
  }

  async count(query: Sql): Promise<number> {
    return (this.prepared(query.text).get(...(query.params as SqlValue[])) as { n: number }).n;
  }
}

/** The statements that write the index, on the writing connection. */
class IndexWrites {
  readonly newRid: Statement<[string, string], { rid: number }>;
  readonly removeResource: Statement<[number]>;
  readonly removeRows: Statement<[number]>[];
  readonly token: Statement<[number, string, string, string]>;
  readonly string: Statement<[number, string, string, string]>;
  readonly date: Statement<[number, string, number, number]>;
  readonly number: Statement<[number, string, number]>;
  readonly reference: Statement<[number, string, string, string, string]>;
  readonly sort: Statement<[number, string, number, number]>;
  readonly findRid: Statement<[string, string], { rid: number }>;
  readonly referring: Statement<[string, string, string], { id: string }>;

  constructor(db: Connection) {
    this.newRid = db.prepare('INSERT INTO sp_resource (type, id) VALUES (?, ?) ON CONFLICT (type, id) DO NOTHING RETURNING rid');
    this.findRid = db.prepare('SELECT rid FROM sp_resource WHERE type = ? AND id = ?');
    this.removeResource = db.prepare('DELETE FROM sp_resource WHERE rid = ?');
    this.removeRows = INDEX_TABLES.map((table) => db.prepare(`DELETE FROM ${table} WHERE rid = ?`));
    this.token = db.prepare('INSERT OR IGNORE INTO sp_token (rid, p, system, code) VALUES (?, ?, ?, ?)');
    this.string = db.prepare('INSERT OR IGNORE INTO sp_string (rid, p, norm, exact) VALUES (?, ?, ?, ?)');
    this.date = db.prepare('INSERT OR IGNORE INTO sp_date (rid, p, low, high) VALUES (?, ?, ?, ?)');
    this.number = db.prepare('INSERT OR IGNORE INTO sp_number (rid, p, value) VALUES (?, ?, ?)');
    this.reference = db.prepare('INSERT OR IGNORE INTO sp_ref (rid, p, target_type, target_id, url) VALUES (?, ?, ?, ?, ?)');
    this.sort = db.prepare('INSERT OR REPLACE INTO sp_sort (rid, p, asc_key, desc_key) VALUES (?, ?, ?, ?)');
    this.referring = db.prepare(
      'SELECT r.id AS id FROM sp_ref x CROSS JOIN sp_resource r WHERE x.p = ? AND x.target_id = ? AND x.url = \'\' AND x.target_type = ? AND r.rid = x.rid',
    );
  }

  write(type: string, id: string, rows: IndexRows | undefined): void {
    if (rows === undefined) {
      const found = this.findRid.get(type, id);
      if (!found) return;
      for (const remove of this.removeRows) remove.run(found.rid);
      this.removeResource.run(found.rid);
      return;
    }
    // A new resource has no rows to remove.
    const created = this.newRid.get(type, id);
    const rid = created?.rid ?? this.findRid.get(type, id)!.rid;
    if (!created) for (const remove of this.removeRows) remove.run(rid);
    for (const r of rows.tokens) this.token.run(rid, r.p, r.system, r.code);
    for (const r of rows.strings) this.string.run(rid, r.p, r.norm, r.exact);
    for (const r of rows.dates) this.date.run(rid, r.p, r.low, r.high);
    for (const r of rows.numbers) this.number.run(rid, r.p, r.value);
    for (const r of rows.references) this.reference.run(rid, r.p, r.targetType, r.targetId, r.url);
    for (const r of rows.sorts) this.sort.run(rid, r.p, r.asc, r.desc);
  }
}

export interface SqliteStoreOptions {
  /** The compiled better-sqlite3 addon for this runtime's ABI, when not the one in node_modules. */
  nativeBinding?: string;
  /** What the search index holds of each resource; without it nothing is indexed. */
  indexer?: ResourceIndexer;
  /** Progress of an index rebuild at start, for Orthanc's log. */
  log?: (message: string) => void;
}


export class SqliteStore implements Store {
  readonly shared = false;
  /**
   * The audit trail, in a database file of its own beside this one, opened
   * at its first use: written at every request, its log (WAL) would
   * otherwise grow under every read of the FHIR data, and every read would
   * pay for it. Its writes queue apart from the FHIR transactions.
   */
  readonly audit: AuditLog = {
    append: (entries) => {
      const { db, insert } = this.auditFile();
      const run = this.auditQueue.then(() => {
        db.transaction(() => {
          for (const entry of entries) insert.run(...auditValues(entry));
        }).immediate();
      });
      this.auditQueue = run.catch(() => undefined);
      return run;
    },
    search: async (query) => this.auditFile().reads.all<AuditRow>(auditSearchSql(query)),
    count: async (query) => this.auditFile().reads.count(auditCountSql(query)),
    read: async (seq) => (await this.auditFile().reads.all<AuditRow>({ text: AUDIT_READ, params: [seq] }))[0],
  };
  private audited?: { db: Connection; reader: Connection; insert: Statement; reads: Queries };
  private auditQueue: Promise<unknown> = Promise.resolve();
  private readonly writer: Connection;
  private readonly reader: Connection;
  private readonly writes: Queries;
  private readonly reads: Queries;
  private readonly indexWrites: IndexWrites;
  private readonly subscriptionWrites: SubscriptionWrites;
  readonly subscriptions: SubscriptionReads;
  private readonly ambient = new AsyncLocalStorage<StoreWriter>();
  private readonly indexer: ResourceIndexer;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Set while the stored resources are indexed again (an upgrade, or an index deleted). */
  private rebuilding?: { done: number; total: number };
  private readonly log: (message: string) => void;

  constructor(private readonly file: string, private readonly options: SqliteStoreOptions = {}) {
    this.indexer = options.indexer ?? NO_INDEXER;
    this.writer = new Database(file, { nativeBinding: options.nativeBinding });
    this.writer.pragma('journal_mode = WAL');
    this.writer.pragma('synchronous = FULL');
    // Index writes touch many pages per resource: a larger page cache (bounded, in KiB) keeps the upper B-tree levels.
    this.writer.pragma('cache_size = -32768');
    this.writer.exec(SCHEMA);
    this.writer.exec(subscriptionSchema('sqlite'));
    const fresh = this.indexOutdated();
    if (fresh) for (const table of ['sp_resource', ...INDEX_TABLES]) this.writer.exec(`DROP TABLE IF EXISTS ${table}`);
    this.writer.exec(INDEX_SCHEMA);
    this.reader = new Database(file, { nativeBinding: options.nativeBinding, readonly: true });
    this.reader.pragma('busy_timeout = 5000');
    this.reader.pragma('cache_size = -16384');
    this.writes = new Queries(this.writer, Object.values(VERSION_STATEMENTS));
    this.reads = new Queries(this.reader, READS.map((key) => VERSION_STATEMENTS[key]));
    this.indexWrites = new IndexWrites(this.writer);
    this.subscriptionWrites = subscriptionWrites((text, params) => this.writes.execute(text, params), 'sqlite');
    // On the reading connection: the deliverer's reads never queue behind the writes.
    this.subscriptions = subscriptionWrites((text, params) => this.reads.execute(text, params), 'sqlite');
    if (fresh) {
      // The imaging index is rebuilt by its own module, from Orthanc.
      this.writer.prepare("DELETE FROM settings WHERE key LIKE 'imaging-index%'").run();
      const total = (this.writer.prepare('SELECT count(*) AS n FROM current').get() as { n: number }).n;
      if (total > 0) this.rebuilding = { done: 0, total };
      else this.writes.run(VERSION_STATEMENTS.putSetting, INDEX_VERSION_KEY, indexVersionOf(this.indexer)); // a new database: nothing to index
    }
    this.log = options.log ?? (() => undefined);
  }

  async maintain(): Promise<void> {
    if (this.rebuilding) await this.reindexStored();
  }

  private indexOutdated(): boolean {
    const row = this.writer.prepare(VERSION_STATEMENTS.setting).get(INDEX_VERSION_KEY) as { value: string } | undefined;
    return row?.value !== indexVersionOf(this.indexer);
  }

  /**
   * A database of an earlier version (or one whose index was deleted): the
   * stored resources are indexed again, in batches; the imaging ones are
   * rebuilt from Orthanc by their own module (the setting that says they
   * were built is dropped with the tables' version).
   */
  private async reindexStored(): Promise<void> {
    const progress = this.rebuilding!;
    this.log(`search index: indexing the ${progress.total} stored resources in the background; their searches answer 503 until it is done`);
    await reindexInBatches(this, progress, this.log);
    this.rebuilding = undefined;
    this.log(`search index: the ${progress.total} stored resources are indexed`);
  }

  private read(type: string, id: string): Promise<Resource | undefined> {
    return Promise.resolve(bodyOf(this.writes.get<VersionRow>(VERSION_STATEMENTS.current, type, id)));
  }

  /** Inside a transaction, reads see its writes; elsewhere, only what is committed. */
  private get queries(): Queries {
    return this.ambient.getStore() ? this.writes : this.reads;
  }

  async current(resourceType: string, id: string): Promise<ResourceVersion | undefined> {
    const row = this.queries.get<VersionRow>(VERSION_STATEMENTS.current, resourceType, id);
    return row ? toVersion(row) : undefined;
  }

  async currentOf(resourceType: string, ids: readonly string[]): Promise<ResourceVersion[]> {
    // A local read costs no round trip: one statement per id.
    return ids.flatMap((id) => {
      const row = this.queries.get<VersionRow>(VERSION_STATEMENTS.current, resourceType, id);
      return row ? [toVersion(row)] : [];
    });
  }

  async version(resourceType: string, id: string, versionId: number): Promise<ResourceVersion | undefined> {
    const row = this.queries.get<VersionRow>(VERSION_STATEMENTS.version, resourceType, id, versionId);
    return row ? toVersion(row) : undefined;
  }

  async history(resourceType: string, id: string | undefined, query: HistoryQuery): Promise<HistoryPage> {
    const since = query.since ?? '';
    const q = this.queries;
    const rows = id === undefined
      ? q.rows<VersionRow>(VERSION_STATEMENTS.historyOfType, resourceType, since, query.count, query.offset)
      : q.rows<VersionRow>(VERSION_STATEMENTS.historyOfId, resourceType, id, since, query.count, query.offset);
    const total = (id === undefined
      ? q.get<{ n: number }>(VERSION_STATEMENTS.countOfType, resourceType, since)
      : q.get<{ n: number }>(VERSION_STATEMENTS.countOfId, resourceType, id, since))?.n ?? 0;
    return { total, versions: rows.map(toVersion) };
  }

  async setting(key: string): Promise<string | undefined> {
    return this.queries.get<{ value: string }>(VERSION_STATEMENTS.setting, key)?.value;
  }

  async indexedCount(resourceType: string): Promise<number> {
    return this.queries.get<{ n: number }>(VERSION_STATEMENTS.indexedCount, resourceType)?.n ?? 0;
  }

  async lookup(resourceType: string, key: string, values: readonly string[]): Promise<string[]> {
    if (values.length === 0) return [];
    return (await this.queries.all<{ id: string }>(lookupQuery(resourceType, key, values))).map((row) => row.id);
  }

  keyed(resourceType: string, conditions: readonly KeyCondition[]): Promise<string[]> {
    return keyedIds(resourceType, conditions, this.queries);
  }

  async search(search: IndexedSearch): Promise<SearchIds> {
    if (this.rebuilding) throw rebuildingError(this.rebuilding);
    return runSearch(search, this.queries);
  }

  get inTransaction(): boolean {
    return this.ambient.getStore() !== undefined;
  }

  outside<T>(work: () => T): T {
    return this.ambient.exit(work);
  }

  /** One process holds the database file: a lock of this process is every process's. */
  exclusive<T>(name: string, work: () => Promise<T>, options: { wait?: boolean } = {}): Promise<T | undefined> {
    const held = this.locks.get(name);
    if (held && options.wait === false) return Promise.resolve(undefined);
    const run = (held ?? Promise.resolve()).catch(() => undefined).then(work);
    const tail = run.catch(() => undefined);
    this.locks.set(name, tail);
    void tail.then(() => {
      if (this.locks.get(name) === tail) this.locks.delete(name);
    });
    return run;
  }

  transaction<T>(work: (writer: StoreWriter) => Promise<T> | T, options: TransactionOptions = {}): Promise<T> {
    const joined = this.ambient.getStore();
    if (joined) return Promise.resolve(work(joined));
    // One transaction at a time on the writing connection: serializable by construction.
    const hooks = new CommitHooks();
    const run = this.queue.then(() => this.runTransaction(work, hooks, options.durable !== false));
    this.queue = run.catch(() => undefined);
    // After the commit, and off the queue: the hooks may start transactions of their own.
    return run.then(async (result) => {
      await this.outside(() => hooks.run(this.log));
      return result;
    });
  }

  private async runTransaction<T>(work: (writer: StoreWriter) => Promise<T> | T, hooks: CommitHooks, durable: boolean): Promise<T> {
    const writer: StoreWriter = {
      afterCommit: (hook) => hooks.add(hook),
      current: async (type, id) => {
        const row = this.writes.get<VersionRow>(VERSION_STATEMENTS.current, type, id);
        return row ? toVersion(row) : undefined;
      },
      put: (type, id, resource, options) => this.put(type, id, resource, options),
      index: async (type, id, resource) => this.indexWrites.write(type, id, resource && await this.indexer.rows(resource, (t, i) => this.read(t, i))),
      setting: async (key) => this.writes.get<{ value: string }>(VERSION_STATEMENTS.setting, key)?.value,
      // One transaction at a time: every key is held already.
      lock: async () => undefined,
      putSetting: async (key, value) => {
        this.writes.run(VERSION_STATEMENTS.putSetting, key, value);
      },
      subscriptions: this.subscriptionWrites,
    };
    // In WAL mode, NORMAL commits without syncing the log; the next FULL commit syncs it, earlier frames included.
    // Restored whatever happens (BEGIN itself may fail), so that no later write is left without its sync.
    if (!durable) this.writer.pragma('synchronous = NORMAL');
    try {
      this.writer.exec('BEGIN IMMEDIATE');
      const result = await this.ambient.run(writer, () => work(writer));
      this.writer.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.writer.inTransaction) this.writer.exec('ROLLBACK');
      throw error;
    } finally {
      if (!durable) this.writer.pragma('synchronous = FULL');
    }
  }

  private async put(type: string, id: string, resource: Resource | undefined, options: PutOptions = {}): Promise<ResourceVersion> {
    const previous = this.writes.get<VersionRow>(VERSION_STATEMENTS.current, type, id);
    const versionId = (previous?.version ?? 0) + 1;
    const lastUpdated = new Date().toISOString();
    const stored = resource && stamped(type, id, resource, versionId, lastUpdated);
    this.writes.run(VERSION_STATEMENTS.insertVersion, type, id, versionId, lastUpdated, stored ? JSON.stringify(stored) : null);
    this.writes.run(VERSION_STATEMENTS.setCurrent, type, id, versionId);
    const read = (t: string, i: string) => this.read(t, i);
    this.indexWrites.write(type, id, stored && await this.indexer.rows(indexedAs(stored, options), read, options.baseUrl));
    for (const dependent of this.indexer.dependents(type)) {
      for (const { id: other } of this.writes.rows<{ id: string }>(VERSION_STATEMENTS.referring, paramKey(dependent.type, dependent.param), id, type)) {
        const body = await this.read(dependent.type, other);
        if (body) this.indexWrites.write(dependent.type, other, await this.indexer.rows(body, read));
      }
    }
    return { resourceType: type, id, versionId, lastUpdated, ...(stored ? { resource: stored } : {}) };
  }

  /** The latest versions after (type, id), for a re-index batch inside a transaction. */
  async latestAfter(after: readonly [string, string]): Promise<VersionRow[]> {
    return this.writes.rows<VersionRow>(VERSION_STATEMENTS.latestAfter, ...after);
  }

  /** Re-indexes one stored version inside a transaction. */
  async reindex(row: VersionRow): Promise<void> {
    const resource = bodyOf(row);
    this.indexWrites.write(row.type, row.id, resource && await this.indexer.rows(resource, (t, i) => this.read(t, i)));
  }

  /** Says the index is complete (inside the last batch's transaction). */
  async indexComplete(): Promise<void> {
    this.writes.run(VERSION_STATEMENTS.putSetting, INDEX_VERSION_KEY, indexVersionOf(this.indexer));
  }

  private auditFile(): NonNullable<SqliteStore['audited']> {
    if (!this.audited) {
      const path = this.file.replace(/(\.sqlite)?$/, '-audit.sqlite');
      const db = new Database(path, { nativeBinding: this.options.nativeBinding });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.exec(auditSchema('sqlite'));
      const reader = new Database(path, { nativeBinding: this.options.nativeBinding, readonly: true });
      reader.pragma('busy_timeout = 5000');
      this.audited = { db, reader, insert: db.prepare(AUDIT_INSERT), reads: new Queries(reader, []) };
    }
    return this.audited;
  }

  close(): void {
    this.reader.close();
    this.writer.close();
    this.audited?.reader.close();
    this.audited?.db.close();
  }
}
