// The notifications of topic-based Subscriptions: the SubscriptionStatus,
// the entries of the events' focus at each content level, and the Bundle
// around them, valid against the official R5 JSON schema. Pure units.
import { expect } from 'chai';
import type { BundleEntry, Resource } from '../../src/fhir/types';
import { withNarrative } from '../../src/resources/narrative';
import { focusEntries, focusEntry, notificationBundle, subscriptionStatus, type StatusInput } from '../../src/resources/notifications';
import type { EventRow } from '../../src/store/subscription-queue';
import { fhirProblems, loadFhirSchema } from '../support/fhir-schema';

const BASE = 'https://pacs.example.org/fhir';
const TOPIC = 'urn:orthanc-fhir:topic:task';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const T0 = Date.UTC(2026, 0, 15, 10, 0, 0);

const event = (number: number, kind: string, focus: string, recorded = T0 + number * 1000): EventRow => ({ number, recorded, event: kind, focus });

const status = (extra: Partial<StatusInput> = {}): StatusInput => ({
  baseUrl: BASE, subscriptionId: 'sub1', topic: TOPIC, status: 'active', type: 'event-notification', eventsSinceSubscriptionStart: 0, ...extra,
});

const taskVersion = (version: number, taskStatus: string): Resource => ({
  resourceType: 'Task', id: 't1', meta: { versionId: String(version), lastUpdated: '2026-01-15T10:00:00Z' },
  status: taskStatus, intent: 'order', for: { reference: 'Patient/p1' },
});

describe('SubscriptionStatus', () => {
  it('of a handshake: the counts as integer64 strings, no event', () => {
    expect(subscriptionStatus(status({ status: 'requested', type: 'handshake' }))).to.deep.equal({
      resourceType: 'SubscriptionStatus',
      status: 'requested',
      type: 'handshake',
      eventsSinceSubscriptionStart: '0',
      subscription: { reference: `${BASE}/Subscription/sub1` },
      topic: TOPIC,
    });
    expect(subscriptionStatus(status({ type: 'heartbeat', eventsSinceSubscriptionStart: 9007199254740991, events: [] })).eventsSinceSubscriptionStart)
      .to.equal('9007199254740991');
  });

  it('lists every event told, numbered, timed, and with its focus', () => {
    const resource = subscriptionStatus(status({
      eventsSinceSubscriptionStart: 12, content: 'id-only',
      events: [event(11, 'create', 'Task/t1/_history/1', Date.UTC(2026, 0, 15, 10, 0, 0, 250)), event(12, 'update', 'Task/t1/_history/2')],
    }));
    expect(resource.eventsSinceSubscriptionStart).to.equal('12');
    expect(resource.notificationEvent).to.deep.equal([
      { eventNumber: '11', timestamp: '2026-01-15T10:00:00.250Z', focus: { reference: `${BASE}/Task/t1/_history/1` } },
      { eventNumber: '12', timestamp: new Date(T0 + 12000).toISOString(), focus: { reference: `${BASE}/Task/t1/_history/2` } },
    ]);
  });

  it('gives the focus for full-resource too, and omits it for empty content', () => {
    const events = [event(1, 'create', 'ServiceRequest/o1/_history/1')];
    const full = subscriptionStatus(status({ content: 'full-resource', events, eventsSinceSubscriptionStart: 1 }));
    expect((full.notificationEvent as Array<Record<string, unknown>>)[0]!.focus).to.deep.equal({ reference: `${BASE}/ServiceRequest/o1/_history/1` });
    const empty = subscriptionStatus(status({ content: 'empty', events, eventsSinceSubscriptionStart: 1 }));
    expect(empty.notificationEvent).to.deep.equal([{ eventNumber: '1', timestamp: new Date(T0 + 1000).toISOString() }]);
  });

  it('carries the errors as text, and no error element without one', () => {
    expect(subscriptionStatus(status({ status: 'error', errors: ['the endpoint answered 500', 'no answer within 10 s'] })).error)
      .to.deep.equal([{ text: 'the endpoint answered 500' }, { text: 'no answer within 10 s' }]);
    expect(subscriptionStatus(status({ errors: [] }))).not.to.have.property('error');
    expect(subscriptionStatus(status())).not.to.have.property('error');
  });
});

describe('focus entries', () => {
  it('tell each event with the method, URL and status of the write it stands for', () => {
    const cases: Array<[string, string, string, string, string]> = [
      ['create', 'Task/t1/_history/1', 'POST', 'Task', '201'],
      ['update', 'Task/t1/_history/2', 'PUT', 'Task/t1', '200'],
      ['stable', 'ImagingStudy/s1', 'PUT', 'ImagingStudy/s1', '200'],
      ['delete', 'ServiceRequest/o1/_history/3', 'DELETE', 'ServiceRequest/o1', '204'],
    ];
    for (const [kind, focus, method, url, responseStatus] of cases) {
      const entry = focusEntry(BASE, event(1, kind, focus));
      const [type, id] = focus.split('/');
      expect(entry, kind).to.deep.equal({ fullUrl: `${BASE}/${type}/${id}`, request: { method, url }, response: { status: responseStatus } });
    }
  });

  it('holds the resource only when given', () => {
    const resource = taskVersion(2, 'in-progress');
    expect(focusEntry(BASE, event(2, 'update', 'Task/t1/_history/2'), resource)).to.deep.equal({
      fullUrl: `${BASE}/Task/t1`, resource, request: { method: 'PUT', url: 'Task/t1' }, response: { status: '200' },
    });
    expect(focusEntry(BASE, event(2, 'update', 'Task/t1/_history/2'))).not.to.have.property('resource');
  });

  it('none for empty content', () => {
    const resources = new Map([['Task/t1/_history/1', taskVersion(1, 'requested')]]);
    expect(focusEntries(BASE, [event(1, 'create', 'Task/t1/_history/1')], 'empty', resources)).to.deep.equal([]);
    expect(focusEntries(BASE, [], 'id-only', resources)).to.deep.equal([]);
  });

  it('one per distinct focus, as its latest event tells it, without the resource for id-only', () => {
    const events = [
      event(1, 'create', 'Task/t1/_history/1'),
      event(2, 'create', 'Task/t2/_history/1'),
      event(3, 'update', 'Task/t1/_history/2'),
      event(4, 'update', 'Task/t1/_history/3'),
    ];
    const resources = new Map([['Task/t1/_history/3', taskVersion(3, 'completed')]]);
    const entries = focusEntries(BASE, events, 'id-only', resources);
    expect(entries.map((e) => [e.fullUrl, e.request?.method, e.request?.url])).to.have.deep.members([
      [`${BASE}/Task/t1`, 'PUT', 'Task/t1'],
      [`${BASE}/Task/t2`, 'POST', 'Task'],
    ]);
    expect(entries).to.have.length(2);
    for (const entry of entries) expect(entry).not.to.have.property('resource');
  });

  it('with the latest event\'s version for full-resource, and none for a focus deleted or gone', () => {
    const v1 = taskVersion(1, 'requested');
    const v2 = taskVersion(2, 'in-progress');
    const resources = new Map<string, Resource>([['Task/t1/_history/1', v1], ['Task/t1/_history/2', v2], ['Task/t2/_history/1', { ...v1, id: 't2' }]]);
    const entries = focusEntries(BASE, [event(1, 'create', 'Task/t1/_history/1'), event(2, 'update', 'Task/t1/_history/2')], 'full-resource', resources);
    expect(entries).to.deep.equal([{ fullUrl: `${BASE}/Task/t1`, resource: v2, request: { method: 'PUT', url: 'Task/t1' }, response: { status: '200' } }]);
    const deleted = focusEntries(BASE, [event(1, 'create', 'Task/t2/_history/1'), event(2, 'delete', 'Task/t2/_history/2')], 'full-resource', resources);
    expect(deleted).to.deep.equal([{ fullUrl: `${BASE}/Task/t2`, request: { method: 'DELETE', url: 'Task/t2' }, response: { status: '204' } }]);
    const gone = focusEntries(BASE, [event(5, 'update', 'Task/t9/_history/4')], 'full-resource', resources);
    expect(gone).to.deep.equal([{ fullUrl: `${BASE}/Task/t9`, request: { method: 'PUT', url: 'Task/t9' }, response: { status: '200' } }]);
  });
});

describe('notification Bundles', function () {
  this.timeout(120000);
  before(() => loadFhirSchema());

  const now = new Date(Date.UTC(2026, 0, 15, 10, 5, 0));

  it('put the SubscriptionStatus first, named by a urn:uuid of its own', () => {
    const statusResource = subscriptionStatus(status({ type: 'heartbeat' }));
    const entry: BundleEntry = focusEntry(BASE, event(1, 'create', 'Task/t1/_history/1'));
    const bundle = notificationBundle(statusResource, [entry], now);
    expect(bundle).to.deep.include({ resourceType: 'Bundle', type: 'subscription-notification', timestamp: '2026-01-15T10:05:00.000Z' });
    expect(bundle.id).to.match(UUID);
    const [first, second, ...rest] = bundle.entry!;
    expect(first!.fullUrl).to.match(/^urn:uuid:/);
    const statusId = first!.fullUrl!.slice('urn:uuid:'.length);
    expect(statusId).to.match(UUID);
    expect(statusId).not.to.equal(bundle.id);
    // With its narrative: a notification goes out past the router that gives answers theirs.
    expect(first!.resource).to.deep.equal(withNarrative({ ...statusResource, id: statusId }));
    expect(first!.resource!.text).to.have.property('status', 'generated');
    expect(second).to.equal(entry);
    expect(rest).to.deep.equal([]);
    // The status given is not changed.
    expect(statusResource).not.to.have.property('id');
  });

  it('are each new: ids differ from one notification to the next', () => {
    const statusResource = subscriptionStatus(status({ type: 'heartbeat' }));
    const a = notificationBundle(statusResource, []);
    const b = notificationBundle(statusResource, []);
    expect(a.id).not.to.equal(b.id);
    expect(a.entry![0]!.fullUrl).not.to.equal(b.entry![0]!.fullUrl);
    expect(a.entry).to.have.length(1);
    expect(Date.parse(a.timestamp as string)).to.be.closeTo(Date.now(), 60000);
  });

  it('of a handshake and a heartbeat are valid R5', () => {
    const handshake = notificationBundle(subscriptionStatus(status({ status: 'requested', type: 'handshake' })), [], now);
    expect(fhirProblems(handshake)).to.deep.equal([]);
    const heartbeat = notificationBundle(subscriptionStatus(status({ type: 'heartbeat', eventsSinceSubscriptionStart: 42, errors: ['the endpoint answered 503'] })), [], now);
    expect(fhirProblems(heartbeat)).to.deep.equal([]);
    // The check bites: an integer64 written as a JSON number is not R5.
    const entry = heartbeat.entry![0]!;
    const numeric = { ...heartbeat, entry: [{ ...entry, resource: { ...entry.resource!, eventsSinceSubscriptionStart: 42 } }] };
    expect(fhirProblems(numeric)).not.to.deep.equal([]);
  });

  it('of events are valid R5 at every content level', () => {
    const events = [event(7, 'create', 'Task/t1/_history/1'), event(8, 'update', 'Task/t1/_history/2'), event(9, 'delete', 'Task/t3/_history/2')];
    const resources = new Map<string, Resource>([['Task/t1/_history/2', taskVersion(2, 'in-progress')]]);
    for (const content of ['empty', 'id-only', 'full-resource'] as const) {
      const statusResource = subscriptionStatus(status({ eventsSinceSubscriptionStart: 9, events, content }));
      const bundle = notificationBundle(statusResource, focusEntries(BASE, events, content, resources), now);
      expect(fhirProblems(bundle), content).to.deep.equal([]);
      expect(bundle.entry, content).to.have.length(content === 'empty' ? 1 : 3);
    }
    const full = notificationBundle(subscriptionStatus(status({ events, content: 'full-resource' })), focusEntries(BASE, events, 'full-resource', resources), now);
    expect(full.entry![1]!.resource).to.deep.equal(withNarrative(taskVersion(2, 'in-progress')));
  });
});
