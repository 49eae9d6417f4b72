// The search index against the real Orthanc: consistent at query time with
// Orthanc's own data (a study stored or deleted a moment ago), rebuilt with
// the same answers when it is deleted, built in the background on an Orthanc
// that already holds studies, and the RIS retry whose transaction resolves
// ifNoneExist before the other entries refer to the order.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { makeDicomFiles, newUid, storescu } from '../support/dicom';
import { Orthanc } from '../support/orthanc';
import { orderTransaction } from '../support/orders';

type Json = Record<string, any>;

async function get(url: string): Promise<{ status: number; body: Json }> {
  const response = await fetch(url, { headers: { accept: 'application/fhir+json' } });
  return { status: response.status, body: (await response.json()) as Json };
}

const ids = (bundle: Json) => ((bundle.entry ?? []) as Json[]).filter((e) => e.search?.mode !== 'include').map((e) => e.resource.id).sort();

function study(accession: string, patientId: string, modality = 'CT', date = '20240115') {
  const studyUid = newUid();
  return makeDicomFiles([1, 2].map((n) => ({
    patientId, patientName: `Index^${patientId}`, studyUid, studyDate: date, studyTime: '101530', accessionNumber: accession,
    seriesUid: newUid(), modality, sopInstanceUid: newUid(), instanceNumber: n, seriesNumber: n,
  })));
}

async function postInstance(orthanc: Orthanc, file: string): Promise<Json> {
  const response = await fetch(`${orthanc.url}/instances`, { method: 'POST', body: readFileSync(file) });
  expect(response.status).to.equal(200);
  return (await response.json()) as Json;
}

/** A searchset's entries, in a stable order: without _sort, the order of the rows is the index's own. */
const entries = (bundle: Json) => ((bundle.entry ?? []) as Json[]).map((e) => `${e.search?.mode}:${e.resource.resourceType}/${e.resource.id}`).sort();

/** Queries whose answers must not change when the index is rebuilt. */
const QUERIES = [
  'ImagingStudy?modality=CT', 'ImagingStudy?started=ge2024-01-01&_sort=-started', 'ImagingStudy?identifier=IDX-2',
  'Patient?name=index', 'Patient?identifier=IDX-P2', 'ServiceRequest?identifier=IDX-O1', 'Task?status=requested',
  'ServiceRequest?_revinclude=Task:based-on', 'Task?_include=Task:based-on&_sort=-_lastUpdated',
];

describe('the search index', function () {
  this.timeout(180000);
  let orthanc: Orthanc;

  before(async () => {
    orthanc = await Orthanc.start({ fhir: { Enable: true } });
  });
  after(async () => orthanc?.dispose());

  it('finds a study stored through /instances in the very next request, and not after DELETE /studies/{id}', async () => {
    for (let round = 0; round < 3; round++) {
      const accession = `IDX-NOW-${round}`;
      let stored: Json | undefined;
      for (const file of study(accession, `IDX-NOW-P${round}`)) stored = await postInstance(orthanc, file);
      const found = await get(`${orthanc.fhirUrl}/ImagingStudy?identifier=${accession}`);
      expect(found.status).to.equal(200);
      expect(ids(found.body), accession).to.deep.equal([stored!.ParentStudy]);
      expect(found.body.entry[0].resource.series).to.have.length(2);
      expect((await fetch(`${orthanc.url}/studies/${stored!.ParentStudy}`, { method: 'DELETE' })).status).to.equal(200);
      const gone = await get(`${orthanc.fhirUrl}/ImagingStudy?identifier=${accession}`);
      expect(ids(gone.body), `${accession} after its deletion`).to.deep.equal([]);
    }
  });

  it('finds a study sent with C-STORE in the very next request', async () => {
    storescu(orthanc.dicomPort, study('IDX-CSTORE', 'IDX-CSTORE-P'));
    const found = await get(`${orthanc.fhirUrl}/ImagingStudy?identifier=IDX-CSTORE`);
    expect(ids(found.body)).to.have.length(1);
    const patient = await get(`${orthanc.fhirUrl}/Patient?identifier=IDX-CSTORE-P`);
    expect(ids(patient.body)).to.have.length(1);
  });

  it('resolves a RIS retry: ifNoneExist matching the stored order maps the fullUrl, one ServiceRequest, one Task, basedOn reads', async () => {
    const send = async (bundle: Json) => {
      const response = await fetch(orthanc.fhirUrl, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(bundle) });
      return { status: response.status, body: (await response.json()) as Json };
    };
    const first = orderTransaction('IDX-RETRY', 'IDX-RETRY-1');
    // The retry: the same order, its creates made conditional, as a RIS resends when it missed the answer.
    const retry = structuredClone(first);
    retry.entry[0].request.ifNoneExist = 'identifier=IDX-RETRY';
    retry.entry[1].request.ifNoneExist = 'identifier=urn:oid:2.25.42|IDX-RETRY-1';
    const once = await send(first);
    expect(once.status).to.equal(200);
    const again = await send({ ...retry, entry: [retry.entry[0], retry.entry[1]] });
    expect(again.status).to.equal(200);
    expect(again.body.entry[1].response.status).to.match(/^200/);
    // A retry that also carries a new Task: it must refer to the existing order.
    const withTask = await send(retry);
    expect(withTask.status).to.equal(200);
    const orders = await get(`${orthanc.fhirUrl}/ServiceRequest?identifier=IDX-RETRY-1`);
    expect(ids(orders.body)).to.have.length(1);
    const orderId = ids(orders.body)[0];
    const tasks = await get(`${orthanc.fhirUrl}/Task?based-on=ServiceRequest/${orderId}`);
    expect(ids(tasks.body)).to.have.length(2); // the first transaction's and the retry's
    for (const entry of tasks.body.entry as Json[]) {
      const reference = entry.resource.basedOn[0].reference as string;
      expect(reference).to.equal(`ServiceRequest/${orderId}`);
      expect((await get(`${orthanc.fhirUrl}/${reference}`)).status).to.equal(200);
    }
    // Several matches are a 412, and nothing of that transaction is stored.
    const twin = orderTransaction('IDX-RETRY-2', 'IDX-RETRY-1');
    expect((await send(twin)).status).to.equal(200);
    const ambiguous = orderTransaction('IDX-RETRY-3', 'IDX-RETRY-1');
    ambiguous.entry[1].request.ifNoneExist = 'identifier=IDX-RETRY-1';
    const refused = await send(ambiguous);
    expect(refused.status).to.equal(412);
    expect(ids((await get(`${orthanc.fhirUrl}/Patient?identifier=IDX-RETRY-3`)).body)).to.deep.equal([]);
  });

  it('answers the same after its index is deleted and rebuilt at the next start', async () => {
    for (const [accession, patient, modality] of [['IDX-1', 'IDX-P1', 'CT'], ['IDX-2', 'IDX-P2', 'MR'], ['IDX-3', 'IDX-P2', 'CT']]) {
      storescu(orthanc.dicomPort, study(accession!, patient!, modality, '20240301'));
    }
    const bundle = orderTransaction('IDX-P1', 'IDX-O1');
    expect((await fetch(orthanc.fhirUrl, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(bundle) })).status).to.equal(200);
    const before = new Map<string, string[]>();
    for (const query of QUERIES) {
      const answer = await get(`${orthanc.fhirUrl}/${query}&_count=100`);
      expect(answer.status, query).to.equal(200);
      before.set(query, entries(answer.body));
      expect(before.get(query)!.length, query).to.be.greaterThan(0);
    }
    await orthanc.stop();
    // Debian's sqlite3 shell: the addon in node_modules is built for the embedded Node.
    const sqlite = (sql: string) => execFileSync('sqlite3', [join(orthanc.dir, 'db', 'orthanc-fhir.sqlite'), sql], { encoding: 'utf8' }).trim();
    expect(Number(sqlite('SELECT count(*) FROM sp_token'))).to.be.greaterThan(0);
    // What a user would do: drop the index tables (the plugin notices and rebuilds them).
    sqlite(['sp_resource', 'sp_token', 'sp_string', 'sp_date', 'sp_number', 'sp_ref', 'sp_sort'].map((t) => `DROP TABLE ${t};`).join(' ')
      + " DELETE FROM settings WHERE key = 'index-version';");
    await orthanc.restart();
    const rebuilt = () => orthanc.log().includes('imaging search index complete') && orthanc.log().includes('stored resources are indexed');
    const deadline = Date.now() + 60000;
    while (!rebuilt() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(orthanc.log()).to.contain('imaging search index complete').and.match(/search index: the \d+ stored resources are indexed/);
    for (const query of QUERIES) {
      const answer = await get(`${orthanc.fhirUrl}/${query}&_count=100`);
      expect(entries(answer.body), query).to.deep.equal(before.get(query));
    }
  });
});

describe('the imaging index of an Orthanc that already holds studies', function () {
  this.timeout(180000);
  let orthanc: Orthanc;
  after(async () => orthanc?.dispose());

  it('is built in the background with progress in the log, searches answering correctly before and after', async () => {
    orthanc = await Orthanc.start({ fhir: { Enable: false } });
    const files = Array.from({ length: 120 }, (_, i) => study(`PRE-${i}`, `PRE-P${i % 40}`, i % 10 === 0 ? 'MR' : 'CT')).flat();
    // storescu in a few associations: faster than one request per file.
    for (let i = 0; i < files.length; i += 60) storescu(orthanc.dicomPort, files.slice(i, i + 60));
    const expectedMr = 12;
    await orthanc.stop();
    const configuration = join(orthanc.dir, 'orthanc.json');
    const enabled = { ...JSON.parse(readFileSync(configuration, 'utf8')), Fhir: { Enable: true } };
    execFileSync('node', ['-e', `require('fs').writeFileSync(${JSON.stringify(configuration)}, ${JSON.stringify(JSON.stringify(enabled))})`]);
    orthanc = await Orthanc.start({ dir: orthanc.dir, ports: { http: orthanc.httpPort, dicom: orthanc.dicomPort }, fhir: { Enable: true } });
    // At once, while the build may still run: the answers are right either way.
    const early = await get(`${orthanc.fhirUrl}/ImagingStudy?modality=MR&_count=100`);
    expect(early.status).to.equal(200);
    expect(ids(early.body)).to.have.length(expectedMr);
    const deadline = Date.now() + 60000;
    while (!orthanc.log().includes('imaging search index complete') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(orthanc.log()).to.contain('building the imaging search index of 120 studies');
    expect(orthanc.log()).to.contain('imaging search index complete: 120 studies');
    const late = await get(`${orthanc.fhirUrl}/ImagingStudy?modality=MR&_count=100`);
    expect(ids(late.body)).to.deep.equal(ids(early.body));
    expect(ids((await get(`${orthanc.fhirUrl}/Patient?name=index&_count=100`)).body)).to.have.length(40);
  });
});
