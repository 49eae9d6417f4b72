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

describe('HTTP adapter: the pages\' files and previews', () => {
  const image = { contentType: 'image/jpeg', body: Buffer.from([0xff, 0xd8, 0xff]) };
  const asked: string[] = [];
  const previews = {
    async image(studyId: string, seriesUid?: string) {
      asked.push(`${studyId} ${seriesUid ?? ''}`);
      return studyId === 'gone' ? undefined : image;
    },
  };
  // The router counts the study readable when its search finds one.
  const readable = new Set(['s1', 'gone']);
  const router = {
    async handle(request: FhirRequest): Promise<FhirResponse> {
      const id = request.query.find(([name]) => name === '_id')?.[1] ?? '';
      return { status: 200, resource: { resourceType: 'Bundle', type: 'searchset', total: readable.has(id) ? 1 : 0 } };
    },
  };
  const handle = createHttpHandler(router, config, () => undefined, undefined, previews);

  it('serves its style sheet and script with their types, and nothing else under .assets', async () => {
    const css = await handle(nativeRequest({ url: '/fhir/.assets/pages.css', headers: { host: 'pacs', accept: 'text/css' } }));
    expect(css.status).to.equal(200);
    expect(css.headers['content-type']).to.match(/^text\/css/);
    const script = await handle(nativeRequest({ url: '/fhir/.assets/pages.js' }));
    expect(script.headers['content-type']).to.match(/^text\/javascript/);
    expect((await handle(nativeRequest({ url: '/fhir/.assets/../../etc/passwd' }))).status).to.equal(404);
  });

  it('serves a preview only of a study the reader may search, and 404 otherwise', async () => {
    const shown = await handle(nativeRequest({ url: '/fhir/.assets/preview/s1/1.2.3', headers: { host: 'pacs', accept: 'image/*' } }));
    expect(shown.status).to.equal(200);
    expect(shown.headers['content-type']).to.equal('image/jpeg');
    expect(asked).to.deep.equal(['s1 1.2.3']);
    expect((await handle(nativeRequest({ url: '/fhir/.assets/preview/other' }))).status).to.equal(404);
    expect((await handle(nativeRequest({ url: '/fhir/.assets/preview/gone' }))).status).to.equal(404);
    expect(asked).to.deep.equal(['s1 1.2.3', 'gone ']);
  });

  it('sends pages with a policy that allows only its own files', async () => {
    const page = await handle(nativeRequest({ url: '/fhir/ImagingStudy', headers: { host: 'pacs', accept: 'text/html' } }));
    expect(page.headers['content-type']).to.match(/^text\/html/);
    expect(page.headers['content-security-policy']).to.contain("default-src 'none'").and.contain("script-src 'self'");
    expect(page.headers['cache-control']).to.equal('no-cache');
    const json = await handle(nativeRequest({ url: '/fhir/ImagingStudy' }));
    expect(json.headers['content-security-policy']).to.equal(undefined);
  });
});
