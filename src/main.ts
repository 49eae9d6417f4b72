// Wires the plugin together inside the embedded runtime: guards, configuration,
// the resource modules, the router and the HTTP edge.
import { ConfigurationError, readConfig, type FhirConfig } from './config';
import { cannedAnswers, createHttpHandler } from './http/adapter';
import { ImagePreviews } from './resources/image-previews';
import { EXPLORER_EXTENSION } from './http/explorer-extension';
import { Router } from './interactions/router';
import { VersionView } from './interactions/version-view';
import { versionsOperation } from './interactions/versions';
import { LogLevel, loadBinding, type NativeAnswer, type NativeBinding, type NativeRequest } from './native';
import { OrderTracker } from './worklist/order-tracker';
import { WorklistService } from './worklist/worklist-service';
import { worklistOperation, worklistToday } from './worklist/worklist-operation';
import { worklistKeys } from './worklist/worklist-keys';
import { OrthancClient } from './orthanc/client';
import { DicomIndex } from './orthanc/dicom-index';
import { createEndpointResource, DicomWebEndpoints } from './resources/endpoint-resource';
import { ImagingIndex } from './resources/imaging-index';
import { ImagingReader } from './resources/imaging-reader';
import { zonePolicy, zoneSignature } from './resources/imaging/time-zone';
import { createImagingStudyResource } from './resources/imaging-study-resource';
import { createPatientResource } from './resources/patient-resource';
import { ResourceRegistry } from './resources/registry';
import { createIndexer } from './resources/search-indexer';
import type { InteractionContext, SystemOperation } from './resources/provider';
import { installEmbeddingGuards } from './runtime/embed';
import { BundleEntries } from './interactions/bundle-processor';
import { serviceRequestSetup, taskSetup } from './resources/orders';
import { createStoredResource } from './resources/stored-resource';
import { PostgresStore } from './store/postgres-store';
import { SqliteStore } from './store/sqlite-store';
import type { Store } from './store/store';
import { validateResource, type ValidatedType } from './validation';
import type { Resource } from './fhir/types';
import { TokenVerifier } from './http/bearer-tokens';
import { Authenticator } from './http/credentials';
import { RefusalThrottle } from './http/refusal-throttle';
import { createRequestFilter } from './http/request-filter';
import { restSecurity } from './http/smart-configuration';
import { createAuditEventResource } from './resources/audit-event-resource';
import { AuditTrail } from './resources/audit-trail';
import { ImageAccess } from './resources/image-access';
import type { AuditRecord } from './resources/audit-event';
import { toR4 } from './fhir/r4';
import { OperationOutcomeError } from './fhir/outcome';
import { SubscriptionDelivery } from './resources/subscription-delivery';
import { firingEvents, SubscriptionEvents } from './resources/subscription-events';
import { createSubscriptionResource, setSubscriptionStatus } from './resources/subscription-resource';
import { createSubscriptionTopicResource } from './resources/subscription-topic-resource';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

declare const ORTHANC_FHIR_VERSION: string;

export interface PluginContext {
  native: NativeBinding;
  config: FhirConfig;
  orthanc: OrthancClient;
  store: Store;
  imagingIndex: ImagingIndex;
  registry: ResourceRegistry;
}

export interface PluginOptions {
  /** Extra system operations (the test bundle adds fault injection this way). */
  operations?: (context: PluginContext) => SystemOperation[];
}

function validatorFor(type: ValidatedType, config: FhirConfig): (resource: Resource) => void {
  return (resource) => validateResource(type, resource, { patientIdSystem: config.patientIdSystem });
}

/**
 * The store of the configuration: PostgreSQL (shared by several Orthancs),
 * or the SQLite file, with the SQLite addon compiled for this runtime,
 * deployed beside the plugin.
 */
function openStore(config: FhirConfig, libraryDirectory: string, native: NativeBinding): Store {
  const log = (message: string) => native.log(LogLevel.Warning, message);
  const indexer = {
    ...createIndexer({
      keys: { Task: worklistKeys(config.defaultTimezoneOffset) },
      // A Task's worklist keys read its ServiceRequest.
      dependents: { ServiceRequest: [{ type: 'Task', param: 'based-on' }] },
    }),
    // A Task's date key is a local date in the worklist's zone: another zone (or its rules) re-indexes them.
    signature: `worklist-zone ${zoneSignature(zonePolicy(config.defaultTimezoneOffset))}`,
  };
  if (config.store.kind === 'postgresql') {
    return new PostgresStore({ config: config.store, statementTimeoutMs: config.requestTimeoutSeconds * 1000, indexer, log,
      error: (message) => native.log(LogLevel.Error, message) });
  }
  mkdirSync(config.databaseDirectory, { recursive: true });
  const addon = join(libraryDirectory, 'better_sqlite3.node');
  return new SqliteStore(join(config.databaseDirectory, 'orthanc-fhir.sqlite'),
    { indexer, log, ...(existsSync(addon) ? { nativeBinding: addon } : {}) });
}

/**
 * An event's focus now: `Type/id/_history/v` reads that version, `Type/id`
 * the resource (an ImagingStudy, live); undefined when it is gone.
 */
function focusReader(registry: ResourceRegistry) {
  return async (reference: string, baseUrl: string): Promise<Resource | undefined> => {
    const [type, id, , version] = reference.split('/');
    const provider = registry.get(type!);
    const context: InteractionContext = { query: [], lenient: false, baseUrl };
    try {
      if (version !== undefined && provider?.vread) return await provider.vread(id!, version, context);
      return await provider?.read?.(id!, context);
    } catch (error) {
      if (error instanceof OperationOutcomeError && (error.status === 404 || error.status === 410)) return undefined;
      throw error;
    }
  };
}

/** The resource modules, the imaging index they search, and the registry that serves them. */
function createResources(native: NativeBinding, config: FhirConfig, store: Store) {
  const orthanc = new OrthancClient(native);
  const registry = new ResourceRegistry();
  const index = new DicomIndex(orthanc, config.cacheBytes);
  const endpoints = new DicomWebEndpoints(index, config);
  const reader = new ImagingReader(index, endpoints, store, config);
  const imagingIndex = new ImagingIndex(orthanc, reader, store, {
    info: (message) => native.log(LogLevel.Warning, message),
    error: (message) => native.log(LogLevel.Error, message),
  }, async () => ({
    dicomWeb: await endpoints.available(),
    // The effective zone, not the setting: "local" in another TZ (or with other rules) gives other `started` values.
    timezone: zoneSignature(zonePolicy(config.defaultTimezoneOffset)),
    accessionNumberSystem: config.accessionNumberSystem ?? null,
    patientIdSystem: config.patientIdSystem ?? null,
  }));
  const deps = { reader, imagingIndex, store, registry, config };
  registry.add(createPatientResource({ ...deps, validate: validatorFor('Patient', config) }));
  registry.add(createImagingStudyResource(deps));
  registry.setIndexCheck(['Patient', 'ImagingStudy'], () => imagingIndex.current());
  registry.add(createEndpointResource(endpoints, registry, config));
  // Topic events are queued in the transaction of the write or of the page of Orthanc's changes that causes them.
  let delivery: SubscriptionDelivery | undefined;
  const events = new SubscriptionEvents(store, () => delivery?.wake(), (message) => native.log(LogLevel.Error, message));
  imagingIndex.onStudyChanges((writer, changes) => events.studies(writer, changes));
  registry.add(createStoredResource(firingEvents(serviceRequestSetup(validatorFor('ServiceRequest', config), (keys) => imagingIndex.refreshStudies(keys)), events),
    store, registry, config));
  registry.add(createStoredResource(firingEvents(taskSetup(validatorFor('Task', config)), events), store, registry, config));
  const focus = focusReader(registry);
  registry.add(createSubscriptionTopicResource(registry, config, new Date().toISOString()));
  registry.add(createSubscriptionResource({ store, registry, config, wake: () => delivery?.wake(), focus }));
  delivery = new SubscriptionDelivery(store, {
    focus,
    setStatus: (id, status, claimed, error) => setSubscriptionStatus(store, id, status, claimed, error),
    toR4,
    log: (message) => native.log(LogLevel.Warning, message),
  }, { allowedEndpoints: config.subscriptions.allowedEndpoints, maxRetrySeconds: config.subscriptions.maxRetrySeconds, eventRetentionHours: config.subscriptions.eventRetentionHours, pollMs: store.shared ? 1000 : 5000 });
  // The audit trail is served only where it is written: with authorization on.
  if (config.authorization) registry.add(createAuditEventResource(store, config));
  return { orthanc, registry, imagingIndex, delivery, previews: new ImagePreviews(index, orthanc) };
}

// Orthanc's change types (OrthancPluginChangeType).
const CHANGE_NEW_STUDY = 6;
const CHANGE_STABLE_STUDY = 9;
const CHANGE_ORTHANC_STARTED = 10;
/** How often an Orthanc sharing its store follows the shared change log without an event. */
const CHANGE_POLL_MS = 1000;

/** What the plugin asks of its own resource modules carries no client's URL. */
function internalContext(): InteractionContext {
  return { query: [], lenient: false, baseUrl: 'http://localhost/fhir' };
}

const CHANGE_ORTHANC_STOPPED = 11;

/** Authorization on: who the requests come from, and the durable trail of what they did. */
function createSecurity(native: NativeBinding, config: FhirConfig, store: Store, orthanc: OrthancClient) {
  const authorization = config.authorization;
  if (!authorization) return undefined;
  const log = (message: string) => native.log(LogLevel.Warning, message);
  const verifier = new TokenVerifier({
    issuer: authorization.issuer, audience: authorization.audience, jwks: authorization.jwks, clockSkewSeconds: authorization.clockSkewSeconds,
  }, log);
  const authenticator = new Authenticator(authorization, verifier);
  const trail = new AuditTrail(store, { log: (message: string) => native.log(LogLevel.Error, message) });
  const audit = (record: AuditRecord) => trail.record(record);
  const throttle = new RefusalThrottle((record) => void trail.record(record));
  const filter = createRequestFilter({ config, authenticator, images: new ImageAccess(orthanc), audit, throttle,
    logError: (message) => native.log(LogLevel.Error, message) });
  const close = async () => {
    throttle.close();
    await trail.close();
  };
  return { http: { authorization, authenticator, audit, throttle }, filter, close };
}

/** Orthanc serves one worklist plugin: say which ones compete, and which serves. */
async function reportWorklistConflict({ native, config, orthanc }: PluginContext): Promise<void> {
  const plugins = (await orthanc.getJson<string[]>('/plugins').catch(() => undefined)) ?? [];
  const others = plugins.filter((name) => name === 'worklists' || /worklist/i.test(name));
  if (config.worklist.enable && others.length > 0) {
    const serving = native.worklistRegistered() ? 'orthanc-fhir (from FHIR orders)' : others.join(', ');
    native.log(LogLevel.Warning, `both orthanc-fhir and ${others.join(', ')} are loaded and Orthanc accepts one worklist plugin: ${serving} answers modality worklist queries`);
  }
}

export function startPlugin(options: PluginOptions = {}): void {
  const native = loadBinding();
  installEmbeddingGuards(native);
  let config: FhirConfig;
  let store: Store;
  try {
    config = readConfig(JSON.parse(native.configuration()) as Record<string, unknown>, native.configurationPath);
    store = openStore(config, native.libraryDirectory, native);
  } catch (error) {
    native.fatal(error instanceof ConfigurationError ? `bad configuration: ${error.message}` : `cannot start: ${(error as Error)?.stack ?? String(error)}`);
    return;
  }
  const { orthanc, registry, imagingIndex, delivery, previews } = createResources(native, config, store);
  delivery.start();
  void store.maintain().catch((error) => native.log(LogLevel.Error, `re-indexing the stored resources failed: ${(error as Error)?.stack ?? String(error)}`));
  const context: PluginContext = { native, config, orthanc, store, imagingIndex, registry };
  const security = createSecurity(native, config, store, orthanc);
  const providers = registry.all();
  const patients = registry.get('Patient')!;
  const worklist = new WorklistService(store, (id) => patients.read!(id, internalContext()).catch(() => undefined), config);
  const router = new Router(providers, [versionsOperation, worklistOperation(worklist, () => worklistToday(config.defaultTimezoneOffset), config.maxCount), ...(options.operations?.(context) ?? [])], {
    name: 'orthanc-fhir',
    version: typeof ORTHANC_FHIR_VERSION === 'string' ? ORTHANC_FHIR_VERSION : '0.0.0',
    orthancVersion: native.orthancVersion,
    date: new Date().toISOString(),
    ...(config.authorization ? { security: restSecurity(config.authorization) } : {}),
  });
  router.setBundleProcessor(new BundleEntries((request) => router.handle(request),
    (type) => providers.find((provider) => provider.type === type), store));
  const logError = (message: string) => native.log(LogLevel.Error, message);
  const handleHttp = createHttpHandler(new VersionView(router), config, logError, security?.http, previews);
  const handle = async (request: NativeRequest): Promise<NativeAnswer> => {
    if (request.channel === 'worklist') {
      const answer = await worklist.answer(request.body.toString('utf8'), request.headers['issuer-aet'] ?? '');
      return { status: 200, headers: {}, body: JSON.stringify(answer) };
    }
    if (request.channel === 'filter') {
      // The shim registers the filter only when authorization is on; refused otherwise, to fail closed.
      return security ? security.filter(request) : { status: 403, headers: {}, body: '' };
    }
    return handleHttp(request);
  };
  native.extendOrthancExplorer(EXPLORER_EXTENSION);
  const canned = cannedAnswers();
  native.setRequestHandler((request) => {
    handle(request).then(
      (answer) => native.answer(request.id, answer.status, answer.headers, answer.body),
      (error) => {
        logError(`${request.channel} request failed: ${(error as Error)?.stack ?? String(error)}`);
        native.answer(request.id, canned[2].status, canned[2].headers, canned[2].body);
      },
    );
  }, canned);

  // Images arriving for orders move their Tasks on, through the Task
  // module's own update. Change events only wake the imaging index, which
  // reads Orthanc's change log itself (and catches up on what happened while
  // the plugin was down).
  const tasks = registry.get('Task')!;
  const tracker = new OrderTracker(store, {
    tasksOf: (orderId) => tasks.searchAll!([['based-on', `ServiceRequest/${orderId}`]], internalContext()),
    update: async (task, versionId) => {
      await tasks.update!(task.id!, task, { ...internalContext(), ifMatch: versionId });
    },
  });
  imagingIndex.onStudyEvents((events) => tracker.studiesArrived(events));
  const wake = () => imagingIndex.wake().catch(() => undefined); // failures are logged by the index
  const start = () => imagingIndex.start().catch((error) => logError(`the imaging index cannot start: ${(error as Error)?.stack ?? String(error)}`));
  // Orthanc's change events reach only the Orthanc that received the images: with a shared store, the log is polled too.
  if (store.shared) imagingIndex.poll(CHANGE_POLL_MS);
  native.setChangeHandler((changeType) => {
    void start().then(() => (changeType === CHANGE_NEW_STUDY || changeType === CHANGE_STABLE_STUDY ? wake() : undefined));
    if (changeType === CHANGE_ORTHANC_STARTED) void reportWorklistConflict(context);
    // What waits to be written is written before Orthanc stops the runtime.
    if (changeType === CHANGE_ORTHANC_STOPPED) {
      delivery.stop();
      void security?.close().catch(() => undefined);
    }
  });
}
