// Batch and transaction Bundles POSTed to the base (R5 http.html#transaction).
// Each entry is replayed through the same router as a plain request. A batch
// answers every entry on its own; a transaction runs all of them in one store
// transaction, resolves urn:uuid references between its entries, and is
// all or nothing: the first failing entry rolls everything back and decides
// the answer.
import { badRequest, OperationOutcomeError, outcome, preconditionFailed, toOutcome } from '../fhir/outcome';
import type { Bundle, BundleEntry, Resource } from '../fhir/types';
import type { ResourceProvider } from '../resources/provider';
import { conditionKey } from '../resources/stored-resource';
import type { Store, StoreWriter } from '../store/store';
import type { FhirRequest, FhirResponse, Method } from './request';
import type { Permission } from '../fhir/access';
import { AccessGuard } from './access-guard';
import { conditionQuery, interactionContext, type BundleProcessor } from './router';

const REASONS: Record<number, string> = {
  200: 'OK', 201: 'Created', 204: 'No Content', 304: 'Not Modified', 400: 'Bad Request', 404: 'Not Found',
  405: 'Method Not Allowed', 409: 'Conflict', 410: 'Gone', 412: 'Precondition Failed', 422: 'Unprocessable Entity',
  500: 'Internal Server Error',
};
/** The order R5 prescribes for processing a transaction's entries. */
const ORDER: Record<Method, number> = { DELETE: 0, POST: 1, PUT: 2, GET: 3 };

interface EntryRequest {
  index: number;
  method: Method;
  url: string;
  fullUrl?: string;
  resource?: Resource;
  headers: Record<string, string>;
}

type Json = Record<string, unknown>;

interface Assignments {
  /** fullUrl (urn:uuid) -> Type/id, for the references between entries. */
  resolved: Map<string, string>;
  /** Entry index -> the id its create uses. */
  assigned: Map<number, string>;
  /** Entry index -> Type/id a conditional update writes. */
  targets: Map<number, string>;
}

function parseEntries(body: unknown): { type: 'batch' | 'transaction'; entries: EntryRequest[] } {
  const bundle = body as Json | undefined;
  if (typeof bundle !== 'object' || bundle === null || bundle.resourceType !== 'Bundle') {
    throw badRequest('POST to the base takes a Bundle of type batch or transaction', ['Bundle']);
  }
  if (bundle.type !== 'batch' && bundle.type !== 'transaction') {
    throw badRequest(`Bundle.type must be batch or transaction, not ${String(bundle.type)}`, ['Bundle.type']);
  }
  const raw = bundle.entry ?? [];
  if (!Array.isArray(raw)) throw badRequest('Bundle.entry must be an array', ['Bundle.entry']);
  const entries = raw.map((value, index): EntryRequest => {
    const entry = (value ?? {}) as Json;
    const request = (entry.request ?? {}) as Json;
    const where = `Bundle.entry[${index}]`;
    if (!['GET', 'POST', 'PUT', 'DELETE'].includes(request.method as string)) {
      throw badRequest(`${where}.request.method must be GET, POST, PUT or DELETE`, [`${where}.request.method`]);
    }
    if (typeof request.url !== 'string' || request.url === '') {
      throw badRequest(`${where}.request.url is required`, [`${where}.request.url`]);
    }
    const headers: Record<string, string> = {};
    if (typeof request.ifNoneExist === 'string') headers['if-none-exist'] = request.ifNoneExist;
    if (typeof request.ifMatch === 'string') headers['if-match'] = request.ifMatch;
    const resource = entry.resource as Resource | undefined;
    if ((request.method === 'POST' || request.method === 'PUT') && (typeof resource !== 'object' || resource === null)) {
      throw badRequest(`${where}.resource is required for ${String(request.method)}`, [`${where}.resource`]);
    }
    return {
      index,
      method: request.method as Method,
      url: request.url,
      fullUrl: typeof entry.fullUrl === 'string' ? entry.fullUrl : undefined,
      resource,
      headers,
    };
  });
  return { type: bundle.type, entries };
}

/** Deeper than validation allows (64): left as is, for validation to refuse. */
const MAX_DEPTH = 100;

/** Replaces every reference found in `resolved` (urn:uuid -> Type/id), deep. */
function resolveReferences<T>(value: T, resolved: Map<string, string>, depth = 0): T {
  if (depth > MAX_DEPTH || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((item) => resolveReferences(item, resolved, depth + 1)) as T;
  const copy: Json = {};
  for (const [key, item] of Object.entries(value as Json)) {
    copy[key] = key === 'reference' && typeof item === 'string' && resolved.has(item)
      ? resolved.get(item)
      : resolveReferences(item, resolved, depth + 1);
  }
  return copy as T;
}

function decodeSegment(segment: string, url: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badRequest(`Malformed URL in a Bundle entry: ${url}`, ['Bundle.entry.request.url']);
  }
}

/**
 * An entry's interaction that its type does not support is a 405 for a
 * request of its own, but a bad entry of the Bundle here (the Bundle's POST
 * is supported): a 400 that can carry its OperationOutcome.
 */
function entryError(error: unknown): unknown {
  if (error instanceof OperationOutcomeError && error.status === 405) {
    return new OperationOutcomeError(400, outcome('not-supported', error.message));
  }
  return error;
}

function status(code: number): string {
  return `${code} ${REASONS[code] ?? ''}`.trim();
}

export class BundleEntries implements BundleProcessor {
  constructor(
    private readonly handle: (request: FhirRequest) => Promise<FhirResponse>,
    private readonly providers: (type: string) => ResourceProvider | undefined,
    private readonly store: Store,
  ) {}

  async process(body: unknown, request: FhirRequest): Promise<FhirResponse> {
    const { type, entries } = parseEntries(body);
    if (type === 'batch') {
      const responses: BundleEntry[] = [];
      for (const entry of entries) responses.push(await this.batchEntry(entry, request));
      return { status: 200, resource: { resourceType: 'Bundle', type: 'batch-response', entry: responses } as Bundle };
    }
    return this.transaction(entries, request);
  }

  private toRequest(entry: EntryRequest, parent: FhirRequest, assignedId?: string): FhirRequest {
    const relative = entry.url.startsWith(parent.baseUrl) ? entry.url.slice(parent.baseUrl.length) : entry.url;
    const [path = '', query = ''] = relative.split('?', 2);
    return {
      method: entry.method,
      path: path.split('/').filter((segment) => segment !== '').map((segment) => decodeSegment(segment, entry.url)),
      query: [...new URLSearchParams(query)],
      headers: { ...entry.headers, prefer: parent.headers.prefer ?? '' },
      body: entry.resource,
      baseUrl: parent.baseUrl,
      // The client's version: an R4 entry's searches read R4's parameter names too.
      ...(parent.fhirVersion ? { fhirVersion: parent.fhirVersion } : {}),
      // The client's credentials: every entry is authorized as if it were sent alone.
      ...(parent.access ? { access: parent.access } : {}),
      ...(assignedId ? { assignedId } : {}),
    };
  }

  private answer(response: FhirResponse): BundleEntry {
    const headers = response.headers ?? {};
    const entry: BundleEntry = {};
    // The resource's own URL: its Location less the version.
    const fullUrl = response.resource?.id ? headers.location?.replace(/\/_history\/.*$/, '') : undefined;
    if (fullUrl) entry.fullUrl = fullUrl;
    entry.response = { status: status(response.status) };
    if (headers.location) entry.response!.location = headers.location;
    if (headers.etag) entry.response!.etag = headers.etag;
    const lastModified = response.resource?.meta?.lastUpdated ?? (headers['last-modified'] && new Date(headers['last-modified']).toISOString());
    if (lastModified) entry.response!.lastModified = lastModified;
    if (response.resource) entry.resource = response.resource;
    return entry;
  }

  private async batchEntry(entry: EntryRequest, parent: FhirRequest): Promise<BundleEntry> {
    try {
      return this.answer(await this.handle(this.toRequest(entry, parent)));
    } catch (error) {
      const mapped = toOutcome(entryError(error));
      return { response: { status: status(mapped.status), outcome: mapped.outcome } };
    }
  }

  /** An entry's error, named after the entry. */
  private entryFailure(entry: EntryRequest, caught: unknown): unknown {
    const error = entryError(caught);
    if (!(error instanceof OperationOutcomeError)) return error;
    const issues = error.outcome.issue.map((issue) => ({
      ...issue,
      diagnostics: `Bundle.entry[${entry.index}] (${entry.method} ${entry.url}): ${issue.diagnostics ?? issue.code}`,
    }));
    // A narrative of the issues before they were named (toOutcome makes one of these).
    const { text: _stale, ...named } = error.outcome;
    return new OperationOutcomeError(error.status, { ...named, issue: issues }, error.headers);
  }

  /**
   * Conditional creates (ifNoneExist) are resolved first, inside the
   * transaction: one match maps the entry's fullUrl to the existing
   * resource, so that the other entries refer to it; several are a 412
   * (http.html#ccreate). The other creates then get their ids, so that any
   * entry may reference any other.
   */
  private async assignIds(entries: EntryRequest[], parent: FhirRequest, writer: StoreWriter): Promise<Assignments> {
    const resolved = new Map<string, string>();
    const assigned = new Map<number, string>();
    const targets = new Map<number, string>();
    // The searches of conditional entries see only what the client may (its patient context).
    const guard = parent.access ? new AccessGuard(parent.access, (type) => this.providers(type)?.adminOnly === true) : undefined;
    const narrowed = (type: string, query: Array<[string, string]>, ...permissions: Permission[]) => {
      if (!guard) return query;
      // Nothing is searched that the token could not search itself (the audit trail, say).
      if (!guard.admits(type)) guard.requireAdmin(`Access to ${type}`);
      return guard.narrow(type, guard.need(type, ...permissions), query);
    };
    for (const entry of entries) {
      if (entry.method !== 'POST' || !entry.resource) continue;
      const type = entry.resource.resourceType;
      const provider = this.providers(type);
      const condition = entry.headers['if-none-exist'];
      if (condition !== undefined && provider?.searchAll) {
        let found;
        try {
          const query = narrowed(type, conditionQuery(condition), 'c', 's');
          await writer.lock(conditionKey(type, query));
          found = await provider.searchAll(query, interactionContext(this.toRequest(entry, parent)), 2);
        } catch (caught) {
          throw this.entryFailure(entry, caught);
        }
        if (found.length > 1) throw this.entryFailure(entry, preconditionFailed(`ifNoneExist ${condition} matches more than one ${type}`));
        if (found.length === 1) {
          if (entry.fullUrl) resolved.set(entry.fullUrl, `${type}/${found[0]!.id}`);
          continue;
        }
      }
      const id = provider?.assignId?.(entry.resource);
      if (id === undefined) continue;
      assigned.set(entry.index, id);
      if (entry.fullUrl) resolved.set(entry.fullUrl, `${type}/${id}`);
    }
    for (const entry of entries) {
      if (entry.method !== 'PUT' || !entry.resource) continue;
      const request = this.toRequest(entry, parent);
      const provider = this.providers(request.path[0] ?? '');
      if (request.path.length === 1 && provider?.conditionalTarget) {
        // A conditional update: its target is found now, so that the other entries can refer to it.
        let id: string;
        try {
          id = await provider.conditionalTarget(entry.resource, narrowed(provider.type, request.query, 'c', 'u', 's'), interactionContext(request));
        } catch (caught) {
          throw this.entryFailure(entry, caught);
        }
        targets.set(entry.index, `${provider.type}/${id}`);
        if (entry.fullUrl) resolved.set(entry.fullUrl, `${provider.type}/${id}`);
      } else if (entry.fullUrl?.startsWith('urn:uuid:')) {
        resolved.set(entry.fullUrl, entry.url.split('?')[0]!);
      }
    }
    return { resolved, assigned, targets };
  }

  private async transaction(entries: EntryRequest[], parent: FhirRequest): Promise<FhirResponse> {
    const ordered = [...entries].sort((a, b) => ORDER[a.method] - ORDER[b.method] || a.index - b.index);
    const responses = new Map<number, BundleEntry>();
    await this.store.transaction(async (writer) => {
      const { resolved, assigned, targets } = await this.assignIds(entries, parent, writer);
      for (const entry of ordered) {
        const target = targets.get(entry.index);
        let resource = entry.resource ? resolveReferences(entry.resource, resolved) : undefined;
        if (target !== undefined && resource) resource = { ...resource, id: target.split('/')[1]! };
        try {
          const url = target ?? entry.url;
          const response = await this.handle(this.toRequest({ ...entry, url, resource }, parent, assigned.get(entry.index)));
          if (response.status >= 400) throw new OperationOutcomeError(response.status, toOutcome(undefined).outcome);
          responses.set(entry.index, this.answer(response));
        } catch (caught) {
          throw this.entryFailure(entry, caught);
        }
      }
    });
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction-response',
      entry: entries.map((entry) => responses.get(entry.index)!),
    };
    return { status: 200, resource: bundle };
  }
}
