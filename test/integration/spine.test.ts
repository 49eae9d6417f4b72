// The spine inside the real Orthanc: routing, negotiation, the error model,
// and the guarantees that handler faults never hurt Orthanc.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { failure, expectOutcome, fhirClient } from '../support/fhir';
import { schemaErrors } from '../support/fhir-schema';
import { Orthanc, ROOT, TEST_BUNDLE } from '../support/orthanc';

const PROBE_ADDON = `${ROOT}/build/Release/probe.node`;

async function get(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text };
}

function echoscu(port: number): boolean {
  try {
    execFileSync('echoscu', ['-aec', 'ORTHANC', '127.0.0.1', String(port)], { timeout: 10000 });
    return true;
  } catch {
    return false;
  }
}

describe('spine: /fhir served from the embedded Node.js', function () {
  let orthanc: Orthanc;

  before(async () => {
    orthanc = await Orthanc.start({
      fhir: { Enable: true, Bundle: TEST_BUNDLE, RequestTimeout: 3 },
    });
  });
  after(async () => orthanc?.dispose());

  it('answers the CapabilityStatement through fhir-kit-client, valid against the R5 schema', async () => {
    const statement = (await fhirClient(orthanc.fhirUrl).capabilityStatement()) as Record<string, unknown>;
    expect(statement.resourceType).to.equal('CapabilityStatement');
    expect(statement.fhirVersion).to.equal('5.0.0');
    expect(statement.kind).to.equal('instance');
    expect(schemaErrors(statement)).to.deep.equal([]);
  });

  it('serves application/fhir+json by default and for _format=json', async () => {
    for (const url of [`${orthanc.fhirUrl}/metadata`, `${orthanc.fhirUrl}/metadata?_format=json`]) {
      const answer = await get(url);
      expect(answer.status).to.equal(200);
      expect(answer.headers.get('content-type')).to.match(/^application\/fhir\+json/);
      expect(JSON.parse(answer.text).resourceType).to.equal('CapabilityStatement');
    }
  });

  it('answers 406 with an OperationOutcome for formats it does not serve', async () => {
    for (const [url, accept] of [
      [`${orthanc.fhirUrl}/metadata?_format=xml`, undefined],
      [`${orthanc.fhirUrl}/metadata`, 'application/fhir+xml'],
    ] as const) {
      const answer = await get(url, accept ? { accept } : {});
      expect(answer.status).to.equal(406);
      expectOutcome(JSON.parse(answer.text), 'not-supported');
    }
  });

  it('gives a browser a readable page, errors included, with data escaped', async () => {
    const accept = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
    const page = await get(`${orthanc.fhirUrl}/metadata`, { accept });
    expect(page.status).to.equal(200);
    expect(page.headers.get('content-type')).to.match(/^text\/html/);
    expect(page.text).to.contain('CapabilityStatement').and.contain('<pre>');
    const error = await get(`${orthanc.fhirUrl}/%3Cscript%3E`, { accept });
    expect(error.status).to.equal(404);
    expect(error.text).to.contain('Error 404').and.contain('&#60;script&#62;').and.not.contain('<script>');
  });

  it('gives a browser a page at /fhir and a readable page instead of a bare 405', async () => {
    const accept = 'text/html,application/xhtml+xml,*/*;q=0.8';
    const landing = await get(orthanc.fhirUrl, { accept });
    expect(landing.status).to.equal(200);
    expect(landing.text).to.contain('FHIR 5.0.0').and.contain('/fhir/Patient').and.contain('CapabilityStatement');
    const unsupported = await get(`${orthanc.fhirUrl}/Endpoint/_history`, { accept });
    expect(unsupported.status).to.equal(400);
    expect(unsupported.text).to.contain('not supported');
    const json = await fetch(orthanc.fhirUrl);
    expect(json.status).to.equal(405);
    expect(json.headers.get('allow')).to.equal('POST');
  });

  it('adds a FHIR button to Orthanc Explorer', async () => {
    const explorer = await get(`${orthanc.url}/plugins/explorer.js`);
    expect(explorer.status).to.equal(200);
    expect(explorer.text).to.contain("addFhirButton('#study', 'ImagingStudy'").and.contain("'../fhir/' + type + '/'");
  });

  it('answers 404 with an OperationOutcome for an unknown type or URL', async () => {
    const unknown = await failure(fhirClient(orthanc.fhirUrl).read({ resourceType: 'Unknown', id: '1' }));
    expect(unknown.status).to.equal(404);
    expectOutcome(unknown.data, 'not-found');
  });

  it('answers 405 with the allowed methods for an unsupported interaction', async () => {
    const response = await fetch(`${orthanc.fhirUrl}/metadata`, { method: 'DELETE' });
    expect(response.status).to.equal(405);
    expect(response.headers.get('allow')).to.equal('GET');
  });

  it('answers 400 for a bad request body and 415 for a body that is not JSON', async () => {
    const bad = await fetch(`${orthanc.fhirUrl}/$echo-body`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: '{not json',
    });
    expect(bad.status).to.equal(400);
    expectOutcome(await bad.json(), 'invalid');
    const xml = await fetch(`${orthanc.fhirUrl}/$echo-body`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+xml' },
      body: '<Patient/>',
    });
    expect(xml.status).to.equal(415);
  });

  it('turns an exception and a rejected promise into 500 OperationOutcomes', async () => {
    for (const kind of ['throw', 'reject', 'abort']) {
      const answer = await get(`${orthanc.fhirUrl}/$fault?kind=${kind}`);
      expect(answer.status, kind).to.equal(500);
      expectOutcome(JSON.parse(answer.text), 'exception');
    }
  });

  it('survives a stray rejection and writes to stdout into Orthanc log', async () => {
    expect((await get(`${orthanc.fhirUrl}/$fault?kind=stray-rejection`)).status).to.equal(200);
    expect((await get(`${orthanc.fhirUrl}/$fault?kind=stdout`)).status).to.equal(200);
    expect((await get(`${orthanc.fhirUrl}/metadata`)).status).to.equal(200);
    const log = orthanc.log();
    expect(log).to.contain('nobody awaits this');
    expect(log).to.contain('console.log from a handler');
    expect(log).to.contain('written to stdout');
  });

  it('answers process.exit() with 500 and serves again from a new environment', async () => {
    const exit = await get(`${orthanc.fhirUrl}/$fault?kind=exit`);
    expect(exit.status).to.equal(500);
    expectOutcome(JSON.parse(exit.text), 'exception');
    const after = await get(`${orthanc.fhirUrl}/$echo?value=after-exit`);
    expect(after.status).to.equal(200);
    expect(after.text).to.contain('after-exit');
  });

  it('answers an endless loop with 504, keeps Orthanc serving, then recovers', async function () {
    this.timeout(30000);
    const started = Date.now();
    const loop = get(`${orthanc.fhirUrl}/$fault?kind=loop`);
    await new Promise((r) => setTimeout(r, 300));
    // Orthanc's own REST API and DICOM port keep answering meanwhile.
    expect((await get(`${orthanc.url}/system`)).status).to.equal(200);
    expect(echoscu(orthanc.dicomPort)).to.equal(true);
    const answer = await loop;
    expect(answer.status).to.equal(504);
    expectOutcome(JSON.parse(answer.text), 'timeout');
    expect(Date.now() - started).to.be.below(10000);
    // The stuck environment is replaced: /fhir answers again.
    let recovered = false;
    for (let i = 0; i < 40 && !recovered; i++) {
      recovered = (await get(`${orthanc.fhirUrl}/metadata`)).status === 200;
      if (!recovered) await new Promise((r) => setTimeout(r, 250));
    }
    expect(recovered).to.equal(true);
  });

  it('loads a native addon inside the embedded runtime', async () => {
    const answer = await get(`${orthanc.fhirUrl}/$fault?kind=addon&path=${encodeURIComponent(PROBE_ADDON)}`);
    expect(answer.status, answer.text).to.equal(200);
    expect(answer.text).to.contain('18.');
  });

  it('offers Node crypto inside Orthanc', async () => {
    const answer = await get(`${orthanc.fhirUrl}/$fault?kind=crypto`);
    expect(answer.status).to.equal(200);
    // sha1('orthanc'), then a v4 UUID
    expect(answer.text).to.match(/"[0-9a-f]{40} [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-/);
  });

  it('gives 50 concurrent clients each their own answer', async function () {
    this.timeout(30000);
    const values = Array.from({ length: 50 }, (_, i) => `client-${i}-${Math.random().toString(36).slice(2)}`);
    const client = fhirClient(orthanc.fhirUrl);
    const answers = await Promise.all(
      values.map((value) =>
        client.operation({ name: 'echo', method: 'GET', input: { value, delay: String(Math.floor(Math.random() * 50)) } }),
      ),
    );
    answers.forEach((answer, i) => {
      const parameter = (answer as { parameter: Array<{ valueString: string }> }).parameter[0]!;
      expect(parameter.valueString).to.equal(`${values[i]}@1.10.1`);
    });
  });

  it('keeps serving /fhir after /tools/reset (plugins finalized and re-initialized in process)', async function () {
    this.timeout(30000);
    const pid = orthanc.pid;
    const reset = await fetch(`${orthanc.url}/tools/reset`, { method: 'POST' });
    expect(reset.status).to.equal(200);
    await new Promise((r) => setTimeout(r, 500));
    await orthanc.waitReady();
    expect(orthanc.pid).to.equal(pid);
    const answer = await get(`${orthanc.fhirUrl}/$echo?value=after-reset`);
    expect(answer.status).to.equal(200);
    expect(answer.text).to.contain('after-reset');
  });

  it('answers requests in flight with 503 at once when Orthanc stops, and exits 0 despite a signal listener', async function () {
    this.timeout(30000);
    expect((await get(`${orthanc.fhirUrl}/$fault?kind=signal`)).status).to.equal(200);
    const hanging = [1, 2, 3].map(() => get(`${orthanc.fhirUrl}/$fault?kind=hang`));
    await new Promise((r) => setTimeout(r, 300));
    const stopped = Date.now();
    const exit = orthanc.stop('SIGTERM');
    const answers = await Promise.all(hanging);
    for (const answer of answers) {
      expect(answer.status).to.equal(503);
      expectOutcome(JSON.parse(answer.text), 'transient');
    }
    expect(Date.now() - stopped).to.be.below(2000);
    expect(await exit).to.deep.equal({ code: 0, signal: null });
  });
});
