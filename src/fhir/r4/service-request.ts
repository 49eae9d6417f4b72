// ServiceRequest R5 <-> R4 (https://hl7.org/fhir/R5/servicerequest-version-maps.html):
// code CodeableReference -> CodeableConcept; orderDetail (R5 BackboneElement)
// -> its parameterFocus concept; location -> locationCode +
// locationReference; reason -> reasonCode + reasonReference; supportingInfo
// CodeableReference -> Reference; patientInstruction[].instructionMarkdown
// -> patientInstruction string; focus and bodyStructure have no R4 home.
import { referenceAsConcept, splitReferences } from './datatypes';
import {
  CODEABLE_REFERENCE_CHILDREN,
  type ElementMap,
  codeableReference,
  complex,
  extensionOnly,
  mapBackward,
  mapForward,
  typed,
} from './extensions';
import { type Json, asArray, isObject, nonEmpty, objects } from './json';

const orderDetail: ElementMap = {
  element: 'orderDetail',
  targets: ['orderDetail'],
  repeats: true,
  codec: complex([
    { name: 'parameterFocus', children: CODEABLE_REFERENCE_CHILDREN },
    {
      name: 'parameter',
      repeats: true,
      children: [
        { name: 'code', type: 'CodeableConcept' },
        { name: 'value', choice: true },
      ],
    },
  ]),
  project: (value) => ({
    orderDetail: nonEmpty(
      objects(value)
        .map((item) => (isObject(item.parameterFocus) ? item.parameterFocus.concept : undefined))
        .filter((concept) => concept !== undefined),
    ),
  }),
  // The official map: an R4 order detail is the focus of an R5 one.
  unproject: (targets) => nonEmpty(asArray(targets.orderDetail).map((concept) => ({ parameterFocus: { concept } }))),
};

const supportingInfo: ElementMap = {
  element: 'supportingInfo',
  targets: ['supportingInfo'],
  repeats: true,
  codec: codeableReference,
  project: (value) => ({
    supportingInfo: nonEmpty(objects(value).map((item) => item.reference).filter((reference) => reference !== undefined)),
  }),
  unproject: (targets) => nonEmpty(asArray(targets.supportingInfo).map((reference) => ({ reference }))),
};

const patientInstruction: ElementMap = {
  element: 'patientInstruction',
  targets: ['patientInstruction'],
  repeats: true,
  codec: complex([{ name: 'instruction', choice: true }]),
  project: (value) => ({
    patientInstruction: objects(value)
      .map((item) => item.instructionMarkdown)
      .find((markdown) => typeof markdown === 'string'),
  }),
  unproject: (targets) =>
    typeof targets.patientInstruction === 'string' ? [{ instructionMarkdown: targets.patientInstruction }] : undefined,
};

const SERVICE_REQUEST: readonly ElementMap[] = [
  referenceAsConcept('code'),
  orderDetail,
  splitReferences('location', { concepts: 'locationCode', references: 'locationReference' }),
  splitReferences('reason', { concepts: 'reasonCode', references: 'reasonReference' }),
  supportingInfo,
  patientInstruction,
  extensionOnly('focus', typed('Reference'), true),
  extensionOnly('bodyStructure', typed('Reference'), false),
];

export function serviceRequestToR4(resource: Json): Json {
  return mapForward(resource, 'ServiceRequest', SERVICE_REQUEST, 'R5');
}

export function serviceRequestFromR4(resource: Json): Json {
  return mapBackward(resource, 'ServiceRequest', SERVICE_REQUEST, 'R5');
}
