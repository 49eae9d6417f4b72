// The HTTP edge: turns a request from the shim into a FhirRequest, runs it
// through the router and renders the answer. Every failure, from a bad
// Accept header to a crash in a handler, leaves here as an OperationOutcome
// with its status.
import type { AuthorizationConfig, FhirConfig } from '../config';
import { badRequest, outcome, toOutcome, tooLarge, unauthorized } from '../fhir/outcome';
import type { Access } from '../fhir/access';
import type { AuditRecord } from '../resources/audit-event';
import { PATIENT_COMPARTMENT } from '../resources/compartments';
import { describeFhirRequest, principalFields, requestLine } from './audit-record';
import { BASIC_CHALLENGE, refuseCrossSiteWrite, type Authenticator } from './credentials';
import type { RefusalThrottle } from './refusal-throttle';
import { smartConfiguration } from './smart-configuration';
import type { Resource } from '../fhir/types';
import type { FhirRequest, RequestHandler } from '../interactions/request';
import { FHIR_VERSIONS } from '../interactions/versions';
import type { NativeAnswer, NativeRequest } from '../native';
import { publicBaseUrl } from './base-url';
import { checkBodyContentType, fhirJson, HTML, negotiate, requestedFhirVersion, type ResponseFormat } from './negotiation';
import type { PageContext } from './html-page';
import { ASSET_PATH, ASSETS, PAGE_SECURITY_POLICY } from './pages/assets';
import { dayRange } from './pages/day-range';
import { gatherPageData } from './pages/page-data';
import { landingPage, renderResource } from './render';

export type { RequestHandler };

export type Logger = (message: string) => void;

const MOUNT = '/fhir';
/** Parameters about the answer's form, consumed here rather than by search. */
const FORMAT_PARAMETERS = new Set(['_format', '_pretty']);

/** Orthanc hands over the path already percent-decoded: split it, no more. */
export function splitPath(url: string): string[] {
  const path = url.startsWith(MOUNT) ? url.slice(MOUNT.length) : url;
  return path.split('/').filter((segment) => segment !== '');
}

/**
 * The FHIR version a request is in: a leading /R4 or /R5 of the path (for
 * clients that cannot set MIME parameters; its base URL is then that of the
 * version), else the fhirVersion parameter of Accept or Content-Type.
 * `explicit` says whether the client named one (the answer's Content-Type
 * names it then).
 */
export function versionOf(path: string[], headers: Readonly<Record<string, string>>, baseUrl: string):
  { fhirVersion: string; explicit: boolean; path: string[]; baseUrl: string } {
  const byPath = FHIR_VERSIONS.find((version) => version.segment === path[0]);
  if (byPath) return { fhirVersion: byPath.code, explicit: true, path: path.slice(1), baseUrl: `${baseUrl}/${byPath.segment}` };
  const asked = requestedFhirVersion(headers['accept'], headers['content-type'], FHIR_VERSIONS.map((v) => v.code));
  return { fhirVersion: asked ?? '5.0', explicit: asked !== undefined, path, baseUrl };
}

/** Orthanc 1.10 hands GET arguments over still percent-encoded. */
export function decodeQuery(query: Array<[string, string]>): Array<[string, string]> {
  const decode = (text: string) => {
    try {
      return decodeURIComponent(text.replace(/\+/g, ' '));
    } catch {
      throw badRequest(`Malformed percent-encoding in the query: ${text}`);
    }
  };
  return query.map(([name, value]) => [decode(name), decode(value)]);
}

function parseBody(request: NativeRequest, maxBodySize: number): unknown {
  if (request.method !== 'POST' && request.method !== 'PUT') {
    return undefined;
  }
  if (request.body.length > maxBodySize) {
    throw tooLarge(`The request body exceeds the limit of ${maxBodySize} bytes`);
  }
  const contentType = request.headers['content-type'];
  if (contentType?.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    return undefined; // a POST _search: its parameters join the query
  }
  checkBodyContentType(contentType);
  if (request.body.length === 0) {
    return undefined;
  }
  try {
    return JSON.parse(request.body.toString('utf8'));
  } catch (error) {
    throw badRequest(`The body is not valid JSON: ${(error as Error).message}`);
  }
}

function formParameters(request: NativeRequest): Array<[string, string]> {
  const contentType = request.headers['content-type']?.toLowerCase() ?? '';
  if (request.method !== 'POST' || !contentType.startsWith('application/x-www-form-urlencoded')) {
    return [];
  }
  return [...new URLSearchParams(request.body.toString('utf8')).entries()];
}

/** How many resources of each searchable type there are, for the landing page. */
async function countsOf(router: RequestHandler, request: FhirRequest, capabilityStatement: Resource): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const type of searchParamsOf(capabilityStatement).keys()) {
    try {
      const answer = await router.handle({ ...request, path: [type], query: [['_summary', 'count']] });
      const total = (answer.resource as { total?: number } | undefined)?.total;
      if (total !== undefined) counts.set(type, total);
    } catch {
      // a type that cannot count is listed without a number
    }
  }
  return counts;
}

/** Search parameter names by type, from the CapabilityStatement, for the pages' search forms. */
function searchParamsOf(capabilityStatement: Resource | undefined): Map<string, string[]> {
  const rest = (capabilityStatement?.rest as Array<{ resource?: Array<{ type: string; searchParam?: Array<{ name: string }> }> }> | undefined)?.[0];
  return new Map((rest?.resource ?? []).map((r) => [r.type, (r.searchParam ?? []).map((p) => p.name)]));
}

/** Authorization on: who may do what, and the trail of what was done. */
export interface HttpSecurity {
  authorization: AuthorizationConfig;
  authenticator: Authenticator;
  /** Resolves once the record is queued (waits while the trail's queue is full). */
  audit(record: AuditRecord): Promise<void> | void;
  throttle: Pick<RefusalThrottle, 'refused'>;
}

/** Orthanc's renderings of a study's series, for the pages' previews. */
export interface PreviewSource {
  image(studyId: string, seriesUid?: string): Promise<{ contentType: string; body: Buffer } | undefined>;
}

/** The headers of every page: nothing but the plugin's own style sheet, script and images. */
const PAGE_HEADERS = { 'content-security-policy': PAGE_SECURITY_POLICY, 'x-content-type-options': 'nosniff', 'referrer-policy': 'same-origin',
  // A page shows more than its resource (a patient's orders): never reused without asking, whatever Last-Modified suggests.
  'cache-control': 'no-cache' };

export function createHttpHandler(
  router: RequestHandler,
  config: FhirConfig,
  logError: Logger,
  security?: HttpSecurity,
  previews?: PreviewSource,
): (request: NativeRequest) => Promise<NativeAnswer> {
  const forms = new Map<string, Map<string, string[]>>();
  // The search forms name the parameters of the version the page is in (R4's ServiceRequest 'code').
  const pageContext = async (baseUrl: string, status: number, fhirVersion?: string): Promise<PageContext> => {
    const key = `${fhirVersion ?? ''} ${baseUrl}`;
    let searchParams = forms.get(key);
    if (!searchParams) {
      const metadata = await router.handle({ method: 'GET', path: ['metadata'], query: [], headers: {}, baseUrl, ...(fhirVersion ? { fhirVersion } : {}) });
      searchParams = searchParamsOf(metadata.resource);
      if (forms.size < 16) forms.set(key, searchParams);
    }
    return {
      baseUrl, status, searchParams, dicomWebRoot: config.dicomWebRoot,
      ...(config.patientIdSystem ? { patientIdSystem: config.patientIdSystem } : {}),
      ...(config.defaultTimezoneOffset ? { timezoneOffset: config.defaultTimezoneOffset } : {}),
    };
  };
  /** `request`: the page's own, for its links and for what it shows beside the answer (read with the same credentials). */
  const answer = async (status: number, headers: Record<string, string>, resource: Resource | undefined,
    format: ResponseFormat, pretty: boolean, baseUrl: string, fhirVersion?: string, request?: FhirRequest): Promise<NativeAnswer> => {
    let page: PageContext = { baseUrl, status, searchParams: new Map(), dicomWebRoot: '' };
    if (format === 'html') {
      page = await pageContext(baseUrl, status, fhirVersion);
      if (request) {
        page.path = request.path;
        page.query = request.query;
        if (resource && status < 300 && request.method === 'GET') {
          page.data = await gatherPageData((path, query) => router.handle({ ...request, path, query, headers: {}, body: undefined })
            .then((found) => found.resource, () => undefined), resource, request.path);
        }
      }
    }
    const rendered = renderResource(resource, format, pretty, page);
    const contentType = format === 'json' && rendered.body !== '' ? fhirJson(fhirVersion) : rendered.contentType;
    return { status, headers: { ...headers, ...(format === 'html' ? PAGE_HEADERS : {}), 'content-type': contentType }, body: rendered.body };
  };

  /** What the audit trail needs to know of a request, filled in as it is served. */
  interface Served {
    path?: string[];
    body?: unknown;
    access?: Access;
    reason?: string;
    /** The patient of the one resource answered (a read, a write), for the trail. */
    patient?: string;
    /** The pages' style sheet and script: not worth a record each. */
    quiet?: boolean;
  }

  /**
   * A series' preview (GET .assets/preview/{study}[/{series UID}]): served
   * when the credentials may read the study (the same search the pages
   * make, narrowed to what they reach), else 404 as for a study not there.
   */
  const preview = async (path: string[], baseUrl: string, access: Access | undefined): Promise<NativeAnswer> => {
    const [kind, studyId, seriesUid] = path;
    const missing = { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'Not found' };
    if (kind !== 'preview' || !previews || !studyId || path.length > 3) return missing;
    const readable = await router.handle({ method: 'GET', path: ['ImagingStudy'], query: [['_id', studyId], ['_summary', 'count']], headers: {}, baseUrl,
      ...(access ? { access } : {}) }).then((found) => (found.resource as { total?: number } | undefined)?.total === 1, () => false);
    const image = readable ? await previews.image(studyId, seriesUid) : undefined;
    if (!image) return missing;
    return { status: 200, headers: { 'content-type': image.contentType, 'cache-control': 'private, max-age=600', 'x-content-type-options': 'nosniff' }, body: image.body };
  };

  const serve = async (request: NativeRequest, served: Served): Promise<NativeAnswer> => {
    let baseUrl = publicBaseUrl(config.publicBaseUrl, request.headers);
    let chosen: ResponseFormat = 'json';
    let pretty = false;
    let named: string | undefined;
    try {
      const parameters = [...decodeQuery(request.query), ...formParameters(request)];
      pretty = parameters.some(([name, value]) => name === '_pretty' && value === 'true');
      const version = versionOf(splitPath(request.url), request.headers, baseUrl);
      baseUrl = version.baseUrl;
      served.path = version.path;
      if (request.method === 'GET' && version.path[0] === ASSET_PATH) {
        // The pages' own files and previews, asked for by the browser (Accept: text/css, image/*).
        const asset = ASSETS.get(version.path.slice(1).join('/'));
        if (asset) {
          served.quiet = true;
          return { status: 200, headers: { 'content-type': asset.contentType, 'cache-control': 'max-age=3600', 'x-content-type-options': 'nosniff' }, body: asset.body };
        }
        chosen = 'html';
        if (security) served.access = await authorize(security, request, version.path, chosen);
        return await preview(version.path.slice(1), baseUrl, served.access);
      }
      chosen = negotiate(parameters.find(([name]) => name === '_format')?.[1], request.headers['accept']);
      if (version.explicit) named = version.fhirVersion;
      if (security && request.method === 'GET' && version.path.join('/') === SMART_CONFIGURATION) {
        return { status: 200, headers: { 'content-type': 'application/json', 'cache-control': 'max-age=300' }, body: JSON.stringify(smartConfiguration(security.authorization)) };
      }
      if (security) served.access = await authorize(security, request, version.path, chosen);
      const fhirRequest: FhirRequest = {
        method: request.method,
        path: version.path,
        query: parameters.filter(([name]) => !FORMAT_PARAMETERS.has(name)),
        headers: request.headers,
        body: parseBody(request, config.maxBodySize),
        baseUrl,
        fhirVersion: version.fhirVersion,
        ...(served.access ? { access: served.access } : {}),
      };
      served.body = fhirRequest.body;
      if (chosen === 'html' && request.method === 'GET' && fhirRequest.path.length === 0) {
        // A person opening /fhir: a page to start from (FHIR clients get the base's own answers).
        const metadata = await router.handle({ ...fhirRequest, path: ['metadata'], query: [] });
        const counts = await countsOf(router, fhirRequest, metadata.resource!);
        return { status: 200, headers: { ...PAGE_HEADERS, 'content-type': HTML },
          body: landingPage(metadata.resource!, baseUrl, counts, dayRange(new Date(), 1, config.defaultTimezoneOffset)) };
      }
      const response = await router.handle(fhirRequest);
      if (security && response.resource) served.patient = PATIENT_COMPARTMENT[response.resource.resourceType]?.patientsOf(response.resource)[0];
      return answer(response.status, response.headers ?? {}, response.resource, chosen, pretty, baseUrl, named, fhirRequest);
    } catch (error) {
      const mapped = toOutcome(error);
      if (mapped.unexpected) {
        logError(`${request.method} ${request.url} failed: ${(error as Error)?.stack ?? String(error)}`);
      }
      served.reason = mapped.outcome.issue[0]?.diagnostics;
      // Orthanc sends a 405 without a body: a browser gets a readable 400 page instead.
      const status = chosen === 'html' && mapped.status === 405 ? 400 : mapped.status;
      return answer(status, mapped.headers, mapped.outcome, chosen, pretty, baseUrl, named);
    }
  };

  return async (request) => {
    const served: Served = {};
    const response = await serve(request, served);
    if (security && !served.quiet) {
      const described = describeFhirRequest(request.method, served.path ?? [], served.body);
      const record: AuditRecord = {
        recorded: new Date().toISOString(),
        ...described,
        request: requestLine(request.method, request.url, request.query),
        ...principalFields(served.access),
        ...(served.access?.patient !== undefined ? { patient: served.access.patient }
          : served.patient !== undefined ? { patient: served.patient }
            : described.type === 'Patient' && described.id !== undefined ? { patient: described.id } : {}),
        status: response.status,
        ...(response.status >= 400 && served.reason !== undefined ? { reason: served.reason } : {}),
      };
      // Refusals without valid credentials cost nothing to send: recorded up to a rate, never waited for.
      if (served.access === undefined && response.status === 401) security.throttle.refused(record);
      else await security.audit(record);
    }
    return response;
  };
}

/** The discovery document (SMART App Launch), read without a token. */
const SMART_CONFIGURATION = '.well-known/smart-configuration';
/** What anybody may read without credentials: how to authenticate. */
const PUBLIC_PATHS: ReadonlySet<string> = new Set(['metadata', '$versions']);
const ANONYMOUS: Access = { grants: [], admin: false, scopes: [] };

/** The request's access; 401 when it has no credentials and asks for more than the public paths. */
async function authorize(security: HttpSecurity, request: NativeRequest, path: string[], format: ResponseFormat): Promise<Access> {
  const access = await security.authenticator.authenticate(request.headers.authorization);
  if (access !== undefined) {
    refuseCrossSiteWrite(request.method, request.headers);
    return access;
  }
  if (request.method === 'GET' && PUBLIC_PATHS.has(path.join('/'))) return ANONYMOUS;
  // A person in a browser is asked for a RegisteredUsers login; a client, for a token.
  throw format === 'html' ? unauthorized('Credentials are needed', BASIC_CHALLENGE) : unauthorized('No bearer token was given');
}

/** The answers the shim gives on its own: [timed out, unavailable, failed]. */
export function cannedAnswers(): [NativeAnswer, NativeAnswer, NativeAnswer] {
  const make = (status: number, code: string, text: string): NativeAnswer => ({
    status,
    headers: { 'content-type': 'application/fhir+json; charset=utf-8' },
    body: JSON.stringify(outcome(code, text, { severity: 'fatal' })),
  });
  return [
    make(504, 'timeout', 'The FHIR request did not complete in time'),
    make(503, 'transient', 'The FHIR service is unavailable (starting or stopping); retry later'),
    make(500, 'exception', 'The FHIR request handler failed'),
  ];
}
