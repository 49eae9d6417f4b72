// The Orthanc REST JSON that the imaging mappers read, as Orthanc 1.10.1
// writes it (shapes checked against a real 1.10.1; see the fixtures under
// test/unit/fixtures/imaging/). Only what the mappers use is required; the
// rest is declared so that a parsed answer can be passed as it is.

/**
 * One value of Orthanc's "simplified" tag JSON, the format of MainDicomTags
 * and of `?simplify` answers: a string (multiple values joined by '\'), a
 * sequence (an array of items), or null (binary or too long to be shown).
 */
export type OrthancTagValue = string | null | readonly OrthancTagItem[];

/** A set of tags keyed by DICOM keyword, e.g. { PatientID: "123" }. */
export interface OrthancTagItem {
  readonly [keyword: string]: OrthancTagValue | undefined;
}

export type OrthancTags = OrthancTagItem;

/** GET /patients/{id} */
export interface OrthancPatient {
  readonly ID: string;
  readonly Type?: 'Patient';
  readonly IsStable?: boolean;
  /** "YYYYMMDDTHHMMSS"; Orthanc 1.10.1 writes it in UTC. */
  readonly LastUpdate?: string;
  readonly MainDicomTags: OrthancTags;
  readonly Studies?: readonly string[];
}

/** GET /studies/{id} (also the items of /tools/find at Study level with Expand). */
export interface OrthancStudy {
  readonly ID: string;
  readonly Type?: 'Study';
  readonly IsStable?: boolean;
  readonly LastUpdate?: string;
  readonly MainDicomTags: OrthancTags;
  readonly PatientMainDicomTags?: OrthancTags;
  readonly ParentPatient: string;
  readonly Series?: readonly string[];
}

/** The items of GET /studies/{id}/series?expand (or GET /series/{id}). */
export interface OrthancSeries {
  readonly ID: string;
  readonly Type?: 'Series';
  readonly IsStable?: boolean;
  readonly LastUpdate?: string;
  readonly MainDicomTags: OrthancTags;
  readonly ParentStudy: string;
  /** Orthanc ids of the instances of the series. */
  readonly Instances: readonly string[];
  readonly ExpectedNumberOfInstances?: number | null;
  readonly Status?: string;
}

/** The items of GET /studies/{id}/instances?expand (or GET /instances/{id}). */
export interface OrthancInstance {
  readonly ID: string;
  readonly Type?: 'Instance';
  /** In 1.10.1 this holds SOPInstanceUID, InstanceNumber... but NOT SOPClassUID. */
  readonly MainDicomTags: OrthancTags;
  readonly ParentSeries: string;
  readonly IndexInSeries?: number | null;
  readonly FileSize?: number;
  readonly FileUuid?: string;
}
