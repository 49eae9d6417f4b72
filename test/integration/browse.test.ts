// A person browsing /fhir in a real browser (Debian's Chromium, headless):
// a radiographer finding today's CT studies by clicks, a study's previews,
// a patient's history, the day's worklist as findscu gets it; every page
// checked with axe-core; a way in from Orthanc Explorer, no script from
// data, pages without JavaScript, and unchanged FHIR JSON for clients.
import { createRequire } from 'node:module';
import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser } from '../support/browser';
import { makeDicomFiles, newUid, storescu, type InstanceSpec } from '../support/dicom';
import { fhirClient } from '../support/fhir';
import { imagingDataset, sendDataset } from '../support/imaging-dataset';
import { orderTransaction } from '../support/orders';
import { Orthanc } from '../support/orthanc';
import { findWorklist } from '../support/worklist';

const AXE = createRequire(__filename).resolve('axe-core/axe.min.js');

/** axe-core's serious and critical violations of the page shown, as "rule: target" lines. */
async function accessibilityViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: AXE });
  const results = (await page.evaluate('axe.run(document, { resultTypes: ["violations"] })')) as {
    violations: Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }>;
  };
  return results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

type Json = Record<string, any>;

describe('browsing /fhir in a real browser', function () {
  this.timeout(120000);
  let orthanc: Orthanc;
  let browser: Browser;
  let page: Page;
  // No '=' in it: DICOM PN would read it as a component group separator.
  const HOSTILE = '<script>window.__xss++</script>^<b>bold</b>';

  // Today where the Orthanc runs (the tests' Orthancs run in UTC).
  const today = new Date().toISOString().slice(0, 10);
  const todayDicom = today.replace(/-/g, '');
  const yesterday = new Date(Date.now() - 86400000).toISOString().slice(0, 10).replace(/-/g, '');
  const todayCt = newUid();

  before(async () => {
    orthanc = await Orthanc.start({
      withDicomWeb: true,
      fhir: { Enable: true, Worklist: { Enable: true } },
      extra: { DicomAlwaysAllowFindWorklist: true, StableAge: 1, DefaultEncoding: 'Utf8' },
    });
    sendDataset(orthanc.dicomPort, imagingDataset());
    const instances: InstanceSpec[] = [];
    const ct = (patientId: string, patientName: string, studyUid: string, date: string, time: string, series: number, modality = 'CT') => {
      for (let s = 1; s <= series; s++) {
        const seriesUid = newUid();
        for (let i = 1; i <= 2; i++) {
          instances.push({ patientId, patientName, studyUid, studyDate: date, studyTime: time, studyDescription: `${modality} today ${time}`,
            accessionNumber: `B-${time}`, seriesUid, seriesNumber: s, seriesDescription: `series ${s}`, modality, sopInstanceUid: newUid(), instanceNumber: i });
        }
      }
    };
    ct('BROWSE-1', 'Browse^Alice', todayCt, todayDicom, '081500', 3);
    ct('BROWSE-2', 'Browse^Bob', newUid(), todayDicom, '101500', 1);
    ct('BROWSE-1', 'Browse^Alice', newUid(), yesterday, '091500', 1);
    ct('BROWSE-2', 'Browse^Bob', newUid(), todayDicom, '111500', 1, 'MR');
    instances.push({ patientId: 'XSS-1', patientName: HOSTILE, studyUid: newUid(), seriesUid: newUid(), modality: 'OT', sopInstanceUid: newUid() });
    storescu(orthanc.dicomPort, makeDicomFiles(instances));
    browser = await launchBrowser();
    page = await browser.newPage();
  });
  after(async () => {
    await browser?.close();
    await orthanc?.dispose();
  });

  it('opens a search table, follows a patient, and pages to the next results', async () => {
    await page.goto(`${orthanc.fhirUrl}/ImagingStudy?_count=2`);
    expect(await page.locator('h1').textContent()).to.equal('Studies');
    expect(await page.locator('table tbody tr').count()).to.equal(2);
    expect(await page.locator('form input[name="patient"]').count()).to.equal(1);
    await page.locator('table tbody a[href*="/Patient/"]').first().click();
    await page.waitForURL(/\/fhir\/Patient\/[^/?]+$/);
    expect(await page.locator('h1').textContent()).to.match(/^Patient\//);
    await page.goBack();
    await page.getByRole('link', { name: 'Next page' }).first().click();
    await page.waitForURL(/_offset=2/);
    expect(await page.locator('h1').textContent()).to.equal('Studies');
  });

  it('searches with the form', async () => {
    await page.goto(`${orthanc.fhirUrl}/ImagingStudy`);
    await page.getByText('Search form').click();
    await page.fill('form input[name="modality"]', 'PT');
    await page.click('form button[type="submit"]');
    await page.waitForURL(/modality=PT/);
    expect(await page.textContent('main')).to.contain('1 found');
    expect(await page.locator('table tbody tr').count()).to.equal(1);
  });

  it('starts from the landing page, which counts the resources', async () => {
    const count = async (type: string) => ((await fhirClient(orthanc.fhirUrl).search({ resourceType: type, searchParams: { _summary: 'count' } })) as Json).total;
    await page.goto(orthanc.fhirUrl);
    expect(await page.textContent('body')).to.contain('FHIR 5.0.0')
      .and.contain(`ImagingStudy (${await count('ImagingStudy')})`).and.contain(`Patient (${await count('Patient')})`);
    await page.locator('main a[href$="/fhir/ImagingStudy"]').click();
    await page.waitForURL(/\/fhir\/ImagingStudy$/);
    expect(await page.locator('h1').textContent()).to.equal('Studies');
  });

  it("finds today's CT studies by clicks only, sorts them by date, opens one with a preview per series, and follows the patient", async () => {
    await page.goto(orthanc.fhirUrl);
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Studies' }).click();
    await page.getByRole('navigation', { name: 'Filters' }).getByRole('link', { name: 'Today' }).click();
    await page.getByRole('navigation', { name: 'Filters' }).getByRole('link', { name: 'CT', exact: true }).click();
    await page.waitForURL(/modality=CT/);
    const rows = page.locator('table tbody tr');
    const described = async () => (await rows.locator('td:nth-child(5)').allTextContents());
    // Today's two CT studies, not yesterday's CT nor today's MR.
    expect((await described()).sort()).to.deep.equal(['CT today 081500', 'CT today 101500']);
    await page.getByRole('link', { name: /Date and time/ }).click();
    await page.waitForURL(/_sort=-started/);
    expect(await described()).to.deep.equal(['CT today 101500', 'CT today 081500']);
    expect(await page.locator('th[aria-sort="descending"]').count()).to.equal(1);
    await page.getByRole('link', { name: /Date and time/ }).click();
    await page.waitForURL(/_sort=started/);
    expect(await described()).to.deep.equal(['CT today 081500', 'CT today 101500']);
    expect(new URL(page.url()).searchParams.getAll('started')).to.have.length(2);

    await rows.first().locator('td').first().getByRole('link').click();
    await page.waitForURL(/\/fhir\/ImagingStudy\/[^/?]+$/);
    const previews = page.locator('ul.previews img');
    expect(await previews.count()).to.equal(3);
    // Each preview is fetched through the plugin (Orthanc renders it); wait until all have loaded or failed.
    await page.waitForFunction("(() => { try { return [...document.querySelectorAll('ul.previews img')].every((img) => img.complete); } catch { return false; } })()");
    const widths = (await page.evaluate("[...document.querySelectorAll('ul.previews img')].map((img) => img.naturalWidth)")) as number[];
    expect(widths.every((width) => width > 0), `every preview rendered: ${widths.join(',')}`).to.equal(true);
    const sources = await previews.evaluateAll((images) => images.map((img) => img.getAttribute('src')));
    expect(new Set(sources).size).to.equal(3);

    await page.locator('table.summary').getByRole('link', { name: /Browse, Alice/ }).click();
    await page.waitForURL(/\/fhir\/Patient\/[^/?]+$/);
    const timeline = await page.locator('ol.timeline li').allTextContents();
    expect(timeline).to.have.length(2);
    expect(timeline[0]).to.contain('CT today 081500');
    expect(timeline[1]).to.contain('CT today 091500');
  });

  it("shows a patient's orders and their Tasks, and the order on the study it fulfils", async () => {
    const client = fhirClient(orthanc.fhirUrl);
    const answer = (await client.transaction({ body: orderTransaction('BROWSE-1', 'ORD-B1') as Json & { resourceType: 'Bundle'; type: 'transaction' } })) as Json;
    const [patientRef, orderRef, taskRef] = answer.entry.map((e: Json) => e.response.location.replace(/\/_history\/.*$/, '').replace(/^.*\/fhir\//, ''));
    await page.goto(`${orthanc.fhirUrl}/${patientRef}`);
    const orders = page.locator('table', { hasText: 'Accession' });
    expect(await orders.textContent()).to.contain('ORD-B1').and.contain('CT chest').and.contain('requested');
    await orders.getByRole('link', { name: /^Task / }).click();
    await page.waitForURL(new RegExp(`/fhir/${taskRef}$`));
    expect(await page.locator('table.summary').textContent()).to.contain('CT01').and.contain('requested');
    // The images arrive: the study's page names the order it fulfils, the order's page the study.
    storescu(orthanc.dicomPort, makeDicomFiles([{ patientId: 'BROWSE-1', patientName: 'Browse^Alice', studyUid: newUid(), studyDate: todayDicom,
      studyTime: '120000', studyDescription: 'CT ordered', accessionNumber: 'ORD-B1', seriesUid: newUid(), modality: 'CT', sopInstanceUid: newUid() }]));
    let fulfilling: Json | undefined;
    for (let attempt = 0; attempt < 60 && !fulfilling; attempt++) {
      const found = (await client.search({ resourceType: 'ImagingStudy', searchParams: { 'based-on': orderRef } })) as Json;
      fulfilling = found.entry?.[0]?.resource;
      if (!fulfilling) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(fulfilling, 'the study of the order').to.not.equal(undefined);
    await page.goto(`${orthanc.fhirUrl}/ImagingStudy/${fulfilling!.id}`);
    const order = page.locator('table.summary tr').filter({ has: page.locator('th', { hasText: /^Order$/ }) });
    expect(await order.textContent()).to.contain('ORD-B1').and.contain('CT chest');
    await page.goto(`${orthanc.fhirUrl}/${orderRef}`);
    expect(await page.locator('table.summary').textContent()).to.contain('ORD-B1').and.contain('CT chest').and.contain('active');
    expect(await page.locator('main ul', { hasText: 'CT ordered' }).count()).to.equal(1);
  });

  it('lists on the worklist page of a station and day exactly what findscu gets for the same query', async () => {
    const client = fhirClient(orthanc.fhirUrl);
    const at = (time: string, day = today) => `${day}T${time}:00Z`;
    const orders: Array<[string, string, string, string, string]> = [
      ['WLP-1', 'ACC-P1', 'CT01', 'CT', at('08:00')],
      ['WLP-2', 'ACC-P2', 'CT01', 'CT', at('09:30')],
      ['WLP-3', 'ACC-P3', 'MR01', 'MR', at('10:00')],
      ['WLP-4', 'ACC-P4', 'CT01', 'CT', at('10:00', '2030-01-01')],
    ];
    for (const [patientId, accession, station, modality, start] of orders) {
      const transaction = orderTransaction(patientId, accession) as Json;
      const task = transaction.entry[2].resource;
      task.requestedPeriod = { start };
      task.owner = { type: 'Device', identifier: { system: 'urn:dicom:ae', value: station }, display: station };
      task.input[0].valueCodeableConcept.coding[0].code = modality;
      await client.transaction({ body: transaction as Json & { resourceType: 'Bundle'; type: 'transaction' } });
    }
    await page.goto(orthanc.fhirUrl);
    await page.getByRole('link', { name: "Today's worklist" }).click();
    await page.fill('#worklist-station', 'CT01');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL(/station=CT01/);
    const shown = (await page.locator('#refreshed tbody tr').evaluateAll((trs) => trs.map((tr) => {
      const cells = [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '');
      return `${cells[4]} ${cells[2]} ${cells[0]} ${cells[6]}`;
    }))).sort();
    const found = findWorklist(orthanc.dicomPort, ['AccessionNumber', 'PatientID',
      'ScheduledProcedureStepSequence[0].ScheduledStationAETitle=CT01', `ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=${todayDicom}`,
      'ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime', 'ScheduledProcedureStepSequence[0].Modality'])
      .map((item) => {
        const step = (item.ScheduledProcedureStepSequence as Json[])[0]!;
        const time = String(step.ScheduledProcedureStepStartTime);
        return `${item.AccessionNumber} ${item.PatientID} ${time.slice(0, 2)}:${time.slice(2, 4)} ${step.Modality}`;
      }).sort();
    expect(found).to.deep.equal(['ACC-P1 WLP-1 08:00 CT', 'ACC-P2 WLP-2 09:30 CT']);
    expect(shown).to.deep.equal(found);
    expect(await page.locator('#refreshed h2').allTextContents()).to.deep.equal(['Station CT01 (2)']);
    // The same as FHIR JSON, and a bad day is a 400 OperationOutcome.
    const json = (await (await fetch(`${orthanc.fhirUrl}/$worklist?station=CT01&date=${today}`)).json()) as Json;
    expect(json.total).to.equal(2);
    expect(json.entry.filter((e: Json) => e.search.mode === 'match').map((e: Json) => e.resource.resourceType)).to.deep.equal(['Task', 'Task']);
    const bad = await fetch(`${orthanc.fhirUrl}/$worklist?date=2024-02-30`);
    expect(bad.status).to.equal(400);
    expect(((await bad.json()) as Json).resourceType).to.equal('OperationOutcome');
    // Refreshing in place keeps the page (the script served by the plugin).
    expect(await page.locator('script[src$="/fhir/.assets/pages.js"]').count()).to.equal(1);
    expect(await page.getByRole('button', { name: 'Stop refreshing' }).count()).to.equal(1);
  });

  it('passes axe-core (no serious or critical violation) on every page', async () => {
    const studies = (await fhirClient(orthanc.fhirUrl).search({ resourceType: 'ImagingStudy', searchParams: { _count: '1', modality: 'CT', _sort: '-started' } })) as Json;
    const study = studies.entry[0].resource;
    const orders = (await fhirClient(orthanc.fhirUrl).search({ resourceType: 'ServiceRequest', searchParams: { _count: '1' } })) as Json;
    const context = await browser.newContext({ bypassCSP: true });
    const checked = await context.newPage();
    try {
      for (const path of ['', '/ImagingStudy', `/ImagingStudy/${study.id}`, `/${study.subject.reference}`, '/Patient', '/ServiceRequest',
        `/ServiceRequest/${orders.entry[0].resource.id}`, '/Task', '/$worklist', '/Endpoint', '/SubscriptionTopic', '/metadata', '/Nothing/here', '/R4/ImagingStudy']) {
        await checked.goto(`${orthanc.fhirUrl}${path}`);
        expect(await accessibilityViolations(checked), path || '/').to.deep.equal([]);
      }
    } finally {
      await context.close();
    }
  });

  it('works without JavaScript, loads nothing from elsewhere and runs no inline script', async () => {
    const context: BrowserContext = await browser.newContext({ javaScriptEnabled: false });
    const plain = await context.newPage();
    const loaded: string[] = [];
    plain.on('request', (request) => loaded.push(request.url()));
    try {
      const response = await plain.goto(`${orthanc.fhirUrl}/$worklist`);
      expect(response!.headers()['content-security-policy']).to.contain("script-src 'self'").and.contain("default-src 'none'");
      expect(await plain.locator('#refreshed').count()).to.equal(1);
      expect(await plain.getByRole('link', { name: 'Refresh now' }).count()).to.equal(1);
      await plain.goto(`${orthanc.fhirUrl}/ImagingStudy/${(await (await fetch(`${orthanc.url}/studies`)).json() as string[])[0]}`);
      expect(await plain.locator('table.summary').count()).to.equal(1);
      for (const url of [`${orthanc.fhirUrl}`, `${orthanc.fhirUrl}/Patient`, `${orthanc.fhirUrl}/$worklist`]) {
        await plain.goto(url);
        expect(await plain.locator('script:not([src])').count(), url).to.equal(0);
        expect(await plain.locator('[style]').count(), url).to.equal(0);
      }
      expect(loaded.filter((url) => !url.startsWith(orthanc.url)), 'nothing from elsewhere').to.deep.equal([]);
    } finally {
      await context.close();
    }
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
