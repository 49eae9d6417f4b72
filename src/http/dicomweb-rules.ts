// What a DICOMweb or WADO-URI request asks of the images, read the way the
// DICOMweb plugin will read it, so that a patient-context token can be held
// to its patient's studies. Pure. The query is taken raw, as Orthanc 1.10
// hands it to the DICOMweb plugin (still percent-encoded).
import type { Permission } from '../fhir/access';
import type { UidLevel } from '../resources/image-access';

/** What a DICOMweb URL asks: a permission on ImagingStudy, and the UIDs it names. */
export interface ImageRequest {
  permission: Permission;
  uids: Array<{ level: UidLevel; uid: string }>;
  /** A search of the whole archive (QIDO-RS at the root): it must be narrowed to the patient by its own query. */
  unbounded: boolean;
}

export const UID = /^[0-9.]{1,64}$/;
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

/** The attributes that say whose images a search reaches. */
const IDENTITY: Readonly<Record<string, string>> = {
  '00100020': 'PatientID', '0020000D': 'StudyInstanceUID', '0020000E': 'SeriesInstanceUID', '00080018': 'SOPInstanceUID',
};
const IDENTITY_KEYWORDS = new Map(Object.entries(IDENTITY).map(([tag, keyword]) => [keyword.toLowerCase(), tag]));
/** QIDO-RS parameters that are not attribute filters. */
const CONTROLS = new Set(['limit', 'offset', 'fuzzymatching', 'includefield']);

/**
 * The identity tag a QIDO-RS key filters on, in every spelling Orthanc's
 * tag parser takes (keyword, ggggeeee, gggg,eeee, gggg-eeee, any case);
 * undefined for other keys.
 */
export function identityTag(key: string): string | undefined {
  if (CONTROLS.has(key.toLowerCase())) return undefined;
  const hex = /^\(?([0-9a-f]{4})[,-]?([0-9a-f]{4})\)?$/i.exec(key.trim());
  if (hex) {
    const tag = `${hex[1]}${hex[2]}`.toUpperCase();
    return IDENTITY[tag] !== undefined ? tag : undefined;
  }
  // A path into a sequence (00400275.00100020) filters inside it, not on the identity itself; the last step says which.
  const last = key.split('.').pop()!.trim().toLowerCase();
  return last === key.trim().toLowerCase() ? IDENTITY_KEYWORDS.get(last) : undefined;
}

/**
 * How a search is narrowed to one patient by its query: the one identity
 * filter it has (PatientID, or StudyInstanceUID with one UID). Several
 * identity filters, in any spelling, narrow nothing: the DICOMweb plugin
 * keeps the last.
 */
export function narrowing(query: ReadonlyArray<[string, string]>): { patientId?: string; studyUid?: string } | 'none' | 'ambiguous' {
  // An escaped key is not read here as the plugin might read it.
  if (query.some(([key]) => key.includes('%'))) return 'ambiguous';
  const identities = query.filter(([key]) => identityTag(key) !== undefined);
  if (identities.length === 0) return 'none';
  if (identities.length > 1) return 'ambiguous';
  const [key, value] = identities[0]!;
  const tag = identityTag(key);
  if (tag === '00100020' && value !== '' && !/[*?\\,%]/.test(value)) return { patientId: value };
  if (tag === '0020000D' && UID.test(value)) return { studyUid: value };
  return 'ambiguous';
}

const WADO_KEYS = ['requestType', 'studyUID', 'seriesUID', 'objectUID', 'contentType'];

/**
 * WADO-URI (?requestType=WADO&studyUID=&seriesUID=&objectUID=) as an
 * ImageRequest; undefined when it names no instance, a bad UID, or any of
 * its keys twice (the plugin reads the last; a check would read another).
 */
export function classifyWadoUri(query: ReadonlyArray<[string, string]>): ImageRequest | undefined {
  for (const key of WADO_KEYS) {
    if (query.filter(([name]) => name === key).length > 1) return undefined;
  }
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
