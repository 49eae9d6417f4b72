import { expect } from 'chai';
import { OperationOutcomeError } from '../../src/fhir/outcome';
import { fromR4, toR4 } from '../../src/fhir/r4';
import { R5_ONLY_TYPES } from '../../src/fhir/r4/capability-statement';
import { DEFAULT_R4_REASON, SUBSCRIPTION_ERROR_EXTENSION } from '../../src/fhir/r4/subscription';
import type { Resource } from '../../src/fhir/types';
import { validateR4Resource } from '../../src/validation';
import { loadR4Schema, validateR4 } from '../support/fhir-schema-r4';
import { bundleR4Errors, r4SchemaErrors } from './fixtures/r4/r4-schema';

type Json = Record<string, unknown>;

const X5 = 'http://hl7.org/fhir/5.0/StructureDefinition/extension-';
const IG = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/';
const CHANNEL_TYPES = 'http://terminology.hl7.org/CodeSystem/subscription-channel-type';
const TOPIC = 'https://orthanc.example.org/fhir/SubscriptionTopic/task-status';

/** The R5 Subscription the core stores, every element of the brief set. */
const R5_SUBSCRIPTION: Resource = {
  resourceType: 'Subscription',
  id: 'sub1',
  meta: { versionId: '2', lastUpdated: '2030-06-01T09:00:00Z' },
  identifier: [{ system: 'urn:example:ris', value: 'S-1' }],
  name: 'RIS task updates',
  status: 'active',
  topic: TOPIC,
  end: '2031-01-01T00:00:00Z',
  reason: 'Tell the RIS when a step completes',
  filterBy: [
    { resourceType: 'Task', filterParameter: 'status', value: 'completed' },
    { resourceType: 'Task', filterParameter: 'code', modifier: 'not', value: 'cancel' },
    { resourceType: 'Task', filterParameter: 'authored-on', comparator: 'ge', value: '2030-01-01' },
  ],
  channelType: { system: CHANNEL_TYPES, code: 'rest-hook' },
  endpoint: 'https://ris.example.org/notify',
  parameter: [{ name: 'Authorization', value: 'Bearer x' }],
  heartbeatPeriod: 60,
  timeout: 30,
  contentType: 'application/fhir+json',
  content: 'id-only',
  maxCount: 10,
};

/** Its R4 form (the backport IG's profile). */
const R4_SUBSCRIPTION: Resource = {
  resourceType: 'Subscription',
  id: 'sub1',
  meta: { versionId: '2', lastUpdated: '2030-06-01T09:00:00Z', profile: [`${IG}backport-subscription`] },
  extension: [
    { url: `${X5}Subscription.identifier`, valueIdentifier: { system: 'urn:example:ris', value: 'S-1' } },
    { url: `${X5}Subscription.name`, valueString: 'RIS task updates' },
  ],
  status: 'active',
  end: '2031-01-01T00:00:00Z',
  reason: 'Tell the RIS when a step completes',
  criteria: TOPIC,
  _criteria: {
    extension: [
      { url: `${IG}backport-filter-criteria`, valueString: 'Task?status=completed' },
      { url: `${IG}backport-filter-criteria`, valueString: 'Task?code:not=cancel' },
      { url: `${IG}backport-filter-criteria`, valueString: 'Task?authored-on=ge2030-01-01' },
    ],
  },
  channel: {
    extension: [
      { url: `${IG}backport-heartbeat-period`, valueUnsignedInt: 60 },
      { url: `${IG}backport-timeout`, valueUnsignedInt: 30 },
      { url: `${IG}backport-max-count`, valuePositiveInt: 10 },
    ],
    type: 'rest-hook',
    endpoint: 'https://ris.example.org/notify',
    payload: 'application/fhir+json',
    _payload: { extension: [{ url: `${IG}backport-payload-content`, valueCode: 'id-only' }] },
    header: ['Authorization: Bearer x'],
  },
};

/** The OperationOutcomeError `run` throws (fails when it returns). */
function failure(run: () => unknown): OperationOutcomeError {
  try {
    run();
  } catch (error) {
    expect(error).to.be.instanceOf(OperationOutcomeError);
    return error as OperationOutcomeError;
  }
  expect.fail('no error was thrown');
}

const withCriteria = (...criteria: unknown[]): Resource => ({
  ...R4_SUBSCRIPTION,
  _criteria: { extension: criteria.map((valueString) => ({ url: `${IG}backport-filter-criteria`, valueString })) },
});

describe('R4 view: Subscription (Subscriptions R5 Backport IG)', function () {
  this.timeout(60000);
  before(loadR4Schema);

  describe('Subscription', () => {
    it('R5 -> R4 is the backport profile, R4 valid, and comes back unchanged', () => {
      const r4 = toR4(R5_SUBSCRIPTION);
      expect(r4).to.deep.equal(R4_SUBSCRIPTION);
      expect(r4SchemaErrors(r4)).to.deep.equal([]);
      expect(validateR4(r4)).to.deep.equal([]);
      validateR4Resource('Subscription', r4);
      expect(fromR4(r4)).to.deep.equal(R5_SUBSCRIPTION);
    });

    it('R4 -> R5 -> R4 gives an R4 client back what it wrote', () => {
      expect(fromR4(R4_SUBSCRIPTION)).to.deep.equal(R5_SUBSCRIPTION);
      expect(toR4(fromR4(R4_SUBSCRIPTION))).to.deep.equal(R4_SUBSCRIPTION);
      const minimal: Resource = {
        resourceType: 'Subscription',
        status: 'requested',
        reason: 'x',
        criteria: TOPIC,
        channel: { type: 'rest-hook', endpoint: 'https://ris.example.org/notify', payload: 'application/fhir+json' },
      };
      expect(fromR4(minimal)).to.deep.equal({
        resourceType: 'Subscription',
        status: 'requested',
        topic: TOPIC,
        reason: 'x',
        channelType: { system: CHANNEL_TYPES, code: 'rest-hook' },
        endpoint: 'https://ris.example.org/notify',
        contentType: 'application/fhir+json',
      });
      const back = toR4(fromR4(minimal)) as Json;
      expect(back).to.deep.equal({ ...minimal, meta: { profile: [`${IG}backport-subscription`] } });
    });

    it('does not mutate its input', () => {
      const before = JSON.stringify([R5_SUBSCRIPTION, R4_SUBSCRIPTION]);
      fromR4(toR4(R5_SUBSCRIPTION));
      toR4(fromR4(R4_SUBSCRIPTION));
      expect(JSON.stringify([R5_SUBSCRIPTION, R4_SUBSCRIPTION])).to.equal(before);
    });

    it('fills what R4 requires: a reason, a payload; the fixed reason does not come back', () => {
      const { reason: _reason, contentType: _contentType, ...bare } = R5_SUBSCRIPTION;
      const r4 = toR4(bare) as Json;
      expect(r4.reason).to.equal(DEFAULT_R4_REASON);
      expect((r4.channel as Json).payload).to.equal('application/fhir+json');
      expect(r4SchemaErrors(r4)).to.deep.equal([]);
      const r5 = fromR4(r4 as Resource) as Json;
      expect(r5).to.not.have.key('reason');
      // R5 without contentType comes back with the default the R4 form states.
      expect(r5).to.deep.equal({ ...bare, contentType: 'application/fhir+json' });
    });

    it('each filterBy is one criteria extension: modifier, comparator (eq only before a number), no type', () => {
      const filters = (filterBy: Json[]) =>
        ((toR4({ ...R5_SUBSCRIPTION, filterBy }) as Json)._criteria as Json).extension as Json[];
      expect(filters([{ resourceType: 'Task', filterParameter: 'status', comparator: 'eq', value: 'completed' }])).to.deep.equal([
        { url: `${IG}backport-filter-criteria`, valueString: 'Task?status=completed' },
      ]);
      expect(filters([{ resourceType: 'Task', filterParameter: 'priority', comparator: 'eq', value: '5' }])[0]!.valueString).to.equal('Task?priority=eq5');
      expect(filters([{ filterParameter: 'status', value: 'a&b%' }])[0]!.valueString).to.equal('?status=a%26b%25');
      const back = (filterBy: Json[]) => (fromR4(toR4({ ...R5_SUBSCRIPTION, filterBy })) as Json).filterBy;
      for (const filterBy of [
        [{ resourceType: 'Task', filterParameter: 'priority', comparator: 'eq', value: '5' }],
        [{ filterParameter: 'status', value: 'a&b%' }],
        [{ resourceType: 'ServiceRequest', filterParameter: 'code', modifier: 'text', value: 'CT chest' }],
      ]) {
        expect(back(filterBy)).to.deep.equal(filterBy);
      }
      // eq is search's default: on a token it is written, and read back, as none.
      expect(back([{ resourceType: 'Task', filterParameter: 'status', comparator: 'eq', value: 'completed' }])).to.deep.equal([
        { resourceType: 'Task', filterParameter: 'status', value: 'completed' },
      ]);
    });

    it('parses a criteria string with several parameters, a modifier and a prefix into one filterBy each', () => {
      const r5 = fromR4(withCriteria('Task?status:not=cancelled&authored-on=lt2030-06-01T00:00:00Z&owner=Device%2Fct1&code=negative')) as Json;
      expect(r5.filterBy).to.deep.equal([
        { resourceType: 'Task', filterParameter: 'status', modifier: 'not', value: 'cancelled' },
        { resourceType: 'Task', filterParameter: 'authored-on', comparator: 'lt', value: '2030-06-01T00:00:00Z' },
        { resourceType: 'Task', filterParameter: 'owner', value: 'Device/ct1' },
        // 'ne' before a letter is part of the value, not a prefix.
        { resourceType: 'Task', filterParameter: 'code', value: 'negative' },
      ]);
      const twice = fromR4(withCriteria('Task?status=completed', 'ServiceRequest?status=active')) as Json;
      expect(twice.filterBy).to.deep.equal([
        { resourceType: 'Task', filterParameter: 'status', value: 'completed' },
        { resourceType: 'ServiceRequest', filterParameter: 'status', value: 'active' },
      ]);
    });

    it('refuses a criteria string it cannot read with a 422 naming the extension', () => {
      for (const [index, criteria] of [
        [0, 'status=completed'],
        [0, 'Task?'],
        [0, 'Task?status'],
        [0, 'Task?=completed'],
        [0, 'Task?status=completed&&code=x'],
        [0, 'Task Order?status=completed'],
        [0, 'Task?status=%E0%A4%A'],
        [1, 42],
      ] as const) {
        const list = index === 1 ? ['Task?status=completed', criteria] : [criteria];
        const error = failure(() => fromR4(withCriteria(...list)));
        expect(error.status, String(criteria)).to.equal(422);
        expect(error.outcome.issue[0]!.code).to.equal('processing');
        expect(error.outcome.issue[0]!.expression).to.deep.equal([`Subscription.criteria.extension[${index}]`]);
        expect(error.outcome.issue[0]!.diagnostics).to.contain('Type?parameter');
      }
    });

    it('refuses a channel header that is not "Name: value"', () => {
      const r4 = { ...R4_SUBSCRIPTION, channel: { ...(R4_SUBSCRIPTION.channel as Json), header: ['Authorization: Bearer x', 'no-colon'] } };
      const error = failure(() => fromR4(r4));
      expect(error.status).to.equal(422);
      expect(error.outcome.issue[0]!.expression).to.deep.equal(['Subscription.channel.header[1]']);
      const spaced = { ...R4_SUBSCRIPTION, channel: { ...(R4_SUBSCRIPTION.channel as Json), header: ['X-Key:  a: b '] } };
      expect((fromR4(spaced) as Json).parameter).to.deep.equal([{ name: 'X-Key', value: 'a: b' }]);
    });

    it('moves the delivery error to R4 error, and takes no error from a client', () => {
      const failing: Resource = {
        ...R5_SUBSCRIPTION,
        status: 'error',
        extension: [{ url: SUBSCRIPTION_ERROR_EXTENSION, valueString: 'HTTP 503 from https://ris.example.org/notify' }],
      };
      const r4 = toR4(failing) as Json;
      expect(r4.error).to.equal('HTTP 503 from https://ris.example.org/notify');
      expect((r4.extension as Json[]).map((extension) => extension.url)).to.not.include(SUBSCRIPTION_ERROR_EXTENSION);
      expect(r4SchemaErrors(r4)).to.deep.equal([]);
      const { extension: _extension, ...withoutError } = failing;
      expect(fromR4(r4 as Resource)).to.deep.equal({ ...withoutError, status: 'error' });
      const sneaky = { ...R4_SUBSCRIPTION, extension: [{ url: SUBSCRIPTION_ERROR_EXTENSION, valueString: 'x' }], error: 'y' };
      const r5 = fromR4(sneaky) as Json;
      expect(r5).to.not.have.any.keys('error', 'extension');
    });

    it('status entered-in-error, managingEntity and a custom channel type keep their R5 values in extensions', () => {
      const r5: Resource = {
        ...R5_SUBSCRIPTION,
        status: 'entered-in-error',
        managingEntity: { reference: 'Organization/ris' },
        channelType: { system: 'urn:example:channels', code: 'rest-hook', display: 'Hook' },
      };
      const r4 = toR4(r5) as Json;
      expect(r4.status).to.equal('off');
      expect(r4._status).to.deep.equal({ extension: [{ url: `${X5}Subscription.status`, valueCode: 'entered-in-error' }] });
      expect(r4.extension).to.deep.include({ url: `${X5}Subscription.managingEntity`, valueReference: { reference: 'Organization/ris' } });
      const channel = r4.channel as Json;
      expect(channel.type).to.equal('rest-hook');
      expect(channel._type).to.deep.equal({ extension: [{ url: `${IG}backport-channel-type`, valueCoding: r5.channelType }] });
      expect(r4SchemaErrors(r4)).to.deep.equal([]);
      expect(fromR4(r4 as Resource)).to.deep.equal(r5);
      // A changed R4 type wins over the stale extension.
      const edited: Resource = { ...(r4 as Resource), channel: { ...channel, type: 'websocket' } };
      expect((fromR4(edited) as Json).channelType).to.deep.equal({ system: CHANNEL_TYPES, code: 'websocket' });
    });

    it('R4 validation of Subscription writes', () => {
      validateR4Resource('Subscription', R4_SUBSCRIPTION);
      const { channel: _channel, ...noChannel } = R4_SUBSCRIPTION;
      const error = failure(() => validateR4Resource('Subscription', { ...noChannel, topic: TOPIC }));
      expect(error.status).to.equal(422);
      const expressions = error.outcome.issue.map((issue) => issue.expression?.[0]);
      expect(expressions).to.include.members(['Subscription.channel', 'Subscription.topic']);
      const badStatus = failure(() => validateR4Resource('Subscription', { ...R4_SUBSCRIPTION, status: 'entered-in-error' }));
      expect(badStatus.outcome.issue.map((issue) => issue.expression?.[0])).to.deep.equal(['Subscription.status']);
    });

    it('SubscriptionTopic is served in R5 only', () => {
      expect(R5_ONLY_TYPES).to.include('SubscriptionTopic');
    });
  });

  describe('SubscriptionStatus and the notification Bundle', () => {
    const status = (type: string, events: Json[]): Resource => ({
      resourceType: 'SubscriptionStatus',
      id: 'st1',
      status: 'active',
      type,
      eventsSinceSubscriptionStart: '12',
      ...(events.length > 0 ? { notificationEvent: events } : {}),
      subscription: { reference: 'Subscription/sub1' },
      topic: TOPIC,
    });
    const EVENT = { eventNumber: '12', timestamp: '2030-06-01T10:00:00Z', focus: { reference: 'Task/t1' } };
    const R5_TASK: Resource = {
      resourceType: 'Task',
      id: 't1',
      status: 'completed',
      intent: 'order',
      for: { reference: 'Patient/p1' },
      requestedPerformer: [{ concept: { text: 'CT technologist' } }],
    };
    const notification = (content: 'empty' | 'id-only' | 'full-resource'): Resource => {
      const events = content === 'empty' ? [] : [EVENT];
      const entry: Json[] = [{ fullUrl: 'urn:uuid:6c1a7a52-2d1b-4b8e-9d0e-3f8e1c2b5a10', resource: status('event-notification', events) }];
      if (content === 'id-only') entry.push({ fullUrl: 'https://orthanc.example.org/fhir/Task/t1' });
      if (content === 'full-resource') entry.push({ fullUrl: 'https://orthanc.example.org/fhir/Task/t1', resource: R5_TASK });
      return { resourceType: 'Bundle', id: 'n1', type: 'subscription-notification', timestamp: '2030-06-01T10:00:01Z', entry };
    };

    it('$status: the backport-subscription-status-r4 Parameters', () => {
      const r4 = toR4({
        ...status('query-status', [{ ...EVENT, additionalContext: [{ reference: 'Patient/p1' }] }]),
        error: [{ text: 'HTTP 503' }],
      }) as Json;
      expect(r4).to.deep.equal({
        resourceType: 'Parameters',
        id: 'st1',
        meta: { profile: [`${IG}backport-subscription-status-r4`] },
        parameter: [
          { name: 'subscription', valueReference: { reference: 'Subscription/sub1' } },
          { name: 'topic', valueCanonical: TOPIC },
          { name: 'status', valueCode: 'active' },
          { name: 'type', valueCode: 'query-status' },
          { name: 'events-since-subscription-start', valueString: '12' },
          {
            name: 'notification-event',
            part: [
              { name: 'event-number', valueString: '12' },
              { name: 'timestamp', valueInstant: '2030-06-01T10:00:00Z' },
              { name: 'focus', valueReference: { reference: 'Task/t1' } },
              { name: 'additional-context', valueReference: { reference: 'Patient/p1' } },
            ],
          },
          { name: 'error', valueCodeableConcept: { text: 'HTTP 503' } },
        ],
      });
      expect(r4SchemaErrors(r4)).to.deep.equal([]);
      expect(validateR4(r4)).to.deep.equal([]);
      // A Parameters outside a notification Bundle stays a Parameters.
      expect((fromR4(r4 as Resource) as Json).resourceType).to.equal('Parameters');
    });

    for (const content of ['empty', 'id-only', 'full-resource'] as const) {
      it(`a ${content} notification is an R4 history Bundle of the IG, R4 valid, and comes back`, () => {
        const r5 = notification(content);
        const r4 = toR4(r5) as Json;
        expect(r4.type).to.equal('history');
        expect(r4.meta).to.deep.equal({ profile: [`${IG}backport-subscription-notification-r4`] });
        expect(r4).to.not.have.key('_type');
        const entries = r4.entry as Json[];
        expect(entries[0]!.request).to.deep.equal({ method: 'GET', url: 'Subscription/sub1/$status' });
        expect(entries[0]!.response).to.deep.equal({ status: '200' });
        expect((entries[0]!.resource as Json).resourceType).to.equal('Parameters');
        expect((entries[0]!.resource as Json).meta).to.deep.equal({ profile: [`${IG}backport-subscription-status-r4`] });
        // bdl-3, bdl-4: a history Bundle's entries have a request and a response.
        for (const entry of entries) expect(entry).to.include.keys('request', 'response');
        if (content === 'empty') expect(entries).to.have.length(1);
        else {
          expect(entries[1]!.fullUrl).to.equal('https://orthanc.example.org/fhir/Task/t1');
          expect(entries[1]!.request).to.deep.equal({ method: 'GET', url: 'Task/t1' });
          expect(entries[1]!.response).to.deep.equal({ status: '200' });
        }
        if (content === 'full-resource') {
          expect(entries[1]!.resource).to.deep.equal(toR4(R5_TASK));
          expect((entries[1]!.resource as Json).performerType).to.deep.equal([{ text: 'CT technologist' }]);
        } else if (content === 'id-only') {
          expect(entries[1]).to.not.have.key('resource');
        }
        expect(validateR4(r4)).to.deep.equal([]);
        expect(bundleR4Errors(r4)).to.deep.equal([]);
        expect(fromR4(r4 as Resource)).to.deep.equal(r5);
      });
    }

    it('keeps the request and response a focus entry has', () => {
      const r5 = notification('full-resource');
      const entry = r5.entry as Json[];
      entry[1] = { ...entry[1], request: { method: 'PUT', url: 'Task/t1' }, response: { status: '200 OK', etag: 'W/"3"' } };
      entry.push({ fullUrl: 'https://orthanc.example.org/fhir/Task/t2', resource: { ...R5_TASK, id: 't2' }, request: { method: 'POST', url: 'Task' } });
      const r4 = toR4(r5) as Json;
      const entries = r4.entry as Json[];
      expect(entries[1]!.request).to.deep.equal({ method: 'PUT', url: 'Task/t1' });
      expect(entries[1]!.response).to.deep.equal({ status: '200 OK', etag: 'W/"3"' });
      expect(entries[2]!.response).to.deep.equal({ status: '201' });
      expect(validateR4(r4)).to.deep.equal([]);
      expect(fromR4(r4 as Resource)).to.deep.equal(r5);
    });

    it('reads an R4 notification as the IG writes it', () => {
      const r4: Resource = {
        resourceType: 'Bundle',
        meta: { profile: [`${IG}backport-subscription-notification-r4`] },
        type: 'history',
        entry: [
          {
            fullUrl: 'urn:uuid:2d5afc69-6ef2-420f-a8d1-8500c99eb96c',
            resource: {
              resourceType: 'Parameters',
              meta: { profile: [`${IG}backport-subscription-status-r4`] },
              parameter: [
                { name: 'subscription', valueReference: { reference: 'https://example.org/fhir/Subscription/admission' } },
                { name: 'status', valueCode: 'active' },
                { name: 'type', valueCode: 'heartbeat' },
                { name: 'events-since-subscription-start', valueString: '2' },
              ],
            },
            request: { method: 'GET', url: 'https://example.org/fhir/Subscription/admission/$status' },
            response: { status: '200' },
          },
        ],
      };
      expect(fromR4(r4)).to.deep.equal({
        resourceType: 'Bundle',
        type: 'subscription-notification',
        entry: [
          {
            fullUrl: 'urn:uuid:2d5afc69-6ef2-420f-a8d1-8500c99eb96c',
            resource: {
              resourceType: 'SubscriptionStatus',
              status: 'active',
              type: 'heartbeat',
              eventsSinceSubscriptionStart: '2',
              subscription: { reference: 'https://example.org/fhir/Subscription/admission' },
            },
          },
        ],
      });
      expect(toR4(fromR4(r4))).to.deep.equal(r4);
    });
  });
});
