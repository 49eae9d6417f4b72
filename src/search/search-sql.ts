// A parsed search (SearchRequest) compiled to SQL over the index tables that
// index-rows.ts fills. Each filter is "some row of the parameter satisfies
// some value" (OR of values, AND of filters), exactly the in-memory
// matcher's rule (match.ts), with the same value semantics. Plain SQL
// shapes (IN, EXISTS, correlated sub-selects, LIMIT/OFFSET) that SQLite and
// PostgreSQL both run; the store chooses the plan (which filter drives) from
// cheap estimates, since the rows' selectivity differs by parameter.
// Pure: no I/O.
import { paramKey } from './index-rows';
import type { DateValue, EngineParamType, NumberValue, ReferenceValue, SearchFilter, SearchRequest, SortRule, TokenValue } from './types';
import { normalizeText } from './match';

export type SqlValue = string | number | null;

export interface Sql {
  text: string;
  params: SqlValue[];
}

/** The index table of each parameter type. */
export const TABLE_OF: Record<EngineParamType, string> = {
  token: 'sp_token',
  uri: 'sp_token',
  string: 'sp_string',
  date: 'sp_date',
  number: 'sp_number',
  reference: 'sp_ref',
};

/** The largest code point: a string starting with v sorts below v + this. */
const TOP = String.fromCodePoint(0x10ffff);

function sql(text: string, params: SqlValue[] = []): Sql {
  return { text, params };
}

function join(parts: Sql[], separator: string): Sql {
  return { text: parts.map((p) => `(${p.text})`).join(separator), params: parts.flatMap((p) => p.params) };
}

function tokenCondition(value: TokenValue): Sql {
  const parts: Sql[] = [];
  if (value.code !== undefined) parts.push(sql('code = ?', [value.code]));
  // The index writes '' for "no system" (FHIR has no empty strings).
  if (value.system === '') parts.push(sql("system = ''"));
  else if (value.system !== undefined) parts.push(sql('system = ?', [value.system]));
  return parts.length === 0 ? sql('1 = 1') : join(parts, ' AND ');
}

function stringCondition(value: string, modifier: 'exact' | 'contains' | undefined): Sql {
  if (modifier === 'exact') return sql('exact = ?', [value]);
  const norm = normalizeText(value);
  if (modifier === 'contains') return sql("norm LIKE ? ESCAPE '\\'", [`%${norm.replace(/[\\%_]/g, (c) => `\\${c}`)}%`]);
  return sql('norm >= ? AND norm < ?', [norm, norm + TOP]);
}

function dateCondition(value: DateValue, now: number): Sql {
  const { low: sl, high: sh } = value.range;
  const contained = sql('low >= ? AND high <= ?', [sl, sh]);
  switch (value.prefix) {
    case 'eq':
      return contained;
    case 'ne':
      return sql(`NOT (${contained.text})`, contained.params);
    case 'gt':
      return sql('high > ?', [sh]);
    case 'lt':
      return sql('low < ?', [sl]);
    case 'ge':
      return join([sql('high > ?', [sh]), contained], ' OR ');
    case 'le':
      return join([sql('low < ?', [sl]), contained], ' OR ');
    case 'sa':
      return sql('low >= ?', [sh]);
    case 'eb':
      return sql('high <= ?', [sl]);
    case 'ap': {
      const gap = now < sl ? sl - now : now >= sh ? now - sh : 0;
      const margin = 0.1 * gap;
      return sql('low < ? AND high > ?', [sh + margin, sl - margin]);
    }
  }
}

function numberCondition(value: NumberValue): Sql {
  switch (value.prefix) {
    case 'eq':
      return sql('value >= ? AND value < ?', [value.low, value.high]);
    case 'ne':
      return sql('value < ? OR value >= ?', [value.low, value.high]);
    case 'gt':
    case 'sa':
      return sql('value > ?', [value.value]);
    case 'lt':
    case 'eb':
      return sql('value < ?', [value.value]);
    case 'ge':
      return sql('value >= ?', [value.value]);
    case 'le':
      return sql('value <= ?', [value.value]);
    case 'ap': {
      const margin = Math.abs(0.1 * value.value);
      return sql('value >= ? AND value <= ?', [value.value - margin, value.value + margin]);
    }
  }
}

function referenceCondition(value: ReferenceValue): Sql {
  if (value.url !== undefined) {
    // Canonicals compare on the URL; a version in the search value must match too (url|1.0).
    if (value.url.includes('|')) return sql('url = ?', [value.url]);
    return sql('url = ? OR substr(url, 1, ?) = ?', [value.url, value.url.length + 1, `${value.url}|`]);
  }
  if (value.id === undefined) return sql('1 = 0');
  return value.type === undefined ? sql('target_id = ?', [value.id]) : sql('target_id = ? AND target_type = ?', [value.id, value.type]);
}

/** The rows of one index table, for one parameter key, that satisfy any of `conditions`. */
function rowsWhere(table: string, p: string, conditions: Sql[]): Sql {
  const any = conditions.length === 0 ? sql('1 = 0') : join(conditions, ' OR ');
  return sql(`${table} WHERE p = ? AND (${any.text})`, [p, ...any.params]);
}

/**
 * The rows a positive filter asks for, as "<table> WHERE ...", or undefined
 * for a negative one (:not, :missing=true), which only an EXISTS can test.
 */
export function positiveRows(filter: SearchFilter, resourceType: string, now: number): Sql | undefined {
  const p = paramKey(resourceType, filter.param.code);
  if (filter.param.code === '_id' && filter.kind === 'token' && !filter.not) {
    // The id is the resource row's own column; a system never matches it.
    const ids = filter.values.filter((v) => v.code !== undefined && (v.system === undefined || v.system === '')).map((v) => sql('id = ?', [v.code!]));
    const any = ids.length === 0 ? sql('1 = 0') : join(ids, ' OR ');
    return sql(`sp_resource WHERE type = ? AND (${any.text})`, [resourceType, ...any.params]);
  }
  switch (filter.kind) {
    case 'missing':
      return undefined;
    case 'token':
      return filter.not ? undefined : rowsWhere('sp_token', p, filter.values.map(tokenCondition));
    case 'uri':
      return rowsWhere('sp_token', p, filter.values.map((v) => sql('code = ?', [v])));
    case 'token-text':
      return rowsWhere('sp_string', paramKey(resourceType, filter.param.code, 'text'), filter.values.map((v) => stringCondition(v, undefined)));
    case 'token-of-type':
      return rowsWhere('sp_token', paramKey(resourceType, filter.param.code, 'of-type'),
        filter.values.map((v) => sql('system = ? AND code = ?', [v.system, `${v.code}|${v.value}`])));
    case 'string':
      return rowsWhere('sp_string', p, filter.values.map((v) => stringCondition(v, filter.modifier)));
    case 'date':
      return rowsWhere('sp_date', p, filter.values.map((v) => dateCondition(v, now)));
    case 'number':
      return rowsWhere('sp_number', p, filter.values.map(numberCondition));
    case 'reference':
      return rowsWhere('sp_ref', p, filter.values.map(referenceCondition));
    case 'reference-identifier':
      return rowsWhere('sp_token', paramKey(resourceType, filter.param.code, 'identifier'), filter.values.map(tokenCondition));
    case 'chain': {
      // The reference rows that point to a target matching its inner filter: a join on the target's index.
      const targets = filter.targets.map(({ type, filter: inner }) => {
        const ids = matchingRows(inner, type, now, 'id');
        return sql(`target_type = ? AND target_id IN (${ids.text})`, [type, ...ids.params]);
      });
      return rowsWhere('sp_ref', p, targets);
    }
    case 'has': {
      // The resources of this type that a matching resource of the source type refers to.
      const sources = matchingRows(filter.inner, filter.source, now, 'rid');
      return sql(
        `sp_resource WHERE type = ? AND id IN (SELECT c.target_id FROM sp_ref c WHERE c.p = ? AND c.target_type = ? AND c.rid IN (${sources.text}))`,
        [resourceType, paramKey(filter.source, filter.param.code), resourceType, ...sources.params],
      );
    }
  }
}

/**
 * "SELECT <column> FROM sp_resource ..." of the resources of `resourceType`
 * that satisfy `filter`. A positive filter's rows are of that type already
 * (their parameter key names it): the rows are looked up by their primary
 * key, not by walking the type.
 */
function matchingRows(filter: SearchFilter, resourceType: string, now: number, column: 'id' | 'rid'): Sql {
  const rows = positiveRows(filter, resourceType, now);
  if (rows) {
    if (column === 'rid') return sql(`SELECT rid FROM ${rows.text}`, rows.params);
    return sql(`SELECT m.id FROM sp_resource m WHERE m.rid IN (SELECT rid FROM ${rows.text})`, rows.params);
  }
  const condition = filterCondition(filter, resourceType, now, 'm.rid');
  return sql(`SELECT m.${column} FROM sp_resource m WHERE m.type = ? AND ${condition.text}`, [resourceType, ...condition.params]);
}

/**
 * A chain or _has as a condition on one row (`rid`, a column `<alias>.rid`):
 * correlated, so that it costs a few index probes per row checked (its
 * references, their targets) rather than every match of the inner filter,
 * which may be most of a type (_has:ImagingStudy:patient:modality=CT).
 * Aliases carry the nesting depth, so that a nested join never captures an
 * outer one's.
 */
function joinedCondition(filter: SearchFilter & { kind: 'chain' | 'has' }, resourceType: string, now: number, rid: string): Sql {
  const alias = rid.slice(0, rid.lastIndexOf('.'));
  const depth = Number(/(\d+)$/.exec(alias)?.[1] ?? 0) + 1;
  const [c, t] = [`c${depth}`, `t${depth}`];
  if (filter.kind === 'chain') {
    const targets = filter.targets.map(({ type, filter: inner }) => {
      const check = filterCondition(inner, type, now, `${t}.rid`);
      return sql(`${t}.type = ? AND ${check.text}`, [type, ...check.params]);
    });
    const any = join(targets, ' OR ');
    return sql(
      `EXISTS (SELECT 1 FROM sp_ref ${c} CROSS JOIN sp_resource ${t} WHERE ${c}.rid = ${rid} AND ${c}.p = ? AND ${c}.target_type <> '' `
        + `AND ${t}.type = ${c}.target_type AND ${t}.id = ${c}.target_id AND (${any.text}))`,
      [paramKey(resourceType, filter.param.code), ...any.params],
    );
  }
  // A _has inside needs the referring row's id: its resource row is joined then.
  const nestedHas = filter.inner.kind === 'has';
  const check = filterCondition(filter.inner, filter.source, now, nestedHas ? `${t}.rid` : `${c}.rid`);
  const source = nestedHas ? ` CROSS JOIN sp_resource ${t}` : '';
  const joined = nestedHas ? ` AND ${t}.rid = ${c}.rid` : '';
  return sql(
    `EXISTS (SELECT 1 FROM sp_ref ${c}${source} WHERE ${c}.p = ? AND ${c}.target_type = ? AND ${c}.target_id = ${alias}.id${joined} AND ${check.text})`,
    [paramKey(filter.source, filter.param.code), resourceType, ...check.params],
  );
}

/** Whether `rid` has any value for the filter's parameter (rows, or the marker of values that gave none). */
function presence(filter: SearchFilter, resourceType: string, rid: string): Sql {
  if (filter.param.code === '_id') return sql('1 = 1');
  const p = paramKey(resourceType, filter.param.code);
  const table = TABLE_OF[filter.param.type];
  return sql(
    `EXISTS (SELECT 1 FROM ${table} WHERE rid = ${rid} AND p = ?) OR EXISTS (SELECT 1 FROM sp_token WHERE rid = ${rid} AND p = ?)`,
    [p, paramKey(resourceType, filter.param.code, 'present')],
  );
}

/** The filter as a condition on the resource row `rid` (a column such as r.rid). */
export function filterCondition(filter: SearchFilter, resourceType: string, now: number, rid: string): Sql {
  if (filter.kind === 'chain' || filter.kind === 'has') return joinedCondition(filter, resourceType, now, rid);
  if (filter.kind === 'missing') {
    const present = presence(filter, resourceType, rid);
    return filter.missing ? sql(`NOT (${present.text})`, present.params) : present;
  }
  const negated = filter.kind === 'token' && filter.not;
  const rows = positiveRows(negated ? { ...filter, not: false } : filter, resourceType, now)!;
  return sql(`${negated ? 'NOT ' : ''}EXISTS (SELECT 1 FROM ${rows.text} AND rid = ${rid})`, rows.params);
}

/** The sort key of one rule, for the resource row `rid`: a correlated sub-select. */
function sortKey(rule: SortRule, resourceType: string, rid: string): Sql {
  const p = paramKey(resourceType, rule.param.code);
  const pick = rule.descending ? 'MAX' : 'MIN';
  switch (rule.param.type) {
    case 'date':
      return sql(`(SELECT ${rule.descending ? 'desc_key' : 'asc_key'} FROM sp_sort WHERE rid = ${rid} AND p = ?)`, [p]);
    case 'string':
      return sql(`(SELECT ${pick}(norm) FROM sp_string WHERE rid = ${rid} AND p = ?)`, [p]);
    case 'number':
      return sql(`(SELECT ${pick}(value) FROM sp_number WHERE rid = ${rid} AND p = ?)`, [p]);
    case 'reference':
      return sql(`(SELECT ${pick}(url) FROM sp_ref WHERE rid = ${rid} AND p = ?)`, [p]);
    case 'token':
    case 'uri':
      return sql(`(SELECT ${pick}(code) FROM sp_token WHERE rid = ${rid} AND p = ?)`, [p]);
  }
}

/** ORDER BY for _sort: resources without a value last either way, ties on the row (stable pages). */
export function orderBy(sort: readonly SortRule[], resourceType: string, rid: string): Sql {
  const parts: Sql[] = [];
  for (const rule of sort) {
    const key = sortKey(rule, resourceType, rid);
    parts.push(sql(`${key.text} IS NULL`, key.params));
    parts.push(sql(`${key.text}${rule.descending ? ' DESC' : ''}`, key.params));
  }
  parts.push(sql(rid));
  return { text: parts.map((p) => p.text).join(', '), params: parts.flatMap((p) => p.params) };
}

export interface SearchPlan {
  /** Index of the filter whose rows drive the query (a selective one), or undefined: scan the type in row order. */
  driver?: number;
}

/**
 * The query of the page's resource ids (and the rows' rid), with `limit`
 * and `offset`; or, with `count`, of their number.
 */
export function compileSearch(
  search: Pick<SearchRequest, 'filters' | 'sort' | 'now'>,
  resourceType: string,
  plan: SearchPlan,
  page: { limit: number; offset: number } | 'count',
): Sql {
  const conditions: Sql[] = [];
  let from: Sql;
  const driver = plan.driver !== undefined ? positiveRows(search.filters[plan.driver]!, resourceType, search.now) : undefined;
  if (driver) {
    // The selective filter's rids first, then the resource rows (CROSS JOIN fixes that order in SQLite).
    from = sql(`(SELECT DISTINCT rid FROM ${driver.text}) d CROSS JOIN sp_resource r`, driver.params);
    conditions.push(sql('r.rid = d.rid'));
  } else {
    from = sql('sp_resource r');
    conditions.push(sql('r.type = ?', [resourceType]));
  }
  search.filters.forEach((filter, index) => {
    if (driver && index === plan.driver) return;
    conditions.push(filterCondition(filter, resourceType, search.now, 'r.rid'));
  });
  const where = join(conditions, ' AND ');
  if (page === 'count') {
    return sql(`SELECT count(*) AS n FROM ${from.text} WHERE ${where.text}`, [...from.params, ...where.params]);
  }
  const order = orderBy(search.sort, resourceType, 'r.rid');
  return sql(
    `SELECT r.rid AS rid, r.id AS id FROM ${from.text} WHERE ${where.text} ORDER BY ${order.text} LIMIT ? OFFSET ?`,
    [...from.params, ...where.params, ...order.params, page.limit, page.offset],
  );
}

/**
 * The fast shape of a scan sorted on one date parameter: walk the sort
 * index in order (resources with a value), filters checked per row.
 */
export function compileSortedScan(
  search: Pick<SearchRequest, 'filters' | 'sort' | 'now'>,
  resourceType: string,
  page: { limit: number; offset: number },
): Sql {
  const rule = search.sort[0]!;
  const key = rule.descending ? 'desc_key' : 'asc_key';
  const direction = rule.descending ? 'DESC' : 'ASC';
  const conditions = [sql('s.p = ?', [paramKey(resourceType, rule.param.code)]), sql('r.rid = s.rid'),
    ...search.filters.map((f) => filterCondition(f, resourceType, search.now, 'r.rid'))];
  const where = join(conditions, ' AND ');
  return sql(
    `SELECT r.rid AS rid, r.id AS id FROM sp_sort s CROSS JOIN sp_resource r WHERE ${where.text} ORDER BY s.${key} ${direction}, s.rid ${direction} LIMIT ? OFFSET ?`,
    [...where.params, page.limit, page.offset],
  );
}

/** The rows of the same search that have no value to sort on, in row order, and their count. */
export function compileUnsortedRest(
  search: Pick<SearchRequest, 'filters' | 'sort' | 'now'>,
  resourceType: string,
  page: { limit: number; offset: number } | 'count',
): Sql {
  const rule = search.sort[0]!;
  const conditions = [sql('r.type = ?', [resourceType]),
    sql('NOT EXISTS (SELECT 1 FROM sp_sort s WHERE s.rid = r.rid AND s.p = ?)', [paramKey(resourceType, rule.param.code)]),
    ...search.filters.map((f) => filterCondition(f, resourceType, search.now, 'r.rid'))];
  const where = join(conditions, ' AND ');
  if (page === 'count') return sql(`SELECT count(*) AS n FROM sp_resource r WHERE ${where.text}`, where.params);
  return sql(`SELECT r.rid AS rid, r.id AS id FROM sp_resource r WHERE ${where.text} ORDER BY r.rid LIMIT ? OFFSET ?`,
    [...where.params, page.limit, page.offset]);
}

/** The rows with a sort value (for paging past them). */
export function compileSortedCount(search: Pick<SearchRequest, 'filters' | 'sort' | 'now'>, resourceType: string): Sql {
  const rule = search.sort[0]!;
  const conditions = [sql('s.p = ?', [paramKey(resourceType, rule.param.code)]), sql('r.rid = s.rid'),
    ...search.filters.map((f) => filterCondition(f, resourceType, search.now, 'r.rid'))];
  const where = join(conditions, ' AND ');
  return sql(`SELECT count(*) AS n FROM sp_sort s CROSS JOIN sp_resource r WHERE ${where.text}`, where.params);
}

/** "SELECT 1 FROM <rows> LIMIT cap": how many rows a positive filter has, up to `cap`. */
export function compileEstimate(filter: SearchFilter, resourceType: string, now: number, cap: number): Sql | undefined {
  // A _has is as narrow as its referring resources (a patient per study at most), a chain to one type about as
  // narrow as its targets: counted without the join, which would list every inner match first.
  if (filter.kind === 'has') return compileEstimate(filter.inner, filter.source, now, cap);
  if (filter.kind === 'chain' && filter.targets.length === 1) return compileEstimate(filter.targets[0]!.filter, filter.targets[0]!.type, now, cap);
  const rows = positiveRows(filter, resourceType, now);
  return rows ? sql(`SELECT count(*) AS n FROM (SELECT 1 FROM ${rows.text} LIMIT ?) e`, [...rows.params, cap]) : undefined;
}
