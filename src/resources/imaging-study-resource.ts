// ImagingStudy: read and search over Orthanc's studies, mapped on the fly.
// ImagingStudy.id is Orthanc's study id. A read costs three index calls and
// one DICOM file per series (cached), never a call per instance. Searches
// run on the imaging index (imaging-index.ts) once it is built; until then,
// and if it cannot be brought up to date, they take the live path, which
// asks Orthanc's own index (slow on a large Orthanc, but correct).
// Its narrative is made here, where the Orthanc study is at hand: the
// patient's name and MRN come from its patient tags (the resource holds
// only a reference to the Patient), at no extra call.
import type { FhirConfig } from '../config';
import { notFound } from '../fhir/outcome';
import type { Resource } from '../fhir/types';
import type { OrthancSeries } from '../orthanc/dicom-index';
import { defineSearch, runSearch, searchParamDeclarations, type SearchFilter, type SearchRequest, type TokenValue } from '../search';
import type { Store } from '../store/store';
import { mapImagingStudy, type ImagingStudyMapOptions, type OrthancStudy } from './imaging';
import type { ImagingIndex } from './imaging-index';
import type { ImagingReader } from './imaging-reader';
import { planStudySearch, widenUidForms, type StudySearchPlan } from './imaging-study-query';
import { accessionNumber, studyInstanceUid } from './orders';
import type { InteractionContext, ResourceProvider } from './provider';
import type { ResourceRegistry } from './registry';
import { SEARCH_DECLARATIONS } from './search-declarations';
import { refuseJoinsWhileBuilding, searchAllOf, searchBundle, type SearchSource } from './search-flow';
import { SEARCH_CATALOG } from './search-catalog';

function intersect(sets: string[][]): Set<string> | undefined {
  let result: Set<string> | undefined;
  for (const set of sets) {
    const next = new Set(set);
    result = result ? new Set([...result].filter((id) => next.has(id))) : next;
  }
  return result;
}

export interface ImagingStudyDeps {
  reader: ImagingReader;
  imagingIndex: ImagingIndex;
  store: Store;
  registry: ResourceRegistry;
  config: FhirConfig;
}

export function createImagingStudyResource({ reader, imagingIndex, store, registry, config }: ImagingStudyDeps): ResourceProvider {
  const { index } = reader;
  const definition = defineSearch({
    resourceType: 'ImagingStudy',
    ...SEARCH_DECLARATIONS.ImagingStudy,
    defaultCount: config.defaultCount,
    maxCount: config.maxCount,
  });
  const identifierParam = definition.params.get('identifier')!;

  /**
   * based-on=ServiceRequest/x: the index holds the order a study had when it
   * was indexed, which a later order changes. The order's own study UID and
   * accession number find its studies whatever the index holds; the
   * re-check keeps those whose order it is.
   */
  async function basedOnAsIdentifier(filter: SearchFilter): Promise<SearchFilter> {
    if (filter.param.code !== 'based-on' || filter.kind !== 'reference') return filter;
    const values: TokenValue[] = [];
    for (const value of filter.values) {
      if (value.id === undefined || (value.type !== undefined && value.type !== 'ServiceRequest')) continue;
      const order = (await store.current('ServiceRequest', value.id))?.resource;
      const uid = order && studyInstanceUid(order);
      const accession = order && accessionNumber(order);
      if (uid) values.push({ system: 'urn:dicom:uid', code: `urn:oid:${uid}` });
      if (accession) values.push({ code: accession });
    }
    return { kind: 'token', param: identifierParam, name: filter.name, rawValue: filter.rawValue, not: false, values };
  }

  const indexed: SearchSource = {
    definition,
    recheck: true,
    normalize: widenUidForms,
    async find(search) {
      const filters = await Promise.all(search.filters.map(basedOnAsIdentifier));
      return store.search({ ...search, filters });
    },
    async load(ids) {
      const studies = await Promise.all(ids.map((id) => reader.study(id)));
      return studies.filter((r): r is Resource => r !== undefined);
    },
  };

  // --- the live path, before the index is built -------------------------

  /** What a search matches on: the study, plus only the facts its filters read. */
  async function summary(study: OrthancStudy, plan: StudySearchPlan, options: ImagingStudyMapOptions) {
    if (plan.needs.instances) return reader.fullStudy(study, options);
    const [series, studyTags] = await Promise.all([
      plan.needs.series ? index.studySeries(study.ID) : [],
      plan.needs.studyTags ? index.studyFileTags(study) : undefined,
    ]);
    return mapImagingStudy({ study, series, studyTags }, options);
  }

  /** Study ids that the exact lookups below the study level allow; undefined: no restriction. */
  async function allowedStudies(plan: StudySearchPlan): Promise<Set<string> | undefined> {
    const parentsOfSeries = (series: OrthancSeries[]) => series.map((one) => one.ParentStudy);
    const lists: string[][] = [...plan.studyIds];
    for (const ids of plan.patientIds) {
      const patients = await Promise.all(ids.map((id) => index.patient(id)));
      lists.push(patients.flatMap((patient) => patient?.Studies ?? []));
    }
    for (const codes of plan.modalities) {
      // Series level, not ModalitiesInStudy: Orthanc 1.10.1 loses one of two
      // studies that share a StudyInstanceUID under different patients there.
      const series = await Promise.all(codes.map((code) => index.find<OrthancSeries>('Series', { Modality: code })));
      lists.push(parentsOfSeries(series.flat()));
    }
    for (const uids of plan.seriesUids) {
      const series = await Promise.all(uids.map((uid) => index.find<OrthancSeries>('Series', { SeriesInstanceUID: uid })));
      lists.push(parentsOfSeries(series.flat()));
    }
    for (const [uids, tag] of [
      ...plan.instanceUids.map((u) => [u, 'SOPInstanceUID'] as const),
      ...plan.sopClassUids.map((u) => [u, 'SOPClassUID'] as const),
    ]) {
      const instances = (await Promise.all(uids.map((uid) => index.find<{ ParentSeries: string }>('Instance', { [tag]: uid })))).flat();
      const seriesIds = [...new Set(instances.map((instance) => instance.ParentSeries))];
      const series = await Promise.all(seriesIds.map((id) => index.series(id)));
      lists.push(parentsOfSeries(series.filter((s): s is OrthancSeries => s !== undefined)));
    }
    return intersect(lists);
  }

  /** Matched in memory over what Orthanc's /tools/find narrows to; the page's resources are kept for load(). */
  const live = (): SearchSource => {
    let page: Resource[] = [];
    return {
      definition,
      async find(search: SearchRequest) {
        refuseJoinsWhileBuilding(search);
        const plan = planStudySearch(search);
        const allowed = await allowedStudies(plan);
        const studies = allowed
          ? (await Promise.all([...allowed].map((id) => index.study(id)))).filter((s): s is OrthancStudy => s !== undefined)
          : await index.find<OrthancStudy>('Study', plan.query);
        const byId = new Map(studies.map((study) => [study.ID, study]));
        const options = new Map(await Promise.all(studies.map(async (study) => [study.ID, await reader.studyOptions(study)] as const)));
        const summaries = await Promise.all(studies.map((study) => summary(study, plan, options.get(study.ID)!)));
        const result = runSearch(summaries.filter((r): r is Resource => r !== undefined), plan.remaining);
        const completed = await Promise.all(result.page.map(async (r) => {
          const study = byId.get(r.id!)!;
          return reader.fullStudy(study, options.get(study.ID));
        }));
        page = completed.filter((r): r is Resource => r !== undefined);
        return { ids: page.map((r) => r.id!), more: search.offset + result.page.length < result.total, total: result.total };
      },
      load: async () => page,
    };
  };

  const source = async (): Promise<SearchSource> => ((await imagingIndex.current()) ? indexed : live());

  return {
    type: 'ImagingStudy',
    interactions: ['read', 'search-type'],
    searchParams: searchParamDeclarations(definition),
    searchInclude: definition.include,
    searchRevInclude: SEARCH_CATALOG.revIncludesOf('ImagingStudy'),
    documentation: "Orthanc's studies; ImagingStudy.id is Orthanc's study id",
    async read(id: string) {
      const resource = await reader.study(id);
      if (!resource) throw notFound(`ImagingStudy/${id} is not known`);
      return resource;
    },
    search: async (context: InteractionContext) => searchBundle(await source(), context, registry),
    searchAll: async (query, context, limit) => searchAllOf(await source(), query, context, limit),
  };
}
