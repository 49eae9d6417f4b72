// Maps a FHIR REST URL (R5 http.html) to an interaction and calls the
// resource module that declares it. Errors are thrown as
// OperationOutcomeError; the HTTP layer maps them to statuses.
import { methodNotAllowed, notFound } from '../fhir/outcome';
import type { Resource } from '../fhir/types';
import type { ResourceProvider, SystemOperation, TypeInteraction } from '../resources/provider';
import { buildCapabilityStatement, type ServerDescription } from './capability';
import type { FhirRequest, FhirResponse, Method } from './request';

const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

export class Router {
  private readonly providers = new Map<string, ResourceProvider>();
  private readonly operations = new Map<string, SystemOperation>();
  /** The CapabilityStatement never changes for a base URL: built once. */
  private readonly capabilities = new Map<string, Resource>();

  constructor(
    providers: readonly ResourceProvider[],
    operations: readonly SystemOperation[],
    private readonly server: ServerDescription,
  ) {
    for (const provider of providers) this.providers.set(provider.type, provider);
    for (const operation of operations) this.operations.set(operation.name, operation);
  }

  async handle(request: FhirRequest): Promise<FhirResponse> {
    const [first, second, third, ...rest] = request.path;
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
    if (!ID_PATTERN.test(second)) {
      throw notFound(`'${second}' is not a valid resource id`);
    }
    if (third === undefined) {
      return this.instanceLevel(provider, second, request);
    }
    throw notFound(`Unknown URL: ${request.path.join('/')}`);
  }

  capabilityStatement(baseUrl: string): Resource {
    let statement = this.capabilities.get(baseUrl);
    if (statement === undefined) {
      statement = buildCapabilityStatement([...this.providers.values()], [...this.operations.values()], this.server, baseUrl);
      if (this.capabilities.size < 16) this.capabilities.set(baseUrl, statement); // bounded: Host comes from clients
    }
    return statement;
  }

  private base(request: FhirRequest): FhirResponse {
    this.allow(request.method, []);
    throw notFound('No interaction is served at the base URL; see the CapabilityStatement at metadata');
  }

  private async systemOperation(name: string, request: FhirRequest): Promise<FhirResponse> {
    const operation = this.operations.get(name);
    if (operation === undefined) {
      throw notFound(`Operation $${name} is not supported`);
    }
    this.allow(request.method, operation.methods);
    return operation.invoke(request);
  }

  private async typeLevel(provider: ResourceProvider, request: FhirRequest): Promise<FhirResponse> {
    const allowed = this.methodsFor(provider, { GET: 'search-type', POST: 'create' });
    this.allow(request.method, allowed);
    return this.search(provider, request);
  }

  private async search(provider: ResourceProvider, request: FhirRequest): Promise<FhirResponse> {
    if (!provider.search || !provider.interactions.includes('search-type')) {
      throw methodNotAllowed(`Search of ${provider.type} is not supported`, []);
    }
    return { status: 200, resource: await provider.search(request) };
  }

  private async instanceLevel(provider: ResourceProvider, id: string, request: FhirRequest): Promise<FhirResponse> {
    const allowed = this.methodsFor(provider, { GET: 'read', PUT: 'update', DELETE: 'delete' });
    this.allow(request.method, allowed);
    if (request.method === 'GET' && provider.read) {
      return { status: 200, resource: await provider.read(id, request) };
    }
    throw methodNotAllowed(`${request.method} of ${provider.type}/${id} is not supported`, allowed);
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
