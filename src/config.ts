// The "Fhir" section of Orthanc's configuration, validated once at start-up.
// A bad value stops Orthanc's start with a clear message rather than
// surfacing later as odd answers. The shim reads Enable, RequestTimeout and
// Bundle itself; they are validated here too so that the README's table is
// the whole truth.

import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';

export interface FhirConfig {
  requestTimeoutSeconds: number;
  /** Public base URL of /fhir as clients see it (behind a proxy, say); no trailing slash. */
  publicBaseUrl?: string;
  /** Largest request body accepted, in bytes. */
  maxBodySize: number;
  /** Page size of searches without _count, and the cap on _count. */
  defaultCount: number;
  maxCount: number;
  /** Root of the DICOMweb plugin's REST API, from the "DicomWeb" section. */
  dicomWebRoot: string;
  /** Identifier.system of DICOM PatientID (this PACS's namespace); none when unset. */
  patientIdSystem?: string;
  /** Identifier.system of accession numbers without an issuer; none when unset. */
  accessionNumberSystem?: string;
  /** The modality worklist served from the orders. */
  worklist: { enable: boolean; filterIssuerAet: boolean; limitAnswers: number };
  /** Folder of the plugin's database file (orders, stored Patients). */
  databaseDirectory: string;
  /** UTC offset assumed for DICOM times without TimezoneOffsetFromUTC (e.g. "+01:00"); none: date precision. */
  defaultTimezoneOffset?: string;
  /** JavaScript heap limit in MiB (the shim applies it; validated here too). */
  heapLimitMiB: number;
  /** Bytes the caches of facts read from DICOM files may hold, in all. */
  cacheBytes: number;
}

export class ConfigurationError extends Error {}

type Json = Record<string, unknown>;

const KNOWN_KEYS = new Set([
  'Enable',
  'RequestTimeout',
  'Bundle',
  'PublicBaseUrl',
  'MaxBodySize',
  'DefaultCount',
  'MaxCount',
  'PatientIdSystem',
  'AccessionNumberSystem',
  'DefaultTimezoneOffset',
  'DatabaseDirectory',
  'Worklist',
  'HeapLimit',
  'CacheSize',
]);

function worklistSection(value: unknown): FhirConfig['worklist'] {
  const section = (value ?? {}) as Json;
  if (typeof section !== 'object' || Array.isArray(section)) throw new ConfigurationError('"Fhir.Worklist" must be an object');
  for (const key of Object.keys(section)) {
    if (!['Enable', 'FilterIssuerAet', 'LimitAnswers'].includes(key)) {
      throw new ConfigurationError(`Unknown option "Fhir.Worklist.${key}" (known: Enable, FilterIssuerAet, LimitAnswers)`);
    }
  }
  for (const key of ['Enable', 'FilterIssuerAet']) {
    if (section[key] !== undefined && typeof section[key] !== 'boolean') {
      throw new ConfigurationError(`"Fhir.Worklist.${key}" must be true or false`);
    }
  }
  const limit = section.LimitAnswers ?? 0;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0) {
    throw new ConfigurationError('"Fhir.Worklist.LimitAnswers" must be a non-negative integer (0: no limit)');
  }
  return { enable: section.Enable === true, filterIssuerAet: section.FilterIssuerAet === true, limitAnswers: limit };
}

function optionalUri(section: Json, key: string): string | undefined {
  const value = section[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[a-z][a-z0-9+.-]*:\S+$/i.test(value)) {
    throw new ConfigurationError(`"Fhir.${key}" must be an absolute URI, such as urn:oid:1.2.3 or https://example.org/ids`);
  }
  return value;
}

function positiveInteger(section: Json, key: string, fallback: number, max: number): number {
  const value = section[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new ConfigurationError(`"Fhir.${key}" must be an integer between 1 and ${max}`);
  }
  return value;
}

/** The shim applies it before JavaScript runs; checked here too, so that the README's table is the whole truth. */
function heapLimit(value: unknown): number {
  if (value === undefined) return 1024;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 64 || value > 16384) {
    throw new ConfigurationError('"Fhir.HeapLimit" must be a whole number of MiB between 64 and 16384');
  }
  return value;
}

function resolvePath(configurationPath: string, path: string): string {
  if (isAbsolute(path)) return path;
  let base = process.cwd();
  if (configurationPath !== '') {
    base = existsSync(configurationPath) && statSync(configurationPath).isDirectory() ? configurationPath : dirname(configurationPath);
  }
  return resolve(base, path);
}

function timezoneOffset(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const match = typeof value === 'string' ? /^([+-])(\d\d):?(\d\d)$/.exec(value) : null;
  if (!match || Number(match[2]) > 14 || Number(match[3]) > 59) {
    throw new ConfigurationError('"Fhir.DefaultTimezoneOffset" must be a UTC offset such as "+01:00"');
  }
  return `${match[1]}${match[2]}:${match[3]}`;
}

function stringOption(section: Json, key: string): string | undefined {
  const value = section[key];
  if (value !== undefined && (typeof value !== 'string' || value === '')) {
    throw new ConfigurationError(`"${key}" must be a non-empty string`);
  }
  return value as string | undefined;
}

/**
 * Reads Orthanc's configuration. `configurationPath` (Orthanc's
 * configuration file or folder) anchors relative paths, as Orthanc does.
 */
export function readConfig(orthanc: Json, configurationPath = ''): FhirConfig {
  const raw = orthanc.Fhir ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigurationError('"Fhir" must be an object');
  }
  const section = raw as Json;
  for (const key of Object.keys(section)) {
    if (!KNOWN_KEYS.has(key)) {
      throw new ConfigurationError(`Unknown option "Fhir.${key}" (known: ${[...KNOWN_KEYS].join(', ')})`);
    }
  }
  const timeout = section.RequestTimeout ?? 30;
  if (typeof timeout !== 'number' || !(timeout > 0) || timeout > 3600) {
    throw new ConfigurationError('"Fhir.RequestTimeout" must be a number of seconds between 0 and 3600');
  }
  let publicBaseUrl: string | undefined;
  if (section.PublicBaseUrl !== undefined) {
    if (typeof section.PublicBaseUrl !== 'string') {
      throw new ConfigurationError('"Fhir.PublicBaseUrl" must be a URL');
    }
    let url: URL;
    try {
      url = new URL(section.PublicBaseUrl);
    } catch {
      throw new ConfigurationError(`"Fhir.PublicBaseUrl" is not a URL: ${section.PublicBaseUrl}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ConfigurationError('"Fhir.PublicBaseUrl" must be an http or https URL');
    }
    publicBaseUrl = section.PublicBaseUrl.replace(/\/+$/, '');
  }
  const defaultCount = positiveInteger(section, 'DefaultCount', 20, 10000);
  const maxCount = positiveInteger(section, 'MaxCount', 1000, 10000);
  if (defaultCount > maxCount) {
    throw new ConfigurationError('"Fhir.DefaultCount" cannot exceed "Fhir.MaxCount"');
  }
  const dicomWeb = orthanc.DicomWeb;
  const root =
    typeof dicomWeb === 'object' && dicomWeb !== null && typeof (dicomWeb as Json).Root === 'string'
      ? ((dicomWeb as Json).Root as string)
      : '/dicom-web/';
  return {
    requestTimeoutSeconds: timeout,
    publicBaseUrl,
    maxBodySize: positiveInteger(section, 'MaxBodySize', 10 * 1024 * 1024, 1024 * 1024 * 1024),
    defaultCount,
    maxCount,
    dicomWebRoot: '/' + root.replace(/^\/+|\/+$/g, ''),
    patientIdSystem: optionalUri(section, 'PatientIdSystem'),
    worklist: worklistSection(section.Worklist),
    databaseDirectory: resolvePath(
      configurationPath,
      stringOption(section, 'DatabaseDirectory') ??
        stringOption(orthanc, 'IndexDirectory') ?? stringOption(orthanc, 'StorageDirectory') ?? 'OrthancStorage',
    ),
    accessionNumberSystem: optionalUri(section, 'AccessionNumberSystem'),
    defaultTimezoneOffset: timezoneOffset(section.DefaultTimezoneOffset),
    heapLimitMiB: heapLimit(section.HeapLimit),
    cacheBytes: positiveInteger(section, 'CacheSize', 64, 4096) * 1024 * 1024,
  };
}
