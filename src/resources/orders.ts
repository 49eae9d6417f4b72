// The orders a RIS places: ServiceRequest (the requested procedure) and Task
// (each scheduled procedure step), kept in the plugin's store. Their search
// parameters are R5's own names (code-concept on ServiceRequest: R5 has no
// plain "code" there).
import type { StoredTypeSetup } from './stored-resource';
import type { Resource } from '../fhir/types';

export function serviceRequestSetup(validate: (resource: Resource) => void): StoredTypeSetup {
  return {
    type: 'ServiceRequest',
    params: ['_id', '_lastUpdated', 'identifier', 'patient', 'subject', 'status', 'intent', 'code-concept', 'authored',
      'occurrence', 'requisition', 'performer', 'based-on'],
    revInclude: ['Task:based-on'],
    documentation: 'Imaging orders (requested procedures); the modality worklist reads them',
    validate,
  };
}

export function taskSetup(validate: (resource: Resource) => void): StoredTypeSetup {
  return {
    type: 'Task',
    params: ['_id', '_lastUpdated', 'identifier', 'status', 'intent', 'based-on', 'focus', 'patient', 'subject', 'owner',
      'code', 'authored-on', 'modified', 'period', 'business-status'],
    include: ['Task:based-on'],
    documentation: 'Scheduled procedure steps of imaging orders (basedOn a ServiceRequest)',
    validate,
  };
}
