// The zone DICOM's local dates and times are read in when the data carries no
// TimezoneOffsetFromUTC, and the zone FHIR instants are written in for the
// modality worklist: the setting "Fhir.DefaultTimezoneOffset".
//
//   "local"   the zone of the Orthanc process (the TZ environment variable,
//             else the system's), DST-aware: the offset is the one in force
//             at that date and time, so a winter study in Brussels reads
//             +01:00 and a summer one +02:00.
//   "+01:00"  a fixed offset, whatever the date ("Z" and "+0100" too).
//   "none"    no zone: a DICOM time without its own offset is dropped (FHIR
//             requires an offset with a time), and worklist times are the
//             clock time the FHIR value is written in.
//
// Local wall-clock times that DST makes ambiguous are resolved as
// ECMAScript's Date does (and Temporal's "compatible" default): a time in the
// spring-forward gap (02:30 on the last Sunday of March in Brussels, which no
// clock showed) takes the offset before the transition (02:30+01:00, the
// instant a clock not yet moved forward meant); a time in the fall-back
// overlap (02:30 on the last Sunday of October, shown twice) is its first
// occurrence, with the summer offset (02:30+02:00). The written digits are
// always kept: only the offset is chosen.
//
// "local" is the only impure part of the imaging mappers: it reads the
// process's zone (tests set process.env.TZ, which Node applies at once).

export type ZonePolicy = { kind: 'local' } | { kind: 'fixed'; offset: string } | { kind: 'none' };

export const NO_ZONE: ZonePolicy = { kind: 'none' };
export const LOCAL_ZONE: ZonePolicy = { kind: 'local' };

/** A fixed UTC offset as FHIR writes it: "+01:00", or "Z" as given; undefined outside FHIR's -13:59..+14:00. */
export function normalizeOffset(value: string | undefined): string | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (text === 'Z') return 'Z';
  const match = /^([+-])(\d{2}):?(\d{2})$/.exec(text);
  if (!match) return undefined;
  const hours = Number(match[2]);
  const minutes = Number(match[3]);
  if (minutes > 59 || hours > 14 || (hours === 14 && minutes > 0)) return undefined;
  // "-00:00" means "offset unknown" in RFC 3339; DICOM has no such meaning.
  const sign = hours === 0 && minutes === 0 ? '+' : match[1];
  return `${sign}${match[2]}:${match[3]}`;
}

/**
 * The policy of a setting: "local", "none", or a UTC offset. Absent means
 * none here (the pure default of the mappers; the configuration's default
 * is "local"). Throws a RangeError naming `setting` for anything else, so
 * that a bad setting fails loudly.
 */
export function zonePolicy(value: string | ZonePolicy | undefined, setting = 'defaultTimezoneOffset'): ZonePolicy {
  if (value === undefined) return NO_ZONE;
  if (typeof value !== 'string') return value;
  if (value === 'local') return LOCAL_ZONE;
  if (value === 'none') return NO_ZONE;
  const offset = normalizeOffset(value);
  if (!offset) {
    throw new RangeError(`${setting}: "${value}" is neither "local", "none" nor a UTC offset ("Z", "+HH:MM" or "+HHMM"); for a named zone, set TZ in Orthanc's environment and use "local"`);
  }
  return { kind: 'fixed', offset };
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** Minutes east of UTC as FHIR writes them; zero is "+00:00", as DICOM's "+0000" reads. */
export function formatOffsetMinutes(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const absolute = Math.abs(minutes);
  return `${sign}${pad(Math.floor(absolute / 60))}:${pad(absolute % 60)}`;
}

function fixedMinutes(offset: string): number {
  if (offset === 'Z') return 0;
  const sign = offset.startsWith('-') ? -1 : 1;
  return sign * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
}

/** Epoch ms of a wall-clock time read as UTC (setUTCFullYear: Date.UTC reads years 0-99 as 1900-1999). */
function asUtc(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  return date.getTime();
}

export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/**
 * The UTC offset of a local wall-clock time under the policy ("+01:00");
 * undefined for none. For "local", the offset that makes the written time
 * the instant the process's Date gives it (see the header for DST gaps and
 * overlaps), rounded to the minute (historical local mean times such as
 * Brussels' +00:17:30 before 1892 have seconds, which FHIR cannot write).
 */
export function offsetOfLocalTime(policy: ZonePolicy, clock: WallClock): string | undefined {
  if (policy.kind === 'none') return undefined;
  if (policy.kind === 'fixed') return policy.offset;
  const local = new Date(0);
  local.setFullYear(clock.year, clock.month - 1, clock.day);
  local.setHours(clock.hour, clock.minute, clock.second, 0);
  const minutes = Math.round((asUtc(clock.year, clock.month, clock.day, clock.hour, clock.minute, clock.second) - local.getTime()) / 60000);
  return Number.isFinite(minutes) ? formatOffsetMinutes(minutes) : undefined;
}

/**
 * The wall clock of an instant (epoch ms) under the policy: shifted by a
 * fixed offset, or the process's local time at that instant (DST-aware);
 * undefined for none.
 */
export function wallClockAt(policy: ZonePolicy, epochMs: number): WallClock | undefined {
  if (policy.kind === 'none' || !Number.isFinite(epochMs)) return undefined;
  if (policy.kind === 'fixed') {
    const date = new Date(epochMs + fixedMinutes(policy.offset) * 60000);
    return {
      year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate(),
      hour: date.getUTCHours(), minute: date.getUTCMinutes(), second: date.getUTCSeconds(),
    };
  }
  const date = new Date(epochMs);
  return {
    year: date.getFullYear(), month: date.getMonth() + 1, day: date.getDate(),
    hour: date.getHours(), minute: date.getMinutes(), second: date.getSeconds(),
  };
}

/** Fixed instants whose local offsets tell zones (and rule changes) apart, winter and summer of both hemispheres. */
const PROBES = ['1990-01-15', '1990-07-15', '2010-01-15', '2010-07-15', '2024-01-15', '2024-07-15', '2037-01-15', '2037-07-15']
  .map((day) => Date.parse(`${day}T12:00:00Z`));

/**
 * What values computed under the policy depend on, for the signature of the
 * indexes that hold them (a change rebuilds them): for "local", the zone's
 * name (Intl's, else TZ) and its offsets at fixed instants, which also tell
 * a change of the zone's rules. Not the time zone database's version: it
 * moves with every Node or ICU update, and a rebuild of every index (all the
 * stored resources, the imaging index from Orthanc) is no small price for a
 * release that did not change this zone.
 */
export function zoneSignature(policy: ZonePolicy): string {
  if (policy.kind === 'none') return 'none';
  if (policy.kind === 'fixed') return policy.offset;
  const name = Intl.DateTimeFormat().resolvedOptions().timeZone ?? process.env.TZ ?? '';
  const offsets = PROBES.map((instant) => String(-new Date(instant).getTimezoneOffset())).join(',');
  return `local ${name} ${offsets}`;
}
