// Endpoint: one resource, this Orthanc's DICOMweb service (WADO-RS), present
// only while the DICOMweb plugin is loaded. Its address is the service base
// URL (R5 §10.5.4.2.1): the public base of /fhir, less "/fhir", plus the
// DICOMweb plugin's root.
import type { FhirConfig } from '../config';
import { notFound } from '../fhir/outcome';
import type { Resource } from '../fhir/types';
import type { DicomIndex } from '../orthanc/dicom-index';
import { defineSearch, searchParamDeclarations } from '../search';
import { buildDicomWebEndpoint, dicomWebAddress, DICOMWEB_ENDPOINT_ID, endpointReference } from './imaging';
import type { InteractionContext, ResourceProvider } from './provider';
import type { ResourceRegistry } from './registry';
import { inMemorySource, searchAllOf, searchBundle } from './search-flow';
import { SEARCH_CATALOG } from './search-catalog';

const DICOMWEB_PLUGIN = 'dicom-web';

/** Orthanc's own base: the FHIR base less /fhir (and the version base /R4 or /R5 a client chose). */
export function orthancBaseUrl(fhirBaseUrl: string): string {
  return fhirBaseUrl.replace(/\/fhir(?:\/R[45])?$/, '');
}

export class DicomWebEndpoints {
  /** The Endpoint is made from the configuration and the plugins loaded: it changes only when Orthanc starts. */
  private readonly since = new Date().toISOString();

  constructor(
    private readonly index: DicomIndex,
    private readonly config: FhirConfig,
  ) {}

  async available(): Promise<boolean> {
    return (await this.index.plugins()).includes(DICOMWEB_PLUGIN);
  }

  async endpoint(request: InteractionContext): Promise<Resource | undefined> {
    if (!(await this.available())) return undefined;
    return buildDicomWebEndpoint({ address: dicomWebAddress(orthancBaseUrl(request.baseUrl), this.config.dicomWebRoot), lastUpdated: this.since });
  }

  /** The references ImagingStudy.endpoint carries: the DICOMweb Endpoint, when there is one. */
  async references() {
    return (await this.available()) ? [endpointReference({ id: DICOMWEB_ENDPOINT_ID })] : [];
  }
}

export function createEndpointResource(endpoints: DicomWebEndpoints, registry: ResourceRegistry, config: FhirConfig): ResourceProvider {
  const definition = defineSearch({
    resourceType: 'Endpoint',
    params: ['_id', '_lastUpdated', 'status', 'connection-type', 'name'],
    defaultCount: config.defaultCount,
    maxCount: config.maxCount,
  });
  // One resource at most: matched in memory.
  const source = (context: InteractionContext) => inMemorySource(definition, async () => {
    const endpoint = await endpoints.endpoint(context);
    return endpoint ? [endpoint] : [];
  });
  return {
    type: 'Endpoint',
    interactions: ['read', 'search-type'],
    searchParams: searchParamDeclarations(definition),
    searchInclude: definition.include,
    searchRevInclude: SEARCH_CATALOG.revIncludesOf('Endpoint'),
    documentation: "This Orthanc's DICOMweb (WADO-RS) service, while the DICOMweb plugin is loaded",
    async read(id, request) {
      const endpoint = await endpoints.endpoint(request);
      if (!endpoint || id !== endpoint.id) throw notFound(`Endpoint/${id} is not known`);
      return endpoint;
    },
    search: (request) => searchBundle(source(request), request, registry),
    searchAll: (query, request, limit) => searchAllOf(source(request), query, request, limit),
  };
}
