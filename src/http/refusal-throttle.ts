// Requests without valid credentials cost an attacker nothing; each would be
// a permanent AuditEvent. They are recorded one by one up to a rate, then
// counted, and the count is recorded once per interval: the trail shows the
// flood without growing with it, and a flood never waits on the trail.
import type { AuditRecord } from '../resources/audit-event';

export class RefusalThrottle {
  private windowStart = 0;
  private inWindow = 0;
  private suppressed = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly write: (record: AuditRecord) => void,
    private readonly perSecond = 20,
    intervalMs = 10_000,
  ) {
    this.timer = setInterval(() => this.summarize(), intervalMs);
    this.timer.unref();
  }

  /** Records `record` (a refusal without valid credentials), or counts it past the rate. */
  refused(record: AuditRecord): void {
    const now = Date.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.inWindow = 0;
    }
    if (this.inWindow < this.perSecond) {
      this.inWindow++;
      this.write(record);
    } else {
      this.suppressed++;
    }
  }

  private summarize(): void {
    if (this.suppressed === 0) return;
    const count = this.suppressed;
    this.suppressed = 0;
    this.write({
      recorded: new Date().toISOString(), interaction: 'orthanc', action: 'E', request: '(many)', status: 401,
      reason: `${count} more requests without valid credentials were refused and not recorded one by one (more than ${this.perSecond} a second)`,
    });
  }

  close(): void {
    clearInterval(this.timer);
    this.summarize();
  }
}
