// What a Subscription asks for, checked against what the server delivers:
// the endpoint allow-list (compared on parsed URLs), each 422 and the
// element it names, the filters as a search of the topic's type, the status
// a write leaves, and the subscriber's credentials as kept. Pure units.
import { expect } from 'chai';
import { parseScopes, reach, type Access } from '../../src/fhir/access';
import { OperationOutcomeError } from '../../src/fhir/outcome';
import type { Resource } from '../../src/fhir/types';
import {
  accessOf, CHANNEL_TYPE_SYSTEM, DEFAULT_MAX_COUNT, DEFAULT_TIMEOUT_SECONDS, endpointAllowed, filterQuery, MAX_MAX_COUNT, MAX_TIMEOUT_SECONDS,
  ownerOf, requestedStatus, storedAccess, subscriptionSpec, type SpecOptions,
} from '../../src/resources/subscription-spec';
import { topicOf, TOPICS, type TopicDeclaration } from '../../src/resources/subscription-topics';

const TASK_TOPIC = 'urn:orthanc-fhir:topic:task';
const STUDY_TOPIC = 'urn:orthanc-fhir:topic:imaging-study';
const ORDER_TOPIC = 'urn:orthanc-fhir:topic:service-request';
const BASE = 'https://pacs.example.org/fhir';
const OPTIONS: SpecOptions = { allowedEndpoints: ['https://ris.example.org/hooks', 'http://127.0.0.1:8080/'], baseUrl: BASE };

function subscription(extra: Record<string, unknown> = {}): Resource {
  return {
    resourceType: 'Subscription',
    status: 'requested',
    topic: TASK_TOPIC,
    channelType: { system: CHANNEL_TYPE_SYSTEM, code: 'rest-hook' },
    endpoint: 'https://ris.example.org/hooks/task',
    ...extra,
  };
}

function topic(url: string): TopicDeclaration {
  const found = topicOf(url);
  if (!found) throw new Error(`no topic ${url}`);
  return found;
}

/** The OperationOutcomeError `run` throws (anything else fails the test). */
function failure(run: () => unknown): OperationOutcomeError {
  try {
    run();
  } catch (error) {
    if (error instanceof OperationOutcomeError) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

/** Asserts a 422 whose (single) issue names `expression`. */
function refused(run: () => unknown, expression: string, code = 'processing'): void {
  const error = failure(run);
  expect(error.status, expression).to.equal(422);
  expect(error.outcome.issue).to.have.length(1);
  expect(error.outcome.issue[0]!.code, expression).to.equal(code);
  expect(error.outcome.issue[0]!.expression, expression).to.deep.equal([expression]);
}

describe('endpointAllowed', () => {
  const allowed = ['https://ris.example.org/hooks'];
  const check = (cases: Array<[string, boolean]>, prefixes: readonly string[] = allowed) => {
    for (const [endpoint, expected] of cases) expect(endpointAllowed(endpoint, prefixes), endpoint).to.equal(expected);
  };

  it('needs the same scheme, host and port, and the path under the prefix', () => {
    check([
      ['https://ris.example.org/hooks', true],
      ['https://ris.example.org/hooks/', true],
      ['https://ris.example.org/hooks/task/1', true],
      ['http://ris.example.org/hooks/task', false],
      ['https://ris.example.org:8443/hooks/task', false],
      ['https://evil.example.net/hooks/task', false],
      ['https://sub.ris.example.org/hooks/task', false],
      ['https://ris.example.org.evil.net/hooks/task', false],
      ['https://ris.example.org/', false],
      ['https://ris.example.org/other/hooks', false],
    ]);
  });

  it('cuts the path prefix on a segment boundary only', () => {
    check([
      ['https://ris.example.org/hooksevil', false],
      ['https://ris.example.org/hooks-admin/x', false],
      ['https://ris.example.org/hook', false],
    ]);
    check([
      ['https://ris.example.org/hooks/x', true],
      ['https://ris.example.org/hooks/', true],
      ['https://ris.example.org/hooksx', false],
      ['https://ris.example.org/hooks', false],
    ], ['https://ris.example.org/hooks/']);
  });

  it('compares scheme and host case-insensitively, the path as written', () => {
    check([
      ['HTTPS://RIS.Example.ORG/hooks/task', true],
      ['https://ris.example.org/HOOKS/task', false],
    ]);
  });

  it('refuses user info, even an empty user with a password, and user info that hides the host', () => {
    check([
      ['https://user@ris.example.org/hooks/task', false],
      ['https://user:secret@ris.example.org/hooks/task', false],
      ['https://:secret@ris.example.org/hooks/task', false],
      ['https://ris.example.org@evil.example.net/hooks/task', false],
      ['https://ris.example.org:443@evil.example.net/hooks/task', false],
    ]);
  });

  it('resolves dot segments, percent-encoded or not, before comparing the path', () => {
    check([
      ['https://ris.example.org/hooks/../admin', false],
      ['https://ris.example.org/hooks/%2e%2e/admin', false],
      ['https://ris.example.org/hooks/%2E%2E/admin', false],
      ['https://ris.example.org/hooks/.%2e/admin', false],
      ['https://ris.example.org/hooks\\..\\admin', false],
      ['https://ris.example.org/hooks/./../../admin', false],
      // Dot segments that stay under the prefix, or come back to it.
      ['https://ris.example.org/hooks/a/../b', true],
      ['https://ris.example.org/admin/../hooks/task', true],
    ]);
  });

  it('does not let a query string or a fragment make another host pass', () => {
    check([
      ['https://evil.example.net/?next=https://ris.example.org/hooks', false],
      ['https://evil.example.net/#https://ris.example.org/hooks', false],
      ['https://evil.example.net?https://ris.example.org/hooks/x', false],
      ['https://ris.example.org/other?https://ris.example.org/hooks', false],
      ['https://ris.example.org/other#/hooks/x', false],
      // A query or fragment on an allowed URL is the receiver's business.
      ['https://ris.example.org/hooks/task?token=evil.example.net', true],
      ['https://ris.example.org/hooks/task#part', true],
    ]);
  });

  it('treats a default port written explicitly as the default, and only for its own scheme', () => {
    check([
      ['https://ris.example.org:443/hooks/task', true],
      ['https://ris.example.org:80/hooks/task', false],
    ]);
    check([
      ['https://ris.example.org/hooks/task', true],
      ['https://ris.example.org:443/hooks/task', true],
    ], ['https://ris.example.org:443/hooks']);
    check([
      ['http://ris.example.org/x', true],
      ['http://ris.example.org:80/x', true],
      ['http://ris.example.org:443/x', false],
      ['https://ris.example.org:80/x', false],
    ], ['http://ris.example.org:80/']);
  });

  it('compares IPv6 hosts in their canonical form, with their port', () => {
    const prefixes = ['http://[::1]:8080/notify'];
    check([
      ['http://[::1]:8080/notify', true],
      ['http://[0:0:0:0:0:0:0:1]:8080/notify/a', true],
      ['http://[::1]:8081/notify', false],
      ['http://[::1]/notify', false],
      ['http://[::2]:8080/notify', false],
      ['http://127.0.0.1:8080/notify', false],
    ], prefixes);
  });

  it('allows a whole origin with a root prefix, and checks every prefix of the list', () => {
    check([
      ['http://127.0.0.1:8080', true],
      ['http://127.0.0.1:8080/anything/at/all', true],
      ['http://127.0.0.1:8081/', false],
      ['https://ris.example.org/hooks/x', true],
      ['https://ris.example.org/x', false],
    ], OPTIONS.allowedEndpoints);
  });

  it('refuses what is not an http(s) URL, and everything with an empty list', () => {
    check([
      ['not a url', false],
      ['', false],
      ['/hooks/task', false],
      ['ftp://ris.example.org/hooks/task', false],
      ['file:///etc/passwd', false],
      ['ws://ris.example.org/hooks/task', false],
    ]);
    check([['https://ris.example.org/hooks/task', false]], []);
  });
});

describe('subscriptionSpec', () => {
  it('reduces a minimal Subscription to its spec, with the defaults', () => {
    expect(subscriptionSpec(subscription(), OPTIONS)).to.deep.equal({
      topic: TASK_TOPIC,
      filters: [],
      endpoint: 'https://ris.example.org/hooks/task',
      headers: [],
      content: 'id-only',
      contentType: 'application/fhir+json',
      timeoutSeconds: DEFAULT_TIMEOUT_SECONDS,
      maxCount: DEFAULT_MAX_COUNT,
      baseUrl: BASE,
      fhirVersion: '5.0',
    });
  });

  it('keeps every element the deliverer needs', () => {
    const access: Access = { admin: false, scopes: ['user/Task.rs', 'openid'], grants: parseScopes(['user/Task.rs', 'openid']), subject: 'ris', issuer: 'https://auth.example.org', client: 'ris-app' };
    const spec = subscriptionSpec(subscription({
      endpoint: 'http://127.0.0.1:8080/notify',
      filterBy: [{ resourceType: 'Task', filterParameter: 'status', value: 'completed' }],
      parameter: [{ name: 'Authorization', value: 'Bearer abc' }, { name: 'X-Tenant', value: 'a b;c' }],
      content: 'full-resource',
      contentType: 'application/json',
      heartbeatPeriod: 60,
      timeout: 30,
      maxCount: 5,
      end: '2031-01-01T00:00:00Z',
    }), { ...OPTIONS, fhirVersion: '4.0', access });
    expect(spec).to.deep.equal({
      topic: TASK_TOPIC,
      filters: [['status', 'completed']],
      endpoint: 'http://127.0.0.1:8080/notify',
      headers: [['Authorization', 'Bearer abc'], ['X-Tenant', 'a b;c']],
      content: 'full-resource',
      contentType: 'application/json',
      heartbeatSeconds: 60,
      timeoutSeconds: 30,
      maxCount: 5,
      end: Date.UTC(2031, 0, 1),
      baseUrl: BASE,
      fhirVersion: '4.0',
      access: { admin: false, scopes: ['user/Task.rs', 'openid'], subject: 'ris', issuer: 'https://auth.example.org', client: 'ris-app' },
    });
    // Kept as JSON with the queue's row: nothing in it that JSON loses.
    expect(JSON.parse(JSON.stringify(spec))).to.deep.equal(spec);
  });

  it('reads an end with an offset as the instant it names, and any version but 4.0 as R5', () => {
    const spec = subscriptionSpec(subscription({ end: '2031-01-01T02:00:00+02:00' }), { ...OPTIONS, fhirVersion: '4.3' });
    expect(spec.end).to.equal(Date.UTC(2031, 0, 1));
    expect(spec.fhirVersion).to.equal('5.0');
  });

  it('refuses a topic the server does not serve', () => {
    for (const url of [undefined, 'urn:orthanc-fhir:topic:Task', 'task', `${BASE}/SubscriptionTopic/task`, 'urn:orthanc-fhir:topic:patient']) {
      refused(() => subscriptionSpec(subscription({ topic: url }), OPTIONS), 'Subscription.topic');
    }
    for (const url of [TASK_TOPIC, STUDY_TOPIC, ORDER_TOPIC]) expect(subscriptionSpec(subscription({ topic: url }), OPTIONS).topic).to.equal(url);
  });

  it('takes rest-hook only, from its code system or without a system', () => {
    expect(subscriptionSpec(subscription({ channelType: { code: 'rest-hook' } }), OPTIONS).endpoint).to.equal('https://ris.example.org/hooks/task');
    for (const channelType of [
      undefined,
      { system: CHANNEL_TYPE_SYSTEM, code: 'websocket' },
      { system: CHANNEL_TYPE_SYSTEM, code: 'email' },
      { system: CHANNEL_TYPE_SYSTEM },
      { system: 'http://example.org/channel-types', code: 'rest-hook' },
      { system: 'http://hl7.org/fhir/subscription-channel-type', code: 'rest-hook' },
    ]) {
      refused(() => subscriptionSpec(subscription({ channelType }), OPTIONS), 'Subscription.channelType');
    }
  });

  it('needs an endpoint, within the allow-list (a business rule)', () => {
    refused(() => subscriptionSpec(subscription({ endpoint: undefined }), OPTIONS), 'Subscription.endpoint');
    refused(() => subscriptionSpec(subscription({ endpoint: 'https://evil.example.net/hooks/task' }), OPTIONS), 'Subscription.endpoint', 'business-rule');
    refused(() => subscriptionSpec(subscription({ endpoint: 'https://ris.example.org/hooks/%2e%2e/admin' }), OPTIONS), 'Subscription.endpoint', 'business-rule');
    refused(() => subscriptionSpec(subscription(), { ...OPTIONS, allowedEndpoints: [] }), 'Subscription.endpoint', 'business-rule');
  });

  it('takes the three content levels and JSON content types only', () => {
    for (const content of ['empty', 'id-only', 'full-resource'] as const) expect(subscriptionSpec(subscription({ content }), OPTIONS).content).to.equal(content);
    for (const content of ['full', 'id', 'EMPTY']) refused(() => subscriptionSpec(subscription({ content }), OPTIONS), 'Subscription.content');
    expect(subscriptionSpec(subscription({ contentType: 'application/fhir+json' }), OPTIONS).contentType).to.equal('application/fhir+json');
    expect(subscriptionSpec(subscription({ contentType: 'application/json' }), OPTIONS).contentType).to.equal('application/json');
    for (const contentType of ['application/fhir+xml', 'application/xml', 'text/plain', 'application/fhir+jsonx', 'xapplication/json']) {
      refused(() => subscriptionSpec(subscription({ contentType }), OPTIONS), 'Subscription.contentType');
    }
  });

  it('bounds heartbeatPeriod, timeout and maxCount to whole numbers', () => {
    const bounds: Array<[string, number, keyof ReturnType<typeof subscriptionSpec>]> = [
      ['heartbeatPeriod', 86400, 'heartbeatSeconds'],
      ['timeout', MAX_TIMEOUT_SECONDS, 'timeoutSeconds'],
      ['maxCount', MAX_MAX_COUNT, 'maxCount'],
    ];
    expect(MAX_TIMEOUT_SECONDS).to.equal(60);
    expect(MAX_MAX_COUNT).to.equal(100);
    for (const [element, max, key] of bounds) {
      expect(subscriptionSpec(subscription({ [element]: 1 }), OPTIONS)[key], element).to.equal(1);
      expect(subscriptionSpec(subscription({ [element]: max }), OPTIONS)[key], element).to.equal(max);
      for (const value of [0, -1, max + 1, 1.5, '10', null, true]) {
        refused(() => subscriptionSpec(subscription({ [element]: value }), OPTIONS), `Subscription.${element}`);
      }
    }
  });

  it('sends the headers of parameter in order, but none the deliverer frames the request with', () => {
    const headers = [{ name: 'Authorization', value: 'Bearer x' }, { name: 'X-Api-Key', value: 'k' }, { name: 'authorization', value: 'twice' }];
    expect(subscriptionSpec(subscription({ parameter: headers }), OPTIONS).headers).to.deep.equal([['Authorization', 'Bearer x'], ['X-Api-Key', 'k'], ['authorization', 'twice']]);
    for (const name of ['Host', 'host', 'Content-Length', 'content-type', 'Content-Type', 'Transfer-Encoding', 'Connection', 'Upgrade', 'TE', 'Trailer', 'Keep-Alive', 'Expect']) {
      refused(() => subscriptionSpec(subscription({ parameter: [{ name: 'X-Ok', value: '1' }, { name, value: 'x' }] }), OPTIONS), 'Subscription.parameter[1].name');
    }
    for (const name of ['X Bad', 'X:Bad', 'X-Bad\r\nHost', '', '(x)', 'Ä']) {
      refused(() => subscriptionSpec(subscription({ parameter: [{ name, value: 'x' }] }), OPTIONS), 'Subscription.parameter[0].name');
    }
  });

  it('refuses a header value that would split the request', () => {
    for (const value of ['a\r\nHost: evil.example.net', 'a\nb', 'a\rb', 'a\0b', '\r\n']) {
      refused(() => subscriptionSpec(subscription({ parameter: [{ name: 'X-Ok', value: 'fine' }, { name: 'X-Bad', value }] }), OPTIONS), 'Subscription.parameter[1].value');
    }
    expect(subscriptionSpec(subscription({ parameter: [{ name: 'X-Tab', value: 'a\tb' }] }), OPTIONS).headers).to.deep.equal([['X-Tab', 'a\tb']]);
  });
});

describe('filterBy as a search of the topic\'s type', () => {
  const task = () => topic(TASK_TOPIC);
  const filters = (...filterBy: Array<Record<string, unknown>>) => subscription({ filterBy });

  it('gives the search parameters, with their modifier, in order', () => {
    expect(filterQuery(task(), filters(
      { resourceType: 'Task', filterParameter: 'status', modifier: 'not', value: 'cancelled' },
      { filterParameter: 'owner', value: 'Organization/radiology' },
      { resourceType: 'http://hl7.org/fhir/StructureDefinition/Task', filterParameter: 'patient', comparator: 'eq', value: 'Patient/p1' },
      { filterParameter: 'based-on', value: 'ServiceRequest/o1' },
      { filterParameter: 'status', value: 'requested,in-progress' },
    ))).to.deep.equal([
      ['status:not', 'cancelled'],
      ['owner', 'Organization/radiology'],
      ['patient', 'Patient/p1'],
      ['based-on', 'ServiceRequest/o1'],
      ['status', 'requested,in-progress'],
    ]);
    expect(filterQuery(topic(STUDY_TOPIC), filters(
      { resourceType: 'ImagingStudy', filterParameter: 'modality', value: 'http://dicom.nema.org/resources/ontology/DCM|CT' },
      { filterParameter: 'identifier', value: 'urn:dicom:uid|urn:oid:1.2.3' },
    ))).to.deep.equal([['modality', 'http://dicom.nema.org/resources/ontology/DCM|CT'], ['identifier', 'urn:dicom:uid|urn:oid:1.2.3']]);
    expect(filterQuery(task(), subscription())).to.deep.equal([]);
    expect(subscriptionSpec(filters({ filterParameter: 'owner', value: 'Organization/o' }), OPTIONS).filters).to.deep.equal([['owner', 'Organization/o']]);
    // The worklist's stations are Devices named by their AE title: filtered by identifier.
    expect(subscriptionSpec(filters({ filterParameter: 'owner', modifier: 'identifier', value: 'urn:dicom:ae|CT01' }), OPTIONS).filters)
      .to.deep.equal([['owner:identifier', 'urn:dicom:ae|CT01']]);
  });

  it('accepts every filter each topic declares, with each modifier it declares', () => {
    const values: Record<string, string> = {
      patient: 'Patient/p1', owner: 'Organization/o1', 'based-on': 'ServiceRequest/o1', modality: 'CT', identifier: 'urn:example:acc|A1', status: 'active',
    };
    for (const declared of TOPICS) {
      for (const filter of declared.filters) {
        const value = values[filter.param];
        expect(value, filter.param).to.be.a('string');
        expect(filterQuery(declared, filters({ resourceType: declared.type, filterParameter: filter.param, value })), `${declared.id} ${filter.param}`)
          .to.deep.equal([[filter.param, value]]);
        for (const modifier of filter.modifiers ?? []) {
          expect(filterQuery(declared, filters({ filterParameter: filter.param, modifier, value }))).to.deep.equal([[`${filter.param}:${modifier}`, value]]);
        }
      }
    }
  });

  it('refuses a filter on another type than the topic\'s', () => {
    refused(() => filterQuery(task(), filters({ filterParameter: 'status', value: 'ready' }, { resourceType: 'ServiceRequest', filterParameter: 'status', value: 'active' })),
      'Subscription.filterBy[1].resourceType');
    refused(() => filterQuery(task(), filters({ resourceType: 'http://hl7.org/fhir/StructureDefinition/ImagingStudy', filterParameter: 'patient', value: 'Patient/p' })),
      'Subscription.filterBy[0].resourceType');
    refused(() => subscriptionSpec(subscription({ topic: STUDY_TOPIC, filterBy: [{ resourceType: 'Task', filterParameter: 'patient', value: 'Patient/p' }] }), OPTIONS),
      'Subscription.filterBy[0].resourceType');
  });

  it('refuses a parameter the topic cannot filter by, even one its type can be searched by', () => {
    for (const param of ['code', 'intent', '_id', '_lastUpdated', 'nonsense', undefined]) {
      refused(() => filterQuery(task(), filters({ filterParameter: 'status', value: 'ready' }, { filterParameter: param, value: 'x' })), 'Subscription.filterBy[1].filterParameter');
    }
    // The ImagingStudy topic's modality is not the ServiceRequest topic's.
    refused(() => filterQuery(topic(ORDER_TOPIC), filters({ filterParameter: 'modality', value: 'CT' })), 'Subscription.filterBy[0].filterParameter');
  });

  it('takes the comparator eq only', () => {
    for (const comparator of ['ne', 'gt', 'ge', 'lt', 'le', 'sa', 'eb', 'ap']) {
      refused(() => filterQuery(task(), filters({ filterParameter: 'status', comparator, value: 'ready' })), 'Subscription.filterBy[0].comparator');
    }
  });

  it('takes only the modifiers the topic declares for the parameter', () => {
    for (const [param, modifier] of [['status', 'missing'], ['status', 'text'], ['status', 'in'], ['owner', 'not'], ['patient', 'identifier'], ['patient', 'Patient']]) {
      refused(() => filterQuery(task(), filters({ filterParameter: param, modifier, value: 'x' })), 'Subscription.filterBy[0].modifier');
    }
    refused(() => filterQuery(topic(STUDY_TOPIC), filters({ filterParameter: 'modality', modifier: 'not', value: 'CT' })), 'Subscription.filterBy[0].modifier');
  });

  it('refuses, as a 422 on filterBy, a value the search parser refuses', () => {
    for (const filter of [
      { filterParameter: 'status', value: 'a|b|c' },
      { filterParameter: 'status', value: '|' },
      { filterParameter: 'patient', value: 'Group/g1' },
    ]) {
      refused(() => filterQuery(task(), filters({ filterParameter: 'status', value: 'ready' }, filter)), 'Subscription.filterBy');
    }
    // An ImagingStudy is based on an order, not on a Patient.
    refused(() => filterQuery(topic(STUDY_TOPIC), filters({ filterParameter: 'based-on', value: 'Patient/p1' })), 'Subscription.filterBy');
    refused(() => subscriptionSpec(subscription({ filterBy: [{ filterParameter: 'patient', value: 'Group/g1' }] }), OPTIONS), 'Subscription.filterBy');
  });
});

describe('requestedStatus', () => {
  it('leaves off and requested as asked, whatever came before', () => {
    for (const previous of [undefined, 'requested', 'active', 'error', 'off']) {
      expect(requestedStatus('off', previous), String(previous)).to.equal('off');
      expect(requestedStatus('requested', previous), String(previous)).to.equal('requested');
    }
  });

  it('keeps active or error when the server set one of them, and reads active as a request otherwise', () => {
    const cases: Array<[string, string | undefined, string]> = [
      ['active', 'active', 'active'],
      ['active', 'error', 'error'],
      ['error', 'error', 'error'],
      ['error', 'active', 'active'],
      ['active', undefined, 'requested'],
      ['active', 'requested', 'requested'],
      ['active', 'off', 'requested'],
    ];
    for (const [asked, previous, expected] of cases) expect(requestedStatus(asked, previous), `${asked} after ${String(previous)}`).to.equal(expected);
  });

  it('refuses error the server did not set, and any other status', () => {
    for (const previous of [undefined, 'requested', 'off']) refused(() => requestedStatus('error', previous), 'Subscription.status');
    for (const asked of ['entered-in-error', undefined, 'Active', 1]) {
      for (const previous of [undefined, 'active']) refused(() => requestedStatus(asked, previous), 'Subscription.status');
    }
  });
});

describe('the subscriber\'s access, as kept', () => {
  it('keeps everything but the parsed grants, and parses them again from the scopes', () => {
    const scopes = ['patient/Task.rs', 'patient/ImagingStudy.r', 'launch/patient'];
    const access: Access = { admin: false, scopes, grants: parseScopes(scopes), patient: 'p1', subject: 'u', issuer: 'https://auth.example.org', client: 'c', user: 'clerk' };
    const stored = storedAccess(access);
    expect(stored).to.deep.equal({ admin: false, scopes, patient: 'p1', subject: 'u', issuer: 'https://auth.example.org', client: 'c', user: 'clerk' });
    expect(stored).not.to.have.property('grants');
    const restored = accessOf(JSON.parse(JSON.stringify(stored)) as typeof stored);
    expect(restored).to.deep.equal(access);
    for (const [type, permission] of [['Task', 's'], ['Task', 'c'], ['ImagingStudy', 'r'], ['ImagingStudy', 's'], ['ServiceRequest', 'r']] as const) {
      expect(reach(restored, type, permission), `${type}.${permission}`).to.equal(reach(access, type, permission));
    }
    expect(reach(restored, 'Task', 's')).to.equal('compartment');
  });

  it('keeps an administrator an administrator', () => {
    const admin: Access = { admin: true, scopes: [], grants: [], user: 'orthanc' };
    expect(storedAccess(admin)).to.deep.equal({ admin: true, scopes: [], user: 'orthanc' });
    expect(reach(accessOf(storedAccess(admin)), 'AuditEvent', 'r')).to.equal('all');
  });
});

describe('Subscription spec: headers Node could not send, owners, leap seconds', () => {
  const OPTIONS = { allowedEndpoints: ['https://ris.example.org/notify/'], baseUrl: 'https://pacs/fhir' };
  const base = (extra: Record<string, unknown> = {}): Resource => ({
    resourceType: 'Subscription', status: 'requested', topic: 'urn:orthanc-fhir:topic:task',
    channelType: { code: 'rest-hook' }, endpoint: 'https://ris.example.org/notify/1', ...extra,
  });
  const refusal = (resource: Resource): string[] => {
    try {
      subscriptionSpec(resource, OPTIONS);
    } catch (error) {
      if (error instanceof OperationOutcomeError) return error.outcome.issue.flatMap((issue) => issue.expression ?? []);
      throw error;
    }
    return [];
  };

  it('refuses control characters and characters beyond Latin-1 in a header value, and too many headers', () => {
    for (const value of ['a\u0001b', 'del\u007f', 'caf€']) {
      expect(refusal(base({ parameter: [{ name: 'X-A', value }] })), JSON.stringify(value)).to.deep.equal(['Subscription.parameter[0].value']);
    }
    expect(refusal(base({ parameter: [{ name: 'X-A', value: 'café' }] }))).to.deep.equal([]);
    expect(refusal(base({ parameter: Array.from({ length: 21 }, (_, i) => ({ name: `X-${i}`, value: 'v' })) }))).to.deep.equal(['Subscription.parameter']);
  });

  it('names the owner by subject and issuer, else client, else Basic user, and none with authorization off', () => {
    expect(ownerOf({ issuer: 'https://idp', subject: 'u1', client: 'c' })).to.equal('https://idp|u1');
    expect(ownerOf({ client: 'c' })).to.equal('client:c');
    expect(ownerOf({ user: 'clerk' })).to.equal('user:clerk');
    expect(ownerOf(undefined)).to.equal(undefined);
    expect(ownerOf({ issuer: 'https://a', subject: 'u1' })).not.to.equal(ownerOf({ issuer: 'https://b', subject: 'u1' }));
  });

  it('reads a leap-second end as the moment before the next second', () => {
    expect(subscriptionSpec(base({ end: '2026-06-30T23:59:60Z' }), OPTIONS).end).to.equal(Date.parse('2026-06-30T23:59:59.999Z'));
    expect(subscriptionSpec(base({ end: '2026-06-30T23:59:60.5+02:00' }), OPTIONS).end).to.equal(Date.parse('2026-06-30T23:59:59.999+02:00'));
  });
});
