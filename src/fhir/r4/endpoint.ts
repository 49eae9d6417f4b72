// Endpoint R5 <-> R4 (https://hl7.org/fhir/R5/endpoint-version-maps.html):
// connectionType is one Coding in R4, a CodeableConcept list in R5;
// payload[].type/mimeType are R4's payloadType (1..*) and payloadMimeType;
// description and environmentType have no R4 home; R4 status 'test' none
// in R5 (and R5's 'limited', where used, none in R4).
import { conceptsAsOneCoding } from './datatypes';
import {
  type ElementMap,
  codeBackward,
  codeForward,
  complex,
  extensionOnly,
  mapBackward,
  mapForward,
  typed,
} from './extensions';
import { type Json, deepCopy, nonEmpty, objects } from './json';

export const ENDPOINT_PAYLOAD_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/endpoint-payload-type';

/**
 * R4's payloadType when the R5 Endpoint states none (R4 requires one): the
 * DICOMweb payload of the R4 DICOM examples.
 */
export const DEFAULT_R4_PAYLOAD_TYPE: Readonly<Json> = {
  coding: [{ system: ENDPOINT_PAYLOAD_TYPE_SYSTEM, code: 'DICOM WADO-RS', display: 'DICOM WADO-RS' }],
};

/** R5's "any payload", which this server's DICOMweb Endpoint states (R5's value set has no DICOM code). */
const ANY_PAYLOAD: Readonly<Json> = { coding: [{ system: ENDPOINT_PAYLOAD_TYPE_SYSTEM, code: 'any', display: 'Any' }] };

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Whether an Endpoint is a DICOMweb WADO-RS one (R5 connectionType list, or R4's one Coding). */
function isWadoRs(resource: Json): boolean {
  return JSON.stringify(resource.connectionType ?? '').includes('"code":"dicom-wado-rs"');
}

/**
 * A WADO-RS Endpoint's R4 payloadType is 'DICOM WADO-RS', as the R4 DICOM
 * examples have it, where R5 says 'any'; and back. Symmetric, so lossless.
 */
function swapPayload(resource: Json, from: Readonly<Json>, to: Readonly<Json>): Json {
  if (!isWadoRs(resource) || !Array.isArray(resource.payloadType)) return resource;
  return { ...resource, payloadType: resource.payloadType.map((type: unknown) => (sameJson(type, from) ? deepCopy(to) : type)) };
}

const R4_STATUS = ['active', 'suspended', 'error', 'off', 'entered-in-error', 'test'];
const R5_STATUS = ['active', 'limited', 'suspended', 'error', 'off', 'entered-in-error'];

const payload: ElementMap = {
  element: 'payload',
  targets: ['payloadType', 'payloadMimeType'],
  repeats: true,
  codec: complex([
    { name: 'type', type: 'CodeableConcept', repeats: true },
    { name: 'mimeType', type: 'Code', repeats: true },
  ]),
  project: (value) => {
    const items = objects(value);
    const types = items.flatMap((item) => objects(item.type));
    const mimeTypes = items.flatMap((item) => (Array.isArray(item.mimeType) ? item.mimeType : []));
    return {
      payloadType: types.length > 0 ? types : [deepCopy(DEFAULT_R4_PAYLOAD_TYPE)],
      payloadMimeType: nonEmpty(mimeTypes),
    };
  },
  unproject: (targets) => {
    const item: Json = {};
    if (Array.isArray(targets.payloadType)) item.type = targets.payloadType;
    if (Array.isArray(targets.payloadMimeType)) item.mimeType = targets.payloadMimeType;
    return Object.keys(item).length > 0 ? [item] : undefined;
  },
};

const ENDPOINT: readonly ElementMap[] = [
  conceptsAsOneCoding('connectionType'),
  payload,
  extensionOnly('description', typed('String'), false),
  extensionOnly('environmentType', typed('CodeableConcept'), true),
];

export function endpointToR4(resource: Json): Json {
  let result = mapForward(resource, 'Endpoint', ENDPOINT, 'R5');
  if (result.payloadType === undefined) {
    result = { ...result, payloadType: [deepCopy(DEFAULT_R4_PAYLOAD_TYPE)] };
  }
  result = swapPayload(result, ANY_PAYLOAD, DEFAULT_R4_PAYLOAD_TYPE);
  result = codeForward(result, 'status', 'Endpoint', R4_STATUS, 'active', 'R5');
  return codeBackward(result, 'status', 'Endpoint', 'active', 'R4');
}

export function endpointFromR4(resource: Json): Json {
  let result = mapBackward(swapPayload(resource, DEFAULT_R4_PAYLOAD_TYPE, ANY_PAYLOAD), 'Endpoint', ENDPOINT, 'R5');
  result = codeBackward(result, 'status', 'Endpoint', 'active', 'R5');
  return codeForward(result, 'status', 'Endpoint', R5_STATUS, 'active', 'R4');
}

