// The topics a client may subscribe to: their declarations, which writes
// fire them, and the SubscriptionTopic resources served from them (valid
// against the official R5 JSON schema). Pure units.
import { expect } from 'chai';
import * as fhirpath from 'fhirpath';
import * as r5Model from 'fhirpath/fhir-context/r5';
import type { Resource } from '../../src/fhir/types';
import { SEARCH_DECLARATIONS } from '../../src/resources/search-declarations';
import { TOPIC_EVENT_SYSTEM, topicOf, topicResource, TOPICS, topicsOf, type TopicDeclaration } from '../../src/resources/subscription-topics';
import { fhirProblems, loadFhirSchema } from '../support/fhir-schema';

const DATE = '2026-01-15T10:00:00Z';

function topic(id: string): TopicDeclaration {
  const found = TOPICS.find((t) => t.id === id);
  if (!found) throw new Error(`no topic ${id}`);
  return found;
}

const task = (status: string, extra: Record<string, unknown> = {}): Resource =>
  ({ resourceType: 'Task', id: 't1', status, intent: 'order', ...extra });
const order = (status: string, extra: Record<string, unknown> = {}): Resource =>
  ({ resourceType: 'ServiceRequest', id: 'o1', status, intent: 'order', subject: { reference: 'Patient/p1' }, ...extra });

describe('subscription topics', () => {
  it('declares one topic per type, each with its own URL', () => {
    expect(TOPICS.map((t) => [t.id, t.url, t.type])).to.deep.equal([
      ['imaging-study', 'urn:orthanc-fhir:topic:imaging-study', 'ImagingStudy'],
      ['task', 'urn:orthanc-fhir:topic:task', 'Task'],
      ['service-request', 'urn:orthanc-fhir:topic:service-request', 'ServiceRequest'],
    ]);
  });

  it('finds a topic by its URL only, and the topics of a type', () => {
    for (const declared of TOPICS) {
      expect(topicOf(declared.url)).to.equal(declared);
      expect(topicsOf(declared.type)).to.deep.equal([declared]);
    }
    for (const url of [undefined, '', 'task', 'urn:orthanc-fhir:topic:', 'urn:orthanc-fhir:topic:TASK', 'urn:orthanc-fhir:topic:task ']) {
      expect(topicOf(url), String(url)).to.equal(undefined);
    }
    expect(topicsOf('Patient')).to.deep.equal([]);
    expect(topicsOf('task')).to.deep.equal([]);
  });

  it('filters by search parameters its type is searched by, each once', () => {
    for (const declared of TOPICS) {
      const params = declared.filters.map((f) => f.param);
      expect(new Set(params).size, declared.id).to.equal(params.length);
      for (const param of params) expect(SEARCH_DECLARATIONS[declared.type].params as readonly string[], `${declared.id} ${param}`).to.include(param);
      expect(params, declared.id).to.include('patient');
    }
  });

  for (const [id, make] of [['task', task], ['service-request', order]] as const) {
    describe(`${id} fires`, () => {
      const fires = (previous: Resource | undefined, current: Resource | undefined) => topic(id).fires(previous, current);

      it('on create', () => {
        expect(fires(undefined, make('requested'))).to.equal('create');
        expect(fires(undefined, make('completed'))).to.equal('create');
      });

      it('on an update that changes the status only', () => {
        expect(fires(make('requested'), make('in-progress'))).to.equal('update');
        expect(fires(make('active'), make('completed'))).to.equal('update');
        expect(fires(make('requested'), make('requested', { note: [{ text: 'moved' }], meta: { versionId: '2' } }))).to.equal(undefined);
        expect(fires(make('requested'), make('requested'))).to.equal(undefined);
      });

      it('not on delete', () => {
        expect(fires(make('requested'), undefined)).to.equal(undefined);
        expect(fires(undefined, undefined)).to.equal(undefined);
        expect(topic(id).resourceTrigger.interactions).to.deep.equal(['create', 'update']);
      });

      it('exactly when its fhirPathCriteria holds', () => {
        const criteria = topic(id).resourceTrigger.fhirPath!;
        expect(criteria).to.be.a('string');
        const pairs: Array<[Resource | undefined, Resource]> = [
          [undefined, make('requested')],
          [make('requested'), make('requested')],
          [make('requested'), make('completed')],
          [make('requested'), make('requested', { note: [{ text: 'x' }] })],
        ];
        for (const [previous, current] of pairs) {
          const result = fhirpath.evaluate({}, criteria, { previous: previous ?? [], current }, r5Model) as unknown[];
          expect(result[0] === true, JSON.stringify([previous?.status, current.status])).to.equal(fires(previous, current) !== undefined);
        }
      });
    });
  }

  it('fires nothing from writes on the imaging study topic (the imaging index tells those)', () => {
    const study: Resource = { resourceType: 'ImagingStudy', id: 's1', status: 'available', subject: { reference: 'Patient/p1' } };
    const imaging = topic('imaging-study');
    expect(imaging.fires(undefined, study)).to.equal(undefined);
    expect(imaging.fires({ ...study, status: 'registered' }, study)).to.equal(undefined);
    expect(imaging.fires(study, undefined)).to.equal(undefined);
    expect(imaging.resourceTrigger.interactions).to.deep.equal(['create', 'update', 'delete']);
    expect(imaging.eventTrigger?.code).to.equal('study-stable');
  });
});

describe('SubscriptionTopic resources', function () {
  this.timeout(120000);
  before(() => loadFhirSchema());

  it('are valid R5 SubscriptionTopics', () => {
    for (const declared of TOPICS) expect(fhirProblems(topicResource(declared, DATE)), declared.id).to.deep.equal([]);
  });

  it('tell what each declaration says', () => {
    for (const declared of TOPICS) {
      const resource = topicResource(declared, DATE);
      expect(resource, declared.id).to.deep.include({
        resourceType: 'SubscriptionTopic', id: declared.id, url: declared.url, title: declared.title, status: 'active', date: DATE,
        description: declared.description, notificationShape: [{ resource: declared.type }],
      });
      const [trigger, ...more] = resource.resourceTrigger as Array<Record<string, unknown>>;
      expect(more).to.deep.equal([]);
      expect(trigger).to.deep.include({ resource: `http://hl7.org/fhir/StructureDefinition/${declared.type}`, supportedInteraction: [...declared.resourceTrigger.interactions] });
      expect(trigger!.fhirPathCriteria).to.equal(declared.resourceTrigger.fhirPath);
      const canFilterBy = resource.canFilterBy as Array<Record<string, unknown>>;
      expect(canFilterBy.map((f) => f.filterParameter)).to.deep.equal(declared.filters.map((f) => f.param));
      for (const filter of canFilterBy) {
        expect(filter.comparator).to.deep.equal(['eq']);
        expect(filter.resource).to.equal(declared.type);
        expect(filter.description).to.be.a('string').and.not.equal('');
      }
    }
  });

  it('declare the modifiers a filter takes, and none on the others', () => {
    const canFilterBy = (id: string) => topicResource(topic(id), DATE).canFilterBy as Array<Record<string, unknown>>;
    const modifiers = (id: string) => Object.fromEntries(canFilterBy(id).map((f) => [f.filterParameter, f.modifier]));
    expect(modifiers('task')).to.deep.equal({ status: ['not'], owner: ['identifier'], patient: undefined, 'based-on': undefined });
    expect(modifiers('service-request')).to.deep.equal({ status: ['not'], patient: undefined, identifier: undefined });
    for (const filter of canFilterBy('imaging-study')) expect(filter).not.to.have.property('modifier');
  });

  it('carry the study-stable event on the imaging study topic only', () => {
    expect(topicResource(topic('imaging-study'), DATE).eventTrigger).to.deep.equal([{
      description: 'A study became stable (no new instance for a while)',
      event: { coding: [{ system: TOPIC_EVENT_SYSTEM, code: 'study-stable', display: 'Study stable' }] },
      resource: 'http://hl7.org/fhir/StructureDefinition/ImagingStudy',
    }]);
    expect(topicResource(topic('task'), DATE)).not.to.have.property('eventTrigger');
    expect(topicResource(topic('service-request'), DATE)).not.to.have.property('eventTrigger');
    expect(topicResource(topic('imaging-study'), DATE).resourceTrigger as unknown[]).to.have.length(1);
  });

  it('do not share their arrays with the declarations', () => {
    const declared = topic('task');
    const resource = topicResource(declared, DATE);
    ((resource.resourceTrigger as Array<{ supportedInteraction: string[] }>)[0]!.supportedInteraction).push('delete');
    ((resource.canFilterBy as Array<{ modifier?: string[] }>)[0]!.modifier)!.push('missing');
    expect(declared.resourceTrigger.interactions).to.deep.equal(['create', 'update']);
    expect(declared.filters[0]!.modifiers).to.deep.equal(['not']);
  });
});
