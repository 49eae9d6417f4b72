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
  /** The study as read now; undefined when it is gone from Orthanc, or was not read again (it only became stable). */
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
  filters: SearchRequest;
  /** The owner's access, its scopes parsed. */
  access?: Access;
}

/** Parsed specs, by their text: a few hundred Subscriptions, each parsed once. */
const CACHE_ENTRIES = 1000;
const IMAGING_TOPIC = TOPICS.find((topic) => topic.type === 'ImagingStudy')!;

export class SubscriptionEvents {
  private readonly compiled = new Map<string, Compiled>();

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

  private async fire(writer: StoreWriter, topic: TopicDeclaration, focus: readonly Focus[]): Promise<void> {
    const subscribers = await writer.subscriptions.subscribers(topic.url);
    if (subscribers.length === 0) return;
    const recorded = Date.now();
    const events: QueuedEvent[] = [];
    // Each focus's values are read once, whatever the number of Subscriptions whose filters read them.
    const itemsOf = new Map(focus.map((item) => [item, memoizedItems()]));
    for (const subscriber of subscribers) {
      let matching: Focus[];
      try {
        matching = await this.matching(this.compile(subscriber), topic, focus, itemsOf);
      } catch (error) {
        // One Subscription that cannot be evaluated must not fail the write (or stall the imaging index): it misses the event, said once here.
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
      found = { spec, filters: parseSearchQuery(searchDefinitionOf(topic.type), spec.filters), ...(spec.access ? { access: accessOf(spec.access) } : {}) };
      if (this.compiled.size >= CACHE_ENTRIES) this.compiled.delete(this.compiled.keys().next().value as string);
      this.compiled.set(subscriber.spec, found);
    }
    return found;
  }

  /** The focus items a Subscription matches: in memory when the resource is known, else in one search of the index for all of them. */
  private async matching({ spec, filters, access }: Compiled, topic: TopicDeclaration, focus: readonly Focus[], itemsOf: ReadonlyMap<Focus, ItemsOf>): Promise<Focus[]> {
    const known = focus.filter((item) => item.resource !== undefined);
    const gone = focus.filter((item) => item.resource === undefined);
    const matched = new Set(known.filter((item) => (!access || readableBy(access, item.resource!)) && matchesSearch(item.resource!, filters, itemsOf.get(item))));
    if (gone.length > 0) {
      // Studies not read again (only stable) or gone from Orthanc: their indexed state answers (this runs before the index forgets them).
      let narrowing: Array<[string, string]> = [];
      let reachable = true;
      if (access && !access.admin) {
        const found = reach(access, topic.type, 'r') !== 'none' ? reach(access, topic.type, 'r') : reach(access, topic.type, 's');
        reachable = found !== 'none';
        if (found === 'compartment') narrowing = compartmentFilter(topic.type, access.patient!);
      }
      if (reachable) {
        const ids = [...new Set(gone.map((item) => item.id))];
        const search = parseSearchQuery(searchDefinitionOf(topic.type),
          [['_id', ids.join(',')], ...spec.filters, ...narrowing, ['_count', String(ids.length)]]);
        const hits = new Set((await this.store.search(search)).ids);
        for (const item of gone) if (hits.has(item.id)) matched.add(item);
      }
    }
    return focus.filter((item) => matched.has(item));
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
