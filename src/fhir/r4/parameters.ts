// Parameters R5 <-> R4: the same structure; parameter.resource converts as
// a resource, parts recursively, and value[x] types that R5 added
// (valueCodeableReference, valueInteger64) as for Task.input.
import { R5_ONLY_VALUE_MAPS } from './datatypes';
import { mapBackward, mapForward, mapItems } from './extensions';
import { type Json, isObject } from './json';
import type { Converter } from './bundle';

const PATH = 'Parameters.parameter';

function convertParameter(parameter: Json, convert: Converter, direction: 'toR4' | 'fromR4'): Json {
  let result =
    direction === 'toR4'
      ? mapForward(parameter, PATH, R5_ONLY_VALUE_MAPS, 'R5')
      : mapBackward(parameter, PATH, R5_ONLY_VALUE_MAPS, 'R5');
  if (isObject(result.resource)) result = { ...result, resource: convert(result.resource) };
  return mapItems(result, 'part', (part) => convertParameter(part, convert, direction));
}

export function parametersToR4(resource: Json, convert: Converter): Json {
  return mapItems(resource, 'parameter', (parameter) => convertParameter(parameter, convert, 'toR4'));
}

export function parametersFromR4(resource: Json, convert: Converter): Json {
  return mapItems(resource, 'parameter', (parameter) => convertParameter(parameter, convert, 'fromR4'));
}
