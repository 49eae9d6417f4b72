// Wires the plugin together inside the embedded runtime: guards, configuration,
// the resource modules, the router and the HTTP edge.
import { ConfigurationError, readConfig, type FhirConfig } from './config';
import { cannedAnswers, createHttpHandler } from './http/adapter';
import { Router } from './interactions/router';
import { LogLevel, loadBinding, type NativeBinding } from './native';
import { OrthancClient } from './orthanc/client';
import { DicomIndex } from './orthanc/dicom-index';
import { createEndpointResource, DicomWebEndpoints } from './resources/endpoint-resource';
import { createImagingStudyResource } from './resources/imaging-study-resource';
import { createPatientResource } from './resources/patient-resource';
import { ResourceRegistry } from './resources/registry';
import type { ResourceProvider, SystemOperation } from './resources/provider';
import { installEmbeddingGuards } from './runtime/embed';

declare const ORTHANC_FHIR_VERSION: string;

export interface PluginContext {
  native: NativeBinding;
  config: FhirConfig;
  orthanc: OrthancClient;
}

export interface PluginOptions {
  /** Extra system operations (the test bundle adds fault injection this way). */
  operations?: (context: PluginContext) => SystemOperation[];
}

function createProviders({ config, orthanc }: PluginContext): ResourceProvider[] {
  const registry = new ResourceRegistry();
  const index = new DicomIndex(orthanc);
  const endpoints = new DicomWebEndpoints(index, config);
  registry.add(createPatientResource(index, registry, config));
  registry.add(createImagingStudyResource(index, endpoints, registry, config));
  registry.add(createEndpointResource(endpoints, registry, config));
  return registry.all();
}

export function startPlugin(options: PluginOptions = {}): void {
  const native = loadBinding();
  installEmbeddingGuards(native);
  let config: FhirConfig;
  try {
    config = readConfig(JSON.parse(native.configuration()) as Record<string, unknown>);
  } catch (error) {
    native.fatal(error instanceof ConfigurationError ? `bad configuration: ${error.message}` : String(error));
    return;
  }
  const context: PluginContext = { native, config, orthanc: new OrthancClient(native) };
  const router = new Router(createProviders(context), options.operations?.(context) ?? [], {
    name: 'orthanc-fhir',
    version: typeof ORTHANC_FHIR_VERSION === 'string' ? ORTHANC_FHIR_VERSION : '0.0.0',
    orthancVersion: native.orthancVersion,
    date: new Date().toISOString(),
  });
  const handle = createHttpHandler(router, config, (message) => native.log(LogLevel.Error, message));
  const canned = cannedAnswers();
  native.setRequestHandler((request) => {
    handle(request).then(
      (answer) => native.answer(request.id, answer.status, answer.headers, answer.body),
      () => native.answer(request.id, canned[2].status, canned[2].headers, canned[2].body),
    );
  }, canned);
}
