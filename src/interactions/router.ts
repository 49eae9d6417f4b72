// Maps a FHIR REST URL (R5 http.html) to an interaction and calls the
// resource module that declares it. Errors are thrown as
// OperationOutcomeError; the HTTP layer maps them to statuses. Version
// headers, Prefer: return=... and the generated narratives of what is
// answered are applied here, once for every type.
import { badRequest, methodNotAllowed, notFound, OperationOutcomeError, outcome } from '../fhir/outcome';
import type { Bundle, Resource } from '../fhir/types';
import { preferLenient, readSubset, subset } from '../search';
import type { InteractionContext, ResourceProvider, SystemOperation, TypeInteraction } from '../resources/provider';
import { withNarrative, withNarratives } from '../resources/narrative';
import type { Reach } from '../fhir/access';
import { AccessGuard } from './access-guard';
import { buildCapabilityStatement, type ServerDescription } from './capability';
import type { FhirRequest, FhirResponse, Method } from './request';

const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

export interface BundleProcessor {
  process(bundle: unknown, request: FhirRequest): Promise<FhirResponse>;
}

/** System operations any client may call, authorized or not. */
const PUBLIC_OPERATIONS: ReadonlySet<string> = new Set(['versions']);

/** What `read` finds: the resource, or none (404), or none because it was deleted (410). */
async function stateOf(read: () => Promise<Resource>): Promise<{ resource?: Resource; deleted: boolean }> {
  try {
    return { resource: await read(), deleted: false };
  } catch (error) {
    if (error instanceof OperationOutcomeError && (error.status === 404 || error.status === 410)) return { deleted: error.status === 410 };
    throw error;
  }
}

/** The resource of `read`, or undefined when it does not exist (404) or was deleted (410). */
async function existing(read: () => Promise<Resource>): Promise<Resource | undefined> {
  return (await stateOf(read)).resource;
}

/**
 * A read under a patient context: a deleted resource answers 404 like one
 * that never existed (its 410 would tell that it did, of whichever patient).
 */
async function hidden(guard: AccessGuard | undefined, found: Reach | undefined, what: string, read: () => Promise<Resource>): Promise<Resource> {
  try {
    return await read();
  } catch (error) {
    if (guard && found === 'compartment' && error instanceof OperationOutcomeError && error.status === 410) throw notFound(`${what} is not known`);
    throw error;
  }
}

/** W/"3" or "3" -> "3"; undefined for a missing header. */
export function versionOfETag(etag: string | undefined): string | undefined {
  if (etag === undefined) return undefined;
  const match = /^\s*(?:W\/)?"([^"]*)"\s*$/.exec(etag);
  if (!match) throw badRequest(`Malformed ETag: ${etag}`);
  return match[1];
}

/** The search an If-None-Exist header asks for ("identifier=x" or "Type?identifier=x"). */
export function conditionQuery(header: string): Array<[string, string]> {
  return [...new URLSearchParams(header.replace(/^[^?]*\?/, ''))];
}

/** What the resource modules are told of a request: its headers read here, once, into typed options. */
export function interactionContext(request: FhirRequest): InteractionContext {
  const context: InteractionContext = {
    baseUrl: request.baseUrl,
    query: request.query,
    lenient: preferLenient(request.headers),
  };
  // The conditions of writes only: a read or a search ignores them, as before.
  if (request.method === 'PUT' || request.method === 'DELETE') {
    const ifMatch = versionOfETag(request.headers['if-match']);
    if (ifMatch !== undefined) context.ifMatch = ifMatch;
  }
  const ifNoneExist = request.headers['if-none-exist'];
  if (ifNoneExist !== undefined && request.method === 'POST') context.ifNoneExist = conditionQuery(ifNoneExist);
  if (request.assignedId !== undefined) context.assignedId = request.assignedId;
  if (request.body !== undefined) context.body = request.body;
  if (request.fhirVersion !== undefined) context.fhirVersion = request.fhirVersion;
  if (request.access !== undefined) context.access = request.access;
  return context;
}

/** The body of a create or update: a JSON object of the URL's type. */
function resourceBody(request: FhirRequest, type: string): Resource {
  const body = request.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest(`The body must be a ${type} resource`);
  }
  const resourceType = (body as { resourceType?: unknown }).resourceType;
  if (resourceType !== type) {
    throw badRequest(`The body is a ${String(resourceType ?? 'resource without resourceType')}, not a ${type}`, ['resourceType']);
  }
  return body as Resource;
}

/** ETag and Last-Modified of a resource answered whole (read, vread). */
function versionHeaders(resource: Resource): Record<string, string> {
  const headers: Record<string, string> = {};
  if (resource.meta?.versionId) headers.etag = `W/"${resource.meta.versionId}"`;
  if (resource.meta?.lastUpdated) headers['last-modified'] = new Date(resource.meta.lastUpdated).toUTCString();
  return headers;
}

/** Prefer: return=minimal | representation | OperationOutcome, for writes. */
function applyPrefer(response: FhirResponse, request: FhirRequest): FhirResponse {
  const prefer = /return=(minimal|representation|OperationOutcome)/.exec(request.headers.prefer ?? '')?.[1];
  if (prefer === 'minimal') return { status: response.status, headers: response.headers };
  if (prefer === 'OperationOutcome' && response.resource) {
    const what = `${response.resource.resourceType}/${response.resource.id ?? ''}`;
    return { ...response, resource: outcome('informational', `${what}: ${response.status === 201 ? 'created' : 'written'}`, { severity: 'information' }) };
  }
  return response;
}

export class Router {
  private readonly providers = new Map<string, ResourceProvider>();
  private readonly operations = new Map<string, SystemOperation>();
  /** The CapabilityStatement never changes for a base URL: built once. */
  private readonly capabilities = new Map<string, Resource>();
  private bundles?: BundleProcessor;

  constructor(
    providers: readonly ResourceProvider[],
    operations: readonly SystemOperation[],
    private readonly server: ServerDescription,
  ) {
    for (const provider of providers) this.providers.set(provider.type, provider);
    for (const operation of operations) this.operations.set(operation.name, operation);
  }

  /** Enables batch and transaction Bundles POSTed to the base. */
  setBundleProcessor(processor: BundleProcessor): void {
    this.bundles = processor;
    this.capabilities.clear();
  }

  /**
   * Every answer's DomainResources carry a narrative (narrative.ts): made
   * here for what the interactions leave without one (vread, history,
   * writes, operations, batch entries). Searches and reads make theirs
   * before _summary / _elements subset them; a subset is left as asked.
   */
  async handle(request: FhirRequest): Promise<FhirResponse> {
    const response = await this.route(request);
    if (response.resource === undefined) return response;
    const resource = withNarratives(response.resource);
    return resource === response.resource ? response : { ...response, resource };
  }

  private async route(request: FhirRequest): Promise<FhirResponse> {
    const [first, second, third, fourth, ...rest] = request.path;
    if (first === undefined) {
      return this.base(request);
    }
    if (first === 'metadata' && second === undefined) {
      this.allow(request.method, ['GET']);
      return { status: 200, resource: this.capabilityStatement(request.baseUrl) };
    }
    if (first.startsWith('$') && second === undefined) {
      return this.systemOperation(first.slice(1), request);
    }
    const provider = this.providers.get(first);
    if (provider === undefined) {
      throw notFound(`Resource type '${first}' is not served by this server`);
    }
    if (provider.adminOnly) this.guardOf(request)?.requireAdmin(`Access to ${provider.type}`);
    if (rest.length > 0) {
      throw notFound(`Unknown URL: ${request.path.join('/')}`);
    }
    if (second === undefined) {
      return this.typeLevel(provider, request);
    }
    if (second === '_search' && third === undefined) {
      this.allow(request.method, ['POST']);
      return this.search(provider, request);
    }
    if (second === '_history' && third === undefined) {
      this.allow(request.method, this.methodsFor(provider, { GET: 'history-type' }));
      const guard = this.guardOf(request);
      // A type's history cannot be narrowed to a patient (its total and paging would tell of everyone's).
      if (guard && guard.need(provider.type, 's') !== 'all') guard.requireAll(`The history of every ${provider.type}`);
      const found = guard?.need(provider.type, 's');
      const history = await provider.history!(undefined, interactionContext(request));
      return { status: 200, resource: guard ? guard.filterBundle(history, provider.type, found!) : history };
    }
    if (!ID_PATTERN.test(second)) {
      throw notFound(`'${second}' is not a valid resource id`);
    }
    if (third === undefined) {
      return this.instanceLevel(provider, second, request);
    }
    if (third.startsWith('$') && fourth === undefined) {
      return this.instanceOperation(provider, second, third.slice(1), request);
    }
    if (third === '_history' && fourth === undefined) {
      this.allow(request.method, this.methodsFor(provider, { GET: 'history-instance' }));
      const guard = this.guardOf(request);
      const found = guard?.need(provider.type, 'r');
      const history = await provider.history!(second, interactionContext(request));
      if (!guard) return { status: 200, resource: history };
      const visible = guard.filterBundle(history, provider.type, found!);
      if (found !== 'all' && !visible.entry) throw notFound(`${provider.type}/${second} is not known`);
      return { status: 200, resource: visible };
    }
    if (third === '_history' && fourth !== undefined) {
      this.allow(request.method, this.methodsFor(provider, { GET: 'vread' }));
      const guard = this.guardOf(request);
      const found = guard?.need(provider.type, 'r');
      const what = `${provider.type}/${second}/_history/${fourth}`;
      const resource = await hidden(guard, found, what, () => provider.vread!(second, fourth, interactionContext(request)));
      guard?.checkRead(resource, found!, what);
      return { status: 200, resource, headers: versionHeaders(resource) };
    }
    throw notFound(`Unknown URL: ${request.path.join('/')}`);
  }

  capabilityStatement(baseUrl: string): Resource {
    let statement = this.capabilities.get(baseUrl);
    if (statement === undefined) {
      // Frozen: shared by every answer, and serialized once (see render.ts); its narrative made once with it.
      statement = Object.freeze(withNarrative(buildCapabilityStatement([...this.providers.values()], [...this.operations.values()], this.server, baseUrl,
        this.bundles ? ['batch', 'transaction'] : [])));
      if (this.capabilities.size < 16) this.capabilities.set(baseUrl, statement); // bounded: Host comes from clients
    }
    return statement;
  }

  private async base(request: FhirRequest): Promise<FhirResponse> {
    this.allow(request.method, this.bundles ? ['POST'] : []);
    return this.bundles!.process(request.body, request);
  }

  private async systemOperation(name: string, request: FhirRequest): Promise<FhirResponse> {
    const operation = this.operations.get(name);
    if (operation === undefined) {
      throw notFound(`Operation $${name} is not supported`);
    }
    this.allow(request.method, operation.methods);
    if (!PUBLIC_OPERATIONS.has(name)) this.guardOf(request)?.requireAdmin(`$${name}`);
    return operation.invoke(interactionContext(request));
  }

  private async typeLevel(provider: ResourceProvider, request: FhirRequest): Promise<FhirResponse> {
    const allowed = this.methodsFor(provider, { GET: 'search-type', POST: 'create' });
    if (provider.conditionalUpdate) allowed.push('PUT');
    if (provider.conditionalDelete) allowed.push('DELETE');
    this.allow(request.method, allowed);
    const guard = this.guardOf(request);
    const type = provider.type;
    switch (request.method) {
      case 'POST': {
        const body = resourceBody(request, type);
        const context = interactionContext(request);
        if (guard) {
          const found = guard.need(type, ...(context.ifNoneExist ? ['c', 's'] as const : ['c'] as const));
          guard.checkWrite(body, found, `The new ${type}`);
          if (context.ifNoneExist) context.ifNoneExist = guard.narrow(type, found, context.ifNoneExist);
        }
        return applyPrefer(await provider.create!(body, context), request);
      }
      case 'PUT': {
        const body = resourceBody(request, type);
        let condition = request.query;
        if (guard) {
          // It creates when nothing matches.
          const found = guard.need(type, 'c', 'u', 's');
          guard.checkWrite(body, found, `The ${type}`);
          condition = guard.narrow(type, found, condition);
        }
        return applyPrefer(await provider.conditionalUpdate!(body, condition, interactionContext(request)), request);
      }
      case 'DELETE':
        return provider.conditionalDelete!(guard ? guard.narrow(type, guard.need(type, 'd', 's'), request.query) : request.query,
          interactionContext(request));
      default:
        return this.search(provider, request);
    }
  }

  private async instanceOperation(provider: ResourceProvider, id: string, name: string, request: FhirRequest): Promise<FhirResponse> {
    const operation = provider.operations?.find((candidate) => candidate.name === name);
    if (operation === undefined) throw notFound(`Operation $${name} is not supported on ${provider.type}`);
    this.allow(request.method, ['GET']);
    const guard = this.guardOf(request);
    if (!guard) return operation.invoke(id, interactionContext(request));
    const found = guard.need(provider.type, 'r');
    guard.checkRead((await existing(() => provider.read!(id, interactionContext(request)))) ?? { resourceType: provider.type, id },
      found, `${provider.type}/${id}`);
    const context = interactionContext(request);
    if (operation.types) context.query = this.typesWithin(guard, operation.types, context.query);
    const result = await operation.invoke(id, context);
    return result.resource?.resourceType === 'Bundle' ? { ...result, resource: guard.filterBundle(result.resource as Bundle, undefined, found) } : result;
  }

  /** An operation's `_type` narrowed to the types the token may search; 403 when none is left. */
  private typesWithin(guard: AccessGuard, types: readonly string[], query: Array<[string, string]>): Array<[string, string]> {
    const asked = query.find(([name]) => name === '_type')?.[1].split(',').map((t) => t.trim()) ?? types;
    // A type the operation does not know is kept, for the operation to refuse.
    const allowed = asked.filter((type) => !types.includes(type) || (!this.providers.get(type)?.adminOnly && guard.may(type, 's')));
    if (allowed.length === 0) guard.need(asked[0] ?? types[0]!, 's');
    return [...query.filter(([name]) => name !== '_type'), ['_type', allowed.join(',')]];
  }

  private async search(provider: ResourceProvider, request: FhirRequest): Promise<FhirResponse> {
    if (!provider.search || !provider.interactions.includes('search-type')) {
      throw methodNotAllowed(`Search of ${provider.type} is not supported`, []);
    }
    const guard = this.guardOf(request);
    if (!guard) return { status: 200, resource: await provider.search(interactionContext(request)) };
    const found: Reach = guard.need(provider.type, 's');
    const bundle = await provider.search(interactionContext({ ...request, query: guard.narrow(provider.type, found, request.query) }));
    return { status: 200, resource: guard.filterBundle(bundle, provider.type, found) };
  }

  private async instanceLevel(provider: ResourceProvider, id: string, request: FhirRequest): Promise<FhirResponse> {
    this.allow(request.method, this.methodsFor(provider, { GET: 'read', PUT: 'update', DELETE: 'delete' }));
    const guard = this.guardOf(request);
    const what = `${provider.type}/${id}`;
    switch (request.method) {
      case 'PUT': {
        const body = resourceBody(request, provider.type);
        if (guard) {
          const found = guard.need(provider.type, 'u');
          guard.checkWrite(body, found, what);
          const { resource: current, deleted } = await stateOf(() => provider.read!(id, interactionContext(request)));
          // An update of an id that holds nothing (new, or deleted) creates.
          if (current === undefined) guard.need(provider.type, 'c');
          if (found !== 'all') {
            if (deleted) guard.requireAll(`Reusing the id of a deleted ${provider.type}`);
            guard.checkWrite(current, found, what);
          }
        }
        return applyPrefer(await provider.update!(id, body, interactionContext(request)), request);
      }
      case 'DELETE':
        if (guard) {
          const found = guard.need(provider.type, 'd');
          if (found !== 'all') guard.checkWrite(await existing(() => provider.read!(id, interactionContext(request))), found, what);
        }
        return provider.delete!(id, interactionContext(request));
      default: {
        const found = guard?.need(provider.type, 'r');
        const resource = await hidden(guard, found, what, () => provider.read!(id, interactionContext(request)));
        guard?.checkRead(resource, found!, what);
        const shape = readSubset(request.query);
        // The narrative first: _summary=text keeps it, _elements without text drops it.
        return { status: 200, resource: shape ? subset(withNarrative(resource), shape) : resource, headers: versionHeaders(resource) };
      }
    }
  }

  /** The checks of a request whose credentials were verified; none when authorization is off. */
  private guardOf(request: FhirRequest): AccessGuard | undefined {
    return request.access ? new AccessGuard(request.access, (type) => this.providers.get(type)?.adminOnly === true) : undefined;
  }

  private methodsFor(provider: ResourceProvider, map: Partial<Record<Method, TypeInteraction>>): Method[] {
    return (Object.keys(map) as Method[]).filter((method) => provider.interactions.includes(map[method]!));
  }

  private allow(method: Method, allowed: readonly Method[]): void {
    if (!allowed.includes(method)) {
      throw methodNotAllowed(`${method} is not supported here`, [...allowed]);
    }
  }
}
