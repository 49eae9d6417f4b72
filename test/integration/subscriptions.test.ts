// Topic-based Subscriptions end to end (issue #13): the real Orthanc with
// the DICOMweb plugin, orders written with fhir-kit-client, images sent with
// dcmtk's storescu, notifications received by a rest-hook receiver on
// loopback (test/support/receiver.ts), which is also taken down, while
// Orthanc is restarted and killed, to see that nothing is lost.
import { expect } from 'chai';
import { makeDicomFiles, newUid, storescu } from '../support/dicom';
import { failure, fhirClient } from '../support/fhir';
import { fhirProblems, loadFhirSchema } from '../support/fhir-schema';
import { loadR4Schema, validateR4 } from '../support/fhir-schema-r4';
import { patient, serviceRequest, task } from '../support/orders';
import { TestIssuer } from '../support/issuer';
import { Orthanc } from '../support/orthanc';
import { POSTGRESQL_INDEX_PLUGIN, PostgresCluster } from '../support/postgres';
import { eventNumbers, Receiver, statusOf, type Received } from '../support/receiver';

type Json = Record<string, any>;

const TOPIC = {
  study: 'urn:orthanc-fhir:topic:imaging-study',
  task: 'urn:orthanc-fhir:topic:task',
  order: 'urn:orthanc-fhir:topic:service-request',
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function subscription(topic: string, endpoint: string, extra: Json = {}): Json {
  return {
    resourceType: 'Subscription',
    status: 'requested',
    topic,
    channelType: { system: 'http://terminology.hl7.org/CodeSystem/subscription-channel-type', code: 'rest-hook' },
    endpoint,
    contentType: 'application/fhir+json',
    content: 'id-only',
    ...extra,
  };
}

/** The SubscriptionStatus of a $status answer (a searchset of one). */
function statusIn(bundle: Json): Json {
  expect(bundle).to.include({ resourceType: 'Bundle', type: 'searchset' });
  expect(fhirProblems(bundle as { resourceType: string })).to.deep.equal([]);
  return bundle.entry[0].resource;
}

/** Every event notification's numbers, in the order received, duplicates dropped as a receiver would. */
function distinctEvents(received: readonly Received[]): Array<{ number: number; focus?: string; entry?: Json }> {
  const seen = new Map<number, { number: number; focus?: string; entry?: Json }>();
  for (const { body } of received) {
    const status = statusOf(body);
    if (status.type !== 'event-notification') continue;
    for (const event of status.notificationEvent ?? []) {
      const number = Number(event.eventNumber);
      const url = event.focus?.reference?.replace(/\/_history\/.*$/, '');
      const entry = body.entry.slice(1).find((e: Json) => e.fullUrl === url);
      if (!seen.has(number)) seen.set(number, { number, ...(event.focus ? { focus: event.focus.reference } : {}), ...(entry ? { entry } : {}) });
    }
  }
  return [...seen.values()];
}

function suite(label: string, options: { postgres: boolean }) {
  describe(`topic-based Subscriptions (rest-hook, ${label})`, function () {
    this.timeout(300000);
    let receiver: Receiver;
    let orthanc: Orthanc;
    let cluster: PostgresCluster | undefined;
    const client = () => fhirClient(orthanc.fhirUrl) as any;
    const r4 = () => fhirClient(`${orthanc.fhirUrl}/R4`) as any;
    const hook = (name: string) => `${receiver.url}/hook/${name}`;

    before(async () => {
      loadFhirSchema();
      loadR4Schema();
      receiver = await Receiver.start();
      let fhir: Json = { Enable: true, Worklist: { Enable: true }, Subscriptions: { AllowedEndpoints: [`${receiver.url}/hook/`], MaxRetryInterval: 2 } };
      let extra: Json = { StableAge: 1, DicomAlwaysAllowFindWorklist: true };
      if (options.postgres) {
        cluster = await PostgresCluster.start();
        fhir = { ...fhir, Store: 'PostgreSQL' };
        extra = { ...extra, PostgreSQL: cluster.orthancIndexConfig() };
      }
      orthanc = await Orthanc.start({ withDicomWeb: true, fhir, extra, ...(options.postgres ? { extraPlugins: [POSTGRESQL_INDEX_PLUGIN] } : {}) });
    });

    after(async () => {
      await orthanc?.dispose();
      await receiver?.close();
      await cluster?.dispose();
    });

    async function subscribe(name: string, topic: string, extra: Json = {}): Promise<Json> {
      const created = await client().create({ resourceType: 'Subscription', body: subscription(topic, hook(name), extra) });
      await receiver.waitFor(`/hook/${name}`, (got) => got.some((r) => statusOf(r.body).type === 'handshake'));
      return created;
    }

    async function order(patientId: string, accession: string) {
      const p = await client().create({ resourceType: 'Patient', body: patient(patientId) });
      const request = await client().create({ resourceType: 'ServiceRequest', body: serviceRequest(`Patient/${p.id}`, accession) });
      const step = await client().create({ resourceType: 'Task', body: task(`ServiceRequest/${request.id}`, `Patient/${p.id}`) });
      return { patient: p, request, task: step };
    }

    it('serves the topics and lists Subscription with $status and $events', async () => {
      const topics = await client().search({ resourceType: 'SubscriptionTopic' });
      expect(topics.entry.map((e: Json) => e.resource.url).sort()).to.deep.equal([TOPIC.study, TOPIC.order, TOPIC.task]);
      for (const entry of topics.entry) expect(fhirProblems(entry.resource), entry.resource.id).to.deep.equal([]);
      const byUrl = await client().search({ resourceType: 'SubscriptionTopic', searchParams: { url: TOPIC.task } });
      expect(byUrl.entry.map((e: Json) => e.resource.id)).to.deep.equal(['task']);
      const statement = await client().capabilityStatement();
      const resource = statement.rest[0].resource.find((r: Json) => r.type === 'Subscription');
      expect(resource.operation.map((o: Json) => o.name).sort()).to.deep.equal(['events', 'status']);
      expect(statement.rest[0].resource.map((r: Json) => r.type)).to.include('SubscriptionTopic');
    });

    it('refuses an endpoint outside the allow-list, however it is spelled', async () => {
      const host = new URL(receiver.url).host;
      for (const endpoint of [
        'http://evil.example/hook/x',
        `http://${host}@evil.example/hook/x`,
        `http://evil.example/?next=${receiver.url}/hook/x`,
        `${receiver.url}/hook/../admin`,
        `${receiver.url}/hook%2F..%2F..%2Fadmin`,
        `${receiver.url}/hooks/x`,
        `https://${host}/hook/x`,
        `http://user:pw@${host}/hook/x`,
      ]) {
        const refused = await failure(client().create({ resourceType: 'Subscription', body: subscription(TOPIC.task, endpoint) }));
        expect(refused.status, endpoint).to.equal(422);
        expect(JSON.stringify(refused.data), endpoint).to.contain('Subscription.endpoint');
      }
      const unknown = await failure(client().create({ resourceType: 'Subscription', body: subscription('urn:nope', hook('x')) }));
      expect(unknown.status).to.equal(422);
      const badFilter = await failure(client().create({
        resourceType: 'Subscription', body: subscription(TOPIC.task, hook('x'), { filterBy: [{ filterParameter: 'code', value: 'x' }] }),
      }));
      expect(badFilter.status).to.equal(422);
      expect(JSON.stringify(badFilter.data)).to.contain('filterBy[0].filterParameter');
      expect((await client().search({ resourceType: 'Subscription' })).total ?? 0).to.equal(0);
    });

    it('hands shakes on activation, then tells a study\'s arrival and its Task\'s steps, in order, filtered', async () => {
      const patientId = `SUB-${Date.now()}`;
      const other = await client().create({ resourceType: 'Patient', body: patient(`${patientId}-OTHER`) });
      // The orders first, so that filters can name them.
      const placed = await order(patientId, `ACC-${patientId}`);
      const p = placed.patient.id;
      const idOnly = await subscribe('study-id-only', TOPIC.study, { filterBy: [{ filterParameter: 'patient', value: `Patient/${p}` }] });
      await subscribe('study-full', TOPIC.study, { content: 'full-resource', filterBy: [{ filterParameter: 'modality', value: 'CT' }, { filterParameter: 'patient', value: `Patient/${p}` }] });
      await subscribe('task-full', TOPIC.task, { content: 'full-resource', filterBy: [{ filterParameter: 'based-on', value: `ServiceRequest/${placed.request.id}` }] });
      await subscribe('task-empty', TOPIC.task, { content: 'empty', filterBy: [{ filterParameter: 'patient', value: `Patient/${p}` }] });
      await subscribe('nobody', TOPIC.study, { filterBy: [{ filterParameter: 'patient', value: `Patient/${other.id}` }] });
      await subscribe('heartbeat', TOPIC.order, { heartbeatPeriod: 1, filterBy: [{ filterParameter: 'patient', value: `Patient/${other.id}` }] });
      // The server set the status: active once the handshake was acknowledged.
      expect((await client().read({ resourceType: 'Subscription', id: idOnly.id })).status).to.equal('active');

      // A Task written after the subscriptions: requested.
      const step = await client().create({ resourceType: 'Task', body: task(`ServiceRequest/${placed.request.id}`, `Patient/${p}`) });
      const studyUid = newUid();
      storescu(orthanc.dicomPort, makeDicomFiles([1, 2].map((n) => ({
        patientId, patientName: 'Sub^Scriber', birthDate: '19700101', sex: 'F', studyUid, seriesUid: newUid(), modality: 'CT',
        sopInstanceUid: newUid(), accessionNumber: `ACC-${patientId}`, seriesNumber: n,
      }))));

      const studyFull = await receiver.waitFor('/hook/study-full', (got) => distinctEvents(got).length >= 2);
      const tasks = await receiver.waitFor('/hook/task-full', (got) => distinctEvents(got).filter((e) => e.entry?.resource?.id === step.id).map((e) => e.entry!.resource.status).includes('completed'));

      // The Task subscriber saw every step of the Task it filtered, in order, numbered without gaps.
      const taskEvents = distinctEvents(tasks);
      expect(taskEvents.map((e) => e.number)).to.deep.equal(taskEvents.map((_, i) => i + 1));
      const ofStep = taskEvents.filter((e) => e.entry?.resource?.id === step.id).map((e) => e.entry!.resource.status);
      expect(ofStep).to.deep.equal(['requested', 'in-progress', 'completed']);
      for (const { body } of tasks) expect(fhirProblems(body), JSON.stringify(body).slice(0, 300)).to.deep.equal([]);
      // The first Task (written before the subscription) moved too: in-progress, completed.
      expect(taskEvents.filter((e) => e.entry?.resource?.id === placed.task.id).map((e) => e.entry!.resource.status)).to.deep.equal(['in-progress', 'completed']);

      // The study: id-only notifications name it, without the resource; full-resource ones carry it.
      const studies = (await client().search({ resourceType: 'ImagingStudy', searchParams: { identifier: `urn:dicom:uid|urn:oid:${studyUid}` } })).entry;
      expect(studies).to.have.length(1);
      const studyId = studies[0].resource.id;
      // The study became stable (Orthanc's StableStudy) in the page that completed the Task: an event at that moment too.
      const completedAt = Date.parse((await client().read({ resourceType: 'Task', id: step.id })).meta.lastUpdated);
      const idOnlyGot = await receiver.waitFor('/hook/study-id-only', (got) => got.some((r) =>
        (statusOf(r.body).notificationEvent ?? []).some((e: Json) => Math.abs(Date.parse(e.timestamp) - completedAt) < 500)));
      const idOnlyEvents = distinctEvents(idOnlyGot);
      expect(idOnlyEvents.map((e) => e.number)).to.deep.equal(idOnlyEvents.map((_, i) => i + 1));
      for (const event of idOnlyEvents) {
        expect(event.focus).to.equal(`${orthanc.fhirUrl}/ImagingStudy/${studyId}`);
        expect(event.entry).to.include({ fullUrl: `${orthanc.fhirUrl}/ImagingStudy/${studyId}` });
        expect(event.entry!.resource).to.equal(undefined);
      }
      expect(idOnlyEvents[0]!.entry!.request).to.deep.equal({ method: 'POST', url: 'ImagingStudy' });
      for (const { body } of idOnlyGot) expect(fhirProblems(body)).to.deep.equal([]);
      const fullEvents = distinctEvents(studyFull);
      expect(fullEvents[0]!.entry!.resource.identifier.map((i: Json) => i.value)).to.include(`urn:oid:${studyUid}`);
      expect(fullEvents[0]!.entry!.resource.basedOn[0].reference).to.equal(`ServiceRequest/${placed.request.id}`);

      // Empty content: the numbers and nothing of the Task.
      const empty = await receiver.waitFor('/hook/task-empty', (got) => distinctEvents(got).length >= 5);
      for (const { body } of empty) {
        expect(body.entry, 'only the SubscriptionStatus').to.have.length(1);
        for (const event of statusOf(body).notificationEvent ?? []) expect(event.focus).to.equal(undefined);
      }

      // A filter that does not match gets its handshake and nothing else; heartbeats come on time.
      expect(receiver.at('/hook/nobody').map((r) => statusOf(r.body).type)).to.deep.equal(['handshake']);
      const beats = (await receiver.waitFor('/hook/heartbeat', (got) => got.filter((r) => statusOf(r.body).type === 'heartbeat').length >= 4))
        .filter((r) => statusOf(r.body).type === 'heartbeat');
      const gaps = beats.slice(1).map((b, i) => b.at - beats[i]!.at);
      for (const gap of gaps) expect(gap).to.be.within(500, 3000);
      for (const { body } of beats) expect(statusOf(body).eventsSinceSubscriptionStart).to.equal('0');

      // $status and $events answer from the queue.
      const status = statusIn(await client().request(`Subscription/${idOnly.id}/$status`));
      expect(status).to.include({ resourceType: 'SubscriptionStatus', type: 'query-status', status: 'active', eventsSinceSubscriptionStart: String(idOnlyEvents.length) });
      const replay = await client().request(`Subscription/${idOnly.id}/$events?eventsSinceNumber=2&content=full-resource`);
      expect(fhirProblems(replay)).to.deep.equal([]);
      expect(eventNumbers(replay)).to.deep.equal(idOnlyEvents.slice(1).map((e) => e.number));
      expect(replay.entry[1].resource.resourceType).to.equal('ImagingStudy');
    });

    it('loses no event while the receiver is down and Orthanc is restarted and killed -9', async () => {
      const p = await client().create({ resourceType: 'Patient', body: patient(`DURABLE-${Date.now()}`) });
      const request = await client().create({ resourceType: 'ServiceRequest', body: serviceRequest(`Patient/${p.id}`, `DUR-${Date.now()}`) });
      const created = await subscribe('durable', TOPIC.task, { filterBy: [{ filterParameter: 'patient', value: `Patient/${p.id}` }], maxCount: 3, timeout: 3 });
      const written: string[] = [];
      const write = async (n: number) => {
        for (let i = 0; i < n; i++) written.push((await client().create({ resourceType: 'Task', body: task(`ServiceRequest/${request.id}`, `Patient/${p.id}`) })).id);
      };
      await write(3);
      await receiver.waitFor('/hook/durable', (got) => distinctEvents(got).length === 3);
      await receiver.down();
      await write(4);
      await sleep(1500); // attempts fail meanwhile
      await orthanc.restart();
      await write(4);
      // Back, but hanging: a delivery holds its lease when Orthanc is killed; the next Orthanc waits for the lease to run out.
      receiver.mode = 'hang';
      await receiver.up();
      await receiver.waitFor('/hook/durable', () => receiver.hanging > 0, 20000);
      await orthanc.stop('SIGKILL');
      await receiver.down();
      receiver.mode = 'ok';
      await orthanc.restart();
      await write(4);
      expect(statusIn(await client().request(`Subscription/${created.id}/$status`)).eventsSinceSubscriptionStart).to.equal('15');
      await receiver.up();
      const got = await receiver.waitFor('/hook/durable', (all) => distinctEvents(all).length >= 15, 60000);
      const events = distinctEvents(got);
      expect(events.map((e) => e.number)).to.deep.equal(Array.from({ length: 15 }, (_, i) => i + 1));
      expect(events.map((e) => e.focus!.replace(/^.*\/Task\/([^/]+)\/.*$/, '$1'))).to.deep.equal(written);
      // At most maxCount events per notification.
      for (const { body } of got) expect(eventNumbers(body).length).to.be.at.most(3);
      const after = await client().read({ resourceType: 'Subscription', id: created.id });
      expect(after.status).to.equal('active');
    });

    it('hides the header values of a Subscription on every read, and keeps them when sent back hidden', async () => {
      const p = await client().create({ resourceType: 'Patient', body: patient(`HIDE-${Date.now()}`) });
      const request = await client().create({ resourceType: 'ServiceRequest', body: serviceRequest(`Patient/${p.id}`, `HID-${Date.now()}`) });
      const headers = [{ name: 'Authorization', value: 'Bearer s3cret' }];
      const created = await subscribe('hidden', TOPIC.task, { parameter: headers, filterBy: [{ filterParameter: 'patient', value: `Patient/${p.id}` }] });
      expect(created.parameter).to.deep.equal([{ name: 'Authorization', value: '(hidden)' }]);
      const read = await client().read({ resourceType: 'Subscription', id: created.id });
      const searched = await client().search({ resourceType: 'Subscription', searchParams: { _id: created.id } });
      const history = await client().history({ resourceType: 'Subscription', id: created.id });
      const r4read = await r4().read({ resourceType: 'Subscription', id: created.id });
      for (const text of [read, searched, history, r4read].map((r) => JSON.stringify(r))) expect(text).not.to.contain('s3cret');
      expect(r4read.channel.header).to.deep.equal(['Authorization: (hidden)']);
      // Sent back as read (a client changing something else), the stored value is kept.
      await client().update({ resourceType: 'Subscription', id: created.id, body: { ...read, reason: 'renamed' } });
      await client().create({ resourceType: 'Task', body: task(`ServiceRequest/${request.id}`, `Patient/${p.id}`) });
      const got = await receiver.waitFor('/hook/hidden', (all) => all.some((r) => statusOf(r.body).type === 'event-notification'));
      for (const r of got) expect(r.headers.authorization).to.equal('Bearer s3cret');
    });

    it('subscribes an R4 client through the backport and notifies it in R4', async () => {
      const p = await client().create({ resourceType: 'Patient', body: patient(`R4SUB-${Date.now()}`) });
      const request = await client().create({ resourceType: 'ServiceRequest', body: serviceRequest(`Patient/${p.id}`, `R4S-${Date.now()}`) });
      const backport = {
        resourceType: 'Subscription',
        meta: { profile: ['http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription'] },
        status: 'requested',
        reason: 'RIS follows its orders',
        criteria: TOPIC.task,
        _criteria: { extension: [{ url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria', valueString: `Task?patient=Patient/${p.id}` }] },
        channel: {
          type: 'rest-hook',
          endpoint: hook('r4'),
          payload: 'application/fhir+json',
          _payload: { extension: [{ url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content', valueCode: 'full-resource' }] },
          header: ['X-Ris-Token: t0ken'],
        },
      };
      const created = await r4().create({ resourceType: 'Subscription', body: backport });
      expect(validateR4(created)).to.deep.equal([]);
      await receiver.waitFor('/hook/r4', (got) => got.length >= 1);
      await client().create({ resourceType: 'Task', body: task(`ServiceRequest/${request.id}`, `Patient/${p.id}`) });
      const got = await receiver.waitFor('/hook/r4', (all) => all.some((r) => JSON.stringify(r.body).includes('event-notification')));
      for (const { body, headers } of got) {
        expect(validateR4(body), JSON.stringify(body).slice(0, 400)).to.deep.equal([]);
        expect(body).to.include({ resourceType: 'Bundle', type: 'history' });
        expect(body.entry[0].resource.resourceType).to.equal('Parameters');
        expect(headers['x-ris-token']).to.equal('t0ken');
      }
      const notification = got.find((r) => JSON.stringify(r.body).includes('event-notification'))!.body;
      const task4 = notification.entry[1].resource;
      expect(task4.resourceType).to.equal('Task');
      expect(validateR4(task4)).to.deep.equal([]);
      const read = await r4().read({ resourceType: 'Subscription', id: created.id });
      expect(read.status).to.equal('active');
      expect(read._criteria.extension[0].valueString).to.equal(`Task?patient=Patient/${p.id}`);
    });

    it('sends nothing to an endpoint the configuration no longer allows', async () => {
      const p = await client().create({ resourceType: 'Patient', body: patient(`REVOKED-${Date.now()}`) });
      const request = await client().create({ resourceType: 'ServiceRequest', body: serviceRequest(`Patient/${p.id}`, `REV-${Date.now()}`) });
      const created = await subscribe('revoked', TOPIC.task, { filterBy: [{ filterParameter: 'patient', value: `Patient/${p.id}` }] });
      const configuration = orthanc.configuration() as Json;
      await orthanc.stop();
      orthanc = await Orthanc.start({
        dir: orthanc.dir, withDicomWeb: true, extra: configuration.PostgreSQL ? { PostgreSQL: configuration.PostgreSQL, StableAge: 1 } : { StableAge: 1 },
        fhir: { ...configuration.Fhir, Subscriptions: { AllowedEndpoints: [`${receiver.url}/elsewhere/`], MaxRetryInterval: 2 } },
        ...(options.postgres ? { extraPlugins: [POSTGRESQL_INDEX_PLUGIN] } : {}),
      });
      await client().create({ resourceType: 'Task', body: task(`ServiceRequest/${request.id}`, `Patient/${p.id}`) });
      for (let i = 0; i < 100; i++) {
        if ((await client().read({ resourceType: 'Subscription', id: created.id })).status === 'error') break;
        await sleep(100);
      }
      const status = statusIn(await client().request(`Subscription/${created.id}/$status`));
      expect(status.status).to.equal('error');
      expect(status.error[0].text).to.contain('AllowedEndpoints');
      expect(receiver.at('/hook/revoked').map((r) => statusOf(r.body).type)).to.deep.equal(['handshake']);
    });
  });
}

suite('SQLite', { postgres: false });
suite('PostgreSQL', { postgres: true });

describe('topic-based Subscriptions with SMART authorization', function () {
  this.timeout(180000);
  const ISSUER = 'https://issuer.example.org';
  const AUDIENCE = 'https://pacs.example.org/fhir';
  let issuer: TestIssuer;
  let receiver: Receiver;
  let orthanc: Orthanc;
  let admin: Json;

  before(async () => {
    loadFhirSchema();
    issuer = await TestIssuer.create({ issuer: ISSUER, audience: AUDIENCE });
    receiver = await Receiver.start();
    orthanc = await Orthanc.start({
      fhir: {
        Enable: true,
        Subscriptions: { AllowedEndpoints: [`${receiver.url}/hook/`] },
        Authorization: { Enable: true, Issuer: ISSUER, Audience: AUDIENCE, Jwks: await issuer.serve(), AdminScope: 'orthanc/admin', TokenEndpoint: `${ISSUER}/token` },
      },
    });
    admin = fhirClient(orthanc.fhirUrl, await issuer.token({ sub: 'admin', scope: 'orthanc/admin' }));
  });

  after(async () => {
    await orthanc?.dispose();
    await receiver?.close();
    await issuer?.close();
  });

  it('needs a scope to subscribe, and tells a patient-context subscriber only of its patient', async () => {
    const [a, b] = await Promise.all(['SA', 'SB'].map((id) => admin.create({ resourceType: 'Patient', body: patient(`${id}-${Date.now()}`) })));
    const order = (p: Json) => admin.create({ resourceType: 'ServiceRequest', body: serviceRequest(`Patient/${p.id}`, `AC-${p.id}`) });
    const [orderA, orderB] = await Promise.all([order(a), order(b)]);
    const reader = fhirClient(orthanc.fhirUrl, await issuer.token({ sub: 'ris', scope: 'system/Task.rs' })) as any;
    const refused = await failure(reader.create({ resourceType: 'Subscription', body: subscription(TOPIC.task, `${receiver.url}/hook/none`) }));
    expect(refused.status).to.equal(403);
    const ofA = fhirClient(orthanc.fhirUrl, await issuer.token({ sub: 'app', patient: a.id, scope: 'patient/Task.rs patient/Subscription.cruds' })) as any;
    await ofA.create({ resourceType: 'Subscription', body: subscription(TOPIC.task, `${receiver.url}/hook/patient-a`, { content: 'full-resource' }) });
    const system = fhirClient(orthanc.fhirUrl, await issuer.token({ sub: 'ris', scope: 'system/Task.rs system/Subscription.crs' })) as any;
    await system.create({ resourceType: 'Subscription', body: subscription(TOPIC.task, `${receiver.url}/hook/system`) });
    await receiver.waitFor('/hook/patient-a', (got) => got.length >= 1);
    await receiver.waitFor('/hook/system', (got) => got.length >= 1);
    const taskA = await admin.create({ resourceType: 'Task', body: task(`ServiceRequest/${orderA.id}`, `Patient/${a.id}`) });
    const taskB = await admin.create({ resourceType: 'Task', body: task(`ServiceRequest/${orderB.id}`, `Patient/${b.id}`) });
    const all = distinctEvents(await receiver.waitFor('/hook/system', (got) => distinctEvents(got).length >= 2));
    expect(all.map((e) => e.focus!.split('/')[5])).to.deep.equal([taskA.id, taskB.id]);
    await sleep(1000);
    const onlyA = distinctEvents(receiver.at('/hook/patient-a'));
    expect(onlyA.map((e) => e.entry!.resource.id)).to.deep.equal([taskA.id]);
    for (const { body } of receiver.at('/hook/patient-a')) expect(JSON.stringify(body)).not.to.contain(b.id);
    // Another client sees the Subscription (its header values hidden) but cannot change it, nor read its queue.
    const mine = (await system.search({ resourceType: 'Subscription', searchParams: { url: `${receiver.url}/hook/system` } })).entry[0].resource;
    const intruder = fhirClient(orthanc.fhirUrl, await issuer.token({ sub: 'someone-else', scope: 'system/Subscription.cruds system/Task.rs' })) as any;
    for (const attempt of [
      () => intruder.update({ resourceType: 'Subscription', id: mine.id, body: { ...mine, endpoint: `${receiver.url}/hook/stolen` } }),
      () => intruder.delete({ resourceType: 'Subscription', id: mine.id }),
      () => intruder.request(`Subscription/${mine.id}/$events`),
      () => intruder.request(`Subscription/${mine.id}/$status`),
    ]) expect((await failure(attempt())).status).to.equal(403);
    expect((await system.read({ resourceType: 'Subscription', id: mine.id })).endpoint).to.equal(`${receiver.url}/hook/system`);
    // Its owner reads its queue.
    expect(statusIn(await system.request(`Subscription/${mine.id}/$status`)).eventsSinceSubscriptionStart).to.equal('2');
    // The administrator may change it; it stays its owner's (who keeps reading its queue).
    await admin.update({ resourceType: 'Subscription', id: mine.id, body: { ...mine, reason: 'checked by the administrator' } });
    expect(statusIn(await system.request(`Subscription/${mine.id}/$status`)).eventsSinceSubscriptionStart).to.equal('2');
    // A token that names no one cannot own one.
    const nobody = fhirClient(orthanc.fhirUrl, await issuer.token({ scope: 'system/Subscription.c' })) as any;
    expect((await failure(nobody.create({ resourceType: 'Subscription', body: subscription(TOPIC.task, `${receiver.url}/hook/nobody`) }))).status).to.equal(403);
  });
});
