// DICOM DA / TM / DT values (PS3.5 §6.2) and Orthanc timestamps to FHIR
// date, dateTime and instant.
//
// Timezone policy. A FHIR dateTime that carries a time SHALL carry a UTC
// offset, while DICOM times are local times whose offset is only known when
// the instance has TimezoneOffsetFromUTC (0008,0201) (or a DT with a suffix).
// So: the data's own offset wins; else the caller's zone (time-zone.ts: the
// process's local zone, DST-aware at that date and time, or a fixed offset)
// gives it; with no zone ("none") the value falls back to date precision
// rather than inventing one.
// Missing minutes and seconds (TM "HH" or "HHMM") are zero-filled, as FHIR
// prescribes ("seconds must be provided ... may be zero-filled").
//
// Partial dates. DICOM DA is always YYYYMMDD, but partial dates exist in the
// wild ("1970", "197001", and "19700000" where 00 means unknown); they are
// unambiguous, so they become FHIR's partial dates (YYYY, YYYY-MM). The
// pre-3.0 form YYYY.MM.DD that PS3.5 asks readers to accept is accepted too.
// Anything else (impossible day, month 13, year 0000, dashes...) is invalid
// and yields undefined.
import { normalizeOffset, offsetOfLocalTime, zonePolicy, type ZonePolicy } from './time-zone';

export interface DicomDate {
  year: number;
  month?: number;
  day?: number;
}

export interface DicomTime {
  hour: number;
  minute?: number;
  second?: number;
  /** The fraction including its dot, as written: ".5", ".123456". */
  fraction?: string;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1] ?? 0;
}

function validDate(year: number, month?: number, day?: number): DicomDate | undefined {
  if (year < 1) return undefined;
  if (month === undefined) return { year };
  if (month < 1 || month > 12) return undefined;
  if (day === undefined) return { year, month };
  if (day < 1 || day > daysInMonth(year, month)) return undefined;
  return { year, month, day };
}

/** Parses a DA value; undefined when absent or invalid (see the header for partial dates). */
export function parseDicomDate(value: string | undefined): DicomDate | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  const legacy = /^(\d{4})\.(\d{2})\.(\d{2})$/.exec(text);
  if (legacy) return validDate(Number(legacy[1]), Number(legacy[2]), Number(legacy[3]));
  const match = /^(\d{4})(\d{2})?(\d{2})?$/.exec(text);
  if (!match) return undefined;
  const year = Number(match[1]);
  let month = match[2] === undefined ? undefined : Number(match[2]);
  let day = match[3] === undefined ? undefined : Number(match[3]);
  // "00" for an unknown month or day: reduce the precision instead.
  if (month === 0) {
    if (day !== undefined && day !== 0) return undefined;
    month = undefined;
    day = undefined;
  } else if (day === 0) {
    day = undefined;
  }
  return validDate(year, month, day);
}

export function formatFhirDate(date: DicomDate): string {
  let text = pad(date.year, 4);
  if (date.month !== undefined) text += `-${pad(date.month, 2)}`;
  if (date.month !== undefined && date.day !== undefined) text += `-${pad(date.day, 2)}`;
  return text;
}

/** A DA value as a FHIR date (possibly partial); undefined when absent or invalid. */
export function dicomDateToFhirDate(value: string | undefined): string | undefined {
  const date = parseDicomDate(value);
  return date ? formatFhirDate(date) : undefined;
}

function validTime(hour: number, minute?: number, second?: number, fraction?: string): DicomTime | undefined {
  if (hour > 23) return undefined;
  if (minute !== undefined && minute > 59) return undefined;
  // 60 is a leap second, which both DICOM and FHIR allow.
  if (second !== undefined && second > 60) return undefined;
  const time: DicomTime = { hour };
  if (minute !== undefined) time.minute = minute;
  if (second !== undefined) time.second = second;
  if (fraction !== undefined) time.fraction = fraction;
  return time;
}

/**
 * Parses a TM value: HH, HHMM, HHMMSS, HHMMSS.F{1,6}, and the pre-3.0
 * HH:MM[:SS[.F]] form. Undefined when absent or invalid.
 */
export function parseDicomTime(value: string | undefined): DicomTime | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  const match = /^(\d{2})(?:(\d{2})(?:(\d{2})(\.\d{1,6})?)?)?$/.exec(text) ?? /^(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?$/.exec(text);
  if (!match) return undefined;
  return validTime(
    Number(match[1]),
    match[2] === undefined ? undefined : Number(match[2]),
    match[3] === undefined ? undefined : Number(match[3]),
    match[4],
  );
}

/**
 * A UTC offset as FHIR writes it ("+01:00", "Z"), from DICOM's "+HHMM" /
 * "-HHMM" (TimezoneOffsetFromUTC, DT suffix) or from "+HH:MM" / "Z" (for
 * configuration). Undefined when absent or outside FHIR's range
 * (-13:59..+14:00).
 */
export function parseTimezoneOffset(value: string | undefined): string | undefined {
  return normalizeOffset(value);
}

function formatFhirTime(time: DicomTime): string {
  return `${pad(time.hour, 2)}:${pad(time.minute ?? 0, 2)}:${pad(time.second ?? 0, 2)}${time.fraction ?? ''}`;
}

/**
 * The date, and the time when it can be placed in time: its own offset
 * (already parsed), else the zone's offset at that date and time.
 */
function combine(date: DicomDate | undefined, time: DicomTime | undefined, ownOffset: string | undefined, zone: ZonePolicy): string | undefined {
  if (!date) return undefined;
  // A time is only meaningful on a full date, and FHIR requires an offset with it.
  if (!time || date.month === undefined || date.day === undefined) return formatFhirDate(date);
  const offset = ownOffset ?? offsetOfLocalTime(zone, {
    year: date.year, month: date.month, day: date.day, hour: time.hour, minute: time.minute ?? 0, second: time.second ?? 0,
  });
  return offset ? `${formatFhirDate(date)}T${formatFhirTime(time)}${offset}` : formatFhirDate(date);
}

/**
 * A zone given as a policy or a setting ("local", "none", an offset); a
 * setting that is none of these counts as no zone here (the mappers check
 * their options loudly with zonePolicy first).
 */
function lenientZone(zone: ZonePolicy | string | undefined): ZonePolicy {
  try {
    return zonePolicy(zone);
  } catch {
    return { kind: 'none' };
  }
}

/**
 * DA + TM (+ TimezoneOffsetFromUTC) as a FHIR dateTime: date and time when
 * the time is valid and an offset is known (the tag's, else the one of
 * `zone` at that date and time), otherwise the date alone; undefined
 * without a valid date.
 */
export function dicomDateTimeToFhir(
  date: string | undefined,
  time: string | undefined,
  timezoneOffset?: string,
  zone?: ZonePolicy | string,
): string | undefined {
  return combine(parseDicomDate(date), parseDicomTime(time), parseTimezoneOffset(timezoneOffset), lenientZone(zone));
}

/**
 * A DT value (YYYY[MM[DD[HH[MM[SS[.F{1,6}]]]]]][&ZZXX]) as a FHIR dateTime.
 * Its own offset suffix wins over `timezoneOffset` (TimezoneOffsetFromUTC),
 * which wins over `zone`; without any, date precision.
 */
export function dicomDtToFhirDateTime(value: string | undefined, timezoneOffset?: string, zone?: ZonePolicy | string): string | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  const match = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,6})?([+-]\d{4})?$/.exec(text);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second, fraction, suffix] = match;
  // A fraction only follows seconds.
  if (fraction !== undefined && second === undefined) return undefined;
  const date = parseDicomDate(`${year}${month ?? ''}${day ?? ''}`);
  const time = hour === undefined ? undefined : parseDicomTime(`${hour}${minute ?? ''}${second ?? ''}${fraction ?? ''}`);
  if (hour !== undefined && !time) return undefined;
  let offset: string | undefined;
  if (suffix !== undefined) {
    offset = parseTimezoneOffset(suffix);
    if (!offset) return undefined;
  } else {
    offset = parseTimezoneOffset(timezoneOffset);
  }
  return combine(date, time, offset, lenientZone(zone));
}

/**
 * An Orthanc timestamp ("20240131T101530": LastUpdate, ReceptionDate) as a
 * FHIR instant. Orthanc 1.10.1 writes these in UTC whatever the server's
 * zone (checked on a server running with TZ=Asia/Tokyo), hence the default
 * 'Z'; `offset` is there for builds that write local time.
 */
export function orthancTimestampToInstant(value: string | undefined, offset = 'Z'): string | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})$/.exec(text);
  const zone = parseTimezoneOffset(offset);
  if (!match || !zone) return undefined;
  const date = validDate(Number(match[1]), Number(match[2]), Number(match[3]));
  const time = validTime(Number(match[4]), Number(match[5]), Number(match[6]));
  if (!date || !time) return undefined;
  return `${formatFhirDate(date)}T${formatFhirTime(time)}${zone}`;
}

/** Throws for a configured offset that is not valid, so a bad setting fails loudly. */
export function checkConfiguredOffset(value: string | undefined, setting: string): string | undefined {
  if (value === undefined) return undefined;
  const offset = parseTimezoneOffset(value);
  if (!offset) throw new RangeError(`${setting}: "${value}" is not a UTC offset (use "Z", "+HH:MM" or "+HHMM")`);
  return offset;
}
