import { expect } from 'chai';
import { OperationOutcomeError } from '../../src/fhir/outcome';
import { checkBodyContentType, negotiate, parseAccept } from '../../src/http/negotiation';

function statusOf(action: () => unknown): number | undefined {
  try {
    action();
  } catch (error) {
    if (error instanceof OperationOutcomeError) return error.status;
    throw error;
  }
  return undefined;
}

describe('content negotiation', () => {
  it('defaults to JSON without Accept, with */* and with JSON media types', () => {
    expect(negotiate(undefined, undefined)).to.equal('json');
    expect(negotiate(undefined, '*/*')).to.equal('json');
    expect(negotiate(undefined, 'application/fhir+json')).to.equal('json');
    expect(negotiate(undefined, 'application/json;q=0.9')).to.equal('json');
  });

  it('lets _format override Accept', () => {
    expect(negotiate('json', 'text/html')).to.equal('json');
    expect(negotiate('application/fhir+json', 'text/html')).to.equal('json');
    expect(negotiate('html', 'application/fhir+json')).to.equal('html');
  });

  it('gives browsers HTML', () => {
    expect(negotiate(undefined, 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8')).to.equal('html');
  });

  it('follows q-values', () => {
    expect(negotiate(undefined, 'text/html;q=0.5, application/fhir+json')).to.equal('json');
    expect(negotiate(undefined, 'application/fhir+xml, application/fhir+json;q=0.1')).to.equal('json');
  });

  it('refuses formats not served with 406', () => {
    expect(statusOf(() => negotiate('xml', undefined))).to.equal(406);
    expect(statusOf(() => negotiate('ttl', undefined))).to.equal(406);
    expect(statusOf(() => negotiate('nonsense', undefined))).to.equal(406);
    expect(statusOf(() => negotiate('constructor', undefined))).to.equal(406);
    expect(statusOf(() => negotiate('__proto__', undefined))).to.equal(406);
    expect(statusOf(() => negotiate(undefined, 'application/fhir+xml'))).to.equal(406);
  });

  it('parses Accept ranges and drops q=0', () => {
    expect(parseAccept('a/b;q=0, c/d;q=0.5')).to.deep.equal([{ type: 'c/d', q: 0.5 }]);
  });

  it('accepts only JSON request bodies', () => {
    expect(statusOf(() => checkBodyContentType('application/fhir+json; charset=utf-8'))).to.equal(undefined);
    expect(statusOf(() => checkBodyContentType('application/json'))).to.equal(undefined);
    expect(statusOf(() => checkBodyContentType('application/fhir+xml'))).to.equal(415);
  });
});
