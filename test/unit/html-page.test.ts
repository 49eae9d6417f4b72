import { expect } from 'chai';
import { escapeHtml, jsonHtml, resourcePage, type PageContext } from '../../src/http/html-page';
import { emptyPageData } from '../../src/http/pages/page-data';

const context: PageContext = {
  baseUrl: 'http://pacs/fhir',
  status: 200,
  searchParams: new Map([['ImagingStudy', ['patient', 'started']]]),
  dicomWebRoot: '/dicom-web',
};

describe('HTML pages', () => {
  it('escapes every value from data: a PatientName holding a script stays text', () => {
    const page = resourcePage({ resourceType: 'Patient', id: 'x', name: [{ family: '<script>alert(1)</script>', given: ['"><img src=x onerror=alert(2)>'] }] }, context);
    expect(page).to.not.contain('<script>alert').and.not.contain('<img');
    expect(page).to.contain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(escapeHtml(`<&>"'`)).to.equal('&#60;&#38;&#62;&#34;&#39;');
  });

  it('makes references and links clickable', () => {
    const html = jsonHtml({ subject: { reference: 'Patient/123' }, link: [{ relation: 'next', url: 'http://pacs/fhir/Patient?_offset=20' }], note: 'http://elsewhere/x' }, context.baseUrl);
    expect(html).to.contain('<a class="s" href="http://pacs/fhir/Patient/123">"Patient/123"</a>');
    expect(html).to.contain('href="http://pacs/fhir/Patient?_offset=20"');
    expect(html).to.not.contain('href="http://elsewhere/x"');
  });

  it('shows an ImagingStudy summary with links to Orthanc Explorer and DICOMweb', () => {
    const page = resourcePage({
      resourceType: 'ImagingStudy', id: 's1', subject: { reference: 'Patient/p1' }, started: '2024-01-31',
      modality: [{ coding: [{ code: 'CT' }] }], numberOfSeries: 2, numberOfInstances: 5,
      identifier: [{ system: 'urn:dicom:uid', value: 'urn:oid:1.2.3' }],
    }, context);
    expect(page).to.contain('href="http://pacs/app/explorer.html#study?uuid=s1"');
    expect(page).to.contain('href="http://pacs/dicom-web/studies/1.2.3/metadata"');
    expect(page).to.contain('href="http://pacs/fhir/Patient/p1"');
    expect(page).to.contain('2 / 5');
  });

  it("puts a search form with the type's parameters above a searchset, and paging links", () => {
    const page = resourcePage({
      resourceType: 'Bundle', type: 'searchset', total: 40,
      link: [{ relation: 'self', url: 'http://pacs/fhir/ImagingStudy?_count=20' }, { relation: 'next', url: 'http://pacs/fhir/ImagingStudy?_count=20&_offset=20' }],
    }, context);
    expect(page).to.contain('action="http://pacs/fhir/ImagingStudy"').and.contain('name="patient"').and.contain('name="started"');
    expect(page).to.contain('>Next page</a>');
  });

  const study = (id: string, started: string, patient: string) => ({
    fullUrl: `http://pacs/fhir/ImagingStudy/${id}`, search: { mode: 'match' as const },
    resource: {
      resourceType: 'ImagingStudy', id, started, subject: { reference: `Patient/${patient}` }, description: `<i>${id}</i>`,
      modality: [{ coding: [{ code: 'CT' }] }], numberOfSeries: 2, numberOfInstances: 7,
      identifier: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }] }, value: `A-${id}` }],
    },
  });

  it('shows a searchset of studies as a table: patient and MRN from the page data, sortable date, filters that keep the search', () => {
    const data = emptyPageData();
    data.related.set('Patient/p1', { resourceType: 'Patient', id: 'p1', name: [{ family: 'Müller', given: ['Jürgen'] }], identifier: [{ value: 'MRN-1' }] });
    const page = resourcePage({ resourceType: 'Bundle', type: 'searchset', total: 2, entry: [study('s1', '2024-01-31T10:15:30+01:00', 'p1'), study('s2', '2024-01-30', 'p2')] },
      { ...context, path: ['ImagingStudy'], query: [['modality', 'CT'], ['_sort', '-started'], ['_offset', '20']], data, now: new Date('2024-01-31T12:00:00Z'),
        timezoneOffset: '+01:00' });
    const rows = page.split('<tr>').slice(2);
    expect(rows).to.have.length(2);
    expect(rows[0]).to.contain('2024-01-31 10:15:30 +01:00').and.contain('Müller, Jürgen').and.contain('MRN MRN-1').and.contain('A-s1')
      .and.contain('&#60;i&#62;s1&#60;/i&#62;').and.contain('2 / 7');
    expect(rows[1]).to.contain('2024-01-30').and.contain('href="http://pacs/fhir/Patient/p2"');
    // The date header is sorted descending now; a click sorts ascending, keeps the filter and starts again at the first page.
    expect(page).to.contain('aria-sort="descending"');
    expect(page).to.contain('href="http://pacs/fhir/ImagingStudy?modality=CT&#38;_sort=started"');
    // "Today" in the configured zone, and the modality filter replaced, not added.
    expect(page).to.contain('started=ge2024-01-31T00%3A00%3A00%2B01%3A00&#38;started=lt2024-02-01T00%3A00%3A00%2B01%3A00');
    expect(page).to.contain('href="http://pacs/fhir/ImagingStudy?_sort=-started&#38;modality=MR"');
  });

  it('shows one preview per series on the study page, through the plugin, each with a text alternative', () => {
    const page = resourcePage({
      resourceType: 'ImagingStudy', id: 's1', subject: { reference: 'Patient/p1' },
      series: [{ uid: '1.2.1', number: 1, modality: { coding: [{ code: 'CT' }] }, description: 'axial', numberOfInstances: 3 },
        { uid: '1.2.2', number: 2, modality: { coding: [{ code: 'CT' }] }, numberOfInstances: 1 }],
    }, { ...context, path: ['ImagingStudy', 's1'] });
    expect(page.match(/<img /g)).to.have.length(2);
    expect(page).to.contain('src="http://pacs/fhir/.assets/preview/s1/1.2.1" alt="Preview of Series 1 · CT · axial"');
    expect(page).to.contain('src="http://pacs/fhir/.assets/preview/s1/1.2.2"');
    expect(page).to.not.match(/<script>|style="/);
  });

  it("shows a patient's studies newest first with a preview each, and the orders with their Tasks' status", () => {
    const data = emptyPageData();
    data.studies = { resourceType: 'Bundle', type: 'searchset', total: 2, entry: [study('s2', '2024-02-01', 'p1'), study('s1', '2023-01-01', 'p1')] };
    data.orders = { resourceType: 'Bundle', type: 'searchset', total: 1, entry: [{ search: { mode: 'match' }, resource: {
      resourceType: 'ServiceRequest', id: 'o1', status: 'active', identifier: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }] }, value: 'ACC-9' }],
      code: { concept: { text: 'CT chest' } } } }] };
    data.tasksByOrder.set('o1', [{ resourceType: 'Task', id: 't1', status: 'in-progress', owner: { identifier: { value: 'CT01' } }, requestedPeriod: { start: '2024-03-01T09:00:00Z' } }]);
    const page = resourcePage({ resourceType: 'Patient', id: 'p1', name: [{ family: 'Doe', given: ['Jane'] }] }, { ...context, path: ['Patient', 'p1'], data });
    const timeline = page.slice(page.indexOf('<ol class="timeline">'), page.indexOf('</ol>'));
    expect(timeline.indexOf('2024-02-01')).to.be.lessThan(timeline.indexOf('2023-01-01'));
    expect(timeline).to.contain('src="http://pacs/fhir/.assets/preview/s2"');
    expect(page).to.contain('ACC-9').and.contain('CT chest').and.contain('in-progress').and.contain('CT01').and.contain('2024-03-01 09:00 UTC');
  });

  it('shows an OperationOutcome of an error as an error', () => {
    const page = resourcePage({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found', diagnostics: 'Patient/x <b>' }] }, { ...context, status: 404 });
    expect(page).to.contain('<h1 class="error">Error 404</h1>').and.contain('Patient/x &#60;b&#62;');
  });
});
