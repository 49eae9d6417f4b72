// Wires the plugin together inside the embedded runtime: guards, configuration,
// the resource modules, the router and the HTTP edge.
import { ConfigurationError, readConfig, type FhirConfig } from './config';
import { cannedAnswers, createHttpHandler } from './http/adapter';
import { Router } from './interactions/router';
import { LogLevel, loadBinding, type NativeBinding } from './native';
import { OrthancClient } from './orthanc/client';
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

function createProviders(_context: PluginContext): ResourceProvider[] {
  return [];
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
