// AuditEvent, served from the audit trail's own table (src/store/audit-log.ts):
// read and search, by administrators only (the router checks adminOnly),
// never written over FHIR, FHIR R5 only. The searches are the ones the trail
// is kept for: when (date), who (agent:identifier), which patient, which
// resource (entity), how it ended (outcome); newest first, paged.
import type { FhirConfig } from '../config';
import { badRequest, notFound } from '../fhir/outcome';
import type { Bundle, BundleLink } from '../fhir/types';
import { R4 } from '../interactions/versions';
import { parseDateRange } from '../search/dates';
import type { AuditQuery } from '../store/audit-log';
import type { Store } from '../store/store';
import { auditEventOfRow } from './audit-event';
import { patientIdOfReference } from './compartments';
import type { InteractionContext, ResourceProvider, SearchParamDeclaration } from './provider';

const SEARCH_PARAMS: readonly SearchParamDeclaration[] = [
  { name: 'date', type: 'date', definition: 'http://hl7.org/fhir/SearchParameter/clinical-date', documentation: 'When recorded; ge, gt, le, lt, eq (the default: within the value\'s precision)' },
  { name: 'agent', type: 'reference', definition: 'http://hl7.org/fhir/SearchParameter/AuditEvent-agent', documentation: 'With :identifier only: <issuer>|<subject>, urn:orthanc:registered-users|<user>, urn:ietf:params:oauth:client-id|<client>' },
  { name: 'patient', type: 'reference', definition: 'http://hl7.org/fhir/SearchParameter/clinical-patient', documentation: 'Patient/<id>' },
  { name: 'entity', type: 'reference', definition: 'http://hl7.org/fhir/SearchParameter/AuditEvent-entity', documentation: '<Type>/<id>' },
  { name: 'outcome', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/AuditEvent-outcome', documentation: 'audit-event-outcome: 0, 4, 8' },
];
const SORTS = new Set(['date', '-date']);
const OUTCOME_SYSTEM = 'http://terminology.hl7.org/CodeSystem/audit-event-outcome';

interface Parsed {
  query: AuditQuery;
  countOnly: boolean;
  total: boolean;
  /** The parameters that make the search, for the paging links. */
  kept: Array<[string, string]>;
}

/** Each comma-separated value is an alternative (search.html). */
const alternatives = (value: string) => value.split(',').map((v) => v.trim()).filter((v) => v !== '');

function narrowDate(query: AuditQuery, value: string): void {
  const match = /^(eq|ge|gt|le|lt)?(.+)$/.exec(value);
  const range = match ? parseDateRange(match[2]!) : undefined;
  if (!match || !range) throw badRequest(`date: '${value}' is not a date with an optional prefix eq, ge, gt, le, lt`, ['date']);
  const prefix = match[1] ?? 'eq';
  const from = prefix === 'eq' || prefix === 'ge' ? range.low : prefix === 'gt' ? range.high : undefined;
  const to = prefix === 'eq' || prefix === 'le' ? range.high : prefix === 'lt' ? range.low : undefined;
  if (from !== undefined) query.from = Math.max(query.from ?? from, from);
  if (to !== undefined) query.to = Math.min(query.to ?? to, to);
}

/** Several parameters of one name must all hold: their alternatives intersect. */
function intersect(current: readonly string[] | undefined, next: string[]): string[] {
  return current === undefined ? next : current.filter((value) => next.includes(value));
}

function parse(context: InteractionContext, config: FhirConfig): Parsed {
  const query: AuditQuery = { limit: config.defaultCount, offset: 0 };
  let countOnly = false;
  let total = false;
  const kept: Array<[string, string]> = [];
  for (const [name, value] of context.query) {
    const keep = () => kept.push([name, value]);
    switch (name) {
      case 'date':
        narrowDate(query, value);
        keep();
        break;
      case 'agent:identifier':
        // A row has two agents (the requestor and the client): two such parameters would each match either.
        if (query.agents !== undefined) throw badRequest('One agent:identifier per search (its comma alternatives are ORed)', ['agent:identifier']);
        query.agents = alternatives(value);
        keep();
        break;
      case 'patient':
        query.patients = intersect(query.patients, alternatives(value).map((v) => patientIdOfReference(v.includes('/') ? v : `Patient/${v}`) ?? v));
        keep();
        break;
      case 'entity':
        query.entities = intersect(query.entities, alternatives(value));
        keep();
        break;
      case 'outcome':
        query.outcomes = intersect(query.outcomes, alternatives(value).map((v) => {
          const bar = v.indexOf('|');
          if (bar >= 0 && v.slice(0, bar) !== '' && v.slice(0, bar) !== OUTCOME_SYSTEM) return '';
          return bar >= 0 ? v.slice(bar + 1) : v;
        }));
        keep();
        break;
      case '_count': {
        if (!/^\d{1,9}$/.test(value)) throw badRequest('_count must be a non-negative integer', ['_count']);
        query.limit = Math.min(Number(value), config.maxCount);
        break;
      }
      case '_offset':
        if (!/^\d{1,9}$/.test(value)) throw badRequest('_offset must be a non-negative integer', ['_offset']);
        query.offset = Number(value);
        break;
      case '_sort':
        if (!SORTS.has(value)) throw badRequest('AuditEvent sorts by date or -date only', ['_sort']);
        query.ascending = value === 'date';
        keep();
        break;
      case '_total':
        total = value === 'accurate';
        keep();
        break;
      case '_summary':
        if (value !== 'count') throw badRequest('AuditEvent takes _summary=count only', ['_summary']);
        countOnly = true;
        keep();
        break;
      default:
        if (!context.lenient) {
          throw badRequest(`Unknown or unsupported AuditEvent search parameter '${name}' (date, agent:identifier, patient, entity, outcome)`, [name]);
        }
    }
  }
  return { query, countOnly, total, kept };
}

function r5Only(context: InteractionContext): void {
  if (context.fhirVersion === R4.code) {
    throw notFound('AuditEvent is served in FHIR R5 only (R4\'s AuditEvent is shaped otherwise): ask with fhirVersion=5.0, or under /R5');
  }
}

export function createAuditEventResource(store: Store, config: FhirConfig): ResourceProvider {
  return {
    type: 'AuditEvent',
    interactions: ['read', 'search-type'],
    searchParams: SEARCH_PARAMS,
    adminOnly: true,
    documentation: 'The audit trail: one AuditEvent per access to /fhir, DICOMweb and Orthanc, written by the server; '
      + 'read and searched with the administrator scope only, never written over FHIR; FHIR R5 only',

    async read(id, context) {
      r5Only(context);
      const row = /^\d{1,18}$/.test(id) ? await store.audit.read(Number(id)) : undefined;
      if (!row) throw notFound(`AuditEvent/${id} is not known`);
      return auditEventOfRow(row.seq, row.body);
    },

    async search(context) {
      r5Only(context);
      const { query, countOnly, total, kept } = parse(context, config);
      const self = (offset: number) => {
        const params = new URLSearchParams(kept);
        params.set('_count', String(query.limit));
        if (offset > 0) params.set('_offset', String(offset));
        return `${context.baseUrl}/AuditEvent?${params}`;
      };
      if (countOnly) {
        return { resourceType: 'Bundle', type: 'searchset', total: await store.audit.count(query), link: [{ relation: 'self', url: self(0) }] };
      }
      // One more than the page: whether there is a next one, without counting everything.
      const rows = await store.audit.search({ ...query, limit: query.limit + 1 });
      const page = rows.slice(0, query.limit);
      const link: BundleLink[] = [{ relation: 'self', url: self(query.offset) }];
      if (rows.length > query.limit) link.push({ relation: 'next', url: self(query.offset + query.limit) });
      if (query.offset > 0) link.push({ relation: 'previous', url: self(Math.max(0, query.offset - query.limit)) });
      const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', link };
      if (total) bundle.total = await store.audit.count(query);
      else if (rows.length <= query.limit && (rows.length > 0 || query.offset === 0)) bundle.total = query.offset + rows.length;
      if (page.length > 0) {
        bundle.entry = page.map((row) => ({
          fullUrl: `${context.baseUrl}/AuditEvent/${row.seq}`,
          resource: auditEventOfRow(row.seq, row.body),
          search: { mode: 'match' as const },
        }));
      }
      return bundle;
    },
  };
}
