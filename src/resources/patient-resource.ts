// Patient: Orthanc's patients, mapped on the fly, merged with the Patients a
// RIS writes over FHIR (kept in the store, often before any image arrives).
// Patient.id is Orthanc's patient id, derived from the PatientID for written
// Patients too (patient-identity.ts), so both meet under one id.
import type { FhirConfig } from '../config';
import { badRequest, notFound, preconditionFailed, unprocessable } from '../fhir/outcome';
import type { Resource } from '../fhir/types';
import type { FhirRequest, FhirResponse } from '../interactions/request';
import type { DicomIndex, FindQuery } from '../orthanc/dicom-index';
import { defineSearch, searchParamDeclarations, type SearchRequest } from '../search';
import type { Store } from '../store/store';
import { mapPatient, type OrthancPatient, type PatientMapOptions } from './imaging';
import { dicomDateRange, exactCodes } from './orthanc-prefilter';
import { mergePatient, orthancPatientId, patientIdOf } from './patient-identity';
import type { ResourceProvider } from './provider';
import type { ResourceRegistry } from './registry';
import { searchAllOf, searchBundle, type SearchSource } from './search-flow';
import { checkVersion, conditionQuery, versionHeaders, versionOfETag } from './stored-resource';

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

export interface PatientWrites {
  store: Store;
  validate(resource: Resource): void;
}

export function createPatientResource(index: DicomIndex, registry: ResourceRegistry, config: FhirConfig, writes: PatientWrites): ResourceProvider {
  const { store } = writes;
  const options: PatientMapOptions = { patientIdSystem: config.patientIdSystem };
  const definition = defineSearch({
    resourceType: 'Patient',
    params: ['_id', 'identifier', 'name', 'family', 'given', 'birthdate', 'gender'],
    revInclude: ['ImagingStudy:subject'],
    defaultCount: config.defaultCount,
    maxCount: config.maxCount,
  });

  async function fromDicom(patient: OrthancPatient): Promise<Resource> {
    return mapPatient({ patient, extraTags: await index.patientModule(patient) }, options);
  }

  async function read(id: string): Promise<Resource | undefined> {
    const [stored, dicom] = await Promise.all([store.current('Patient', id), index.patient(id)]);
    return mergePatient(stored?.resource, dicom ? await fromDicom(dicom) : undefined);
  }

  const source = (): SearchSource => ({
    definition,
    async candidates(search) {
      const plan = planPatientSearch(search, config.patientIdSystem);
      const [patients, stored] = await Promise.all([
        plan.ids
          ? Promise.all(plan.ids.map((id) => index.patient(id))).then((found) => found.filter((p): p is OrthancPatient => p !== undefined))
          : index.find<OrthancPatient>('Patient', plan.query),
        store.list('Patient'),
      ]);
      const written = new Map(stored.map((patient) => [patient.id!, patient]));
      const resources = patients.map((patient) => mergePatient(written.get(patient.ID), mapPatient({ patient }, options))!);
      const seen = new Set(resources.map((resource) => resource.id));
      for (const patient of stored) if (!seen.has(patient.id)) resources.push(patient);
      return { resources, remaining: search };
    },
    complete: async (page) => (await Promise.all(page.map((summary) => read(summary.id!)))).filter((r): r is Resource => r !== undefined),
  });

  function identity(resource: Resource): string {
    writes.validate(resource);
    const patientId = patientIdOf(resource, config.patientIdSystem);
    if (!patientId) throw unprocessable('The Patient needs an identifier carrying its DICOM PatientID', ['Patient.identifier']);
    return orthancPatientId(patientId);
  }

  async function write(id: string, resource: Resource, request: FhirRequest): Promise<FhirResponse> {
    const expected = versionOfETag(request.headers['if-match']);
    return store.transaction((writer) => {
      const current = writer.current('Patient', id);
      checkVersion('Patient', id, current, expected);
      const version = writer.put('Patient', id, { ...resource, id });
      return { status: current?.resource ? 200 : 201, resource: version.resource, headers: versionHeaders(version, request.baseUrl) };
    });
  }

  return {
    type: 'Patient',
    interactions: ['read', 'vread', 'update', 'create', 'search-type'],
    searchParams: searchParamDeclarations(definition),
    searchRevInclude: definition.revInclude,
    documentation:
      "Orthanc's patients (Patient.id is Orthanc's patient id), merged with Patients written over FHIR, whose id is derived from their PatientID as Orthanc derives it",
    async read(id) {
      const patient = await read(id);
      if (!patient) throw notFound(`Patient/${id} is not known`);
      return patient;
    },
    /** Versions of a written Patient, as written (the DICOM side has no versions). */
    async vread(id, versionId) {
      const version = /^\d+$/.test(versionId) ? await store.version('Patient', id, Number(versionId)) : undefined;
      if (!version?.resource) throw notFound(`Patient/${id}/_history/${versionId} is not known`);
      return version.resource;
    },
    search: (request) => searchBundle(source(), request, registry),
    searchAll: (query, request) => searchAllOf(source(), query, request),
    assignId: (resource) => {
      const patientId = patientIdOf(resource, config.patientIdSystem);
      return patientId ? orthancPatientId(patientId) : 'invalid';
    },
    async create(resource, request) {
      const id = identity(resource);
      const condition = request.headers['if-none-exist'];
      if (condition !== undefined) {
        const existing = await searchAllOf(source(), conditionQuery(condition), request);
        if (existing.length > 1) throw preconditionFailed(`If-None-Exist: ${condition} matches ${existing.length} patients`);
        if (existing.length === 1) return { status: 200, resource: existing[0] };
      }
      // The id follows from the PatientID: a second create for a known
      // PatientID updates that Patient rather than making a twin.
      return write(id, resource, request);
    },
    async update(id, resource, request) {
      if (resource.id !== id) throw badRequest(`The body's id (${resource.id ?? 'none'}) must be the URL's id (${id})`, ['Patient.id']);
      const derived = identity(resource);
      if (derived !== id) {
        throw unprocessable(
          `Patient/${id} is the patient of another PatientID: the PatientID given (${patientIdOf(resource, config.patientIdSystem)}) is that of Patient/${derived}`,
          ['Patient.identifier'],
        );
      }
      return write(id, resource, request);
    },
  };
}
