// Orthanc's incoming HTTP request filter, with authorization on: every
// request Orthanc receives that is not for /fhir (which authenticates
// itself) is allowed (200) or refused (403) here. DICOMweb and WADO-URI take
// the same tokens as /fhir (SMART Imaging Access): ImagingStudy's `r` to
// retrieve, `s` to search, and a patient-context token reaches only its
// patient's studies. The rest of Orthanc's API needs the administrator
// scope or RegisteredUsers credentials.
import type { FhirConfig } from '../config';
import { OperationOutcomeError } from '../fhir/outcome';
import { reach, type Access, type Permission } from '../interactions/access';
import type { NativeAnswer, NativeRequest } from '../native';
import type { AuditRecord } from '../resources/audit-event';
import { ImageAccess, type UidLevel } from '../resources/image-access';
import { principalFields, requestLine } from './audit-record';
import type { Authenticator } from './credentials';

const ALLOW: NativeAnswer = { status: 200, headers: {}, body: '' };
const DENY: NativeAnswer = { status: 403, headers: {}, body: '' };

/** What a DICOMweb URL asks: a permission on ImagingStudy, and the UIDs it names. */
export interface ImageRequest {
  permission: Permission;
  uids: Array<{ level: UidLevel; uid: string }>;
  /** A search of the whole archive (QIDO-RS at the root): it must be narrowed to the patient by its own query. */
  unbounded: boolean;
}

const UID = /^[0-9.]{1,64}$/;
const LEVELS: ReadonlyArray<[string, UidLevel]> = [['studies', 'Study'], ['series', 'Series'], ['instances', 'Instance']];

/**
 * A DICOMweb path below the root (['studies', uid, 'series', ...]) as an
 * ImageRequest; undefined for anything but QIDO-RS and WADO-RS reads.
 */
export function classifyDicomWeb(segments: readonly string[]): ImageRequest | undefined {
  const uids: ImageRequest['uids'] = [];
  let i = 0;
  for (const [name, level] of LEVELS) {
    if (segments[i] !== name) continue;
    const uid = segments[i + 1];
    if (uid === undefined) {
      // .../studies, .../series, .../instances: a search (QIDO-RS).
      return i + 1 === segments.length ? { permission: 's', uids, unbounded: uids.length === 0 } : undefined;
    }
    if (!UID.test(uid)) return undefined;
    uids.push({ level, uid });
    i += 2;
    if (i === segments.length) return { permission: 'r', uids, unbounded: false };
  }
  if (uids.length === 0) return undefined;
  // What follows the deepest UID: metadata, rendered, thumbnail, frames/..., bulk/...
  const rest = segments.slice(i);
  return ['metadata', 'rendered', 'thumbnail', 'frames', 'bulk'].includes(rest[0] ?? '') ? { permission: 'r', uids, unbounded: false } : undefined;
}

/** QIDO keys that narrow a root search to one patient: PatientID, or one StudyInstanceUID. */
function narrowing(query: ReadonlyArray<[string, string]>): { patientId?: string; studyUid?: string } | undefined {
  const values = (...names: string[]) => query.filter(([name]) => names.includes(name)).map(([, value]) => value);
  const patientIds = values('PatientID', '00100020');
  const studies = values('StudyInstanceUID', '0020000D');
  if (patientIds.length === 1 && !/[*?\\,]/.test(patientIds[0]!) && patientIds[0] !== '') return { patientId: patientIds[0]! };
  if (studies.length === 1 && UID.test(studies[0]!)) return { studyUid: studies[0]! };
  return undefined;
}

function decoded(value: string): string | undefined {
  try {
    return value.includes('%') ? decodeURIComponent(value) : value;
  } catch {
    return undefined;
  }
}

export interface FilterDependencies {
  config: FhirConfig;
  authenticator: Authenticator;
  images: ImageAccess;
  /** Resolves once the record is queued (waits while the trail's queue is full). */
  audit(record: AuditRecord): Promise<void> | void;
  logError(message: string): void;
}

export function createRequestFilter({ config, authenticator, images, audit, logError }: FilterDependencies):
  (request: NativeRequest) => Promise<NativeAnswer> {
  const under = (segments: string[], root: string) => {
    const prefix = root.split('/').filter((s) => s !== '');
    return prefix.every((s, k) => segments[k] === s) ? segments.slice(prefix.length) : undefined;
  };

  /** Whether `access` reaches what `request` asks of the images. */
  async function imagesAllowed(access: Access, method: string, image: ImageRequest, query: ReadonlyArray<[string, string]>): Promise<string | undefined> {
    if (method !== 'GET') return 'only reads (QIDO-RS, WADO-RS, WADO-URI) are open to tokens';
    const found = reach(access, 'ImagingStudy', image.permission);
    if (found === 'none') return `the token's scopes do not allow '${image.permission}' on ImagingStudy`;
    if (found === 'all') return undefined;
    const patient = access.patient!;
    for (const { level, uid } of image.uids) {
      if ((await images.patientOf(level, uid)) !== patient) return `${level} ${uid} is not of the token's patient`;
    }
    if (image.unbounded) {
      const narrowed = narrowing(query);
      if (narrowed?.patientId !== undefined && ImageAccess.isPatientId(narrowed.patientId, patient)) return undefined;
      if (narrowed?.studyUid !== undefined && (await images.patientOf('Study', narrowed.studyUid)) === patient) return undefined;
      return 'a search of the archive must be narrowed to the token\'s patient (PatientID=, or one StudyInstanceUID=)';
    }
    return undefined;
  }

  /** WADO-URI (?requestType=WADO&studyUID=&seriesUID=&objectUID=) as an ImageRequest. */
  function wadoUri(query: ReadonlyArray<[string, string]>): ImageRequest | undefined {
    const get = (name: string) => query.find(([key]) => key === name)?.[1];
    const object = get('objectUID');
    if (object === undefined || !UID.test(object)) return undefined;
    const uids: ImageRequest['uids'] = [{ level: 'Instance', uid: object }];
    for (const [name, level] of [['studyUID', 'Study'], ['seriesUID', 'Series']] as const) {
      const uid = get(name);
      if (uid !== undefined) {
        if (!UID.test(uid)) return undefined;
        uids.push({ level, uid });
      }
    }
    return { permission: 'r', uids, unbounded: false };
  }

  return async (request) => {
    const segments = request.url.split('/').filter((s) => s !== '');
    if (segments.some((s) => s === '.' || s === '..')) return DENY;
    // The plugin's own routes check their credentials themselves (and can answer 401).
    if (segments[0] === 'fhir') return ALLOW;
    const query = request.query.map(([name, value]): [string, string] => [decoded(name) ?? '', decoded(value) ?? '\u0000']);
    const dicomWeb = under(segments, config.dicomWebRoot);
    const wado = segments.join('/') === config.wadoRoot.replace(/^\/+/, '') ? wadoUri(query) : undefined;
    const image = dicomWeb !== undefined ? classifyDicomWeb(dicomWeb) : wado;
    const isImages = dicomWeb !== undefined || segments.join('/') === config.wadoRoot.replace(/^\/+/, '');
    let access: Access | undefined;
    let refusal: string | undefined;
    let status = 200;
    try {
      access = await authenticator.authenticate(request.headers.authorization);
      if (access === undefined) {
        refusal = 'no credentials (a Bearer token, or RegisteredUsers credentials)';
        status = 401;
      } else if (!access.admin) {
        refusal = image === undefined
          ? (isImages ? 'not a DICOMweb read this server opens to tokens' : 'Orthanc\'s own API needs the administrator scope or RegisteredUsers credentials')
          : await imagesAllowed(access, request.method, image, query);
        if (refusal !== undefined) status = 403;
      }
    } catch (error) {
      if (error instanceof OperationOutcomeError) {
        refusal = error.message;
        status = error.status;
      } else {
        logError(`authorizing ${request.method} ${request.url} failed: ${(error as Error)?.stack ?? String(error)}`);
        refusal = 'the request could not be authorized';
        status = 500;
      }
    }
    // Images are audited on every access; the rest of Orthanc's API on refusals only.
    if (isImages || refusal !== undefined) {
      await audit({
        recorded: new Date().toISOString(),
        interaction: isImages ? 'dicomweb' : 'orthanc',
        action: request.method === 'GET' ? 'R' : request.method === 'DELETE' ? 'D' : request.method === 'POST' ? 'C' : 'U',
        request: requestLine(request.method, request.url, query),
        ...principalFields(access),
        ...(access?.patient !== undefined ? { patient: access.patient } : {}),
        ...(request.ip ? { address: request.ip } : {}),
        status,
        ...(refusal !== undefined ? { reason: refusal } : {}),
      });
    }
    return refusal === undefined ? ALLOW : DENY;
  };
}
