// A test OAuth 2.0 / SMART authorization server, as far as resource servers
// see one: key pairs, their public JWKS (as a file or served over loopback
// HTTP), signed access tokens, and the forged tokens an attacker would try.
import { createHmac, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { JWK } from 'jose';

export type SigningAlgorithm = 'RS256' | 'ES256';

export interface TokenOptions {
  alg?: SigningAlgorithm;
  /**
   * A kid this issuer holds picks that key; any other is put in the header of
   * a token signed by the alg's first key; null signs with that key and leaves
   * kid out of the header.
   */
  kid?: string | null;
  /** Seconds from now to exp (default 300); negative gives an expired token. */
  expiresIn?: number;
  /** Seconds from now to nbf (no nbf unless given). */
  notBefore?: number;
  issuer?: string;
  audience?: string;
}

interface SigningKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: JWK;
}

export const DEFAULT_ISSUER = 'https://issuer.test/auth';
export const DEFAULT_AUDIENCE = 'https://fhir.test/fhir';

export class TestIssuer {
  readonly issuer: string;
  readonly audience: string;
  /** Requests for /jwks.json served since serve(). */
  jwksRequests = 0;

  private readonly keys: SigningKey[];
  // Not in the JWKS: what an attacker signs with.
  private readonly rogue: SigningKey;
  private jwksPath: string | undefined;
  private server: Server | undefined;

  private constructor(issuer: string, audience: string, keys: SigningKey[], rogue: SigningKey) {
    this.issuer = issuer;
    this.audience = audience;
    this.keys = keys;
    this.rogue = rogue;
  }

  static async create(options: { issuer?: string; audience?: string } = {}): Promise<TestIssuer> {
    const [rsa, ec, rogue] = await Promise.all([
      signingKey('rsa-1', 'RS256'),
      signingKey('ec-1', 'ES256'),
      signingKey('rsa-1', 'RS256'),
    ]);
    return new TestIssuer(options.issuer ?? DEFAULT_ISSUER, options.audience ?? DEFAULT_AUDIENCE, [rsa, ec], rogue);
  }

  /** The public JWKS (a fresh copy). */
  jwks(): { keys: JWK[] } {
    return { keys: this.keys.map((key) => ({ ...key.publicJwk })) };
  }

  /** Writes the JWKS to path; rotate() rewrites it. */
  async writeJwksFile(path: string): Promise<void> {
    this.jwksPath = path;
    await writeFile(path, JSON.stringify(this.jwks(), null, 2));
  }

  /** Serves the JWKS at /jwks.json on a loopback port; returns its URL. */
  async serve(): Promise<string> {
    if (this.server === undefined) {
      const server = createServer((request, response) => {
        if (request.method === 'GET' && request.url === '/jwks.json') {
          this.jwksRequests += 1;
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(JSON.stringify(this.jwks()));
        } else {
          response.writeHead(404, { 'content-type': 'text/plain' });
          response.end('not found');
        }
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      this.server = server;
    }
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/jwks.json`;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) {
      // jose's fetches use the global agent (keep-alive on Node 19+): drop idle sockets.
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  /**
   * A signed access token. iss, aud, iat, exp (and nbf when asked) are filled
   * in; claims override them (`exp: undefined` leaves exp out).
   */
  async token(claims: Record<string, unknown>, options: TokenOptions = {}): Promise<string> {
    const own = this.keys.find((key) => key.kid === options.kid);
    const alg = own?.alg ?? options.alg ?? 'RS256';
    const key = own ?? this.firstKey(alg);
    const kid = options.kid === null ? undefined : options.kid ?? key.kid;
    return sign(this.payload(claims, options), key.privateKey, alg, kid);
  }

  /** alg none, no signature. */
  unsignedToken(claims: Record<string, unknown>): string {
    const header = encode({ alg: 'none', typ: 'JWT' });
    return `${header}.${encode(this.payload(claims, {}))}.`;
  }

  /** HS256 with the RSA public key's PEM as the HMAC secret (the algorithm-confusion attack). */
  hmacWithPublicKey(claims: Record<string, unknown>): string {
    const rsa = this.firstKey('RS256');
    const secret = rsa.publicKey.export({ type: 'spki', format: 'pem' });
    const input = `${encode({ alg: 'HS256', typ: 'JWT', kid: rsa.kid })}.${encode(this.payload(claims, {}))}`;
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  }

  /** RS256, kid 'rsa-1', signed by a key that is not in the JWKS. */
  async wrongKeyToken(claims: Record<string, unknown>): Promise<string> {
    return sign(this.payload(claims, {}), this.rogue.privateKey, 'RS256', 'rsa-1');
  }

  /** Adds RSA key 'rsa-2' to the JWKS (and to its file, if one was written). */
  async rotate(): Promise<void> {
    if (!this.keys.some((key) => key.kid === 'rsa-2')) {
      this.keys.push(await signingKey('rsa-2', 'RS256'));
    }
    if (this.jwksPath !== undefined) {
      await this.writeJwksFile(this.jwksPath);
    }
  }

  private firstKey(alg: SigningAlgorithm): SigningKey {
    const key = this.keys.find((k) => k.alg === alg);
    if (key === undefined) {
      throw new Error(`no ${alg} key`);
    }
    return key;
  }

  private payload(claims: Record<string, unknown>, options: TokenOptions): Record<string, unknown> {
    const now = Math.floor(Date.now() / 1000);
    return {
      iss: options.issuer ?? this.issuer,
      aud: options.audience ?? this.audience,
      iat: now,
      exp: now + (options.expiresIn ?? 300),
      ...(options.notBefore === undefined ? {} : { nbf: now + options.notBefore }),
      ...claims,
    };
  }
}

async function signingKey(kid: string, alg: SigningAlgorithm): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair<KeyObject>(alg, { extractable: true });
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, publicJwk };
}

async function sign(payload: Record<string, unknown>, key: KeyObject, alg: SigningAlgorithm, kid: string | undefined): Promise<string> {
  const header = kid === undefined ? { alg, typ: 'JWT' } : { alg, kid, typ: 'JWT' };
  return new SignJWT(payload).setProtectedHeader(header).sign(key);
}

function encode(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
