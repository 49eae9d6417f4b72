// The search declaration of each indexed type, in one place: the resource
// modules serve it (and the CapabilityStatement lists it), and the indexer
// fills the index tables from the same declaration, so that what is
// declared is exactly what is indexed.
import type { SearchSetup } from '../search';

type Declaration = Pick<SearchSetup, 'params' | 'include' | 'revInclude'>;

export const SEARCH_DECLARATIONS = {
  Patient: {
    params: ['_id', 'identifier', 'name', 'family', 'given', 'birthdate', 'gender'],
    revInclude: ['ImagingStudy:subject'],
  },
  ImagingStudy: {
    params: ['_id', 'identifier', 'patient', 'subject', 'started', 'modality', 'series', 'instance', 'dicom-class',
      'status', 'endpoint', 'referrer', 'based-on'],
    include: ['ImagingStudy:subject', 'ImagingStudy:endpoint'],
  },
  ServiceRequest: {
    params: ['_id', '_lastUpdated', 'identifier', 'patient', 'subject', 'status', 'intent', 'code-concept', 'authored',
      'occurrence', 'requisition', 'performer', 'based-on'],
    revInclude: ['Task:based-on'],
  },
  Task: {
    params: ['_id', '_lastUpdated', 'identifier', 'status', 'intent', 'based-on', 'focus', 'patient', 'subject', 'owner',
      'code', 'authored-on', 'modified', 'period', 'business-status'],
    include: ['Task:based-on'],
  },
} satisfies Record<string, Declaration>;

export type IndexedType = keyof typeof SEARCH_DECLARATIONS;
