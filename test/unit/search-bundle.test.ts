import { expect } from 'chai';
import type { Bundle, OperationOutcome, Resource } from '../../src/fhir/types';
import { buildSearchBundle, searchQuery, searchUrl } from '../../src/search/bundle';
import { defineSearch } from '../../src/search/definitions';
import { parseSearchQuery } from '../../src/search/parse';
import { runSearch } from '../../src/search/run';
import { schemaErrors } from '../support/fhir-schema';

const BASE = 'https://pacs.example.org/fhir';

const studies = defineSearch({
  resourceType: 'ImagingStudy',
  params: ['_id', 'patient', 'modality', 'started', 'identifier'],
  include: ['ImagingStudy:patient'],
  defaultCount: 2,
  maxCount: 10,
});

const study = (n: number): Resource => ({
  resourceType: 'ImagingStudy',
  id: `s${n}`,
  meta: { lastUpdated: '2024-05-01T00:00:00Z' },
  text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">CT study</div>' },
  status: 'available',
  subject: { reference: 'Patient/p1' },
  started: `2024-01-0${n}`,
  series: [{ uid: `1.2.3.${n}`, modality: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'CT' }] } }],
});

const all = [1, 2, 3, 4, 5].map(study);
const patient: Resource = { resourceType: 'Patient', id: 'p1', name: [{ family: 'Müller' }] };

function search(query: Array<[string, string]>, lenient = false) {
  return parseSearchQuery(studies, query, { baseUrl: BASE, lenient });
}

function bundleFor(query: Array<[string, string]>, lenient = false, included: Resource[] = []): Bundle {
  const request = search(query, lenient);
  const { total, page } = runSearch(all, request);
  return buildSearchBundle({ search: request, baseUrl: BASE, matches: page, total, included });
}

function links(bundle: Bundle): Record<string, string> {
  return Object.fromEntries((bundle.link ?? []).map((link) => [link.relation, link.url]));
}

describe('searchset Bundle', () => {
  before(function () {
    this.timeout(60_000); // compiling the official R5 JSON schema takes a few seconds
    schemaErrors({ resourceType: 'Bundle', type: 'searchset', entry: [{ resource: study(1) }, { resource: { resourceType: 'OperationOutcome', issue: [] } }] });
  });

  it('has the total, full URLs and match entries, and is valid against the R5 schema', () => {
    const bundle = bundleFor([['modality', 'CT'], ['_sort', 'started']]);
    expect(bundle).to.include({ resourceType: 'Bundle', type: 'searchset', total: 5 });
    expect(bundle.entry!.map((e) => e.fullUrl)).to.deep.equal([`${BASE}/ImagingStudy/s1`, `${BASE}/ImagingStudy/s2`]);
    expect(bundle.entry!.every((e) => e.search?.mode === 'match')).to.equal(true);
    expect(schemaErrors(bundle)).to.deep.equal([]);
  });

  it('links self, first, next and last on the first page, previous from the second', () => {
    const first = links(bundleFor([['modality', 'CT']]));
    expect(first.self).to.equal(`${BASE}/ImagingStudy?modality=CT&_count=2`);
    expect(first.first).to.equal(first.self);
    expect(first.next).to.equal(`${BASE}/ImagingStudy?modality=CT&_count=2&_offset=2`);
    expect(first.last).to.equal(`${BASE}/ImagingStudy?modality=CT&_count=2&_offset=4`);
    expect(first).not.to.have.property('previous');
    const middle = links(bundleFor([['modality', 'CT'], ['_offset', '2']]));
    expect(middle.self).to.equal(`${BASE}/ImagingStudy?modality=CT&_count=2&_offset=2`);
    expect(middle.previous).to.equal(`${BASE}/ImagingStudy?modality=CT&_count=2`);
    expect(middle.next).to.equal(`${BASE}/ImagingStudy?modality=CT&_count=2&_offset=4`);
    // An offset off the page grid pages back to 0, not below.
    expect(links(bundleFor([['modality', 'CT'], ['_offset', '1']])).previous).to.equal(`${BASE}/ImagingStudy?modality=CT&_count=2`);
    const last = links(bundleFor([['modality', 'CT'], ['_offset', '4']]));
    expect(last).not.to.have.property('next');
    expect(last.previous).to.equal(`${BASE}/ImagingStudy?modality=CT&_count=2&_offset=2`);
  });

  it('follows next links to the end without losing or repeating matches', () => {
    const seen: string[] = [];
    let url: string | undefined = `${BASE}/ImagingStudy?_sort=-started&_count=2`;
    for (let guard = 0; url !== undefined && guard < 10; guard++) {
      const query = [...new URL(url).searchParams.entries()];
      const bundle = bundleFor(query);
      seen.push(...(bundle.entry ?? []).map((e) => e.resource!.id!));
      url = links(bundle).next;
    }
    expect(seen).to.deep.equal(['s5', 's4', 's3', 's2', 's1']);
  });

  it('writes the parameters in canonical order, encoded, and parses back to the same search', () => {
    const request = search([
      ['patient', 'Patient/p1'],
      ['identifier:text', 'a,b'],
      ['identifier', 'urn:sys|A\\,B'],
      ['_count', '3'],
      ['started', 'ge2024-01-01T00:00:00+01:00'],
      ['_sort', '-started,_id'],
      ['_include', 'ImagingStudy:patient'],
      ['_total', 'accurate'],
    ]);
    const url = searchUrl(BASE, request, 3);
    expect(url).to.equal(
      `${BASE}/ImagingStudy?identifier=urn%3Asys%7CA%5C%2CB&identifier:text=a%2Cb&patient=Patient%2Fp1` +
        '&started=ge2024-01-01T00%3A00%3A00%2B01%3A00&_sort=-started%2C_id&_include=ImagingStudy%3Apatient&_total=accurate&_count=3&_offset=3',
    );
    const again = search([...new URL(url).searchParams.entries()]);
    expect(searchQuery(again, again.offset)).to.deep.equal(searchQuery(request, 3));
    expect(again.filters.find((f) => f.name === 'identifier')).to.deep.include({ kind: 'token', values: [{ system: 'urn:sys', code: 'A,B' }] });
  });

  it('drops what lenient handling ignored from the links and reports it in an outcome entry', () => {
    const bundle = bundleFor([['modality', 'CT'], ['color', 'blue']], true);
    expect(links(bundle).self).to.equal(`${BASE}/ImagingStudy?modality=CT&_count=2`);
    const outcome = bundle.entry!.find((e) => e.search?.mode === 'outcome')!;
    expect(outcome.resource).to.deep.include({ resourceType: 'OperationOutcome' });
    expect((outcome.resource as OperationOutcome).issue[0]).to.deep.include({
      severity: 'warning',
      expression: ['color'],
    });
    expect(schemaErrors(bundle)).to.deep.equal([]);
  });

  it('_summary=count gives the total and no entries', () => {
    const bundle = bundleFor([['modality', 'CT'], ['_summary', 'count']]);
    expect(bundle.total).to.equal(5);
    expect(bundle).not.to.have.property('entry');
    expect(bundle.link!.map((l) => l.relation)).to.deep.equal(['self']);
    expect(links(bundle).self).to.equal(`${BASE}/ImagingStudy?modality=CT&_summary=count&_count=2`);
  });

  it('_total=none leaves the total out', () => {
    expect(bundleFor([['_total', 'none']])).not.to.have.property('total');
  });

  it('adds included resources once, as include entries', () => {
    const bundle = bundleFor([['_id', 's1'], ['_include', 'ImagingStudy:patient']], false, [patient, patient, study(1)]);
    expect(bundle.entry!.map((e) => [e.fullUrl, e.search?.mode])).to.deep.equal([
      [`${BASE}/ImagingStudy/s1`, 'match'],
      [`${BASE}/Patient/p1`, 'include'],
    ]);
  });

  it('_elements and _summary=data return subsetted copies, tagged SUBSETTED', () => {
    const elements = bundleFor([['_id', 's1'], ['_elements', 'status,started']]).entry![0]!.resource!;
    // subject is mandatory (ImagingStudy.subject 1..1): kept unasked, as search.html says servers should.
    expect(Object.keys(elements).sort()).to.deep.equal(['id', 'meta', 'resourceType', 'started', 'status', 'subject']);
    expect(elements.meta!.tag).to.deep.equal([{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' }]);
    const data = bundleFor([['_id', 's1'], ['_summary', 'data']]).entry![0]!.resource!;
    expect(data).not.to.have.property('text');
    expect(data).to.have.property('series');
    expect(all[0]).to.have.property('text');
    // _summary=true: the elements the R5 StructureDefinition marks isSummary (series is, text is not).
    const summary = bundleFor([['_id', 's1'], ['_summary', 'true']]).entry![0]!.resource!;
    expect(summary).to.have.property('series');
    expect(summary).not.to.have.property('text');
    expect(summary.meta!.tag).to.deep.include({ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' });
    const text = bundleFor([['_id', 's1'], ['_summary', 'text']]).entry![0]!.resource!;
    expect(Object.keys(text).sort()).to.deep.equal(['id', 'meta', 'resourceType', 'status', 'subject', 'text']);
  });

  it('without a total, a full page has a next link and a short one does not', () => {
    const request = search([['_count', '2']]);
    const full = buildSearchBundle({ search: request, baseUrl: BASE, matches: all.slice(0, 2) });
    expect(links(full)).to.have.property('next');
    expect(links(full)).not.to.have.property('last');
    expect(full).not.to.have.property('total');
    const short = buildSearchBundle({ search: request, baseUrl: BASE, matches: all.slice(0, 1) });
    expect(links(short)).not.to.have.property('next');
  });
});
