// The notifications of topic-based Subscriptions (R5 subscription.html,
// subscriptionstatus.html): a Bundle of type subscription-notification, the
// SubscriptionStatus first, then one entry per event's focus, whose content
// follows the Subscription's: nothing (empty), the focus's URL and request
// (id-only), or the focus itself too (full-resource). The SubscriptionStatus
// and each focus carry their narratives (narrative.ts): a notification is
// sent to its endpoint, past the router that gives answers theirs. Pure.
import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, Resource } from '../fhir/types';
import type { EventRow } from '../store/subscription-queue';
import { withNarrative } from './narrative';
import type { Content } from './subscription-spec';

export type NotificationType = 'handshake' | 'heartbeat' | 'event-notification' | 'query-status' | 'query-event';

export interface StatusInput {
  baseUrl: string;
  subscriptionId: string;
  topic: string;
  status: string;
  type: NotificationType;
  eventsSinceSubscriptionStart: number;
  /** The events told (their focus only when the content is not empty). */
  events?: readonly EventRow[];
  content?: Content;
  errors?: readonly string[];
}

/** The versionless URL of a focus ('Task/1/_history/2' -> base/Task/1). */
function focusUrl(baseUrl: string, focus: string): string {
  return `${baseUrl}/${focus.split('/').slice(0, 2).join('/')}`;
}

/** A SubscriptionStatus (its integer64 counts are JSON strings, as R5 writes them). */
export function subscriptionStatus(input: StatusInput): Resource {
  const events = input.events ?? [];
  return {
    resourceType: 'SubscriptionStatus',
    status: input.status,
    type: input.type,
    eventsSinceSubscriptionStart: String(input.eventsSinceSubscriptionStart),
    ...(events.length > 0 ? {
      notificationEvent: events.map((event) => ({
        eventNumber: String(event.number),
        timestamp: new Date(event.recorded).toISOString(),
        ...(input.content !== 'empty' ? { focus: { reference: `${input.baseUrl}/${event.focus}` } } : {}),
      })),
    } : {}),
    subscription: { reference: `${input.baseUrl}/Subscription/${input.subscriptionId}` },
    topic: input.topic,
    ...(input.errors && input.errors.length > 0 ? { error: input.errors.map((text) => ({ text })) } : {}),
  };
}

const METHODS: Readonly<Record<string, 'POST' | 'PUT' | 'DELETE'>> = { create: 'POST', update: 'PUT', stable: 'PUT', delete: 'DELETE' };

/** The entry of an event's focus: its URL and what happened (id-only), with the resource for full-resource when it still exists. */
export function focusEntry(baseUrl: string, event: EventRow, resource?: Resource): BundleEntry {
  const [type, id] = event.focus.split('/');
  const method = METHODS[event.event] ?? 'PUT';
  return {
    fullUrl: focusUrl(baseUrl, event.focus),
    ...(resource ? { resource } : {}),
    request: { method, url: method === 'POST' ? type! : `${type}/${id}` },
    response: { status: method === 'POST' ? '201' : method === 'DELETE' ? '204' : '200' },
  };
}

/** The focus entries a content level carries: none for empty, one per distinct focus otherwise (the latest event's). */
export function focusEntries(baseUrl: string, events: readonly EventRow[], content: Content, resources: ReadonlyMap<string, Resource>): BundleEntry[] {
  if (content === 'empty') return [];
  const latest = new Map<string, EventRow>();
  for (const event of events) latest.set(focusUrl(baseUrl, event.focus), event);
  return [...latest.values()].map((event) => focusEntry(baseUrl, event, content === 'full-resource' ? resources.get(event.focus) : undefined));
}

export function notificationBundle(status: Resource, entries: readonly BundleEntry[], now: Date = new Date()): Bundle {
  const statusId = randomUUID();
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    type: 'subscription-notification',
    timestamp: now.toISOString(),
    entry: [
      { fullUrl: `urn:uuid:${statusId}`, resource: withNarrative({ ...status, id: statusId }) },
      ...entries.map((entry) => (entry.resource ? { ...entry, resource: withNarrative(entry.resource) } : entry)),
    ],
  };
}
