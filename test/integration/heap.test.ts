// The JavaScript heap limit (Fhir.HeapLimit): a handler that allocates without
// bound gets its environment restarted with a 503, never Orthanc aborted by
// V8's "Reached heap limit". Also the TCP_NODELAY default the shim sets for
// DCMTK, whose effect (no Nagle delay on DICOM answers) is measured by hand.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { expectOutcome } from '../support/fhir';
import { Orthanc, TEST_BUNDLE, type OrthancOptions } from '../support/orthanc';

const MiB = 1024 * 1024;
const run = promisify(execFile);

async function get(url: string) {
  const response = await fetch(url);
  return { status: response.status, text: await response.text() };
}

async function echoscu(port: number): Promise<boolean> {
  try {
    await run('echoscu', ['-aec', 'ORTHANC', '127.0.0.1', String(port)], { timeout: 10000 });
    return true;
  } catch {
    return false;
  }
}

/** Starts Orthanc with TCP_NODELAY absent from (or set to `value` in) the environment it inherits. */
async function startWithNoDelay(value: string | undefined, options: OrthancOptions): Promise<Orthanc> {
  const saved = process.env.TCP_NODELAY;
  if (value === undefined) delete process.env.TCP_NODELAY;
  else process.env.TCP_NODELAY = value;
  try {
    return await Orthanc.start(options);
  } finally {
    if (saved === undefined) delete process.env.TCP_NODELAY;
    else process.env.TCP_NODELAY = saved;
  }
}

/** V8's heap_size_limit inside the embedded runtime, in bytes. */
async function heapSizeLimit(orthanc: Orthanc): Promise<number> {
  const answer = await get(`${orthanc.fhirUrl}/$fault?kind=heap-limit`);
  expect(answer.status, answer.text).to.equal(200);
  return Number(JSON.parse(answer.text).parameter[0].valueString);
}

async function recovered(orthanc: Orthanc): Promise<boolean> {
  for (let i = 0; i < 40; i++) {
    if ((await get(`${orthanc.fhirUrl}/metadata`)).status === 200) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

describe('heap limit: a runaway handler costs its environment, never Orthanc', function () {
  this.timeout(60000);
  let orthanc: Orthanc;

  before(async () => {
    // A time-out longer than the heap takes to fill, so that the answer is
    // the heap's 503 and not the bridge's 504.
    orthanc = await startWithNoDelay(undefined, {
      fhir: { Enable: true, Bundle: TEST_BUNDLE, RequestTimeout: 30, HeapLimit: 128 },
    });
  });
  after(async () => orthanc?.dispose());

  it('gives the JavaScript heap Fhir.HeapLimit of old space (V8 adds its young generation)', async () => {
    const limit = await heapSizeLimit(orthanc);
    expect(limit).to.be.at.least(128 * MiB).and.below(256 * MiB);
    expect(orthanc.log()).to.match(/JavaScript environment created: \d+ ms, heap limit \d+ MiB/);
  });

  it('answers a handler that exhausts the heap with 503, keeps Orthanc serving, then serves /fhir again', async () => {
    const pid = orthanc.pid;
    for (let round = 1; round <= 2; round++) {
      const heap = get(`${orthanc.fhirUrl}/$fault?kind=heap`);
      const hanging = get(`${orthanc.fhirUrl}/$fault?kind=hang`);
      await new Promise((r) => setTimeout(r, 200));
      // Orthanc's REST API and DICOM port answer while JavaScript fills its heap.
      expect((await get(`${orthanc.url}/system`)).status).to.equal(200);
      expect(await echoscu(orthanc.dicomPort)).to.equal(true);

      // Both requests the environment had received: 503, retry later.
      for (const answer of await Promise.all([heap, hanging])) {
        expect(answer.status, answer.text).to.equal(503);
        expectOutcome(JSON.parse(answer.text), 'transient');
      }
      expect(orthanc.pid).to.equal(pid);
      expect(existsSync(`/proc/${pid}`)).to.equal(true);
      expect((await get(`${orthanc.url}/system`)).status).to.equal(200);
      expect(await echoscu(orthanc.dicomPort)).to.equal(true);
      expect(await recovered(orthanc), `round ${round}`).to.equal(true);
    }
    const log = orthanc.log();
    expect(log).to.contain('JavaScript heap near its limit (128 MiB, Fhir.HeapLimit): restarting the environment');
    expect(log).to.not.contain('Reached heap limit');
    // The fresh environment has the same limit.
    expect(await heapSizeLimit(orthanc)).to.be.at.least(128 * MiB).and.below(256 * MiB);
  });

  it('sets TCP_NODELAY=1 for DCMTK when the environment has no value', () => {
    expect(orthanc.log()).to.contain("TCP_NODELAY=1 set: DICOM associations send without Nagle's delay");
  });

  it('leaves TCP_NODELAY as the environment chose, and applies 1024 MiB by default', async () => {
    const chosen = await startWithNoDelay('0', { fhir: { Enable: true, Bundle: TEST_BUNDLE } });
    try {
      const log = chosen.log();
      expect(log).to.contain('TCP_NODELAY=0 left as the environment chose');
      expect(log).to.not.contain('TCP_NODELAY=1 set');
      expect(await heapSizeLimit(chosen)).to.be.at.least(1024 * MiB).and.below(1200 * MiB);
      expect(await echoscu(chosen.dicomPort)).to.equal(true);
    } finally {
      await chosen.dispose();
    }
  });

  for (const value of [10, 20000, 256.5, 'big']) {
    it(`refuses to start with "HeapLimit": ${JSON.stringify(value)}, naming Fhir.HeapLimit`, async () => {
      let error: Error | undefined;
      try {
        const refused = await Orthanc.start({ fhir: { Enable: true, HeapLimit: value } });
        await refused.dispose();
      } catch (caught) {
        error = caught as Error;
      }
      expect(error, 'Orthanc started').to.not.equal(undefined);
      expect(error!.message).to.contain('Orthanc exited').and.contain('Fhir.HeapLimit');
    });
  }
});
