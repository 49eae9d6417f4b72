// FHIR date, dateTime and instant values as precision-aware ranges: '2024'
// is [2024-01-01T00:00:00Z, 2025-01-01T00:00:00Z). Used both for search
// values and for the resource's own values, which have a precision too.
import type { DateRange } from './types';

// yyyy[-mm[-dd[Thh:mm[:ss[.fff]][Z|+hh:mm]]]]; search values may stop at the
// minute, resource values have seconds when they have a time.
const DATE_TIME = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/**
 * The range a date/dateTime/instant covers, or undefined when malformed.
 * A time without a timezone is taken as UTC: Orthanc's DICOM dates carry no
 * zone either, and UTC keeps results independent of the host's settings.
 */
export function parseDateRange(text: string): DateRange | undefined {
  const match = DATE_TIME.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, fraction, zone] = match;
  const year = Number(y);
  const month = mo === undefined ? 1 : Number(mo);
  const day = d === undefined ? 1 : Number(d);
  const hour = h === undefined ? 0 : Number(h);
  const minute = mi === undefined ? 0 : Number(mi);
  const second = s === undefined ? 0 : Number(s);
  const millis = fraction === undefined ? 0 : Math.floor(Number(`0.${fraction}`) * 1000);
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined;
  // Not Date.UTC, which reads years 0-99 as 1900-1999; setUTCFullYear also rolls month and day overflow over.
  const utc = (yy: number, mm: number, dd = 1, hh = 0, mn = 0, ss = 0, ms = 0) => {
    const date = new Date(0);
    date.setUTCFullYear(yy, mm - 1, dd);
    date.setUTCHours(hh, mn, ss, ms);
    return date.getTime();
  };
  const low = utc(year, month, day, hour, minute, second, millis);
  if (new Date(utc(year, month, day)).getUTCDate() !== day) return undefined; // 2023-02-30
  const offset = zone === undefined || zone === 'Z' ? 0 : zoneOffset(zone);
  let high: number;
  if (mo === undefined) high = utc(year + 1, 1);
  else if (d === undefined) high = utc(year, month + 1);
  else if (h === undefined) high = utc(year, month, day + 1);
  else if (s === undefined) high = low + 60_000;
  else if (fraction === undefined) high = low + 1000;
  else high = low + Math.max(1, 10 ** (3 - fraction.length));
  // Dates without a time have no zone: the zone only shifts times.
  return h === undefined ? { low, high } : { low: low - offset, high: high - offset };
}

function zoneOffset(zone: string): number {
  const sign = zone.startsWith('-') ? -1 : 1;
  const [hours, minutes] = zone.slice(1).split(':').map(Number);
  return sign * ((hours ?? 0) * 60 + (minutes ?? 0)) * 60_000;
}
