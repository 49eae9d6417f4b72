// Typed, cached access to Orthanc's DICOM index for the imaging resources.
// Calls are chosen to avoid reading DICOM files: the index answers most
// facts; the few that only the files hold (laterality, time zone, procedure
// codes, SOP class, issuers) come from one instance per series, cached by
// resource version.
import type { OrthancInstance, OrthancPatient, OrthancSeries, OrthancStudy, OrthancTags } from '../resources/imaging';
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

/** Characters that /tools/find would read as wildcards or value separators. */
const FIND_SPECIALS = /[*?\\]/;

export function isSafeFindValue(value: string): boolean {
  return value !== '' && !FIND_SPECIALS.test(value);
}

export class DicomIndex {
  private readonly seriesTags = new Lru<string, OrthancTags>(20000);
  private readonly patientTags = new Lru<string, OrthancTags>(20000);
  private readonly studyTags = new Lru<string, OrthancTags>(50000);
  /** Series and instances of recently read studies, per study version (LastUpdate changes with every new instance). */
  private readonly details = new Lru<string, Promise<StudyDetails | undefined>>(200);
  private pluginsPromise?: Promise<string[]>;

  constructor(private readonly orthanc: OrthancClient) {}

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
  studyDetails(study: OrthancStudy): Promise<StudyDetails | undefined> {
    const key = `${study.ID}@${study.LastUpdate ?? ''}`;
    let details = this.details.get(key);
    if (!details) {
      details = this.loadStudyDetails(study);
      this.details.set(key, details);
      details.catch(() => this.details.delete(key)); // a failure is not remembered
    }
    return details;
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
      (await this.orthanc.getJson<OrthancTags>(`/instances/${encodeURIComponent(first)}/tags?simplify`)) ?? {},
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
      return (await this.orthanc.getJson<OrthancTags>(`/instances/${encodeURIComponent(first.ID)}/tags?simplify`)) ?? {};
    });
  }

  /** The patient module of one of the patient's files (IssuerOfPatientID...); cached per patient version. */
  async patientModule(patient: OrthancPatient): Promise<OrthancTags> {
    return this.patientTags.getOrLoad(`${patient.ID}@${patient.LastUpdate ?? ''}`, async () =>
      (await this.orthanc.getJson<OrthancTags>(`/patients/${encodeURIComponent(patient.ID)}/module?simplify`)) ?? {},
    );
  }

  /** Names of the plugins Orthanc has loaded (they cannot change while this environment lives). */
  plugins(): Promise<string[]> {
    this.pluginsPromise ??= this.orthanc.getJson<string[]>('/plugins').then((names) => names ?? []);
    this.pluginsPromise.catch(() => (this.pluginsPromise = undefined));
    return this.pluginsPromise;
  }
}
