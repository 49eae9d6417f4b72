import { expect } from 'chai';
import type { FhirConfig } from '../../src/config';
import { badRequest } from '../../src/fhir/outcome';
import { createHttpHandler, decodeQuery, splitPath } from '../../src/http/adapter';
import { publicBaseUrl } from '../../src/http/base-url';
import type { FhirRequest, FhirResponse } from '../../src/interactions/request';
import type { NativeRequest } from '../../src/native';

const config: FhirConfig = { requestTimeoutSeconds: 30, maxBodySize: 100, defaultCount: 10, maxCount: 100, dicomWebRoot: '/dicom-web', wadoRoot: '/wado', databaseDirectory: '/tmp', worklist: { enable: false, filterIssuerAet: false, limitAnswers: 0 }, heapLimitMiB: 1024, cacheBytes: 1 << 20, store: { kind: 'sqlite' }, subscriptions: { allowedEndpoints: [], maxRetrySeconds: 300, eventRetentionHours: 168 } };

function nativeRequest(overrides: Partial<NativeRequest>): NativeRequest {
  return { id: 1, channel: 'http', method: 'GET', url: '/fhir/metadata', query: [], headers: { host: 'pacs:8042' }, body: Buffer.alloc(0), ip: '', ...overrides };
}

describe('HTTP adapter', () => {
  let seen: FhirRequest | undefined;
  const errors: string[] = [];
  const router = {
    async handle(request: FhirRequest): Promise<FhirResponse> {
      seen = request;
      if (request.path[0] === 'boom') throw new TypeError('a bug');
      if (request.path[0] === 'bad') throw badRequest('bad on purpose');
      return { status: 200, resource: { resourceType: 'Parameters' } };
    },
  };
  const handle = createHttpHandler(router, config, (message) => errors.push(message));

  it('decodes the query, drops _format and _pretty, and computes the base URL', async () => {
    const answer = await handle(nativeRequest({ url: '/fhir/Patient', query: [['name', 'M%C3%BCller+x'], ['_format', 'json'], ['_pretty', 'true']] }));
    expect(answer.status).to.equal(200);
    expect(seen?.query).to.deep.equal([['name', 'Müller x']]);
    expect(seen?.path).to.deep.equal(['Patient']);
    expect(seen?.baseUrl).to.equal('http://pacs:8042/fhir');
    expect(answer.body).to.contain('\n');
  });

  it('maps a thrown OperationOutcomeError to its status, and anything else to 500', async () => {
    const bad = await handle(nativeRequest({ url: '/fhir/bad' }));
    expect(bad.status).to.equal(400);
    const boom = await handle(nativeRequest({ url: '/fhir/boom' }));
    expect(boom.status).to.equal(500);
    expect(JSON.parse(boom.body as string).issue[0].code).to.equal('exception');
    expect(errors.join()).to.contain('a bug');
  });

  it('refuses oversized, non-JSON and malformed bodies', async () => {
    const big = await handle(nativeRequest({ method: 'POST', url: '/fhir/x', body: Buffer.alloc(101, 32) }));
    expect(big.status).to.equal(400);
    expect(JSON.parse(big.body as string).issue[0].code).to.equal('too-long');
    const malformed = await handle(nativeRequest({ method: 'POST', url: '/fhir/x', body: Buffer.from('{') }));
    expect(malformed.status).to.equal(400);
    const parsed = await handle(nativeRequest({ method: 'PUT', url: '/fhir/x', body: Buffer.from('{"a":1}') }));
    expect(parsed.status).to.equal(200);
    expect(seen?.body).to.deep.equal({ a: 1 });
  });

  it('takes POST _search parameters from a form body', async () => {
    await handle(nativeRequest({
      method: 'POST',
      url: '/fhir/Patient/_search',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: Buffer.from('family=M%C3%BCller&gender=male'),
    }));
    expect(seen?.query).to.deep.equal([['family', 'Müller'], ['gender', 'male']]);
    expect(seen?.body).to.equal(undefined);
  });

  it('splits paths without decoding twice', () => {
    expect(splitPath('/fhir/Patient/a%41')).to.deep.equal(['Patient', 'a%41']);
    expect(splitPath('/fhir')).to.deep.equal([]);
    expect(() => decodeQuery([['x', '%E0%A4%A']]) ).to.throw();
  });

  it('builds the base URL from the configuration, proxies or Host', () => {
    expect(publicBaseUrl('https://x/fhir', { host: 'y' })).to.equal('https://x/fhir');
    expect(publicBaseUrl(undefined, { host: 'h:1', 'x-forwarded-host': 'pub.example', 'x-forwarded-proto': 'https' })).to.equal('https://pub.example/fhir');
    expect(publicBaseUrl(undefined, { host: 'bad host<>' })).to.equal('http://localhost/fhir');
  });
});
