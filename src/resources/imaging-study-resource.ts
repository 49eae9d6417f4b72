// ImagingStudy: read and search over Orthanc's studies, mapped on the fly.
// ImagingStudy.id is Orthanc's study id. A read costs three index calls and
// one DICOM file per series (cached), never a call per instance.
import type { FhirConfig } from '../config';
import { notFound } from '../fhir/outcome';
import type { Resource } from '../fhir/types';
import type { FhirRequest } from '../interactions/request';
import type { DicomIndex, StudyDetails } from '../orthanc/dicom-index';
import { defineSearch, searchParamDeclarations, type SearchRequest } from '../search';
import type { DicomWebEndpoints } from './endpoint-resource';
import { mapImagingStudy, tagString, type ImagingStudyMapOptions, type OrthancSeries, type OrthancStudy } from './imaging';
import { planStudySearch, type StudySearchPlan } from './imaging-study-query';
import { orderOfStudy } from './orders';
import type { ResourceProvider } from './provider';
import type { ResourceRegistry } from './registry';
import { searchAllOf, searchBundle, type SearchSource } from './search-flow';

function intersect(sets: string[][]): Set<string> | undefined {
  let result: Set<string> | undefined;
  for (const set of sets) {
    const next = new Set(set);
    result = result ? new Set([...result].filter((id) => next.has(id))) : next;
  }
  return result;
}

/** Instances of a series share the SOP class of the instance read from its file (1.10.1 indexes none). */
function sopClassUids(details: StudyDetails): Record<string, string> {
  const classes: Record<string, string> = {};
  for (const series of details.series) {
    const sopClass = tagString(details.seriesTags[series.ID], 'SOPClassUID');
    if (sopClass) for (const instance of series.Instances) classes[instance] = sopClass;
  }
  return classes;
}

export function createImagingStudyResource(
  index: DicomIndex,
  endpoints: DicomWebEndpoints,
  registry: ResourceRegistry,
  config: FhirConfig,
  /** The orders known to this server: a study of one points at it literally. */
  orders: () => Promise<Resource[]>,
): ResourceProvider {
  const definition = defineSearch({
    resourceType: 'ImagingStudy',
    params: ['_id', 'identifier', 'patient', 'subject', 'started', 'modality', 'series', 'instance', 'dicom-class',
      'status', 'endpoint', 'referrer', 'based-on'],
    include: ['ImagingStudy:subject', 'ImagingStudy:endpoint'],
    defaultCount: config.defaultCount,
    maxCount: config.maxCount,
  });

  async function mapOptions(): Promise<ImagingStudyMapOptions> {
    const requests = await orders();
    return {
      serviceRequestReference: (accession, study) => {
        const order = orderOfStudy(requests, tagString(study.MainDicomTags, 'StudyInstanceUID'), accession?.value);
        return order ? { reference: `ServiceRequest/${order.id}` } : undefined;
      },
      endpoints: await endpoints.references(),
      defaultTimezoneOffset: config.defaultTimezoneOffset,
      accessionNumberSystem: config.accessionNumberSystem,
    };
  }

  async function full(study: OrthancStudy, options: ImagingStudyMapOptions): Promise<Resource | undefined> {
    const [details, studyTags] = await Promise.all([index.studyDetails(study), index.studyFileTags(study)]);
    if (!details) return undefined; // deleted meanwhile
    return mapImagingStudy({ ...details, studyTags, sopClassUids: sopClassUids(details) }, options);
  }

  /** What a search matches on: the study, plus only the facts its filters read. */
  async function summary(study: OrthancStudy, plan: StudySearchPlan, options: ImagingStudyMapOptions) {
    if (plan.needs.instances) return full(study, options);
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

  const source = (): SearchSource => {
    const found = new Map<string, OrthancStudy>();
    let options: ImagingStudyMapOptions = {};
    return {
      definition,
      async candidates(search: SearchRequest) {
        const plan = planStudySearch(search);
        options = await mapOptions();
        const allowed = await allowedStudies(plan);
        const studies = allowed
          ? (await Promise.all([...allowed].map((id) => index.study(id)))).filter((s): s is OrthancStudy => s !== undefined)
          : await index.find<OrthancStudy>('Study', plan.query);
        for (const study of studies) found.set(study.ID, study);
        const resources = await Promise.all(studies.map((study) => summary(study, plan, options)));
        return { resources: resources.filter((r): r is Resource => r !== undefined), remaining: plan.remaining };
      },
      async complete(page) {
        const completed = await Promise.all(page.map((summary) => full(found.get(summary.id!)!, options)));
        return completed.filter((r): r is Resource => r !== undefined);
      },
    };
  };

  return {
    type: 'ImagingStudy',
    interactions: ['read', 'search-type'],
    searchParams: searchParamDeclarations(definition),
    searchInclude: definition.include,
    documentation: "Orthanc's studies; ImagingStudy.id is Orthanc's study id",
    async read(id: string) {
      const study = await index.study(id);
      const resource = study ? await full(study, await mapOptions()) : undefined;
      if (!resource) throw notFound(`ImagingStudy/${id} is not known`);
      return resource;
    },
    search: (request: FhirRequest) => searchBundle(source(), request, registry),
    searchAll: (query, request) => searchAllOf(source(), query, request),
  };
}

