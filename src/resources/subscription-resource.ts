// Subscription: a stored type (versioned, searchable, like the orders)
// whose writes also keep its delivery row in the queue, in the same
// transaction: created or updated, the row takes the checked spec (topic,
// filters, endpoint within the allow-list, the writer's FHIR version and
// credentials); deleted, the row and its events go. The server owns the
// status past `requested`: the deliverer sets active after the handshake,
// error when deliveries keep failing (setSubscriptionStatus). $status and
// $events answer from the queue.
import type { FhirConfig } from '../config';
import { badRequest, notFound } from '../fhir/outcome';
// The last delivery error, on the Subscription (R4's Subscription.error; R5 has no element for it).
import { SUBSCRIPTION_ERROR_EXTENSION } from '../fhir/r4';
import type { Resource } from '../fhir/types';
import type { Store } from '../store/store';
import { validateResource } from '../validation';
import { focusEntries, notificationBundle, subscriptionStatus } from './notifications';
import type { InstanceOperation, InteractionContext, ResourceProvider } from './provider';
import { readableBy } from './compartments';
import type { ResourceRegistry } from './registry';
import { createStoredResource, type StoredTypeSetup } from './stored-resource';
import { isTimed, MAX_MAX_COUNT, requestedStatus, subscriptionSpec, type Content, type SubscriptionSpec } from './subscription-spec';


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

function subscriptionSetup(deps: SubscriptionDeps): StoredTypeSetup {
  const allowedEndpoints = deps.config.subscriptions.allowedEndpoints;
  return {
    type: 'Subscription',
    documentation: 'Topic-based Subscriptions (rest-hook): notifications of the SubscriptionTopics, to the endpoints the configuration allows',
    validate(resource) {
      validateResource('Subscription', resource);
      subscriptionSpec(resource, { allowedEndpoints, baseUrl: '' });
    },
    // The client asks (requested) or stops (off); the error text is the server's.
    prepare: (resource, previous) => ({ ...withoutError(resource), status: requestedStatus(resource.status, previous?.status as string | undefined) }),
    async changed(writer, _previous, version, context) {
      if (!version.resource) {
        await writer.subscriptions.remove(version.id);
      } else {
        const spec = subscriptionSpec(version.resource, {
          allowedEndpoints, baseUrl: context.baseUrl, ...(context.fhirVersion ? { fhirVersion: context.fhirVersion } : {}),
          ...(context.access ? { access: context.access } : {}),
        });
        await writer.subscriptions.register(version.id, spec.topic, version.resource.status as string, JSON.stringify(spec), isTimed(spec));
      }
      writer.afterCommit(async () => deps.wake());
    },
  };
}

/**
 * Sets a status the server decides, as a new version of the Subscription:
 * unless the client stopped it meanwhile (off wins), or it is already so.
 */
export async function setSubscriptionStatus(store: Store, id: string, status: 'active' | 'error' | 'off', error?: string): Promise<void> {
  await store.transaction(async (writer) => {
    const current = (await writer.current('Subscription', id))?.resource;
    if (!current || current.status === 'off' || current.status === status) return;
    const { meta: _meta, ...body } = withoutError(current);
    const updated: Resource = { ...body, status, ...(status === 'error' && error
      ? { extension: [...((body.extension as unknown[] | undefined) ?? []), { url: SUBSCRIPTION_ERROR_EXTENSION, valueString: error }] } : {}) };
    await writer.put('Subscription', id, updated);
    const state = await writer.subscriptions.state(id);
    if (state) await writer.subscriptions.register(id, state.topic, status, state.spec, isTimed(JSON.parse(state.spec) as SubscriptionSpec));
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
  const stateOf = async (id: string) => {
    const state = await deps.store.subscriptions.state(id);
    if (!state) throw notFound(`Subscription/${id} is not known`);
    return { state, spec: JSON.parse(state.spec) as SubscriptionSpec };
  };
  return [
    {
      name: 'status',
      definition: 'http://hl7.org/fhir/OperationDefinition/Subscription-status',
      documentation: 'The SubscriptionStatus: status, events since the start, the last delivery error',
      async invoke(id, context) {
        const { state, spec } = await stateOf(id);
        return {
          status: 200,
          resource: subscriptionStatus({
            baseUrl: context.baseUrl, subscriptionId: id, topic: spec.topic, status: state.status, type: 'query-status',
            eventsSinceSubscriptionStart: state.events, ...(state.error ? { errors: [state.error] } : {}),
          }),
        };
      },
    },
    {
      name: 'events',
      definition: 'http://hl7.org/fhir/OperationDefinition/Subscription-events',
      documentation: 'The events still kept (EventRetention), by number: eventsSinceNumber, eventsUntilNumber, content',
      async invoke(id, context) {
        const { state, spec } = await stateOf(id);
        const since = eventNumber(context, 'eventsSinceNumber') ?? 1;
        const until = eventNumber(context, 'eventsUntilNumber') ?? state.events;
        const content = (parameter(context, 'content') ?? spec.content) as Content;
        if (!['empty', 'id-only', 'full-resource'].includes(content)) throw badRequest('content must be empty, id-only or full-resource', ['content']);
        const events = await deps.store.subscriptions.events(id, since, until, MAX_MAX_COUNT);
        const resources = new Map<string, Resource>();
        if (content === 'full-resource') {
          for (const event of events) {
            const found = event.event === 'delete' ? undefined : await deps.focus(event.focus, context.baseUrl);
            // Whoever asks gets only what their own credentials read.
            if (found && (!context.access || readableBy(context.access, found))) resources.set(event.focus, found);
          }
        }
        const status = subscriptionStatus({
          baseUrl: context.baseUrl, subscriptionId: id, topic: spec.topic, status: state.status, type: 'query-event',
          eventsSinceSubscriptionStart: state.events, events, content,
        });
        return { status: 200, resource: notificationBundle(status, focusEntries(context.baseUrl, events, content, resources)) };
      },
    },
  ];
}

export function createSubscriptionResource(deps: SubscriptionDeps): ResourceProvider {
  return { ...createStoredResource(subscriptionSetup(deps), deps.store, deps.registry, deps.config), operations: operations(deps) };
}
