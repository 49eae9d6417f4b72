// The R4 (4.0.1) view of this R5 (5.0.0) server: pure conversions of the
// resources it serves, following the official R4 <-> R5 version maps, with
// the cross-version extensions for what one version has and the other has
// not (see extensions.ts), so that R5 -> R4 -> R5 is lossless for the data
// the server holds and R4 -> R5 -> R4 gives an R4 client back what it wrote.
// Neither function mutates its input; types with no differences are deep
// copies. Contained resources, Bundle entries and Parameters resources are
// converted too. Subscription takes the form of the Subscriptions R5 Backport
// IG, and SubscriptionStatus, which R4 lacks, becomes its Parameters
// (subscription.ts).
import type { Resource } from '../types';
import { bundleFromR4, bundleToR4 } from './bundle';
import { capabilityStatementFromR4, capabilityStatementToR4 } from './capability-statement';
import { endpointFromR4, endpointToR4 } from './endpoint';
import { imagingStudyFromR4, imagingStudyToR4 } from './imaging-study';
import { type Json, deepCopy, isObject } from './json';
import { operationOutcomeFromR4, operationOutcomeToR4 } from './operation-outcome';
import { parametersFromR4, parametersToR4 } from './parameters';
import { serviceRequestFromR4, serviceRequestToR4 } from './service-request';
import { subscriptionFromR4, subscriptionStatusToR4, subscriptionToR4 } from './subscription';
import { taskFromR4, taskToR4 } from './task';

export { DEFAULT_R4_PAYLOAD_TYPE } from './endpoint';
export { R4_FHIR_VERSION, R5_FHIR_VERSION, R5_ONLY_TYPES } from './capability-statement';
export { R4_EXTENSION_BASE, R5_EXTENSION_BASE, crossVersionUrl } from './extensions';
export {
  BACKPORT_NOTIFICATION_PROFILE,
  BACKPORT_STATUS_PROFILE,
  BACKPORT_SUBSCRIPTION_PROFILE,
  SUBSCRIPTION_ERROR_EXTENSION,
} from './subscription';
export {
  queryFromR4,
  queryToR4,
  rewriteQueryString,
  searchDefinition,
  searchNameFromR4,
  searchNameToR4,
} from './search-names';

type Convert = (resource: Json) => Json;

interface TypeConversion {
  toR4: (resource: Json, convert: Convert) => Json;
  fromR4: (resource: Json, convert: Convert) => Json;
}

const CONVERSIONS: Readonly<Record<string, TypeConversion>> = {
  ImagingStudy: { toR4: imagingStudyToR4, fromR4: imagingStudyFromR4 },
  Endpoint: { toR4: endpointToR4, fromR4: endpointFromR4 },
  ServiceRequest: { toR4: serviceRequestToR4, fromR4: serviceRequestFromR4 },
  Task: { toR4: taskToR4, fromR4: taskFromR4 },
  Subscription: { toR4: subscriptionToR4, fromR4: subscriptionFromR4 },
  // R4 has no SubscriptionStatus (its Parameters form stays a Parameters
  // going back, but in a notification Bundle: bundle.ts): one that an R4
  // client sends all the same is left for the core to refuse.
  SubscriptionStatus: { toR4: subscriptionStatusToR4, fromR4: (resource) => resource },
  Bundle: { toR4: bundleToR4, fromR4: bundleFromR4 },
  OperationOutcome: { toR4: operationOutcomeToR4, fromR4: operationOutcomeFromR4 },
  CapabilityStatement: { toR4: capabilityStatementToR4, fromR4: capabilityStatementFromR4 },
  Parameters: { toR4: parametersToR4, fromR4: parametersFromR4 },
  // Patient: the same elements in R4 and R5 (the version maps list no
  // change), so only its contained resources convert.
};

function convertResource(resource: Json, direction: keyof TypeConversion): Json {
  const convert: Convert = (inner) => convertResource(inner, direction);
  const type = typeof resource.resourceType === 'string' ? resource.resourceType : '';
  const conversion = CONVERSIONS[type];
  let result = conversion ? conversion[direction](resource, convert) : resource;
  if (Array.isArray(result.contained)) {
    result = {
      ...result,
      contained: result.contained.map((item: unknown) => (isObject(item) ? convert(item) : item)),
    };
  }
  return result;
}

function asResource(json: Json): Resource {
  if (typeof json.resourceType !== 'string') throw new TypeError('not a FHIR resource: resourceType is missing');
  return json as Resource;
}

/** An R5 resource as R4 (4.0.1) JSON. */
export function toR4(resource: Resource): Resource {
  // The converters copy what they change and share the rest with the input:
  // one deep copy makes the output independent of it.
  return asResource(deepCopy(convertResource(resource, 'toR4')));
}

/** R4 (4.0.1) JSON as the R5 resource. */
export function fromR4(resource: Resource): Resource {
  return asResource(deepCopy(convertResource(resource, 'fromR4')));
}
