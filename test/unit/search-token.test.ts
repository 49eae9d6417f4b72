// Token search on primitive elements (R5 search.html, token table): a `code`
// element takes its system from its required binding's code system (recorded
// as implicitSystem by scripts/gen-search-params.js); id, string, uri and
// boolean elements have no system. So 'system|code' needs that system,
// '|code' needs no system, 'system|' any code of that system.
import { expect } from 'chai';
import type { Resource } from '../../src/fhir/types';
import { defineSearch, officialSearchParam, type SearchSetup } from '../../src/search/definitions';
import { matchesSearch } from '../../src/search/match';
import { parseSearchQuery } from '../../src/search/parse';

const ABSENT = 'urn:absent:system';
const GENDER = 'http://hl7.org/fhir/administrative-gender';
const STUDY_STATUS = 'http://hl7.org/fhir/imagingstudy-status';
const ENDPOINT_STATUS = 'http://hl7.org/fhir/endpoint-status';
const REQUEST_STATUS = 'http://hl7.org/fhir/request-status';
const REQUEST_INTENT = 'http://hl7.org/fhir/request-intent';
const REQUEST_PRIORITY = 'http://hl7.org/fhir/request-priority';
const TASK_STATUS = 'http://hl7.org/fhir/task-status';
const TASK_INTENT = 'http://hl7.org/fhir/task-intent';

function searcher(setup: SearchSetup, resources: Resource[]) {
  const definition = defineSearch(setup);
  return (...query: Array<[string, string]>): string[] => {
    const request = parseSearchQuery(definition, query, { now: Date.parse('2024-06-15T12:00:00Z') });
    return resources.filter((r) => matchesSearch(r, request)).map((r) => r.id!);
  };
}

const patients: Resource[] = [
  { resourceType: 'Patient', id: 'p1', gender: 'male', active: true },
  { resourceType: 'Patient', id: 'p2', gender: 'female', active: false },
  { resourceType: 'Patient', id: 'p3' },
];
const patientIds = searcher({ resourceType: 'Patient', params: ['_id', 'gender', 'active'] }, patients);

const studies: Resource[] = [
  { resourceType: 'ImagingStudy', id: 's1', status: 'available', subject: { reference: 'Patient/p1' }, series: [{ uid: '1.2.3.4' }] },
  { resourceType: 'ImagingStudy', id: 's2', status: 'registered', subject: { reference: 'Patient/p1' }, series: [{ uid: '1.2.3.5' }] },
];
const studyIds = searcher({ resourceType: 'ImagingStudy', params: ['_id', 'status', 'series'] }, studies);

const endpoints: Resource[] = [
  { resourceType: 'Endpoint', id: 'e1', status: 'active', connectionType: [{ system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' }] },
  { resourceType: 'Endpoint', id: 'e2', status: 'off', connectionType: [] },
];
const endpointIds = searcher({ resourceType: 'Endpoint', params: ['_id', 'status'] }, endpoints);

const orders: Resource[] = [
  { resourceType: 'ServiceRequest', id: 'o1', status: 'active', intent: 'order', priority: 'stat', subject: { reference: 'Patient/p1' } },
  { resourceType: 'ServiceRequest', id: 'o2', status: 'draft', intent: 'plan', subject: { reference: 'Patient/p1' } },
];
const orderIds = searcher({ resourceType: 'ServiceRequest', params: ['status', 'intent', 'priority'] }, orders);

const tasks: Resource[] = [
  { resourceType: 'Task', id: 't1', status: 'requested', intent: 'order', priority: 'urgent' },
  { resourceType: 'Task', id: 't2', status: 'completed', intent: 'plan' },
  { resourceType: 'Task', id: 't3', status: 'draft', intent: 'unknown' },
];
const taskIds = searcher({ resourceType: 'Task', params: ['status', 'intent', 'priority'] }, tasks);

describe('token search on primitive elements', () => {
  describe('a foreign system never matches', () => {
    it('on an id (no system)', () => {
      expect(patientIds(['_id', `${ABSENT}|p1`])).to.deep.equal([]);
      expect(studyIds(['series', `${ABSENT}|1.2.3.4`])).to.deep.equal([]);
    });

    it('on a bound code (its binding\'s system)', () => {
      expect(patientIds(['gender', `${ABSENT}|male`])).to.deep.equal([]);
      expect(studyIds(['status', `${ABSENT}|available`])).to.deep.equal([]);
      expect(endpointIds(['status', `${ABSENT}|active`])).to.deep.equal([]);
      expect(orderIds(['status', `${ABSENT}|active`])).to.deep.equal([]);
      expect(taskIds(['intent', `${ABSENT}|order`])).to.deep.equal([]);
    });

    it('on a boolean (no system)', () => {
      expect(patientIds(['active', `${ABSENT}|true`])).to.deep.equal([]);
    });

    it('nor does the system of another value set', () => {
      expect(studyIds(['status', `${GENDER}|available`])).to.deep.equal([]);
      expect(orderIds(['intent', `${REQUEST_STATUS}|order`])).to.deep.equal([]);
    });
  });

  describe('a bound code has its value set\'s system', () => {
    it('Patient.gender: http://hl7.org/fhir/administrative-gender', () => {
      expect(patientIds(['gender', `${GENDER}|`])).to.deep.equal(['p1', 'p2']);
      expect(patientIds(['gender', `${GENDER}|female`])).to.deep.equal(['p2']);
      expect(patientIds(['gender', '|female'])).to.deep.equal([]);
      expect(patientIds(['gender', 'female'])).to.deep.equal(['p2']);
      expect(patientIds(['gender', `${ABSENT}|`])).to.deep.equal([]);
    });

    it('ImagingStudy.status: http://hl7.org/fhir/imagingstudy-status', () => {
      expect(studyIds(['status', `${STUDY_STATUS}|`])).to.deep.equal(['s1', 's2']);
      expect(studyIds(['status', `${STUDY_STATUS}|available`])).to.deep.equal(['s1']);
      expect(studyIds(['status', '|available'])).to.deep.equal([]);
      expect(studyIds(['status', 'available'])).to.deep.equal(['s1']);
    });

    it('Endpoint.status: http://hl7.org/fhir/endpoint-status', () => {
      expect(endpointIds(['status', `${ENDPOINT_STATUS}|`])).to.deep.equal(['e1', 'e2']);
      expect(endpointIds(['status', `${ENDPOINT_STATUS}|off`])).to.deep.equal(['e2']);
      expect(endpointIds(['status', '|off'])).to.deep.equal([]);
    });

    it('ServiceRequest status, intent and priority: the request-* code systems', () => {
      expect(orderIds(['status', `${REQUEST_STATUS}|active`])).to.deep.equal(['o1']);
      expect(orderIds(['status', `${REQUEST_STATUS}|`])).to.deep.equal(['o1', 'o2']);
      expect(orderIds(['status', '|active'])).to.deep.equal([]);
      expect(orderIds(['intent', `${REQUEST_INTENT}|plan`])).to.deep.equal(['o2']);
      expect(orderIds(['intent', '|plan'])).to.deep.equal([]);
      expect(orderIds(['priority', `${REQUEST_PRIORITY}|`])).to.deep.equal(['o1']);
      expect(orderIds(['priority', `${REQUEST_PRIORITY}|stat`])).to.deep.equal(['o1']);
      expect(orderIds(['priority', '|stat'])).to.deep.equal([]);
    });

    it('Task status, intent and priority: task-status, request-intent, request-priority', () => {
      expect(taskIds(['status', `${TASK_STATUS}|completed`])).to.deep.equal(['t2']);
      expect(taskIds(['status', `${TASK_STATUS}|`])).to.deep.equal(['t1', 't2', 't3']);
      expect(taskIds(['status', '|completed'])).to.deep.equal([]);
      expect(taskIds(['intent', `${REQUEST_INTENT}|order`])).to.deep.equal(['t1']);
      expect(taskIds(['intent', '|order'])).to.deep.equal([]);
      // Task.intent's value set draws from two systems: 'unknown' is task-intent's, the others request-intent's.
      expect(taskIds(['intent', `${REQUEST_INTENT}|`])).to.deep.equal(['t1', 't2']);
      expect(taskIds(['intent', `${TASK_INTENT}|unknown`])).to.deep.equal(['t3']);
      expect(taskIds(['intent', `${TASK_INTENT}|order`])).to.deep.equal([]);
      expect(taskIds(['intent', '|unknown'])).to.deep.equal([]);
      expect(taskIds(['priority', `${REQUEST_PRIORITY}|urgent`])).to.deep.equal(['t1']);
      expect(taskIds(['priority', '|urgent'])).to.deep.equal([]);
    });

    it(':not follows the same rules', () => {
      expect(patientIds(['gender:not', '|female'])).to.deep.equal(['p1', 'p2', 'p3']);
      expect(patientIds(['gender:not', `${GENDER}|female`])).to.deep.equal(['p1', 'p3']);
      expect(patientIds(['gender:not', `${ABSENT}|female`])).to.deep.equal(['p1', 'p2', 'p3']);
    });
  });

  describe('id and boolean elements have no system', () => {
    it('_id: |id matches, system|id and system| do not', () => {
      expect(patientIds(['_id', '|p2'])).to.deep.equal(['p2']);
      expect(patientIds(['_id', 'p2'])).to.deep.equal(['p2']);
      expect(patientIds(['_id', `${GENDER}|p2`])).to.deep.equal([]);
      expect(patientIds(['_id', `${ABSENT}|`])).to.deep.equal([]);
    });

    it('ImagingStudy series (an id): |uid matches', () => {
      expect(studyIds(['series', '|1.2.3.5'])).to.deep.equal(['s2']);
      expect(studyIds(['series', '1.2.3.5'])).to.deep.equal(['s2']);
    });

    it('Patient active (a boolean): |true matches', () => {
      expect(patientIds(['active', '|true'])).to.deep.equal(['p1']);
      expect(patientIds(['active', 'false'])).to.deep.equal(['p2']);
    });
  });

  it('the official definitions carry the implicit systems', () => {
    expect(officialSearchParam('Patient', 'gender')!.implicitSystem).to.equal(GENDER);
    expect(officialSearchParam('ImagingStudy', 'status')!.implicitSystem).to.equal(STUDY_STATUS);
    expect(officialSearchParam('Endpoint', 'status')!.implicitSystem).to.equal(ENDPOINT_STATUS);
    expect(officialSearchParam('Patient', '_id')!.implicitSystem).to.equal(undefined);
  });

  it('a custom token definition may declare its implicit system', () => {
    const ids = searcher({
      resourceType: 'Patient',
      params: ['sex'],
      custom: { sex: { type: 'token', expression: 'Patient.gender', implicitSystem: 'urn:example:sex' } },
    }, patients);
    expect(ids(['sex', 'urn:example:sex|male'])).to.deep.equal(['p1']);
    expect(ids(['sex', `${GENDER}|male`])).to.deep.equal([]);
  });
});
