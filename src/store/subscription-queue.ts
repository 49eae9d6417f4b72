// The durable side of topic-based Subscriptions: one row per Subscription
// with its delivery state, and its queue of events. An event is queued in
// the transaction of the change that caused it (a write through /fhir, or
// the advance of the imaging index over Orthanc's change log), numbered per
// Subscription from its counter, which the same transaction increments: the
// numbers follow the commit order, without gaps, and a receiver drops a
// duplicate by its number. Delivery takes a lease on the row (so that one
// Orthanc of several sharing the store delivers a Subscription at a time,
// and another takes over when it dies), then settles it.
import type { SqlValue } from '../search/search-sql';

/** A Subscription as the queue knows it: what changes fire it, and how to deliver (JSON, kept opaque here). */
export interface SubscriberRow {
  id: string;
  status: string;
  spec: string;
}

export interface QueuedEvent {
  subscription: string;
  /** Epoch milliseconds. */
  recorded: number;
  /** What happened to the focus: create, update, delete, or a topic's event code. */
  event: string;
  /** `Type/id/_history/version`, or `Type/id` for a resource read live. */
  focus: string;
}

export interface DeliveryState extends SubscriberRow {
  topic: string;
  /** Events queued since the Subscription started (eventsSinceSubscriptionStart). */
  events: number;
  /** The highest event number the receiver acknowledged. */
  delivered: number;
  /** Failed attempts in a row. */
  attempts: number;
  /** Epoch ms: no attempt before. */
  nextAttempt: number;
  /** Epoch ms of the last notification the receiver acknowledged (heartbeats count from it). */
  lastSent: number;
  /** Bumped by every register(): a delivery settles only the generation it claimed. */
  generation: number;
  /** Events not queued because the backlog was full. */
  dropped: number;
  error?: string;
}

export interface EventRow {
  number: number;
  recorded: number;
  event: string;
  focus: string;
}

/** What a delivery attempt ends with; fields left out are kept. */
export interface Settlement {
  delivered?: number;
  attempts: number;
  nextAttempt: number;
  lastSent?: number;
  /** null clears it. */
  error?: string | null;
}

/** What the deliverer reads of the committed queue (Store.subscriptions), outside any transaction. */
export interface SubscriptionReads {
  state(id: string): Promise<DeliveryState | undefined>;
  /** Subscriptions with work possibly due (not off, not leased; events queued, not active, or timed): the deliverer decides. */
  candidates(now: number, limit: number): Promise<DeliveryState[]>;
  /** Events numbered from..to (inclusive), in order, at most `limit`. */
  events(id: string, from: number, to: number, limit: number): Promise<EventRow[]>;
}

/** The queue's statements, run inside a store transaction (StoreWriter.subscriptions). */
export interface SubscriptionWrites extends SubscriptionReads {
  /** The Subscriptions of `topic` that are not off. */
  subscribers(topic: string): Promise<SubscriberRow[]>;
  /** Changes whenever a Subscription's row does (registered, retired, its status set): what subscribers() answers may be kept until then. */
  generation(): Promise<string>;
  /** Queues events, numbering each after its Subscription's last. */
  enqueue(events: readonly QueuedEvent[]): Promise<void>;
  /**
   * Creates or updates a Subscription's row; a new request (status
   * requested) is attempted at once. Counters are kept. `timed`: it has a
   * heartbeat or an end, so it is looked at even with nothing queued.
   */
  register(id: string, topic: string, status: string, spec: string, timed: boolean): Promise<void>;
  /**
   * A deleted Subscription: its events go, its row stays (off), so that one
   * made again under the same id numbers its events on from where it was
   * (a receiver dropping duplicates by number would drop new ones otherwise).
   */
  retire(id: string): Promise<void>;
  /** Takes the delivery of these Subscriptions until `until` (epoch ms): those no other holds. */
  claim(ids: readonly string[], owner: string, now: number, until: number): Promise<DeliveryState[]>;
  /**
   * Ends a claimed delivery: the lease is released. Its outcome is recorded
   * only if the Subscription is still at the generation claimed (not written
   * meanwhile); false when it was, or the lease was lost.
   */
  settle(id: string, owner: string, generation: number, settlement: Settlement): Promise<boolean>;
  /** Deletes up to `limit` acknowledged events recorded before `before`; how many. */
  prune(before: number, limit: number): Promise<number>;
}

export type Dialect = 'sqlite' | 'postgresql';

/** The setting that changes with every change of a Subscription's row. */
const GENERATION = 'subscriptions-generation';

/** Undelivered events one Subscription may have queued. */
export const MAX_BACKLOG = 100000;

export function subscriptionSchema(dialect: Dialect): string {
  const text = dialect === 'sqlite' ? 'TEXT' : 'TEXT COLLATE "C"';
  return `CREATE TABLE IF NOT EXISTS subscription_state (
  id ${text} PRIMARY KEY, topic ${text} NOT NULL, status ${text} NOT NULL, spec TEXT NOT NULL,
  events BIGINT NOT NULL DEFAULT 0, delivered BIGINT NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt BIGINT NOT NULL DEFAULT 0, last_sent BIGINT NOT NULL DEFAULT 0, timed INTEGER NOT NULL DEFAULT 0,
  generation BIGINT NOT NULL DEFAULT 0, dropped BIGINT NOT NULL DEFAULT 0,
  lease_until BIGINT NOT NULL DEFAULT 0, lease_owner ${text}, error TEXT);
CREATE INDEX IF NOT EXISTS subscription_by_topic ON subscription_state (topic, status);
CREATE TABLE IF NOT EXISTS subscription_event (
  subscription ${text} NOT NULL, number BIGINT NOT NULL, recorded BIGINT NOT NULL, event ${text} NOT NULL, focus ${text} NOT NULL,
  PRIMARY KEY (subscription, number));
CREATE INDEX IF NOT EXISTS subscription_event_by_recorded ON subscription_event (recorded);`;
}

interface StateRow {
  id: string;
  topic: string;
  status: string;
  spec: string;
  events: number | string;
  delivered: number | string;
  generation: number | string;
  dropped: number | string;
  attempts: number;
  next_attempt: number | string;
  last_sent: number | string;
  error: string | null;
}

const STATE_COLUMNS = 'id, topic, status, spec, events, delivered, generation, dropped, attempts, next_attempt, last_sent, error';

function stateOf(row: StateRow): DeliveryState {
  return {
    id: row.id, topic: row.topic, status: row.status, spec: row.spec,
    events: Number(row.events), delivered: Number(row.delivered), attempts: row.attempts,
    nextAttempt: Number(row.next_attempt), lastSent: Number(row.last_sent), generation: Number(row.generation), dropped: Number(row.dropped),
    ...(row.error !== null ? { error: row.error } : {}),
  };
}

/** Runs one statement (`?` placeholders) on the transaction's connection, answering its rows. */
export type Execute = <T>(text: string, params: readonly SqlValue[]) => Promise<T[]>;

/** The queue's statements over a transaction's connection, for either dialect. */
export function subscriptionWrites(execute: Execute, dialect: Dialect): SubscriptionWrites {
  const greatest = dialect === 'sqlite' ? 'max' : 'GREATEST';
  const bump = () => execute(`INSERT INTO settings (key, value) VALUES (?, '1')
    ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(settings.value AS BIGINT) + 1 AS TEXT)`, [GENERATION]);
  return {
    subscribers: (topic) => execute<SubscriberRow>("SELECT id, status, spec FROM subscription_state WHERE topic = ? AND status <> 'off' ORDER BY id", [topic]),

    async generation() {
      return (await execute<{ value: string }>('SELECT value FROM settings WHERE key = ?', [GENERATION]))[0]?.value ?? '0';
    },

    async enqueue(events) {
      // Grouped by Subscription, in id order: one counter update each, and the
      // same lock order in every transaction (no deadlock between two).
      const bySubscription = new Map<string, QueuedEvent[]>();
      for (const event of events) bySubscription.set(event.subscription, [...(bySubscription.get(event.subscription) ?? []), event]);
      for (const id of [...bySubscription.keys()].sort()) {
        const queued = bySubscription.get(id)!;
        // A receiver gone for good does not make the queue grow without end: past MAX_BACKLOG undelivered events, no more are queued (the deliverer says so).
        const [row] = await execute<{ events: number | string }>('UPDATE subscription_state SET events = events + ? WHERE id = ? AND events - delivered < ? RETURNING events',
          [queued.length, id, MAX_BACKLOG]);
        if (!row) {
          // Retired in this transaction, or its backlog is full: counted, for $status to tell.
          await execute('UPDATE subscription_state SET dropped = dropped + ? WHERE id = ?', [queued.length, id]);
          continue;
        }
        const first = Number(row.events) - queued.length + 1;
        const values = queued.map(() => '(?, ?, ?, ?, ?)').join(', ');
        await execute(`INSERT INTO subscription_event (subscription, number, recorded, event, focus) VALUES ${values}`,
          queued.flatMap((event, i) => [id, first + i, event.recorded, event.event, event.focus]));
      }
    },

    async register(id, topic, status, spec, timed) {
      await bump();
      await execute(`INSERT INTO subscription_state (id, topic, status, spec, timed) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET topic = excluded.topic, status = excluded.status, spec = excluded.spec, timed = excluded.timed,
          generation = subscription_state.generation + 1,
          attempts = CASE WHEN excluded.status = 'requested' THEN 0 ELSE subscription_state.attempts END,
          next_attempt = CASE WHEN excluded.status = 'requested' THEN 0 ELSE subscription_state.next_attempt END,
          error = CASE WHEN excluded.status = 'requested' THEN NULL ELSE subscription_state.error END`, [id, topic, status, spec, timed ? 1 : 0]);
    },

    async retire(id) {
      await bump();
      await execute('DELETE FROM subscription_event WHERE subscription = ?', [id]);
      await execute(`UPDATE subscription_state SET status = 'off', delivered = events, attempts = 0, next_attempt = 0, error = NULL,
        generation = generation + 1 WHERE id = ?`, [id]);
    },

    async state(id) {
      const [row] = await execute<StateRow>(`SELECT ${STATE_COLUMNS} FROM subscription_state WHERE id = ?`, [id]);
      return row ? stateOf(row) : undefined;
    },

    async candidates(now, limit) {
      const rows = await execute<StateRow>(`SELECT ${STATE_COLUMNS} FROM subscription_state
        WHERE status <> 'off' AND lease_until < ? AND (events > delivered OR status <> 'active' OR timed = 1)
        ORDER BY next_attempt, id LIMIT ?`, [now, limit]);
      return rows.map(stateOf);
    },

    async claim(ids, owner, now, until) {
      if (ids.length === 0) return [];
      const rows = await execute<StateRow>(`UPDATE subscription_state SET lease_until = ?, lease_owner = ?
        WHERE id IN (${ids.map(() => '?').join(', ')}) AND lease_until < ? RETURNING ${STATE_COLUMNS}`, [until, owner, ...ids, now]);
      return rows.map(stateOf);
    },

    async events(id, from, to, limit) {
      const rows = await execute<{ number: number | string; recorded: number | string; event: string; focus: string }>(
        'SELECT number, recorded, event, focus FROM subscription_event WHERE subscription = ? AND number >= ? AND number <= ? ORDER BY number LIMIT ?',
        [id, from, to, limit]);
      return rows.map((row) => ({ number: Number(row.number), recorded: Number(row.recorded), event: row.event, focus: row.focus }));
    },

    async settle(id, owner, generation, settlement) {
      const rows = await execute(`UPDATE subscription_state SET
          delivered = ${greatest}(delivered, ?), attempts = ?, next_attempt = ?, last_sent = ${greatest}(last_sent, ?),
          error = CASE WHEN ? = 1 THEN ? ELSE error END, lease_until = 0, lease_owner = NULL
        WHERE id = ? AND lease_owner = ? AND generation = ? RETURNING id`, [
        settlement.delivered ?? 0, settlement.attempts, settlement.nextAttempt, settlement.lastSent ?? 0,
        settlement.error !== undefined ? 1 : 0, settlement.error ?? null, id, owner, generation]);
      if (rows.length > 0) return true;
      // Written meanwhile: what this delivery found concerns a Subscription that is no more; only the lease goes.
      await execute('UPDATE subscription_state SET lease_until = 0, lease_owner = NULL WHERE id = ? AND lease_owner = ?', [id, owner]);
      return false;
    },

    async prune(before, limit) {
      const rows = await execute(`DELETE FROM subscription_event WHERE (subscription, number) IN (
          SELECT e.subscription, e.number FROM subscription_event e JOIN subscription_state s ON s.id = e.subscription
          WHERE e.recorded < ? AND e.number <= s.delivered LIMIT ?) RETURNING number`, [before, limit]);
      return rows.length;
    },
  };
}
