// What both stores do alike with versions: the statements over the versions,
// current and settings tables (placeholders `?`), the meta a new version is
// stamped with, and the rows a stored version is read back from.
import type { Resource } from '../fhir/types';
import type { PutOptions, ResourceVersion } from './store';

export interface VersionRow {
  type: string;
  id: string;
  version: number;
  last_updated: string;
  body: string | null;
}

const LATEST = 'SELECT v.type, v.id, v.version, v.last_updated, v.body FROM current c JOIN versions v ON v.type = c.type AND v.id = c.id AND v.version = c.version';
const VERSION_COLUMNS = 'SELECT type, id, version, last_updated, body FROM versions';

export const VERSION_STATEMENTS = {
  current: `${LATEST} WHERE c.type = ? AND c.id = ?`,
  version: `${VERSION_COLUMNS} WHERE type = ? AND id = ? AND version = ?`,
  historyOfId: `${VERSION_COLUMNS} WHERE type = ? AND id = ? AND last_updated >= ? ORDER BY seq DESC LIMIT ? OFFSET ?`,
  historyOfType: `${VERSION_COLUMNS} WHERE type = ? AND last_updated >= ? ORDER BY seq DESC LIMIT ? OFFSET ?`,
  countOfId: 'SELECT count(*) AS n FROM versions WHERE type = ? AND id = ? AND last_updated >= ?',
  countOfType: 'SELECT count(*) AS n FROM versions WHERE type = ? AND last_updated >= ?',
  setting: 'SELECT value FROM settings WHERE key = ?',
  indexedCount: 'SELECT count(*) AS n FROM sp_resource WHERE type = ?',
  insertVersion: 'INSERT INTO versions (type, id, version, last_updated, body) VALUES (?, ?, ?, ?, ?)',
  setCurrent: 'INSERT INTO current (type, id, version) VALUES (?, ?, ?) ON CONFLICT (type, id) DO UPDATE SET version = excluded.version',
  putSetting: 'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  /** The latest versions after (type, id), for re-indexing in batches. */
  latestAfter: `${LATEST} WHERE (c.type, c.id) > (?, ?) ORDER BY c.type, c.id LIMIT 500`,
  /** The resources of a type whose reference `p` points at a local resource. */
  referring: "SELECT r.id AS id FROM sp_ref x CROSS JOIN sp_resource r WHERE x.p = ? AND x.target_id = ? AND x.url = '' AND x.target_type = ? AND r.rid = x.rid",
} as const;

export function toVersion(row: VersionRow): ResourceVersion {
  const version: ResourceVersion = { resourceType: row.type, id: row.id, versionId: Number(row.version), lastUpdated: row.last_updated };
  if (row.body !== null) version.resource = JSON.parse(row.body) as Resource;
  return version;
}

export function bodyOf(row: VersionRow | undefined): Resource | undefined {
  return row?.body ? (JSON.parse(row.body) as Resource) : undefined;
}

/** The next version of a resource: resourceType, id and meta first, as FHIR JSON is usually written. */
export function stamped(type: string, id: string, resource: Resource, versionId: number, lastUpdated: string): Resource {
  const { resourceType: _type, id: _id, meta, ...rest } = resource;
  return { resourceType: type, id, meta: { ...(meta ?? {}), versionId: String(versionId), lastUpdated }, ...rest };
}

/** What the index holds of a stored version: the stored body, or what the writer says it is searched as. */
export function indexedAs(stored: Resource, options: PutOptions): Resource {
  return options.indexAs ? { ...options.indexAs, meta: { ...(options.indexAs.meta ?? {}), ...stored.meta } } : stored;
}
