// What the store promises: optimistic locking loses no update under 50
// concurrent writers, an acknowledged write survives kill -9 of Orthanc, and
// restarts (a real one, and /tools/reset) keep everything.
import { expect } from 'chai';
import { fhirProblems } from '../support/fhir-schema';
import { Orthanc } from '../support/orthanc';
import { patient, serviceRequest, task } from '../support/orders';

type Json = Record<string, any>;

async function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/fhir+json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, etag: response.headers.get('etag'), body: text ? (JSON.parse(text) as Json) : undefined };
}

describe('orders: concurrency and durability', function () {
  this.timeout(180000);
  let orthanc: Orthanc;
  let subject: string;

  before(async () => {
    orthanc = await Orthanc.start({ fhir: { Enable: true } });
    const created = await call('POST', `${orthanc.fhirUrl}/Patient`, patient('DUR-1'));
    subject = `Patient/${created.body!.id}`;
  });
  after(async () => orthanc?.dispose());

  it('lets one of 50 concurrent updates with the same If-Match win; the 49 others get 412', async () => {
    const created = await call('POST', `${orthanc.fhirUrl}/Task`, task('ServiceRequest/x', subject));
    const url = `${orthanc.fhirUrl}/Task/${created.body!.id}`;
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) =>
      call('PUT', url, { ...created.body, businessStatus: { text: `writer-${i}` } }, { 'if-match': 'W/"1"' })));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 200)).to.have.length(1);
    expect(statuses.filter((s) => s === 412)).to.have.length(49);
    const read = await call('GET', url);
    expect(read.body!.meta.versionId).to.equal('2');
  });

  it('loses no update when 50 writers retry on 412: every success is a new version', async () => {
    const created = await call('POST', `${orthanc.fhirUrl}/Task`, task('ServiceRequest/y', subject));
    const url = `${orthanc.fhirUrl}/Task/${created.body!.id}`;
    const versions = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      for (let attempt = 0; attempt < 500; attempt++) {
        const current = await call('GET', url);
        const answer = await call('PUT', url, { ...current.body, businessStatus: { text: `writer-${i}` } }, { 'if-match': current.etag! });
        if (answer.status === 200) return Number(answer.body!.meta.versionId);
        expect(answer.status).to.equal(412);
      }
      throw new Error(`writer ${i} never succeeded`);
    }));
    expect(new Set(versions).size).to.equal(50);
    expect(Math.max(...versions)).to.equal(51);
    const history = await call('GET', `${url}/_history?_count=100`);
    expect(history.body!.total).to.equal(51);
    const writers = history.body!.entry.map((e: Json) => e.resource.businessStatus?.text).filter(Boolean).sort();
    expect(writers).to.deep.equal(Array.from({ length: 50 }, (_, i) => `writer-${i}`).sort());
  });

  it('keeps every acknowledged create through kill -9 of Orthanc, with nothing half-written', async () => {
    const acknowledged = new Map<string, Json>();
    let stop = false;
    let sent = 0;
    const writers = Array.from({ length: 8 }, async (_, w) => {
      while (!stop) {
        const n = sent++;
        try {
          const answer = await call('POST', `${orthanc.fhirUrl}/ServiceRequest`, serviceRequest(subject, `K-${w}-${n}`));
          if (answer.status === 201) acknowledged.set(answer.body!.id, answer.body!);
        } catch {
          return; // the connection died with Orthanc
        }
      }
    });
    await new Promise((r) => setTimeout(r, 1500));
    const exit = await orthanc.stop('SIGKILL');
    stop = true;
    await Promise.all(writers);
    expect(exit.signal).to.equal('SIGKILL');
    expect(acknowledged.size).to.be.greaterThan(20);

    await orthanc.restart();
    for (const [id, body] of acknowledged) {
      const read = await call('GET', `${orthanc.fhirUrl}/ServiceRequest/${id}`);
      expect(read.status, id).to.equal(200);
      expect(read.body).to.deep.equal(body);
    }
    // Every stored ServiceRequest, page by page (MaxCount caps a page at 1000).
    const stored: Json[] = [];
    let next: string | undefined = `${orthanc.fhirUrl}/ServiceRequest?_count=1000`;
    while (next) {
      const page: Json = (await call('GET', next)).body!;
      stored.push(...(page.entry ?? []).map((e: Json) => e.resource));
      next = page.link.find((l: Json) => l.relation === 'next')?.url;
    }
    const burst = stored.filter((r: Json) => /^K-\d+-\d+$/.test(r.identifier[0].value));
    expect(burst.length).to.be.at.least(acknowledged.size).and.at.most(sent);
    for (const resource of burst) expect(fhirProblems(resource as { resourceType: string }), resource.id).to.deep.equal([]);
  });

  it('keeps everything through a restart and through /tools/reset', async () => {
    const before = await call('GET', `${orthanc.fhirUrl}/ServiceRequest?_count=1000&_sort=_lastUpdated`);
    const tasks = await call('GET', `${orthanc.fhirUrl}/Task/_history?_count=1000`);
    await orthanc.restart();
    expect(await call('GET', `${orthanc.fhirUrl}/ServiceRequest?_count=1000&_sort=_lastUpdated`)).to.deep.include({ status: 200 });
    const afterRestart = await call('GET', `${orthanc.fhirUrl}/ServiceRequest?_count=1000&_sort=_lastUpdated`);
    expect(afterRestart.body!.entry).to.deep.equal(before.body!.entry);
    const reset = await fetch(`${orthanc.url}/tools/reset`, { method: 'POST' });
    expect(reset.status).to.equal(200);
    await new Promise((r) => setTimeout(r, 500));
    await orthanc.waitReady();
    const afterReset = await call('GET', `${orthanc.fhirUrl}/ServiceRequest?_count=1000&_sort=_lastUpdated`);
    expect(afterReset.body!.entry).to.deep.equal(before.body!.entry);
    const tasksAfter = await call('GET', `${orthanc.fhirUrl}/Task/_history?_count=1000`);
    expect(tasksAfter.body!.entry).to.deep.equal(tasks.body!.entry);
  });
});
