// The search declaration of each indexed type, in one place: the resource
// modules serve it (and the CapabilityStatement lists it), and the indexer
// fills the index tables from the same declaration, so that what is
// declared is exactly what is indexed. Every reference parameter can be
// followed by _include, _revinclude and chains. A change here changes the
// index rows: bump INDEX_VERSION (src/store/reindex.ts) to rebuild them.
import type { SearchSetup } from '../search';

type Declaration = Pick<SearchSetup, 'params'>;

export const SEARCH_DECLARATIONS = {
  Patient: {
    params: ['_id', '_lastUpdated', 'identifier', 'name', 'family', 'given', 'birthdate', 'gender'],
  },
  ImagingStudy: {
    params: ['_id', '_lastUpdated', 'identifier', 'patient', 'subject', 'started', 'modality', 'series', 'instance', 'dicom-class',
      'status', 'endpoint', 'referrer', 'based-on'],
  },
  ServiceRequest: {
    params: ['_id', '_lastUpdated', 'identifier', 'patient', 'subject', 'status', 'intent', 'code-concept', 'authored',
      'occurrence', 'requisition', 'performer', 'based-on'],
  },
  Subscription: {
    params: ['_id', '_lastUpdated', 'identifier', 'name', 'status', 'topic', 'type', 'url', 'content-level'],
  },
  Task: {
    params: ['_id', '_lastUpdated', 'identifier', 'status', 'intent', 'based-on', 'focus', 'patient', 'subject', 'owner',
      'code', 'authored-on', 'modified', 'period', 'business-status'],
  },
} satisfies Record<string, Declaration>;

export type IndexedType = keyof typeof SEARCH_DECLARATIONS;
