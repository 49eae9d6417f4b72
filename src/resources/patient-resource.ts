// Patient: read and search over Orthanc's patients, mapped on the fly (no
// copy to keep in sync). Patient.id is Orthanc's own patient id.
import type { FhirConfig } from '../config';
import { notFound } from '../fhir/outcome';
import type { Resource } from '../fhir/types';
import type { FhirRequest } from '../interactions/request';
import type { DicomIndex, FindQuery } from '../orthanc/dicom-index';
import { defineSearch, searchParamDeclarations, type SearchRequest } from '../search';
import { mapPatient, type OrthancPatient, type PatientMapOptions } from './imaging';
import { dicomDateRange, exactCodes } from './orthanc-prefilter';
import type { ResourceProvider } from './provider';
import type { ResourceRegistry } from './registry';
import { searchAllOf, searchBundle, type SearchSource } from './search-flow';

const DICOM_SEX: Record<string, string> = { male: 'M', female: 'F', other: 'O' };

/** The /tools/find query and the ids (from _id) that narrow a Patient search. */
export function planPatientSearch(search: SearchRequest, patientIdSystem: string | undefined): { query: FindQuery; ids?: string[] } {
  const query: FindQuery = {};
  let ids: string[] | undefined;
  for (const filter of search.filters) {
    const code = filter.param.code;
    if (code === '_id') {
      const values = exactCodes(filter, [undefined]);
      if (values) ids = ids ? ids.filter((id) => values.includes(id)) : values;
    } else if (code === 'identifier') {
      const values = exactCodes(filter, [undefined, patientIdSystem ?? '']);
      if (values?.length === 1) query.PatientID = values[0]!;
    } else if (code === 'birthdate') {
      const range = dicomDateRange(filter);
      if (range) query.PatientBirthDate = range;
    } else if (code === 'gender') {
      const values = exactCodes(filter, [undefined, 'http://hl7.org/fhir/administrative-gender']);
      const sex = values?.length === 1 ? DICOM_SEX[values[0]!] : undefined;
      if (sex) query.PatientSex = sex;
    }
  }
  return ids ? { query, ids } : { query };
}

export function createPatientResource(index: DicomIndex, registry: ResourceRegistry, config: FhirConfig): ResourceProvider {
  const options: PatientMapOptions = { patientIdSystem: config.patientIdSystem };
  const definition = defineSearch({
    resourceType: 'Patient',
    params: ['_id', 'identifier', 'name', 'family', 'given', 'birthdate', 'gender'],
    revInclude: ['ImagingStudy:subject'],
    defaultCount: config.defaultCount,
    maxCount: config.maxCount,
  });

  async function full(patient: OrthancPatient): Promise<Resource> {
    return mapPatient({ patient, extraTags: await index.patientModule(patient) }, options);
  }

  const source = (): SearchSource => {
    const found = new Map<string, OrthancPatient>();
    return {
      definition,
      async candidates(search) {
        const plan = planPatientSearch(search, config.patientIdSystem);
        const patients = plan.ids
          ? (await Promise.all(plan.ids.map((id) => index.patient(id)))).filter((p): p is OrthancPatient => p !== undefined)
          : await index.find<OrthancPatient>('Patient', plan.query);
        for (const patient of patients) found.set(patient.ID, patient);
        return { resources: patients.map((patient) => mapPatient({ patient }, options)), remaining: search };
      },
      complete: (page) => Promise.all(page.map((summary) => full(found.get(summary.id!)!))),
    };
  };

  return {
    type: 'Patient',
    interactions: ['read', 'search-type'],
    searchParams: searchParamDeclarations(definition),
    searchRevInclude: definition.revInclude,
    documentation: "Orthanc's patients; Patient.id is Orthanc's patient id",
    async read(id: string) {
      const patient = await index.patient(id);
      if (!patient) throw notFound(`Patient/${id} is not known`);
      return full(patient);
    },
    search: (request: FhirRequest) => searchBundle(source(), request, registry),
    searchAll: (query, request) => searchAllOf(source(), query, request),
  };
}
