// Task R5 <-> R4 (https://hl7.org/fhir/R5/task-version-maps.html):
// statusReason CodeableReference -> CodeableConcept; reason -> reasonCode +
// reasonReference (both 0..1 in R4); requestedPerformer CodeableReference
// list -> performerType concepts; performer, requestedPeriod and
// doNotPerform have no R4 home; input/output value[x] types added in R5.
import { R5_ONLY_VALUE_MAPS, referenceAsConcept, splitReferences } from './datatypes';
import { type ElementMap, complex, extensionOnly, mapBackward, mapForward, mapItems, typed } from './extensions';
import type { Json } from './json';

const TASK: readonly ElementMap[] = [
  referenceAsConcept('statusReason'),
  splitReferences('reason', {
    concepts: 'reasonCode',
    references: 'reasonReference',
    singleConcept: true,
    singleReference: true,
  }),
  splitReferences('requestedPerformer', { concepts: 'performerType' }),
  extensionOnly(
    'performer',
    complex([
      { name: 'function', type: 'CodeableConcept' },
      { name: 'actor', type: 'Reference' },
    ]),
    true,
  ),
  extensionOnly('requestedPeriod', typed('Period'), false),
  extensionOnly('doNotPerform', typed('Boolean'), false),
];

export function taskToR4(resource: Json): Json {
  let result = mapForward(resource, 'Task', TASK, 'R5');
  for (const element of ['input', 'output']) {
    result = mapItems(result, element, (item) => mapForward(item, `Task.${element}`, R5_ONLY_VALUE_MAPS, 'R5'));
  }
  return result;
}

export function taskFromR4(resource: Json): Json {
  let result = mapBackward(resource, 'Task', TASK, 'R5');
  for (const element of ['input', 'output']) {
    result = mapItems(result, element, (item) => mapBackward(item, `Task.${element}`, R5_ONLY_VALUE_MAPS, 'R5'));
  }
  return result;
}
