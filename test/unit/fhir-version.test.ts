// Choosing the FHIR version of a request (http.html#version-parameter) and
// turning an R4 request into the R5 one the router serves: pure, no I/O.
import { expect } from 'chai';
import { OperationOutcomeError } from '../../src/fhir/outcome';
import { versionOf } from '../../src/http/adapter';
import { fhirJson, requestedFhirVersion } from '../../src/http/negotiation';
import type { FhirRequest, FhirResponse } from '../../src/interactions/request';
import { requestFromR4, VersionView } from '../../src/interactions/version-view';

const SERVED = ['4.0', '5.0'];
const BASE = 'http://pacs/fhir';

function statusOf(action: () => unknown): number | undefined {
  try {
    action();
  } catch (error) {
    if (error instanceof OperationOutcomeError) return error.status;
    throw error;
  }
  return undefined;
}

const request = (path: string[], extra: Partial<FhirRequest> = {}): FhirRequest =>
  ({ method: 'GET', path, query: [], headers: {}, baseUrl: BASE, fhirVersion: '4.0', ...extra });

describe('FHIR version of a request', () => {
  it('reads fhirVersion from Accept, else Content-Type; none is the default', () => {
    expect(requestedFhirVersion(undefined, undefined, SERVED)).to.equal(undefined);
    expect(requestedFhirVersion('application/fhir+json', undefined, SERVED)).to.equal(undefined);
    expect(requestedFhirVersion('application/fhir+json; fhirVersion=4.0', undefined, SERVED)).to.equal('4.0');
    expect(requestedFhirVersion('text/html, application/fhir+json;fhirversion="4.0";q=0.9', undefined, SERVED)).to.equal('4.0');
    expect(requestedFhirVersion('application/fhir+json; fhirVersion=4.0.1', undefined, SERVED)).to.equal('4.0');
    expect(requestedFhirVersion(undefined, 'application/fhir+json; fhirVersion=4.0', SERVED)).to.equal('4.0');
    expect(requestedFhirVersion('application/fhir+json; fhirVersion=5.0', 'application/fhir+json; fhirVersion=4.0', SERVED)).to.equal('5.0');
  });

  it('refuses a version not served with 406', () => {
    expect(statusOf(() => requestedFhirVersion('application/fhir+json; fhirVersion=3.0', undefined, SERVED))).to.equal(406);
    expect(statusOf(() => requestedFhirVersion('application/fhir+json; fhirVersion=four', undefined, SERVED))).to.equal(406);
  });

  it('takes /R4 and /R5 at the start of the path as the version, with their own base', () => {
    expect(versionOf(['R4', 'Patient', '1'], {}, BASE)).to.deep.equal({ fhirVersion: '4.0', explicit: true, path: ['Patient', '1'], baseUrl: `${BASE}/R4` });
    expect(versionOf(['R5', 'metadata'], {}, BASE)).to.deep.equal({ fhirVersion: '5.0', explicit: true, path: ['metadata'], baseUrl: `${BASE}/R5` });
    expect(versionOf(['Patient'], {}, BASE)).to.deep.equal({ fhirVersion: '5.0', explicit: false, path: ['Patient'], baseUrl: BASE });
    expect(versionOf(['Patient'], { accept: 'application/fhir+json; fhirVersion=4.0' }, BASE).fhirVersion).to.equal('4.0');
  });

  it('names the version in the answer only when the client named one', () => {
    expect(fhirJson(undefined)).to.equal('application/fhir+json; charset=utf-8');
    expect(fhirJson('4.0')).to.equal('application/fhir+json; fhirVersion=4.0; charset=utf-8');
  });
});

describe('R4 requests as the R5 ones the router serves', () => {
  it('renames R4 search parameters, in the query and in If-None-Exist', () => {
    const r5 = requestFromR4(request(['ServiceRequest'], {
      query: [['code', 'http://loinc.org|24627-2'], ['_include', 'ServiceRequest:subject']],
      headers: { 'if-none-exist': 'ServiceRequest?code=x&identifier=A-1' },
    }));
    expect(r5.query).to.deep.equal([['code-concept', 'http://loinc.org|24627-2'], ['_include', 'ServiceRequest:subject']]);
    expect(r5.headers['if-none-exist']).to.equal('ServiceRequest?code-concept=x&identifier=A-1');
    expect(requestFromR4(request(['ImagingStudy'], { query: [['basedon', 'ServiceRequest/1']] })).query).to.deep.equal([['based-on', 'ServiceRequest/1']]);
  });

  it('validates an R4 body against R4 before converting it: an R5 shape is a 422', () => {
    const r4 = { resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: { reference: 'Patient/p' }, code: { text: 'CT chest' } };
    const r5 = requestFromR4(request(['ServiceRequest'], { method: 'POST', body: r4 })).body as Record<string, unknown>;
    expect(r5.code).to.deep.equal({ concept: { text: 'CT chest' } });
    expect(statusOf(() => requestFromR4(request(['ServiceRequest'], { method: 'POST', body: { ...r4, code: { concept: { text: 'CT' } } } })))).to.equal(422);
  });

  it('names the entry of a transaction whose R4 resource is invalid', () => {
    const bundle = { resourceType: 'Bundle', type: 'transaction', entry: [
      { resource: { resourceType: 'Task', status: 'requested', intent: 'order' }, request: { method: 'POST', url: 'Task' } },
      { resource: { resourceType: 'Task', status: 'bogus', intent: 'order' }, request: { method: 'POST', url: 'Task' } },
    ] };
    try {
      requestFromR4(request([], { method: 'POST', body: bundle }));
      expect.fail('expected a 422');
    } catch (error) {
      expect((error as OperationOutcomeError).status).to.equal(422);
      expect((error as OperationOutcomeError).outcome.issue[0]!.expression![0]).to.match(/^Bundle\.entry\[1\]\.resource\.Task\.status/);
    }
  });

  it('answers R4: the resource and the errors converted, R5 requests untouched', async () => {
    const seen: FhirRequest[] = [];
    const view = new VersionView({
      async handle(r: FhirRequest): Promise<FhirResponse> {
        seen.push(r);
        if (r.path[0] === 'missing') throw new OperationOutcomeError(404, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found' }] });
        return { status: 200, resource: { resourceType: 'ServiceRequest', id: 's', status: 'active', intent: 'order', subject: { reference: 'Patient/p' }, code: { concept: { text: 'CT' } } } };
      },
    });
    const r4 = await view.handle(request(['ServiceRequest', 's']));
    expect(r4.resource!.code).to.deep.equal({ text: 'CT' });
    const r5 = await view.handle(request(['ServiceRequest', 's'], { fhirVersion: '5.0' }));
    expect(r5.resource!.code).to.deep.equal({ concept: { text: 'CT' } });
    try {
      await view.handle(request(['missing']));
      expect.fail('expected a 404');
    } catch (error) {
      expect((error as OperationOutcomeError).status).to.equal(404);
    }
    expect(seen).to.have.length(3);
  });
});
