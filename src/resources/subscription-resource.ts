// Subscription: a stored type (versioned, searchable, like the orders)
// whose writes also keep its delivery row in the queue, in the same
// transaction: created or updated, the row takes the checked spec (topic,
// filters, endpoint within the allow-list, the writer's FHIR version and
// credentials); deleted, the row and its events go. The server owns the
// status past `requested`: the deliverer sets active after the handshake,
// error when deliveries keep failing (setSubscriptionStatus). $status and
// $events answer from the queue.
import type { FhirConfig } from '../config';
import type { Access } from '../fhir/access';
import { badRequest, forbidden, notFound, unprocessable } from '../fhir/outcome';
// The last delivery error, on the Subscription (R4's Subscription.error; R5 has no element for it).
import { SUBSCRIPTION_ERROR_EXTENSION } from '../fhir/r4';
import type { Bundle, BundleEntry, Resource } from '../fhir/types';
import type { Store } from '../store/store';
import { validateResource } from '../validation';
import { focusEntries, notificationBundle, subscriptionStatus } from './notifications';
import type { InstanceOperation, InteractionContext, ResourceProvider } from './provider';
import { readableBy } from './compartments';
import type { ResourceRegistry } from './registry';
import { createStoredResource, type StoredTypeSetup } from './stored-resource';
import { accessOf, isTimed, MAX_MAX_COUNT, ownerOf, requestedStatus, subscriptionSpec, type Content, type SubscriptionSpec } from './subscription-spec';


export interface SubscriptionDeps {
  store: Store;
  registry: ResourceRegistry;
  config: FhirConfig;
  /** The deliverer: a Subscription was written, look at the queue. */
  wake(): void;
  /** An event's focus now, for $events with full-resource. */
  focus(reference: string, baseUrl: string): Promise<Resource | undefined>;
}

function withoutError(resource: Resource): Resource {
  const extension = (resource.extension as Array<{ url?: string }> | undefined)?.filter((e) => e.url !== SUBSCRIPTION_ERROR_EXTENSION);
  const { extension: _dropped, ...rest } = resource;
  return extension && extension.length > 0 ? { ...rest, extension } : rest;
}

/**
 * What a header's value reads as, whoever reads the Subscription: the values
 * are credentials for the receiver (Authorization...). Sent back unchanged
 * in an update, the stored value is kept.
 */
export const HIDDEN_VALUE = '(hidden)';

interface Parameter {
  name?: string;
  value?: string;
}

function parametersOf(resource: Resource | undefined): Parameter[] {
  return (resource?.parameter ?? []) as Parameter[];
}

/** The Subscription as it is answered: header values hidden. */
export function masked(resource: Resource): Resource {
  if (resource.resourceType !== 'Subscription' || parametersOf(resource).length === 0) return resource;
  return { ...resource, parameter: parametersOf(resource).map((p) => ({ ...p, value: HIDDEN_VALUE })) };
}

/** A hidden value sent back takes the stored value of the same header. */
function unmasked(resource: Resource, previous: Resource | undefined): Resource {
  if (!parametersOf(resource).some((p) => p.value === HIDDEN_VALUE)) return resource;
  const stored = parametersOf(previous);
  const seen = new Map<string | undefined, number>();
  return {
    ...resource,
    parameter: parametersOf(resource).map((p, i) => {
      // The n-th header of a name takes the n-th stored value of that name.
      const nth = seen.get(p.name) ?? 0;
      seen.set(p.name, nth + 1);
      if (p.value !== HIDDEN_VALUE) return p;
      const kept = stored.filter((s) => s.name === p.name)[nth];
      if (!kept) throw unprocessable(`The header ${String(p.name)} has no stored value to keep: send its value`, [`Subscription.parameter[${i}].value`]);
      return { ...p, value: kept.value };
    }),
  };
}

/** What changes where and how notifications go: the new channel is handshaken again. */
function channelChanged(resource: Resource, previous: Resource): boolean {
  const channel = (r: Resource) => JSON.stringify([r.topic, r.endpoint, r.channelType, r.parameter, r.filterBy, r.content, r.contentType]);
  return channel(resource) !== channel(previous);
}

/** Only whoever wrote a Subscription (or the administrator) changes it, or reads its queue. */
function checkOwner(spec: SubscriptionSpec | undefined, access: Access | undefined, id: string): void {
  if (!access || access.admin) return;
  const owner = ownerOf(spec?.access);
  if (owner === undefined || owner !== ownerOf(access)) throw forbidden(`Subscription/${id} belongs to another client`);
}

function subscriptionSetup(deps: SubscriptionDeps): StoredTypeSetup {
  const allowedEndpoints = deps.config.subscriptions.allowedEndpoints;
  return {
    type: 'Subscription',
    documentation: 'Topic-based Subscriptions (rest-hook): notifications of the SubscriptionTopics, to the endpoints the configuration allows',
    validate(resource) {
      validateResource('Subscription', resource);
      subscriptionSpec(resource, { allowedEndpoints, baseUrl: '' });
    },
    // The client asks (requested) or stops (off); the error text is the server's; a changed channel is asked again.
    prepare(resource, previous) {
      const body = unmasked(withoutError(resource), previous);
      let status = requestedStatus(body.status, previous?.status as string | undefined);
      if (previous && (status === 'active' || status === 'error') && channelChanged(body, previous)) status = 'requested';
      return { ...body, status };
    },
    async changed(writer, _previous, version, context) {
      // A new one is the writer's; one that is (or was, deleted) someone's is theirs.
      const state = await writer.subscriptions.state(version.id);
      const stored = state && (JSON.parse(state.spec) as SubscriptionSpec);
      if (stored) checkOwner(stored, context.access, version.id);
      if (context.access && ownerOf(context.access) === undefined) {
        throw forbidden('A Subscription needs an owner: the token has no subject (sub) nor client (client_id)');
      }
      if (!version.resource) {
        await writer.subscriptions.retire(version.id);
      } else {
        // The administrator changing someone's Subscription leaves it theirs: its events stay within what its owner may read.
        const access = stored?.access && context.access?.admin && ownerOf(stored.access) !== ownerOf(context.access) ? accessOf(stored.access) : context.access;
        const spec = subscriptionSpec(version.resource, {
          allowedEndpoints, baseUrl: context.baseUrl, ...(context.fhirVersion ? { fhirVersion: context.fhirVersion } : {}),
          ...(access ? { access } : {}),
        });
        await writer.subscriptions.register(version.id, spec.topic, version.resource.status as string, JSON.stringify(spec), isTimed(spec));
      }
      writer.afterCommit(async () => deps.wake());
    },
  };
}

/** The delivery a status change comes from: the generation of the Subscription's row it claimed. */
export interface ClaimedDelivery {
  generation: number;
}

/** Sets a status the server decides, as a new version of the Subscription, if nobody wrote it since the delivery that decided it claimed it. */
export async function setSubscriptionStatus(store: Store, id: string, status: 'active' | 'error' | 'off', claimed: ClaimedDelivery, error?: string): Promise<void> {
  await store.transaction(async (writer) => {
    const current = (await writer.current('Subscription', id))?.resource;
    const state = await writer.subscriptions.state(id);
    // Written since the delivery claimed it (re-requested, re-pointed, stopped, deleted): the client's word stands.
    if (!current || !state || state.generation !== claimed.generation || current.status === status) return;
    const { meta: _meta, ...body } = withoutError(current);
    const updated: Resource = { ...body, status, ...(status === 'error' && error
      ? { extension: [...((body.extension as unknown[] | undefined) ?? []), { url: SUBSCRIPTION_ERROR_EXTENSION, valueString: error }] } : {}) };
    await writer.put('Subscription', id, updated);
    await writer.subscriptions.register(id, state.topic, status, state.spec, isTimed(JSON.parse(state.spec) as SubscriptionSpec));
  });
}

function parameter(context: InteractionContext, name: string): string | undefined {
  return context.query.find(([key]) => key === name)?.[1];
}

function eventNumber(context: InteractionContext, name: string): number | undefined {
  const value = parameter(context, name);
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value)) throw badRequest(`${name} must be an event number`, [name]);
  return Number(value);
}

function operations(deps: SubscriptionDeps): InstanceOperation[] {
  const stateOf = async (id: string, context: InteractionContext) => {
    const state = await deps.store.subscriptions.state(id);
    if (!state || !(await deps.store.current('Subscription', id))?.resource) throw notFound(`Subscription/${id} is not known`);
    const spec = JSON.parse(state.spec) as SubscriptionSpec;
    checkOwner(spec, context.access, id);
    return { state, spec };
  };
  return [
    {
      name: 'status',
      definition: 'http://hl7.org/fhir/OperationDefinition/Subscription-status',
      documentation: 'A searchset of the SubscriptionStatus: status, events since the start, the last delivery error',
      async invoke(id, context) {
        const { state, spec } = await stateOf(id, context);
        const status = subscriptionStatus({
          baseUrl: context.baseUrl, subscriptionId: id, topic: spec.topic, status: state.status, type: 'query-status',
          eventsSinceSubscriptionStart: state.events, errors: [
            ...(state.error ? [state.error] : []),
            ...(state.dropped > 0 ? [`${state.dropped} events were not queued: the backlog of undelivered events was full`] : []),
          ],
        });
        // The operation answers a searchset of SubscriptionStatus (OperationDefinition Subscription-status).
        const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', total: 1, entry: [{ resource: status, search: { mode: 'match' } }] };
        return { status: 200, resource: bundle };
      },
    },
    {
      name: 'events',
      definition: 'http://hl7.org/fhir/OperationDefinition/Subscription-events',
      documentation: 'The events still kept (EventRetention), by number: eventsSinceNumber, eventsUntilNumber, content',
      async invoke(id, context) {
        const { state, spec } = await stateOf(id, context);
        const since = eventNumber(context, 'eventsSinceNumber') ?? 1;
        const until = eventNumber(context, 'eventsUntilNumber') ?? state.events;
        const content = (parameter(context, 'content') ?? spec.content) as Content;
        if (!['empty', 'id-only', 'full-resource'].includes(content)) throw badRequest('content must be empty, id-only or full-resource', ['content']);
        let events = await deps.store.subscriptions.events(id, since, until, MAX_MAX_COUNT);
        const resources = new Map<string, Resource>();
        // Whoever asks gets only what their own credentials read: a scoped token's events are checked one by one.
        const checked = context.access !== undefined && !context.access.admin;
        if (content === 'full-resource' || checked) {
          const readable = new Set<string>();
          for (const event of events) {
            const found = event.event === 'delete' ? undefined : await deps.focus(event.focus, context.baseUrl);
            if (found && (!context.access || readableBy(context.access, found))) {
              readable.add(event.focus);
              resources.set(event.focus, found);
            }
          }
          if (checked) events = events.filter((event) => readable.has(event.focus));
        }
        const status = subscriptionStatus({
          baseUrl: context.baseUrl, subscriptionId: id, topic: spec.topic, status: state.status, type: 'query-event',
          eventsSinceSubscriptionStart: state.events, events, content,
        });
        return { status: 200, resource: notificationBundle(status, focusEntries(context.baseUrl, events, content, content === 'full-resource' ? resources : new Map())) };
      },
    },
  ];
}

/** Hides the header values of the Subscriptions in an answer. */
function maskedResult<T extends { resource?: Resource }>(result: T): T {
  return result.resource ? { ...result, resource: maskedResource(result.resource) } : result;
}

function maskedResource<T extends Resource>(resource: T): T {
  if (resource.resourceType !== 'Bundle') return masked(resource) as T;
  if (!Array.isArray(resource.entry)) return resource;
  const entries = resource.entry as BundleEntry[];
  return { ...resource, entry: entries.map((entry) => (entry.resource ? { ...entry, resource: masked(entry.resource) } : entry)) };
}

export function createSubscriptionResource(deps: SubscriptionDeps): ResourceProvider {
  const stored = createStoredResource(subscriptionSetup(deps), deps.store, deps.registry, deps.config);
  // Every answer that holds a Subscription goes out through here: its header values hidden.
  return {
    ...stored,
    operations: operations(deps),
    read: async (id, context) => masked(await stored.read!(id, context)),
    vread: async (id, version, context) => masked(await stored.vread!(id, version, context)),
    search: async (context) => maskedResource(await stored.search!(context)),
    searchAll: async (query, context, limit) => (await stored.searchAll!(query, context, limit)).map(masked),
    history: async (id, context) => maskedResource(await stored.history!(id, context)),
    create: async (resource, context) => maskedResult(await stored.create!(resource, context)),
    update: async (id, resource, context) => maskedResult(await stored.update!(id, resource, context)),
    async conditionalUpdate(resource, condition, context) {
      return maskedResult(await stored.conditionalUpdate!.call(this, resource, condition, context));
    },
  };
}
