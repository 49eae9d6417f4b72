// The audit trail: every access recorded as an AuditEvent in the store,
// durably but off the request path. record() queues the event (mapped at
// once, so that a bad record fails its caller, not a batch); a flush every
// INTERVAL_MS, or as soon as BATCH_SIZE wait, writes them in one store
// transaction each (one commit per batch, not per request). Nothing is
// dropped: while the store fails, the batch is retried with backoff, and
// once CAPACITY records wait, record() waits for room (backpressure:
// requests slow down rather than memory grow, or accesses go unrecorded).
import type { AuditEntry } from '../store/audit-log';
import type { Store } from '../store/store';
import { auditEntry, type AuditRecord } from './audit-event';

/** What the trail needs of the store. */
export type AuditStore = Pick<Store, 'audit' | 'outside'>;

export interface AuditTrailOptions {
  /** Where the failures of a flush are told (each, with what waits, and the recovery). */
  log(message: string): void;
  /** Records per transaction at most; a flush starts as soon as this many wait. Default 500. */
  batchSize?: number;
  /** A flush starts this long after the first record waits. Default 200 ms. */
  intervalMs?: number;
  /** Records waiting at most; record() then waits for a flush to make room. Default 20 000. */
  capacity?: number;
  /** The first retry of a failed flush comes after this long, each next one after twice as long. Default 250 ms. */
  retryMs?: number;
  /** The longest wait between retries. Default 30 s. */
  maxRetryMs?: number;
}

const RESOLVED: Promise<void> = Promise.resolve();

export class AuditTrail {
  private readonly log: (message: string) => void;
  private readonly batchSize: number;
  private readonly intervalMs: number;
  private readonly capacity: number;
  private readonly retryMs: number;
  private readonly maxRetryMs: number;

  /** Admitted records, oldest first; at most `capacity`. */
  private readonly queue: AuditEntry[] = [];
  /** Records whose record() waits for room, in the order they came. */
  private readonly blocked: Array<{ resource: AuditEntry; admit: () => void }> = [];
  /** Records taken (queued or blocked) and written so far: a flush writes up to what was taken when it was asked. */
  private taken = 0;
  private written = 0;
  /** The end of the flush in progress and of those waiting for it: one at a time. */
  private tail: Promise<unknown> = RESOLVED;
  /** A background flush is waiting to start. */
  private kicked = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The timer is a retry's: records arriving meanwhile do not start a flush. */
  private retrying = false;
  private failures = 0;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly store: AuditStore, options: AuditTrailOptions) {
    this.log = options.log;
    this.batchSize = positive(options.batchSize, 500, 'batchSize');
    this.intervalMs = positive(options.intervalMs, 200, 'intervalMs');
    this.capacity = Math.max(positive(options.capacity, 20_000, 'capacity'), this.batchSize);
    this.retryMs = positive(options.retryMs, 250, 'retryMs');
    this.maxRetryMs = Math.max(positive(options.maxRetryMs, 30_000, 'maxRetryMs'), this.retryMs);
  }

  /** Records waiting to be written (queued, and those whose record() waits for room). */
  get waiting(): number {
    return this.queue.length + this.blocked.length;
  }

  /**
   * Queues one access. Resolves at once while fewer than `capacity` records
   * wait, else once a flush has made room (it never rejects). Throws a
   * TypeError at once for a record that is no AuditEvent (auditEntry()).
   * After close(), the record is logged and not written.
   */
  record(record: AuditRecord): Promise<void> {
    const resource = auditEntry(record);
    if (this.closed) {
      this.log(`audit trail: an access after the trail was closed is not recorded: ${record.request} (${record.status})`);
      return RESOLVED;
    }
    this.taken++;
    if (this.blocked.length === 0 && this.queue.length < this.capacity) {
      this.queue.push(resource);
      this.schedule();
      return RESOLVED;
    }
    return new Promise<void>((admit) => {
      this.blocked.push({ resource, admit });
      this.schedule();
    });
  }

  /** Writes every record taken until now; rejects when the store fails (they stay queued, retried in the background). */
  flush(): Promise<void> {
    const target = this.taken;
    return this.serial(() => this.drain(target));
  }

  /**
   * The final flush, and no timer after it. Never rejects: when the store
   * fails, how many records were not written is logged, and the record()
   * calls waiting for room resolve.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.stopTimer();
    this.closing = this.serial(async () => {
      try {
        await this.drain(this.taken);
      } catch {
        this.log(`audit trail: closed with ${this.waiting} AuditEvents not written (the store failed)`);
        for (const { admit } of this.blocked.splice(0)) admit();
        this.queue.length = 0;
      }
    });
    return this.closing;
  }

  /** A flush soon: at once when a batch is full or record() waits for room, else after the interval. */
  private schedule(): void {
    if (this.closed || this.retrying) return;
    if (this.queue.length >= this.batchSize || this.blocked.length > 0) {
      this.stopTimer();
      this.kick();
    } else if (this.timer === undefined) {
      this.startTimer(this.intervalMs, false);
    }
  }

  private kick(): void {
    if (this.kicked) return;
    this.kicked = true;
    void this.serial(async () => {
      this.kicked = false;
      // A flush asked before the last one failed waits for the retry, as the others do (flush() does not).
      if (this.retrying) return;
      try {
        await this.drain(this.taken);
      } catch {
        // Logged, and a retry scheduled, by write().
      }
    });
  }

  private startTimer(delay: number, retry: boolean): void {
    this.retrying = retry;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.retrying = false;
      this.kick();
    }, delay);
    // The trail must not keep the process alive: close() writes what is left.
    this.timer.unref?.();
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.retrying = false;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Writes batches until every record taken before `target` is written. */
  private async drain(target: number): Promise<void> {
    while (this.written < target && this.queue.length > 0) await this.write();
  }

  /** One transaction: the oldest `batchSize` records. */
  private async write(): Promise<void> {
    const batch = this.queue.slice(0, this.batchSize);
    try {
      // Outside any transaction of the caller's (a flush asked from a request, or a timer set during one): its own commit.
      await this.store.outside(() => this.store.audit.append(batch));
    } catch (error) {
      this.failures++;
      const delay = Math.min(this.maxRetryMs, this.retryMs * 2 ** Math.min(this.failures - 1, 30));
      this.log(`audit trail: writing ${batch.length} AuditEvents failed (failure ${this.failures}, ${this.waiting} waiting`
        + `${this.closed ? '' : `, next try in ${delay} ms`}): ${(error as Error)?.stack ?? String(error)}`);
      if (!this.closed) {
        this.stopTimer();
        this.startTimer(delay, true);
      }
      throw error;
    }
    if (this.failures > 0) this.log(`audit trail: writing again after ${this.failures} failed attempts`);
    this.failures = 0;
    this.queue.splice(0, batch.length);
    this.written += batch.length;
    while (this.blocked.length > 0 && this.queue.length < this.capacity) {
      const next = this.blocked.shift()!;
      this.queue.push(next.resource);
      next.admit();
    }
    // A successful explicit flush ends a backoff: what waits goes at the usual pace again.
    if (this.retrying) {
      this.stopTimer();
      if (this.queue.length > 0 && !this.closed) this.startTimer(this.intervalMs, false);
    }
  }
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`AuditTrail: ${name} must be a positive number (got ${value})`);
  return value;
}
