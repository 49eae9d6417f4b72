// How a store runs a search over its index tables, the same for SQLite and
// PostgreSQL: which filter drives (the narrowest, by counting rows up to a
// cap), the page query (search/search-sql.ts), and when Bundle.total is
// cheap enough to give unasked. The store only says how to run a statement.
import { paramKey } from '../search/index-rows';
import {
  compileEstimate, compileSearch, compileSortedCount, compileSortedScan, compileUnsortedRest, type SearchPlan, type Sql, type SqlValue,
} from '../search/search-sql';
import type { IndexedSearch, KeyCondition, SearchIds } from './store';

/** Bundle.total is given unasked while the matches are fewer than this. */
const CHEAP_TOTAL = 1000;
/** The first, cheap count of each filter's rows stops here. */
const FEW = 64;
/** A filter with fewer rows than this drives the query; broader ones are checked row by row. */
const SELECTIVE = 2000;
/** With several filters, the narrowest drives while it has fewer rows than this. */
const SELECTIVE_AMONG_SEVERAL = 20000;

/** Runs a statement of the index (placeholders `?`) on one connection or transaction. */
export interface SqlRunner {
  all<T>(query: Sql): Promise<T[]>;
  /** The `n` column of a one-row `SELECT count(*) AS n`. */
  count(query: Sql): Promise<number>;
}

/**
 * The narrowest of several row sets, by counting each up to a small cap
 * first (a key of a few rows is found at once), then up to SELECTIVE: the
 * cost stays bounded however large the broad ones grow.
 */
async function narrowest(counts: Array<(cap: number) => Promise<number>>): Promise<{ index: number; n: number }> {
  for (const cap of [FEW, SELECTIVE]) {
    let best = { index: -1, n: Infinity };
    for (const [index, count] of counts.entries()) {
      const n = await count(cap);
      if (n < best.n) best = { index, n };
    }
    if (best.n < cap) return best;
  }
  return { index: 0, n: SELECTIVE };
}

/** Which filter drives: the narrowest, by counting its rows up to a cap. */
async function plan(search: IndexedSearch, db: SqlRunner): Promise<SearchPlan> {
  const positives = search.filters.flatMap((filter, index) => {
    const estimate = (cap: number) => compileEstimate(filter, search.resourceType, search.now, cap);
    return estimate(1) ? [{ index, count: (cap: number) => db.count(estimate(cap)!) }] : [];
  });
  if (positives.length === 0) return {};
  const narrow = await narrowest(positives.map((p) => p.count));
  if (narrow.n < SELECTIVE) return { driver: positives[narrow.index]!.index };
  // Several broad filters may still meet rarely: drive from the narrowest while it is not too broad.
  if (positives.length < 2) return {};
  let wider = { index: -1, n: Infinity };
  for (const [index, p] of positives.entries()) {
    const n = await p.count(SELECTIVE_AMONG_SEVERAL);
    if (n < wider.n) wider = { index, n };
  }
  return wider.n < SELECTIVE_AMONG_SEVERAL ? { driver: positives[wider.index]!.index } : {};
}

/** The number of matches when it is below CHEAP_TOTAL (the count stops there), else undefined. */
async function smallTotal(search: IndexedSearch, chosen: SearchPlan, db: SqlRunner): Promise<number | undefined> {
  const capped = compileSearch({ ...search, sort: [] }, search.resourceType, chosen, { limit: CHEAP_TOTAL, offset: 0 });
  const n = await db.count({ text: `SELECT count(*) AS n FROM (${capped.text}) c`, params: capped.params });
  return n < CHEAP_TOTAL ? n : undefined;
}

export async function runSearch(search: IndexedSearch, db: SqlRunner): Promise<SearchIds> {
  const type = search.resourceType;
  const chosen = await plan(search, db);
  const wantsTotal = search.total === 'accurate' || search.summary === 'count' || search.count === 0;
  const counted = () => db.count(compileSearch(search, type, chosen, 'count'));
  if (search.summary === 'count' || search.count === 0) return { ids: [], more: false, total: await counted() };
  const page = { limit: search.count + 1, offset: search.offset };
  let rows: Array<{ id: string }>;
  const sortedScan = chosen.driver === undefined && search.sort.length === 1 && search.sort[0]!.param.type === 'date';
  if (sortedScan) {
    // Walk the sort index in order; resources without a value come after, in row order.
    rows = await db.all<{ id: string }>(compileSortedScan(search, type, page));
    if (rows.length < page.limit) {
      const withValue = rows.length > 0 || search.offset === 0 ? search.offset + rows.length : await db.count(compileSortedCount(search, type));
      const rest = await db.all<{ id: string }>(compileUnsortedRest(search, type,
        { limit: page.limit - rows.length, offset: Math.max(0, search.offset - withValue) }));
      rows = [...rows, ...rest];
    }
  } else {
    rows = await db.all<{ id: string }>(compileSearch(search, type, chosen, page));
  }
  const more = rows.length > search.count;
  const ids = rows.slice(0, search.count).map((row) => row.id);
  // Without more matches, the total is known for free (unless the page is
  // past the end); a small one costs little to count; a large one only
  // when asked for.
  let total: number | undefined;
  if (wantsTotal) total = await counted();
  else if (!more && (ids.length > 0 || search.offset === 0)) total = search.offset + ids.length;
  // Driven by a selective filter, the matches are few: counting them is cheap. A scan's are many.
  else if (chosen.driver !== undefined) total = await smallTotal(search, chosen, db);
  return total === undefined ? { ids, more } : { ids, more, total };
}

/** Ids of the resources of a type with any of `values` under a module's own key, in row order. */
export function lookupQuery(resourceType: string, key: string, values: readonly string[]): Sql {
  return {
    text: `SELECT r.id AS id FROM sp_resource r WHERE r.rid IN (SELECT t.rid FROM sp_token t WHERE t.p = ? AND t.code IN (${values.map(() => '?').join(', ')})) ORDER BY r.rid`,
    params: [paramKey(resourceType, key), ...values],
  };
}

/** Ids of the resources whose keys meet every condition, in row order: the narrowest condition drives. */
export async function keyedIds(resourceType: string, conditions: readonly KeyCondition[], db: SqlRunner): Promise<string[]> {
  if (conditions.length === 0) return [];
  const all = conditions.map((condition): Sql => {
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
  });
  const { index } = await narrowest(all.map((c) => (cap: number) => db.count(
    { text: `SELECT count(*) AS n FROM (SELECT 1 FROM ${c.text} LIMIT ${cap}) e`, params: c.params })));
  const first = all[index]!;
  const others = all.filter((_, i) => i !== index);
  const checks = others.map((other) => `EXISTS (SELECT 1 FROM ${other.text} AND rid = r.rid)`);
  const text = `SELECT r.id AS id FROM (SELECT DISTINCT rid FROM ${first.text}) d CROSS JOIN sp_resource r WHERE r.rid = d.rid${checks.map((c) => ` AND ${c}`).join('')} ORDER BY r.rid`;
  const rows = await db.all<{ id: string }>({ text, params: [...first.params, ...others.flatMap((o) => o.params)] });
  return rows.map((row) => row.id);
}
