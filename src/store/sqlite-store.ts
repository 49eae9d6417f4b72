// The embedded store: one SQLite database file (better-sqlite3), in WAL mode
// with synchronous=FULL so that a commit is on disk before the write is
// answered. Writes go through one connection, one transaction at a time;
// reads use a second connection, so they never see a transaction that is
// still open (and may yet roll back). Searches run here, over index tables
// filled in the same transaction as the write they index.
import { AsyncLocalStorage } from 'node:async_hooks';
import Database, { type Database as Connection, type Statement } from 'better-sqlite3';
import { OperationOutcomeError, outcome } from '../fhir/outcome';
import type { Resource } from '../fhir/types';
import type { IndexRows } from '../search/index-rows';
import { paramKey } from '../search/index-rows';
import {
  compileEstimate, compileSearch, compileSortedCount, compileSortedScan, compileUnsortedRest, type SearchPlan, type Sql, type SqlValue,
} from '../search/search-sql';
import type {
  HistoryPage, HistoryQuery, IndexedSearch, KeyCondition, PutOptions, ResourceIndexer, ResourceVersion, SearchIds, Store, StoreWriter,
} from './store';

/** Bumped when the index tables or what goes into them change: the index is then rebuilt at start. */
export const INDEX_VERSION = '1';
const INDEX_VERSION_KEY = 'index-version';

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

const INDEX_TABLES = ['sp_token', 'sp_string', 'sp_date', 'sp_number', 'sp_ref', 'sp_sort'];

/** Bundle.total is given unasked while the matches are fewer than this. */
const CHEAP_TOTAL = 1000;
/** The first, cheap count of each filter's rows stops here. */
const FEW = 64;
/** A filter with fewer rows than this drives the query; broader ones are checked row by row. */
const SELECTIVE = 2000;
/** With several filters, the narrowest drives while it has fewer rows than this. */
const SELECTIVE_AMONG_SEVERAL = 20000;

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

/** Prepared statements of one connection, the ad-hoc search ones kept in a small LRU. */
class Queries {
  readonly current: Statement<[string, string], Row>;
  readonly version: Statement<[string, string, number], Row>;
  readonly historyOfId: Statement<[string, string, string, number, number], Row>;
  readonly historyOfType: Statement<[string, string, number, number], Row>;
  readonly countOfId: Statement<[string, string, string], { n: number }>;
  readonly countOfType: Statement<[string, string], { n: number }>;
  readonly setting: Statement<[string], { value: string }>;
  readonly indexedCount: Statement<[string], { n: number }>;
  private readonly adHoc = new Map<string, Statement>();

  constructor(private readonly db: Connection) {
    const latest = 'SELECT v.* FROM current c JOIN versions v ON v.type = c.type AND v.id = c.id AND v.version = c.version';
    this.current = db.prepare(`${latest} WHERE c.type = ? AND c.id = ?`);
    this.version = db.prepare('SELECT * FROM versions WHERE type = ? AND id = ? AND version = ?');
    this.historyOfId = db.prepare('SELECT * FROM versions WHERE type = ? AND id = ? AND last_updated >= ? ORDER BY seq DESC LIMIT ? OFFSET ?');
    this.historyOfType = db.prepare('SELECT * FROM versions WHERE type = ? AND last_updated >= ? ORDER BY seq DESC LIMIT ? OFFSET ?');
    this.countOfId = db.prepare('SELECT count(*) AS n FROM versions WHERE type = ? AND id = ? AND last_updated >= ?');
    this.countOfType = db.prepare('SELECT count(*) AS n FROM versions WHERE type = ? AND last_updated >= ?');
    this.setting = db.prepare('SELECT value FROM settings WHERE key = ?');
    this.indexedCount = db.prepare('SELECT count(*) AS n FROM sp_resource WHERE type = ?');
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

  all<T>(query: Sql): T[] {
    return this.prepared(query.text).all(...(query.params as SqlValue[])) as T[];
  }

  count(query: Sql): number {
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

const NO_INDEXER: ResourceIndexer = { rows: () => undefined, dependents: () => [] };

export class SqliteStore implements Store {
  private readonly writer: Connection;
  private readonly reader: Connection;
  private readonly writes: Queries;
  private readonly reads: Queries;
  private readonly indexWrites: IndexWrites;
  private readonly insertVersion: Statement<[string, string, number, string, string | null]>;
  private readonly setCurrent: Statement<[string, string, number]>;
  private readonly putSettingStatement: Statement<[string, string]>;
  private readonly ambient = new AsyncLocalStorage<StoreWriter>();
  private readonly indexer: ResourceIndexer;
  private queue: Promise<unknown> = Promise.resolve();
  /** Set while the stored resources are indexed again (an upgrade, or an index deleted). */
  private rebuilding?: { done: number; total: number };
  private readonly log: (message: string) => void;

  constructor(file: string, options: SqliteStoreOptions = {}) {
    this.indexer = options.indexer ?? NO_INDEXER;
    this.writer = new Database(file, { nativeBinding: options.nativeBinding });
    this.writer.pragma('journal_mode = WAL');
    this.writer.pragma('synchronous = FULL');
    // Index writes touch many pages per resource: a larger page cache (bounded, in KiB) keeps the upper B-tree levels.
    this.writer.pragma('cache_size = -32768');
    this.writer.exec(SCHEMA);
    const fresh = this.indexOutdated();
    if (fresh) for (const table of ['sp_resource', ...INDEX_TABLES]) this.writer.exec(`DROP TABLE IF EXISTS ${table}`);
    this.writer.exec(INDEX_SCHEMA);
    this.reader = new Database(file, { nativeBinding: options.nativeBinding, readonly: true });
    this.reader.pragma('busy_timeout = 5000');
    this.reader.pragma('cache_size = -16384');
    this.writes = new Queries(this.writer);
    this.reads = new Queries(this.reader);
    this.indexWrites = new IndexWrites(this.writer);
    this.insertVersion = this.writer.prepare('INSERT INTO versions (type, id, version, last_updated, body) VALUES (?, ?, ?, ?, ?)');
    this.putSettingStatement = this.writer.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.setCurrent = this.writer.prepare('INSERT INTO current (type, id, version) VALUES (?, ?, ?) ON CONFLICT (type, id) DO UPDATE SET version = excluded.version');
    if (fresh) {
      // The imaging index is rebuilt by its own module, from Orthanc.
      this.writer.prepare("DELETE FROM settings WHERE key LIKE 'imaging-index%'").run();
      const total = (this.writer.prepare('SELECT count(*) AS n FROM current').get() as { n: number }).n;
      if (total > 0) this.rebuilding = { done: 0, total };
      else this.putSettingStatement.run(INDEX_VERSION_KEY, INDEX_VERSION); // a new database: nothing to index
    }
    this.log = options.log ?? (() => undefined);
  }

  async maintain(): Promise<void> {
    if (this.rebuilding) await this.reindexStored();
  }

  private indexOutdated(): boolean {
    const row = this.writer.prepare('SELECT value FROM settings WHERE key = ?').get(INDEX_VERSION_KEY) as { value: string } | undefined;
    return row?.value !== INDEX_VERSION;
  }

  /**
   * A database of an earlier version (or one whose index was deleted): the
   * stored resources are indexed again, in batches; the imaging ones are
   * rebuilt from Orthanc by their own module (the setting that says they
   * were built is dropped with the tables' version).
   */
  private async reindexStored(): Promise<void> {
    const progress = this.rebuilding!;
    const page = this.writer.prepare(
      'SELECT v.* FROM current c JOIN versions v ON v.type = c.type AND v.id = c.id AND v.version = c.version WHERE (c.type, c.id) > (?, ?) ORDER BY c.type, c.id LIMIT 500',
    );
    this.log(`search index: indexing the ${progress.total} stored resources in the background; their searches answer 503 until it is done`);
    let after: [string, string] = ['', ''];
    let lastLog = Date.now();
    for (;;) {
      // Each batch is a transaction of its own, between the clients' writes (which index themselves).
      const count = await this.transaction(() => {
        const rows = page.all(...after) as Row[];
        for (const row of rows) {
          const resource = row.body === null ? undefined : (JSON.parse(row.body) as Resource);
          this.indexWrites.write(row.type, row.id, resource && this.rowsOf(resource, (type, id) => this.writes.current.get(type, id)));
        }
        if (rows.length > 0) after = [rows.at(-1)!.type, rows.at(-1)!.id];
        else this.putSettingStatement.run(INDEX_VERSION_KEY, INDEX_VERSION);
        return rows.length;
      });
      if (count === 0) break;
      progress.done += count;
      if (Date.now() - lastLog > 10000) {
        lastLog = Date.now();
        this.log(`search index: ${progress.done} of ${progress.total} stored resources indexed`);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.rebuilding = undefined;
    this.log(`search index: the ${progress.total} stored resources are indexed`);
  }

  private rowsOf(resource: Resource, current: (type: string, id: string) => Row | undefined, baseUrl?: string): IndexRows | undefined {
    const read = (type: string, id: string) => {
      const row = current(type, id);
      return row?.body ? (JSON.parse(row.body) as Resource) : undefined;
    };
    return this.indexer.rows(resource, read, baseUrl);
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

  async indexedCount(resourceType: string): Promise<number> {
    return this.queries.indexedCount.get(resourceType)?.n ?? 0;
  }

  async lookup(resourceType: string, key: string, values: readonly string[]): Promise<string[]> {
    if (values.length === 0) return [];
    const p = paramKey(resourceType, key);
    const rows = this.queries.all<{ id: string }>({
      text: `SELECT DISTINCT r.id AS id FROM sp_token t CROSS JOIN sp_resource r WHERE t.p = ? AND t.code IN (${values.map(() => '?').join(', ')}) AND r.rid = t.rid ORDER BY r.rid`,
      params: [p, ...values],
    });
    return rows.map((row) => row.id);
  }

  async keyed(resourceType: string, conditions: readonly KeyCondition[]): Promise<string[]> {
    const rows = (condition: KeyCondition): Sql => {
      const params: SqlValue[] = [paramKey(resourceType, condition.key)];
      const parts: string[] = [];
      if (condition.values) {
        parts.push(condition.values.length === 0 ? '1 = 0' : `code IN (${condition.values.map(() => '?').join(', ')})`);
        params.push(...condition.values);
      }
      if (condition.from !== undefined) {
        parts.push('code >= ?');
        params.push(condition.from);
      }
      if (condition.to !== undefined) {
        parts.push('code <= ?');
        params.push(condition.to);
      }
      return { text: `sp_token WHERE p = ?${parts.map((part) => ` AND ${part}`).join('')}`, params };
    };
    if (conditions.length === 0) return [];
    // The narrowest condition drives (its rows counted up to a cap); the others are checked per row.
    const all = conditions.map(rows);
    const narrowest = this.narrowest(all.map((c) => (cap: number) => this.queries.count(
      { text: `SELECT count(*) AS n FROM (SELECT 1 FROM ${c.text} LIMIT ${cap}) e`, params: c.params }))).index;
    const first = all[narrowest];
    const others = all.filter((_, i) => i !== narrowest);
    const checks = others.map((other) => `EXISTS (SELECT 1 FROM ${other!.text} AND rid = r.rid)`);
    const text = `SELECT r.id AS id FROM (SELECT DISTINCT rid FROM ${first!.text}) d CROSS JOIN sp_resource r WHERE r.rid = d.rid${checks.map((c) => ` AND ${c}`).join('')} ORDER BY r.rid`;
    return this.queries.all<{ id: string }>({ text, params: [...first!.params, ...others.flatMap((o) => o!.params)] }).map((row) => row.id);
  }

  /**
   * The narrowest of several row sets, by counting each up to a small cap
   * first (a key of a few rows is found at once), then up to SELECTIVE: the
   * cost stays bounded however large the broad ones grow.
   */
  private narrowest(counts: Array<(cap: number) => number>): { index: number; n: number } {
    let best = { index: -1, n: Infinity };
    for (const cap of [FEW, SELECTIVE]) {
      counts.forEach((count, index) => {
        const n = count(cap);
        if (n < best.n) best = { index, n };
      });
      if (best.n < cap) return best;
      best = { index: -1, n: Infinity };
    }
    return { index: 0, n: SELECTIVE };
  }

  /** Which filter drives: the narrowest, by counting its rows up to a cap. */
  private plan(search: IndexedSearch, q: Queries): SearchPlan {
    const positives = search.filters.flatMap((filter, index) => {
      const estimate = (cap: number) => compileEstimate(filter, search.resourceType, search.now, cap);
      return estimate(1) ? [{ index, count: (cap: number) => q.count(estimate(cap)!) }] : [];
    });
    if (positives.length === 0) return {};
    const narrow = this.narrowest(positives.map((p) => p.count));
    if (narrow.n < SELECTIVE) return { driver: positives[narrow.index]!.index };
    // Several broad filters may still meet rarely: drive from the narrowest while it is not too broad.
    if (positives.length < 2) return {};
    let wider = { index: -1, n: Infinity };
    positives.forEach((p, index) => {
      const n = p.count(SELECTIVE_AMONG_SEVERAL);
      if (n < wider.n) wider = { index, n };
    });
    return wider.n < SELECTIVE_AMONG_SEVERAL ? { driver: positives[wider.index]!.index } : {};
  }

  async search(search: IndexedSearch): Promise<SearchIds> {
    if (this.rebuilding) {
      const { done, total } = this.rebuilding;
      throw new OperationOutcomeError(503, outcome('transient', `The search index is being rebuilt (${done} of ${total} resources); try again shortly`),
        { 'retry-after': '10' });
    }
    const q = this.queries;
    const type = search.resourceType;
    const plan = this.plan(search, q);
    const wantsTotal = search.total === 'accurate' || search.summary === 'count' || search.count === 0;
    const counted = () => q.count(compileSearch(search, type, plan, 'count'));
    if (search.summary === 'count' || search.count === 0) return { ids: [], more: false, total: counted() };
    const page = { limit: search.count + 1, offset: search.offset };
    let rows: Array<{ id: string }>;
    const sortedScan = plan.driver === undefined && search.sort.length === 1 && search.sort[0]!.param.type === 'date';
    if (sortedScan) {
      // Walk the sort index in order; resources without a value come after, in row order.
      rows = q.all<{ id: string }>(compileSortedScan(search, type, page));
      if (rows.length < page.limit) {
        const withValue = rows.length > 0 || search.offset === 0 ? search.offset + rows.length : q.count(compileSortedCount(search, type));
        const rest = q.all<{ id: string }>(compileUnsortedRest(search, type,
          { limit: page.limit - rows.length, offset: Math.max(0, search.offset - withValue) }));
        rows = [...rows, ...rest];
      }
    } else {
      rows = q.all<{ id: string }>(compileSearch(search, type, plan, page));
    }
    const more = rows.length > search.count;
    const ids = rows.slice(0, search.count).map((row) => row.id);
    // Without more matches, the total is known for free (unless the page is
    // past the end); a small one costs little to count; a large one only
    // when asked for.
    let total: number | undefined;
    if (wantsTotal) total = counted();
    else if (!more && (ids.length > 0 || search.offset === 0)) total = search.offset + ids.length;
    // Driven by a selective filter, the matches are few: counting them is cheap. A scan's are many.
    else if (plan.driver !== undefined) total = this.smallTotal(search, plan, q);
    return total === undefined ? { ids, more } : { ids, more, total };
  }

  /** The number of matches when it is below CHEAP_TOTAL (the count stops there), else undefined. */
  private smallTotal(search: IndexedSearch, plan: SearchPlan, q: Queries): number | undefined {
    const capped = compileSearch({ ...search, sort: [] }, search.resourceType, plan, { limit: CHEAP_TOTAL, offset: 0 });
    const n = q.count({ text: `SELECT count(*) AS n FROM (${capped.text}) c`, params: capped.params });
    return n < CHEAP_TOTAL ? n : undefined;
  }

  get inTransaction(): boolean {
    return this.ambient.getStore() !== undefined;
  }

  outside<T>(work: () => T): T {
    return this.ambient.exit(work);
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
      put: (type, id, resource, options) => this.put(type, id, resource, options),
      index: (type, id, resource) => this.indexWrites.write(type, id, resource && this.rowsOf(resource, (t, i) => this.writes.current.get(t, i))),
      putSetting: (key, value) => {
        this.putSettingStatement.run(key, value);
      },
    };
    this.writer.exec('BEGIN IMMEDIATE');
    try {
      const result = await this.ambient.run(writer, () => work(writer));
      this.writer.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.writer.inTransaction) this.writer.exec('ROLLBACK');
      throw error;
    }
  }

  private put(type: string, id: string, resource: Resource | undefined, options: PutOptions = {}): ResourceVersion {
    const previous = this.writes.current.get(type, id);
    const versionId = (previous?.version ?? 0) + 1;
    const lastUpdated = new Date().toISOString();
    // resourceType, id and meta first, as FHIR JSON is usually written.
    const stored = resource
      ? { resourceType: type, id, meta: { ...(resource.meta ?? {}), versionId: String(versionId), lastUpdated }, ...withoutIdentity(resource) }
      : undefined;
    this.insertVersion.run(type, id, versionId, lastUpdated, stored ? JSON.stringify(stored) : null);
    this.setCurrent.run(type, id, versionId);
    const current = (t: string, i: string) => this.writes.current.get(t, i);
    const indexed = stored && (options.indexAs ? { ...options.indexAs, meta: { ...(options.indexAs.meta ?? {}), ...stored.meta } } : stored);
    this.indexWrites.write(type, id, indexed && this.rowsOf(indexed, current, options.baseUrl));
    for (const dependent of this.indexer.dependents(type)) {
      for (const { id: other } of this.indexWrites.referring.all(paramKey(dependent.type, dependent.param), id, type)) {
        const row = current(dependent.type, other);
        const body = row?.body ? (JSON.parse(row.body) as Resource) : undefined;
        if (body) this.indexWrites.write(dependent.type, other, this.rowsOf(body, current));
      }
    }
    return { resourceType: type, id, versionId, lastUpdated, ...(stored ? { resource: stored } : {}) };
  }

  close(): void {
    this.reader.close();
    this.writer.close();
  }
}
