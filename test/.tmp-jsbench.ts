import { createHttpHandler } from '../src/http/adapter';
import { Authenticator } from '../src/http/credentials';
import { TokenVerifier } from '../src/http/bearer-tokens';
import { RefusalThrottle } from '../src/http/refusal-throttle';
import { AuditTrail } from '../src/resources/audit-trail';
import { Router } from '../src/interactions/router';
import { TestIssuer } from './support/issuer';
import { writeFileSync } from 'node:fs';
async function main() {
  const issuer = await TestIssuer.create({});
  issuer.writeJwksFile('/tmp/jsbench/jwks.json');
  const study = { resourceType: 'ImagingStudy', id: 's1', subject: { reference: 'Patient/p1' }, status: 'available', series: [{ uid: '1.2', modality: { coding: [{ system: 'x', code: 'CT' }] } }] };
  const provider: any = { type: 'ImagingStudy', interactions: ['read'], searchParams: [], read: async () => study };
  const router = new Router([provider], [], { name: 'x', version: '1', orthancVersion: '1.10.1', date: '2026-01-01' });
  const config: any = { requestTimeoutSeconds: 30, maxBodySize: 1000, defaultCount: 10, maxCount: 100, dicomWebRoot: '/dicom-web', wadoRoot: '/wado', databaseDirectory: '/tmp', worklist: { enable: false }, heapLimitMiB: 1024, cacheBytes: 1 << 20, store: { kind: 'sqlite' } };
  const authorization: any = { issuer: issuer.issuer, audience: issuer.audience, jwks: '/tmp/jsbench/jwks.json', tokenEndpoint: 'https://x/t', adminScope: 'admin', clockSkewSeconds: 60, registeredUsers: new Map() };
  const verifier = new TokenVerifier({ issuer: issuer.issuer, audience: issuer.audience, jwks: '/tmp/jsbench/jwks.json', clockSkewSeconds: 60 });
  let appended = 0;
  const store: any = { audit: { append: async (e: unknown[]) => { appended += e.length; } }, outside: (w: () => unknown) => w() };
  const trail = new AuditTrail(store, { log: console.log });
  const security = { authorization, authenticator: new Authenticator(authorization, verifier), audit: (r: any) => trail.record(r), throttle: new RefusalThrottle(() => undefined) };
  const off = createHttpHandler(router, config, console.log);
  const on = createHttpHandler(router, config, console.log, security);
  const token = await issuer.token({ sub: 'u', scope: 'user/*.rs', client_id: 'c' }, { expiresIn: 3600 });
  const req = (auth?: string): any => ({ id: 1, channel: 'http', method: 'GET', url: '/fhir/ImagingStudy/s1', query: [], headers: { host: 'h:8042', accept: 'application/fhir+json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) }, body: Buffer.alloc(0), ip: '' });
  for (const round of [1, 2, 3]) {
    for (const [name, handler, auth] of [['off', off, undefined], ['on', on, token]] as const) {
      const n = 20000;
      const t = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        const a = await handler(req(auth));
        if (a.status !== 200) throw new Error(String(a.status) + a.body);
      }
      console.log(round, name, (Number(process.hrtime.bigint() - t) / n / 1000).toFixed(1), 'us/request');
    }
  }
  await trail.close();
  console.log('appended', appended);
  process.exit(0);
}
main();
