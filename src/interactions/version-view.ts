// FHIR R4 on the same data: a request in R4 is turned into the R5 request
// the router serves (its body validated against the official R4
// definitions, then converted; its search names renamed), and the answer
// converted back (src/fhir/r4). Stores and the worklist only ever see R5;
// search is told the client's version (FhirRequest.fhirVersion) for the one
// case the edge cannot rename: a chain through a reference to several types.
// The narratives made for R5 hold for R4 (the converters keep text), but
// that of the CapabilityStatement, made again of the R4 statement.
import { fromR4, rewriteQueryString, toR4, queryFromR4 } from '../fhir/r4';
import { OperationOutcomeError } from '../fhir/outcome';
import type { OperationOutcome, Resource } from '../fhir/types';
import { withNarrative } from '../resources/narrative';
import { validateR4Resource, type R4ValidatedType } from '../validation';
import type { FhirRequest, FhirResponse, RequestHandler } from './request';
import { R4 } from './versions';

const VALIDATED: readonly string[] = ['Patient', 'ServiceRequest', 'Subscription', 'Task'];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Runs R4 validation of one resource, its issues named after the Bundle entry when it is one. */
function validate(resource: Record<string, unknown>, entry?: number): void {
  const type = resource.resourceType;
  if (typeof type !== 'string' || !VALIDATED.includes(type)) return;
  try {
    validateR4Resource(type as R4ValidatedType, resource);
  } catch (error) {
    if (!(error instanceof OperationOutcomeError) || entry === undefined) throw error;
    const issue = error.outcome.issue.map((i) => ({
      ...i,
      ...(i.expression ? { expression: i.expression.map((e) => `Bundle.entry[${entry}].resource.${e}`) } : {}),
    }));
    // Without the narrative of the issues before they were named (toOutcome makes one of these).
    const { text: _stale, ...named } = error.outcome;
    throw new OperationOutcomeError(error.status, { ...named, issue }, error.headers);
  }
}

/** An R4 body, checked against R4 and converted to R5; a body that is not a resource is left for the router to refuse. */
function bodyFromR4(body: unknown): unknown {
  if (!isObject(body) || typeof body.resourceType !== 'string') return body;
  if (body.resourceType === 'Bundle' && Array.isArray(body.entry)) {
    body.entry.forEach((entry, index) => {
      if (isObject(entry) && isObject(entry.resource)) validate(entry.resource, index);
    });
  } else {
    validate(body);
  }
  return fromR4(body as Resource);
}

/** The R5 request of an R4 one. */
export function requestFromR4(request: FhirRequest): FhirRequest {
  const type = request.path[0];
  const typed = type !== undefined && /^[A-Z][A-Za-z]+$/.test(type);
  const headers = { ...request.headers };
  const condition = headers['if-none-exist'];
  if (typed && condition !== undefined) {
    const question = condition.indexOf('?');
    headers['if-none-exist'] = question < 0 ? rewriteQueryString(type, condition, 'R5')
      : `${condition.slice(0, question)}?${rewriteQueryString(type, condition.slice(question + 1), 'R5')}`;
  }
  return {
    ...request,
    query: typed ? queryFromR4(type, request.query) : request.query,
    headers,
    body: request.body === undefined ? undefined : bodyFromR4(request.body),
  };
}

export class VersionView implements RequestHandler {
  constructor(private readonly router: RequestHandler) {}

  async handle(request: FhirRequest): Promise<FhirResponse> {
    if (request.fhirVersion !== R4.code) return this.router.handle(request);
    let response: FhirResponse;
    try {
      response = await this.router.handle(requestFromR4(request));
    } catch (error) {
      if (error instanceof OperationOutcomeError) throw new OperationOutcomeError(error.status, toR4(error.outcome) as OperationOutcome, error.headers);
      throw error;
    }
    if (response.resource === undefined) return response;
    const resource = toR4(response.resource);
    // Its R5 narrative named version 5.0.0 and the R5-only types: the R4 statement gets one of its own.
    return { ...response, resource: resource.resourceType === 'CapabilityStatement' ? withNarrative(resource) : resource };
  }
}
