import { expect } from 'chai';
import { notFound } from '../../src/fhir/outcome';
import type { Bundle, Resource } from '../../src/fhir/types';
import type { FhirRequest } from '../../src/interactions/request';
import { Router } from '../../src/interactions/router';
import { withNarrative } from '../../src/resources/narrative';
import type { ResourceProvider } from '../../src/resources/provider';
import { failureOf } from '../support/outcome-error';

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


describe('router', () => {
  const router = new Router([readOnly], [], server);

  it('serves read and search from the declaration', async () => {
    // With the generic narrative every DomainResource answered gets.
    expect((await router.handle(request('GET', 'Thing', 'one'))).resource).to.deep.equal(withNarrative({ resourceType: 'Thing', id: 'one' }));
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

  it('routes PUT and DELETE of a type to the conditional writes, and [type]/[id]/$op to instance operations', async () => {
    const calls: string[] = [];
    const writable: ResourceProvider = {
      ...readOnly,
      type: 'Order',
      interactions: ['read', 'search-type', 'update', 'delete'],
      async conditionalUpdate(resource, condition) {
        calls.push(`update ${new URLSearchParams(condition)}`);
        return { status: 200, resource };
      },
      async conditionalDelete(condition) {
        calls.push(`delete ${new URLSearchParams(condition)}`);
        return { status: 204 };
      },
      operations: [{
        name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything',
        async invoke(id) { return { status: 200, resource: { resourceType: 'Bundle', id } }; },
      }],
    };
    const withWrites = new Router([readOnly, writable], [], server);
    const put = { ...request('PUT', 'Order'), query: [['identifier', 'A-1']] as Array<[string, string]>, body: { resourceType: 'Order' } };
    expect((await withWrites.handle(put)).status).to.equal(200);
    expect((await withWrites.handle({ ...request('DELETE', 'Order'), query: [['identifier', 'A-1']] })).status).to.equal(204);
    expect(calls).to.deep.equal(['update identifier=A-1', 'delete identifier=A-1']);
    expect((await withWrites.handle(request('GET', 'Order', 'x', '$everything'))).resource).to.deep.equal({ resourceType: 'Bundle', id: 'x' });
    expect((await failureOf(withWrites.handle(request('GET', 'Order', 'x', '$nothing')))).status).to.equal(404);
    expect((await failureOf(withWrites.handle(request('POST', 'Order', 'x', '$everything')))).status).to.equal(405);
    // A type without conditional writes: 405 with what it allows.
    expect((await failureOf(withWrites.handle({ ...request('PUT', 'Thing'), body: { resourceType: 'Thing' } }))).headers.allow).to.equal('GET');
    const statement = (await withWrites.handle(request('GET', 'metadata'))).resource as Record<string, any>;
    const order = statement.rest[0].resource[1];
    expect(order).to.include({ conditionalUpdate: true, conditionalDelete: 'single' });
    expect(order.operation).to.deep.equal([{ name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' }]);
  });
});
