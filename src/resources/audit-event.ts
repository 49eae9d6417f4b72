// One access to the server (a FHIR interaction, a DICOMweb or Orthanc REST
// request) as an R5 AuditEvent: what was done (category, code, action), by
// whom (agent), on what (entity, patient), when (recorded) and how it ended
// (outcome). Written for every request, so it says only that: no narrative,
// no display where the code says it already. Pure: the audit trail
// (audit-trail.ts) stores what this makes.
import { Buffer } from 'node:buffer';
import type { Coding, Resource } from '../fhir/types';
import type { AuditEntry } from '../store/audit-log';

export interface AuditRecord {
  /** When the access happened (ISO instant). */
  recorded: string;
  /**
   * 'read' | 'vread' | 'search-type' | 'search-system' | 'create' | 'update' | 'delete' | 'history-instance' |
   * 'history-type' | 'transaction' | 'batch' | 'operation' | 'capabilities' ... (http://hl7.org/fhir/restful-interaction
   * codes), or 'dicomweb' / 'orthanc' for image/REST access through Orthanc.
   */
  interaction: string;
  /** C R U D E action code. */
  action: 'C' | 'R' | 'U' | 'D' | 'E';
  /** HTTP method and path+query as received, e.g. 'GET /fhir/ImagingStudy?patient=x' or 'GET /dicom-web/studies/1.2/metadata'. */
  request: string;
  /** FHIR type and id the access concerned, if any. */
  type?: string;
  id?: string;
  /** Patient the access concerned (the token's patient context, or the resource's patient), a FHIR Patient id. */
  patient?: string;
  /** Who: the token's subject and issuer, or the HTTP Basic user name; undefined when anonymous. */
  subject?: string;
  issuer?: string;
  user?: string;
  /** The OAuth client (client_id / azp claim). */
  client?: string;
  /** Remote IP address if known. */
  address?: string;
  /** The HTTP status answered, or for a DICOMweb filter decision 200 (allowed) / 401 / 403. */
  status: number;
  /** Why it failed, for refusals (e.g. 'the token has expired'). */
  reason?: string;
}

/** The identifier system of Orthanc's RegisteredUsers (HTTP Basic) user names, which have no issuer. */
export const REGISTERED_USERS_SYSTEM = 'urn:orthanc:registered-users';
/** The identifier system of OAuth client ids (RFC 8693 uses this URN for them). */
export const CLIENT_ID_SYSTEM = 'urn:ietf:params:oauth:client-id';

const AUDIT_EVENT_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
const RESTFUL_INTERACTION = 'http://hl7.org/fhir/restful-interaction';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
/** The outcome codes IHE's Basic Audit Log Patterns use in R5 too (R5's preferred value set is issue-severity; the binding is preferred, not required). */
const AUDIT_EVENT_OUTCOME = 'http://terminology.hl7.org/CodeSystem/audit-event-outcome';

const REST: Coding = { system: AUDIT_EVENT_TYPE, code: 'rest', display: 'Restful Operation' };
/** DICOM PS3.15 A.5.3.2: SOP Instances viewed, utilized, updated or deleted (the action says which). */
const INSTANCES_ACCESSED: Coding = { system: DCM, code: '110103', display: 'DICOM Instances Accessed' };
/** DICOM PS3.15 A.5.3.10: a query (QIDO-RS, as C-FIND). */
const QUERY: Coding = { system: DCM, code: '110112', display: 'Query' };

/** The codes of http://hl7.org/fhir/restful-interaction (R5). */
const INTERACTIONS: ReadonlySet<string> = new Set([
  'read', 'vread', 'update', 'patch', 'delete', 'history', 'history-instance', 'history-type', 'history-system', 'create',
  'search', 'search-type', 'search-system', 'search-compartment', 'capabilities', 'transaction', 'batch', 'operation',
]);
const SEARCHES: ReadonlySet<string> = new Set(['search', 'search-type', 'search-system', 'search-compartment']);

/** What the interface names in AuditEvent.code.text, for the accesses that are not FHIR's. */
const INTERFACES: Readonly<Record<string, string>> = { dicomweb: 'DICOMweb', orthanc: 'Orthanc REST API' };

function outcomeCoding(status: number): Coding {
  if (status < 400) return { system: AUDIT_EVENT_OUTCOME, code: '0', display: 'Success' };
  if (status < 500) return { system: AUDIT_EVENT_OUTCOME, code: '4', display: 'Minor failure' };
  return { system: AUDIT_EVENT_OUTCOME, code: '8', display: 'Serious failure' };
}

/** RFC 6750 section 2.3: a bearer token sent in the query; kept out of the trail, which outlives the token. */
const TOKEN_IN_QUERY = /([?&]access_token=)[^&]*/gi;

/** 'GET /dicom-web/studies?PatientID=x' -> ['GET', '/dicom-web/studies', 'PatientID=x']. */
function splitRequest(request: string): { method: string; path: string; query: string } {
  const space = request.indexOf(' ');
  const target = space < 0 ? request : request.slice(space + 1);
  const question = target.indexOf('?');
  return {
    method: space < 0 ? '' : request.slice(0, space),
    path: question < 0 ? target : target.slice(0, question),
    query: question < 0 ? '' : target.slice(question + 1),
  };
}

/** A QIDO-RS search (.../studies, .../series, .../instances), or any search the caller marked E. */
function isDicomQuery(record: AuditRecord, method: string, path: string): boolean {
  return record.action === 'E' || (method === 'GET' && /\/(studies|series|instances)\/?$/.test(path));
}

function what(record: AuditRecord, method: string, path: string): { category: Coding; code: Record<string, unknown>; query: boolean } {
  const face = INTERFACES[record.interaction];
  if (face !== undefined) {
    const coding = isDicomQuery(record, method, path) ? QUERY : INSTANCES_ACCESSED;
    return { category: coding, code: { coding: [coding], text: face }, query: coding === QUERY };
  }
  const code = INTERACTIONS.has(record.interaction) ? { coding: [{ system: RESTFUL_INTERACTION, code: record.interaction }] } : { text: record.interaction };
  return { category: REST, code, query: SEARCHES.has(record.interaction) };
}

/** A FHIR string holds no empty value: undefined for '' (and for undefined). */
function present(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function agents(record: AuditRecord): Array<Record<string, unknown>> {
  const subject = present(record.subject);
  const name = subject ?? present(record.user);
  const system = subject !== undefined ? present(record.issuer) : name !== undefined ? REGISTERED_USERS_SYSTEM : undefined;
  const who = name === undefined ? { display: 'anonymous' } : { identifier: { ...(system !== undefined ? { system } : {}), value: name }, display: name };
  const address = present(record.address);
  const requestor: Record<string, unknown> = { who, requestor: true, ...(address !== undefined ? { networkString: address } : {}) };
  const client = present(record.client);
  if (client === undefined) return [requestor];
  return [requestor, { who: { identifier: { system: CLIENT_ID_SYSTEM, value: client } }, requestor: false }];
}

/**
 * The R5 AuditEvent of one access. Throws a TypeError when `recorded` is
 * not a date (the caller's bug, refused before it reaches the store).
 */
export function auditEvent(record: AuditRecord): Resource {
  const instant = new Date(record.recorded);
  if (Number.isNaN(instant.getTime())) throw new TypeError(`audit record: 'recorded' is not an instant (${record.recorded})`);
  const recorded = instant.toISOString();
  const request = record.request.replace(TOKEN_IN_QUERY, '$1redacted');
  const { method, path, query } = splitRequest(request);
  const kind = what(record, method, path);
  const reason = present(record.reason);

  const entity: Record<string, unknown> = {};
  const type = present(record.type);
  const id = present(record.id);
  if (type !== undefined && id !== undefined) entity.what = { reference: `${type}/${id}` };
  if (kind.query && query !== '') entity.query = Buffer.from(query, 'utf8').toString('base64');
  entity.detail = [{ type: { text: 'request' }, valueString: present(request) ?? '(none)' }];

  const patient = present(record.patient);
  return {
    resourceType: 'AuditEvent',
    category: [{ coding: [kind.category] }],
    code: kind.code,
    action: record.action,
    occurredDateTime: recorded,
    recorded,
    outcome: { code: outcomeCoding(record.status), detail: [{ text: reason !== undefined ? `HTTP ${record.status}: ${reason}` : `HTTP ${record.status}` }] },
    ...(patient !== undefined ? { patient: { reference: `Patient/${patient}` } } : {}),
    agent: agents(record),
    source: { observer: { display: 'orthanc-fhir' } },
    entity: [entity],
  };
}

/** The requestor's identifier as the trail's `agent` column holds it (`system|value`), as agent:identifier searches it. */
function requestorKey(record: AuditRecord): string | undefined {
  const subject = present(record.subject);
  if (subject !== undefined) return `${present(record.issuer) ?? ''}|${subject}`;
  const user = present(record.user);
  return user !== undefined ? `${REGISTERED_USERS_SYSTEM}|${user}` : undefined;
}

/**
 * The row of one access in the trail's table: the columns its searches
 * read, and the record itself (the AuditEvent is made from it when read).
 * Throws a TypeError for a record whose `recorded` is not an instant.
 */
export function auditEntry(record: AuditRecord): AuditEntry {
  const recorded = new Date(record.recorded).getTime();
  if (Number.isNaN(recorded)) throw new TypeError(`audit record: 'recorded' is not an instant (${record.recorded})`);
  const agent = requestorKey(record);
  const client = present(record.client);
  const patient = present(record.patient);
  const type = present(record.type);
  const id = present(record.id);
  return {
    recorded,
    ...(agent !== undefined ? { agent } : {}),
    ...(client !== undefined ? { client: `${CLIENT_ID_SYSTEM}|${client}` } : {}),
    ...(patient !== undefined ? { patient } : {}),
    ...(type !== undefined && id !== undefined ? { entity: `${type}/${id}` } : {}),
    outcome: outcomeCoding(record.status).code!,
    // The trail outlives a bearer token sent in the query: kept out of the row too.
    body: JSON.stringify({ ...record, request: record.request.replace(TOKEN_IN_QUERY, '$1redacted') }),
  };
}

/** The AuditEvent of a row of the trail: id its sequence number, one version, last updated when recorded. */
export function auditEventOfRow(seq: number | string, body: string): Resource {
  const record = JSON.parse(body) as AuditRecord;
  const event = auditEvent(record);
  return { resourceType: 'AuditEvent', id: String(seq), meta: { versionId: '1', lastUpdated: new Date(record.recorded).toISOString() },
    ...Object.fromEntries(Object.entries(event).filter(([key]) => key !== 'resourceType')) };
}
