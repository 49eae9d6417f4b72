// SMART on FHIR authorization end to end (issue #12): a test issuer signs
// tokens (its JWKS served over loopback HTTP, or as a file), the real
// Orthanc with the DICOMweb plugin checks them on /fhir and, through its
// incoming request filter, on DICOMweb and its own API; every access leaves
// an AuditEvent. Clients: fhir-kit-client and plain HTTP; modality: dcmtk.
import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBrowser } from '../support/browser';
import { makeDicomFiles, newUid, storescu } from '../support/dicom';
import { expectOutcome, failure, fhirClient } from '../support/fhir';
import { fhirProblems } from '../support/fhir-schema';
import { TestIssuer } from '../support/issuer';
import { DCM, patient, serviceRequest, task } from '../support/orders';
import { Orthanc } from '../support/orthanc';
import { POSTGRESQL_INDEX_PLUGIN, PostgresCluster } from '../support/postgres';
import { findWorklist } from '../support/worklist';
import { orthancPatientId } from '../../src/resources/patient-identity';

type Json = Record<string, any>;

const ISSUER = 'https://issuer.example.org';
const AUDIENCE = 'https://pacs.example.org/fhir';
const ADMIN_SCOPE = 'orthanc/admin';
const BASIC = `Basic ${Buffer.from('clerk:s3cret').toString('base64')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Imaging {
  patientId: string;
  studyUid: string;
  seriesUid: string;
  sopUid: string;
}

function suite(label: string, name: string, options: { jwks: 'url' | 'file'; postgres: boolean }) {
  describe(`authorization: SMART tokens for /fhir, DICOMweb and Orthanc (${label})`, function () {
    this.timeout(240000);
    let cluster: PostgresCluster | undefined;
    let issuer: TestIssuer;
    let orthanc: Orthanc;
    let admin: string;
    const imaging: Record<'A' | 'B', Imaging> = {
      A: { patientId: `AUTH-A-${name}`, studyUid: newUid(), seriesUid: newUid(), sopUid: newUid() },
      B: { patientId: `AUTH-B-${name}`, studyUid: newUid(), seriesUid: newUid(), sopUid: newUid() },
    };
    const id = (who: 'A' | 'B') => orthancPatientId(imaging[who].patientId);
    const started = new Date(Date.now() - 1000).toISOString();

    const http = (path: string, init: RequestInit & { token?: string } = {}) => {
      const headers = new Headers(init.headers);
      if (init.token) headers.set('authorization', `Bearer ${init.token}`);
      return fetch(`${orthanc.url}${path}`, { ...init, headers });
    };
    const token = (claims: Json, extra: Parameters<TestIssuer['token']>[1] = {}) => issuer.token({ sub: 'user-1', client_id: 'app-1', ...claims }, extra);

    before(async () => {
      issuer = await TestIssuer.create({ issuer: ISSUER, audience: AUDIENCE });
      let jwks: string;
      if (options.jwks === 'url') {
        jwks = await issuer.serve();
      } else {
        jwks = join(mkdtempSync(join(tmpdir(), 'orthanc-fhir-jwks-')), 'jwks.json');
        issuer.writeJwksFile(jwks);
      }
      let fhir: Json = {
        Enable: true,
        Worklist: { Enable: true },
        Authorization: { Enable: true, Issuer: ISSUER, Audience: AUDIENCE, Jwks: jwks, AdminScope: ADMIN_SCOPE,
          TokenEndpoint: `${ISSUER}/token`, AuthorizeEndpoint: `${ISSUER}/authorize` },
      };
      let extra: Json = { RegisteredUsers: { clerk: 's3cret' }, DicomAlwaysAllowFindWorklist: true, StableAge: 1 };
      if (options.postgres) {
        cluster = await PostgresCluster.start();
        fhir = { ...fhir, Store: 'PostgreSQL' };
        extra = { ...extra, PostgreSQL: cluster.orthancIndexConfig() };
      }
      orthanc = await Orthanc.start({ fhir, withDicomWeb: true, extra, ...(options.postgres ? { extraPlugins: [POSTGRESQL_INDEX_PLUGIN] } : {}) });
      admin = await token({ scope: `openid ${ADMIN_SCOPE}` });
      for (const who of ['A', 'B'] as const) {
        const spec = imaging[who];
        storescu(orthanc.dicomPort, makeDicomFiles([{
          patientId: spec.patientId, patientName: `Auth^${who}`, studyUid: spec.studyUid, seriesUid: spec.seriesUid,
          sopInstanceUid: spec.sopUid, modality: 'CT', studyDate: '20240101', accessionNumber: `ACC-${who}-${name}`,
        }]));
      }
      const client = fhirClient(orthanc.fhirUrl, admin) as any;
      for (let i = 0; i < 100; i++) {
        const found = await client.search({ resourceType: 'ImagingStudy', searchParams: { identifier: `urn:dicom:uid|urn:oid:${imaging.B.studyUid}` } });
        if (found.total === 1) break;
        await sleep(200);
      }
    });
    after(async () => {
      await orthanc?.dispose();
      await issuer?.close();
      await cluster?.dispose();
    });

    it('advertises SMART on FHIR without a token: smart-configuration and CapabilityStatement.rest.security', async () => {
      const discovery = await http('/fhir/.well-known/smart-configuration');
      expect(discovery.status).to.equal(200);
      const config = await discovery.json() as Json;
      expect(config).to.include({ issuer: ISSUER, token_endpoint: `${ISSUER}/token`, authorization_endpoint: `${ISSUER}/authorize` });
      expect(config.capabilities).to.include.members(['permission-v1', 'permission-v2', 'permission-patient', 'permission-user']);
      expect(config.code_challenge_methods_supported).to.deep.equal(['S256']);
      const client = fhirClient(orthanc.fhirUrl) as any;
      const statement = await client.capabilityStatement();
      expect(fhirProblems(statement)).to.deep.equal([]);
      expect(statement.rest[0].security.service[0].coding[0].code).to.equal('SMART-on-FHIR');
      const oauth = statement.rest[0].security.extension.find((e: Json) => e.url === 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris');
      expect(oauth.extension).to.deep.include.members([{ url: 'token', valueUri: `${ISSUER}/token` }, { url: 'authorize', valueUri: `${ISSUER}/authorize` }]);
      const r4 = await http('/fhir/R4/metadata');
      expect(r4.status).to.equal(200);
      const r4Statement = await r4.json() as Json;
      expect(r4Statement.fhirVersion).to.equal('4.0.1');
      expect(r4Statement.rest[0].security.service[0].coding[0].code).to.equal('SMART-on-FHIR');
      expect(r4Statement.rest[0].resource.map((r: Json) => r.type)).to.not.include('AuditEvent');
      expect((await http('/fhir/R4/.well-known/smart-configuration')).status).to.equal(200);
    });

    it('refuses every bad token with 401, WWW-Authenticate and an OperationOutcome, and audits each refusal', async () => {
      const claims = { sub: 'mallory', scope: 'user/*.rs' };
      const refusals: Array<[string, string | undefined]> = [
        ['none', undefined],
        ['bad-signature', await issuer.wrongKeyToken(claims)],
        ['alg-none', issuer.unsignedToken(claims)],
        ['hmac-public-key', issuer.hmacWithPublicKey(claims)],
        ['other-issuer', await issuer.token(claims, { issuer: 'https://evil.example.org' })],
        ['other-audience', await issuer.token(claims, { audience: 'https://other.example.org' })],
        ['expired', await issuer.token(claims, { expiresIn: -600 })],
        ['not-yet-valid', await issuer.token(claims, { notBefore: 600 })],
      ];
      for (const [label, bad] of refusals) {
        const response = await http(`/fhir/ImagingStudy?identifier=refusal-${label}`, bad ? { token: bad } : {});
        expect(response.status, label).to.equal(401);
        expect(response.headers.get('www-authenticate'), label).to.match(/^Bearer .*error="invalid_token"/);
        expectOutcome(await response.json(), 'login');
      }
      const client = fhirClient(orthanc.fhirUrl, admin) as any;
      let events: Json[] = [];
      for (let i = 0; i < 50; i++) {
        const bundle = await client.search({ resourceType: 'AuditEvent', searchParams: { outcome: '4', date: `ge${started}`, _count: '200' } });
        events = (bundle.entry ?? []).map((e: Json) => e.resource);
        if (refusals.every(([label]) => events.some((e) => JSON.stringify(e).includes(`refusal-${label}`)))) break;
        await sleep(200);
      }
      for (const [label] of refusals) {
        const event = events.find((e) => JSON.stringify(e).includes(`refusal-${label}`));
        expect(event, label).to.not.equal(undefined);
        expect(fhirProblems(event as { resourceType: string }), label).to.deep.equal([]);
        expect(event!.outcome.code.code).to.equal('4');
      }
    });

    it('keeps a patient-context token to its patient: searches, reads, $everything, writes', async () => {
      const admins = fhirClient(orthanc.fhirUrl, admin) as any;
      for (const who of ['A', 'B'] as const) {
        await admins.create({ resourceType: 'ServiceRequest', body: serviceRequest(`Patient/${id(who)}`, `SR-${who}-${name}`) });
      }
      const client = fhirClient(orthanc.fhirUrl, await token({ scope: 'launch/patient patient/*.rs', patient: id('A') })) as any;
      const studies = await client.search({ resourceType: 'ImagingStudy', searchParams: { _count: '100' } });
      expect(studies.entry.map((e: Json) => e.resource.subject.reference)).to.deep.equal([`Patient/${id('A')}`]);
      const patients = await client.search({ resourceType: 'Patient' });
      expect(patients.entry.map((e: Json) => e.resource.id)).to.deep.equal([id('A')]);
      const orders = await client.search({ resourceType: 'ServiceRequest', searchParams: { _include: 'ServiceRequest:patient' } });
      expect(new Set(orders.entry.map((e: Json) => JSON.stringify(e.resource.subject ?? e.resource.id)))).to.have.length.greaterThan(0);
      for (const entry of orders.entry as Json[]) {
        const resource = entry.resource;
        expect(resource.resourceType === 'Patient' ? resource.id : resource.subject.reference.split('/')[1]).to.equal(id('A'));
      }
      const otherStudy = (await admins.search({ resourceType: 'ImagingStudy', searchParams: { patient: id('B') } })).entry[0].resource;
      expect((await failure(client.read({ resourceType: 'ImagingStudy', id: otherStudy.id }))).status).to.equal(404);
      expect((await failure(client.read({ resourceType: 'Patient', id: id('B') }))).status).to.equal(404);
      expect((await failure(client.operation({ resourceType: 'Patient', id: id('B'), name: '$everything', method: 'GET' }))).status).to.equal(404);
      const everything = await client.operation({ resourceType: 'Patient', id: id('A'), name: '$everything', method: 'GET' });
      expect(everything.entry.length).to.be.greaterThan(1);
      for (const entry of everything.entry as Json[]) {
        const r = entry.resource;
        if (r.resourceType !== 'Endpoint') expect(JSON.stringify(r)).to.include(id('A'));
      }
      // The R4 view is the same router: narrowed alike.
      const r4 = fhirClient(`${orthanc.fhirUrl}/R4`, await token({ scope: 'patient/*.read', patient: id('A') })) as any;
      const r4Studies = await r4.search({ resourceType: 'ImagingStudy' });
      expect(r4Studies.entry.map((e: Json) => e.resource.subject.reference)).to.deep.equal([`Patient/${id('A')}`]);
      expect((await failure(r4.read({ resourceType: 'ImagingStudy', id: otherStudy.id }))).status).to.equal(404);
      const writer = fhirClient(orthanc.fhirUrl, await token({ scope: 'patient/*.cruds', patient: id('A') })) as any;
      const outside = await failure(writer.create({ resourceType: 'ServiceRequest', body: serviceRequest(`Patient/${id('B')}`, `SR-X-${name}`) }));
      expect(outside.status).to.equal(403);
      expectOutcome(outside.data, 'forbidden');
      expect((await writer.create({ resourceType: 'ServiceRequest', body: serviceRequest(`Patient/${id('A')}`, `SR-Y-${name}`) })).id).to.be.a('string');
    });

    it('serves the images to a patient-context token for its patient only (WADO-RS, QIDO-RS, WADO-URI)', async () => {
      const mine = await token({ scope: 'patient/ImagingStudy.rs', patient: id('A') });
      const { A, B } = imaging;
      const metadata = await http(`/dicom-web/studies/${A.studyUid}/metadata`, { token: mine });
      expect(metadata.status).to.equal(200);
      expect(JSON.stringify(await metadata.json())).to.include(A.sopUid);
      expect((await http(`/dicom-web/studies/${B.studyUid}/metadata`, { token: mine })).status).to.equal(403);
      expect((await http(`/dicom-web/studies/${B.studyUid}/series`, { token: mine })).status).to.equal(403);
      expect((await http(`/dicom-web/studies/${A.studyUid}/series/${B.seriesUid}/metadata`, { token: mine })).status).to.equal(403);
      expect((await http('/dicom-web/studies', { token: mine })).status).to.equal(403);
      expect((await http(`/dicom-web/studies?PatientID=${B.patientId}`, { token: mine })).status).to.equal(403);
      expect((await http('/dicom-web/studies?PatientID=AUTH-*', { token: mine })).status).to.equal(403);
      const qido = await http(`/dicom-web/studies?PatientID=${A.patientId}`, { token: mine });
      expect(qido.status).to.equal(200);
      expect((await qido.json() as Json[]).map((s) => s['0020000D'].Value[0])).to.deep.equal([A.studyUid]);
      const wado = (who: Imaging) => `/wado?requestType=WADO&studyUID=${who.studyUid}&seriesUID=${who.seriesUid}&objectUID=${who.sopUid}&contentType=application/dicom`;
      expect((await http(wado(A), { token: mine })).status).to.equal(200);
      expect((await http(wado(B), { token: mine })).status).to.equal(403);
      // B's instance named under A's study is still B's.
      expect((await http(`/wado?requestType=WADO&studyUID=${A.studyUid}&objectUID=${B.sopUid}`, { token: mine })).status).to.equal(403);
      // The DICOMweb plugin reads the last of a repeated key, and tags in every spelling: neither widens the search.
      expect((await http(`/wado?requestType=WADO&objectUID=${A.sopUid}&objectUID=${B.sopUid}&contentType=application/dicom`, { token: mine })).status).to.equal(403);
      for (const widened of [`PatientID=${A.patientId}&0010,0020=*`, `PatientID=${A.patientId}&0010-0020=`, `PatientID=${A.patientId}&00100020=${B.patientId}`,
        `StudyInstanceUID=${A.studyUid}&0020000d=${B.studyUid}`]) {
        expect((await http(`/dicom-web/studies?${widened}`, { token: mine })).status, widened).to.equal(403);
        expect((await http(`/dicom-web/instances?${widened}`, { token: mine })).status, widened).to.equal(403);
      }
      expect((await http(`/dicom-web/studies/${A.studyUid}/series?0020,000D=${B.studyUid}`, { token: mine })).status).to.equal(403);
      expect((await http(`/dicom-web/studies?StudyInstanceUID=${A.studyUid}&includefield=00100020`, { token: mine })).status).to.equal(200);
      // A GET that Orthanc would turn into a DELETE.
      expect((await http(`/dicom-web/studies/${A.studyUid}?_method=DELETE`, { token: admin })).status).to.equal(403);
      expect((await http(`/fhir/ServiceRequest/x?_method=DELETE`, { token: admin })).status).to.equal(403);
      expect((await http(`/dicom-web/studies/${A.studyUid}/metadata`)).status).to.equal(403);
      expect((await http(`/dicom-web/studies/${B.studyUid}/metadata`, { token: await token({ scope: 'user/ImagingStudy.rs' }) })).status).to.equal(200);
      expect((await http(`/dicom-web/studies/${B.studyUid}/metadata`, { token: await token({ scope: 'user/ServiceRequest.rs' }) })).status).to.equal(403);
    });

    it('checks scopes interaction by interaction, and refuses a transaction with one entry out of scope whole', async () => {
      const reader = fhirClient(orthanc.fhirUrl, await token({ scope: 'user/ServiceRequest.rs' })) as any;
      const refused = await failure(reader.create({ resourceType: 'ServiceRequest', body: serviceRequest(`Patient/${id('A')}`, `SR-R-${name}`) }));
      expect(refused.status).to.equal(403);
      expectOutcome(refused.data, 'forbidden');
      const creator = fhirClient(orthanc.fhirUrl, await token({ scope: 'user/ServiceRequest.c' })) as any;
      expect((await creator.create({ resourceType: 'ServiceRequest', body: serviceRequest(`Patient/${id('A')}`, `SR-C-${name}`) })).id).to.be.a('string');
      expect((await failure(creator.search({ resourceType: 'ServiceRequest' }))).status).to.equal(403);
      const orders = fhirClient(orthanc.fhirUrl, await token({ scope: 'user/ServiceRequest.cruds user/Patient.cruds' })) as any;
      const accession = `SR-T-${name}`;
      const bundle = {
        resourceType: 'Bundle', type: 'transaction',
        entry: [
          { fullUrl: 'urn:uuid:7f0b6a62-0d3a-4b8e-9d1e-000000000001', resource: serviceRequest(`Patient/${id('A')}`, accession), request: { method: 'POST', url: 'ServiceRequest' } },
          { resource: task('urn:uuid:7f0b6a62-0d3a-4b8e-9d1e-000000000001', `Patient/${id('A')}`), request: { method: 'POST', url: 'Task' } },
        ],
      };
      const whole = await failure(orders.transaction({ body: bundle }));
      expect(whole.status).to.equal(403);
      const admins = fhirClient(orthanc.fhirUrl, admin) as any;
      expect((await admins.search({ resourceType: 'ServiceRequest', searchParams: { identifier: accession } })).total).to.equal(0);
      const both = fhirClient(orthanc.fhirUrl, await token({ scope: 'system/ServiceRequest.cruds system/Task.cruds' })) as any;
      const done = await both.transaction({ body: bundle });
      expect(done.entry.map((e: Json) => e.response.status)).to.deep.equal(['201 Created', '201 Created']);
    });

    it('closes Orthanc\'s own API and Explorer to everybody but RegisteredUsers and the administrator scope', async () => {
      for (const path of ['/system', '/patients', '/app/explorer.html', '/tools/find']) {
        expect((await http(path)).status, path).to.equal(403);
      }
      expect((await http('/system', { headers: { authorization: BASIC } })).status).to.equal(200);
      expect((await http('/app/explorer.html', { headers: { authorization: BASIC } })).status).to.equal(200);
      expect((await http('/patients', { headers: { authorization: `Basic ${Buffer.from('clerk:wrong').toString('base64')}` } })).status).to.equal(403);
      expect((await http('/patients', { token: admin })).status).to.equal(200);
      expect((await http('/patients', { token: await token({ scope: 'user/*.cruds' }) })).status).to.equal(403);
      expect((await http('/fhir/.././system')).status).to.not.equal(200);
      // RegisteredUsers reach /fhir too, as Orthanc's administrators.
      expect((await http('/fhir/Patient', { headers: { authorization: BASIC } })).status).to.equal(200);
    });

    if (!options.postgres) {
      it('lets a person in a browser log in as a RegisteredUsers user at /fhir, which opens Orthanc Explorer too (Chromium)', async () => {
        const browser = await launchBrowser();
        try {
          const context = await browser.newContext({ httpCredentials: { username: 'clerk', password: 's3cret' } });
          const page = await context.newPage();
          const refused: string[] = [];
          page.on('response', (response) => { if (response.status() >= 400) refused.push(`${response.status()} ${response.url()}`); });
          // /fhir asks for Basic credentials (401); Chromium then sends them to the whole origin, which the filter checks.
          expect((await page.goto(`${orthanc.url}/fhir`))?.status()).to.equal(200);
          expect(await page.title()).to.match(/FHIR/);
          expect((await page.goto(`${orthanc.url}/app/explorer.html`))?.status()).to.equal(200);
          await page.waitForLoadState('networkidle');
          expect(refused).to.deep.equal([]);
          const anonymous = await (await browser.newContext()).newPage();
          const challenge = await anonymous.request.get(`${orthanc.url}/fhir`, { headers: { accept: 'text/html' } });
          expect(challenge.status()).to.equal(401);
          expect(challenge.headers()['www-authenticate']).to.match(/^Basic /);
        } finally {
          await browser.close();
        }
      });
    }

    it('keeps the audit trail searchable by agent, patient, entity, outcome and date, readable and writable by nobody else', async () => {
      const client = fhirClient(orthanc.fhirUrl, admin) as any;
      const reader = await token({ sub: 'auditor-probe', scope: 'patient/*.rs', patient: id('A') });
      expect((await http(`/fhir/Patient/${id('A')}`, { token: reader })).status).to.equal(200);
      expect((await http(`/dicom-web/studies/${imaging.A.studyUid}/metadata`, { token: reader })).status).to.equal(200);
      let byAgent: Json[] = [];
      for (let i = 0; i < 50 && byAgent.length < 2; i++) {
        const bundle = await client.search({ resourceType: 'AuditEvent', searchParams: { 'agent:identifier': `${ISSUER}|auditor-probe` } });
        byAgent = (bundle.entry ?? []).map((e: Json) => e.resource);
        if (byAgent.length < 2) await sleep(200);
      }
      expect(byAgent).to.have.length(2);
      for (const event of byAgent) expect(fhirProblems(event as { resourceType: string })).to.deep.equal([]);
      const ofPatient = await client.search({ resourceType: 'AuditEvent', searchParams: { patient: `Patient/${id('A')}`, 'agent:identifier': `${ISSUER}|auditor-probe` } });
      expect(ofPatient.total ?? ofPatient.entry.length).to.equal(2);
      const ofEntity = await client.search({ resourceType: 'AuditEvent', searchParams: { entity: `Patient/${id('A')}`, date: `ge${started}` } });
      expect(ofEntity.entry.length).to.be.greaterThan(0);
      const successes = await client.search({ resourceType: 'AuditEvent', searchParams: { outcome: '0', 'agent:identifier': `${ISSUER}|auditor-probe` } });
      expect(successes.entry.length).to.equal(2);
      const other = fhirClient(orthanc.fhirUrl, await token({ scope: 'system/*.cruds' })) as any;
      expect((await failure(other.search({ resourceType: 'AuditEvent' }))).status).to.equal(403);
      // A conditional entry of a transaction cannot probe the trail either.
      const probe = { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'AuditEvent' }, request: { method: 'POST', url: 'AuditEvent', ifNoneExist: 'outcome=4' } }] };
      expect((await failure(other.transaction({ body: probe }))).status).to.equal(403);
      const forged = await failure(client.create({ resourceType: 'AuditEvent', body: byAgent[0] }));
      expect(forged.status).to.equal(405);
    });

    it('keeps the audit trail across a restart of Orthanc', async () => {
      const count = async () => (await (fhirClient(orthanc.fhirUrl, admin) as any).search({ resourceType: 'AuditEvent', searchParams: { _summary: 'count' } })).total as number;
      const marker = `restart-${name}`;
      const before = await count();
      // The last request before the stop: its record waits in the trail's queue, written as Orthanc stops.
      expect((await http(`/fhir/Patient?identifier=${marker}`, { token: await token({ sub: marker, scope: ADMIN_SCOPE }) })).status).to.equal(200);
      await orthanc.stop();
      await orthanc.restart();
      const found = await (fhirClient(orthanc.fhirUrl, admin) as any).search({ resourceType: 'AuditEvent', searchParams: { 'agent:identifier': `${ISSUER}|${marker}` } });
      expect(found.entry?.length).to.equal(1);
      expect(JSON.stringify(found)).to.include(`identifier=${marker}`);
      expect(await count()).to.be.greaterThan(before);
    });

    it('keeps the worklist and the loop back from images to orders working', async () => {
      const ris = fhirClient(orthanc.fhirUrl, await token({ scope: 'system/Patient.cruds system/ServiceRequest.cruds system/Task.cruds' })) as any;
      const p = await ris.create({ resourceType: 'Patient', body: patient(`AUTH-WL-${name}`, 'Worklist', 'Wanda') });
      const accession = `WL-AUTH-${name}`.slice(0, 16);
      const request = await ris.create({ resourceType: 'ServiceRequest', body: serviceRequest(`Patient/${p.id}`, accession) });
      const t = await ris.create({ resourceType: 'Task', body: task(`ServiceRequest/${request.id}`, `Patient/${p.id}`, {
        requestedPeriod: { start: '2030-06-01T09:30:00Z' },
        owner: { type: 'Device', identifier: { system: 'urn:dicom:ae', value: 'CTAUTH' }, display: 'CTAUTH' },
        input: [{ type: { coding: [{ system: DCM, code: '121139' }] }, valueCodeableConcept: { coding: [{ system: DCM, code: 'CT' }] } }],
      }) });
      const [item] = findWorklist(orthanc.dicomPort, [`AccessionNumber=${accession}`, 'StudyInstanceUID', 'PatientID', 'PatientName']);
      expect(item).to.not.equal(undefined);
      storescu(orthanc.dicomPort, makeDicomFiles([{
        patientId: String(item!.PatientID), patientName: String(item!.PatientName), studyUid: String(item!.StudyInstanceUID),
        accessionNumber: accession, seriesUid: `${item!.StudyInstanceUID}.1`, modality: 'CT', sopInstanceUid: newUid(),
      }]));
      let current: Json = {};
      for (let i = 0; i < 80 && current.status !== 'completed'; i++) {
        current = await ris.read({ resourceType: 'Task', id: t.id });
        if (current.status !== 'completed') await sleep(250);
      }
      expect(current.status).to.equal('completed');
    });
  });
}

suite('SQLite, JWKS over HTTP', 'SQ', { jwks: 'url', postgres: false });
suite('PostgreSQL, JWKS file', 'PG', { jwks: 'file', postgres: true });
