// The embedded store: one SQLite database file (better-sqlite3), in WAL mode
// with synchronous=FULL so that a commit is on disk before the write is
// answered. Writes go through one connection, one transaction at a time;
// reads use a second connection, so they never see a transaction that is
// still open (and may yet roll back).
import { AsyncLocalStorage } from 'node:async_hooks';
import Database, { type Database as Connection, type Statement } from 'better-sqlite3';
import type { Resource } from '../fhir/types';
import type { HistoryPage, HistoryQuery, ResourceVersion, Store, StoreWriter } from './store';

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

interface Row {
  type: string;
  id: string;
  version: number;
  last_updated: string;
  body: string | null;
}

function withoutIdentity(resource: Resource): Record<string, unknown> {
  const { resourceType: _type, id: _id, meta: _meta, ...rest } = resource;
  return rest;
}

function toVersion(row: Row): ResourceVersion {
  const version: ResourceVersion = { resourceType: row.type, id: row.id, versionId: row.version, lastUpdated: row.last_updated };
  if (row.body !== null) version.resource = JSON.parse(row.body) as Resource;
  return version;
}

class Queries {
  readonly current: Statement<[string, string], Row>;
  readonly version: Statement<[string, string, number], Row>;
  readonly list: Statement<[string], { body: string }>;
  readonly historyOfId: Statement<[string, string, string, number, number], Row>;
  readonly historyOfType: Statement<[string, string, number, number], Row>;
  readonly countOfId: Statement<[string, string, string], { n: number }>;
  readonly countOfType: Statement<[string, string], { n: number }>;
  readonly setting: Statement<[string], { value: string }>;

  constructor(db: Connection) {
    const latest = 'SELECT v.* FROM current c JOIN versions v ON v.type = c.type AND v.id = c.id AND v.version = c.version';
    this.current = db.prepare(`${latest} WHERE c.type = ? AND c.id = ?`);
    this.version = db.prepare('SELECT * FROM versions WHERE type = ? AND id = ? AND version = ?');
    this.list = db.prepare(`SELECT v.body AS body FROM current c JOIN versions v ON v.type = c.type AND v.id = c.id AND v.version = c.version WHERE c.type = ? AND v.body IS NOT NULL ORDER BY v.seq`);
    this.historyOfId = db.prepare('SELECT * FROM versions WHERE type = ? AND id = ? AND last_updated >= ? ORDER BY seq DESC LIMIT ? OFFSET ?');
    this.historyOfType = db.prepare('SELECT * FROM versions WHERE type = ? AND last_updated >= ? ORDER BY seq DESC LIMIT ? OFFSET ?');
    this.countOfId = db.prepare('SELECT count(*) AS n FROM versions WHERE type = ? AND id = ? AND last_updated >= ?');
    this.countOfType = db.prepare('SELECT count(*) AS n FROM versions WHERE type = ? AND last_updated >= ?');
    this.setting = db.prepare('SELECT value FROM settings WHERE key = ?');
  }
}

export interface SqliteStoreOptions {
  /** The compiled better-sqlite3 addon for this runtime's ABI, when not the one in node_modules. */
  nativeBinding?: string;
}

export class SqliteStore implements Store {
  private readonly writer: Connection;
  private readonly reader: Connection;
  private readonly writes: Queries;
  private readonly reads: Queries;
  private readonly insertVersion: Statement<[string, string, number, string, string | null]>;
  private readonly setCurrent: Statement<[string, string, number]>;
  private readonly putSettingStatement: Statement<[string, string]>;
  private readonly ambient = new AsyncLocalStorage<StoreWriter>();
  private queue: Promise<unknown> = Promise.resolve();
  /**
   * Parsed live resources per type, as of the last commit that wrote the
   * type: this process is the only writer, so searches and worklist queries
   * need not parse every row each time. Shared: callers must not mutate.
   */
  private readonly listed = new Map<string, readonly Resource[]>();
  private readonly writtenTypes = new Set<string>();

  constructor(file: string, options: SqliteStoreOptions = {}) {
    this.writer = new Database(file, { nativeBinding: options.nativeBinding });
    this.writer.pragma('journal_mode = WAL');
    this.writer.pragma('synchronous = FULL');
    this.writer.exec(SCHEMA);
    this.reader = new Database(file, { nativeBinding: options.nativeBinding, readonly: true });
    this.reader.pragma('busy_timeout = 5000');
    this.writes = new Queries(this.writer);
    this.reads = new Queries(this.reader);
    this.insertVersion = this.writer.prepare('INSERT INTO versions (type, id, version, last_updated, body) VALUES (?, ?, ?, ?, ?)');
    this.putSettingStatement = this.writer.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.setCurrent = this.writer.prepare('INSERT INTO current (type, id, version) VALUES (?, ?, ?) ON CONFLICT (type, id) DO UPDATE SET version = excluded.version');
  }

  /** Inside a transaction, reads see its writes; elsewhere, only what is committed. */
  private get queries(): Queries {
    return this.ambient.getStore() ? this.writes : this.reads;
  }

  async current(resourceType: string, id: string): Promise<ResourceVersion | undefined> {
    const row = this.queries.current.get(resourceType, id);
    return row ? toVersion(row) : undefined;
  }

  async version(resourceType: string, id: string, versionId: number): Promise<ResourceVersion | undefined> {
    const row = this.queries.version.get(resourceType, id, versionId);
    return row ? toVersion(row) : undefined;
  }

  async history(resourceType: string, id: string | undefined, query: HistoryQuery): Promise<HistoryPage> {
    const since = query.since ?? '';
    const q = this.queries;
    const rows = id === undefined
      ? q.historyOfType.all(resourceType, since, query.count, query.offset)
      : q.historyOfId.all(resourceType, id, since, query.count, query.offset);
    const total = (id === undefined ? q.countOfType.get(resourceType, since) : q.countOfId.get(resourceType, id, since))?.n ?? 0;
    return { total, versions: rows.map(toVersion) };
  }

  async setting(key: string): Promise<string | undefined> {
    return this.queries.setting.get(key)?.value;
  }

  async list(resourceType: string): Promise<Resource[]> {
    const inTransaction = this.ambient.getStore() !== undefined;
    const cached = inTransaction ? undefined : this.listed.get(resourceType);
    if (cached) return cached as Resource[];
    const resources = Object.freeze(this.queries.list.all(resourceType).map((row) => JSON.parse(row.body) as Resource));
    if (!inTransaction) this.listed.set(resourceType, resources);
    return resources as Resource[];
  }

  transaction<T>(work: (writer: StoreWriter) => Promise<T> | T): Promise<T> {
    const joined = this.ambient.getStore();
    if (joined) return Promise.resolve(work(joined));
    // One transaction at a time on the writing connection.
    const run = this.queue.then(() => this.runTransaction(work));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async runTransaction<T>(work: (writer: StoreWriter) => Promise<T> | T): Promise<T> {
    const writer: StoreWriter = {
      current: (type, id) => {
        const row = this.writes.current.get(type, id);
        return row ? toVersion(row) : undefined;
      },
      put: (type, id, resource) => this.put(type, id, resource),
      putSetting: (key, value) => {
        this.putSettingStatement.run(key, value);
      },
    };
    this.writer.exec('BEGIN IMMEDIATE');
    this.writtenTypes.clear();
    try {
      const result = await this.ambient.run(writer, () => work(writer));
      this.writer.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.writer.inTransaction) this.writer.exec('ROLLBACK');
      throw error;
    } finally {
      for (const type of this.writtenTypes) this.listed.delete(type);
    }
  }

  private put(type: string, id: string, resource: Resource | undefined): ResourceVersion {
    this.writtenTypes.add(type);
    const previous = this.writes.current.get(type, id);
    const versionId = (previous?.version ?? 0) + 1;
    const lastUpdated = new Date().toISOString();
    // resourceType, id and meta first, as FHIR JSON is usually written.
    const stored = resource
      ? { resourceType: type, id, meta: { ...(resource.meta ?? {}), versionId: String(versionId), lastUpdated }, ...withoutIdentity(resource) }
      : undefined;
    this.insertVersion.run(type, id, versionId, lastUpdated, stored ? JSON.stringify(stored) : null);
    this.setCurrent.run(type, id, versionId);
    return { resourceType: type, id, versionId, lastUpdated, ...(stored ? { resource: stored } : {}) };
  }

  close(): void {
    this.reader.close();
    this.writer.close();
  }
}
