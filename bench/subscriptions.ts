// npx tsx bench/subscriptions.ts: what topic-based Subscriptions cost, in
// one run, on one Orthanc with the plugin (SQLite store), notifications
// going to a rest-hook receiver on loopback (test/support/receiver.ts).
//
//  1. Task create throughput (closed loop, CLIENTS clients, SECONDS each),
//     with no Subscription, then with 100 Subscriptions to the Task topic,
//     rounds interleaved (the Subscriptions turned off and requested again
//     between rounds): (a) 10 of the 100 match every Task (the other 90
//     filter on another patient), (b) all 100 match. The ratio is with /
//     without, medians of the rounds; the ones that do not match each filter
//     on a patient of their own. (0) none of the 100 match: the cost
//     of matching alone. Under (b) every Task write queues 100
//     events: the queue's backlog after the round, and how long delivery
//     takes to drain it, are printed too.
//  2. Notification latency, change to delivery: the event's timestamp (taken
//     in the write's transaction) to its arrival at the receiver, p50 / p99,
//     with 100 Subscriptions: (a) each Task matching one of them (100
//     patients, Tasks spread over them), RATE Tasks/s; (b) each Task matching
//     all 100, FANOUT_RATE Tasks/s.
//  3. The same for images: storescu of one study at a time, the
//     ImagingStudy topic's create notification, from storescu's return.
import { Orthanc } from '../test/support/orthanc';
import { patient, serviceRequest, task } from '../test/support/orders';
import { makeDicomFiles, newUid, storescu } from '../test/support/dicom';
import { Receiver, statusOf, type Received } from '../test/support/receiver';
import { describe as line, load, percentile, type LoadResult } from './load';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const RATE = Number(process.env.BENCH_RATE ?? 20);
const FANOUT_RATE = Number(process.env.BENCH_FANOUT_RATE ?? 4);
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 10);
const STUDIES = Number(process.env.BENCH_STUDIES ?? 10);
const SUBSCRIPTIONS = 100;
const FHIR_JSON = { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' };
const TASK_TOPIC = 'urn:orthanc-fhir:topic:task';
const STUDY_TOPIC = 'urn:orthanc-fhir:topic:imaging-study';

type Json = Record<string, any>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function fhir(orthanc: Orthanc, method: string, path: string, body?: unknown): Promise<Json> {
  const response = await fetch(`${orthanc.fhirUrl}/${path}`, { method, headers: FHIR_JSON, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
  return text ? (JSON.parse(text) as Json) : {};
}

function subscription(topic: string, endpoint: string, filterBy: Json[], content = 'id-only'): Json {
  return {
    resourceType: 'Subscription', status: 'requested', topic, endpoint, content, filterBy,
    channelType: { system: 'http://terminology.hl7.org/CodeSystem/subscription-channel-type', code: 'rest-hook' },
  };
}

/** Event latencies (ms) of what arrived after `since`: arrival minus the event's timestamp. */
function latencies(received: readonly Received[], since: number): number[] {
  const found: number[] = [];
  for (const r of received) {
    if (r.at < since) continue;
    const status = statusOf(r.body);
    if (status.type !== 'event-notification') continue;
    for (const event of status.notificationEvent ?? []) found.push(r.at - Date.parse(event.timestamp));
  }
  return found.sort((a, b) => a - b);
}

/** Distinct events received (a notification sent again after a lost acknowledgement counts once). */
function eventCount(received: readonly Received[]): number {
  const seen = new Set<string>();
  for (const r of received) {
    const status = statusOf(r.body);
    if (status.type !== 'event-notification') continue;
    for (const event of status.notificationEvent ?? []) seen.add(`${r.path}#${event.eventNumber}`);
  }
  return seen.size;
}

async function main(): Promise<void> {
  const receiver = await Receiver.start();
  const orthanc = await Orthanc.start({
    verbose: false,
    fhir: { Enable: true, Subscriptions: { AllowedEndpoints: [`${receiver.url}/`], MaxRetryInterval: 5 } },
    extra: { StableAge: 1 },
  });
  try {
    console.log(`orthanc-fhir Subscriptions benchmark (SQLite store; ${CLIENTS} clients, ${SECONDS} s per round, ${ROUNDS} rounds)`);
    const patients: string[] = [];
    for (let i = 0; i < SUBSCRIPTIONS; i++) patients.push((await fhir(orthanc, 'POST', 'Patient', patient(`BENCH-${i}`))).id);
    const other = (await fhir(orthanc, 'POST', 'Patient', patient('BENCH-OTHER'))).id;
    const orders = await Promise.all(patients.slice(0, 1).map(async (p) => (await fhir(orthanc, 'POST', 'ServiceRequest', serviceRequest(`Patient/${p}`, 'BENCH-ACC'))).id));
    const taskBody = JSON.stringify(task(`ServiceRequest/${orders[0]}`, `Patient/${patients[0]}`));
    const post = () => ({ method: 'POST', path: '/fhir/Task', headers: FHIR_JSON, body: taskBody });

    // The 100 Subscriptions, made once, switched between rounds.
    const ids: string[] = [];
    // The Subscriptions that do not match each filter on a patient of their own (as a RIS's per-patient ones would): no two alike.
    const filters = (matching: number) => (i: number) => [{ filterParameter: 'patient', value: `Patient/${i < matching ? patients[0] : i === 0 ? other : patients[i]}` }];
    for (let i = 0; i < SUBSCRIPTIONS; i++) ids.push((await fhir(orthanc, 'POST', 'Subscription', subscription(TASK_TOPIC, `${receiver.url}/s/${i}`, filters(10)(i)))).id);
    const set = async (status: 'off' | 'requested', matching: number) => {
      await Promise.all(ids.map(async (id, i) => fhir(orthanc, 'PUT', `Subscription/${id}`,
        { ...subscription(TASK_TOPIC, `${receiver.url}/s/${i}`, filters(matching)(i)), id, status })));
      if (status === 'requested') {
        for (let t = 0; t < 200; t++) {
          const active = await fhir(orthanc, 'GET', 'Subscription?status=active&_summary=count');
          if (active.total === SUBSCRIPTIONS) return;
          await sleep(50);
        }
        throw new Error('the Subscriptions did not become active');
      }
    };
    const drained = async (timeoutMs = 600000) => {
      const started = Date.now();
      for (;;) {
        const statuses = await Promise.all(ids.map((id) => fhir(orthanc, 'GET', `Subscription/${id}/$status`)));
        const queued = statuses.reduce((n, s) => n + Number(s.entry[0].resource.eventsSinceSubscriptionStart), 0);
        if (eventCount(receiver.received) >= queued) return Date.now() - started;
        if (Date.now() - started > timeoutMs) throw new Error('the queue did not drain');
        await sleep(100);
      }
    };

    // 1. Throughput.
    await set('off', 10);
    await load(orthanc.httpPort, post, { clients: CLIENTS, seconds: 1, expectStatus: 201 });
    const results: Record<string, LoadResult[]> = { none: [], zero: [], ten: [], all: [] };
    const backlog: Array<{ events: number; drainMs: number }> = [];
    for (let round = 0; round < ROUNDS; round++) {
      await set('off', 10);
      results.none!.push(await load(orthanc.httpPort, post, { clients: CLIENTS, seconds: SECONDS, expectStatus: 201 }));
      await set('requested', 0);
      results.zero!.push(await load(orthanc.httpPort, post, { clients: CLIENTS, seconds: SECONDS, expectStatus: 201 }));
      await set('requested', 10);
      results.ten!.push(await load(orthanc.httpPort, post, { clients: CLIENTS, seconds: SECONDS, expectStatus: 201 }));
      await drained();
      await set('requested', SUBSCRIPTIONS);
      const before = eventCount(receiver.received);
      const all = await load(orthanc.httpPort, post, { clients: CLIENTS, seconds: SECONDS, expectStatus: 201 });
      results.all!.push(all);
      const atEnd = eventCount(receiver.received);
      const drainMs = await drained();
      backlog.push({ events: all.requests * SUBSCRIPTIONS - (atEnd - before), drainMs });
    }
    const rate = (key: string) => median(results[key]!.map((r) => r.perSecond));
    console.log('');
    console.log(`POST /fhir/Task, closed loop (medians of ${ROUNDS} rounds):`);
    for (const [key, label] of [['none', 'no Subscription'], ['zero', '100 Subs, none match'], ['ten', '100 Subs, 10 match each'], ['all', '100 Subs, all 100 match']] as const) {
      const middle = results[key]!.find((r) => r.perSecond === rate(key))!;
      console.log(`${line(label, middle)}   ratio ${(rate(key) / rate('none')).toFixed(2)}x`);
    }
    console.log(`per round, req/s (none / 0 match / 10 / 100): ${results.none!.map((_, i) => ['none', 'zero', 'ten', 'all'].map((k) => results[k]![i]!.perSecond.toFixed(0)).join(' / ')).join(';  ')}`);
    console.log(`all 100 matching: backlog at the round's end ${median(backlog.map((b) => b.events))} events, drained in ${(median(backlog.map((b) => b.drainMs)) / 1000).toFixed(1)} s`);

    // 2. Latency, paced writes: each Task matches one Subscription, then every one.
    const paced = async (perSecond: number, body: (n: number) => string) => {
      const since = Date.now();
      const count = perSecond * LATENCY_SECONDS;
      for (let n = 0; n < count; n++) {
        const due = since + (n * 1000) / perSecond;
        await sleep(Math.max(0, due - Date.now()));
        await fhir(orthanc, 'POST', 'Task', JSON.parse(body(n)));
      }
      await drained();
      return latencies(receiver.received, since);
    };
    await set('off', 0);
    await Promise.all(ids.map(async (id, i) => fhir(orthanc, 'PUT', `Subscription/${id}`,
      { ...subscription(TASK_TOPIC, `${receiver.url}/s/${i}`, [{ filterParameter: 'patient', value: `Patient/${patients[i]}` }]), id, status: 'requested' })));
    await sleep(2000);
    const one = await paced(RATE, (n) => JSON.stringify(task(`ServiceRequest/${orders[0]}`, `Patient/${patients[n % SUBSCRIPTIONS]}`)));
    await set('requested', SUBSCRIPTIONS);
    const fan = await paced(FANOUT_RATE, () => taskBody);
    console.log('');
    console.log('notification latency, event (in the write\'s transaction) to arrival:');
    console.log(`100 Subs, 1 matches each Task, ${RATE} Tasks/s:      ${one.length} notified events   p50 ${percentile(one, 50).toFixed(1)} ms   p99 ${percentile(one, 99).toFixed(1)} ms`);
    console.log(`100 Subs, all match each Task, ${FANOUT_RATE} Tasks/s:   ${fan.length} notified events   p50 ${percentile(fan, 50).toFixed(1)} ms   p99 ${percentile(fan, 99).toFixed(1)} ms`);

    // 3. Images: storescu of one study, to the ImagingStudy topic's create notification.
    await set('off', 0);
    await fhir(orthanc, 'POST', 'Subscription', { ...subscription(STUDY_TOPIC, `${receiver.url}/study`, []), filterBy: undefined });
    await receiver.waitFor('/study', (got) => got.length >= 1);
    const imaging: number[] = [];
    for (let n = 0; n < STUDIES; n++) {
      const files = makeDicomFiles([{ patientId: `BENCH-IMG-${n}`, patientName: 'Bench^Img', studyUid: newUid(), seriesUid: newUid(), sopInstanceUid: newUid(), modality: 'CT' }]);
      const before = receiver.at('/study').length;
      storescu(orthanc.dicomPort, files);
      const sent = Date.now();
      const got = await receiver.waitFor('/study', (all) => all.length > before && all.slice(before).some((r) => statusOf(r.body).type === 'event-notification'));
      imaging.push(got.slice(before).find((r) => statusOf(r.body).type === 'event-notification')!.at - sent);
    }
    imaging.sort((a, b) => a - b);
    console.log(`ImagingStudy create, storescu's return to arrival (${STUDIES} studies, one at a time): p50 ${percentile(imaging, 50).toFixed(0)} ms   max ${imaging[imaging.length - 1]!.toFixed(0)} ms`);
  } finally {
    await orthanc.dispose();
    await receiver.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
