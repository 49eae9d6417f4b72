// The plain request and response the FHIR layer works with: it never sees
// HTTP, Orthanc or the native binding.
import type { InteractionResult } from '../resources/provider';
import type { Access } from '../fhir/access';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface FhirRequest {
  method: Method;
  /** Decoded path segments after the base, e.g. ['Patient', '123']. */
  path: string[];
  /** Search and operation parameters, in order, repeated names kept. */
  query: Array<[string, string]>;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  /** Parsed JSON body of POST and PUT. */
  body?: unknown;
  /** Public base URL of the FHIR service, without trailing slash. */
  baseUrl: string;
  /** The id a create must use: a transaction assigned it to resolve urn:uuid references. */
  assignedId?: string;
  /** The FHIR version the client asked for ('4.0', '5.0'); the router answers R5 whatever it is, the edge converts. */
  fhirVersion?: string;
  /** What the client's credentials allow (authorization on); undefined: no checks (authorization off). */
  access?: Access;
}

export type FhirResponse = InteractionResult;

/** What serves a FhirRequest: the router, or a view of it in another FHIR version. */
export interface RequestHandler {
  handle(request: FhirRequest): Promise<FhirResponse>;
}
