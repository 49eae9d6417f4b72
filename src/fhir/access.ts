// What a request may do, from the SMART on FHIR scopes of its token (SMART
// App Launch 2.x, scopes-and-launch-context): v2's `.cruds` letters and v1's
// `.read` / `.write` / `.*`, at patient, user and system level. Pure: the
// HTTP edge builds an Access from verified credentials, the router asks it
// interaction by interaction.

/** SMART v2 permissions: create, read, update, delete, search. */
export type Permission = 'c' | 'r' | 'u' | 'd' | 's';

export interface ScopeGrant {
  level: 'patient' | 'user' | 'system';
  /** A resource type, or '*'. */
  type: string;
  permissions: ReadonlySet<Permission>;
}

/** Who made a request, as the audit trail records it. */
export interface Principal {
  /** The token's `sub`, and its issuer. */
  subject?: string;
  issuer?: string;
  /** An HTTP Basic user of Orthanc's RegisteredUsers. */
  user?: string;
  /** The OAuth client (client_id or azp). */
  client?: string;
}

export interface Access extends Principal {
  grants: readonly ScopeGrant[];
  /** The patient context: patient-level scopes reach this Patient's compartment only. */
  patient?: string;
  /** The AdminScope or a RegisteredUsers user: everything, Orthanc's own API and the audit trail included. */
  admin: boolean;
  /** The scopes as granted, for messages. */
  scopes: readonly string[];
}

/** How far a permission reaches for one type: every resource, one patient's compartment, or none. */
export type Reach = 'all' | 'compartment' | 'none';

const V1: Readonly<Record<string, string>> = { read: 'rs', write: 'cud', '*': 'cruds' };
const SCOPE = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]+)\.([a-z*]+)$/;

/**
 * The resource scopes among `scopes`; others (openid, launch/patient,
 * offline_access...) grant no resource access. A granular v2 scope
 * (`...rs?category=x`) is not honoured (it grants nothing rather than more
 * than it says).
 */
export function parseScopes(scopes: readonly string[]): ScopeGrant[] {
  const grants: ScopeGrant[] = [];
  for (const scope of scopes) {
    const match = SCOPE.exec(scope);
    if (!match) continue;
    const [, level, type, action] = match;
    const letters = V1[action!] ?? action!;
    if (!/^c?r?u?d?s?$/.test(letters) || letters === '') continue;
    grants.push({ level: level as ScopeGrant['level'], type: type!, permissions: new Set(letters.split('') as Permission[]) });
  }
  return grants;
}

/** The access of a full administrator (AdminScope, RegisteredUsers). */
export function adminAccess(principal: Principal, scopes: readonly string[] = []): Access {
  return { ...principal, grants: [], admin: true, scopes };
}

/**
 * How far `permission` on `type` reaches. A token with a patient context
 * reaches that patient's compartment only, whatever the level of its scopes;
 * patient-level scopes without a patient context reach nothing.
 */
export function reach(access: Access, type: string, permission: Permission): Reach {
  if (access.admin) return 'all';
  const granted = access.grants.filter((g) => (g.type === '*' || g.type === type) && g.permissions.has(permission));
  if (access.patient !== undefined) return granted.length > 0 ? 'compartment' : 'none';
  return granted.some((g) => g.level !== 'patient') ? 'all' : 'none';
}

/** The scope that would grant `permission` on `type`, for the 403's scope= hint. */
export function neededScope(access: Access, type: string, permission: Permission): string {
  const level = access.patient !== undefined && access.grants.some((g) => g.level === 'patient') ? 'patient' : access.grants[0]?.level ?? 'user';
  return `${level}/${type}.${permission}`;
}
