// What the deliverer does next for a Subscription (dueWork), and how long
// it waits after a failure (retryDelayMs): the pure parts of delivery.
import { expect } from 'chai';
import { dueWork, retryDelayMs } from '../../src/resources/subscription-delivery';
import type { SubscriptionSpec } from '../../src/resources/subscription-spec';
import type { DeliveryState } from '../../src/store/subscription-queue';

const NOW = Date.UTC(2026, 0, 15, 10, 0, 0);
const SECOND = 1000;

const state = (extra: Partial<DeliveryState> = {}): DeliveryState => ({
  id: 'sub1', status: 'active', spec: '{}', topic: 'urn:orthanc-fhir:topic:task',
  events: 0, delivered: 0, attempts: 0, nextAttempt: 0, lastSent: NOW - 10 * SECOND, generation: 1, dropped: 0, ...extra,
});

const spec = (extra: Partial<SubscriptionSpec> = {}): SubscriptionSpec => ({
  topic: 'urn:orthanc-fhir:topic:task', filters: [], endpoint: 'http://127.0.0.1:8080/notify', headers: [], content: 'id-only',
  contentType: 'application/fhir+json', timeoutSeconds: 10, maxCount: 20, baseUrl: 'https://pacs.example.org/fhir', fhirVersion: '5.0', ...extra,
});

describe('dueWork', () => {
  it('ends a Subscription whose end is reached, whatever else it has to do', () => {
    for (const s of [state({ status: 'requested' }), state({ events: 5, delivered: 2 }), state({ status: 'error', nextAttempt: NOW + 60 * SECOND }), state()]) {
      expect(dueWork(s, spec({ end: NOW - SECOND }), NOW), s.status).to.deep.equal({ work: 'end', at: NOW });
      expect(dueWork(s, spec({ end: NOW }), NOW), s.status).to.deep.equal({ work: 'end', at: NOW });
    }
  });

  it('does the work first when the end comes later, and ends first when it comes before', () => {
    const requested = state({ status: 'requested', nextAttempt: NOW + 5 * SECOND });
    expect(dueWork(requested, spec({ end: NOW + 10 * SECOND }), NOW)).to.deep.equal({ work: 'handshake', at: NOW + 5 * SECOND });
    expect(dueWork(requested, spec({ end: NOW + 2 * SECOND }), NOW)).to.deep.equal({ work: 'end', at: NOW + 2 * SECOND });
    const pending = state({ events: 3, delivered: 1, nextAttempt: NOW + 30 * SECOND });
    expect(dueWork(pending, spec({ end: NOW + 20 * SECOND }), NOW)).to.deep.equal({ work: 'end', at: NOW + 20 * SECOND });
    expect(dueWork(pending, spec({ end: NOW + 40 * SECOND }), NOW)).to.deep.equal({ work: 'events', at: NOW + 30 * SECOND });
    const quiet = state({ lastSent: NOW - 50 * SECOND });
    expect(dueWork(quiet, spec({ heartbeatSeconds: 60, end: NOW + 5 * SECOND }), NOW)).to.deep.equal({ work: 'end', at: NOW + 5 * SECOND });
    expect(dueWork(quiet, spec({ heartbeatSeconds: 60, end: NOW + 3600 * SECOND }), NOW)).to.deep.equal({ work: 'heartbeat', at: NOW + 10 * SECOND });
    // Nothing else to do: the end is the next thing.
    expect(dueWork(quiet, spec({ end: NOW + 3600 * SECOND }), NOW)).to.deep.equal({ work: 'end', at: NOW + 3600 * SECOND });
  });

  it('sends the handshake of a requested Subscription at its next attempt, before any event', () => {
    expect(dueWork(state({ status: 'requested', lastSent: 0 }), spec(), NOW)).to.deep.equal({ work: 'handshake', at: 0 });
    expect(dueWork(state({ status: 'requested', nextAttempt: NOW + 4 * SECOND, events: 2 }), spec({ heartbeatSeconds: 1 }), NOW))
      .to.deep.equal({ work: 'handshake', at: NOW + 4 * SECOND });
  });

  it('delivers pending events at the next attempt, active or in error', () => {
    expect(dueWork(state({ events: 3, delivered: 2 }), spec(), NOW)).to.deep.equal({ work: 'events', at: 0 });
    expect(dueWork(state({ events: 3, delivered: 0, nextAttempt: NOW + 8 * SECOND }), spec({ heartbeatSeconds: 60 }), NOW))
      .to.deep.equal({ work: 'events', at: NOW + 8 * SECOND });
    expect(dueWork(state({ status: 'error', events: 9, delivered: 4, nextAttempt: NOW + 300 * SECOND }), spec(), NOW))
      .to.deep.equal({ work: 'events', at: NOW + 300 * SECOND });
  });

  it('probes a quiet Subscription in error: a handshake if nothing ever reached the receiver, a heartbeat otherwise', () => {
    expect(dueWork(state({ status: 'error', lastSent: 0, nextAttempt: NOW + 60 * SECOND }), spec(), NOW)).to.deep.equal({ work: 'handshake', at: NOW + 60 * SECOND });
    expect(dueWork(state({ status: 'error', lastSent: NOW - 3600 * SECOND, nextAttempt: NOW + 60 * SECOND }), spec(), NOW))
      .to.deep.equal({ work: 'heartbeat', at: NOW + 60 * SECOND });
    // All its events acknowledged: quiet too.
    expect(dueWork(state({ status: 'error', events: 4, delivered: 4, nextAttempt: NOW - SECOND }), spec({ heartbeatSeconds: 3600 }), NOW))
      .to.deep.equal({ work: 'heartbeat', at: NOW - SECOND });
  });

  it('beats an active quiet Subscription a period after the last notification, not before the next attempt', () => {
    expect(dueWork(state({ lastSent: NOW - 10 * SECOND }), spec({ heartbeatSeconds: 60 }), NOW)).to.deep.equal({ work: 'heartbeat', at: NOW + 50 * SECOND });
    expect(dueWork(state({ lastSent: NOW - 120 * SECOND }), spec({ heartbeatSeconds: 60 }), NOW)).to.deep.equal({ work: 'heartbeat', at: NOW - 60 * SECOND });
    expect(dueWork(state({ lastSent: NOW - 10 * SECOND, nextAttempt: NOW + 90 * SECOND }), spec({ heartbeatSeconds: 60 }), NOW))
      .to.deep.equal({ work: 'heartbeat', at: NOW + 90 * SECOND });
  });

  it('has nothing to do for an active quiet Subscription without heartbeats', () => {
    expect(dueWork(state(), spec(), NOW)).to.equal(undefined);
    expect(dueWork(state({ events: 7, delivered: 7, nextAttempt: NOW + SECOND }), spec(), NOW)).to.equal(undefined);
  });
});

describe('retryDelayMs', () => {
  const middle = () => 0.5;

  it('doubles from one second', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((attempts) => retryDelayMs(attempts, 300, middle))).to.deep.equal([1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000]);
  });

  it('jitters by a quarter either way, from the random number given', () => {
    expect(retryDelayMs(1, 300, () => 0)).to.equal(750);
    expect(retryDelayMs(1, 300, () => 0.999999)).to.equal(1250);
    expect(retryDelayMs(3, 300, () => 0)).to.equal(3000);
    expect(retryDelayMs(3, 300, () => 0.25)).to.equal(3500);
    expect(retryDelayMs(3, 300, () => 0.75)).to.equal(4500);
    for (let i = 0; i < 200; i++) expect(retryDelayMs(2, 300)).to.be.within(1500, 2500);
  });

  it('never waits longer than the maximum, jitter or not', () => {
    expect(retryDelayMs(9, 300, middle)).to.equal(256000);
    expect(retryDelayMs(10, 300, middle)).to.equal(300000);
    expect(retryDelayMs(10, 300, () => 0.999999)).to.equal(300000);
    expect(retryDelayMs(10, 300, () => 0)).to.equal(225000);
    expect(retryDelayMs(9, 300, () => 0.999999)).to.equal(300000);
    expect(retryDelayMs(1, 1, () => 0.999999)).to.equal(1000);
    for (let i = 0; i < 200; i++) expect(retryDelayMs(12, 60)).to.be.within(45000, 60000);
  });

  it('does not overflow on many attempts', () => {
    for (const attempts of [21, 22, 64, 1024, 1e9, Number.MAX_SAFE_INTEGER]) {
      expect(retryDelayMs(attempts, 300, middle), String(attempts)).to.equal(300000);
      expect(retryDelayMs(attempts, 86400, middle), String(attempts)).to.equal(86400000);
    }
    expect(Number.isFinite(retryDelayMs(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER / 1000, () => 0.999999))).to.equal(true);
  });
});
