// Wires the plugin together inside the embedded runtime: guards, configuration,
// the resource modules, the router and the HTTP edge.
import { ConfigurationError, readConfig, type FhirConfig } from './config';
import { cannedAnswers, createHttpHandler } from './http/adapter';
import { EXPLORER_EXTENSION } from './http/explorer-extension';
import { Router } from './interactions/router';
import { LogLevel, loadBinding, type NativeAnswer, type NativeBinding, type NativeRequest } from './native';
import type { FhirRequest } from './interactions/request';
import { OrderTracker } from './worklist/order-tracker';
import { WorklistService } from './worklist/worklist-service';
import { OrthancClient } from './orthanc/client';
import { DicomIndex } from './orthanc/dicom-index';
import { createEndpointResource, DicomWebEndpoints } from './resources/endpoint-resource';
import { createImagingStudyResource } from './resources/imaging-study-resource';
import { createPatientResource } from './resources/patient-resource';
import { ResourceRegistry } from './resources/registry';
import type { ResourceProvider, SystemOperation } from './resources/provider';
import { installEmbeddingGuards } from './runtime/embed';
import { BundleEntries } from './interactions/bundle-processor';
import { serviceRequestSetup, taskSetup } from './resources/orders';
import { createStoredResource } from './resources/stored-resource';
import { SqliteStore } from './store/sqlite-store';
import type { Store } from './store/store';
import { validateResource, type ValidatedType } from './validation';
import type { Resource } from './fhir/types';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

declare const ORTHANC_FHIR_VERSION: string;

export interface PluginContext {
  native: NativeBinding;
  config: FhirConfig;
  orthanc: OrthancClient;
  store: Store;
}

export interface PluginOptions {
  /** Extra system operations (the test bundle adds fault injection this way). */
  operations?: (context: PluginContext) => SystemOperation[];
}

function createProviders({ config, orthanc, store }: PluginContext): ResourceProvider[] {
  const registry = new ResourceRegistry();
  const index = new DicomIndex(orthanc);
  const endpoints = new DicomWebEndpoints(index, config);
  registry.add(createPatientResource(index, registry, config, { store, validate: validatorFor('Patient', config) }));
  registry.add(createImagingStudyResource(index, endpoints, registry, config, () => store.list('ServiceRequest')));
  registry.add(createEndpointResource(endpoints, registry, config));
  registry.add(createStoredResource(serviceRequestSetup(validatorFor('ServiceRequest', config)), store, registry, config));
  registry.add(createStoredResource(taskSetup(validatorFor('Task', config)), store, registry, config));
  return registry.all();
}

function validatorFor(type: ValidatedType, config: FhirConfig): (resource: Resource) => void {
  return (resource) => validateResource(type, resource, { patientIdSystem: config.patientIdSystem });
}

/** The store's file, with the SQLite addon compiled for this runtime, deployed beside the plugin. */
function openStore(config: FhirConfig, libraryDirectory: string): Store {
  mkdirSync(config.databaseDirectory, { recursive: true });
  const addon = join(libraryDirectory, 'better_sqlite3.node');
  return new SqliteStore(join(config.databaseDirectory, 'orthanc-fhir.sqlite'), existsSync(addon) ? { nativeBinding: addon } : {});
}

// Orthanc's change types (OrthancPluginChangeType).
const CHANGE_NEW_STUDY = 6;
const CHANGE_STABLE_STUDY = 9;
const CHANGE_ORTHANC_STARTED = 10;

/** Requests the plugin makes to itself carry no client's URL. */
function internalRequest(): FhirRequest {
  return { method: 'GET', path: [], query: [], headers: {}, baseUrl: 'http://localhost/fhir' };
}

/** Orthanc serves one worklist plugin: say which ones compete, and which serves. */
async function reportWorklistConflict({ native, config, orthanc }: PluginContext): Promise<void> {
  const plugins = (await orthanc.getJson<string[]>('/plugins').catch(() => undefined)) ?? [];
  const others = plugins.filter((name) => name === 'worklists' || /worklist/i.test(name));
  if (config.worklist.enable && others.length > 0) {
    const serving = native.worklistRegistered ? 'orthanc-fhir (from FHIR orders)' : others.join(', ');
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
    store = openStore(config, native.libraryDirectory);
  } catch (error) {
    native.fatal(error instanceof ConfigurationError ? `bad configuration: ${error.message}` : `cannot start: ${(error as Error)?.stack ?? String(error)}`);
    return;
  }
  const context: PluginContext = { native, config, orthanc: new OrthancClient(native), store };
  const providers = createProviders(context);
  const router = new Router(providers, options.operations?.(context) ?? [], {
    name: 'orthanc-fhir',
    version: typeof ORTHANC_FHIR_VERSION === 'string' ? ORTHANC_FHIR_VERSION : '0.0.0',
    orthancVersion: native.orthancVersion,
    date: new Date().toISOString(),
  });
  router.setBundleProcessor(new BundleEntries((request) => router.handle(request),
    (type) => providers.find((provider) => provider.type === type), store));
  const logError = (message: string) => native.log(LogLevel.Error, message);
  const handleHttp = createHttpHandler(router, config, logError);
  const patients = providers.find((provider) => provider.type === 'Patient')!;
  const worklist = new WorklistService(store, (id) => patients.read!(id, internalRequest()).catch(() => undefined), config);
  const handle = async (request: NativeRequest): Promise<NativeAnswer> => {
    if (request.channel === 'worklist') {
      const answer = await worklist.answer(request.body.toString('utf8'), request.headers['issuer-aet'] ?? '');
      return { status: 200, headers: {}, body: JSON.stringify(answer) };
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

  // Images arriving for orders move their Tasks on. The change events only
  // wake the tracker, which reads Orthanc's change log itself.
  const tracker = new OrderTracker(context.orthanc, store, logError);
  native.setChangeHandler((changeType) => {
    if (changeType === CHANGE_NEW_STUDY || changeType === CHANGE_STABLE_STUDY) void tracker.wake();
    if (changeType === CHANGE_ORTHANC_STARTED) {
      void tracker.wake();
      void reportWorklistConflict(context);
    }
  });
}
