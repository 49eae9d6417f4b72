// Plans an ImagingStudy search on Orthanc's index. Facts of the study level
// narrow a /tools/find; facts below it (series, instances, SOP classes,
// modalities) are looked up in Orthanc exactly and the matching filters
// leave the in-memory search, which would otherwise need every study's
// series and instances.
import type { FindQuery } from '../orthanc/dicom-index';
import type { SearchFilter, SearchRequest, TokenValue } from '../search';
import { DCM_SYSTEM, DICOM_UID_SYSTEM } from './imaging';
import { dicomDateRange, exactCodes } from './orthanc-prefilter';

const UID = /^[0-9]+(\.[0-9]+)*$/;
const OID_PREFIX = 'urn:oid:';

export interface StudySearchPlan {
  /** Study-level /tools/find constraints; they only narrow. */
  query: FindQuery;
  /** Each list restricts the candidates to studies found through it (all must hold). */
  studyIds: string[][];
  patientIds: string[][];
  seriesUids: string[][];
  instanceUids: string[][];
  sopClassUids: string[][];
  modalities: string[][];
  /** What the in-memory search still checks. */
  remaining: SearchRequest;
  /** What the remaining filters and sort read beyond the study's index entry. */
  needs: {
    series: boolean;
    instances: boolean;
    /** `started` needs the time zone, which only the DICOM files hold. */
    studyTags: boolean;
  };
}

function stripOid(code: string): string {
  return code.startsWith(OID_PREFIX) ? code.slice(OID_PREFIX.length) : code;
}

/** UIDs named by a token filter of plain UIDs (with or without urn:oid:), or undefined. */
function exactUids(filter: SearchFilter): string[] | undefined {
  const codes = exactCodes(filter, [undefined, DICOM_UID_SYSTEM]);
  const uids = codes?.map(stripOid);
  return uids && uids.every((uid) => UID.test(uid)) ? uids : undefined;
}

/** A study UID may be searched without urn:oid: or without a system: accept both forms. */
function widenStudyIdentifier(filter: SearchFilter): SearchFilter {
  if (filter.kind !== 'token') return filter;
  const values: TokenValue[] = [];
  for (const value of filter.values) {
    values.push(value);
    const code = value.code;
    if (code !== undefined && UID.test(code) && (value.system === undefined || value.system === DICOM_UID_SYSTEM)) {
      values.push({ system: DICOM_UID_SYSTEM, code: OID_PREFIX + code });
    }
  }
  return { ...filter, values };
}

/**
 * A DICOM UID is accepted with or without urn:oid: (the study's identifier,
 * series, instance, dicom-class): each UID value is widened to both forms,
 * for the index and for the re-check alike.
 */
export function widenUidForms(search: SearchRequest): SearchRequest {
  const filters = search.filters.map((filter): SearchFilter => {
    if (filter.kind !== 'token') return filter;
    const code = filter.param.code;
    if (code === 'identifier') return widenStudyIdentifier(filter);
    if (code !== 'series' && code !== 'instance' && code !== 'dicom-class') return filter;
    const values: TokenValue[] = [];
    for (const value of filter.values) {
      values.push(value);
      if (value.code === undefined) continue;
      const bare = stripOid(value.code);
      if (!UID.test(bare)) continue;
      const other = bare === value.code ? OID_PREFIX + bare : bare;
      values.push({ ...value, code: other });
    }
    return { ...filter, values };
  });
  return { ...search, filters };
}

function referencedIds(filter: SearchFilter, type: string): string[] | undefined {
  if (filter.kind !== 'reference') return undefined;
  const ids: string[] = [];
  for (const value of filter.values) {
    if (value.id === undefined || (value.type !== undefined && value.type !== type)) return undefined;
    ids.push(value.id);
  }
  return ids;
}

export function planStudySearch(search: SearchRequest): StudySearchPlan {
  const plan: StudySearchPlan = {
    query: {},
    studyIds: [],
    patientIds: [],
    seriesUids: [],
    instanceUids: [],
    sopClassUids: [],
    modalities: [],
    remaining: search,
    needs: { series: false, instances: false, studyTags: false },
  };
  const remaining: SearchFilter[] = [];
  for (const filter of search.filters) {
    const code = filter.param.code;
    let keep = true;
    if (code === '_id') {
      const ids = exactCodes(filter, [undefined]);
      if (ids) plan.studyIds.push(ids);
    } else if (code === 'patient' || code === 'subject') {
      const ids = referencedIds(filter, 'Patient');
      if (ids) plan.patientIds.push(ids);
    } else if (code === 'started') {
      const range = dicomDateRange(filter);
      if (range) plan.query.StudyDate = range;
    } else if (code === 'identifier') {
      // Only an unambiguous study UID narrows: a bare code may be an accession number.
      const codes = exactCodes(filter, [undefined, DICOM_UID_SYSTEM]);
      const only = filter.kind === 'token' && codes?.length === 1 ? filter.values[0]! : undefined;
      const uid = only?.code !== undefined ? stripOid(only.code) : undefined;
      if (uid && UID.test(uid) && (only!.system === DICOM_UID_SYSTEM || only!.code!.startsWith(OID_PREFIX))) {
        plan.query.StudyInstanceUID = uid;
      }
      remaining.push(widenStudyIdentifier(filter));
      continue;
    } else if (code === 'modality') {
      const codes = exactCodes(filter, [undefined, DCM_SYSTEM]);
      if (codes) {
        plan.modalities.push(codes);
        keep = false;
      }
    } else if (code === 'series' || code === 'instance' || code === 'dicom-class') {
      const uids = exactUids(filter);
      if (uids) {
        (code === 'series' ? plan.seriesUids : code === 'instance' ? plan.instanceUids : plan.sopClassUids).push(uids);
        keep = false;
      }
    }
    if (keep) remaining.push(filter);
  }
  plan.remaining = { ...search, filters: remaining };
  const reads = (codes: string[]) =>
    remaining.some((f) => codes.includes(f.param.code)) || search.sort.some((s) => codes.includes(s.param.code));
  plan.needs = {
    instances: reads(['instance', 'dicom-class']),
    series: reads(['modality', 'series']),
    studyTags: reads(['started']),
  };
  return plan;
}
