// What a resource module declares: its interactions and search parameters.
// That one declaration drives the router's checks (an unsupported
// interaction is a 405, an unknown parameter a 400) and the
// CapabilityStatement.
import type { Access } from '../fhir/access';
import type { Bundle, Resource } from '../fhir/types';

/**
 * What a resource module is told of a request: never HTTP. The router reads
 * the headers (If-Match, If-None-Exist, Prefer) and hands them over typed.
 */
export interface InteractionContext {
  /** Public base URL of the FHIR service, without trailing slash. */
  baseUrl: string;
  /** Search, history and operation parameters, in order, repeated names kept. */
  query: Array<[string, string]>;
  /** Prefer: handling=lenient: unknown search parameters are ignored with a warning. */
  lenient: boolean;
  /** If-Match: the version the write expects to replace. */
  ifMatch?: string;
  /** If-None-Exist: the search that must find nothing for a create to go ahead. */
  ifNoneExist?: Array<[string, string]>;
  /** The id a create must use: a transaction assigned it to resolve urn:uuid references. */
  assignedId?: string;
  /** Parsed JSON body, for operations. */
  body?: unknown;
  /** The FHIR version the client speaks ('4.0' or '5.0'); resource modules always answer R5, the edge converts. */
  fhirVersion?: string;
  /**
   * What the client's credentials allow (authorization on). The router
   * enforces it; a module only records it where it acts later on the
   * client's behalf (a Subscription's notifications carry what it may read).
   */
  access?: Access;
}

/** What an interaction answers: a status, maybe a resource, and its version headers (ETag, Location...). */
export interface InteractionResult {
  status: number;
  resource?: Resource;
  headers?: Record<string, string>;
}

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
  read?(id: string, context: InteractionContext): Promise<Resource>;
  vread?(id: string, versionId: string, context: InteractionContext): Promise<Resource>;
  search?(context: InteractionContext): Promise<Bundle>;
  /** The id a create of `resource` will get (a transaction resolves urn:uuid references with it). */
  assignId?(resource: Resource): string;
  /** POST [type]; ifNoneExist makes it conditional; assignedId, when set, is the id to use. */
  create?(resource: Resource, context: InteractionContext): Promise<InteractionResult>;
  /** PUT [type]/[id]; ifMatch makes it conditional; an unknown id is created. */
  update?(id: string, resource: Resource, context: InteractionContext): Promise<InteractionResult>;
  delete?(id: string, context: InteractionContext): Promise<InteractionResult>;
  /** [type]/[id]/_history, or [type]/_history when id is undefined. */
  history?(id: string | undefined, context: InteractionContext): Promise<Bundle>;
  /**
   * The first `limit` matches of `query` (at most the type's MaxCount):
   * what another type's _revinclude and a conditional write need.
   */
  searchAll?(query: Array<[string, string]>, context: InteractionContext, limit?: number): Promise<Resource[]>;
  /**
   * PUT [type]?[search] (http.html#cond-update): the id the update goes to,
   * decided inside the caller's transaction, the condition locked; 412 when
   * several match, 400 when the body's id is not the match's, 409 when no
   * resource matches and the body's id names another one.
   */
  conditionalTarget?(resource: Resource, condition: Array<[string, string]>, context: InteractionContext): Promise<string>;
  /** PUT [type]?[search]: the update of conditionalTarget's id, atomically. */
  conditionalUpdate?(resource: Resource, condition: Array<[string, string]>, context: InteractionContext): Promise<InteractionResult>;
  /** DELETE [type]?[search]: deletes the one match (none: nothing to do), 412 when several match. */
  conditionalDelete?(condition: Array<[string, string]>, context: InteractionContext): Promise<InteractionResult>;
  /** Operations on an instance ([type]/[id]/$name), e.g. Patient/$everything. */
  readonly operations?: readonly InstanceOperation[];
  /** Readable with the administrator scope only (the audit trail), whatever the token's resource scopes. */
  readonly adminOnly?: boolean;
}

/** An operation on one resource ([type]/[id]/$name). */
export interface InstanceOperation {
  readonly name: string;
  /** The official OperationDefinition it implements. */
  readonly definition: string;
  readonly documentation?: string;
  /** The types it answers, filtered by `_type` (so that a token is asked only for those it may search). */
  readonly types?: readonly string[];
  invoke(id: string, context: InteractionContext): Promise<{ status: number; resource?: Resource }>;
}

/** An operation on the whole server ([base]/$name). */
export interface SystemOperation {
  readonly name: string;
  readonly methods: readonly ('GET' | 'POST')[];
  readonly documentation?: string;
  /** The official OperationDefinition it implements, if any. */
  readonly definition?: string;
  invoke(context: InteractionContext): Promise<{ status: number; resource?: Resource }>;
}
