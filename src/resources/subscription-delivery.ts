// Delivers what the queue holds (store/subscription-queue.ts), in the
// background: a handshake when a Subscription is requested, its events in
// order (at most maxCount per notification), heartbeats when it is quiet.
// Each delivery takes the Subscription's lease in the store first, so one
// Orthanc of several delivers it at a time, and another takes over when
// one dies mid-way (a receiver may then get a notification twice: the
// event numbers tell). A failure is retried with a growing, jittered wait,
// capped at MaxRetryInterval; the events stay queued meanwhile, so a
// receiver that comes back gets every one. Nothing here waits on a
// receiver while serving /fhir: at most PARALLEL deliveries are in flight,
// at most PER_ORIGIN to one host, each bounded by its timeout, each holding
// at most maxCount events.
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { randomUUID } from 'node:crypto';
import type { Resource } from '../fhir/types';
import type { Store } from '../store/store';
import { MAX_BACKLOG, type DeliveryState, type EventRow, type Settlement } from '../store/subscription-queue';
import { focusEntries, notificationBundle, subscriptionStatus, type NotificationType } from './notifications';
import { readableBy } from './compartments';
import { accessOf, endpointAllowed, type SubscriptionSpec } from './subscription-spec';

export interface DeliveryHooks {
  /** An event's focus now (a versioned reference: that version); undefined when it is gone. */
  focus(reference: string, baseUrl: string): Promise<Resource | undefined>;
  /** Records a status the server decides (a new version of the Subscription), unless it changed since `claimed`. */
  setStatus(id: string, status: 'active' | 'error' | 'off', claimed: { generation: number }, error?: string): Promise<void>;
  /** The R4 (backport) form of a notification, for an R4 subscriber. */
  toR4(resource: Resource): Resource;
  log(message: string): void;
}

export interface DeliveryOptions {
  /** Checked again at each delivery: an endpoint the configuration no longer allows gets nothing. */
  allowedEndpoints: readonly string[];
  maxRetrySeconds: number;
  eventRetentionHours: number;
  /** How often the queue is looked at without being woken (another Orthanc may have queued events). */
  pollMs: number;
}

const PARALLEL = 32;
const PER_ORIGIN = 8;
/** A lease outlives its delivery's timeout by this much. */
const LEASE_MARGIN_MS = 5000;
/** Time allowed for reading up to maxCount focus resources (full-resource) before the POST. */
const FOCUS_READS_MS = 30000;
/** Failed handshakes before a requested Subscription is in error. */
const HANDSHAKE_ATTEMPTS = 3;
/** Failed deliveries in a row before an active Subscription is in error (it keeps being retried). */
const ERROR_AFTER = 5;
const CANDIDATES = 10000;
const SPEC_CACHE = 1000;
/** Leases and acknowledgements are not worth a disk sync each: lost in a power cut, a notification is only sent again. */
const LAZY = { durable: false } as const;
const PRUNE_EVERY_MS = 10 * 60 * 1000;
const PRUNE_BATCH = 1000;

type Work = 'handshake' | 'events' | 'heartbeat' | 'end';

/** What a Subscription needs next, and from when; undefined: nothing. */
export function dueWork(state: DeliveryState, spec: SubscriptionSpec, now: number): { work: Work; at: number } | undefined {
  if (spec.end !== undefined && now >= spec.end) return { work: 'end', at: now };
  const later = (found: { work: Work; at: number } | undefined) =>
    spec.end !== undefined && (found === undefined || spec.end < found.at) ? { work: 'end' as const, at: spec.end } : found;
  if (state.status === 'requested') return later({ work: 'handshake', at: state.nextAttempt });
  if (state.events > state.delivered) return later({ work: 'events', at: state.nextAttempt });
  // In error and quiet: probed again, to come back to active.
  if (state.status === 'error') return later({ work: state.lastSent === 0 ? 'handshake' : 'heartbeat', at: state.nextAttempt });
  if (state.status === 'active' && spec.heartbeatSeconds !== undefined) {
    return later({ work: 'heartbeat', at: Math.max(state.lastSent + spec.heartbeatSeconds * 1000, state.nextAttempt) });
  }
  return later(undefined);
}

/** The wait before attempt `attempts + 1`: doubling from one second, jittered, capped. */
export function retryDelayMs(attempts: number, maxSeconds: number, random: () => number = Math.random): number {
  const base = Math.min(maxSeconds, 2 ** Math.min(attempts - 1, 20)) * 1000;
  return Math.round(Math.min(maxSeconds * 1000, base * (0.75 + random() * 0.5)));
}

const agents = { http: new HttpAgent({ keepAlive: true, maxSockets: PER_ORIGIN }), https: new HttpsAgent({ keepAlive: true, maxSockets: PER_ORIGIN }) };

/** POSTs a notification; resolves on a 2xx answer, rejects with why otherwise (a redirect is not followed). */
function post(spec: SubscriptionSpec, body: string): Promise<void> {
  const url = new URL(spec.endpoint);
  const secure = url.protocol === 'https:';
  const headers: Record<string, string> = {};
  for (const [name, value] of spec.headers) headers[name] = value;
  headers['content-type'] = spec.contentType === 'application/json' ? 'application/json' : 'application/fhir+json';
  headers['content-length'] = String(Buffer.byteLength(body));
  return new Promise<void>((resolve, reject) => {
    const send = secure ? httpsRequest : httpRequest;
    const request: ClientRequest = send(url, { method: 'POST', headers, agent: secure ? agents.https : agents.http }, (response: IncomingMessage) => {
      response.resume(); // the answer's body is not read, only drained
      response.on('end', () => {
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve();
        else reject(new Error(`the endpoint answered ${status}${status >= 300 && status < 400 ? ' (redirects are not followed)' : ''}`));
      });
      response.on('error', reject);
    });
    // A deadline for the whole exchange (name lookup, connection, answer), not an idle timer: a receiver that trickles is cut off too.
    const deadline = setTimeout(() => request.destroy(new Error(`no answer within ${spec.timeoutSeconds} s`)), spec.timeoutSeconds * 1000);
    request.on('close', () => clearTimeout(deadline));
    request.on('error', reject);
    request.end(body);
  });
}

export class SubscriptionDelivery {
  /** Identifies this process's leases. */
  private readonly owner = randomUUID();
  private readonly inFlight = new Set<string>();
  private readonly perOrigin = new Map<string, number>();
  private timer?: ReturnType<typeof setTimeout>;
  private timerAt = Infinity;
  private ticking = false;
  private again = false;
  private stopped = false;
  private failing = false;
  private lastPrune = 0;
  /** Subscriptions whose row could not be read, said once each. */
  private readonly reported = new Set<string>();
  /** Parsed specs by their text (a few hundred Subscriptions; bounded). */
  private readonly specs = new Map<string, SubscriptionSpec>();
  private settling: Array<{ id: string; generation: number; settlement: Settlement; resolve: (settled: boolean) => void; reject: (error: unknown) => void }> = [];

  constructor(private readonly store: Store, private readonly hooks: DeliveryHooks, private readonly options: DeliveryOptions) {}

  start(): void {
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Events were queued, or a delivery ended: look at the queue again soon. */
  wake(): void {
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    const at = Date.now() + delayMs;
    if (this.timer && at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      void this.tick();
    }, delayMs);
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    try {
      do {
        this.again = false;
        await this.scan();
      } while (this.again && !this.stopped);
      if (this.failing) this.hooks.log('delivering notifications again');
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.hooks.log(`reading the notification queue failed (retried): ${(error as Error)?.stack ?? String(error)}`);
      this.failing = true;
      this.schedule(this.options.pollMs);
    } finally {
      this.ticking = false;
    }
  }

  private async scan(): Promise<void> {
    const now = Date.now();
    const states = await this.store.subscriptions.candidates(now, CANDIDATES);
    let next = now + this.options.pollMs;
    const due: Array<{ id: string; origin: string; leaseMs: number }> = [];
    for (const state of states) {
      if (this.inFlight.has(state.id)) continue;
      let spec: SubscriptionSpec;
      let origin: string;
      try {
        spec = this.specOf(state);
        origin = new URL(spec.endpoint).origin;
      } catch (error) {
        // One row that cannot be read must not hold up the others.
        this.unreadable(state.id, error);
        continue;
      }
      const work = dueWork(state, spec, now);
      if (!work) continue;
      if (work.at > now) {
        next = Math.min(next, work.at);
        continue;
      }
      if (this.inFlight.size >= PARALLEL || (this.perOrigin.get(origin) ?? 0) >= PER_ORIGIN) continue; // woken when one ends
      this.reserve(state.id, origin, 1);
      // The lease covers the POST's deadline, and the reads of the focus resources before it.
      due.push({ id: state.id, origin, leaseMs: spec.timeoutSeconds * 1000 + LEASE_MARGIN_MS + (spec.content === 'full-resource' ? FOCUS_READS_MS : 0) });
    }
    if (due.length > 0) await this.claimAndDeliver(due, now);
    this.schedule(Math.max(0, next - Date.now()));
    if (now - this.lastPrune > PRUNE_EVERY_MS) {
      this.lastPrune = now;
      void this.prune(now).catch((error) => this.hooks.log(`pruning delivered events failed: ${(error as Error)?.message ?? String(error)}`));
    }
  }

  private specOf(state: DeliveryState): SubscriptionSpec {
    let spec = this.specs.get(state.spec);
    if (!spec) {
      spec = JSON.parse(state.spec) as SubscriptionSpec;
      if (this.specs.size >= SPEC_CACHE) this.specs.delete(this.specs.keys().next().value as string);
      this.specs.set(state.spec, spec);
    }
    return spec;
  }

  private unreadable(id: string, error: unknown): void {
    if (this.reported.has(id) || this.reported.size > SPEC_CACHE) return;
    this.reported.add(id);
    this.hooks.log(`Subscription/${id} cannot be delivered: ${(error as Error)?.message ?? String(error)}`);
  }

  private reserve(id: string, origin: string, delta: 1 | -1): void {
    if (delta > 0) this.inFlight.add(id);
    else this.inFlight.delete(id);
    this.perOrigin.set(origin, (this.perOrigin.get(origin) ?? 0) + delta);
    if (this.perOrigin.get(origin) === 0) this.perOrigin.delete(origin);
  }

  /** Takes the leases of the due Subscriptions in one transaction, then delivers each. */
  private async claimAndDeliver(due: ReadonlyArray<{ id: string; origin: string; leaseMs: number }>, now: number): Promise<void> {
    const until = now + Math.max(...due.map((d) => d.leaseMs));
    let claimed: DeliveryState[];
    try {
      claimed = await this.store.transaction((writer) => writer.subscriptions.claim(due.map((d) => d.id), this.owner, now, until), LAZY);
    } catch (error) {
      for (const d of due) this.reserve(d.id, d.origin, -1);
      throw error;
    }
    const byId = new Map(claimed.map((state) => [state.id, state]));
    for (const d of due) {
      const state = byId.get(d.id);
      if (!state) {
        this.reserve(d.id, d.origin, -1); // another Orthanc holds it
        continue;
      }
      void this.deliver(state)
        .catch((error) => this.hooks.log(`Subscription/${d.id}: delivery failed: ${(error as Error)?.stack ?? String(error)}`))
        .finally(() => {
          this.reserve(d.id, d.origin, -1);
          this.wake();
        });
    }
  }

  private async prune(now: number): Promise<void> {
    const before = now - this.options.eventRetentionHours * 3600 * 1000;
    while ((await this.store.transaction((writer) => writer.subscriptions.prune(before, PRUNE_BATCH))) === PRUNE_BATCH) {
      // next batch
    }
  }

  /**
   * Ends a delivery. The settlements of the deliveries that end together
   * share one transaction (one commit instead of one each): a settlement
   * lost in a crash only means the receiver gets that notification again.
   */
  private settle(state: DeliveryState, settlement: Settlement): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.settling.push({ id: state.id, generation: state.generation, settlement, resolve, reject });
      if (this.settling.length === 1) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.settling.splice(0);
    try {
      const results = await this.store.transaction(async (writer) => {
        const settled: boolean[] = [];
        for (const item of batch) settled.push(await writer.subscriptions.settle(item.id, this.owner, item.generation, item.settlement));
        return settled;
      }, LAZY);
      batch.forEach((item, i) => item.resolve(results[i]!));
    } catch (error) {
      for (const item of batch) item.reject(error);
    }
  }

  /** One delivery of one Subscription, under its lease. */
  private async deliver(state: DeliveryState): Promise<void> {
    const id = state.id;
    const now = Date.now();
    const spec = this.specOf(state);
    const due = dueWork(state, spec, now);
    const keep: Settlement = { attempts: state.attempts, nextAttempt: state.nextAttempt };
    if (!due || due.at > now) {
      await this.settle(state, keep);
      return;
    }
    const claimed = { generation: state.generation };
    if (due.work === 'end') {
      if (await this.settle(state, keep)) await this.hooks.setStatus(id, 'off', claimed);
      return;
    }
    if (!endpointAllowed(spec.endpoint, this.options.allowedEndpoints)) {
      const reason = `the endpoint ${spec.endpoint} is no longer in "Fhir.Subscriptions.AllowedEndpoints": nothing is sent to it`;
      if (await this.settle(state, { attempts: state.attempts, nextAttempt: now + this.options.maxRetrySeconds * 1000, error: reason }) && state.status !== 'error') {
        this.hooks.log(`Subscription/${id}: ${reason}`);
        await this.hooks.setStatus(id, 'error', claimed, reason);
      }
      return;
    }
    let failure: string | undefined;
    let delivered: number | undefined;
    try {
      const sent = await this.send(state, spec, due.work);
      if (sent === null) {
        // Nothing left to send (retired meanwhile): nothing is posted.
        await this.settle(state, keep);
        return;
      }
      delivered = sent;
    } catch (error) {
      failure = (error as Error)?.message ?? String(error);
    }
    // A lease lost meanwhile (another Orthanc took over): that one decides the status.
    if (failure === undefined) {
      const settled = await this.settle(state, { ...(delivered !== undefined ? { delivered } : {}), attempts: 0, nextAttempt: 0, lastSent: Date.now(), error: null });
      if (settled && state.status !== 'active') await this.hooks.setStatus(id, 'active', claimed);
      return;
    }
    if (state.events - state.delivered >= MAX_BACKLOG) failure += `; ${MAX_BACKLOG} events wait: newer ones are not queued until these are delivered`;
    const attempts = state.attempts + 1;
    const settled = await this.settle(state, { attempts, nextAttempt: Date.now() + retryDelayMs(attempts, this.options.maxRetrySeconds), error: failure });
    const giveUp = state.status === 'requested' ? attempts >= HANDSHAKE_ATTEMPTS : state.status === 'active' && attempts >= ERROR_AFTER;
    if (settled && giveUp) {
      this.hooks.log(`Subscription/${id}: ${failure}; it is in error (still retried every ${this.options.maxRetrySeconds} s at most)`);
      await this.hooks.setStatus(id, 'error', claimed, failure);
    }
  }

  /** Sends the notification `work` calls for; the last event number it carried, if any; null when there was nothing to send. */
  private async send(state: DeliveryState, spec: SubscriptionSpec, work: Exclude<Work, 'end'>): Promise<number | undefined | null> {
    const type: NotificationType = work === 'events' ? 'event-notification' : work;
    let events: EventRow[] = [];
    if (work === 'events') {
      events = await this.store.subscriptions.events(state.id, state.delivered + 1, state.events, spec.maxCount);
      if (events.length === 0) return null;
    }
    const resources = new Map<string, Resource>();
    if (spec.content === 'full-resource') {
      const access = spec.access && accessOf(spec.access);
      const latest = new Map(events.filter((event) => event.event !== 'delete').map((event) => [event.focus.split('/').slice(0, 2).join('/'), event.focus]));
      for (const focus of latest.values()) {
        const found = await this.hooks.focus(focus, spec.baseUrl);
        // Read now (a study is read live): what the owner may no longer read goes as id-only.
        if (found && (!access || readableBy(access, found))) resources.set(focus, found);
      }
    }
    const status = subscriptionStatus({
      baseUrl: spec.baseUrl, subscriptionId: state.id, topic: spec.topic, status: state.status, type,
      eventsSinceSubscriptionStart: state.events, events, content: spec.content,
    });
    const bundle = notificationBundle(status, focusEntries(spec.baseUrl, events, spec.content, resources));
    await post(spec, JSON.stringify(spec.fhirVersion === '4.0' ? this.hooks.toR4(bundle) : bundle));
    return events.length > 0 ? events[events.length - 1]!.number : undefined;
  }
}
