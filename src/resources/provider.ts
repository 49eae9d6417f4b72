// What a resource module declares: its interactions and search parameters.
// That one declaration drives the router's checks (an unsupported
// interaction is a 405, an unknown parameter a 400) and the
// CapabilityStatement.
import type { Bundle, Resource } from '../fhir/types';
import type { FhirRequest, FhirResponse } from '../interactions/request';

export type TypeInteraction =
  | 'read'
  | 'vread'
  | 'update'
  | 'delete'
  | 'history-instance'
  | 'history-type'
  | 'create'
  | 'search-type';

export type SearchParamType = 'number' | 'date' | 'string' | 'token' | 'reference' | 'composite' | 'quantity' | 'uri' | 'special';

export interface SearchParamDeclaration {
  name: string;
  type: SearchParamType;
  /** Canonical URL of the official SearchParameter, when there is one. */
  definition?: string;
  documentation?: string;
}

export interface ResourceProvider {
  readonly type: string;
  readonly interactions: readonly TypeInteraction[];
  readonly searchParams: readonly SearchParamDeclaration[];
  readonly searchInclude?: readonly string[];
  readonly searchRevInclude?: readonly string[];
  readonly documentation?: string;
  read?(id: string, request: FhirRequest): Promise<Resource>;
  vread?(id: string, versionId: string, request: FhirRequest): Promise<Resource>;
  search?(request: FhirRequest): Promise<Bundle>;
  /** The id a create of `resource` will get (a transaction resolves urn:uuid references with it). */
  assignId?(resource: Resource): string;
  /** POST [type]; If-None-Exist makes it conditional; request.assignedId, when set, is the id to use. */
  create?(resource: Resource, request: FhirRequest): Promise<FhirResponse>;
  /** PUT [type]/[id]; If-Match makes it conditional; an unknown id is created. */
  update?(id: string, resource: Resource, request: FhirRequest): Promise<FhirResponse>;
  delete?(id: string, request: FhirRequest): Promise<FhirResponse>;
  /** [type]/[id]/_history, or [type]/_history when id is undefined. */
  history?(id: string | undefined, request: FhirRequest): Promise<Bundle>;
  /**
   * Every match of `query`, unpaged (capped at the type's MaxCount): what
   * another type's _revinclude needs.
   */
  searchAll?(query: Array<[string, string]>, request: FhirRequest): Promise<Resource[]>;
}

/** An operation on the whole server ([base]/$name). */
export interface SystemOperation {
  readonly name: string;
  readonly methods: readonly ('GET' | 'POST')[];
  readonly documentation?: string;
  invoke(request: FhirRequest): Promise<{ status: number; resource?: Resource }>;
}
