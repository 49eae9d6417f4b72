// Patient and ImagingStudy as a read returns them, live from Orthanc: what
// the resource modules serve, and what the imaging index (imaging-index.ts)
// indexes after each change. One place, so that a search's index and its
// re-check read the same resource.
import type { FhirConfig } from '../config';
import type { Resource } from '../fhir/types';
import type { DicomIndex, StudyDetails } from '../orthanc/dicom-index';
import type { Store } from '../store/store';
import type { DicomWebEndpoints } from './endpoint-resource';
import { formatPersonName, mapImagingStudy, mapPatient, tagString, type ImagingStudyMapOptions, type OrthancPatient, type OrthancStudy } from './imaging';
import { withNarrative } from './narrative';
import { orderOfStudy } from './order-lookup';
import { mergePatient } from './patient-identity';

/** Instances of a series share the SOP class of the instance read from its file (1.10.1 indexes none). */
function sopClassUids(details: StudyDetails): Record<string, string> {
  const classes: Record<string, string> = {};
  for (const series of details.series) {
    const sopClass = tagString(details.seriesTags[series.ID], 'SOPClassUID');
    if (sopClass) for (const instance of series.Instances) classes[instance] = sopClass;
  }
  return classes;
}


/** The ImagingStudy of `study` with its narrative, which names the patient as the study's DICOM does (read, search, notification alike). */
export function narratedStudy(study: OrthancStudy, resource: Resource): Resource {
  const tags = study.PatientMainDicomTags;
  const name = formatPersonName(tagString(tags, 'PatientName'));
  const mrn = tagString(tags, 'PatientID');
  return withNarrative(resource, { patient: { ...(name !== undefined ? { name } : {}), ...(mrn !== undefined ? { mrn } : {}) } });
}
export class ImagingReader {
  constructor(
    readonly index: DicomIndex,
    private readonly endpoints: DicomWebEndpoints,
    private readonly store: Store,
    private readonly config: FhirConfig,
  ) {}

  /** The mapping options of one study: its order, when this server holds it, is referenced literally. */
  async studyOptions(study: OrthancStudy): Promise<ImagingStudyMapOptions> {
    const order = await orderOfStudy(this.store, tagString(study.MainDicomTags, 'StudyInstanceUID'), tagString(study.MainDicomTags, 'AccessionNumber'));
    return {
      serviceRequestReference: () => (order ? { reference: `ServiceRequest/${order.id}` } : undefined),
      endpoints: await this.endpoints.references(),
      defaultTimezoneOffset: this.config.defaultTimezoneOffset,
      accessionNumberSystem: this.config.accessionNumberSystem,
    };
  }

  /** The whole ImagingStudy of an Orthanc study, with its narrative; undefined if it was deleted meanwhile. */
  async fullStudy(study: OrthancStudy, options?: ImagingStudyMapOptions): Promise<Resource | undefined> {
    const [details, mapOptions] = await Promise.all([this.index.studyDetails(study), options ?? this.studyOptions(study)]);
    if (!details) return undefined;
    // No file of its own for the study-level tags: the first series' file, which the details read anyway, serves
    // (the mapper's rule; study-level attributes are the same in every instance of a study).
    return narratedStudy(study, mapImagingStudy({ ...details, sopClassUids: sopClassUids(details) }, mapOptions));
  }

  async study(id: string): Promise<Resource | undefined> {
    const study = await this.index.study(id);
    return study ? this.fullStudy(study) : undefined;
  }

  /** The DICOM side of a Patient, as a read shows it. */
  async dicomPatient(patient: OrthancPatient): Promise<Resource> {
    return mapPatient({ patient, extraTags: await this.index.patientModule(patient) }, { patientIdSystem: this.config.patientIdSystem });
  }

  /** A Patient as read: the one written over FHIR, merged with Orthanc's, either alone when the other is absent. */
  async patient(id: string): Promise<Resource | undefined> {
    const [stored, dicom] = await Promise.all([this.store.current('Patient', id), this.index.patient(id)]);
    return mergePatient(stored?.resource, dicom ? await this.dicomPatient(dicom) : undefined);
  }
}
