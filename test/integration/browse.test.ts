// A person browsing /fhir in a real browser (Debian's Chromium, headless):
// pages to read and follow, a way in from Orthanc Explorer, no script from
// data, and unchanged FHIR JSON for clients at the same URLs.
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser } from '../support/browser';
import { makeDicomFiles, newUid, storescu } from '../support/dicom';
import { fhirClient } from '../support/fhir';
import { imagingDataset, sendDataset } from '../support/imaging-dataset';
import { Orthanc } from '../support/orthanc';

type Json = Record<string, any>;

describe('browsing /fhir in a real browser', function () {
  this.timeout(120000);
  let orthanc: Orthanc;
  let browser: Browser;
  let page: Page;
  // No '=' in it: DICOM PN would read it as a component group separator.
  const HOSTILE = '<script>window.__xss++</script>^<b>bold</b>';

  before(async () => {
    orthanc = await Orthanc.start({ withDicomWeb: true, fhir: { Enable: true } });
    sendDataset(orthanc.dicomPort, imagingDataset());
    storescu(orthanc.dicomPort, makeDicomFiles([{ patientId: 'XSS-1', patientName: HOSTILE, studyUid: newUid(), seriesUid: newUid(), modality: 'OT', sopInstanceUid: newUid() }]));
    browser = await launchBrowser();
    page = await browser.newPage();
  });
  after(async () => {
    await browser?.close();
    await orthanc?.dispose();
  });

  it('opens a search page, follows a reference, and pages to the next results', async () => {
    await page.goto(`${orthanc.fhirUrl}/ImagingStudy?_count=2`);
    expect(await page.locator('h1').textContent()).to.equal('Bundle');
    expect(await page.locator('form input[name="patient"]').count()).to.equal(1);
    await page.locator('a', { hasText: '"Patient/' }).first().click();
    await page.waitForURL(/\/fhir\/Patient\/[^/?]+$/);
    expect(await page.locator('h1').textContent()).to.match(/^Patient\//);
    await page.goBack();
    await page.locator('a', { hasText: 'next' }).first().click();
    await page.waitForURL(/_offset=2/);
    expect(await page.locator('h1').textContent()).to.equal('Bundle');
  });

  it('searches with the form', async () => {
    await page.goto(`${orthanc.fhirUrl}/ImagingStudy`);
    await page.fill('form input[name="modality"]', 'PT');
    await page.click('form button[type="submit"]');
    await page.waitForURL(/modality=PT/);
    expect(await page.textContent('body')).to.contain('1 found');
  });

  it('starts from the landing page, which counts the resources', async () => {
    await page.goto(orthanc.fhirUrl);
    expect(await page.textContent('body')).to.contain('FHIR 5.0.0').and.contain('ImagingStudy (7)').and.contain('Patient (6)');
    await page.click('a[href$="/fhir/ImagingStudy"]');
    await page.waitForURL(/\/fhir\/ImagingStudy$/);
    expect(await page.locator('h1').textContent()).to.equal('Bundle');
  });

  it("follows the FHIR button of Orthanc Explorer's study page", async () => {
    const studies = (await (await fetch(`${orthanc.url}/studies`)).json()) as string[];
    await page.goto(`${orthanc.url}/app/explorer.html#study?uuid=${studies[0]}`);
    const button = page.locator('#orthanc-fhir-imagingstudy');
    await button.waitFor({ state: 'visible', timeout: 20000 });
    await button.click();
    await page.waitForURL(new RegExp(`/fhir/ImagingStudy/${studies[0]}`));
    expect(await page.locator('h1').textContent()).to.equal(`ImagingStudy/${studies[0]}`);
    expect(await page.locator('a', { hasText: 'open the study' }).count()).to.equal(1);
  });

  it('runs no script from a PatientName holding HTML', async () => {
    const patients = (await fhirClient(orthanc.fhirUrl).search({ resourceType: 'Patient', searchParams: { identifier: 'XSS-1' } })) as Json;
    const id = patients.entry[0].resource.id;
    for (const url of [`${orthanc.fhirUrl}/Patient/${id}`, `${orthanc.fhirUrl}/Patient?identifier=XSS-1`]) {
      await page.goto(url);
      expect(await page.evaluate('window.__xss'), url).to.equal(undefined);
      expect(await page.locator('b').count(), url).to.equal(0);
      expect(await page.textContent('body'), url).to.contain('<script>window.__xss++</script>');
    }
  });

  it('still gives FHIR clients the same JSON at the same URLs', async () => {
    const client = fhirClient(orthanc.fhirUrl);
    const bundle = (await client.search({ resourceType: 'ImagingStudy', searchParams: { _count: '2' } })) as Json;
    const study = bundle.entry[0].resource;
    const read = (await client.read({ resourceType: 'ImagingStudy', id: study.id })) as Json;
    for (const accept of ['application/fhir+json', 'application/json', '']) {
      const response = await fetch(`${orthanc.fhirUrl}/ImagingStudy/${study.id}`, { headers: accept ? { accept } : {} });
      expect(response.headers.get('content-type')).to.match(/^application\/fhir\+json/);
      expect(await response.json()).to.deep.equal(read);
    }
    const html = await fetch(`${orthanc.fhirUrl}/ImagingStudy/${study.id}`, { headers: { accept: 'text/html' } });
    expect(html.headers.get('content-type')).to.match(/^text\/html/);
  });
});
