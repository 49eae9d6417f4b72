import { expect } from 'chai';
import type { Resource } from '../../src/fhir/types';
import { SearchCatalog } from '../../src/search/catalog';
import { defineSearch } from '../../src/search/definitions';
import { compareForSort, matchesSearch, normalizeText } from '../../src/search/match';
import { parseSearchQuery } from '../../src/search/parse';
import { includeReferences, revIncludeQueries, runSearch } from '../../src/search/run';

const BASE = 'https://pacs.example.org/fhir';
const NOW = Date.parse('2024-06-15T12:00:00Z');
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const MRN = 'urn:oid:1.2.250.1.999.1';

const patientSearch = defineSearch({
  resourceType: 'Patient',
  params: ['_id', '_lastUpdated', 'name', 'family', 'given', 'address', 'birthdate', 'gender', 'identifier', 'active',
    'deceased', 'death-date', 'email', 'phone', 'general-practitioner', 'language'],
  include: ['Patient:general-practitioner'],
});

const studySearch = defineSearch({
  resourceType: 'ImagingStudy',
  params: ['_id', 'subject', 'patient', 'modality', 'started', 'identifier', 'series', 'based-on', 'series-count'],
  custom: { 'series-count': { type: 'number', expression: 'ImagingStudy.numberOfSeries' } },
  include: ['ImagingStudy:subject'],
});

const orderSearch = defineSearch({
  resourceType: 'ServiceRequest',
  params: ['occurrence', 'code-concept', 'instantiates-canonical', 'instantiates-uri', 'status', 'requisition'],
});

const mueller: Resource = {
  resourceType: 'Patient',
  id: 'p1',
  meta: { lastUpdated: '2024-03-01T10:00:00Z' },
  identifier: [
    {
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR', display: 'Medical record number' }] },
      system: MRN,
      value: 'MRN-0001',
    },
  ],
  active: true,
  name: [{ use: 'official', family: 'Müller', given: ['Hans', 'Jürgen'], prefix: ['Dr.'] }],
  telecom: [
    { system: 'phone', value: '+41 22 000 00 00' },
    { system: 'email', value: 'hans.mueller@example.org' },
  ],
  gender: 'male',
  birthDate: '1980-05-06',
  address: [{ line: ['Rue du Rhône 1'], city: 'Genève', postalCode: '1204', country: 'CH' }],
  communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'de-CH' }], text: 'Swiss German' } }],
  generalPractitioner: [{ reference: `${BASE}/Practitioner/pr1` }],
};

const smith: Resource = {
  resourceType: 'Patient',
  id: 'p2',
  meta: { lastUpdated: '2023-12-31T23:30:00-02:00' },
  identifier: [{ system: 'urn:oid:9.9', value: 'MRN-0001' }],
  name: [{ text: 'Anna Smith', family: 'Smith', given: ['Anna'] }],
  gender: 'female',
  birthDate: '1975',
  deceasedDateTime: '2022-02-02',
  generalPractitioner: [{ reference: 'Practitioner/pr2' }, { reference: 'Organization/o1' }],
};

const anonymous: Resource = { resourceType: 'Patient', id: 'p3', deceasedBoolean: false };

const study: Resource = {
  resourceType: 'ImagingStudy',
  id: 's1',
  status: 'available',
  identifier: [{ system: 'urn:dicom:uid', value: 'urn:oid:1.2.840.1' }],
  subject: { reference: 'Patient/p1' },
  started: '2024-01-15T09:30:00+01:00',
  numberOfSeries: 12,
  basedOn: [{ identifier: { system: 'urn:accession', value: 'ACC-42' } }],
  series: [
    { uid: '1.2.840.1.1', modality: { coding: [{ system: DCM, code: 'CT' }] } },
    { uid: '1.2.840.1.2', modality: { coding: [{ system: DCM, code: 'SR' }] } },
  ],
};

const groupStudy: Resource = { ...study, id: 's2', subject: { reference: 'Group/g1' }, numberOfSeries: 3, started: '2023-07-01' };

const order = (id: string, extra: Record<string, unknown>): Resource => ({ resourceType: 'ServiceRequest', id, status: 'active', intent: 'order', subject: { reference: 'Patient/p1' }, ...extra });

function ids(resources: Resource[], query: Array<[string, string]>, definition = patientSearch): string[] {
  const search = parseSearchQuery(definition, query, { baseUrl: BASE, now: NOW });
  return resources.filter((r) => matchesSearch(r, search)).map((r) => r.id!);
}

const patients = [mueller, smith, anonymous];

describe('search matching', () => {
  describe('string', () => {
    it('is a case- and accent-insensitive starts-with on every part of a HumanName', () => {
      expect(normalizeText('Müller')).to.equal('muller');
      expect(ids(patients, [['name', 'muller']])).to.deep.equal(['p1']);
      expect(ids(patients, [['name', 'MÜL']])).to.deep.equal(['p1']);
      expect(ids(patients, [['name', 'jurg']])).to.deep.equal(['p1']);
      expect(ids(patients, [['name', 'dr']])).to.deep.equal(['p1']);
      expect(ids(patients, [['name', 'anna sm']])).to.deep.equal(['p2']);
      expect(ids(patients, [['name', 'uller']])).to.deep.equal([]);
      expect(ids(patients, [['family', 'hans']])).to.deep.equal([]);
      expect(ids(patients, [['given', 'hans']])).to.deep.equal(['p1']);
      expect(ids(patients, [['address', 'geneve']])).to.deep.equal(['p1']);
      expect(ids(patients, [['address', 'rue du rh']])).to.deep.equal(['p1']);
    });

    it(':exact compares the whole string as is, :contains anywhere', () => {
      expect(ids(patients, [['family:exact', 'Müller']])).to.deep.equal(['p1']);
      expect(ids(patients, [['family:exact', 'Muller']])).to.deep.equal([]);
      expect(ids(patients, [['family:exact', 'Müll']])).to.deep.equal([]);
      expect(ids(patients, [['family:contains', 'ULL']])).to.deep.equal(['p1']);
      expect(ids(patients, [['name:contains', 'mit']])).to.deep.equal(['p2']);
    });

    it('OR within a parameter, AND across repeats', () => {
      expect(ids(patients, [['family', 'smi,mul']])).to.deep.equal(['p1', 'p2']);
      expect(ids(patients, [['given', 'hans'], ['given', 'jur']])).to.deep.equal(['p1']);
      expect(ids(patients, [['given', 'hans'], ['given', 'anna']])).to.deep.equal([]);
      expect(ids(patients, [['family', 'smith'], ['gender', 'female']])).to.deep.equal(['p2']);
    });
  });

  describe('token', () => {
    it('matches Identifier system|value in all token forms', () => {
      expect(ids(patients, [['identifier', 'MRN-0001']])).to.deep.equal(['p1', 'p2']);
      expect(ids(patients, [['identifier', `${MRN}|MRN-0001`]])).to.deep.equal(['p1']);
      expect(ids(patients, [['identifier', '|MRN-0001']])).to.deep.equal([]);
      expect(ids(patients, [['identifier', 'urn:oid:9.9|']])).to.deep.equal(['p2']);
      expect(ids(patients, [['identifier', 'mrn-0001']])).to.deep.equal([]);
    });

    it('matches codes, booleans and the Coding of a CodeableConcept', () => {
      expect(ids(patients, [['gender', 'male']])).to.deep.equal(['p1']);
      expect(ids(patients, [['gender', 'http://hl7.org/fhir/administrative-gender|female']])).to.deep.equal(['p2']);
      expect(ids(patients, [['active', 'true']])).to.deep.equal(['p1']);
      expect(ids(patients, [['language', 'urn:ietf:bcp:47|de-CH']])).to.deep.equal(['p1']);
      expect(ids(patients, [['language', 'urn:ietf:bcp:47|fr-CH']])).to.deep.equal([]);
      expect(ids([study, groupStudy], [['modality', `${DCM}|SR`]], studySearch)).to.deep.equal(['s1', 's2']);
      expect(ids([study], [['modality', 'MR,CT']], studySearch)).to.deep.equal(['s1']);
      expect(ids([study], [['modality', 'http://other|CT']], studySearch)).to.deep.equal([]);
      expect(ids([study], [['series', '1.2.840.1.2']], studySearch)).to.deep.equal(['s1']);
    });

    it('matches ContactPoint values through where(system=...)', () => {
      expect(ids(patients, [['email', 'hans.mueller@example.org']])).to.deep.equal(['p1']);
      expect(ids(patients, [['phone', 'hans.mueller@example.org']])).to.deep.equal([]);
      expect(ids(patients, [['phone', '+41 22 000 00 00']])).to.deep.equal(['p1']);
    });

    it('deceased is true for a death date and false otherwise', () => {
      expect(ids(patients, [['deceased', 'true']])).to.deep.equal(['p2']);
      expect(ids(patients, [['deceased', 'false']])).to.deep.equal(['p1', 'p3']);
    });

    it(':not also matches resources without the element', () => {
      expect(ids(patients, [['gender:not', 'male']])).to.deep.equal(['p2', 'p3']);
      expect(ids(patients, [['gender:not', 'male,female']])).to.deep.equal(['p3']);
    });

    it(':text searches the display text, :of-type the identifier type and value', () => {
      expect(ids(patients, [['language:text', 'swiss']])).to.deep.equal(['p1']);
      expect(ids(patients, [['identifier:text', 'medical rec']])).to.deep.equal(['p1']);
      expect(ids(patients, [['identifier:of-type', 'http://terminology.hl7.org/CodeSystem/v2-0203|MR|MRN-0001']])).to.deep.equal(['p1']);
      expect(ids(patients, [['identifier:of-type', 'http://terminology.hl7.org/CodeSystem/v2-0203|MR|MRN-0002']])).to.deep.equal([]);
    });

    it('_id matches the logical id', () => {
      expect(ids(patients, [['_id', 'p2,p3']])).to.deep.equal(['p2', 'p3']);
    });
  });

  describe('date', () => {
    it('a date of lower precision covers its whole range', () => {
      expect(ids(patients, [['birthdate', '1980']])).to.deep.equal(['p1']);
      expect(ids(patients, [['birthdate', '1980-05']])).to.deep.equal(['p1']);
      expect(ids(patients, [['birthdate', '1980-05-06']])).to.deep.equal(['p1']);
      expect(ids(patients, [['birthdate', '1980-05-07']])).to.deep.equal([]);
      expect(ids(patients, [['birthdate', '1981']])).to.deep.equal([]);
      // The resource's own value has a precision too: 1975 is not within 1975-06.
      expect(ids(patients, [['birthdate', '1975-06']])).to.deep.equal([]);
      expect(ids(patients, [['birthdate', 'ne1980']])).to.deep.equal(['p2']);
    });

    it('applies the prefixes to ranges', () => {
      expect(ids(patients, [['birthdate', 'gt1975']])).to.deep.equal(['p1']);
      expect(ids(patients, [['birthdate', 'ge1975']])).to.deep.equal(['p1', 'p2']);
      expect(ids(patients, [['birthdate', 'lt1980-05-06']])).to.deep.equal(['p2']);
      expect(ids(patients, [['birthdate', 'le1980-05-06']])).to.deep.equal(['p1', 'p2']);
      expect(ids(patients, [['birthdate', 'sa1975-12-31']])).to.deep.equal(['p1']);
      expect(ids(patients, [['birthdate', 'eb1980-01-01']])).to.deep.equal(['p2']);
      expect(ids(patients, [['birthdate', 'ge1975'], ['birthdate', 'lt1980']])).to.deep.equal(['p2']);
    });

    it('compares instants across timezones', () => {
      // 2023-12-31T23:30:00-02:00 is 2024-01-01T01:30Z.
      expect(ids(patients, [['_lastUpdated', '2024-01-01']])).to.deep.equal(['p2']);
      expect(ids(patients, [['_lastUpdated', 'lt2024-01-01T00:00:00Z']])).to.deep.equal([]);
      expect(ids(patients, [['_lastUpdated', 'gt2024-01-01T04:00:00+02:00']])).to.deep.equal(['p1']);
      expect(ids(patients, [['_lastUpdated', 'gt2024-01-01T03:00:00+02:00']])).to.deep.equal(['p1', 'p2']);
      expect(ids([study], [['started', '2024-01-15T08:30:00Z']], studySearch)).to.deep.equal(['s1']);
      expect(ids([study], [['started', '2024-01-15T09:30']], studySearch)).to.deep.equal([]);
      expect(ids(patients, [['death-date', '2022']])).to.deep.equal(['p2']);
    });

    it('matches a Period by overlap for ge/le and containment for eq', () => {
      const january = order('o1', { occurrencePeriod: { start: '2019-12-01', end: '2020-01-31' } });
      const december = order('o2', { occurrencePeriod: { start: '2019-12-01', end: '2019-12-31' } });
      const ongoing = order('o3', { occurrencePeriod: { start: '2019-06-01' } });
      const single = order('o4', { occurrenceDateTime: '2020-01-01T10:00:00Z' });
      const timing = order('o5', { occurrenceTiming: { event: ['2020-03-01', '2020-03-08'] } });
      const all = [january, december, ongoing, single, timing];
      expect(ids(all, [['occurrence', 'ge2020-01-01']], orderSearch)).to.deep.equal(['o1', 'o3', 'o4', 'o5']);
      expect(ids(all, [['occurrence', 'lt2020-01-01']], orderSearch)).to.deep.equal(['o1', 'o2', 'o3']);
      expect(ids(all, [['occurrence', '2020-01-01']], orderSearch)).to.deep.equal(['o4']);
      expect(ids(all, [['occurrence', '2019-12']], orderSearch)).to.deep.equal(['o2']);
      expect(ids(all, [['occurrence', 'sa2019-12-31']], orderSearch)).to.deep.equal(['o4', 'o5']);
      expect(ids(all, [['occurrence', 'eb2020-01-01']], orderSearch)).to.deep.equal(['o2']);
      expect(ids(all, [['occurrence', '2020-03']], orderSearch)).to.deep.equal(['o5']);
    });

    it('ap widens the range by 10% of its distance to now', () => {
      // now is 2024-06-15: 2014-06-15 is ~10 years away, so ap covers roughly ±1 year.
      const near = { ...mueller, id: 'near', birthDate: '2013-09-01' };
      const far = { ...mueller, id: 'far', birthDate: '2012-01-01' };
      expect(ids([near, far], [['birthdate', 'ap2014-06-15']])).to.deep.equal(['near']);
      expect(ids([near, far], [['birthdate', 'eq2014-06-15']])).to.deep.equal([]);
    });
  });

  describe('reference', () => {
    it('matches relative, absolute-on-this-server and id-only references', () => {
      expect(ids(patients, [['general-practitioner', 'Practitioner/pr1']])).to.deep.equal(['p1']);
      expect(ids(patients, [['general-practitioner', `${BASE}/Practitioner/pr2`]])).to.deep.equal(['p2']);
      expect(ids(patients, [['general-practitioner', 'pr1,o1']])).to.deep.equal(['p1', 'p2']);
      expect(ids(patients, [['general-practitioner:Organization', 'o1']])).to.deep.equal(['p2']);
      expect(ids(patients, [['general-practitioner', 'PractitionerRole/pr1']])).to.deep.equal([]);
      expect(ids(patients, [['general-practitioner', 'https://elsewhere.example/fhir/Practitioner/pr1']])).to.deep.equal([]);
    });

    it('patient= keeps only Patient subjects (where(resolve() is Patient))', () => {
      expect(ids([study, groupStudy], [['subject', 'g1']], studySearch)).to.deep.equal(['s2']);
      expect(ids([study, groupStudy], [['patient', 'p1']], studySearch)).to.deep.equal(['s1']);
      expect(ids([study, groupStudy], [['patient', 'g1']], studySearch)).to.deep.equal([]);
    });

    it(':identifier matches Reference.identifier', () => {
      expect(ids([study, groupStudy], [['based-on:identifier', 'urn:accession|ACC-42']], studySearch)).to.deep.equal(['s1', 's2']);
      expect(ids([study], [['based-on:identifier', 'urn:accession|ACC-43']], studySearch)).to.deep.equal([]);
    });

    it('compares canonicals on the URL, and on the version when one is asked for', () => {
      const canonical = order('c1', { instantiatesCanonical: ['http://example.org/fhir/PlanDefinition/ct-head|2.0'], instantiatesUri: ['http://example.org/protocols/ct-head'] });
      expect(ids([canonical], [['instantiates-canonical', 'http://example.org/fhir/PlanDefinition/ct-head']], orderSearch)).to.deep.equal(['c1']);
      expect(ids([canonical], [['instantiates-canonical', 'http://example.org/fhir/PlanDefinition/ct-head|2.0']], orderSearch)).to.deep.equal(['c1']);
      expect(ids([canonical], [['instantiates-canonical', 'http://example.org/fhir/PlanDefinition/ct-head|1.0']], orderSearch)).to.deep.equal([]);
      expect(ids([canonical], [['instantiates-uri', 'http://example.org/protocols/ct-head']], orderSearch)).to.deep.equal(['c1']);
      expect(ids([canonical], [['instantiates-uri', 'http://example.org/protocols/ct']], orderSearch)).to.deep.equal([]);
    });
  });

  it('number compares with precision and prefixes', () => {
    expect(ids([study, groupStudy], [['series-count', '12']], studySearch)).to.deep.equal(['s1']);
    expect(ids([study, groupStudy], [['series-count', 'gt3']], studySearch)).to.deep.equal(['s1']);
    expect(ids([study, groupStudy], [['series-count', 'le3']], studySearch)).to.deep.equal(['s2']);
    expect(ids([study, groupStudy], [['series-count', 'ap11']], studySearch)).to.deep.equal(['s1']);
    expect(ids([study, groupStudy], [['series-count', 'ne12']], studySearch)).to.deep.equal(['s2']);
  });

  it(':missing', () => {
    expect(ids(patients, [['birthdate:missing', 'true']])).to.deep.equal(['p3']);
    expect(ids(patients, [['birthdate:missing', 'false']])).to.deep.equal(['p1', 'p2']);
    expect(ids(patients, [['email:missing', 'true']])).to.deep.equal(['p2', 'p3']);
  });

  it('a resource of another type never matches', () => {
    expect(ids([study], [], patientSearch)).to.deep.equal([]);
  });

  describe('_sort', () => {
    const sorted = (query: Array<[string, string]>) => {
      const search = parseSearchQuery(patientSearch, query, { now: NOW });
      return [...patients].sort(compareForSort(search)).map((r) => r.id);
    };

    it('sorts dates by the start of their range, descending on the end, missing values last', () => {
      expect(sorted([['_sort', 'birthdate']])).to.deep.equal(['p2', 'p1', 'p3']);
      expect(sorted([['_sort', '-birthdate']])).to.deep.equal(['p1', 'p2', 'p3']);
    });

    it('sorts strings normalized, then on the next key, then on the id', () => {
      const muller = { ...smith, id: 'p4', name: [{ family: 'Muller', given: ['Adam'] }] };
      const search = parseSearchQuery(patientSearch, [['_sort', 'family,-given']], {});
      expect([smith, mueller, muller, anonymous].sort(compareForSort(search)).map((r) => r.id)).to.deep.equal(['p1', 'p4', 'p2', 'p3']);
      expect(sorted([['_sort', 'gender']])).to.deep.equal(['p2', 'p1', 'p3']);
      expect(sorted([])).to.deep.equal(['p1', 'p2', 'p3']);
    });
  });

  describe('runSearch and includes', () => {
    it('filters, sorts, pages and counts', () => {
      const many = Array.from({ length: 25 }, (_, i) => ({ ...smith, id: `x${String(i).padStart(2, '0')}`, birthDate: `${1950 + i}` }));
      const search = parseSearchQuery(patientSearch, [['family', 'smith'], ['_sort', '-birthdate'], ['_count', '10'], ['_offset', '20']], {});
      const result = runSearch([...many, mueller], search);
      expect(result.total).to.equal(25);
      expect(result.page.map((r) => r.id)).to.deep.equal(['x04', 'x03', 'x02', 'x01', 'x00']);
      const count = runSearch(many, parseSearchQuery(patientSearch, [['_summary', 'count']], {}));
      expect(count).to.deep.equal({ total: 25, page: [] });
    });

    it('lists the local resources to _include and the searches for _revinclude', () => {
      const catalog = new SearchCatalog([patientSearch, studySearch]);
      const search = parseSearchQuery(patientSearch, [['_include', 'Patient:general-practitioner'], ['_revinclude', 'ImagingStudy:patient']], { baseUrl: BASE, catalog });
      expect(includeReferences([mueller, smith], search.include, BASE)).to.deep.equal([
        { type: 'Practitioner', id: 'pr1' },
        { type: 'Practitioner', id: 'pr2' },
        { type: 'Organization', id: 'o1' },
      ]);
      expect(revIncludeQueries([mueller, smith], search.revInclude)).to.deep.equal([
        { resourceType: 'ImagingStudy', query: [['patient', 'Patient/p1,Patient/p2']] },
      ]);
      // A rule reads only resources of its source type (what :iterate meets may be of any).
      expect(includeReferences([{ resourceType: 'ImagingStudy', id: 's1', subject: { reference: 'Patient/p9' } }], search.include, BASE)).to.deep.equal([]);
    });

    it('refuses to answer a chain or _has in memory (only the index joins)', () => {
      const catalog = new SearchCatalog([patientSearch, studySearch]);
      const chained = parseSearchQuery(studySearch, [['patient.family', 'smith']], { catalog });
      expect(() => runSearch([], chained)).to.throw(/search index only/);
    });
  });
});
