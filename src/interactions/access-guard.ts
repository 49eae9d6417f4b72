// The router's authorization checks for one request (issue #12): the
// token's scopes interaction by interaction, searches narrowed to the
// patient context, and nothing answered that the token may not read
// (matches, _include, _revinclude, history, operation results).
import { forbidden, notFound } from '../fhir/outcome';
import type { Bundle, Resource } from '../fhir/types';
import { compartmentFilter, readableBy, withinReach } from '../resources/compartments';
import { neededScope, reach, type Access, type Permission, type Reach } from '../fhir/access';

const ORDER: readonly Reach[] = ['none', 'compartment', 'all'];

export class AccessGuard {
  constructor(
    readonly access: Access,
    /** Types only the administrator reads (the audit trail), whatever the scopes say. */
    private readonly adminOnly: (type: string) => boolean = () => false,
  ) {}

  /** Only the AdminScope (or a RegisteredUsers user) reaches `what`. */
  requireAdmin(what: string): void {
    if (!this.access.admin) throw forbidden(`${what} needs the administrator scope`);
  }

  /** Only a token that reaches every patient (no patient context) may do `what`. */
  requireAll(what: string): void {
    if (this.access.patient !== undefined && !this.access.admin) throw forbidden(`${what} is not open to a token with a patient context`);
  }

  /** Whether `type` is readable by this token at all (the audit trail is the administrator's). */
  admits(type: string): boolean {
    return this.access.admin || !this.adminOnly(type);
  }

  /** The reach of every one of `permissions` on `type` (the narrowest); 403 when one reaches nothing. */
  need(type: string, ...permissions: Permission[]): Reach {
    let narrowest: Reach = 'all';
    for (const permission of permissions) {
      const found = reach(this.access, type, permission);
      if (found === 'none') {
        throw forbidden(`The token's scopes (${this.access.scopes.join(' ') || 'none'}) do not allow '${permission}' on ${type}`,
          neededScope(this.access, type, permission));
      }
      if (ORDER.indexOf(found) < ORDER.indexOf(narrowest)) narrowest = found;
    }
    return narrowest;
  }

  /** Whether `permission` on `type` reaches anything. */
  may(type: string, permission: Permission): boolean {
    return reach(this.access, type, permission) !== 'none';
  }

  /** `query` narrowed to the patient context when the reach is the compartment. */
  narrow(type: string, found: Reach, query: Array<[string, string]>): Array<[string, string]> {
    return found === 'compartment' ? [...query, ...compartmentFilter(type, this.access.patient!)] : query;
  }

  /** Whether `resource` may be answered under `found` (its type's reach). */
  private within(resource: Resource, found: Reach): boolean {
    return withinReach(resource, found, this.access.patient);
  }

  /** Whether the token may read `resource` (an included one, say). */
  readable(resource: Resource): boolean {
    // What the server says of the request itself (an outcome, a Subscription's status) holds no one's data.
    if (resource.resourceType === 'OperationOutcome' || resource.resourceType === 'SubscriptionStatus') return true;
    if (!this.access.admin && this.adminOnly(resource.resourceType)) return false;
    return readableBy(this.access, resource);
  }

  /** A read outside the compartment is answered as if the resource did not exist. */
  checkRead(resource: Resource, found: Reach, what: string): Resource {
    if (!this.within(resource, found)) throw notFound(`${what} is not known`);
    return resource;
  }

  /** A write outside the compartment is refused. */
  checkWrite(resource: Resource | undefined, found: Reach, what: string): void {
    if (resource !== undefined && !this.within(resource, found)) {
      throw forbidden(`${what} is outside the patient context of the token (Patient/${this.access.patient})`);
    }
  }

  /**
   * The entries the token may see: matches within the search's reach,
   * included resources it may read. A history entry without a resource (a
   * deletion) says nothing of its patient: left out under a compartment.
   */
  filterBundle(bundle: Bundle, type: string | undefined, found: Reach): Bundle {
    if (!bundle.entry || (found === 'all' && this.access.admin)) return bundle;
    const entry = bundle.entry.filter((e) => {
      if (!e.resource) return found === 'all';
      const mode = e.search?.mode;
      if ((mode === 'match' || mode === undefined) && e.resource.resourceType === type) return this.within(e.resource, found);
      return this.readable(e.resource);
    });
    if (entry.length === bundle.entry.length) return bundle;
    const filtered: Bundle = { ...bundle, entry };
    if (entry.length === 0) delete filtered.entry;
    return filtered;
  }
}
