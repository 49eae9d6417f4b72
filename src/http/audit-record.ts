// What the audit trail records of a request: the interaction it was (the
// codes of http://hl7.org/fhir/restful-interaction), on what, by whom and
// with what outcome. Pure: the edge hands the records to the trail.
import type { Principal } from '../fhir/access';
import type { AuditRecord } from '../resources/audit-event';

export interface Described {
  interaction: string;
  action: AuditRecord['action'];
  type?: string;
  id?: string;
}

const ACTIONS: Readonly<Record<string, AuditRecord['action']>> = {
  // A search is executed, not read (IHE BALP, the R5 AuditEvent action codes).
  create: 'C', update: 'U', delete: 'D', operation: 'E', transaction: 'E', batch: 'E', 'search-type': 'E',
};

/** The interaction of a FHIR request, from its method and path below the base (http.html). */
export function describeFhirRequest(method: string, path: readonly string[], body?: unknown): Described {
  const [type, second, third, fourth] = path;
  const of = (interaction: string, extra: Partial<Described> = {}): Described => ({ interaction, action: ACTIONS[interaction] ?? 'R', ...extra });
  if (type === undefined) {
    if (method !== 'POST') return of('capabilities');
    const kind = (body as { type?: unknown } | undefined)?.type;
    return of(kind === 'transaction' ? 'transaction' : 'batch');
  }
  if (type === 'metadata' || type === '.well-known') return of('capabilities');
  if (type.startsWith('$')) return of('operation');
  if (second === undefined || second === '_search') {
    if (second === undefined && method === 'POST') return of('create', { type });
    if (second === undefined && method === 'PUT') return of('update', { type });
    if (second === undefined && method === 'DELETE') return of('delete', { type });
    return of('search-type', { type });
  }
  if (second === '_history') return of('history-type', { type });
  const id = second;
  if (third === undefined) {
    return of(method === 'PUT' ? 'update' : method === 'DELETE' ? 'delete' : 'read', { type, id });
  }
  if (third.startsWith('$')) return of('operation', { type, id });
  return of(fourth === undefined ? 'history-instance' : 'vread', { type, id });
}

/** The request line as received (Orthanc hands GET arguments over still percent-encoded). */
export function requestLine(method: string, url: string, query: ReadonlyArray<[string, string]>): string {
  const search = query.length > 0 ? `?${query.map(([name, value]) => `${name}=${value}`).join('&')}` : '';
  return `${method} ${url}${search}`.slice(0, 2048);
}

export function principalFields(principal: Principal | undefined): Partial<AuditRecord> {
  if (!principal) return {};
  const fields: Partial<AuditRecord> = {};
  if (principal.subject !== undefined) fields.subject = principal.subject;
  if (principal.issuer !== undefined) fields.issuer = principal.issuer;
  if (principal.user !== undefined) fields.user = principal.user;
  if (principal.client !== undefined) fields.client = principal.client;
  return fields;
}
