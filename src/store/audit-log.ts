// The audit trail's own table: one row per access, append-only, with the
// few columns its searches use (when, who, which patient, which resource,
// how it ended) each indexed with the time. A generic stored resource costs
// a version row, a current row and a dozen index rows per write; the trail
// writes one row per request, so it gets a table of its own (the FHIR
// AuditEvent is built from the row when it is read).
import type { Sql, SqlValue } from '../search/search-sql';

/** One access, as stored. */
export interface AuditEntry {
  /** Epoch milliseconds. */
  recorded: number;
  /** The requestor's identifier, `system|value`. */
  agent?: string;
  /** The client's identifier, `system|value`. */
  client?: string;
  /** A Patient id. */
  patient?: string;
  /** `Type/id` of the resource concerned. */
  entity?: string;
  /** audit-event-outcome code: 0, 4, 8. */
  outcome: string;
  /** The record the AuditEvent is made of, as JSON. */
  body: string;
}

export interface AuditQuery {
  /** recorded >= from, recorded < to (epoch ms). */
  from?: number;
  to?: number;
  /** Each filter: any of its values (an agent matches the requestor or the client). */
  agents?: readonly string[];
  patients?: readonly string[];
  entities?: readonly string[];
  outcomes?: readonly string[];
  ascending?: boolean;
  limit: number;
  offset: number;
}

export interface AuditRow {
  seq: number | string;
  body: string;
}

export interface AuditLog {
  append(entries: readonly AuditEntry[]): Promise<void>;
  search(query: AuditQuery): Promise<AuditRow[]>;
  count(query: AuditQuery): Promise<number>;
  read(seq: number): Promise<AuditRow | undefined>;
}

/** The table and its indexes, for SQLite (INTEGER) or PostgreSQL (BIGSERIAL, BIGINT). */
export function auditSchema(dialect: 'sqlite' | 'postgresql'): string {
  const key = dialect === 'sqlite' ? 'seq INTEGER PRIMARY KEY' : 'seq BIGSERIAL PRIMARY KEY';
  const text = dialect === 'sqlite' ? 'TEXT' : 'TEXT COLLATE "C"';
  return `CREATE TABLE IF NOT EXISTS audit_event (
  ${key}, recorded BIGINT NOT NULL, agent ${text}, client ${text}, patient ${text}, entity ${text}, outcome ${text} NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_by_recorded ON audit_event (recorded);
CREATE INDEX IF NOT EXISTS audit_by_agent ON audit_event (agent, recorded);
CREATE INDEX IF NOT EXISTS audit_by_client ON audit_event (client, recorded);
CREATE INDEX IF NOT EXISTS audit_by_patient ON audit_event (patient, recorded);
CREATE INDEX IF NOT EXISTS audit_by_entity ON audit_event (entity, recorded);
CREATE INDEX IF NOT EXISTS audit_by_outcome ON audit_event (outcome, recorded);`;
}

export const AUDIT_INSERT = 'INSERT INTO audit_event (recorded, agent, client, patient, entity, outcome, body) VALUES (?, ?, ?, ?, ?, ?, ?)';
export const AUDIT_READ = 'SELECT seq, body FROM audit_event WHERE seq = ?';

export function auditValues(entry: AuditEntry): SqlValue[] {
  return [entry.recorded, entry.agent ?? null, entry.client ?? null, entry.patient ?? null, entry.entity ?? null, entry.outcome, entry.body];
}

function where(query: AuditQuery): Sql {
  const clauses: string[] = [];
  const params: SqlValue[] = [];
  const anyOf = (columns: string[], values: readonly string[] | undefined) => {
    if (values === undefined) return;
    if (values.length === 0) {
      clauses.push('1 = 0');
      return;
    }
    const marks = values.map(() => '?').join(', ');
    clauses.push(`(${columns.map((column) => `${column} IN (${marks})`).join(' OR ')})`);
    for (let i = 0; i < columns.length; i++) params.push(...values);
  };
  if (query.from !== undefined) {
    clauses.push('recorded >= ?');
    params.push(query.from);
  }
  if (query.to !== undefined) {
    clauses.push('recorded < ?');
    params.push(query.to);
  }
  anyOf(['agent', 'client'], query.agents);
  anyOf(['patient'], query.patients);
  anyOf(['entity'], query.entities);
  anyOf(['outcome'], query.outcomes);
  return { text: clauses.length > 0 ? ` WHERE ${clauses.join(' AND ')}` : '', params };
}

/** A page of the trail, newest first unless ascending. */
export function auditSearchSql(query: AuditQuery): Sql {
  const filter = where(query);
  const order = query.ascending ? 'ASC' : 'DESC';
  return {
    text: `SELECT seq, body FROM audit_event${filter.text} ORDER BY recorded ${order}, seq ${order} LIMIT ? OFFSET ?`,
    params: [...filter.params, query.limit, query.offset],
  };
}

export function auditCountSql(query: AuditQuery): Sql {
  const filter = where(query);
  return { text: `SELECT count(*) AS n FROM audit_event${filter.text}`, params: filter.params };
}
