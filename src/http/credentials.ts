// Who a request comes from, when authorization is on: a SMART bearer token
// verified against the issuer's keys, or HTTP Basic credentials of one of
// Orthanc's RegisteredUsers (checked here: Orthanc's own authentication is
// off, as it would refuse every bearer token first). The result is the
// Access the router and the request filter check.
import { timingSafeEqual } from 'node:crypto';
import type { AuthorizationConfig } from '../config';
import { forbidden, unauthorized, unavailable } from '../fhir/outcome';
import { adminAccess, parseScopes, type Access } from '../fhir/access';
import { TokenError, type TokenVerifier, type VerifiedToken } from './bearer-tokens';

/** Browsers are asked for Basic credentials (a token cannot be typed in). */
export const BASIC_CHALLENGE = 'Basic realm="Orthanc", charset="UTF-8"';

export class Authenticator {
  constructor(
    private readonly config: AuthorizationConfig,
    private readonly tokens: Pick<TokenVerifier, 'verify'>,
  ) {}

  /**
   * The access of the request's credentials; undefined when it has none.
   * Credentials that are refused throw a 401 OperationOutcomeError.
   */
  async authenticate(authorization: string | undefined): Promise<Access | undefined> {
    if (authorization === undefined || authorization.trim() === '') return undefined;
    const [scheme = '', credentials = ''] = authorization.trim().split(/\s+/, 2);
    switch (scheme.toLowerCase()) {
      case 'bearer':
        return this.bearer(credentials);
      case 'basic':
        return this.basic(credentials);
      default:
        throw unauthorized(`The ${scheme} authorization scheme is not supported (use a Bearer token)`);
    }
  }

  private async bearer(token: string): Promise<Access> {
    let verified: VerifiedToken;
    try {
      verified = await this.tokens.verify(token);
    } catch (error) {
      // Our fault, not the token's: a client must not throw a good token away.
      if (error instanceof TokenError && error.keysUnavailable) throw unavailable(`The token cannot be checked now: ${error.message}`, 5);
      if (error instanceof TokenError) throw unauthorized(error.message);
      throw error;
    }
    const principal = {
      ...(verified.subject !== undefined ? { subject: verified.subject } : {}),
      issuer: verified.issuer,
      ...(verified.client !== undefined ? { client: verified.client } : {}),
    };
    if (verified.scopes.includes(this.config.adminScope)) return adminAccess(principal, verified.scopes);
    // The patient context becomes a search value: anything but one FHIR id (a comma would be an OR) is refused.
    if (verified.patient !== undefined && !/^[A-Za-z0-9\-.]{1,64}$/.test(verified.patient)) {
      throw unauthorized('The token\'s patient claim is not a FHIR Patient id');
    }
    return {
      ...principal,
      grants: parseScopes(verified.scopes),
      ...(verified.patient !== undefined ? { patient: verified.patient } : {}),
      admin: false,
      scopes: verified.scopes,
    };
  }

  private basic(credentials: string): Access {
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon < 0 ? decoded : decoded.slice(0, colon);
    const password = colon < 0 ? '' : decoded.slice(colon + 1);
    const expected = this.config.registeredUsers.get(user);
    if (expected === undefined || !sameSecret(password, expected)) {
      throw unauthorized('Unknown user or wrong password', BASIC_CHALLENGE);
    }
    return adminAccess({ user });
  }
}

/** Compares secrets in a time that does not depend on where they differ. */
function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * A write (anything but GET) sent by a browser from another site with HTTP
 * Basic credentials it had cached: what a cross-site request forgery looks
 * like. Bearer tokens are never sent by a browser on its own.
 */
export function crossSiteWrite(method: string, headers: Readonly<Record<string, string>>): boolean {
  if (method === 'GET' || !/^basic\s/i.test(headers.authorization ?? '')) return false;
  const site = headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return true;
  const origin = headers.origin;
  if (origin === undefined || origin === 'null' || headers.host === undefined) return origin === 'null';
  try {
    return new URL(origin).host !== headers.host;
  } catch {
    return true;
  }
}

/** 403 for a cross-site write (see crossSiteWrite). */
export function refuseCrossSiteWrite(method: string, headers: Readonly<Record<string, string>>): void {
  if (crossSiteWrite(method, headers)) throw forbidden('A write from another site with a browser\'s login is refused');
}
