// "Today" and "the last 7 days" as started= search parameters, in the zone
// the studies' times are expressed in (the Orthanc process's local zone
// unless a fixed offset is configured): a study at 00:30 local time belongs
// to its local day, not to the UTC one.

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

function offsetText(minutesEast: number): string {
  const sign = minutesEast < 0 ? '-' : '+';
  const absolute = Math.abs(minutesEast);
  return `${sign}${pad(Math.floor(absolute / 60))}:${pad(absolute % 60)}`;
}

/** Midnight starting the local day `days` after the day of `now`, as a FHIR dateTime with its own offset (DST-aware). */
function localMidnight(now: Date, days: number): string {
  const midnight = new Date(now.getFullYear(), now.getMonth(), now.getDate() + days);
  const date = `${midnight.getFullYear()}-${pad(midnight.getMonth() + 1)}-${pad(midnight.getDate())}`;
  return `${date}T00:00:00${offsetText(-midnight.getTimezoneOffset())}`;
}

/** The same with a fixed offset ("+01:00"). */
function fixedMidnight(now: Date, days: number, offset: string): string {
  const [, sign, hours, minutes] = /^([+-])(\d\d):(\d\d)$/.exec(offset) ?? ['', '+', '00', '00'];
  const shift = (sign === '-' ? -1 : 1) * (Number(hours) * 60 + Number(minutes)) * 60000;
  const there = new Date(now.getTime() + shift);
  there.setUTCDate(there.getUTCDate() + days);
  return `${there.toISOString().slice(0, 10)}T00:00:00${offset}`;
}

/**
 * The started= parameters of the `days` days ending today: from the
 * midnight starting the first to the one ending today. `setting`: the
 * DefaultTimezoneOffset setting ("local" or absent: the process's zone; a
 * fixed "+HH:MM" or "Z"; "none": dates only).
 */
export function dayRange(now: Date, days: number, setting?: string): Array<[string, string]> {
  if (setting === 'none') {
    // Studies have dates only: the days themselves (in UTC, as the search reads a date without zone).
    const day = (shift: number) => new Date(now.getTime() + shift * 86400000).toISOString().slice(0, 10);
    return days === 1 ? [['started', day(0)]] : [['started', `ge${day(1 - days)}`], ['started', `le${day(0)}`]];
  }
  const offset = setting === 'Z' ? '+00:00' : setting;
  const fixed = offset !== undefined && /^[+-]\d\d:\d\d$/.test(offset);
  const midnight = (shift: number) => (fixed ? fixedMidnight(now, shift, offset!) : localMidnight(now, shift));
  return [['started', `ge${midnight(1 - days)}`], ['started', `lt${midnight(1)}`]];
}
