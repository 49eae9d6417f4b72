// The CapabilityStatement is derived from the resource modules' own
// declarations, so it lists exactly what the router serves.
import type { Resource } from '../fhir/types';
import type { ResourceProvider, SystemOperation } from '../resources/provider';

export interface ServerDescription {
  name: string;
  version: string;
  orthancVersion: string;
  /** When this server's software was built or started, as a FHIR dateTime. */
  date: string;
  /** CapabilityStatement.rest.security, when authorization is on (SMART on FHIR). */
  security?: Record<string, unknown>;
}

export function buildCapabilityStatement(
  providers: readonly ResourceProvider[],
  operations: readonly SystemOperation[],
  server: ServerDescription,
  baseUrl: string,
  systemInteractions: readonly string[] = [],
): Resource {
  const rest: Record<string, unknown> = {
    mode: 'server',
    documentation: `FHIR R5 facade of Orthanc ${server.orthancVersion} (R4 at /R4 or with fhirVersion=4.0). Every reference `
      + 'parameter can be chained (patient.identifier, subject:Patient.name, several levels) and reverse-chained with _has; '
      + '_include and _revinclude (with :iterate) follow every reference parameter listed; _summary and _elements subset searches and reads. '
      + 'Conditional updates and deletes are served as entries of batch and transaction Bundles (Orthanc passes no query string with a PUT or DELETE).',
    ...(server.security ? { security: server.security } : {}),
    resource: providers.map((provider) => {
      const entry: Record<string, unknown> = {
        type: provider.type,
        interaction: provider.interactions.map((code) => ({ code })),
      };
      if (provider.documentation) entry.documentation = provider.documentation;
      if (provider.interactions.includes('vread')) entry.versioning = 'versioned';
      if (provider.interactions.includes('create') && provider.searchAll) entry.conditionalCreate = true;
      if (provider.conditionalUpdate) entry.conditionalUpdate = true;
      if (provider.conditionalDelete) entry.conditionalDelete = 'single';
      if (provider.searchInclude?.length) entry.searchInclude = [...provider.searchInclude];
      if (provider.searchRevInclude?.length) entry.searchRevInclude = [...provider.searchRevInclude];
      if (provider.searchParams.length > 0) {
        entry.searchParam = provider.searchParams.map((param) => {
          const declared: Record<string, string> = { name: param.name, type: param.type };
          if (param.definition) declared.definition = param.definition;
          if (param.documentation) declared.documentation = param.documentation;
          return declared;
        });
      }
      if (provider.operations?.length) {
        entry.operation = provider.operations.map((operation) => ({
          name: operation.name,
          definition: operation.definition,
          ...(operation.documentation ? { documentation: operation.documentation } : {}),
        }));
      }
      return entry;
    }),
  };
  if (systemInteractions.length > 0) {
    rest.interaction = systemInteractions.map((code) => ({ code }));
  }
  if (operations.length > 0) {
    rest.operation = operations.map((operation) => ({
      name: operation.name,
      definition: operation.definition ?? `${baseUrl}/OperationDefinition/${operation.name}`,
      ...(operation.documentation ? { documentation: operation.documentation } : {}),
    }));
  }
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: server.date,
    publisher: 'orthanc-fhir',
    kind: 'instance',
    software: { name: server.name, version: server.version },
    implementation: { description: `Orthanc ${server.orthancVersion} with orthanc-fhir`, url: baseUrl },
    fhirVersion: '5.0.0',
    format: ['application/fhir+json', 'json'],
    rest: [rest],
  };
}
