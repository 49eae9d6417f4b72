// CapabilityStatement R5 <-> R4
// (https://hl7.org/fhir/R5/capabilitystatement-version-maps.html):
// fhirVersion '4.0.1' on the R4 side ('5.0.0' back); identifier,
// versionAlgorithm[x], copyrightLabel, acceptLanguage and
// rest.resource.conditionalPatch have no R4 home (extensions); the search
// parameter names, their official definitions, and searchInclude /
// searchRevInclude are renamed per search-names.ts.
import { type ElementMap, extensionOnly, mapBackward, mapForward, mapItems, typed } from './extensions';
import { type Json, isObject } from './json';
import { type SearchVersion, searchDefinition, searchNameFromR4, searchNameToR4 } from './search-names';

export const R4_FHIR_VERSION = '4.0.1';
export const R5_FHIR_VERSION = '5.0.0';

const STATEMENT: readonly ElementMap[] = [
  extensionOnly('identifier', typed('Identifier'), true),
  { ...extensionOnly('versionAlgorithmString', typed('String'), false), urlName: 'versionAlgorithm' },
  { ...extensionOnly('versionAlgorithmCoding', typed('Coding'), false), urlName: 'versionAlgorithm' },
  extensionOnly('copyrightLabel', typed('String'), false),
  extensionOnly('acceptLanguage', typed('Code'), true),
];

const RESOURCE: readonly ElementMap[] = [extensionOnly('conditionalPatch', typed('Boolean'), false)];

function renameInclude(value: unknown, to: SearchVersion): unknown {
  if (typeof value !== 'string') return value;
  const [source, code, ...rest] = value.split(':');
  if (source === undefined || code === undefined) return value;
  const renamed = to === 'R4' ? searchNameToR4(source, code) : searchNameFromR4(source, code);
  return [source, renamed, ...rest].join(':');
}

function convertResource(resource: Json, to: SearchVersion): Json {
  let result = to === 'R4' ? mapForward(resource, 'CapabilityStatement.rest.resource', RESOURCE, 'R5')
    : mapBackward(resource, 'CapabilityStatement.rest.resource', RESOURCE, 'R5');
  const type = typeof resource.type === 'string' ? resource.type : '';
  result = mapItems(result, 'searchParam', (param) => {
    const converted: Json = { ...param };
    if (typeof param.name === 'string') {
      converted.name = to === 'R4' ? searchNameToR4(type, param.name) : searchNameFromR4(type, param.name);
    }
    if (typeof param.definition === 'string') converted.definition = searchDefinition(param.definition, to);
    return converted;
  });
  for (const element of ['searchInclude', 'searchRevInclude']) {
    const values = result[element];
    if (Array.isArray(values)) result = { ...result, [element]: values.map((value: unknown) => renameInclude(value, to)) };
  }
  return result;
}

function convert(statement: Json, to: SearchVersion): Json {
  let result = to === 'R4' ? mapForward(statement, 'CapabilityStatement', STATEMENT, 'R5')
    : mapBackward(statement, 'CapabilityStatement', STATEMENT, 'R5');
  if (typeof result.fhirVersion === 'string') {
    result = { ...result, fhirVersion: to === 'R4' ? R4_FHIR_VERSION : R5_FHIR_VERSION };
  }
  return mapItems(result, 'rest', (rest) =>
    mapItems(rest, 'resource', (resource) => (isObject(resource) ? convertResource(resource, to) : resource)),
  );
}

export function capabilityStatementToR4(resource: Json): Json {
  return convert(resource, 'R4');
}

export function capabilityStatementFromR4(resource: Json): Json {
  return convert(resource, 'R5');
}
