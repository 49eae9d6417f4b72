// A resource type the plugin owns and keeps in the store (ServiceRequest,
// Task): the full set of REST interactions, versioned, with optimistic
// locking (If-Match), conditional create (If-None-Exist), deletion that
// leaves history (a later read answers 410), and search by the engine.
// What is stored is what the client wrote, less a generated narrative
// (narrative.ts: made again whenever the resource is served).
import { randomUUID } from 'node:crypto';
import type { FhirConfig } from '../config';
import { badRequest, conflict, gone, notFound, preconditionFailed } from '../fhir/outcome';
import type { Bundle, BundleEntry, Resource } from '../fhir/types';
import { defineSearch, searchParamDeclarations, type SearchDefinition } from '../search';
import type { ResourceVersion, Store, StoreWriter } from '../store/store';
import { withoutGeneratedText } from './narrative';
import type { InteractionContext, InteractionResult, ResourceProvider } from './provider';
import type { ResourceRegistry } from './registry';
import { SEARCH_DECLARATIONS, type IndexedType } from './search-declarations';
import { searchAllOf, searchBundle, type SearchSource } from './search-flow';
import { SEARCH_CATALOG } from './search-catalog';

export interface StoredTypeSetup {
  type: IndexedType;
  documentation: string;
  /** Throws a 400/422 OperationOutcomeError for a resource that may not be stored. */
  validate(resource: Resource): void;
  /** Completes a valid resource before it is stored, given its current version (e.g. a server-assigned identifier). */
  prepare?(resource: Resource, previous: Resource | undefined): Resource;
  /** After a write commits (before it is answered): what derives from it elsewhere. `current` undefined: deleted. */
  written?(previous: Resource | undefined, current: Resource | undefined): Promise<void>;
  /**
   * Inside the write's transaction, after the version is stored: what must
   * commit or roll back with it (the events it fires, a Subscription's
   * delivery row). `current` undefined: deleted.
   */
  changed?(writer: StoreWriter, previous: Resource | undefined, current: ResourceVersion, context: InteractionContext): Promise<void>;
}

/** Measured on Orthanc 1.10.1: its HTTP server parses the query string of GET requests only. */
const ORTHANC_DROPS_QUERY = 'Orthanc does not hand the query of a PUT or DELETE to plugins: send a conditional update or delete as an entry of a batch or transaction Bundle';

/** The lock a conditional write takes: its type and condition, the parameters in one order. */
export function conditionKey(type: string, condition: ReadonlyArray<[string, string]>): string {
  return `${type}?${new URLSearchParams([...condition].sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0)))}`;
}

/**
 * A conditional write's condition (http.html#ccreate, #cond-update,
 * #cdelete): the one resource that matches, undefined when none does, 412
 * when several do. The one implementation for every type and interaction.
 */
export async function existingMatch(
  type: string,
  condition: Array<[string, string]>,
  search: (query: Array<[string, string]>, limit: number) => Promise<Resource[]>,
  what = 'If-None-Exist',
): Promise<Resource | undefined> {
  const found = await search(condition, 2);
  const shown = new URLSearchParams(condition).toString();
  if (found.length > 1) throw preconditionFailed(`${what}: ${shown} matches more than one ${type}`);
  return found[0];
}

/** If-Match: the write goes ahead only on the version the client saw (412 otherwise). */
export function checkVersion(type: string, id: string, current: ResourceVersion | undefined, expected: string | undefined): void {
  if (expected !== undefined && String(current?.versionId) !== expected) {
    throw preconditionFailed(`${type}/${id} is at version ${current?.versionId ?? 'none'}, not ${expected}`);
  }
}

export function versionHeaders(version: ResourceVersion, baseUrl: string): Record<string, string> {
  return {
    etag: `W/"${version.versionId}"`,
    'last-modified': new Date(version.lastUpdated).toUTCString(),
    location: `${baseUrl}/${version.resourceType}/${version.id}/_history/${version.versionId}`,
  };
}

function historyEntry(version: ResourceVersion, baseUrl: string): BundleEntry {
  const url = `${version.resourceType}/${version.id}`;
  const entry: BundleEntry = {
    fullUrl: `${baseUrl}/${url}`,
    request: { method: version.resource ? (version.versionId === 1 ? 'POST' : 'PUT') : 'DELETE', url: version.versionId === 1 && version.resource ? version.resourceType : url },
    response: {
      status: version.resource ? (version.versionId === 1 ? '201' : '200') : '204',
      etag: `W/"${version.versionId}"`,
      lastModified: version.lastUpdated,
    },
  };
  if (version.resource) entry.resource = version.resource;
  return entry;
}

function historyParameters(request: InteractionContext, config: FhirConfig): { count: number; offset: number; since?: string } {
  let count = config.defaultCount;
  let offset = 0;
  let since: string | undefined;
  for (const [name, value] of request.query) {
    if (name === '_count' || name === '_offset') {
      const number = Number(value);
      if (!Number.isInteger(number) || number < 0) throw badRequest(`${name} must be a non-negative integer`, [name]);
      if (name === '_count') count = Math.min(number, config.maxCount);
      else offset = number;
    } else if (name === '_since') {
      const instant = new Date(value);
      if (Number.isNaN(instant.getTime()) || !/^\d{4}-\d\d-\d\dT/.test(value)) throw badRequest('_since must be an instant', ['_since']);
      since = instant.toISOString();
    } else {
      throw badRequest(`Unknown history parameter '${name}'`, [name]);
    }
  }
  return since ? { count, offset, since } : { count, offset };
}

export function createStoredResource(setup: StoredTypeSetup, store: Store, registry: ResourceRegistry, config: FhirConfig): ResourceProvider {
  const { type } = setup;
  const definition: SearchDefinition = defineSearch({
    resourceType: type,
    ...SEARCH_DECLARATIONS[type],
    defaultCount: config.defaultCount,
    maxCount: config.maxCount,
  });
  const source: SearchSource = {
    definition,
    find: (search) => store.search(search),
    async load(ids) {
      const versions = await store.currentOf(type, ids);
      return versions.flatMap((version) => (version.resource ? [version.resource] : []));
    },
  };

  async function live(id: string): Promise<ResourceVersion> {
    const version = await store.current(type, id);
    if (!version) throw notFound(`${type}/${id} is not known`);
    if (!version.resource) throw gone(`${type}/${id} was deleted`);
    return version;
  }

  /**
   * A written body as it is checked and stored: a generated text dropped, so
   * that a client sending back what it read (a status changed) does not
   * freeze a narrative of the old data; a text of its own is kept.
   */
  function received(resource: Resource): Resource {
    const body = withoutGeneratedText(resource);
    setup.validate(body);
    return body;
  }

  async function afterWrite(writer: StoreWriter, previous: Resource | undefined, version: ResourceVersion, context: InteractionContext): Promise<void> {
    await setup.changed?.(writer, previous, version, context);
    if (setup.written) writer.afterCommit(() => setup.written!(previous, version.resource));
  }

  function written(version: ResourceVersion, status: number, baseUrl: string): InteractionResult {
    return { status, resource: version.resource, headers: versionHeaders(version, baseUrl) };
  }

  return {
    type,
    interactions: ['read', 'vread', 'update', 'delete', 'history-instance', 'history-type', 'create', 'search-type'],
    searchParams: searchParamDeclarations(definition),
    searchInclude: definition.include,
    searchRevInclude: SEARCH_CATALOG.revIncludesOf(type),
    documentation: setup.documentation,

    read: async (id) => (await live(id)).resource!,

    assignId: () => randomUUID(),

    async vread(id, versionId) {
      const version = /^\d+$/.test(versionId) ? await store.version(type, id, Number(versionId)) : undefined;
      if (!version) throw notFound(`${type}/${id}/_history/${versionId} is not known`);
      if (!version.resource) throw gone(`${type}/${id} was deleted in version ${versionId}`);
      return version.resource;
    },

    search: (context) => searchBundle(source, context, registry),
    searchAll: (query, context, limit) => searchAllOf(source, query, context, limit),

    async create(sent, context) {
      const resource = received(sent);
      return store.transaction(async (writer) => {
        // Inside the transaction, so that two creates with one condition cannot both go ahead.
        if (context.ifNoneExist !== undefined) {
          await writer.lock(conditionKey(type, context.ifNoneExist));
          const existing = await existingMatch(type, context.ifNoneExist, (query, limit) => searchAllOf(source, query, context, limit));
          if (existing) return written((await writer.current(type, existing.id!))!, 200, context.baseUrl);
        }
        const { id: _ignored, ...body } = resource;
        const prepared = setup.prepare ? setup.prepare(body as Resource, undefined) : (body as Resource);
        const version = await writer.put(type, context.assignedId ?? randomUUID(), prepared, { baseUrl: context.baseUrl, fresh: true });
        await afterWrite(writer, undefined, version, context);
        return written(version, 201, context.baseUrl);
      });
    },

    async conditionalTarget(resource, condition, context) {
      if (condition.length === 0) throw badRequest(`A PUT to ${type} needs an id in the URL, or a search (a conditional update). ${ORTHANC_DROPS_QUERY}`);
      // The lock holds until the caller's transaction ends: the write that follows must be in it.
      if (!store.inTransaction) throw new Error('conditionalTarget runs inside the transaction that writes');
      await store.transaction(async (writer) => writer.lock(conditionKey(type, condition)));
      const match = await existingMatch(type, condition, (query, limit) => searchAllOf(source, query, context, limit), `Conditional update ${type}?`);
      if (match) {
        if (resource.id !== undefined && resource.id !== match.id) {
          throw badRequest(`The body's id (${resource.id}) is not that of the ${type} the condition matches (${match.id})`, [`${type}.id`]);
        }
        return match.id!;
      }
      if (resource.id === undefined) return randomUUID();
      // No match, the body names an id: an update as create, unless that id is another resource's.
      if ((await store.current(type, resource.id))?.resource) {
        throw conflict(`${type}/${resource.id} exists and does not match the condition`);
      }
      return resource.id;
    },

    async conditionalUpdate(resource, condition, context) {
      return store.transaction(async () => {
        const id = await this.conditionalTarget!(resource, condition, context);
        return this.update!(id, { ...resource, id }, context);
      });
    },

    async conditionalDelete(condition, context) {
      if (condition.length === 0) throw badRequest(`A DELETE of ${type} needs an id in the URL, or a search (a conditional delete). ${ORTHANC_DROPS_QUERY}`);
      return store.transaction(async (writer) => {
        await writer.lock(conditionKey(type, condition));
        const match = await existingMatch(type, condition, (query, limit) => searchAllOf(source, query, context, limit), `Conditional delete ${type}?`);
        return match ? this.delete!(match.id!, context) : { status: 204 };
      });
    },

    async update(id, sent, context) {
      if (sent.id !== id) throw badRequest(`The body's id (${sent.id ?? 'none'}) must be the URL's id (${id})`, [`${type}.id`]);
      const resource = received(sent);
      return store.transaction(async (writer) => {
        const current = await writer.current(type, id);
        checkVersion(type, id, current, context.ifMatch);
        const prepared = setup.prepare ? setup.prepare(resource, current?.resource) : resource;
        const version = await writer.put(type, id, prepared, { baseUrl: context.baseUrl });
        await afterWrite(writer, current?.resource, version, context);
        return written(version, current?.resource ? 200 : 201, context.baseUrl);
      });
    },

    async delete(id, context) {
      return store.transaction(async (writer) => {
        const current = await writer.current(type, id);
        if (!current) throw notFound(`${type}/${id} is not known`);
        checkVersion(type, id, current, context.ifMatch);
        if (!current.resource) return { status: 204 };
        const version = await writer.put(type, id, undefined);
        await afterWrite(writer, current.resource, version, context);
        return { status: 204, headers: { etag: `W/"${version.versionId}"` } };
      });
    },

    async history(id, context) {
      if (id !== undefined && !(await store.current(type, id))) throw notFound(`${type}/${id} is not known`);
      const query = historyParameters(context, config);
      const page = await store.history(type, id, query);
      const self = `${context.baseUrl}/${type}${id ? `/${id}` : ''}/_history`;
      const link = (offset: number) => {
        const params = new URLSearchParams();
        if (query.since) params.set('_since', query.since);
        params.set('_count', String(query.count));
        params.set('_offset', String(offset));
        return `${self}?${params}`;
      };
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'history',
        total: page.total,
        link: [{ relation: 'self', url: link(query.offset) }],
        entry: page.versions.map((version) => historyEntry(version, context.baseUrl)),
      };
      if (query.offset + query.count < page.total) bundle.link!.push({ relation: 'next', url: link(query.offset + query.count) });
      if (query.offset > 0) bundle.link!.push({ relation: 'previous', url: link(Math.max(0, query.offset - query.count)) });
      if (bundle.entry!.length === 0) delete bundle.entry;
      return bundle;
    },
  };
}
