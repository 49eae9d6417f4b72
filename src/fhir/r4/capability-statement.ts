// CapabilityStatement R5 <-> R4
// (https://hl7.org/fhir/R5/capabilitystatement-version-maps.html):
// fhirVersion '4.0.1' on the R4 side ('5.0.0' back); identifier,
// versionAlgorithm[x], copyrightLabel, acceptLanguage and
// rest.resource.conditionalPatch have no R4 home (extensions); the search
// parameter names, their official definitions, and searchInclude /
// searchRevInclude are renamed per search-names.ts. The types served in R5
// only (R5_ONLY_TYPES) are left out of the R4 statement, and out of the
// includes of the others.
import { type ElementMap, extensionOnly, mapBackward, mapForward, mapItems, typed } from './extensions';
import { type Json, isObject } from './json';
import { type SearchVersion, searchDefinition, searchNameFromR4, searchNameToR4 } from './search-names';

export const R4_FHIR_VERSION = '4.0.1';
export const R5_FHIR_VERSION = '5.0.0';

/**
 * Types this server serves to R5 clients only, answering an R4 request for
 * them 404: AuditEvent, whose R4 shape differs in most elements (type and
 * subtype for category and code, outcome a code, agent.network, no patient;
 * see auditevent-version-maps.html) and is written by the server alone, so
 * that there is no R4 client data to keep; SubscriptionTopic, which R4 does
 * not have (an R4 Subscription of the backport IG names its topic by the
 * canonical URL alone, in criteria).
 */
export const R5_ONLY_TYPES: readonly string[] = ['AuditEvent', 'SubscriptionTopic'];

/** An include value ('Source:param[:Target]') that names an R5-only type. */
function namesR5Only(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const [source, , target] = value.split(':');
  return R5_ONLY_TYPES.includes(source ?? '') || (target !== undefined && R5_ONLY_TYPES.includes(target));
}

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
    if (!Array.isArray(values)) continue;
    const kept = to === 'R4' ? values.filter((value: unknown) => !namesR5Only(value)) : values;
    result = { ...result, [element]: kept.map((value: unknown) => renameInclude(value, to)) };
    if (kept.length === 0) delete result[element];
  }
  return result;
}

function convert(statement: Json, to: SearchVersion): Json {
  let result = to === 'R4' ? mapForward(statement, 'CapabilityStatement', STATEMENT, 'R5')
    : mapBackward(statement, 'CapabilityStatement', STATEMENT, 'R5');
  if (typeof result.fhirVersion === 'string') {
    result = { ...result, fhirVersion: to === 'R4' ? R4_FHIR_VERSION : R5_FHIR_VERSION };
  }
  return mapItems(result, 'rest', (rest) => {
    let served = rest;
    if (to === 'R4' && Array.isArray(rest.resource)) {
      const resource = rest.resource.filter((item: unknown) => !(isObject(item) && R5_ONLY_TYPES.includes(String(item.type))));
      served = { ...rest, resource };
      if (resource.length === 0) delete served.resource;
    }
    return mapItems(served, 'resource', (resource) => (isObject(resource) ? convertResource(resource, to) : resource));
  });
}

/**
 * A generated narrative is left behind: it named the R5 version and the
 * R5-only types, which the R4 statement has not (the edge makes the R4
 * statement its own, src/interactions/version-view.ts).
 */
export function capabilityStatementToR4(resource: Json): Json {
  const { text, ...rest } = resource;
  return convert(isObject(text) && text.status === 'generated' ? rest : resource, 'R4');
}

export function capabilityStatementFromR4(resource: Json): Json {
  return convert(resource, 'R5');
}
