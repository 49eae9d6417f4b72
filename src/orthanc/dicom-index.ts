// Typed, cached access to Orthanc's DICOM index for the imaging resources.
// Calls are chosen to avoid reading DICOM files: the index answers most
// facts; the few that only the files hold (laterality, time zone, procedure
// codes, SOP class, issuers) come from one instance per series, cached by
// resource version.
import type { OrthancInstance, OrthancPatient, OrthancSeries, OrthancStudy, OrthancTags } from '../resources/imaging';

export type { OrthancSeries };
import type { OrthancClient } from './client';
import { Lru } from './lru';

export type FindLevel = 'Patient' | 'Study' | 'Series' | 'Instance';

/** A constraint for /tools/find: DICOM keyword -> value (exact, or a DICOM range for dates). */
export type FindQuery = Record<string, string>;

export interface StudyDetails {
  study: OrthancStudy;
  series: OrthancSeries[];
  instances: OrthancInstance[];
  /** Orthanc series id -> the tags of its first instance (from the DICOM file). */
  seriesTags: Record<string, OrthancTags>;
}

/**
 * The tags the mappers read from DICOM files (resources/imaging/*): a cached
 * file keeps only these, not its every tag (private sequences, overlays...).
 */
const MAPPED_TAGS = new Set([
  'AccessionNumber', 'BodyPartExamined', 'DocumentTitle', 'InstanceNumber', 'IssuerOfAccessionNumberSequence',
  'IssuerOfPatientID', 'IssuerOfPatientIDQualifiersSequence', 'Laterality', 'ImageLaterality', 'Modality', 'OtherPatientIDs',
  'OtherPatientIDsSequence', 'PatientBirthDate', 'PatientID', 'PatientName', 'PatientSex', 'ProcedureCodeSequence',
  'ReferringPhysicianName', 'SOPClassUID', 'SOPInstanceUID', 'SeriesDate', 'SeriesDescription', 'SeriesInstanceUID',
  'SeriesNumber', 'SeriesTime', 'SpecificCharacterSet', 'StudyDate', 'StudyDescription', 'StudyID', 'StudyInstanceUID',
  'StudyTime', 'TimezoneOffsetFromUTC', 'ConceptNameCodeSequence',
]);

export function mappedTags(tags: OrthancTags | undefined): OrthancTags {
  return Object.fromEntries(Object.entries(tags ?? {}).filter(([key]) => MAPPED_TAGS.has(key))) as OrthancTags;
}

/** Characters that /tools/find would read as wildcards or value separators. */
const FIND_SPECIALS = /[*?\\]/;

export function isSafeFindValue(value: string): boolean {
  return value !== '' && !FIND_SPECIALS.test(value);
}

export class DicomIndex {
  private readonly seriesTags: Lru<string, OrthancTags>;
  private readonly patientTags: Lru<string, OrthancTags>;
  private readonly studyTags: Lru<string, OrthancTags>;
  /** Series and instances of recently read studies, per study version (LastUpdate changes with every new instance). */
  private readonly details: Lru<string, StudyDetails>;
  /** Loads in flight, so that concurrent reads of one study share them (cleared when they settle). */
  private readonly loading = new Map<string, Promise<StudyDetails | undefined>>();
  private pluginsPromise?: Promise<string[]>;

  /** `cacheBytes`: what the caches may hold in all (Fhir.CacheSize). */
  constructor(private readonly orthanc: OrthancClient, cacheBytes = 64 * 1024 * 1024) {
    this.details = new Lru(cacheBytes * 0.5);
    this.seriesTags = new Lru(cacheBytes * 0.2);
    this.studyTags = new Lru(cacheBytes * 0.2);
    this.patientTags = new Lru(cacheBytes * 0.1);
  }

  /** /tools/find with expanded answers. Values must be exact (see isSafeFindValue). */
  async find<T>(level: FindLevel, query: FindQuery): Promise<T[]> {
    return this.orthanc.postJson<T[]>('/tools/find', { Level: level, Query: query, Expand: true, CaseSensitive: true });
  }

  async findIds(level: FindLevel, query: FindQuery): Promise<string[]> {
    return this.orthanc.postJson<string[]>('/tools/find', { Level: level, Query: query, Expand: false, CaseSensitive: true });
  }

  patient(id: string): Promise<OrthancPatient | undefined> {
    return this.orthanc.getJson<OrthancPatient>(`/patients/${encodeURIComponent(id)}`);
  }

  study(id: string): Promise<OrthancStudy | undefined> {
    return this.orthanc.getJson<OrthancStudy>(`/studies/${encodeURIComponent(id)}`);
  }

  series(id: string): Promise<OrthancSeries | undefined> {
    return this.orthanc.getJson<OrthancSeries>(`/series/${encodeURIComponent(id)}`);
  }

  async studySeries(id: string): Promise<OrthancSeries[]> {
    return (await this.orthanc.getJson<OrthancSeries[]>(`/studies/${encodeURIComponent(id)}/series?expand`)) ?? [];
  }

  /** Everything an ImagingStudy needs: 3 index calls, plus one file per series not yet cached. */
  async studyDetails(study: OrthancStudy): Promise<StudyDetails | undefined> {
    const key = `${study.ID}@${study.LastUpdate ?? ''}`;
    const cached = this.details.get(key);
    if (cached) return cached;
    let loading = this.loading.get(key);
    if (!loading) {
      loading = this.loadStudyDetails(study);
      this.loading.set(key, loading);
      // A failure is not remembered; a success is kept by its size, once
      // the study is stable: LastUpdate has a resolution of one second, so
      // a study still receiving instances may change under the same key.
      void loading.then((details) => details && study.IsStable === true && this.details.set(key, details), () => undefined)
        .finally(() => this.loading.delete(key));
    }
    return loading;
  }

  private async loadStudyDetails(study: OrthancStudy): Promise<StudyDetails | undefined> {
    const id = encodeURIComponent(study.ID);
    const [series, instances] = await Promise.all([
      this.orthanc.getJson<OrthancSeries[]>(`/studies/${id}/series?expand`),
      this.orthanc.getJson<OrthancInstance[]>(`/studies/${id}/instances?expand`),
    ]);
    if (series === undefined || instances === undefined) return undefined;
    const tags = await Promise.all(series.map((one) => this.firstInstanceTags(one)));
    const seriesTags: Record<string, OrthancTags> = {};
    series.forEach((one, index) => {
      const found = tags[index];
      if (found) seriesTags[one.ID] = found;
    });
    return { study, series, instances, seriesTags };
  }

  /** Tags of a series' first instance, read from its file; cached per series version. */
  private async firstInstanceTags(series: OrthancSeries): Promise<OrthancTags | undefined> {
    const first = series.Instances[0];
    if (first === undefined) return undefined;
    return this.seriesTags.getOrLoad(`${series.ID}@${series.LastUpdate ?? ''}`, async () =>
      mappedTags(await this.orthanc.getJson<OrthancTags>(`/instances/${encodeURIComponent(first)}/tags?simplify`)),
    );
  }

  /**
   * Tags of one of the study's files, for the study-level facts the index
   * lacks (TimezoneOffsetFromUTC, ProcedureCodeSequence...); cached per study version.
   */
  async studyFileTags(study: OrthancStudy): Promise<OrthancTags> {
    return this.studyTags.getOrLoad(`${study.ID}@${study.LastUpdate ?? ''}`, async () => {
      const instances = await this.orthanc.getJson<OrthancInstance[]>(`/studies/${encodeURIComponent(study.ID)}/instances?expand`);
      const first = instances?.[0];
      if (!first) return {};
      return mappedTags(await this.orthanc.getJson<OrthancTags>(`/instances/${encodeURIComponent(first.ID)}/tags?simplify`));
    });
  }

  /** The patient module of one of the patient's files (IssuerOfPatientID...); cached per patient version. */
  async patientModule(patient: OrthancPatient): Promise<OrthancTags> {
    return this.patientTags.getOrLoad(`${patient.ID}@${patient.LastUpdate ?? ''}`, async () =>
      mappedTags(await this.orthanc.getJson<OrthancTags>(`/patients/${encodeURIComponent(patient.ID)}/module?simplify`)),
    );
  }

  /** Names of the plugins Orthanc has loaded (they cannot change while this environment lives). */
  plugins(): Promise<string[]> {
    this.pluginsPromise ??= this.orthanc.getJson<string[]>('/plugins').then((names) => names ?? []);
    this.pluginsPromise.catch(() => (this.pluginsPromise = undefined));
    return this.pluginsPromise;
  }
}
