import { expect } from 'chai';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { bearerToken, TokenError, TokenVerifier, type TokenSettings, type VerifiedToken } from '../../src/http/bearer-tokens';
import { TestIssuer } from '../support/issuer';

// The verifier and jose read the time through Date.now (cooldowns, cache
// expiry, and jose's currentDate which the verifier passes): moving it moves
// time for both, without waiting.
const realNow = Date.now;
let clockOffsetMs = 0;
function advanceClock(seconds: number): void {
  clockOffsetMs += seconds * 1000;
  Date.now = () => realNow.call(Date) + clockOffsetMs;
}
function resetClock(): void {
  clockOffsetMs = 0;
  Date.now = realNow;
}

async function refusal(verifier: TokenVerifier, token: string): Promise<TokenError> {
  try {
    const verified = await verifier.verify(token);
    throw new Error(`accepted: ${JSON.stringify(verified)}`);
  } catch (error) {
    if (error instanceof TokenError) return error;
    throw error;
  }
}

// A loopback port nothing listens on (any more).
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address !== null ? address.port : 1;
}

// The same token with kid dropped from its header (and so its signature no longer matching).
function withoutKid(token: string): string {
  const [, payload, signature] = token.split('.');
  const header = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT' })).toString('base64url');
  return `${header}.${payload}.${signature}`;
}

async function reason(verifier: TokenVerifier, token: string): Promise<string> {
  return (await refusal(verifier, token)).message;
}

function settings(issuer: TestIssuer, jwks: string, clockSkewSeconds = 0): TokenSettings {
  return { issuer: issuer.issuer, audience: issuer.audience, jwks, clockSkewSeconds };
}

describe('bearer tokens', () => {
  let issuer: TestIssuer;
  let dir: string;

  before(async () => {
    issuer = await TestIssuer.create();
    dir = await mkdtemp(join(tmpdir(), 'bearer-tokens-'));
  });
  after(async () => {
    await issuer.close();
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(resetClock);

  describe('bearerToken()', () => {
    it('extracts the token, whatever the case of the scheme', () => {
      expect(bearerToken('Bearer abc.def-_~+/=')).to.equal('abc.def-_~+/=');
      expect(bearerToken('bearer abc')).to.equal('abc');
      expect(bearerToken('BEARER   abc ')).to.equal('abc');
    });

    it('gives undefined without a bearer token', () => {
      expect(bearerToken(undefined)).to.equal(undefined);
      expect(bearerToken('')).to.equal(undefined);
      expect(bearerToken('Bearer')).to.equal(undefined);
      expect(bearerToken('Bearer ')).to.equal(undefined);
      expect(bearerToken('Basic dXNlcjpwYXNz')).to.equal(undefined);
      expect(bearerToken('Bearer a b')).to.equal(undefined);
      expect(bearerToken('Bearerabc')).to.equal(undefined);
    });
  });

  for (const source of ['file', 'url'] as const) {
    describe(`with the JWKS from a ${source}`, () => {
      let jwks: string;

      before(async () => {
        if (source === 'file') {
          jwks = join(dir, 'jwks.json');
          await issuer.writeJwksFile(jwks);
        } else {
          jwks = await issuer.serve();
        }
      });

      const verifier = (clockSkewSeconds = 0) => new TokenVerifier(settings(issuer, jwks, clockSkewSeconds));

      it('accepts an RS256 token and reads its claims', async () => {
        const token = await issuer.token({
          sub: 'user-7',
          client_id: 'app-1',
          azp: 'not-this',
          scope: 'launch/patient  patient/*.rs openid',
          patient: 'p-42',
          fhirUser: 'Practitioner/pr-1',
        });
        const verified = await verifier().verify(token);
        expect(verified).to.deep.equal({
          subject: 'user-7',
          client: 'app-1',
          scopes: ['launch/patient', 'patient/*.rs', 'openid'],
          patient: 'p-42',
          fhirUser: 'Practitioner/pr-1',
          issuer: issuer.issuer,
          expiresAt: decodeJwt(token).exp,
        });
        expect(verified.expiresAt).to.be.closeTo(Date.now() / 1000 + 300, 2);
      });

      it('accepts an ES256 token', async () => {
        const token = await issuer.token({ sub: 'ec-user' }, { alg: 'ES256' });
        expect(token.split('.')[0]).to.equal(Buffer.from(JSON.stringify({ alg: 'ES256', kid: 'ec-1', typ: 'JWT' })).toString('base64url'));
        const verified = await verifier().verify(token);
        expect(verified.subject).to.equal('ec-user');
        expect(verified.scopes).to.deep.equal([]);
        expect(verified).not.to.have.property('client');
        expect(verified).not.to.have.property('patient');
      });

      it('takes the client from azp without client_id', async () => {
        const verified = await verifier().verify(await issuer.token({ azp: 'app-2' }));
        expect(verified.client).to.equal('app-2');
      });

      it('takes scopes from scp, an array or a string', async () => {
        const fromArray = await verifier().verify(await issuer.token({ scp: ['user/Patient.r', 'openid', 7] }));
        expect(fromArray.scopes).to.deep.equal(['user/Patient.r', 'openid']);
        const fromString = await verifier().verify(await issuer.token({ scp: 'system/*.rs fhirUser' }));
        expect(fromString.scopes).to.deep.equal(['system/*.rs', 'fhirUser']);
      });

      it('accepts the audience among several', async () => {
        const several = await issuer.token({ aud: ['https://other.test', issuer.audience] });
        expect((await verifier().verify(several)).issuer).to.equal(issuer.issuer);
      });

      it('refuses alg none', async () => {
        expect(await reason(verifier(), issuer.unsignedToken({ sub: 'x' }))).to.equal('the token algorithm is not supported');
      });

      it('refuses HS256 signed with the public key as the secret', async () => {
        expect(await reason(verifier(), issuer.hmacWithPublicKey({ sub: 'x' }))).to.equal('the token algorithm is not supported');
      });

      it('refuses a token signed by another key under a known kid', async () => {
        expect(await reason(verifier(), await issuer.wrongKeyToken({ sub: 'x' }))).to.equal('the token signature is invalid');
      });

      it('refuses a token whose claims were changed after signing', async () => {
        const [header, , signature] = (await issuer.token({ sub: 'user-7' })).split('.');
        const payload = Buffer.from(
          JSON.stringify({ iss: issuer.issuer, aud: issuer.audience, exp: Math.floor(Date.now() / 1000) + 300, sub: 'admin' }),
        ).toString('base64url');
        expect(await reason(verifier(), `${header}.${payload}.${signature}`)).to.equal('the token signature is invalid');
      });

      it('refuses an unknown kid', async () => {
        const token = await issuer.token({}, { kid: 'nobody' });
        expect(await reason(verifier(), token)).to.equal('the token is signed with an unknown key');
      });

      it('refuses another issuer', async () => {
        const token = await issuer.token({}, { issuer: 'https://evil.test' });
        expect(await reason(verifier(), token)).to.equal('the token is from another issuer');
        expect(await reason(verifier(), await issuer.token({ iss: undefined }))).to.equal('the token has no iss claim');
      });

      it('refuses another audience', async () => {
        const token = await issuer.token({}, { audience: 'https://other.test/fhir' });
        expect(await reason(verifier(), token)).to.equal('the token is for another audience');
        expect(await reason(verifier(), await issuer.token({ aud: ['a', 'b'] }))).to.equal('the token is for another audience');
      });

      it('refuses an expired token, beyond the clock skew', async () => {
        const token = await issuer.token({}, { expiresIn: -60 });
        expect(await reason(verifier(), token)).to.equal('the token has expired');
        expect(await reason(verifier(59), token)).to.equal('the token has expired');
        expect((await verifier(70).verify(token)).issuer).to.equal(issuer.issuer);
      });

      it('refuses a token not yet valid, beyond the clock skew', async () => {
        const token = await issuer.token({}, { notBefore: 60 });
        expect(await reason(verifier(), token)).to.equal('the token is not yet valid');
        expect(await reason(verifier(50), token)).to.equal('the token is not yet valid');
        expect((await verifier(60).verify(token)).issuer).to.equal(issuer.issuer);
      });

      it('refuses a token issued in the future, beyond the clock skew', async () => {
        const token = await issuer.token({ iat: Math.floor(Date.now() / 1000) + 60 });
        expect(await reason(verifier(), token)).to.equal('the token was issued in the future');
        expect((await verifier(60).verify(token)).issuer).to.equal(issuer.issuer);
      });

      it('refuses a token without exp', async () => {
        expect(await reason(verifier(), await issuer.token({ exp: undefined }))).to.equal('the token has no expiry');
        expect(await reason(verifier(), await issuer.token({ exp: 'tomorrow' }))).to.equal('the token exp claim is not a number');
      });

      it('refuses malformed tokens', async () => {
        for (const token of ['', 'abc', 'a.b.c', 'a.b', '..', `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.e30.`]) {
          const error = await refusal(verifier(), token);
          expect(error.message, token).to.match(/^the token (is malformed|signature is invalid)$/);
          expect(error.keysUnavailable).to.equal(false);
        }
        expect(await reason(verifier(), 'a.b.c')).to.equal('the token is malformed');
      });

      it('caches a verified token: the same answer without verifying again', async () => {
        const tokens = verifier();
        const token = await issuer.token({ sub: 'cached', scope: 'a b' });
        const requests = issuer.jwksRequests;
        const first = await tokens.verify(token);
        const second = await tokens.verify(token);
        // The very same (frozen) object: the second call did not build a new one.
        expect(second).to.equal(first);
        expect(Object.isFrozen(second)).to.equal(true);
        expect(Object.isFrozen(second.scopes)).to.equal(true);
        expect(issuer.jwksRequests).to.be.at.most(requests + (source === 'url' ? 1 : 0));
        const started = process.hrtime.bigint();
        for (let i = 0; i < 1000; i += 1) {
          await tokens.verify(token);
        }
        const perCallMicroseconds = Number(process.hrtime.bigint() - started) / 1000 / 1000;
        expect(perCallMicroseconds).to.be.below(100);
        // Another verifier has its own cache: a new object, equal.
        const other = await verifier().verify(token);
        expect(other).not.to.equal(first);
        expect(other).to.deep.equal(first);
      });

      it('refuses a cached token once it has expired', async () => {
        const tokens = verifier(10);
        const token = await issuer.token({ sub: 'short' }, { expiresIn: 60 });
        const verified: VerifiedToken = await tokens.verify(token);
        advanceClock(65);
        expect(await tokens.verify(token)).to.equal(verified);
        advanceClock(10);
        expect(await reason(tokens, token)).to.equal('the token has expired');
        expect(await reason(tokens, token)).to.equal('the token has expired');
      });

      it('does not cache a refused token', async () => {
        const tokens = verifier();
        const token = await issuer.token({}, { notBefore: 30 });
        expect(await reason(tokens, token)).to.equal('the token is not yet valid');
        advanceClock(30);
        expect((await tokens.verify(token)).issuer).to.equal(issuer.issuer);
      });
    });
  }

  describe('key rotation', () => {
    let rotating: TestIssuer;

    beforeEach(async () => {
      rotating = await TestIssuer.create();
    });
    afterEach(async () => {
      await rotating.close();
    });

    it('picks up a key added to the file, re-reading it at most every few seconds', async () => {
      const path = join(dir, 'rotating.json');
      await rotating.writeJwksFile(path);
      const tokens = new TokenVerifier(settings(rotating, path));
      expect((await tokens.verify(await rotating.token({ sub: 'before' }))).subject).to.equal('before');
      await rotating.rotate();
      const token = await rotating.token({ sub: 'after' }, { kid: 'rsa-2' });
      expect(token.split('.')[0]).to.equal(Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'rsa-2', typ: 'JWT' })).toString('base64url'));
      // Read less than 5 s ago: an unknown kid does not make it read again.
      expect(await reason(tokens, token)).to.equal('the token is signed with an unknown key');
      advanceClock(6);
      expect((await tokens.verify(token)).subject).to.equal('after');
      // The old key is still there.
      expect((await tokens.verify(await rotating.token({ sub: 'old' }, { kid: 'rsa-1' }))).subject).to.equal('old');
      // Just re-read: a kid still unknown is refused without another read...
      const unknown = await rotating.token({}, { kid: 'rsa-3' });
      await unlink(path);
      expect(await reason(tokens, unknown)).to.equal('the token is signed with an unknown key');
      // ...and, once read again and failing, the keys read before keep working.
      advanceClock(6);
      const failure = await refusal(tokens, unknown);
      expect(failure.message).to.equal("the issuer's keys cannot be read");
      expect(failure.keysUnavailable).to.equal(true);
      expect((await tokens.verify(await rotating.token({ sub: 'still' }, { kid: 'rsa-2' }))).subject).to.equal('still');
    });

    it('picks up a key added to the served JWKS after an unknown kid, with jose cooling down 30 s', async () => {
      const url = await rotating.serve();
      const tokens = new TokenVerifier(settings(rotating, url));
      expect((await tokens.verify(await rotating.token({ sub: 'before' }))).subject).to.equal('before');
      expect(rotating.jwksRequests).to.equal(1);
      // Known kids: no more fetches.
      expect((await tokens.verify(await rotating.token({ sub: 'ec' }, { alg: 'ES256' }))).subject).to.equal('ec');
      expect(rotating.jwksRequests).to.equal(1);
      await rotating.rotate();
      const token = await rotating.token({ sub: 'after' }, { kid: 'rsa-2' });
      expect(await reason(tokens, token)).to.equal('the token is signed with an unknown key');
      expect(rotating.jwksRequests).to.equal(1);
      advanceClock(31);
      expect((await tokens.verify(token)).subject).to.equal('after');
      expect(rotating.jwksRequests).to.equal(2);
    });

    it('tries each key of the type for a token without kid', async () => {
      const path = join(dir, 'no-kid.json');
      await rotating.rotate();
      await rotating.writeJwksFile(path);
      const tokens = new TokenVerifier(settings(rotating, path));
      for (const kid of ['rsa-1', 'rsa-2', 'ec-1']) {
        const token = await rotating.token({ sub: kid }, { kid: null, alg: kid === 'ec-1' ? 'ES256' : 'RS256' });
        expect(decodeProtectedHeader(token)).not.to.have.property('kid');
        expect((await tokens.verify(token)).subject).to.equal(kid);
      }
      // rsa-2 is not the first RSA key: signed by it, yet refused when only rsa-1 is tried.
      const signedByRsa2 = await rotating.token({ sub: 'rsa-2' }, { kid: 'rsa-2' });
      const [, payload, signature] = signedByRsa2.split('.');
      const header = Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'rsa-1', typ: 'JWT' })).toString('base64url');
      expect(await reason(tokens, `${header}.${payload}.${signature}`)).to.equal('the token signature is invalid');
      expect(await reason(tokens, await rotating.wrongKeyToken({}).then(withoutKid))).to.equal('the token signature is invalid');
    });
  });

  describe('keys that cannot be read', () => {
    it('refuses with a TokenError and logs when the JWKS URL does not answer', async () => {
      const lines: string[] = [];
      const url = `http://127.0.0.1:${await closedPort()}/jwks.json`;
      const tokens = new TokenVerifier(settings(issuer, url), (line) => lines.push(line));
      const token = await issuer.token({});
      const error = await refusal(tokens, token);
      expect(error.message).to.equal("the issuer's keys cannot be read");
      expect(error.keysUnavailable).to.equal(true);
      expect(lines).to.have.length(1);
      expect(lines[0]).to.contain(url);
      // Within a few seconds: refused without trying (nor logging) again.
      expect(await reason(tokens, token)).to.equal("the issuer's keys cannot be read");
      expect(lines).to.have.length(1);
      advanceClock(6);
      expect(await reason(tokens, token)).to.equal("the issuer's keys cannot be read");
      expect(lines).to.have.length(2);
    });

    it('refuses with a TokenError when the JWKS URL answers 404, then recovers', async () => {
      const served = await TestIssuer.create();
      try {
        const url = await served.serve();
        const lines: string[] = [];
        const wrong = new TokenVerifier(settings(served, url.replace('jwks.json', 'missing.json')), (line) => lines.push(line));
        expect(await reason(wrong, await served.token({}))).to.equal("the issuer's keys cannot be read");
        expect(lines.join('\n')).to.contain('200');
        const right = new TokenVerifier(settings(served, url));
        expect((await right.verify(await served.token({ sub: 'ok' }))).subject).to.equal('ok');
      } finally {
        await served.close();
      }
    });

    it('refuses with a TokenError and logs when the JWKS file is missing or bad, then reads it once fixed', async () => {
      const path = join(dir, 'later.json');
      const lines: string[] = [];
      const tokens = new TokenVerifier(settings(issuer, path), (line) => lines.push(line));
      const token = await issuer.token({ sub: 'later' });
      expect(await reason(tokens, token)).to.equal("the issuer's keys cannot be read");
      expect(await reason(tokens, token)).to.equal("the issuer's keys cannot be read");
      expect(lines).to.have.length(1);
      expect(lines[0]).to.contain(path);
      await writeFile(path, '{"keys": "none"}');
      advanceClock(6);
      expect(await reason(tokens, token)).to.equal("the issuer's keys cannot be read");
      expect(lines).to.have.length(2);
      await writeFile(path, 'not json');
      advanceClock(6);
      expect(await reason(tokens, token)).to.equal("the issuer's keys cannot be read");
      expect(lines).to.have.length(3);
      await issuer.writeJwksFile(path);
      expect(await reason(tokens, token)).to.equal("the issuer's keys cannot be read");
      advanceClock(6);
      expect((await tokens.verify(token)).subject).to.equal('later');
      expect(lines).to.have.length(3);
    });
  });
});
