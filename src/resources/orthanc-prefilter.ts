// Turns parsed search filters into /tools/find constraints that can only
// narrow the candidates, never drop a match: the search engine re-checks
// every filter on what Orthanc returns. Only exact values go to Orthanc, so a
// client's '*' or '?' is never read as a DICOM wildcard.
import { isSafeFindValue } from '../orthanc/dicom-index';
import type { SearchFilter } from '../search';

type TokenFilter = Extract<SearchFilter, { kind: 'token' }>;
type DateFilter = Extract<SearchFilter, { kind: 'date' }>;

const DAY = 24 * 3600 * 1000;

/**
 * The codes of a token filter whose every value is a plain code in one of
 * `systems` (undefined: any system), safe for /tools/find; undefined when
 * any value is not.
 */
export function exactCodes(filter: SearchFilter, systems: ReadonlyArray<string | undefined>): string[] | undefined {
  if (filter.kind !== 'token' || (filter as TokenFilter).not) return undefined;
  const codes: string[] = [];
  for (const value of filter.values) {
    if (value.code === undefined || !isSafeFindValue(value.code) || !systems.includes(value.system)) return undefined;
    codes.push(value.code);
  }
  return codes;
}

function dicomDate(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10).replace(/-/g, '');
}

/**
 * A DICOM date range ("YYYYMMDD-YYYYMMDD", either end open) covering every
 * value of a date filter, widened by a day on each side for time zones.
 */
export function dicomDateRange(filter: SearchFilter): string | undefined {
  if (filter.kind !== 'date') return undefined;
  let low = Infinity;
  let high = -Infinity;
  for (const { prefix, range } of (filter as DateFilter).values) {
    if (prefix === 'ne' || prefix === 'ap') return undefined;
    // The dates a matching resource can have, as a superset.
    const upward = prefix === 'gt' || prefix === 'ge' || prefix === 'sa';
    const downward = prefix === 'lt' || prefix === 'le' || prefix === 'eb';
    low = Math.min(low, downward ? -Infinity : range.low);
    high = Math.max(high, upward ? Infinity : range.high);
  }
  if (low === -Infinity && high === Infinity) return undefined;
  const from = Number.isFinite(low) ? dicomDate(low - DAY) : '';
  const to = Number.isFinite(high) ? dicomDate(high + DAY) : '';
  return `${from}-${to}`;
}
