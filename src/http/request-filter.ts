// Orthanc's incoming HTTP request filter, with authorization on: every
// request Orthanc receives that is not for /fhir (which authenticates
// itself) is allowed (200) or refused (403) here. DICOMweb and WADO-URI take
// the same tokens as /fhir (SMART Imaging Access): ImagingStudy's `r` to
// retrieve, `s` to search, and a patient-context token reaches only its
// patient's studies. The rest of Orthanc's API needs the administrator
// scope or RegisteredUsers credentials.
import type { FhirConfig } from '../config';
import { OperationOutcomeError } from '../fhir/outcome';
import { reach, type Access } from '../fhir/access';
import type { NativeAnswer, NativeRequest } from '../native';
import type { AuditRecord } from '../resources/audit-event';
import { ImageAccess } from '../resources/image-access';
import { principalFields, requestLine } from './audit-record';
import { crossSiteWrite, type Authenticator } from './credentials';
import { classifyDicomWeb, classifyWadoUri, narrowing, type ImageRequest } from './dicomweb-rules';
import type { RefusalThrottle } from './refusal-throttle';

const ALLOW: NativeAnswer = { status: 200, headers: {}, body: '' };
const DENY: NativeAnswer = { status: 403, headers: {}, body: '' };

/** Orthanc Explorer's own files and the liveness probe: not worth a record each (every page loads dozens). */
const QUIET = /^\/(app|ui)\/|^\/(favicon\.ico|system)$/;

export interface FilterDependencies {
  config: FhirConfig;
  authenticator: Authenticator;
  images: ImageAccess;
  /** Resolves once the record is queued (waits while the trail's queue is full). */
  audit(record: AuditRecord): Promise<void> | void;
  /** Refusals without valid credentials: recorded up to a rate, never waited for. */
  throttle: Pick<RefusalThrottle, 'refused'>;
  logError(message: string): void;
}

interface Decision {
  refusal?: string;
  status: number;
  /** The patient whose images the request reached, when known. */
  patient?: string;
}

export function createRequestFilter({ config, authenticator, images, audit, throttle, logError }: FilterDependencies):
  (request: NativeRequest) => Promise<NativeAnswer> {
  const under = (segments: string[], root: string) => {
    const prefix = root.split('/').filter((s) => s !== '');
    return prefix.every((s, k) => segments[k] === s) ? segments.slice(prefix.length) : undefined;
  };
  const wadoPath = config.wadoRoot.split('/').filter((s) => s !== '').join('/');

  /** Whether `access` reaches what `image` asks; with the patient it concerns. */
  async function imagesDecision(access: Access, method: string, image: ImageRequest, query: ReadonlyArray<[string, string]>): Promise<Decision> {
    if (method !== 'GET') return { status: 403, refusal: 'only reads (QIDO-RS, WADO-RS, WADO-URI) are open to tokens' };
    const found = reach(access, 'ImagingStudy', image.permission);
    if (found === 'none') return { status: 403, refusal: `the token's scopes do not allow '${image.permission}' on ImagingStudy` };
    if (found === 'all') {
      // Who the images are of, for the trail (looked up once a minute per UID at most).
      const first = image.uids[0];
      const patients = first ? await images.patientsOf(first.level, first.uid) : [];
      return { status: 200, ...(patients.length === 1 ? { patient: patients[0]! } : {}) };
    }
    const patient = access.patient!;
    for (const { level, uid } of image.uids) {
      if (!(await images.onlyOf(level, uid, patient))) return { status: 403, refusal: `${level} ${uid} is not of the token's patient`, patient };
    }
    const narrowed = image.permission === 's' ? narrowing(query) : 'none';
    if (!image.unbounded) {
      // Below a study or series the path narrows the search; an identity filter of its own could widen it.
      return narrowed === 'none' ? { status: 200, patient } : { status: 403, refusal: 'a search below a study takes no patient or UID filter', patient };
    }
    if (typeof narrowed === 'object') {
      if (narrowed.patientId !== undefined && ImageAccess.isPatientId(narrowed.patientId, patient)) return { status: 200, patient };
      if (narrowed.studyUid !== undefined && (await images.onlyOf('Study', narrowed.studyUid, patient))) return { status: 200, patient };
    }
    return { status: 403, refusal: 'a search of the archive must be narrowed to the token\'s patient by one PatientID= (no wildcard) or one StudyInstanceUID=', patient };
  }

  async function decide(request: NativeRequest, image: ImageRequest | undefined, isImages: boolean): Promise<Decision & { access?: Access }> {
    // Orthanc turns GET ?_method=DELETE into a DELETE before this filter: a link could then delete with a browser's cached login.
    if (request.query.some(([name]) => name === '_method')) return { status: 403, refusal: 'the _method override is refused' };
    const access = await authenticator.authenticate(request.headers.authorization);
    if (access === undefined) return { status: 401, refusal: 'no credentials (a Bearer token, or RegisteredUsers credentials)' };
    if (crossSiteWrite(request.method, request.headers)) return { access, status: 403, refusal: 'a write from another site with a browser\'s login is refused' };
    if (access.admin) return { access, status: 200 };
    if (image === undefined) {
      return { access, status: 403, refusal: isImages ? 'not a DICOMweb read this server opens to tokens'
        : 'Orthanc\'s own API needs the administrator scope or RegisteredUsers credentials' };
    }
    return { access, ...(await imagesDecision(access, request.method, image, request.query)) };
  }

  return async (request) => {
    const segments = request.url.split('/').filter((s) => s !== '');
    if (segments.some((s) => s === '.' || s === '..')) return DENY;
    // The plugin's own routes check their credentials themselves (and can answer 401).
    if (segments[0] === 'fhir' && !request.query.some(([name]) => name === '_method')) return ALLOW;
    const dicomWeb = under(segments, config.dicomWebRoot);
    const isWado = segments.join('/') === wadoPath;
    const image = dicomWeb !== undefined ? classifyDicomWeb(dicomWeb) : isWado ? classifyWadoUri(request.query) : undefined;
    const isImages = dicomWeb !== undefined || isWado;
    let decision: Decision & { access?: Access };
    try {
      decision = await decide(request, image, isImages);
    } catch (error) {
      if (error instanceof OperationOutcomeError) {
        decision = { status: error.status, refusal: error.message };
      } else {
        logError(`authorizing ${request.method} ${request.url} failed: ${(error as Error)?.stack ?? String(error)}`);
        decision = { status: 500, refusal: 'the request could not be authorized' };
      }
    }
    const { access, refusal, status, patient } = decision;
    const record: AuditRecord = {
      recorded: new Date().toISOString(),
      interaction: isImages ? 'dicomweb' : 'orthanc',
      action: request.method === 'GET' ? 'R' : request.method === 'DELETE' ? 'D' : request.method === 'POST' ? 'C' : 'U',
      request: requestLine(request.method, request.url, request.query),
      ...principalFields(access),
      ...(patient !== undefined ? { patient } : access?.patient !== undefined ? { patient: access.patient } : {}),
      ...(request.ip ? { address: request.ip } : {}),
      status,
      ...(refusal !== undefined ? { reason: refusal } : {}),
    };
    if (access === undefined && refusal !== undefined) throttle.refused(record);
    else if (isImages || refusal !== undefined || !QUIET.test(request.url)) await audit(record);
    return refusal === undefined ? ALLOW : DENY;
  };
}
