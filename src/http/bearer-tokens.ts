// Verification of SMART on FHIR access tokens (#12): JWTs signed by the
// authorization server, checked against the keys it publishes (a JWKS, from a
// file or a URL). jose does the cryptography; this module decides which
// algorithms, claims and key sources are acceptable, caches verified tokens,
// and turns every failure into a TokenError whose message a client may read.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify } from 'jose';
import type { FlattenedJWSInput, JWSHeaderParameters, JWTPayload, JWTVerifyOptions, KeyLike } from 'jose';

export interface TokenSettings {
  issuer: string;
  audience: string;
  jwks: string;
  clockSkewSeconds: number;
}

export interface VerifiedToken {
  subject?: string;
  client?: string;
  scopes: string[];
  patient?: string;
  fhirUser?: string;
  issuer: string;
  expiresAt: number;
}

export class TokenError extends Error {
  override readonly name = 'TokenError';

  // True when the token could not be judged because the issuer's keys could
  // not be read: a server-side failure, which should not make a client throw
  // away a token that may well be valid.
  readonly keysUnavailable: boolean;

  constructor(message: string, keysUnavailable = false) {
    super(message);
    this.keysUnavailable = keysUnavailable;
  }
}

// RFC 6750 section 2.1: "Bearer" 1*SP b64token, the scheme case-insensitive.
const BEARER = /^\s*Bearer +([A-Za-z0-9\-._~+/]+=*)\s*$/i;

export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) {
    return undefined;
  }
  return BEARER.exec(authorization)?.[1];
}

// Asymmetric algorithms only: with a symmetric one (HS256) the issuer's public
// key would become a secret anyone can sign with, and `none` signs nothing.
const ALGORITHMS = ['RS256', 'ES256'];

const KEYS_UNREADABLE = "the issuer's keys cannot be read";

// jose's createRemoteJWKSet: how long a fetch may take, how long a fetched set
// is used, and how soon an unknown kid may make it fetch again.
const REMOTE_TIMEOUT_MS = 5_000;
const REMOTE_MAX_AGE_MS = 10 * 60_000;
const REMOTE_COOLDOWN_MS = 30_000;

// Least time between two reads of a JWKS file, and between two attempts at a
// JWKS that could not be read: tokens naming an unknown kid, or an issuer that
// is down, must not cost a read (and a log line) per request.
const RETRY_COOLDOWN_MS = 5_000;

// At most this many verified tokens are remembered; each costs a few hundred bytes.
const CACHE_LIMIT = 10_000;

type KeyLookup = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<KeyLike>;
type Log = (message: string) => void;

export class TokenVerifier {
  private readonly settings: TokenSettings;
  private readonly log: Log;
  private readonly keys: KeyLookup;
  // Keyed by the SHA-256 of the token (not the token itself: the map then
  // holds no usable credentials), in least-recently-used order.
  private readonly cache = new Map<string, VerifiedToken>();

  constructor(settings: TokenSettings, log: Log = () => undefined) {
    if (!Number.isFinite(settings.clockSkewSeconds) || settings.clockSkewSeconds < 0) {
      throw new Error(`the clock skew must be a number of seconds >= 0, not ${settings.clockSkewSeconds}`);
    }
    this.settings = { ...settings };
    this.log = log;
    const source = /^https?:\/\//i.test(settings.jwks)
      ? new UrlKeys(new URL(settings.jwks), log)
      : new FileKeys(settings.jwks, log);
    this.keys = (header, token) => source.key(header, token);
  }

  async verify(token: string): Promise<VerifiedToken> {
    const digest = createHash('sha256').update(token).digest('base64url');
    const cached = this.cache.get(digest);
    if (cached !== undefined) {
      this.cache.delete(digest);
      // Same rule as jose's: valid while now < exp + tolerance.
      if (nowSeconds() >= cached.expiresAt + this.settings.clockSkewSeconds) {
        throw new TokenError('the token has expired');
      }
      this.cache.set(digest, cached);
      return cached;
    }
    const verified = await this.check(token);
    if (this.cache.size >= CACHE_LIMIT) {
      // Least recently used first; an expired entry is dropped when next
      // looked up, or when it reaches the front here.
      const oldest = this.cache.keys().next();
      if (oldest.done !== true) {
        this.cache.delete(oldest.value);
      }
    }
    this.cache.set(digest, verified);
    return verified;
  }

  private async check(token: string): Promise<VerifiedToken> {
    const options: JWTVerifyOptions = {
      algorithms: ALGORITHMS,
      issuer: this.settings.issuer,
      audience: this.settings.audience,
      clockTolerance: this.settings.clockSkewSeconds,
      requiredClaims: ['exp'],
      // One clock for jose and for the cache.
      currentDate: new Date(Date.now()),
    };
    let payload: JWTPayload;
    try {
      payload = (await jwtVerify(token, this.keys, options)).payload;
    } catch (error) {
      if (!(error instanceof errors.JWKSMultipleMatchingKeys)) {
        throw this.reason(error);
      }
      payload = await this.tryEachKey(token, error, options);
    }
    if (typeof payload.iat === 'number' && payload.iat > nowSeconds() + this.settings.clockSkewSeconds) {
      throw new TokenError('the token was issued in the future');
    }
    return toVerified(payload, this.settings.issuer);
  }

  // A token without a kid, and a JWKS with several keys of its type (jose's
  // documented way of handling JWKSMultipleMatchingKeys).
  private async tryEachKey(
    token: string,
    candidates: errors.JWKSMultipleMatchingKeys,
    options: JWTVerifyOptions,
  ): Promise<JWTPayload> {
    for await (const key of candidates) {
      try {
        return (await jwtVerify(token, key, options)).payload;
      } catch (error) {
        if (!(error instanceof errors.JWSSignatureVerificationFailed)) {
          throw this.reason(error);
        }
      }
    }
    throw new TokenError('the token signature is invalid');
  }

  private reason(error: unknown): TokenError {
    if (error instanceof TokenError) {
      return error;
    }
    if (error instanceof errors.JWTExpired) {
      return new TokenError('the token has expired');
    }
    if (error instanceof errors.JWTClaimValidationFailed) {
      return new TokenError(claimReason(error));
    }
    if (error instanceof errors.JWSSignatureVerificationFailed) {
      return new TokenError('the token signature is invalid');
    }
    if (error instanceof errors.JOSEAlgNotAllowed) {
      return new TokenError('the token algorithm is not supported');
    }
    if (error instanceof errors.JWKSNoMatchingKey) {
      return new TokenError('the token is signed with an unknown key');
    }
    if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) {
      return new TokenError('the token is malformed');
    }
    if (error instanceof errors.JOSENotSupported) {
      // e.g. a `crit` header parameter this verifier does not understand
      return new TokenError('the token uses an unsupported feature');
    }
    this.log(`bearer token verification failed unexpectedly: ${messageOf(error)}`);
    return new TokenError('the token cannot be verified');
  }
}

function claimReason(error: errors.JWTClaimValidationFailed): string {
  if (error.reason === 'missing') {
    return error.claim === 'exp' ? 'the token has no expiry' : `the token has no ${error.claim} claim`;
  }
  switch (error.claim) {
    case 'iss':
      return 'the token is from another issuer';
    case 'aud':
      return 'the token is for another audience';
    case 'nbf':
      return error.reason === 'check_failed' ? 'the token is not yet valid' : 'the token nbf claim is not a number';
    case 'exp':
      return 'the token exp claim is not a number';
    case 'iat':
      return 'the token iat claim is not a number';
    default:
      return `the token ${error.claim} claim is invalid`;
  }
}

function toVerified(payload: JWTPayload, issuer: string): VerifiedToken {
  const verified: VerifiedToken = {
    scopes: Object.freeze(scopesOf(payload)) as string[],
    issuer,
    // jose has checked that it is present and a number (requiredClaims)
    expiresAt: payload.exp as number,
  };
  const subject = stringClaim(payload, 'sub');
  const client = stringClaim(payload, 'client_id') ?? stringClaim(payload, 'azp');
  const patient = stringClaim(payload, 'patient');
  const fhirUser = stringClaim(payload, 'fhirUser');
  if (subject !== undefined) verified.subject = subject;
  if (client !== undefined) verified.client = client;
  if (patient !== undefined) verified.patient = patient;
  if (fhirUser !== undefined) verified.fhirUser = fhirUser;
  // Shared by every request presenting the token (the cache): nobody may change it.
  return Object.freeze(verified);
}

// `scope` (RFC 8693, a space-separated string) else `scp` (an array, or a
// string, depending on the authorization server).
function scopesOf(payload: JWTPayload): string[] {
  const scope = payload['scope'];
  if (typeof scope === 'string') {
    return splitScopes(scope);
  }
  const scp = payload['scp'];
  if (typeof scp === 'string') {
    return splitScopes(scp);
  }
  if (Array.isArray(scp)) {
    return scp.filter((s): s is string => typeof s === 'string' && s !== '');
  }
  return [];
}

function splitScopes(scopes: string): string[] {
  return scopes.split(/\s+/).filter((s) => s !== '');
}

function stringClaim(payload: JWTPayload, name: string): string | undefined {
  const value = payload[name];
  return typeof value === 'string' ? value : undefined;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isKeyChoiceError(error: unknown): boolean {
  return error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys;
}

// A JWKS served over HTTP(S). jose caches it, fetches it again after
// REMOTE_MAX_AGE_MS, and on an unknown kid at most once per REMOTE_COOLDOWN_MS.
class UrlKeys {
  private readonly remote: ReturnType<typeof createRemoteJWKSet>;
  private failedAt = -Infinity;

  constructor(private readonly url: URL, private readonly log: Log) {
    this.remote = createRemoteJWKSet(url, {
      timeoutDuration: REMOTE_TIMEOUT_MS,
      cacheMaxAge: REMOTE_MAX_AGE_MS,
      cooldownDuration: REMOTE_COOLDOWN_MS,
    });
  }

  async key(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<KeyLike> {
    // Without usable keys jose fetches on every call: after a failure, give
    // the issuer a few seconds before asking again.
    if (!this.remote.fresh && Date.now() - this.failedAt < RETRY_COOLDOWN_MS) {
      throw new TokenError(KEYS_UNREADABLE, true);
    }
    try {
      return await this.remote(header, token);
    } catch (error) {
      if (isKeyChoiceError(error)) {
        throw error;
      }
      this.failedAt = Date.now();
      this.log(`bearer tokens: cannot fetch or use the JWKS ${this.url.href}: ${messageOf(error)}`);
      throw new TokenError(KEYS_UNREADABLE, true);
    }
  }
}

// A JWKS file. Read when first needed, and again when a token names a kid it
// does not hold (a key rotated in), at most once per RETRY_COOLDOWN_MS.
class FileKeys {
  private keys: ReturnType<typeof createLocalJWKSet> | undefined;
  private readAt = -Infinity;
  private reading: Promise<void> | undefined;

  constructor(private readonly path: string, private readonly log: Log) {}

  async key(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<KeyLike> {
    if (this.keys === undefined) {
      await this.reload();
    }
    try {
      return await this.current()(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) {
        throw error;
      }
      if (this.reading === undefined && this.coolingDown()) {
        throw error;
      }
      await this.reload();
      return this.current()(header, token);
    }
  }

  private current(): ReturnType<typeof createLocalJWKSet> {
    if (this.keys === undefined) {
      throw new TokenError(KEYS_UNREADABLE, true);
    }
    return this.keys;
  }

  private coolingDown(): boolean {
    return Date.now() - this.readAt < RETRY_COOLDOWN_MS;
  }

  // Concurrent callers share one read. A failed read keeps the keys read
  // before (if any) for the kids they hold.
  private async reload(): Promise<void> {
    if (this.reading === undefined) {
      if (this.coolingDown()) {
        throw new TokenError(KEYS_UNREADABLE, true);
      }
      this.readAt = Date.now();
      this.reading = this.read().finally(() => {
        this.reading = undefined;
      });
    }
    await this.reading;
  }

  private async read(): Promise<void> {
    try {
      const jwks: unknown = JSON.parse(await readFile(this.path, 'utf8'));
      // createLocalJWKSet checks the shape ({ keys: [objects] }); the keys
      // themselves are imported when first used.
      this.keys = createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]);
    } catch (error) {
      this.log(`bearer tokens: cannot read the JWKS file ${this.path}: ${messageOf(error)}`);
      throw new TokenError(KEYS_UNREADABLE, true);
    }
  }
}
