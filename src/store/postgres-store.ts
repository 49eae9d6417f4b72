// The store on PostgreSQL (node-postgres), for several Orthancs sharing one
// database: the same tables as the SQLite store, in a schema of their own.
// Correct by the database, not by luck, with locks that only writers of the
// same data wait for (SERIALIZABLE was tried first: its page-level predicate
// locks made two Bundles of unrelated orders abort each other):
// - a resource read to be written (StoreWriter.current, put) is locked FOR
//   UPDATE until the transaction ends, so If-Match has no lost update; a
//   resource an index row is computed from (a Task's order) is locked FOR
//   SHARE, so the row cannot be computed from a version being replaced;
// - a conditional create first takes an advisory lock on its condition, so
//   two cannot both find nothing; a setting compared before it is moved (the
//   change-log cursor) is locked FOR UPDATE;
// - what loses a race anyway (a deadlock, two creates of one new id) is
//   rolled back and run again (the contract says `work` may run more than
//   once);
// - exclusive() is a PostgreSQL advisory lock, held by one connection;
// - the schema is created and upgraded under an advisory lock, once, however
//   many Orthancs start at the same moment.
// While the database is unreachable (down, restarting, not yet up at
// start), what the plugin serves from it answers 503 at once, and service
// resumes by itself; nothing is acknowledged before its COMMIT returned.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Pool, type PoolClient, type PoolConfig, type QueryConfig } from 'pg';
import { OperationOutcomeError, outcome } from '../fhir/outcome';
import type { Resource } from '../fhir/types';
import type { IndexRows } from '../search/index-rows';
import { paramKey } from '../search/index-rows';
import type { Sql, SqlValue } from '../search/search-sql';
import type { PostgresConfig } from '../config';
import { keyedIds, lookupQuery, runSearch, type SqlRunner } from './index-search';
import { AUDIT_INSERT, AUDIT_READ, auditCountSql, auditSchema, auditSearchSql, auditValues, type AuditLog, type AuditRow } from './audit-log';
import { INDEX_TABLES, INDEX_VERSION_KEY, indexVersionOf, NO_INDEXER, rebuildingError, reindexInBatches } from './reindex';
import {
  CommitHooks,
  type HistoryPage, type HistoryQuery, type IndexedSearch, type KeyCondition, type PutOptions, type ResourceIndexer, type ResourceVersion,
  type SearchIds, type Store, type StoreWriter, type TransactionOptions,
} from './store';
import { subscriptionSchema, subscriptionWrites, type SubscriptionReads } from './subscription-queue';
import { bodyOf, indexedAs, stamped, toVersion, VERSION_STATEMENTS, type VersionRow } from './versions';

/** The schema's own version: a step is added (never edited) for each change of the tables. */
const MIGRATIONS: readonly string[] = [
  // 1: the stored resources and settings; C collation, so that text orders by code point as in SQLite.
  `CREATE TABLE versions (
    seq BIGSERIAL PRIMARY KEY,
    type TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    version INTEGER NOT NULL,
    last_updated TEXT COLLATE "C" NOT NULL,
    body TEXT,
    UNIQUE (type, id, version)
  );
  CREATE INDEX versions_by_type ON versions (type, seq);
  CREATE TABLE settings (key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE current (type TEXT COLLATE "C" NOT NULL, id TEXT COLLATE "C" NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (type, id));`,
  // 2: the audit trail's append-only table (#12).
  auditSchema('postgresql'),
  // 3: the Subscriptions' delivery state and event queue (#13).
  subscriptionSchema('postgresql'),
];

/** The search index tables, dropped and made again when the index's version (indexVersionOf) changes. */
const INDEX_SCHEMA = `
CREATE TABLE sp_resource (rid BIGSERIAL PRIMARY KEY, type TEXT COLLATE "C" NOT NULL, id TEXT COLLATE "C" NOT NULL, UNIQUE (type, id));
CREATE INDEX sp_resource_by_type ON sp_resource (type, rid);
CREATE TABLE sp_token (rid BIGINT NOT NULL, p TEXT COLLATE "C" NOT NULL, system TEXT COLLATE "C" NOT NULL, code TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (rid, p, system, code));
CREATE INDEX sp_token_by_code ON sp_token (p, code, rid);
CREATE TABLE sp_string (rid BIGINT NOT NULL, p TEXT COLLATE "C" NOT NULL, norm TEXT COLLATE "C" NOT NULL, exact TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (rid, p, norm, exact));
CREATE INDEX sp_string_by_norm ON sp_string (p, norm);
CREATE TABLE sp_date (rid BIGINT NOT NULL, p TEXT COLLATE "C" NOT NULL, low DOUBLE PRECISION NOT NULL, high DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (rid, p, low, high));
CREATE INDEX sp_date_by_low ON sp_date (p, low);
CREATE INDEX sp_date_by_high ON sp_date (p, high);
CREATE TABLE sp_number (rid BIGINT NOT NULL, p TEXT COLLATE "C" NOT NULL, value DOUBLE PRECISION NOT NULL, PRIMARY KEY (rid, p, value));
CREATE INDEX sp_number_by_value ON sp_number (p, value);
CREATE TABLE sp_ref (rid BIGINT NOT NULL, p TEXT COLLATE "C" NOT NULL, target_type TEXT COLLATE "C" NOT NULL, target_id TEXT COLLATE "C" NOT NULL,
  url TEXT COLLATE "C" NOT NULL, PRIMARY KEY (rid, p, target_type, target_id, url));
CREATE INDEX sp_ref_by_target ON sp_ref (p, target_id, url);
CREATE TABLE sp_sort (rid BIGINT NOT NULL, p TEXT COLLATE "C" NOT NULL, asc_key DOUBLE PRECISION NOT NULL, desc_key DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (rid, p));
CREATE INDEX sp_sort_asc ON sp_sort (p, asc_key, rid);
CREATE INDEX sp_sort_desc ON sp_sort (p, desc_key, rid);
`;

/** The index version while the stored resources are indexed again. */
const REBUILDING = 'rebuilding';
/** How often an Orthanc checks whether the one re-indexing stopped (then it takes over). */
const REINDEX_CHECK_MS = 5000;

// An index write is one statement (a round trip per resource, whatever its
// rows): the resource's row id, then per table the rows no longer there
// deleted and the new ones inserted (the two never touch the same row, so
// they can run in one statement), and the ids of the resources whose rows
// read this one (a ServiceRequest's Tasks), to index again.
const INDEX_COLUMNS: Array<{ table: string; columns: string[]; types: string[]; conflict?: string }> = [
  { table: 'sp_token', columns: ['p', 'system', 'code'], types: ['text', 'text', 'text'] },
  { table: 'sp_string', columns: ['p', 'norm', 'exact'], types: ['text', 'text', 'text'] },
  { table: 'sp_date', columns: ['p', 'low', 'high'], types: ['text', 'float8', 'float8'] },
  { table: 'sp_number', columns: ['p', 'value'], types: ['text', 'float8'] },
  { table: 'sp_ref', columns: ['p', 'target_type', 'target_id', 'url'], types: ['text', 'text', 'text', 'text'] },
  // One sort row per parameter: a new value replaces the old.
  { table: 'sp_sort', columns: ['p', 'asc_key', 'desc_key'], types: ['text', 'float8', 'float8'], conflict: '(rid, p) DO UPDATE SET asc_key = excluded.asc_key, desc_key = excluded.desc_key' },
];
const INDEX_WRITE = (() => {
  let n = 3; // $1 type, $2 id; then one array per column; last, the referring parameter keys
  const parts = INDEX_COLUMNS.map(({ table, columns, types, conflict }, i) => {
    const arrays = columns.map((_, k) => `$${n + k}::${types[k]}[]`).join(', ');
    n += columns.length;
    const list = columns.join(', ');
    const sortOnly = table === 'sp_sort';
    return `n${i} AS (SELECT * FROM unnest(${arrays}) AS n (${list})),
  d${i} AS (DELETE FROM ${table} o USING r WHERE o.rid = r.rid AND (${sortOnly ? 'o.p' : columns.map((c) => `o.${c}`).join(', ')}) NOT IN (SELECT ${sortOnly ? 'p' : list} FROM n${i})),
  i${i} AS (INSERT INTO ${table} (rid, ${list}) SELECT r.rid, ${columns.map((c) => `n.${c}`).join(', ')} FROM r, n${i} n ON CONFLICT ${conflict ?? 'DO NOTHING'})`;
  });
  return `WITH created AS (INSERT INTO sp_resource (type, id) VALUES ($1, $2) ON CONFLICT (type, id) DO NOTHING RETURNING rid),
  r AS (SELECT rid FROM created UNION ALL SELECT rid FROM sp_resource WHERE type = $1 AND id = $2 LIMIT 1),
  ${parts.join(',\n  ')}
  SELECT x.p AS p, o.id AS id FROM sp_ref x JOIN sp_resource o ON o.rid = x.rid
    WHERE x.p = ANY($${n}::text[]) AND x.target_id = $2 AND x.url = '' AND x.target_type = $1`;
})();
const REMOVE = `WITH r AS (DELETE FROM sp_resource WHERE type = $1 AND id = $2 RETURNING rid),
  ${INDEX_TABLES.map((table, i) => `d${i} AS (DELETE FROM ${table} WHERE rid IN (SELECT rid FROM r))`).join(', ')}
  SELECT x.p AS p, o.id AS id FROM sp_ref x JOIN sp_resource o ON o.rid = x.rid
    WHERE x.p = ANY($3::text[]) AND x.target_id = $2 AND x.url = '' AND x.target_type = $1`;
// The current row first: two writers of one new resource collide there (and are run again), not on versions.
const PUT_VERSION = `WITH c AS (INSERT INTO current (type, id, version) VALUES ($1, $2, $3) ON CONFLICT (type, id) DO UPDATE SET version = excluded.version)
  INSERT INTO versions (type, id, version, last_updated, body) VALUES ($1, $2, $3, $4, $5)`;
// A create under a new id, in one round trip: nothing is written if the id turns out to exist.
const PUT_FIRST_VERSION = `WITH c AS (INSERT INTO current (type, id, version) VALUES ($1, $2, 1) ON CONFLICT (type, id) DO NOTHING RETURNING 1)
  INSERT INTO versions (type, id, version, last_updated, body) SELECT $1, $2, 1, $3, $4 WHERE EXISTS (SELECT 1 FROM c) RETURNING 1`;

/** The latest versions of several resources of one type (a search's page), in one round trip. */
const CURRENT_OF = VERSION_STATEMENTS.current.replace('c.type = ?', 'c.type = $1').replace('c.id = ?', 'c.id = ANY($2::text[])');
/** The latest version of a resource about to be written, locked until the transaction ends. */
const CURRENT_FOR_UPDATE = `${VERSION_STATEMENTS.current} FOR UPDATE OF c`;
/** The latest version of a resource an index row is computed from: it cannot change until the transaction ends. */
const CURRENT_FOR_SHARE = `${VERSION_STATEMENTS.current} FOR SHARE OF c`;

/** SQLSTATEs after which a transaction is run again: it lost a race with another one, and a retry sees its result. */
const RETRIED = new Set(['40001', '40P01', '23505']);
/** SQLSTATE classes and codes of a database that is unreachable, shutting down or starting. */
const UNAVAILABLE = /^(08|57P0[1-3]|53300|57014)/;
const RETRY_BUDGET_MS = 10000;
/** How long a request waits for the database to open at start before it gets 503. */
const OPEN_WAIT_MS = 3000;

interface PgError {
  code?: string;
  message?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * What a failed statement means: the database cannot be reached now (503),
 * the transaction lost a race with another one (run it again), or a fault of
 * the query or of the data (500, or the OperationOutcome thrown).
 */
export function classify(error: unknown): 'unavailable' | 'conflict' | 'other' {
  const { code, message } = (error ?? {}) as PgError;
  if (typeof code === 'string' && RETRIED.has(code)) return 'conflict';
  if (typeof code === 'string' && (UNAVAILABLE.test(code) || /^E[A-Z]+$/.test(code))) return 'unavailable'; // ECONNREFUSED, ECONNRESET...
  const lost = /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout/i;
  return lost.test(message ?? '') ? 'unavailable' : 'other';
}

const unavailable = (error: unknown) => classify(error) === 'unavailable';

const converted = new Map<string, string>();

/**
 * The name a statement is prepared under, for the fixed statements of this
 * file and of versions.ts (a bounded set); a search's statement (its text
 * varies with the query) is planned each time.
 */
const NAMES = new Map<string, string>();
function statementName(text: string): string | undefined {
  return NAMES.get(text);
}
function prepare(...texts: string[]): void {
  for (const text of texts) if (!NAMES.has(text)) NAMES.set(text, `orthanc-fhir-${NAMES.size + 1}`);
}

/** `?` placeholders (the shared statements') as PostgreSQL's `$n`. */
export function numbered(text: string): string {
  let result = converted.get(text);
  if (result === undefined) {
    let n = 0;
    result = text.replace(/\?/g, () => `$${++n}`);
    if (converted.size >= 512) converted.delete(converted.keys().next().value as string);
    converted.set(text, result);
  }
  return result;
}

function unavailableError(error: unknown): OperationOutcomeError {
  return new OperationOutcomeError(503,
    outcome('transient', `The FHIR database (PostgreSQL) cannot be reached: ${(error as PgError)?.message ?? String(error)}; try again shortly`),
    { 'retry-after': '5' });
}

/** Two 32-bit keys of an advisory lock: the plugin's namespace and the lock's name within this schema. */
function lockKeys(schema: string, name: string): [number, number] {
  let hash = 0x811c9dc5;
  for (const char of `${schema}:${name}`) hash = Math.imul(hash ^ char.codePointAt(0)!, 0x01000193);
  return [0x0f41_2e5a | 0, hash | 0];
}

prepare(INDEX_WRITE, REMOVE, PUT_VERSION, PUT_FIRST_VERSION, CURRENT_OF, numbered(CURRENT_FOR_UPDATE), numbered(CURRENT_FOR_SHARE),
  'SELECT version FROM current WHERE type = $1 AND id = $2 FOR UPDATE',
  ...Object.values(VERSION_STATEMENTS).map((text) => numbered(text)), numbered(`${VERSION_STATEMENTS.setting} FOR UPDATE`));

/** One connection's queries; inside a transaction, its first failure is kept (later ones only say it aborted). */
class Connection implements SqlRunner {
  failure?: unknown;
  /** Set when its transaction ended: the client is back in the pool, maybe in another's transaction. */
  private ended = false;

  constructor(
    private readonly run: (query: QueryConfig) => Promise<{ rows: unknown[] }>,
    private readonly transactional: boolean,
  ) {}

  async query<T>(text: string, params: readonly unknown[] = []): Promise<T[]> {
    // Work left running past its transaction (a Promise.all cut short by a failure) must not touch the client.
    if (this.ended) throw new Error('the store transaction this query belongs to has ended');
    try {
      // The plugin's own statements are prepared once per connection (the index write's plan costs more than its run).
      const name = statementName(text);
      return (await this.run({ text, values: params as unknown[], ...(name ? { name } : {}) })).rows as T[];
    } catch (error) {
      if (this.transactional) this.failure ??= error;
      throw error;
    }
  }

  all<T>(query: Sql): Promise<T[]> {
    return this.query<T>(numbered(query.text), query.params);
  }

  async count(query: Sql): Promise<number> {
    return Number((await this.all<{ n: string | number }>(query))[0]?.n ?? 0);
  }

  async one<T>(text: string, ...params: SqlValue[]): Promise<T | undefined> {
    return (await this.query<T>(numbered(text), params))[0];
  }

  end(): void {
    this.ended = true;
  }
}

/** A write transaction's connection, its reads of what index rows depend on, and what it holds. */
interface WriteContext {
  c: Connection;
  read: (type: string, id: string) => Promise<Resource | undefined>;
  /** Resources read to be written (locked FOR UPDATE) or written by this transaction; null: known absent. */
  held: Map<string, ResourceVersion | null>;
  skipDependents?: boolean;
}

export interface PostgresStoreOptions {
  config: PostgresConfig;
  /** Longest a statement may run (the plugin's RequestTimeout). */
  statementTimeoutMs: number;
  indexer?: ResourceIndexer;
  log?: (message: string) => void;
  error?: (message: string) => void;
}

export class PostgresStore implements Store {
  readonly audit: AuditLog = {
    // One statement per batch: a round trip per row would cost more than the row.
    append: (entries) => this.transaction(async () => {
      if (entries.length === 0) return;
      const rows = entries.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ');
      await this.ambient.getStore()!.connection.query(numbered(`${AUDIT_INSERT.replace(/VALUES .*$/, 'VALUES ')}${rows}`), entries.flatMap(auditValues));
    }),
    search: (query) => this.reading((connection) => connection.all<AuditRow>(auditSearchSql(query))),
    count: (query) => this.reading((connection) => connection.count(auditCountSql(query))),
    read: (seq) => this.reading((connection) => connection.one<AuditRow>(AUDIT_READ, seq)),
  };
  readonly shared = true;
  readonly subscriptions: SubscriptionReads = subscriptionWrites(
    (text, params) => this.reading((connection) => connection.query(numbered(text), params)), 'postgresql');
  private readonly pool: Pool;
  private readonly reads: Connection;
  private readonly ambient = new AsyncLocalStorage<{ connection: Connection; writer: StoreWriter }>();
  private readonly indexer: ResourceIndexer;
  private readonly schema: string;
  private readonly log: (message: string) => void;
  private readonly error: (message: string) => void;
  private opened = false;
  private closed = false;
  /** Until the database answered once (and the schema is there), requests get 503. */
  private readonly opening: Promise<void>;
  /** False while the stored resources are indexed again (by this Orthanc or another). */
  private indexReady = false;
  private rebuilding?: { done: number; total: number };

  constructor(options: PostgresStoreOptions) {
    const { config } = options;
    this.schema = config.schema;
    this.indexer = options.indexer ?? NO_INDEXER;
    this.log = options.log ?? (() => undefined);
    this.error = options.error ?? this.log;
    const poolConfig: PoolConfig = {
      ...config.connection,
      ...(config.ssl ? { ssl: { rejectUnauthorized: false } } : {}),
      max: config.poolSize,
      application_name: 'orthanc-fhir',
      // The plugin's tables are found without a prefix; Orthanc's stay in "public".
      options: `-c search_path=${config.schema}`,
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 30000,
      statement_timeout: options.statementTimeoutMs,
      // A server that stops answering (not refusing) must not hold a request past its time-out.
      query_timeout: options.statementTimeoutMs + 1000,
      keepAlive: true,
    };
    this.pool = new Pool(poolConfig);
    // An idle connection dropped by the server (a restart) is an event, not a crash.
    this.pool.on('error', (error) => this.error(`PostgreSQL store: an idle connection failed: ${error.message}`));
    this.reads = new Connection((query) => this.pool.query(query), false);
    const where = 'connectionString' in config.connection
      ? config.connection.connectionString.replace(/\/\/[^@/]*@/, '//')
      : `${config.connection.host}:${config.connection.port}/${config.connection.database}`;
    this.opening = this.open(`${where} (from "${config.source}"), schema "${config.schema}"`);
  }

  /** Connects and creates or upgrades the schema, retrying while the database is unreachable. */
  private async open(where: string): Promise<void> {
    let lastLog = 0;
    for (let attempt = 1; !this.closed; attempt++) {
      try {
        await this.migrate();
        this.opened = true;
        this.log(`PostgreSQL store: using ${where}`);
        return;
      } catch (error) {
        if (Date.now() - lastLog > 30000) {
          lastLog = Date.now();
          const hint = /password|authentication|role|does not exist|permission/i.test((error as PgError)?.message ?? '')
            ? ' (check the connection settings)' : '';
          this.error(`PostgreSQL store: cannot open ${where}: ${(error as PgError)?.message ?? String(error)}${hint}; retrying every 2 s, /fhir answers 503 meanwhile`);
        }
        await sleep(Math.min(2000, 100 * attempt));
      }
    }
  }

  /** The schema at its latest version, made once however many Orthancs start together. */
  private async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1, $2)', lockKeys(this.schema, 'schema'));
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      await client.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
      const found = (await client.query<{ version: number }>('SELECT version FROM schema_version')).rows[0]?.version ?? 0;
      for (let version = found + 1; version <= MIGRATIONS.length; version++) await client.query(MIGRATIONS[version - 1]!);
      if (found === 0) await client.query('INSERT INTO schema_version (version) VALUES ($1)', [MIGRATIONS.length]);
      else if (found < MIGRATIONS.length) await client.query('UPDATE schema_version SET version = $1', [MIGRATIONS.length]);
      const index = (await client.query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [INDEX_VERSION_KEY])).rows[0]?.value;
      if (index !== indexVersionOf(this.indexer) && index !== REBUILDING) {
        // A new database, an older index, or one deleted: the tables are made again, the stored resources indexed in
        // maintain(). Once: an Orthanc starting while another re-indexes finds REBUILDING and leaves the tables be.
        for (const table of ['sp_resource', ...INDEX_TABLES]) await client.query(`DROP TABLE IF EXISTS ${table}`);
        await client.query(INDEX_SCHEMA);
        // The imaging index is rebuilt by its own module, from Orthanc.
        await client.query("DELETE FROM settings WHERE key LIKE 'imaging-index%'");
        const stored = Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM current')).rows[0]!.n);
        if (stored === 0) await client.query(numbered(VERSION_STATEMENTS.putSetting), [INDEX_VERSION_KEY, indexVersionOf(this.indexer)]);
        else await client.query(numbered(VERSION_STATEMENTS.putSetting), [INDEX_VERSION_KEY, REBUILDING]);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** Throws 503 while the database has not been opened yet (after a short wait: at start it opens in a moment). */
  private async available(): Promise<void> {
    if (!this.opened) await Promise.race([this.opening, sleep(OPEN_WAIT_MS)]);
    if (!this.opened) {
      throw new OperationOutcomeError(503, outcome('transient', 'The FHIR database (PostgreSQL) is not reachable yet; try again shortly'),
        { 'retry-after': '5' });
    }
  }

  /** A read outside a transaction (or inside the caller's), with an unreachable database mapped to 503. */
  private async reading<T>(run: (connection: Connection) => Promise<T>): Promise<T> {
    const joined = this.ambient.getStore();
    if (joined) return run(joined.connection);
    await this.available();
    try {
      return await run(this.reads);
    } catch (error) {
      throw unavailable(error) ? unavailableError(error) : error;
    }
  }

  /**
   * Re-indexes the stored resources when the index is outdated: one Orthanc
   * does it (from the start: re-indexing a resource twice is harmless), the
   * others answer 503 to searches meanwhile and take over if it stops.
   */
  async maintain(): Promise<void> {
    await this.opening;
    while (!this.closed && !(await this.indexCurrent().catch(() => false))) {
      await this.exclusive('reindex-stored', async () => {
        if (await this.indexCurrent()) return;
        const total = Number((await this.reads.one<{ n: string }>('SELECT count(*) AS n FROM current'))?.n ?? 0);
        this.rebuilding = { done: 0, total };
        this.log(`search index: indexing the ${total} stored resources in the background; their searches answer 503 until it is done`);
        try {
          await reindexInBatches(this, this.rebuilding, this.log);
        } finally {
          this.rebuilding = undefined;
        }
        this.log(`search index: the ${total} stored resources are indexed`);
      }, { wait: false }).catch((error) => this.error(`search index: re-indexing failed, retrying: ${(error as Error)?.message ?? String(error)}`));
      if (!this.indexReady) await sleep(REINDEX_CHECK_MS);
    }
  }

  private async indexCurrent(): Promise<boolean> {
    if (!this.indexReady) this.indexReady = (await this.reads.one<{ value: string }>(VERSION_STATEMENTS.setting, INDEX_VERSION_KEY))?.value === indexVersionOf(this.indexer);
    return this.indexReady;
  }

  async current(resourceType: string, id: string): Promise<ResourceVersion | undefined> {
    const row = await this.reading((c) => c.one<VersionRow>(VERSION_STATEMENTS.current, resourceType, id));
    return row ? toVersion(row) : undefined;
  }

  async currentOf(resourceType: string, ids: readonly string[]): Promise<ResourceVersion[]> {
    if (ids.length === 0) return [];
    const rows = await this.reading((c) => c.query<VersionRow>(CURRENT_OF, [resourceType, ids]));
    const byId = new Map(rows.map((row) => [row.id, toVersion(row)]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  async version(resourceType: string, id: string, versionId: number): Promise<ResourceVersion | undefined> {
    const row = await this.reading((c) => c.one<VersionRow>(VERSION_STATEMENTS.version, resourceType, id, versionId));
    return row ? toVersion(row) : undefined;
  }

  history(resourceType: string, id: string | undefined, query: HistoryQuery): Promise<HistoryPage> {
    const since = query.since ?? '';
    return this.reading(async (c) => {
      const rows = id === undefined
        ? await c.query<VersionRow>(numbered(VERSION_STATEMENTS.historyOfType), [resourceType, since, query.count, query.offset])
        : await c.query<VersionRow>(numbered(VERSION_STATEMENTS.historyOfId), [resourceType, id, since, query.count, query.offset]);
      const total = id === undefined
        ? await c.count({ text: VERSION_STATEMENTS.countOfType, params: [resourceType, since] })
        : await c.count({ text: VERSION_STATEMENTS.countOfId, params: [resourceType, id, since] });
      return { total, versions: rows.map(toVersion) };
    });
  }

  setting(key: string): Promise<string | undefined> {
    return this.reading(async (c) => (await c.one<{ value: string }>(VERSION_STATEMENTS.setting, key))?.value);
  }

  indexedCount(resourceType: string): Promise<number> {
    return this.reading((c) => c.count({ text: VERSION_STATEMENTS.indexedCount, params: [resourceType] }));
  }

  async lookup(resourceType: string, key: string, values: readonly string[]): Promise<string[]> {
    if (values.length === 0) return [];
    return (await this.reading((c) => c.all<{ id: string }>(lookupQuery(resourceType, key, values)))).map((row) => row.id);
  }

  keyed(resourceType: string, conditions: readonly KeyCondition[]): Promise<string[]> {
    return this.reading((c) => keyedIds(resourceType, conditions, c));
  }

  async search(search: IndexedSearch): Promise<SearchIds> {
    if (!this.ambient.getStore()) {
      await this.available();
      if (!(await this.reading(() => this.indexCurrent()))) throw rebuildingError(this.rebuilding);
    }
    return this.reading((c) => runSearch(search, c));
  }

  get inTransaction(): boolean {
    return this.ambient.getStore() !== undefined;
  }

  outside<T>(work: () => T): T {
    return this.ambient.exit(work);
  }

  private async connect(): Promise<PoolClient> {
    await this.available();
    try {
      return await this.pool.connect();
    } catch (error) {
      throw unavailable(error) ? unavailableError(error) : error;
    }
  }

  async exclusive<T>(name: string, work: () => Promise<T>, options: { wait?: boolean } = {}): Promise<T | undefined> {
    const client = await this.connect();
    const keys = lockKeys(this.schema, name);
    let broken = false;
    try {
      if (options.wait === false) {
        const { rows } = await client.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS got', keys);
        if (!rows[0]?.got) return undefined;
      } else {
        await client.query('SELECT pg_advisory_lock($1, $2)', keys);
      }
      try {
        return await this.outside(work);
      } finally {
        // A lost connection has released the lock with it.
        await client.query('SELECT pg_advisory_unlock($1, $2)', keys).catch(() => (broken = true));
      }
    } catch (error) {
      if (unavailable(error)) {
        broken = true;
        throw unavailableError(error);
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async transaction<T>(work: (writer: StoreWriter) => Promise<T> | T, options: TransactionOptions = {}): Promise<T> {
    const joined = this.ambient.getStore();
    if (joined) return work(joined.writer);
    const deadline = Date.now() + RETRY_BUDGET_MS;
    for (let attempt = 1; ; attempt++) {
      const client = await this.connect();
      const connection = new Connection((query) => client.query(query), true);
      const hooks = new CommitHooks();
      const writer = this.writerOn(connection, hooks);
      let broken = false;
      let committed: { result: T } | undefined;
      try {
        await connection.query('BEGIN');
        if (options.durable === false) await connection.query('SET LOCAL synchronous_commit TO OFF');
        const result = await this.ambient.run({ connection, writer }, () => work(writer));
        // A failed statement aborts the transaction, even if `work` went on past it.
        if (connection.failure) throw connection.failure;
        await connection.query('COMMIT');
        committed = { result };
      } catch (error) {
        const failure = connection.failure ?? error;
        if (unavailable(failure)) {
          broken = true;
          // A COMMIT cut off may or may not have landed: the client is told the write was not acknowledged.
          throw unavailableError(failure);
        }
        await client.query('ROLLBACK').catch(() => (broken = true));
        if (classify(failure) === 'conflict') {
          if (Date.now() < deadline) {
            // Jittered, growing back-off: many writers of one resource take turns instead of colliding again.
            await sleep(Math.random() * Math.min(200, 2 ** attempt));
            continue;
          }
          throw new OperationOutcomeError(503, outcome('transient', 'Too many concurrent writes of the same data; try again'), { 'retry-after': '1' });
        }
        throw error;
      } finally {
        connection.end();
        client.release(broken);
      }
      // The connection is back in the pool: the hooks may need it.
      await this.outside(() => hooks.run(this.error));
      return committed.result;
    }
  }

  private writerOn(c: Connection, hooks: CommitHooks): StoreWriter {
    // What this transaction read to write (and so holds locked), or wrote: not read again.
    const held = new Map<string, ResourceVersion | null>();
    const read = async (type: string, id: string) => {
      const known = held.get(`${type}/${id}`);
      return known !== undefined ? known?.resource : bodyOf(await c.one<VersionRow>(CURRENT_FOR_SHARE, type, id));
    };
    const tx: WriteContext = { c, read, held };
    return {
      afterCommit: (hook) => hooks.add(hook),
      current: async (type, id) => {
        const known = held.get(`${type}/${id}`);
        if (known !== undefined) return known ?? undefined;
        const row = await c.one<VersionRow>(CURRENT_FOR_UPDATE, type, id);
        const version = row ? toVersion(row) : undefined;
        held.set(`${type}/${id}`, version ?? null);
        return version;
      },
      put: (type, id, resource, options) => this.put(tx, type, id, resource, options),
      index: async (type, id, resource) => this.writeIndex(tx, type, id, resource && await this.indexer.rows(resource, read)),
      setting: async (key) => (await c.one<{ value: string }>(`${VERSION_STATEMENTS.setting} FOR UPDATE`, key))?.value,
      lock: async (key) => {
        await c.query('SELECT pg_advisory_xact_lock($1, $2)', lockKeys(this.schema, `condition ${key}`));
      },
      putSetting: async (key, value) => {
        await c.query(numbered(VERSION_STATEMENTS.putSetting), [key, value]);
      },
      subscriptions: subscriptionWrites((text, params) => c.query(numbered(text), params), 'postgresql'),
    };
  }

  private async put(tx: WriteContext, type: string, id: string, resource: Resource | undefined, options: PutOptions = {}): Promise<ResourceVersion> {
    const key = `${type}/${id}`;
    const lastUpdated = new Date().toISOString();
    let stored: Resource | undefined;
    let versionId: number;
    const known = tx.held.get(key);
    const first = resource && known === undefined && options.fresh
      ? stamped(type, id, resource, 1, lastUpdated) : undefined;
    if (first && (await tx.c.query(PUT_FIRST_VERSION, [type, id, lastUpdated, JSON.stringify(first)])).length > 0) {
      stored = first;
      versionId = 1;
    } else {
      const previous = known !== undefined ? known?.versionId
        : (await tx.c.one<{ version: number }>('SELECT version FROM current WHERE type = $1 AND id = $2 FOR UPDATE', type, id))?.version;
      versionId = (previous ?? 0) + 1;
      stored = resource && stamped(type, id, resource, versionId, lastUpdated);
      await tx.c.query(PUT_VERSION, [type, id, versionId, lastUpdated, stored ? JSON.stringify(stored) : null]);
    }
    const version: ResourceVersion = { resourceType: type, id, versionId, lastUpdated, ...(stored ? { resource: stored } : {}) };
    tx.held.set(key, version);
    await this.writeIndex(tx, type, id, stored && await this.indexer.rows(indexedAs(stored, options), tx.read, options.baseUrl));
    return version;
  }

  /**
   * Replaces a resource's index rows in one statement (arrays unnested on
   * the server), then indexes again those whose rows read it.
   */
  private async writeIndex(tx: WriteContext, type: string, id: string, rows: IndexRows | undefined): Promise<void> {
    const dependents = new Map(this.indexer.dependents(type).map((d) => [paramKey(d.type, d.param), d.type]));
    let referring: Array<{ p: string; id: string }>;
    if (rows === undefined) {
      referring = await tx.c.query(REMOVE, [type, id, [...dependents.keys()]]);
    } else {
      const sorts = [...new Map(rows.sorts.map((r) => [r.p, r])).values()];
      const column = <R, K extends keyof R>(list: readonly R[], key: K) => list.map((r) => r[key]);
      referring = await tx.c.query(INDEX_WRITE, [
        type, id,
        column(rows.tokens, 'p'), column(rows.tokens, 'system'), column(rows.tokens, 'code'),
        column(rows.strings, 'p'), column(rows.strings, 'norm'), column(rows.strings, 'exact'),
        column(rows.dates, 'p'), column(rows.dates, 'low'), column(rows.dates, 'high'),
        column(rows.numbers, 'p'), column(rows.numbers, 'value'),
        column(rows.references, 'p'), column(rows.references, 'targetType'), column(rows.references, 'targetId'), column(rows.references, 'url'),
        column(sorts, 'p'), column(sorts, 'asc'), column(sorts, 'desc'),
        [...dependents.keys()],
      ]);
    }
    if (tx.skipDependents) return;
    for (const { p, id: other } of referring) {
      const dependentType = dependents.get(p)!;
      const body = await tx.read(dependentType, other);
      if (body) await this.writeIndex(tx, dependentType, other, await this.indexer.rows(body, tx.read));
    }
  }

  /** Inside a transaction: the latest versions after (type, id), for re-indexing in batches. */
  latestAfter(after: readonly [string, string]): Promise<VersionRow[]> {
    return this.ambient.getStore()!.connection.all<VersionRow>({ text: VERSION_STATEMENTS.latestAfter, params: [...after] });
  }

  async reindex(row: VersionRow): Promise<void> {
    const { connection } = this.ambient.getStore()!;
    const resource = bodyOf(row);
    const tx: WriteContext = { c: connection, held: new Map(), read: async (t, i) => bodyOf(await connection.one<VersionRow>(CURRENT_FOR_SHARE, t, i)) };
    // The resources reading this one are re-indexed in their own turn of the batches.
    await this.writeIndex({ ...tx, skipDependents: true }, row.type, row.id, resource && await this.indexer.rows(resource, tx.read));
  }

  async indexComplete(): Promise<void> {
    await this.ambient.getStore()!.writer.putSetting(INDEX_VERSION_KEY, indexVersionOf(this.indexer));
    this.indexReady = true;
  }

  close(): void {
    this.closed = true;
    void this.pool.end().catch(() => undefined);
  }
}
