// Gaps in Orthanc's change log. With several Orthancs writing one
// PostgreSQL index (or one Orthanc with several index connections), change
// numbers come from a sequence, and a transaction may commit change 100
// after another committed 102: a reader that saw 102 and moved its cursor
// past 101 would miss 100 and 101 for ever. So the numbers skipped below
// the cursor are remembered for a while (a number may also never appear: a
// rolled-back transaction burns it) and looked for again at each follow.
// Pure.

export interface Gap {
  seq: number;
  /** When it was first seen missing (epoch ms). */
  seen: number;
}

export interface GapOptions {
  /** How long a missing number is waited for: longer than any index transaction of Orthanc. */
  graceMs: number;
  /** A wider hole is not transactions in flight (the log was cleared, say): not waited for. */
  maxWidth: number;
  /** At most this many are remembered (the newest). */
  maxGaps: number;
}

export const GAP_OPTIONS: GapOptions = { graceMs: 60000, maxWidth: 200, maxGaps: 1000 };

/** The gaps still waited for after a page of changes after `since`, given the numbers found (in the page or in old gaps). */
export function gapsAfter(pending: readonly Gap[], since: number, page: readonly number[], found: ReadonlySet<number>, now: number,
  options: GapOptions = GAP_OPTIONS): Gap[] {
  const kept = pending.filter((gap) => !found.has(gap.seq) && now - gap.seen <= options.graceMs);
  let previous = since;
  for (const seq of [...page].sort((a, b) => a - b)) {
    const width = seq - previous - 1;
    if (width > 0 && width <= options.maxWidth) {
      for (let missing = previous + 1; missing < seq; missing++) kept.push({ seq: missing, seen: now });
    }
    previous = Math.max(previous, seq);
  }
  return kept.slice(-options.maxGaps);
}

/** Consecutive runs of the gaps' numbers, as [first, last]: one read of the log each. */
export function gapRanges(gaps: readonly Gap[]): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (const seq of [...new Set(gaps.map((gap) => gap.seq))].sort((a, b) => a - b)) {
    const last = ranges.at(-1);
    if (last && seq === last[1] + 1) last[1] = seq;
    else ranges.push([seq, seq]);
  }
  return ranges;
}

/** The gaps kept in a setting (JSON), tolerating an absent or damaged value. */
export function parseGaps(text: string | undefined): Gap[] {
  if (!text) return [];
  try {
    const value = JSON.parse(text) as unknown;
    return Array.isArray(value) ? value.filter((g): g is Gap => typeof g?.seq === 'number' && typeof g?.seen === 'number') : [];
  } catch {
    return [];
  }
}
