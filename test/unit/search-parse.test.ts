import { expect } from 'chai';
import { OperationOutcomeError } from '../../src/fhir/outcome';
import { SearchCatalog } from '../../src/search/catalog';
import { defineSearch } from '../../src/search/definitions';
import { parseSearchQuery, parseSearchRequest, preferLenient, splitUnescaped, unescapeValue } from '../../src/search/parse';
import type { SearchFilter } from '../../src/search/types';

const BASE = 'https://pacs.example.org/fhir';

const patients = defineSearch({
  resourceType: 'Patient',
  params: ['_id', '_lastUpdated', 'name', 'family', 'given', 'birthdate', 'gender', 'identifier', 'general-practitioner', 'active', 'telecom'],
  include: ['Patient:general-practitioner'],
  defaultCount: 20,
  maxCount: 50,
});

const studies = defineSearch({
  resourceType: 'ImagingStudy',
  params: ['_id', 'subject', 'patient', 'modality', 'started', 'identifier', 'series-count', 'endpoint'],
  custom: { 'series-count': { type: 'number', expression: 'ImagingStudy.numberOfSeries' } },
  include: ['ImagingStudy:subject:Patient', 'ImagingStudy:endpoint'],
});

const tasks = defineSearch({ resourceType: 'Task', params: ['_id', 'status', 'based-on', 'patient', 'focus'] });
const orders = defineSearch({ resourceType: 'ServiceRequest', params: ['_id', 'identifier', 'patient', 'status'] });
const catalog = new SearchCatalog([patients, studies, tasks, orders]);
const parse = (query: Array<[string, string]>, lenient = false) => parseSearchQuery(patients, query, { lenient, baseUrl: BASE, catalog });
const parseStudy = (query: Array<[string, string]>) => parseSearchQuery(studies, query, { baseUrl: BASE, catalog });
const parseTask = (query: Array<[string, string]>) => parseSearchQuery(tasks, query, { baseUrl: BASE, catalog });

function failure(call: () => unknown): OperationOutcomeError {
  try {
    call();
  } catch (error) {
    if (error instanceof OperationOutcomeError) return error;
    throw error;
  }
  throw new Error('expected an OperationOutcomeError');
}

function only<K extends SearchFilter['kind']>(filters: readonly SearchFilter[], kind: K): Extract<SearchFilter, { kind: K }> {
  expect(filters).to.have.length(1);
  expect(filters[0]!.kind).to.equal(kind);
  return filters[0] as Extract<SearchFilter, { kind: K }>;
}

describe('search query parsing', () => {
  it('reads the token forms code, system|code, |code and system|', () => {
    const filter = only(parse([['identifier', 'MRN-1,urn:oid:1.2.3|MRN-2,|MRN-3,urn:oid:1.2.3|']]).filters, 'token');
    expect(filter.values).to.deep.equal([
      { code: 'MRN-1' },
      { system: 'urn:oid:1.2.3', code: 'MRN-2' },
      { system: '', code: 'MRN-3' },
      { system: 'urn:oid:1.2.3' },
    ]);
    expect(filter.not).to.equal(false);
    expect(failure(() => parse([['identifier', 'a|b|c']])).status).to.equal(400);
    expect(failure(() => parse([['identifier', '|']])).outcome.issue[0]!.expression).to.deep.equal(['identifier']);
  });

  it('commas are OR within one filter, repeated parameters are AND filters', () => {
    const or = parse([['given', 'Hans,Peter']]);
    expect(or.filters).to.have.length(1);
    expect(only(or.filters, 'string').values).to.deep.equal(['Hans', 'Peter']);
    const and = parse([['given', 'Hans'], ['given', 'Peter']]);
    expect(and.filters.map((f) => f.kind === 'string' && f.values)).to.deep.equal([['Hans'], ['Peter']]);
  });

  it('honours escaped commas, bars and backslashes', () => {
    expect(only(parse([['family', 'Smith\\,John,Doe']]).filters, 'string').values).to.deep.equal(['Smith,John', 'Doe']);
    expect(only(parse([['identifier', 'urn:sys|A\\|B']]).filters, 'token').values).to.deep.equal([{ system: 'urn:sys', code: 'A|B' }]);
    expect(splitUnescaped('a\\\\,b', ',')).to.deep.equal(['a\\\\', 'b']);
    expect(unescapeValue('a\\\\\\$b')).to.equal('a\\$b');
  });

  it('reads dates as precision ranges, with prefixes and timezones', () => {
    const year = only(parse([['birthdate', '1980']]).filters, 'date').values[0]!;
    expect(year.prefix).to.equal('eq');
    expect(new Date(year.range.low).toISOString()).to.equal('1980-01-01T00:00:00.000Z');
    expect(new Date(year.range.high).toISOString()).to.equal('1981-01-01T00:00:00.000Z');
    const ge = only(parse([['_lastUpdated', 'ge2020-01-01T10:00:00+02:00']]).filters, 'date').values[0]!;
    expect(ge.prefix).to.equal('ge');
    expect(new Date(ge.range.low).toISOString()).to.equal('2020-01-01T08:00:00.000Z');
    expect(ge.range.high - ge.range.low).to.equal(1000);
    const month = only(parse([['birthdate', 'lt2020-02']]).filters, 'date').values[0]!;
    expect(new Date(month.range.high).toISOString()).to.equal('2020-03-01T00:00:00.000Z');
  });

  it('rejects malformed dates and unknown prefixes with a 400 naming the parameter', () => {
    for (const value of ['1980-13', '2023-02-29', 'xx2020', '20200101', '2020-01-01T25:00', 'today']) {
      const error = failure(() => parse([['birthdate', value]]));
      expect(error.status, value).to.equal(400);
      expect(error.outcome.issue[0]!.code).to.equal('invalid');
      expect(error.outcome.issue[0]!.expression).to.deep.equal(['birthdate']);
    }
  });

  it('reads references: Type/id, id, absolute URLs on this server, other servers and type modifiers', () => {
    const values = (value: string, name = 'general-practitioner') =>
      only(parse([[name, value]]).filters, 'reference').values;
    expect(values('Practitioner/pr1')).to.deep.equal([{ type: 'Practitioner', id: 'pr1' }]);
    expect(values('pr1')).to.deep.equal([{ id: 'pr1' }]);
    expect(values(`${BASE}/Practitioner/pr1`)).to.deep.equal([{ type: 'Practitioner', id: 'pr1' }]);
    expect(values('https://elsewhere.example/fhir/Practitioner/pr1')).to.deep.equal([{ url: 'https://elsewhere.example/fhir/Practitioner/pr1' }]);
    expect(values('pr1', 'general-practitioner:Practitioner')).to.deep.equal([{ type: 'Practitioner', id: 'pr1' }]);
    expect(failure(() => values('Observation/o1')).outcome.issue[0]!.diagnostics).to.match(/Observation is not a target type/);
    expect(failure(() => values('pr1', 'general-practitioner:Observation')).status).to.equal(400);
    const identifier = only(parse([['general-practitioner:identifier', 'urn:npi|123']]).filters, 'reference-identifier');
    expect(identifier.values).to.deep.equal([{ system: 'urn:npi', code: '123' }]);
  });

  it('reads numbers with their implicit precision', () => {
    const [eq, gt] = (only(parseStudy([['series-count', '100,gt1e2']]).filters, 'number')).values;
    expect(eq).to.deep.include({ prefix: 'eq', value: 100, low: 99.5, high: 100.5 });
    expect(gt).to.deep.include({ prefix: 'gt', value: 100, low: 50, high: 150 });
    expect(failure(() => parseStudy([['series-count', 'ten']])).status).to.equal(400);
  });

  it('reads modifiers, and rejects unsupported ones even when lenient', () => {
    expect(only(parse([['name:exact', 'Müller']]).filters, 'string').modifier).to.equal('exact');
    expect(only(parse([['name:contains', 'll']]).filters, 'string').modifier).to.equal('contains');
    expect(only(parse([['gender:not', 'male']]).filters, 'token').not).to.equal(true);
    expect(only(parse([['identifier:text', 'passport']]).filters, 'token-text').values).to.deep.equal(['passport']);
    expect(only(parse([['identifier:of-type', 'http://terminology.hl7.org/CodeSystem/v2-0203|MR|123']]).filters, 'token-of-type').values)
      .to.deep.equal([{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR', value: '123' }]);
    expect(only(parse([['birthdate:missing', 'true']]).filters, 'missing').missing).to.equal(true);
    expect(failure(() => parse([['birthdate:missing', 'yes']])).status).to.equal(400);
    const above = failure(() => parse([['general-practitioner:above', 'Practitioner/1']], true));
    expect(above.outcome.issue[0]).to.deep.include({ code: 'not-supported', expression: ['general-practitioner:above'] });
    expect(failure(() => parse([['gender:in', 'http://hl7.org/fhir/ValueSet/administrative-gender']], true)).outcome.issue[0]!.code).to.equal('not-supported');
    expect(failure(() => parse([['birthdate:exact', '1980']])).outcome.issue[0]!.code).to.equal('not-supported');
    expect(failure(() => parse([['name:bogus', 'x']])).outcome.issue[0]!.code).to.equal('invalid');
  });

  it('an unknown parameter is a 400 not-supported, or a warning when lenient', () => {
    const strict = failure(() => parse([['shoe-size', '42']]));
    expect(strict.status).to.equal(400);
    expect(strict.outcome.issue[0]).to.deep.include({ severity: 'error', code: 'not-supported', expression: ['shoe-size'] });
    const lenient = parse([['shoe-size', '42'], ['family', 'Muller']], true);
    expect(lenient.filters).to.have.length(1);
    expect(lenient.warnings).to.have.length(1);
    expect(lenient.warnings[0]).to.deep.include({ severity: 'warning', code: 'not-supported', expression: ['shoe-size'] });
    for (const name of ['general-practitioner.name', 'general-practitioner:Practitioner.name', '_has:Observation:patient:code', '_type', '_contained']) {
      expect(failure(() => parse([[name, 'x']])).outcome.issue[0]!.code, name).to.equal('not-supported');
      expect(parse([[name, 'x']], true).warnings, name).to.have.length(1);
    }
  });

  it('takes lenient handling from the Prefer header', () => {
    expect(preferLenient({ prefer: 'return=minimal, handling=lenient' })).to.equal(true);
    expect(preferLenient({ prefer: 'handling=strict' })).to.equal(false);
    expect(preferLenient({})).to.equal(false);
    expect(preferLenient({ prefer: 'handling=lenient' })).to.equal(true);
    const request = { query: [['unknown', 'x'], ['_count', '5']] as Array<[string, string]>, lenient: true, baseUrl: BASE };
    const search = parseSearchRequest(patients, request);
    expect(search.warnings).to.have.length(1);
    expect(search.count).to.equal(5);
    expect(search.baseUrl).to.equal(BASE);
    expect(() => parseSearchRequest(patients, { ...request, lenient: false })).to.throw(OperationOutcomeError);
  });

  it('_count: default, cap, and 400 on negative or non-integer values', () => {
    expect(parse([]).count).to.equal(20);
    expect(parse([['_count', '7']]).count).to.equal(7);
    expect(parse([['_count', '0']]).count).to.equal(0);
    expect(parse([['_count', '1000']]).count).to.equal(50);
    for (const value of ['-1', '2.5', 'ten']) {
      const error = failure(() => parse([['_count', value]]));
      expect(error.status, value).to.equal(400);
      expect(error.outcome.issue[0]!.expression).to.deep.equal(['_count']);
    }
    expect(failure(() => parse([['_count', '5'], ['_count', '6']])).outcome.issue[0]!.diagnostics).to.match(/only once/);
    // An empty value is ignored, as a browser's form sends empty fields.
    expect(parse([['_count', ''], ['_sort', '']]).count).to.equal(20);
  });

  it('_offset is the paging cursor', () => {
    expect(parse([]).offset).to.equal(0);
    expect(parse([['_offset', '40']]).offset).to.equal(40);
    expect(failure(() => parse([['_offset', '-20']])).status).to.equal(400);
  });

  it('_sort: declared parameters only, - for descending', () => {
    const sort = parse([['_sort', '-birthdate,family,_id']]).sort;
    expect(sort.map((rule) => [rule.param.code, rule.descending])).to.deep.equal([
      ['birthdate', true],
      ['family', false],
      ['_id', false],
    ]);
    expect(failure(() => parse([['_sort', 'address-city']])).outcome.issue[0]!.code).to.equal('not-supported');
    expect(failure(() => parse([['_sort', 'family,']])).outcome.issue[0]!.code).to.equal('invalid');
  });

  it('_include and _revinclude: any declared reference parameter, :iterate from any type', () => {
    const search = parse([['_include', 'Patient:general-practitioner'], ['_revinclude', 'ImagingStudy:patient']]);
    expect(search.include.map((rule) => [rule.source, rule.param.code, rule.target, rule.iterate])).to.deep.equal([['Patient', 'general-practitioner', undefined, false]]);
    expect(search.revInclude.map((rule) => [rule.source, rule.param.code])).to.deep.equal([['ImagingStudy', 'patient']]);
    expect(parseStudy([['_include', 'ImagingStudy:subject:Patient']]).include[0]!.target).to.equal('Patient');
    expect(parseStudy([['_include', 'ImagingStudy:subject']]).include[0]!.param.code).to.equal('subject');
    expect(failure(() => parse([['_include', 'Patient:organization']])).outcome.issue[0]!.code).to.equal('not-supported');
    expect(failure(() => parse([['_include', '*']])).status).to.equal(400);
    expect(parse([['_include', '*'], ['_revinclude', 'ImagingStudy:*']], true).warnings).to.have.length(2);
    expect(failure(() => parseStudy([['_include', 'ImagingStudy:subject:Endpoint']])).outcome.issue[0]!.code).to.equal('invalid');
    // Another type's reference: only with :iterate.
    expect(failure(() => parseTask([['_include', 'ServiceRequest:patient']])).outcome.issue[0]!.code).to.equal('not-supported');
    const iterate = parseTask([['_include', 'Task:based-on'], ['_include:iterate', 'ServiceRequest:patient'], ['_revinclude:iterate', 'ImagingStudy:patient']]);
    expect(iterate.include.map((rule) => [rule.source, rule.param.code, rule.iterate])).to.deep.equal([['Task', 'based-on', false], ['ServiceRequest', 'patient', true]]);
    expect(iterate.revInclude.map((rule) => [rule.source, rule.param.code, rule.iterate])).to.deep.equal([['ImagingStudy', 'patient', true]]);
    // A _revinclude must be able to point here (Task.patient targets Patient; ImagingStudy.endpoint does not).
    expect(parse([['_revinclude', 'Task:patient']]).revInclude[0]!.source).to.equal('Task');
    expect(failure(() => parse([['_revinclude', 'ImagingStudy:endpoint']])).outcome.issue[0]!.code).to.equal('not-supported');
    expect(parse([['_revinclude', 'Observation:patient']], true).warnings).to.have.length(1);
  });

  it('chains: one or more levels, typed or not, parsed against the target type', () => {
    const chain = parseStudy([['patient.identifier', 'urn:mrn|123']]).filters[0]!;
    expect(chain.kind).to.equal('chain');
    if (chain.kind !== 'chain') return;
    expect(chain.param.code).to.equal('patient');
    expect(chain.targets.map((t) => [t.type, t.filter.kind, t.filter.param.code])).to.deep.equal([['Patient', 'token', 'identifier']]);
    // subject may point to several types: the ones here with a 'name' parameter.
    const subject = parseStudy([['subject.name', 'smith']]).filters[0]!;
    expect(subject.kind === 'chain' && subject.targets.map((t) => t.type)).to.deep.equal(['Patient']);
    const typed = parseStudy([['subject:Patient.name:exact', 'Smith']]).filters[0]!;
    expect(typed.kind === 'chain' && typed.targets[0]!.filter.kind === 'string' && typed.targets[0]!.filter.modifier).to.equal('exact');
    const twoLevels = parseTask([['based-on:ServiceRequest.patient.birthdate', 'ge1980']]).filters[0]!;
    expect(twoLevels.kind === 'chain' && twoLevels.targets[0]!.filter.kind).to.equal('chain');
    expect(failure(() => parseStudy([['modality.code', 'x']])).outcome.issue[0]!.diagnostics).to.match(/not a reference/);
    expect(failure(() => parseStudy([['patient.nope', 'x']])).outcome.issue[0]!.code).to.equal('not-supported');
    expect(failure(() => parseStudy([['subject:Endpoint.name', 'x']])).status).to.equal(400);
    expect(failure(() => parseTask([['based-on.based-on.based-on.based-on.status', 'active']])).outcome.issue[0]!.diagnostics).to.match(/more than 4 levels/);
    expect(failure(() => parseStudy([['patient.birthdate', 'not-a-date']])).status).to.equal(400);
  });

  it('reads a chain per target type with the client version\'s names (alias): R4 based-on.code is SR code-concept or Task code', () => {
    const r4Names = (type: string, code: string) => (type === 'ServiceRequest' && code === 'code' ? 'identifier' : code);
    const chain = parseSearchQuery(tasks, [['based-on.code', 'x']], { catalog, alias: r4Names }).filters[0]!;
    // ServiceRequest has no 'code' here: its alias ('identifier' in this catalog) is read; Task has none of either.
    expect(chain.kind === 'chain' && chain.targets.map((t) => [t.type, t.filter.param.code])).to.deep.equal([['ServiceRequest', 'identifier']]);
    expect(failure(() => parseSearchQuery(tasks, [['based-on.code', 'x']], { catalog })).outcome.issue[0]!.code).to.equal('not-supported');
  });

  it('_has: the referring type, its reference here, and its parameter', () => {
    const has = parse([['_has:ImagingStudy:patient:modality', 'MR']]).filters[0]!;
    expect(has.kind).to.equal('has');
    if (has.kind !== 'has') return;
    expect([has.source, has.param.code, has.inner.kind, has.inner.param.code]).to.deep.equal(['ImagingStudy', 'patient', 'token', 'modality']);
    const nested = parse([['_has:ServiceRequest:patient:_has:Task:based-on:status', 'requested']]).filters[0]!;
    expect(nested.kind === 'has' && nested.inner.kind).to.equal('has');
    const orderHas = parseSearchQuery(orders, [['_has:Task:based-on:status', 'requested']], { catalog }).filters[0]!;
    expect(orderHas.kind === 'has' && orderHas.source).to.equal('Task');
    expect(failure(() => parse([['_has:ImagingStudy:endpoint:modality', 'MR']])).outcome.issue[0]!.diagnostics).to.match(/cannot refer to Patient/);
    expect(failure(() => parse([['_has:ImagingStudy:modality:status', 'x']])).outcome.issue[0]!.code).to.equal('not-supported');
    expect(failure(() => parse([['_has:ImagingStudy', 'x']])).status).to.equal(400);
  });

  it('_summary, _total and _elements', () => {
    expect(parse([['_summary', 'count']]).summary).to.equal('count');
    expect(parse([['_summary', 'data']]).summary).to.equal('data');
    expect(parse([['_summary', 'true']]).summary).to.equal('true');
    expect(parse([['_summary', 'text']]).summary).to.equal('text');
    expect(failure(() => parse([['_summary', 'maybe']])).outcome.issue[0]!.code).to.equal('invalid');
    expect(parse([['_total', 'accurate']]).total).to.equal('accurate');
    expect(failure(() => parse([['_total', 'all']])).status).to.equal(400);
    expect(parse([['_elements', 'name, birthDate']]).elements).to.deep.equal(['name', 'birthDate']);
    expect(failure(() => parse([['_elements', 'name.family']])).status).to.equal(400);
    expect(parse([['_elements', 'Patient.name,ImagingStudy.started']]).elements).to.deep.equal(['Patient.name', 'ImagingStudy.started']);
  });

  it('ignores _format, _pretty and parameters without a value', () => {
    const search = parse([['_format', 'json'], ['_pretty', 'true'], ['family', '']]);
    expect(search.filters).to.deep.equal([]);
    expect(search.warnings).to.deep.equal([]);
  });

  it('keeps the name and raw value of each filter for the paging links', () => {
    const filter = parse([['family:exact', 'Smith\\,John']]).filters[0]!;
    expect(filter.name).to.equal('family:exact');
    expect(filter.rawValue).to.equal('Smith\\,John');
  });
});
