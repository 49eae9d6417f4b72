// Where topic events are born: inside the transaction of the change that
// causes them (a write of a Task or ServiceRequest through /fhir, a page of
// Orthanc's change log applied by the imaging index), each matching
// Subscription gets its event queued in the same transaction, so an event
// exists exactly when its change committed. A Subscription matches when its
// filters (a search of the topic's type) match the focus, and its owner may
// read the focus. The deliverer is woken once the transaction commits.
import { reach, type Access } from '../fhir/access';
import type { Resource } from '../fhir/types';
import { matchesSearch, memoizedItems, parseSearchQuery, type ItemsOf, type SearchRequest } from '../search';
import type { Store, StoreWriter } from '../store/store';
import type { QueuedEvent, SubscriberRow } from '../store/subscription-queue';
import { compartmentFilter, readableBy } from './compartments';
import { accessOf, searchDefinitionOf, type SubscriptionSpec } from './subscription-spec';
import type { StoredTypeSetup } from './stored-resource';
import { topicsOf, TOPICS, type TopicDeclaration, type TopicEvent } from './subscription-topics';

/** An imaging change of one study in a page of Orthanc's changes. */
export interface StudyChange {
  studyId: string;
  events: readonly TopicEvent[];
  /** The study as read now; undefined when it is gone from Orthanc. */
  resource?: Resource;
}

interface Focus {
  id: string;
  event: TopicEvent;
  /** `Type/id/_history/version`, or `Type/id`. */
  reference: string;
  /** The focus as it is after the change (before it, for a deletion); undefined: known to the index only. */
  resource?: Resource;
}

interface Compiled {
  spec: SubscriptionSpec;
  /** What matching depends on: the filters and the owner's access. */
  key: string;
  filters: SearchRequest;
  /** The owner's access, its scopes parsed. */
  access?: Access;
}

/** Parsed specs, by their text: a few hundred Subscriptions, each parsed once. */
const CACHE_ENTRIES = 1000;
const IMAGING_TOPIC = TOPICS.find((topic) => topic.type === 'ImagingStudy')!;

export class SubscriptionEvents {
  private readonly compiled = new Map<string, Compiled>();
  /** Per topic, its Subscriptions as of a generation of the queue (a few hundred at most). */
  private readonly byTopic = new Map<string, { generation: string; subscribers: Array<{ id: string; compiled: Compiled }> }>();

  constructor(
    private readonly store: Store,
    /** Called after a transaction that queued events has committed. */
    private readonly queued: () => void,
    private readonly log: (message: string) => void = () => undefined,
  ) {}

  /** A write of a stored type: the events of its topics. */
  async written(writer: StoreWriter, type: string, previous: Resource | undefined, current: Resource | undefined, reference: string): Promise<void> {
    for (const topic of topicsOf(type)) {
      const event = topic.fires(previous, current);
      const id = reference.split('/')[1]!;
      if (event) await this.fire(writer, topic, [{ id, event, reference, ...(current ?? previous ? { resource: (current ?? previous)! } : {}) }]);
    }
  }

  /** A page of Orthanc's changes: called before the index is written, so that a deleted study is still found in it. */
  async studies(writer: StoreWriter, changes: readonly StudyChange[]): Promise<void> {
    const focus = changes.flatMap((change) => change.events.map((event): Focus => ({
      id: change.studyId, event, reference: `ImagingStudy/${change.studyId}`, ...(change.resource ? { resource: change.resource } : {}),
    })));
    if (focus.length > 0) await this.fire(writer, IMAGING_TOPIC, focus);
  }

  /**
   * The Subscriptions of a topic, compiled: read again only when one changed
   * (the queue's generation, in this transaction), not at every write.
   */
  private async subscribersOf(writer: StoreWriter, topic: TopicDeclaration): Promise<Array<{ id: string; compiled: Compiled }>> {
    const generation = await writer.subscriptions.generation();
    const known = this.byTopic.get(topic.url);
    if (known && known.generation === generation) return known.subscribers;
    const subscribers: Array<{ id: string; compiled: Compiled }> = [];
    for (const row of await writer.subscriptions.subscribers(topic.url)) {
      try {
        subscribers.push({ id: row.id, compiled: this.compile(row) });
      } catch (error) {
        // One Subscription that cannot be read must not fail the write: it hears nothing, said here.
        this.log(`Subscription/${row.id} cannot be evaluated (it is told no event): ${(error as Error)?.message ?? String(error)}`);
      }
    }
    this.byTopic.set(topic.url, { generation, subscribers });
    return subscribers;
  }

  private async fire(writer: StoreWriter, topic: TopicDeclaration, focus: readonly Focus[]): Promise<void> {
    const subscribers = await this.subscribersOf(writer, topic);
    if (subscribers.length === 0) return;
    const recorded = Date.now();
    const events: QueuedEvent[] = [];
    // Each focus's values are read once, whatever the number of Subscriptions whose filters read them.
    const itemsOf = new Map(focus.map((item) => [item, memoizedItems()]));
    const known = focus.filter((item) => item.resource !== undefined);
    const gone = focus.filter((item) => item.resource === undefined);
    // Subscriptions with the same filters and the same owner's access match alike: evaluated once.
    const alike = new Map<string, Focus[]>();
    for (const subscriber of subscribers) {
      let matching = alike.get(subscriber.compiled.key);
      try {
        if (!matching) {
          // In memory, without yielding (this runs inside the write's transaction); the index only for what was not read.
          const matched = new Set(this.matchKnown(subscriber.compiled, known, itemsOf));
          if (gone.length > 0) for (const item of await this.matchGone(subscriber.compiled, topic, gone)) matched.add(item);
          matching = focus.filter((item) => matched.has(item));
          alike.set(subscriber.compiled.key, matching);
        }
      } catch (error) {
        // One Subscription that cannot be evaluated must not fail the write (or stall the imaging index): it misses the event, said here.
        this.log(`Subscription/${subscriber.id} could not be matched against ${focus.map((f) => f.reference).join(', ')}: ${(error as Error)?.message ?? String(error)}`);
        continue;
      }
      for (const item of matching) events.push({ subscription: subscriber.id, recorded, event: item.event, focus: item.reference });
    }
    if (events.length === 0) return;
    await writer.subscriptions.enqueue(events);
    writer.afterCommit(async () => this.queued());
  }

  private compile(subscriber: SubscriberRow): Compiled {
    let found = this.compiled.get(subscriber.spec);
    if (!found) {
      const spec = JSON.parse(subscriber.spec) as SubscriptionSpec;
      const topic = TOPICS.find((t) => t.url === spec.topic)!;
      found = {
        spec, key: JSON.stringify([spec.filters, spec.access ?? null]), filters: parseSearchQuery(searchDefinitionOf(topic.type), spec.filters),
        ...(spec.access ? { access: accessOf(spec.access) } : {}),
      };
      if (this.compiled.size >= CACHE_ENTRIES) this.compiled.delete(this.compiled.keys().next().value as string);
      this.compiled.set(subscriber.spec, found);
    }
    return found;
  }

  /** The focus items read now that a Subscription matches: its owner may read them, its filters match them. */
  private matchKnown({ filters, access }: Compiled, known: readonly Focus[], itemsOf: ReadonlyMap<Focus, ItemsOf>): Focus[] {
    return known.filter((item) => (!access || readableBy(access, item.resource!)) && matchesSearch(item.resource!, filters, itemsOf.get(item)));
  }

  /**
   * Studies gone from Orthanc: their indexed state answers, in one search of
   * their ids (this runs before the index forgets them).
   */
  private async matchGone({ spec, access }: Compiled, topic: TopicDeclaration, gone: readonly Focus[]): Promise<Focus[]> {
    let narrowing: Array<[string, string]> = [];
    if (access && !access.admin) {
      const found = reach(access, topic.type, 'r') !== 'none' ? reach(access, topic.type, 'r') : reach(access, topic.type, 's');
      if (found === 'none') return [];
      if (found === 'compartment') narrowing = compartmentFilter(topic.type, access.patient!);
    }
    const ids = [...new Set(gone.map((item) => item.id))];
    const search = parseSearchQuery(searchDefinitionOf(topic.type), [['_id', ids.join(',')], ...spec.filters, ...narrowing, ['_count', String(ids.length)]]);
    const hits = new Set((await this.store.search(search)).ids);
    return gone.filter((item) => hits.has(item.id));
  }

}

/** A stored type's setup whose writes fire its topics' events, in their transaction. */
export function firingEvents(setup: StoredTypeSetup, events: SubscriptionEvents): StoredTypeSetup {
  return {
    ...setup,
    async changed(writer, previous, version, context) {
      await setup.changed?.(writer, previous, version, context);
      await events.written(writer, setup.type, previous, version.resource, `${version.resourceType}/${version.id}/_history/${version.versionId}`);
    },
  };
}
