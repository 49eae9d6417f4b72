// The searches and operations EHRs send (issue #11), through fhir-kit-client
// against the real Orthanc with real DICOM: chains, _has, _lastUpdated,
// _summary, _elements, _include:iterate, Patient/$everything, $versions,
// and conditional update and delete with the rules of http.html.
import { expect } from 'chai';
import { makeDicomFiles, newUid, storescu } from '../support/dicom';
import { expectOutcome, failure, fhirClient } from '../support/fhir';
import { Orthanc } from '../support/orthanc';
import { POSTGRESQL_INDEX_PLUGIN, PostgresCluster } from '../support/postgres';
import { serviceRequest, task } from '../support/orders';

type Json = Record<string, any>;

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

interface StudySpec { patientId: string; family: string; birthDate: string; modality: string; accession?: string }

const STUDIES: StudySpec[] = [
  { patientId: 'SF-1', family: 'Alpha', birthDate: '19800101', modality: 'CT' },
  { patientId: 'SF-1', family: 'Alpha', birthDate: '19800101', modality: 'MR' },
  { patientId: 'SF-2', family: 'Beta', birthDate: '19900101', modality: 'MR' },
  { patientId: 'SF-3', family: 'Gamma', birthDate: '19700101', modality: 'CT', accession: 'SF-ACC-3' },
];

const ids = (bundle: Json) => (bundle.entry ?? []).filter((e: Json) => e.search?.mode === 'match').map((e: Json) => e.resource.id as string).sort();
const included = (bundle: Json) => (bundle.entry ?? []).filter((e: Json) => e.search?.mode === 'include').map((e: Json) => `${e.resource.resourceType}/${e.resource.id}`).sort();

interface Launched { orthanc: Orthanc; dispose(): Promise<void> }

function featuresSuite(title: string, launch: (fhir: Json, extra: Json) => Promise<Launched>): void {
  describe(title, function () {
    this.timeout(180000);
    let launched: Launched | undefined;
    let orthanc: Orthanc;
    const client = () => fhirClient(orthanc.fhirUrl) as any;
    const search = (resourceType: string, searchParams: Record<string, string | string[]>) => client().search({ resourceType, searchParams }) as Promise<Json>;
    const patients = new Map<string, string>(); // PatientID -> Patient.id
    const studiesOf = new Map<string, string[]>(); // PatientID -> ImagingStudy ids
    const orders: Json[] = [];
    const tasks: Json[] = [];
    let startedAt: string;

    before(async () => {
      startedAt = new Date(Date.now() - 1000).toISOString();
      launched = await launch({ Enable: true }, { StableAge: 1 });
      orthanc = launched.orthanc;
      storescu(orthanc.dicomPort, makeDicomFiles(STUDIES.map((s) => {
        const studyUid = newUid();
        return {
          patientId: s.patientId, patientName: `${s.family}^Ann`, birthDate: s.birthDate, sex: 'F', studyUid, studyDate: '20240101', accessionNumber: s.accession,
          seriesUid: `${studyUid}.1`, seriesNumber: 1, modality: s.modality, sopInstanceUid: newUid(), instanceNumber: 1,
        };
      })));
      // The imaging index follows Orthanc's change log: wait until it has every study.
      for (let i = 0; i < 80; i++) {
        const found = await search('ImagingStudy', { _count: '50' });
        if ((found.entry ?? []).length === STUDIES.length && (await search('ImagingStudy', { modality: 'MR' })).entry?.length === 2) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      for (const patientId of ['SF-1', 'SF-2', 'SF-3']) {
        const found = await search('Patient', { identifier: patientId });
        patients.set(patientId, found.entry[0].resource.id);
        studiesOf.set(patientId, ids(await search('ImagingStudy', { patient: `Patient/${found.entry[0].resource.id}` })));
      }
      // One order per patient of SF-1 and SF-2; SF-1's Task is requested, SF-2's completed.
      for (const [patientId, status] of [['SF-1', 'requested'], ['SF-2', 'completed']] as const) {
        const order = await client().create({ resourceType: 'ServiceRequest', body: serviceRequest(`Patient/${patients.get(patientId)}`, `SFA-${patientId}`) });
        orders.push(order);
        tasks.push(await client().create({
          resourceType: 'Task',
          body: task(`ServiceRequest/${order.id}`, `Patient/${patients.get(patientId)}`, { status, identifier: [{ system: 'urn:ris:task', value: `T-${patientId}` }] }),
        }));
      }
    });
    after(async () => launched?.dispose());

    it('holds the dataset: four studies of three patients', () => {
      expect([...studiesOf.values()].map((s) => s.length)).to.deep.equal([2, 1, 1]);
    });

    it('chains a reference to the Patient: identifier, typed name, birthdate', async () => {
      expect(ids(await search('ImagingStudy', { 'patient.identifier': 'SF-1' }))).to.deep.equal(studiesOf.get('SF-1'));
      expect(ids(await search('ImagingStudy', { 'subject:Patient.name': 'alpha' }))).to.deep.equal(studiesOf.get('SF-1'));
      expect(ids(await search('ImagingStudy', { 'patient.birthdate': 'ge1985' }))).to.deep.equal(studiesOf.get('SF-2'));
      expect(ids(await search('ImagingStudy', { 'patient.identifier': 'nobody' }))).to.deep.equal([]);
      // A chain combines with the type's own parameters.
      const mr = ids(await search('ImagingStudy', { 'patient.identifier': 'SF-1', modality: 'MR' }));
      expect(mr).to.have.length(1);
      expect(studiesOf.get('SF-1')).to.include(mr[0]);
    });

    it('chains from the orders: one level to the order or the patient, two levels through the order to its patient', async () => {
      const [order1, order2] = orders;
      expect(ids(await search('Task', { 'based-on:ServiceRequest.identifier': 'SFA-SF-1' }))).to.deep.equal([tasks[0]!.id]);
      expect(ids(await search('ServiceRequest', { 'patient.birthdate': 'lt1985' }))).to.deep.equal([order1!.id]);
      expect(ids(await search('Task', { 'based-on:ServiceRequest.patient.family': 'beta' }))).to.deep.equal([tasks[1]!.id]);
      expect(ids(await search('Task', { 'based-on.patient.identifier': 'SF-2' }))).to.deep.equal([tasks[1]!.id]);
      expect(ids(await search('ServiceRequest', { 'subject:Patient.identifier': 'SF-2' }))).to.deep.equal([order2!.id]);
    });

    it('follows ImagingStudy.based-on in chains and _has at once when the order is written after the study', async () => {
      // The study of SF-ACC-3 is indexed already; its order comes now: the write re-indexes the study before it answers.
      const order = (await client().create({ resourceType: 'ServiceRequest', body: serviceRequest(`Patient/${patients.get('SF-3')}`, 'SF-ACC-3') })) as Json;
      expect(ids(await search('ImagingStudy', { 'based-on.identifier': 'SF-ACC-3' }))).to.deep.equal(studiesOf.get('SF-3'));
      expect(ids(await search('ServiceRequest', { '_has:ImagingStudy:based-on:modality': 'CT' }))).to.deep.equal([order.id]);
      // Deleted, the order leaves the study's index too.
      await client().delete({ resourceType: 'ServiceRequest', id: order.id });
      expect(ids(await search('ImagingStudy', { 'based-on.identifier': 'SF-ACC-3' }))).to.deep.equal([]);
      // What stays is the logical reference by accession number (no order of this server has it).
      expect(ids(await search('ImagingStudy', { 'based-on:identifier': 'SF-ACC-3' }))).to.deep.equal(studiesOf.get('SF-3'));
      expect(ids(await search('ServiceRequest', { '_has:ImagingStudy:based-on:modality': 'CT' }))).to.deep.equal([]);
    });

    it('refuses chains it cannot follow with a 400 OperationOutcome', async () => {
      for (const name of ['modality.code', 'patient.shoe-size', 'subject:Endpoint.name']) {
        const refused = await failure(search('ImagingStudy', { [name]: 'x' }));
        expect(refused.status, name).to.equal(400);
        expectOutcome(refused.data);
      }
    });

    it('reverse-chains with _has: patients by their studies, orders by their Tasks', async () => {
      const p = (...patientIds: string[]) => patientIds.map((id) => patients.get(id)!).sort();
      expect(ids(await search('Patient', { '_has:ImagingStudy:patient:modality': 'MR' }))).to.deep.equal(p('SF-1', 'SF-2'));
      expect(ids(await search('Patient', { '_has:ImagingStudy:patient:modality': 'CT' }))).to.deep.equal(p('SF-1', 'SF-3'));
      expect(ids(await search('Patient', { '_has:ImagingStudy:patient:modality': 'US' }))).to.deep.equal([]);
      expect(ids(await search('ServiceRequest', { '_has:Task:based-on:status': 'requested' }))).to.deep.equal([orders[0]!.id]);
      // Nested: patients with an order whose Task is completed.
      expect(ids(await search('Patient', { '_has:ServiceRequest:patient:_has:Task:based-on:status': 'completed' }))).to.deep.equal(p('SF-2'));
      // Beside a narrower filter, a chain or _has is checked row by row (a correlated join): the same answers.
      expect(ids(await search('Patient', { _id: patients.get('SF-1')!, '_has:ImagingStudy:patient:modality': 'MR' }))).to.deep.equal(p('SF-1'));
      expect(ids(await search('Patient', { _id: patients.get('SF-3')!, '_has:ImagingStudy:patient:modality': 'MR' }))).to.deep.equal([]);
      expect(ids(await search('Patient', { _id: `${patients.get('SF-1')},${patients.get('SF-2')}`, '_has:ServiceRequest:patient:_has:Task:based-on:status': 'completed' })))
        .to.deep.equal(p('SF-2'));
      const mr = studiesOf.get('SF-2')![0]!;
      expect(ids(await search('ImagingStudy', { _id: mr, 'patient.identifier': 'SF-2' }))).to.deep.equal([mr]);
      expect(ids(await search('ImagingStudy', { _id: mr, 'patient.identifier': 'SF-1' }))).to.deep.equal([]);
      expect(ids(await search('Task', { _id: tasks[1]!.id, 'based-on.patient.family': 'beta' }))).to.deep.equal([tasks[1]!.id]);
      expect(ids(await search('Task', { _id: tasks[1]!.id, 'based-on.patient.family': 'alpha' }))).to.deep.equal([]);
      const refused = await failure(search('Patient', { '_has:ImagingStudy:endpoint:modality': 'MR' }));
      expect(refused.status).to.equal(400);
    });

    it('searches _lastUpdated on every type, imaging ones by Orthanc\'s own update time', async () => {
      const future = new Date(Date.now() + 3600_000).toISOString();
      for (const type of ['Patient', 'ImagingStudy', 'ServiceRequest', 'Task', 'Endpoint']) {
        const recent = await search(type, { _lastUpdated: `ge${startedAt.slice(0, 19)}Z`, _count: '50' });
        expect(ids(recent).length, type).to.be.greaterThan(0);
        expect(ids(await search(type, { _lastUpdated: `gt${future}` })), type).to.deep.equal([]);
        expect(ids(await search(type, { _lastUpdated: 'lt2000-01-01' })), type).to.deep.equal([]);
      }
      const study = await client().read({ resourceType: 'ImagingStudy', id: studiesOf.get('SF-2')![0] });
      const at = study.meta.lastUpdated as string;
      expect(ids(await search('ImagingStudy', { _lastUpdated: at, 'patient.identifier': 'SF-2' }))).to.deep.equal(studiesOf.get('SF-2'));
    });

    it('_summary true, text, data and count, and _elements, keep the mandatory elements and tag SUBSETTED', async () => {
      const summary = await search('ImagingStudy', { 'patient.identifier': 'SF-3', _summary: 'true' });
      const study = summary.entry[0].resource;
      expect(study.meta.tag).to.deep.include(SUBSETTED);
      expect(study).to.include.keys('status', 'subject', 'series', 'modality');
      expect(study).not.to.have.property('text');
      const text = (await search('ServiceRequest', { _id: orders[0]!.id, _summary: 'text' })).entry[0].resource;
      // ServiceRequest's mandatory elements: status, intent, subject; and the text, its generated narrative.
      expect(Object.keys(text).sort()).to.deep.equal(['id', 'intent', 'meta', 'resourceType', 'status', 'subject', 'text']);
      expect(text.text.status).to.equal('generated');
      const elements = (await search('Task', { _id: tasks[0]!.id, _elements: 'owner' })).entry[0].resource;
      expect(Object.keys(elements).sort()).to.deep.equal(['id', 'intent', 'meta', 'owner', 'resourceType', 'status']);
      expect(elements.meta.tag).to.deep.include(SUBSETTED);
      const count = await search('ImagingStudy', { _summary: 'count' });
      expect(count.total).to.equal(STUDIES.length);
      expect(count).not.to.have.property('entry');
      const whole = (await search('Task', { _id: tasks[0]!.id, _summary: 'false' })).entry[0].resource;
      expect(whole.meta.tag ?? []).not.to.deep.include(SUBSETTED);
      expect((await failure(search('Task', { _summary: 'maybe' }))).status).to.equal(400);
      // A read takes _summary and _elements too.
      const read = (await (await fetch(`${orthanc.fhirUrl}/ServiceRequest/${orders[0]!.id}?_elements=code`)).json()) as Json;
      expect(Object.keys(read).sort()).to.deep.equal(['code', 'id', 'intent', 'meta', 'resourceType', 'status', 'subject']);
      expect(read.meta.tag).to.deep.include(SUBSETTED);
      expect((await fetch(`${orthanc.fhirUrl}/ServiceRequest/${orders[0]!.id}?_summary=count`)).status).to.equal(400);
    });

    it('includes every declared reference, :iterate through what was included, and reverse-includes', async () => {
      const chain = await search('Task', { _id: tasks[0]!.id, _include: 'Task:based-on', '_include:iterate': 'ServiceRequest:subject' });
      expect(included(chain)).to.deep.equal([`Patient/${patients.get('SF-1')}`, `ServiceRequest/${orders[0]!.id}`].sort());
      const notIterated = await search('Task', { _id: tasks[0]!.id, _include: 'Task:based-on' });
      expect(included(notIterated)).to.deep.equal([`ServiceRequest/${orders[0]!.id}`]);
      const reverse = await search('Patient', { _id: patients.get('SF-1')!, _revinclude: ['ImagingStudy:patient', 'Task:patient'] });
      expect(included(reverse)).to.deep.equal([...studiesOf.get('SF-1')!.map((id) => `ImagingStudy/${id}`), `Task/${tasks[0]!.id}`].sort());
      const endpoint = await search('ImagingStudy', { 'patient.identifier': 'SF-2', _include: 'ImagingStudy:endpoint' });
      expect(included(endpoint)).to.deep.equal(['Endpoint/dicomweb']);
      const iterateRev = await search('Patient', { _id: patients.get('SF-2')!, _revinclude: 'ServiceRequest:subject', '_revinclude:iterate': 'Task:based-on' });
      expect(included(iterateRev)).to.deep.equal([`ServiceRequest/${orders[1]!.id}`, `Task/${tasks[1]!.id}`].sort());
      // Another type's reference without :iterate is not this search's to follow.
      expect((await failure(search('Task', { _include: 'ServiceRequest:subject' }))).status).to.equal(400);
    });

    it('Patient/$everything: the Patient, its studies, orders, Tasks and the Endpoint, paged, by _type and _since', async () => {
      const id = patients.get('SF-1')!;
      const expected = [`Patient/${id}`, ...studiesOf.get('SF-1')!.map((s) => `ImagingStudy/${s}`), `ServiceRequest/${orders[0]!.id}`,
        `Task/${tasks[0]!.id}`, 'Endpoint/dicomweb'].sort();
      const everything = (await client().operation({ name: 'everything', resourceType: 'Patient', id, method: 'GET' })) as Json;
      expect(everything.type).to.equal('searchset');
      expect(everything.total).to.equal(expected.length);
      const keys = (bundle: Json) => (bundle.entry ?? []).map((e: Json) => `${e.resource.resourceType}/${e.resource.id}`);
      expect(keys(everything).sort()).to.deep.equal(expected);
      expect(keys(everything)[0]).to.equal(`Patient/${id}`);
      // Paging with _count=2: every resource once, following the next links.
      const paged: string[] = [];
      let url: string | undefined = `${orthanc.fhirUrl}/Patient/${id}/$everything?_count=2`;
      while (url) {
        const page = (await (await fetch(url)).json()) as Json;
        expect((page.entry ?? []).length).to.be.at.most(2);
        paged.push(...keys(page));
        url = page.link.find((l: Json) => l.relation === 'next')?.url;
      }
      expect(paged.sort()).to.deep.equal(expected);
      const typed = (await (await fetch(`${orthanc.fhirUrl}/Patient/${id}/$everything?_type=ImagingStudy,Task`)).json()) as Json;
      expect(keys(typed).sort()).to.deep.equal([...studiesOf.get('SF-1')!.map((s) => `ImagingStudy/${s}`), `Task/${tasks[0]!.id}`].sort());
      const future = new Date(Date.now() + 3600_000).toISOString();
      const since = (await (await fetch(`${orthanc.fhirUrl}/Patient/${id}/$everything?_since=${encodeURIComponent(future)}`)).json()) as Json;
      expect(since.total).to.equal(0);
      const unknown = await fetch(`${orthanc.fhirUrl}/Patient/no-such-patient/$everything`);
      expect(unknown.status).to.equal(404);
      expectOutcome(await unknown.json());
      const bad = await fetch(`${orthanc.fhirUrl}/Patient/${id}/$everything?_type=Observation`);
      expect(bad.status).to.equal(400);
    });

    it('$versions lists 4.0 and 5.0, default 5.0; the CapabilityStatement declares what is served', async () => {
      const versions = (await (await fetch(`${orthanc.fhirUrl}/$versions`)).json()) as Json;
      expect(versions.parameter).to.deep.equal([
        { name: 'version', valueCode: '4.0' }, { name: 'version', valueCode: '5.0' }, { name: 'default', valueCode: '5.0' },
      ]);
      const metadata = (await client().capabilityStatement()) as Json;
      const byType = new Map<string, Json>(metadata.rest[0].resource.map((r: Json) => [r.type, r]));
      for (const type of ['Patient', 'ImagingStudy', 'ServiceRequest', 'Task', 'Endpoint']) {
        expect(byType.get(type)!.searchParam.map((p: Json) => p.name), type).to.include('_lastUpdated');
      }
      expect(byType.get('Patient')!.searchRevInclude).to.include.members(['ImagingStudy:patient', 'ImagingStudy:subject', 'Task:patient', 'ServiceRequest:subject']);
      expect(byType.get('Task')!.searchInclude).to.include.members(['Task:based-on', 'Task:focus', 'Task:patient']);
      expect(byType.get('ImagingStudy')!.searchInclude).to.include.members(['ImagingStudy:based-on', 'ImagingStudy:endpoint']);
      expect(byType.get('Patient')!.operation).to.deep.include({ name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything',
        documentation: byType.get('Patient')!.operation[0].documentation });
      expect(byType.get('ServiceRequest')).to.include({ conditionalUpdate: true, conditionalDelete: 'single' });
      expect(metadata.rest[0].operation.map((o: Json) => o.name)).to.include('versions');
    });

    describe('conditional update and delete (http.html), as Bundle entries', () => {
      // Orthanc 1.10.1 does not hand the query string of a PUT or DELETE to
      // plugins, so a conditional update or delete goes in a batch or
      // transaction Bundle, where each entry carries its URL whole.
      const batch = async (...entries: Json[]) => {
        const answer = (await client().batch({ body: { resourceType: 'Bundle', type: 'batch', entry: entries } })) as Json;
        return answer.entry.map((e: Json) => ({ status: Number(String(e.response.status).split(' ')[0]), resource: e.resource, outcome: e.response.outcome }));
      };
      const put = (query: string, resource: Json) => ({ resource, request: { method: 'PUT', url: `ServiceRequest?${query}` } });

      it('a PUT or DELETE of a type straight over HTTP says why it cannot be conditional here', async () => {
        const direct = await fetch(`${orthanc.fhirUrl}/ServiceRequest?identifier=X`, {
          method: 'PUT', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(serviceRequest('Patient/x', 'X')),
        });
        expect(direct.status).to.equal(400);
        expect(JSON.stringify(await direct.json())).to.match(/batch or transaction Bundle/);
        expect((await fetch(`${orthanc.fhirUrl}/Task?identifier=X`, { method: 'DELETE' })).status).to.equal(400);
      });

      it('no match: creates (201); one match: updates it (200, next version); the body may repeat its id', async () => {
        const body = serviceRequest(`Patient/${patients.get('SF-3')}`, 'COND-1');
        const [created] = await batch(put('identifier=urn:oid:2.25.42|COND-1', body));
        expect(created.status).to.equal(201);
        const [updated] = await batch(put('identifier=urn:oid:2.25.42|COND-1', { ...body, status: 'on-hold' }));
        expect(updated.status).to.equal(200);
        expect(updated.resource.id).to.equal(created.resource.id);
        expect(updated.resource.meta.versionId).to.equal('2');
        const [again] = await batch(put('identifier=urn:oid:2.25.42|COND-1', { ...body, id: created.resource.id, status: 'active' }));
        expect(again.status).to.equal(200);
        expect(((await client().read({ resourceType: 'ServiceRequest', id: created.resource.id })) as Json).status).to.equal('active');
      });

      it('refuses: several matches 412, another id than the match 400, no match with the id of another resource 409; nothing written', async () => {
        const patientRef = `Patient/${patients.get('SF-3')}`;
        await client().create({ resourceType: 'ServiceRequest', body: serviceRequest(patientRef, 'COND-TWICE') });
        await client().create({ resourceType: 'ServiceRequest', body: serviceRequest(patientRef, 'COND-TWICE') });
        const one = (await client().create({ resourceType: 'ServiceRequest', body: serviceRequest(patientRef, 'COND-ONE') })) as Json;
        const answers = await batch(
          put('identifier=COND-TWICE', serviceRequest(patientRef, 'COND-TWICE', { status: 'revoked' })),
          put('identifier=COND-ONE', { ...serviceRequest(patientRef, 'COND-ONE'), id: orders[0]!.id }),
          put('identifier=COND-NONE', { ...serviceRequest(patientRef, 'COND-NONE'), id: one.id }),
        );
        expect(answers.map((a: Json) => a.status)).to.deep.equal([412, 400, 409]);
        for (const answer of answers) expectOutcome(answer.outcome);
        expect(ids(await search('ServiceRequest', { identifier: 'COND-TWICE', status: 'revoked' }))).to.deep.equal([]);
        expect(((await client().read({ resourceType: 'ServiceRequest', id: one.id })) as Json).meta.versionId).to.equal('1');
        expect(((await client().read({ resourceType: 'ServiceRequest', id: orders[0]!.id })) as Json).meta.versionId).to.equal('1');
        expect(ids(await search('ServiceRequest', { identifier: 'COND-NONE' }))).to.deep.equal([]);
      });

      it('deletes the one match (204, then 410), nothing when none matches, 412 when several do', async () => {
        const patientRef = `Patient/${patients.get('SF-3')}`;
        const order = (await client().create({ resourceType: 'ServiceRequest', body: serviceRequest(patientRef, 'COND-DEL') })) as Json;
        const t = (await client().create({ resourceType: 'Task', body: task(`ServiceRequest/${order.id}`, patientRef, { identifier: [{ system: 'urn:ris:task', value: 'DEL-1' }] }) })) as Json;
        for (let i = 0; i < 2; i++) {
          await client().create({ resourceType: 'Task', body: task(`ServiceRequest/${order.id}`, patientRef, { identifier: [{ system: 'urn:ris:task', value: 'DEL-2' }] }) });
        }
        const del = (query: string) => ({ request: { method: 'DELETE', url: `Task?${query}` } });
        const answers = await batch(del('identifier=urn:ris:task|DEL-1'), del('identifier=urn:ris:task|DEL-1'), del('identifier=urn:ris:task|DEL-2'));
        expect(answers.map((a: Json) => a.status)).to.deep.equal([204, 204, 412]);
        expect((await failure(client().read({ resourceType: 'Task', id: t.id }))).status).to.equal(410);
        expect(ids(await search('Task', { identifier: 'urn:ris:task|DEL-2' }))).to.have.length(2);
      });

      it('in a transaction: a conditional update is resolved first, so that other entries refer to it', async () => {
        const patientRef = `Patient/${patients.get('SF-3')}`;
        const existing = (await client().create({ resourceType: 'ServiceRequest', body: serviceRequest(patientRef, 'COND-TX') })) as Json;
        const fullUrl = 'urn:uuid:6c1c3a9e-8f0e-4b8e-9d5e-0a4b6f1d2c3e';
        const answer = (await client().transaction({ body: {
          resourceType: 'Bundle', type: 'transaction', entry: [
            { fullUrl, resource: { ...serviceRequest(patientRef, 'COND-TX'), status: 'on-hold' }, request: { method: 'PUT', url: 'ServiceRequest?identifier=COND-TX' } },
            { resource: task(fullUrl, patientRef, { identifier: [{ system: 'urn:ris:task', value: 'TX-1' }] }), request: { method: 'POST', url: 'Task' } },
            { request: { method: 'DELETE', url: 'Task?identifier=urn:ris:task|NOTHING' } },
          ],
        } })) as Json;
        expect(answer.entry.map((e: Json) => e.response.status)).to.deep.equal(['200 OK', '201 Created', '204 No Content']);
        expect(answer.entry[0].resource.id).to.equal(existing.id);
        expect(answer.entry[1].resource.basedOn).to.deep.equal([{ reference: `ServiceRequest/${existing.id}` }]);
        // Refused whole when the condition matches several.
        await client().create({ resourceType: 'ServiceRequest', body: serviceRequest(patientRef, 'COND-TX2') });
        await client().create({ resourceType: 'ServiceRequest', body: serviceRequest(patientRef, 'COND-TX2') });
        const refused = await failure(client().transaction({ body: {
          resourceType: 'Bundle', type: 'transaction', entry: [
            { resource: task(`ServiceRequest/${existing.id}`, patientRef, { identifier: [{ system: 'urn:ris:task', value: 'TX-REFUSED' }] }), request: { method: 'POST', url: 'Task' } },
            { resource: serviceRequest(patientRef, 'COND-TX2'), request: { method: 'PUT', url: 'ServiceRequest?identifier=COND-TX2' } },
          ],
        } }));
        expect(refused.status).to.equal(412);
        expect(ids(await search('Task', { identifier: 'urn:ris:task|TX-REFUSED' }))).to.deep.equal([]);
      });
    });
  });
}

featuresSuite('searches and operations of EHRs: chains, _has, _lastUpdated, _summary, $everything, conditional writes', async (fhir, extra) => {
  const orthanc = await Orthanc.start({ fhir, withDicomWeb: true, extra });
  return { orthanc, dispose: () => orthanc.dispose() };
});

featuresSuite('on PostgreSQL, searches and operations of EHRs (the joins in its SQL)', async (fhir, extra) => {
  const cluster = await PostgresCluster.start();
  try {
    const orthanc = await Orthanc.start({
      fhir: { ...fhir, Store: 'PostgreSQL' }, withDicomWeb: true,
      extraPlugins: [POSTGRESQL_INDEX_PLUGIN], extra: { ...extra, PostgreSQL: cluster.orthancIndexConfig() },
    });
    return { orthanc, dispose: async () => { await orthanc.dispose(); await cluster.dispose(); } };
  } catch (error) {
    await cluster.dispose();
    throw error;
  }
});
