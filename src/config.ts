// The "Fhir" section of Orthanc's configuration, validated once at start-up.
// A bad value stops Orthanc's start with a clear message rather than
// surfacing later as odd answers. The shim reads Enable, Bundle and
// HeapLimit itself before this runs (and checks them, as it must), and
// RequestTimeout, Worklist.Enable and Authorization.Enable leniently: the
// rules are here, once.

import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { normalizeOffset } from './resources/imaging/time-zone';

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
  /**
   * The zone of DICOM times without TimezoneOffsetFromUTC, and of worklist
   * times (resources/imaging/time-zone.ts): "local" (the default: the
   * Orthanc process's zone, DST-aware at each date and time), a fixed UTC
   * offset normalized as "+01:00" (or "Z"), or "none" (date precision).
   * readConfig always sets it; a configuration made by hand without it has none.
   */
  defaultTimezoneOffset?: string;
  /** JavaScript heap limit in MiB (the shim applies it; validated here too). */
  heapLimitMiB: number;
  /** Bytes the caches of facts read from DICOM files may hold, in all. */
  cacheBytes: number;
  /** Where the plugin keeps its data: the SQLite file (default), or PostgreSQL, shared by several Orthancs. */
  store: StoreConfig;
  /** Root of the DICOMweb plugin's WADO-URI, from "DicomWeb.WadoRoot". */
  wadoRoot: string;
  /** SMART on FHIR bearer tokens for /fhir and every other HTTP request; none: Orthanc's own authentication only. */
  authorization?: AuthorizationConfig;
  /** Topic-based Subscriptions: where notifications may go, and how deliveries are retried. */
  subscriptions: SubscriptionsConfig;
}

export interface SubscriptionsConfig {
  /** URL prefixes a Subscription's endpoint must fall under (parsed: scheme, host, port, path prefix); none allowed by default. */
  allowedEndpoints: readonly string[];
  /** The longest wait between two attempts of a failing delivery, in seconds. */
  maxRetrySeconds: number;
  /** How long acknowledged events are kept for $events, in hours. */
  eventRetentionHours: number;
}

export interface AuthorizationConfig {
  /** The token issuer (iss) and this server's audience (aud). */
  issuer: string;
  audience: string;
  /** The issuer's keys: a JWKS file (resolved) or http(s) URL. */
  jwks: string;
  authorizeEndpoint?: string;
  tokenEndpoint: string;
  /** The scope that grants everything: Orthanc's own REST API, Explorer and the audit trail. */
  adminScope: string;
  clockSkewSeconds: number;
  /** Orthanc's "RegisteredUsers" (name: password), for HTTP Basic, checked by the plugin. */
  registeredUsers: ReadonlyMap<string, string>;
}

export type StoreConfig = { kind: 'sqlite' } | ({ kind: 'postgresql' } & PostgresConfig);

export interface PostgresConfig {
  /** A libpq-style URI, or the parts. */
  connection: { connectionString: string } | { host: string; port: number; database: string; user?: string; password?: string };
  ssl: boolean;
  /** The schema of the plugin's tables (Orthanc's own are in "public"). */
  schema: string;
  poolSize: number;
  /** Which section the connection came from, for log lines. */
  source: string;
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
  'Store',
  'PostgreSQL',
  'Authorization',
  'Subscriptions',
]);

const SUBSCRIPTIONS_KEYS = ['AllowedEndpoints', 'MaxRetryInterval', 'EventRetention'];

const AUTHORIZATION_KEYS = ['Enable', 'Issuer', 'Audience', 'Jwks', 'AuthorizeEndpoint', 'TokenEndpoint', 'AdminScope', 'ClockSkew'];

const CONNECTION_KEYS = ['Host', 'Port', 'Database', 'Username', 'Password', 'ConnectionUri', 'EnableSsl'];
/** Keys of Orthanc's own "PostgreSQL" section that do not concern the connection (ignored here). */
const OWN_KEYS = ['Schema', 'PoolSize'];

function sectionObject(value: unknown, name: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigurationError(`"${name}" must be an object`);
  return value as Json;
}

/** The connection keys of a "PostgreSQL" section (Orthanc's, or the plugin's own), checked. */
function connectionOf(section: Json, name: string): PostgresConfig['connection'] & { ssl: boolean } {
  const text = (key: string) => {
    const value = section[key];
    if (value !== undefined && typeof value !== 'string') throw new ConfigurationError(`"${name}.${key}" must be a string`);
    return value as string | undefined;
  };
  const ssl = section.EnableSsl ?? false;
  if (typeof ssl !== 'boolean') throw new ConfigurationError(`"${name}.EnableSsl" must be true or false`);
  const uri = text('ConnectionUri');
  if (uri !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(uri)) throw new ConfigurationError(`"${name}.ConnectionUri" must be a postgresql:// URI`);
    return { connectionString: uri, ssl };
  }
  const port = section.Port ?? 5432;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigurationError(`"${name}.Port" must be a TCP port number`);
  }
  const database = text('Database');
  if (!database) throw new ConfigurationError(`"${name}.Database" is needed (or "${name}.ConnectionUri")`);
  const user = text('Username');
  const password = text('Password');
  return { host: text('Host') || 'localhost', port, database, ...(user ? { user } : {}), ...(password ? { password } : {}), ssl };
}

/**
 * "Store": "SQLite" (default) or "PostgreSQL". PostgreSQL uses the
 * connection of Orthanc's own "PostgreSQL" section (one database, backed up
 * once, for Orthanc's index and the FHIR state), unless "Fhir.PostgreSQL"
 * names one of its own.
 */
function storeConfig(section: Json, orthanc: Json): StoreConfig {
  const kind = section.Store ?? 'SQLite';
  if (kind !== 'SQLite' && kind !== 'PostgreSQL') throw new ConfigurationError('"Fhir.Store" must be "SQLite" or "PostgreSQL"');
  const own = section.PostgreSQL === undefined ? {} : sectionObject(section.PostgreSQL, 'Fhir.PostgreSQL');
  for (const key of Object.keys(own)) {
    if (![...CONNECTION_KEYS, ...OWN_KEYS].includes(key)) {
      throw new ConfigurationError(`Unknown option "Fhir.PostgreSQL.${key}" (known: ${[...CONNECTION_KEYS, ...OWN_KEYS].join(', ')})`);
    }
  }
  if (kind === 'SQLite') {
    if (section.PostgreSQL !== undefined) throw new ConfigurationError('"Fhir.PostgreSQL" is set but "Fhir.Store" is not "PostgreSQL"');
    return { kind: 'sqlite' };
  }
  const ownConnection = CONNECTION_KEYS.some((key) => own[key] !== undefined);
  let source = 'Fhir.PostgreSQL';
  let connection;
  if (ownConnection) {
    connection = connectionOf(own, 'Fhir.PostgreSQL');
  } else {
    if (orthanc.PostgreSQL === undefined) {
      throw new ConfigurationError('"Fhir.Store" is "PostgreSQL" but there is neither Orthanc\'s "PostgreSQL" section nor a connection in "Fhir.PostgreSQL"');
    }
    source = 'PostgreSQL';
    connection = connectionOf(sectionObject(orthanc.PostgreSQL, 'PostgreSQL'), 'PostgreSQL');
  }
  const schema = own.Schema ?? 'fhir';
  if (typeof schema !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(schema) || schema === 'public') {
    throw new ConfigurationError('"Fhir.PostgreSQL.Schema" must be a lower-case SQL name other than "public" (Orthanc\'s tables are there)');
  }
  const { ssl, ...rest } = connection;
  return { kind: 'postgresql', connection: rest, ssl, schema, poolSize: positiveInteger(own, 'PoolSize', 8, 100, 'Fhir.PostgreSQL'), source };
}

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

function httpUrl(value: unknown, name: string): string {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new ConfigurationError(`"${name}" must be an http or https URL`);
  return value as string;
}

/**
 * "Fhir.Subscriptions": the endpoints notifications may be sent to, each an
 * http(s) URL prefix without user info, query or fragment (nobody can make
 * Orthanc call a host the administrator did not name).
 */
function subscriptionsSection(value: unknown): SubscriptionsConfig {
  const section = value === undefined ? {} : sectionObject(value, 'Fhir.Subscriptions');
  for (const key of Object.keys(section)) {
    if (!SUBSCRIPTIONS_KEYS.includes(key)) throw new ConfigurationError(`Unknown option "Fhir.Subscriptions.${key}" (known: ${SUBSCRIPTIONS_KEYS.join(', ')})`);
  }
  const allowed = section.AllowedEndpoints ?? [];
  if (!Array.isArray(allowed)) throw new ConfigurationError('"Fhir.Subscriptions.AllowedEndpoints" must be a list of URL prefixes');
  const allowedEndpoints = allowed.map((prefix: unknown) => {
    const url = new URL(httpUrl(prefix, 'Fhir.Subscriptions.AllowedEndpoints'));
    if (url.username || url.password || url.search || url.hash) {
      throw new ConfigurationError(`"Fhir.Subscriptions.AllowedEndpoints": ${String(prefix)} must have no user info, query or fragment`);
    }
    return url.href;
  });
  return {
    allowedEndpoints,
    maxRetrySeconds: positiveInteger(section, 'MaxRetryInterval', 300, 86400, 'Fhir.Subscriptions'),
    eventRetentionHours: positiveInteger(section, 'EventRetention', 168, 24 * 366, 'Fhir.Subscriptions'),
  };
}

/**
 * "Fhir.Authorization": bearer tokens for every HTTP request. Orthanc's own
 * Basic authentication must be off: it runs first and would refuse every
 * bearer token; the plugin checks "RegisteredUsers" itself instead.
 */
function authorizationSection(value: unknown, orthanc: Json, configurationPath: string): AuthorizationConfig | undefined {
  if (value === undefined) return undefined;
  const section = sectionObject(value, 'Fhir.Authorization');
  for (const key of Object.keys(section)) {
    if (!AUTHORIZATION_KEYS.includes(key)) throw new ConfigurationError(`Unknown option "Fhir.Authorization.${key}" (known: ${AUTHORIZATION_KEYS.join(', ')})`);
  }
  if (section.Enable !== undefined && typeof section.Enable !== 'boolean') throw new ConfigurationError('"Fhir.Authorization.Enable" must be true or false');
  if (section.Enable !== true) return undefined;
  const authentication = orthanc.AuthenticationEnabled ?? (orthanc.RemoteAccessAllowed === true ? true : false);
  if (authentication !== false) {
    throw new ConfigurationError('"Fhir.Authorization" needs Orthanc\'s "AuthenticationEnabled": false (Orthanc would refuse bearer tokens before the plugin sees them; the plugin checks "RegisteredUsers" itself)');
  }
  const text = (key: string): string => {
    const found = section[key];
    if (typeof found !== 'string' || found.trim() === '') throw new ConfigurationError(`"Fhir.Authorization.${key}" is needed (a non-empty string)`);
    return found;
  };
  const jwks = text('Jwks');
  let keys: string;
  if (/^https?:/i.test(jwks)) {
    keys = httpUrl(jwks, 'Fhir.Authorization.Jwks');
    // Whoever could answer a plain-HTTP fetch of the keys could sign administrator tokens.
    const { protocol, hostname } = new URL(keys);
    if (protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(hostname)) {
      throw new ConfigurationError('"Fhir.Authorization.Jwks" must be an https URL (plain http only on the loopback interface), or a file');
    }
  } else {
    keys = resolvePath(configurationPath, jwks);
    if (!existsSync(keys)) throw new ConfigurationError(`"Fhir.Authorization.Jwks": no such file ${keys} (a JWKS file, or an http(s) URL)`);
  }
  const skew = section.ClockSkew ?? 60;
  if (typeof skew !== 'number' || !Number.isInteger(skew) || skew < 0 || skew > 600) {
    throw new ConfigurationError('"Fhir.Authorization.ClockSkew" must be a whole number of seconds between 0 and 600');
  }
  const users = orthanc.RegisteredUsers === undefined ? {} : sectionObject(orthanc.RegisteredUsers, 'RegisteredUsers');
  const registeredUsers = new Map<string, string>();
  for (const [name, password] of Object.entries(users)) {
    if (typeof password !== 'string') throw new ConfigurationError(`"RegisteredUsers.${name}" must be a password string`);
    registeredUsers.set(name, password);
  }
  const adminScope = text('AdminScope');
  if (/\s/.test(adminScope)) throw new ConfigurationError('"Fhir.Authorization.AdminScope" must be one scope (no spaces)');
  return {
    issuer: text('Issuer'),
    audience: text('Audience'),
    jwks: keys,
    ...(section.AuthorizeEndpoint !== undefined ? { authorizeEndpoint: httpUrl(section.AuthorizeEndpoint, 'Fhir.Authorization.AuthorizeEndpoint') } : {}),
    tokenEndpoint: httpUrl(text('TokenEndpoint'), 'Fhir.Authorization.TokenEndpoint'),
    adminScope,
    clockSkewSeconds: skew,
    registeredUsers,
  };
}

function positiveInteger(section: Json, key: string, fallback: number, max: number, name = 'Fhir'): number {
  const value = section[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new ConfigurationError(`"${name}.${key}" must be an integer between 1 and ${max}`);
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

/** "local" (default), "none", or a fixed UTC offset, normalized ("+0100" -> "+01:00"). */
function timezoneSetting(value: unknown): string {
  if (value === undefined) return 'local';
  if (value === 'local' || value === 'none') return value;
  const offset = typeof value === 'string' ? normalizeOffset(value) : undefined;
  if (!offset) {
    throw new ConfigurationError('"Fhir.DefaultTimezoneOffset" must be "local" (the default: the zone of the Orthanc process, from TZ or the system), '
      + '"none" (no times without their own offset), or a fixed UTC offset such as "+01:00" (for a named zone, set TZ in Orthanc\'s environment)');
  }
  return offset;
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
  const authorization = authorizationSection(section.Authorization, orthanc, configurationPath);
  /** A root of the DICOMweb plugin's ("DicomWeb.Root", "DicomWeb.WadoRoot") as "/name", without trailing slash. */
  const dicomWebPath = (key: string, fallback: string) => {
    const value = typeof dicomWeb === 'object' && dicomWeb !== null ? (dicomWeb as Json)[key] : undefined;
    return '/' + (typeof value === 'string' ? value : fallback).replace(/^\/+|\/+$/g, '');
  };
  return {
    requestTimeoutSeconds: timeout,
    publicBaseUrl,
    maxBodySize: positiveInteger(section, 'MaxBodySize', 10 * 1024 * 1024, 1024 * 1024 * 1024),
    defaultCount,
    maxCount,
    dicomWebRoot: dicomWebPath('Root', '/dicom-web/'),
    patientIdSystem: optionalUri(section, 'PatientIdSystem'),
    worklist: worklistSection(section.Worklist),
    databaseDirectory: resolvePath(
      configurationPath,
      stringOption(section, 'DatabaseDirectory') ??
        stringOption(orthanc, 'IndexDirectory') ?? stringOption(orthanc, 'StorageDirectory') ?? 'OrthancStorage',
    ),
    accessionNumberSystem: optionalUri(section, 'AccessionNumberSystem'),
    defaultTimezoneOffset: timezoneSetting(section.DefaultTimezoneOffset),
    heapLimitMiB: heapLimit(section.HeapLimit),
    cacheBytes: positiveInteger(section, 'CacheSize', 64, 4096) * 1024 * 1024,
    store: storeConfig(section, orthanc),
    wadoRoot: dicomWebPath('WadoRoot', '/wado'),
    ...(authorization ? { authorization } : {}),
    subscriptions: subscriptionsSection(section.Subscriptions),
  };
}
