import { expect } from 'chai';
import { escapeHtml, jsonHtml, resourcePage, type PageContext } from '../../src/http/html-page';

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
    expect(page).to.contain('>next</a>');
  });

  it('shows an OperationOutcome of an error as an error', () => {
    const page = resourcePage({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found', diagnostics: 'Patient/x <b>' }] }, { ...context, status: 404 });
    expect(page).to.contain('<h1 class="error">Error 404</h1>').and.contain('Patient/x &#60;b&#62;');
  });
});
