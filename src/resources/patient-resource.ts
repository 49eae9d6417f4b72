// Patient: Orthanc's patients, mapped on the fly, merged with the Patients a
// RIS writes over FHIR (kept in the store, often before any image arrives).
// Searched through the index of the merged Patient (written with the stored
// Patient, and by the imaging index for the DICOM side); the live path
// serves until the imaging index is built.
// Patient.id is Orthanc's patient id, derived from the PatientID for written
// Patients too (patient-identity.ts), so both meet under one id.
import type { FhirConfig } from '../config';
import { badRequest, notFound, unprocessable } from '../fhir/outcome';
import type { Resource } from '../fhir/types';
import type { FindQuery } from '../orthanc/dicom-index';
import { defineSearch, runSearch, searchParamDeclarations, type SearchRequest } from '../search';
import type { Store } from '../store/store';
import { mapPatient, type OrthancPatient, type PatientMapOptions } from './imaging';
import type { ImagingIndex } from './imaging-index';
import type { ImagingReader } from './imaging-reader';
import { dicomDateRange, exactCodes } from './orthanc-prefilter';
import { withoutGeneratedText } from './narrative';
import { mergePatient, orthancPatientId, patientIdOf } from './patient-identity';
import type { InteractionContext, InteractionResult, ResourceProvider } from './provider';
import type { ResourceRegistry } from './registry';
import { SEARCH_DECLARATIONS } from './search-declarations';
import { refuseJoinsWhileBuilding, searchAllOf, searchBundle, type SearchSource } from './search-flow';
import { checkVersion, existingMatch, versionHeaders } from './stored-resource';
import { patientEverything } from './patient-everything';
import { SEARCH_CATALOG } from './search-catalog';

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

export interface PatientDeps {
  reader: ImagingReader;
  imagingIndex: ImagingIndex;
  store: Store;
  registry: ResourceRegistry;
  config: FhirConfig;
  validate(resource: Resource): void;
}

export function createPatientResource({ reader, imagingIndex, store, registry, config, validate }: PatientDeps): ResourceProvider {
  const { index } = reader;
  const options: PatientMapOptions = { patientIdSystem: config.patientIdSystem };
  const definition = defineSearch({
    resourceType: 'Patient',
    ...SEARCH_DECLARATIONS.Patient,
    defaultCount: config.defaultCount,
    maxCount: config.maxCount,
  });

  const loadAll = async (ids: readonly string[]) =>
    (await Promise.all(ids.map((id) => reader.patient(id)))).filter((r): r is Resource => r !== undefined);

  const indexed: SearchSource = {
    definition,
    recheck: true,
    find: (search) => store.search(search),
    load: loadAll,
  };

  /** Before the imaging index is built: Orthanc's /tools/find, and the stored Patients, matched in memory. */
  const live = (): SearchSource => {
    let page: Resource[] = [];
    return {
      definition,
      async find(search) {
        refuseJoinsWhileBuilding(search);
        const plan = planPatientSearch(search, config.patientIdSystem);
        const patients = plan.ids
          ? (await Promise.all(plan.ids.map((id) => index.patient(id)))).filter((p): p is OrthancPatient => p !== undefined)
          : await index.find<OrthancPatient>('Patient', plan.query);
        const resources = await Promise.all(patients.map(async (patient) =>
          mergePatient((await store.current('Patient', patient.ID))?.resource, mapPatient({ patient }, options))!));
        // Written Patients without images are in the index already (it is filled as they are written).
        const seen = new Set(resources.map((resource) => resource.id));
        const written = await store.search({ ...search, resourceType: 'Patient', count: definition.maxCount, offset: 0, sort: [] });
        for (const id of written.ids) {
          const stored = seen.has(id) ? undefined : (await store.current('Patient', id))?.resource;
          if (stored) resources.push(stored);
        }
        const result = runSearch(resources, search);
        page = await loadAll(result.page.map((r) => r.id!));
        return { ids: page.map((r) => r.id!), more: search.offset + result.page.length < result.total, total: result.total };
      },
      load: async () => page,
    };
  };

  const source = async (): Promise<SearchSource> => ((await imagingIndex.current()) ? indexed : live());
  const searchAll = async (query: Array<[string, string]>, context: InteractionContext, limit?: number) =>
    searchAllOf(await source(), query, context, limit);

  function identity(resource: Resource): string {
    validate(resource);
    const patientId = patientIdOf(resource, config.patientIdSystem);
    if (!patientId) throw unprocessable('The Patient needs an identifier carrying its DICOM PatientID', ['Patient.identifier']);
    return orthancPatientId(patientId);
  }

  async function write(id: string, resource: Resource, context: InteractionContext): Promise<InteractionResult> {
    // The DICOM side is read first (outside the transaction): the index holds the merged Patient.
    const dicomPatient = await index.patient(id);
    const dicom = dicomPatient ? await reader.dicomPatient(dicomPatient) : undefined;
    return store.transaction(async (writer) => {
      const current = await writer.current('Patient', id);
      checkVersion('Patient', id, current, context.ifMatch);
      const body = { ...resource, id };
      const version = await writer.put('Patient', id, body, { baseUrl: context.baseUrl, indexAs: mergePatient(body, dicom) });
      return { status: current?.resource ? 200 : 201, resource: version.resource, headers: versionHeaders(version, context.baseUrl) };
    });
  }

  return {
    type: 'Patient',
    interactions: ['read', 'vread', 'update', 'create', 'search-type'],
    searchParams: searchParamDeclarations(definition),
    searchInclude: definition.include,
    searchRevInclude: SEARCH_CATALOG.revIncludesOf('Patient'),
    operations: [patientEverything(registry, config)],
    documentation:
      "Orthanc's patients (Patient.id is Orthanc's patient id), merged with Patients written over FHIR, whose id is derived from their PatientID as Orthanc derives it",
    async read(id) {
      const patient = await reader.patient(id);
      if (!patient) throw notFound(`Patient/${id} is not known`);
      return patient;
    },
    /** Versions of a written Patient, as written (the DICOM side has no versions). */
    async vread(id, versionId) {
      const version = /^\d+$/.test(versionId) ? await store.version('Patient', id, Number(versionId)) : undefined;
      if (!version?.resource) throw notFound(`Patient/${id}/_history/${versionId} is not known`);
      return version.resource;
    },
    search: async (context) => searchBundle(await source(), context, registry),
    searchAll,
    assignId: (resource) => {
      const patientId = patientIdOf(resource, config.patientIdSystem);
      return patientId ? orthancPatientId(patientId) : 'invalid';
    },
    // A generated text is not stored (narrative.ts): it is made again from the Patient as served.
    async create(sent, context) {
      const resource = withoutGeneratedText(sent);
      const id = identity(resource);
      if (context.ifNoneExist !== undefined) {
        const existing = await existingMatch('Patient', context.ifNoneExist, (query, limit) => searchAll(query, context, limit));
        if (existing) return { status: 200, resource: existing };
      }
      // The id follows from the PatientID: a second create for a known
      // PatientID updates that Patient rather than making a twin.
      return write(id, resource, context);
    },
    async update(id, sent, context) {
      const resource = withoutGeneratedText(sent);
      if (resource.id !== id) throw badRequest(`The body's id (${resource.id ?? 'none'}) must be the URL's id (${id})`, ['Patient.id']);
      const derived = identity(resource);
      if (derived !== id) {
        throw unprocessable(
          `Patient/${id} is the patient of another PatientID: the PatientID given (${patientIdOf(resource, config.patientIdSystem)}) is that of Patient/${derived}`,
          ['Patient.identifier'],
        );
      }
      return write(id, resource, context);
    },
  };
}
