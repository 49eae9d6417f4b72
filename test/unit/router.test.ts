import { expect } from 'chai';
import { OperationOutcomeError, notFound } from '../../src/fhir/outcome';
import type { Bundle, Resource } from '../../src/fhir/types';
import type { FhirRequest } from '../../src/interactions/request';
import { Router } from '../../src/interactions/router';
import type { ResourceProvider } from '../../src/resources/provider';

const server = { name: 'orthanc-fhir', version: '1.0.0', orthancVersion: '1.10.1', date: '2026-01-01T00:00:00Z' };

const readOnly: ResourceProvider = {
  type: 'Thing',
  interactions: ['read', 'search-type'],
  searchParams: [{ name: '_id', type: 'token' }],
  async read(id: string): Promise<Resource> {
    if (id !== 'one') throw notFound(`Thing/${id} is not known`);
    return { resourceType: 'Thing', id };
  },
  async search(): Promise<Bundle> {
    return { resourceType: 'Bundle', type: 'searchset', total: 0 };
  },
};

function request(method: FhirRequest['method'], ...path: string[]): FhirRequest {
  return { method, path, query: [], headers: {}, baseUrl: 'http://h/fhir' };
}

async function failureOf(promise: Promise<unknown>): Promise<OperationOutcomeError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof OperationOutcomeError) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

describe('router', () => {
  const router = new Router([readOnly], [], server);

  it('serves read and search from the declaration', async () => {
    expect((await router.handle(request('GET', 'Thing', 'one'))).resource).to.deep.equal({ resourceType: 'Thing', id: 'one' });
    expect((await router.handle(request('GET', 'Thing'))).resource?.resourceType).to.equal('Bundle');
    expect((await router.handle(request('POST', 'Thing', '_search'))).resource?.resourceType).to.equal('Bundle');
  });

  it('answers 404 for unknown types, ids and URLs', async () => {
    expect((await failureOf(router.handle(request('GET', 'Other', '1')))).status).to.equal(404);
    expect((await failureOf(router.handle(request('GET', 'Thing', 'two')))).status).to.equal(404);
    expect((await failureOf(router.handle(request('GET', 'Thing', 'bad id!')))).status).to.equal(404);
    expect((await failureOf(router.handle(request('GET', 'Thing', 'one', 'x', 'y', 'z')))).status).to.equal(404);
  });

  it('answers 405 with Allow for interactions not declared', async () => {
    const update = await failureOf(router.handle(request('PUT', 'Thing', 'one')));
    expect(update.status).to.equal(405);
    expect(update.headers.allow).to.equal('GET');
    const create = await failureOf(router.handle(request('POST', 'Thing')));
    expect(create.status).to.equal(405);
    expect(create.headers.allow).to.equal('GET');
    expect((await failureOf(router.handle(request('DELETE', 'metadata')))).status).to.equal(405);
  });

  it('describes exactly the declared interactions in the CapabilityStatement', async () => {
    const statement = (await router.handle(request('GET', 'metadata'))).resource as Record<string, any>;
    expect(statement.fhirVersion).to.equal('5.0.0');
    const thing = statement.rest[0].resource[0];
    expect(thing.type).to.equal('Thing');
    expect(thing.interaction.map((i: { code: string }) => i.code)).to.deep.equal(['read', 'search-type']);
    expect(thing.searchParam).to.deep.equal([{ name: '_id', type: 'token' }]);
  });
});
