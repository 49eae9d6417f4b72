// "Today" and "the last 7 days" as started= search parameters, in the zone
// the studies' times are expressed in (the DefaultTimezoneOffset policy of
// resources/imaging/time-zone.ts): a study at 00:30 local time belongs to
// its local day, not to the UTC one.
import { offsetOfLocalTime, wallClockAt, zonePolicy } from '../../resources/imaging/time-zone';

/**
 * The started= parameters of the `days` days ending today: from the
 * midnight starting the first to the one ending today, each with its own
 * offset (DST-aware). `setting`: DefaultTimezoneOffset ("local" or absent:
 * the process's zone; a fixed "+HH:MM" or "Z"; "none": dates only, which the
 * search reads in UTC).
 */
export function dayRange(now: Date, days: number, setting?: string): Array<[string, string]> {
  const policy = zonePolicy(setting ?? 'local');
  const today = wallClockAt(policy, now.getTime()) ?? wallClockAt({ kind: 'fixed', offset: 'Z' }, now.getTime())!;
  const day = (shift: number) => {
    const date = new Date(0);
    date.setUTCFullYear(today.year, today.month - 1, today.day + shift);
    return { text: date.toISOString().slice(0, 10), year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() };
  };
  if (policy.kind === 'none') {
    return days === 1 ? [['started', day(0).text]] : [['started', `ge${day(1 - days).text}`], ['started', `le${day(0).text}`]];
  }
  const midnight = (shift: number) => {
    const { text, ...clock } = day(shift);
    return `${text}T00:00:00${offsetOfLocalTime(policy, { ...clock, hour: 0, minute: 0, second: 0 })}`;
  };
  return [['started', `ge${midnight(1 - days)}`], ['started', `lt${midnight(1)}`]];
}
