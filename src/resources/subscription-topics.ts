// The topics a client may subscribe to (R5 SubscriptionTopic): what happens
// to an ImagingStudy, a Task or a ServiceRequest. One declaration per topic
// drives the served SubscriptionTopic resource, the check of a
// Subscription's filters (canFilterBy) and which changes fire it. Static:
// three small resources, served from memory.
import type { Resource } from '../fhir/types';

/** What happened to a topic's focus, as queued (the notification's entry.request follows from it). */
export type TopicEvent = 'create' | 'update' | 'delete' | 'stable';

export type TopicType = 'ImagingStudy' | 'Task' | 'ServiceRequest';

export interface TopicFilter {
  /** A search parameter of the topic's type. */
  param: string;
  description: string;
  /** Search modifiers accepted besides none. */
  modifiers?: readonly string[];
}

export interface TopicDeclaration {
  id: string;
  url: string;
  title: string;
  description: string;
  type: TopicType;
  filters: readonly TopicFilter[];
  /** The event a write of the type fires (previous and current versions; undefined: deleted or new), or none. */
  fires(previous: Resource | undefined, current: Resource | undefined): TopicEvent | undefined;
  resourceTrigger: { description: string; interactions: readonly ('create' | 'update' | 'delete')[]; fhirPath?: string };
  eventTrigger?: { description: string; code: string; display: string };
}

/** The code system of the events that are not a write (a study became stable). */
export const TOPIC_EVENT_SYSTEM = 'urn:orthanc-fhir:topic-event';
const TOPIC_BASE = 'urn:orthanc-fhir:topic:';

function statusChange(previous: Resource | undefined, current: Resource | undefined): TopicEvent | undefined {
  if (current === undefined) return undefined;
  if (previous === undefined) return 'create';
  return previous.status !== current.status ? 'update' : undefined;
}

const patient = { param: 'patient', description: 'The patient (Patient/[id])' };

export const TOPICS: readonly TopicDeclaration[] = [
  {
    id: 'imaging-study',
    url: `${TOPIC_BASE}imaging-study`,
    title: 'Imaging study available, changed, stable or deleted',
    description: 'A study arrives in Orthanc (create), gains series or instances (update), becomes stable: no new instance for Orthanc\'s StableAge (event study-stable), or is deleted (delete).',
    type: 'ImagingStudy',
    filters: [
      patient,
      { param: 'modality', description: 'A modality of the study (http://dicom.nema.org/resources/ontology/DCM|CT)' },
      { param: 'identifier', description: 'An identifier: the accession number, or urn:dicom:uid|urn:oid:[StudyInstanceUID]' },
      { param: 'based-on', description: 'The order the study fulfils (ServiceRequest/[id])' },
    ],
    // The imaging index fires these from Orthanc's change log, not from a write.
    fires: () => undefined,
    resourceTrigger: { description: 'A study is created, gains series or instances, or is deleted in Orthanc', interactions: ['create', 'update', 'delete'] },
    eventTrigger: { description: 'A study became stable (no new instance for a while)', code: 'study-stable', display: 'Study stable' },
  },
  {
    id: 'task',
    url: `${TOPIC_BASE}task`,
    title: 'Scheduled procedure step created or its status changed',
    description: 'A Task is created, or its status changes (requested, in-progress when the images arrive, completed when the study is stable...).',
    type: 'Task',
    filters: [
      { param: 'status', description: 'The Task\'s status', modifiers: ['not'] },
      { param: 'owner', description: 'The station that performs it: owner:identifier=urn:dicom:ae|CT01 (its AE title), or Organization/[id]', modifiers: ['identifier'] },
      patient,
      { param: 'based-on', description: 'The order (ServiceRequest/[id])' },
    ],
    fires: statusChange,
    resourceTrigger: { description: 'A Task is created, or its status changes', interactions: ['create', 'update'], fhirPath: '%previous.exists().not() or %previous.status != %current.status' },
  },
  {
    id: 'service-request',
    url: `${TOPIC_BASE}service-request`,
    title: 'Imaging order created or its status changed',
    description: 'A ServiceRequest is created, or its status changes.',
    type: 'ServiceRequest',
    filters: [
      { param: 'status', description: 'The order\'s status', modifiers: ['not'] },
      patient,
      { param: 'identifier', description: 'An identifier: the accession number, or the study instance UID' },
    ],
    fires: statusChange,
    resourceTrigger: { description: 'A ServiceRequest is created, or its status changes', interactions: ['create', 'update'], fhirPath: '%previous.exists().not() or %previous.status != %current.status' },
  },
];

export function topicOf(url: string | undefined): TopicDeclaration | undefined {
  return TOPICS.find((topic) => topic.url === url);
}

export function topicsOf(type: string): TopicDeclaration[] {
  return TOPICS.filter((topic) => topic.type === type);
}

const definition = (type: string) => `http://hl7.org/fhir/StructureDefinition/${type}`;

/** The topic as an R5 SubscriptionTopic. */
export function topicResource(topic: TopicDeclaration, date: string): Resource {
  return {
    resourceType: 'SubscriptionTopic',
    id: topic.id,
    url: topic.url,
    title: topic.title,
    status: 'active',
    date,
    description: topic.description,
    resourceTrigger: [{
      description: topic.resourceTrigger.description,
      resource: definition(topic.type),
      supportedInteraction: [...topic.resourceTrigger.interactions],
      ...(topic.resourceTrigger.fhirPath ? { fhirPathCriteria: topic.resourceTrigger.fhirPath } : {}),
    }],
    ...(topic.eventTrigger ? {
      eventTrigger: [{
        description: topic.eventTrigger.description,
        event: { coding: [{ system: TOPIC_EVENT_SYSTEM, code: topic.eventTrigger.code, display: topic.eventTrigger.display }] },
        resource: definition(topic.type),
      }],
    } : {}),
    canFilterBy: topic.filters.map((filter) => ({
      description: filter.description,
      resource: topic.type,
      filterParameter: filter.param,
      comparator: ['eq'],
      ...(filter.modifiers ? { modifier: [...filter.modifiers] } : {}),
    })),
    notificationShape: [{ resource: topic.type }],
  };
}
