// Patient/[id]/$everything (R5 patient-operation-everything): the part of
// the Patient compartment this server holds — the Patient, its
// ImagingStudies, ServiceRequests and Tasks, and the Endpoint its studies
// lead to — as one searchset, paged. Each type is a search of its own
// module ('patient=Patient/id'), counted in the index, so a page costs its
// own resources plus one count per type, whatever the patient's history.
import type { FhirConfig } from '../config';
import { badRequest } from '../fhir/outcome';
import type { Bundle, BundleEntry, BundleLink, Resource } from '../fhir/types';
import { DICOMWEB_ENDPOINT_ID } from './imaging';
import type { InstanceOperation, InteractionContext } from './provider';
import type { ResourceRegistry } from './registry';

/** The compartment's types, in the order the Bundle lists them. */
const COMPARTMENT = ['Patient', 'ImagingStudy', 'ServiceRequest', 'Task', 'Endpoint'] as const;
type CompartmentType = (typeof COMPARTMENT)[number];
/** The types found by a search on their 'patient' parameter. */
const BY_PATIENT: readonly CompartmentType[] = ['ImagingStudy', 'ServiceRequest', 'Task'];

interface EverythingQuery {
  types: readonly CompartmentType[];
  since?: string;
  count: number;
  offset: number;
}

function parseQuery(query: ReadonlyArray<[string, string]>, config: FhirConfig): EverythingQuery {
  let types: readonly CompartmentType[] = COMPARTMENT;
  let since: string | undefined;
  let count = config.defaultCount;
  let offset = 0;
  const integer = (name: string, value: string) => {
    if (!/^\d{1,9}$/.test(value)) throw badRequest(`${name} must be a non-negative integer (got '${value}')`, [name]);
    return Number(value);
  };
  for (const [name, value] of query) {
    switch (name) {
      case '_type': {
        const asked = value.split(',').map((t) => t.trim()).filter((t) => t !== '');
        const unknown = asked.filter((t) => !(COMPARTMENT as readonly string[]).includes(t));
        if (unknown.length > 0) throw badRequest(`_type: ${unknown.join(', ')} is not in the Patient compartment this server holds`, ['_type']);
        types = COMPARTMENT.filter((t) => asked.includes(t));
        break;
      }
      case '_since':
        if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(value) || Number.isNaN(Date.parse(value))) {
          throw badRequest(`_since must be an instant (got '${value}')`, ['_since']);
        }
        since = value;
        break;
      case '_count':
        count = Math.min(integer(name, value), config.maxCount);
        break;
      case '_offset':
        offset = integer(name, value);
        break;
      default:
        throw badRequest(`$everything: parameter '${name}' is not supported (use _type, _since, _count)`, [name]);
    }
  }
  return since === undefined ? { types, count, offset } : { types, since, count, offset };
}

function bundleUrl(baseUrl: string, id: string, query: EverythingQuery, offset: number): string {
  const params = new URLSearchParams();
  if (query.types.length !== COMPARTMENT.length) params.set('_type', query.types.join(','));
  if (query.since !== undefined) params.set('_since', query.since);
  params.set('_count', String(query.count));
  if (offset > 0) params.set('_offset', String(offset));
  return `${baseUrl}/Patient/${id}/$everything?${params}`;
}

export function patientEverything(registry: ResourceRegistry, config: FhirConfig): InstanceOperation {
  /** The matches of one type's search, for the page's slice of it. */
  async function page(type: CompartmentType, filters: Array<[string, string]>, offset: number, count: number, context: InteractionContext) {
    const provider = registry.get(type);
    if (!provider?.search) return { total: 0, resources: [] as Resource[] };
    const query: Array<[string, string]> = [...filters, ['_total', 'accurate'], ['_count', String(count)], ['_offset', String(offset)]];
    const bundle = await provider.search({ ...context, query, lenient: false });
    const resources = (bundle.entry ?? []).filter((e) => e.search?.mode === 'match' && e.resource).map((e) => e.resource!);
    return { total: bundle.total ?? resources.length, resources };
  }

  return {
    name: 'everything',
    types: COMPARTMENT,
    definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything',
    documentation: 'The Patient, its ImagingStudies, ServiceRequests and Tasks, and the DICOMweb Endpoint of its studies; _type, _since, _count and paging',
    async invoke(id, context) {
      const query = parseQuery(context.query, config);
      const patients = registry.get('Patient')!;
      const patient = await patients.read!(id, context); // 404 for an unknown patient
      const sinceFilter: Array<[string, string]> = query.since !== undefined ? [['_lastUpdated', `ge${query.since}`]] : [];
      const updatedSince = (resource: Resource) =>
        query.since === undefined || (resource.meta?.lastUpdated !== undefined && Date.parse(resource.meta.lastUpdated) >= Date.parse(query.since));

      // Each type's share of the whole list, counted first: the page is then cut across types.
      const byPatient = (since: boolean): Array<[string, string]> =>
        [['patient', `Patient/${id}`], ...(since ? sinceFilter : [])];
      const totals = new Map<CompartmentType, number>();
      for (const type of query.types.filter((t) => BY_PATIENT.includes(t))) {
        totals.set(type, (await page(type, byPatient(true), 0, 0, context)).total);
      }
      // The Endpoint belongs to the compartment when the patient has studies (it is theirs).
      const studies = !query.types.includes('Endpoint') ? 0
        : query.since === undefined && totals.has('ImagingStudy') ? totals.get('ImagingStudy')!
          : (await page('ImagingStudy', byPatient(false), 0, 0, context)).total;
      const endpoint = query.types.includes('Endpoint') && studies > 0
        ? (await registry.readAll([{ type: 'Endpoint', id: DICOMWEB_ENDPOINT_ID }], context)).find(updatedSince)
        : undefined;
      if (query.types.includes('Patient')) totals.set('Patient', updatedSince(patient) ? 1 : 0);
      if (query.types.includes('Endpoint')) totals.set('Endpoint', endpoint ? 1 : 0);

      const entries: BundleEntry[] = [];
      let skip = query.offset;
      let room = query.count;
      for (const type of query.types) {
        const total = totals.get(type) ?? 0;
        if (skip >= total) {
          skip -= total;
          continue;
        }
        if (room === 0) break;
        let resources: Resource[];
        if (type === 'Patient') resources = [patient];
        else if (type === 'Endpoint') resources = endpoint ? [endpoint] : [];
        else resources = (await page(type, byPatient(true), skip, Math.min(room, total - skip), context)).resources;
        const slice = type === 'Patient' || type === 'Endpoint' ? resources.slice(skip, skip + room) : resources;
        for (const resource of slice) {
          entries.push({ fullUrl: `${context.baseUrl}/${resource.resourceType}/${resource.id}`, resource, search: { mode: 'match' } });
        }
        room -= slice.length;
        skip = 0;
      }

      const total = [...totals.values()].reduce((a, b) => a + b, 0);
      const link: BundleLink[] = [{ relation: 'self', url: bundleUrl(context.baseUrl, id, query, query.offset) }];
      if (query.count > 0) {
        link.push({ relation: 'first', url: bundleUrl(context.baseUrl, id, query, 0) });
        if (query.offset > 0) link.push({ relation: 'previous', url: bundleUrl(context.baseUrl, id, query, Math.max(0, query.offset - query.count)) });
        if (query.offset + query.count < total) link.push({ relation: 'next', url: bundleUrl(context.baseUrl, id, query, query.offset + query.count) });
      }
      const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', total, link };
      if (entries.length > 0) bundle.entry = entries;
      return { status: 200, resource: bundle };
    },
  };
}
