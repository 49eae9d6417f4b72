// Element maps for the data type changes between R4 and R5 that the
// resources here share: CodeableConcept -> Coding, CodeableReference ->
// CodeableConcept and/or Reference.
import { type ElementMap, codeableReference, typed } from './extensions';
import { type Json, asArray, isObject, nonEmpty, objects } from './json';

/**
 * The Coding an R4 element gets for an R5 CodeableConcept: its first coding,
 * else a Coding with the text as display (an R4 Coding cannot say more; the
 * extension keeps the concept).
 */
export function conceptToCoding(concept: unknown): Json | undefined {
  if (!isObject(concept)) return undefined;
  const coding = objects(concept.coding)[0];
  if (coding) return coding;
  return typeof concept.text === 'string' ? { display: concept.text } : undefined;
}

export function codingToConcept(coding: unknown): Json | undefined {
  return isObject(coding) ? { coding: [coding] } : undefined;
}

/** R5 CodeableConcept -> R4 Coding, same element name (`repeats` for a list of each). */
export function conceptAsCoding(element: string, repeats: boolean): ElementMap {
  return {
    element,
    targets: [element],
    repeats,
    codec: typed('CodeableConcept'),
    project: (value) => ({
      [element]: repeats ? nonEmpty(asArray(value).map(conceptToCoding).filter((coding) => coding !== undefined)) : conceptToCoding(value),
    }),
    unproject: (targets) =>
      repeats
        ? nonEmpty(asArray(targets[element]).map(codingToConcept).filter((concept) => concept !== undefined))
        : codingToConcept(targets[element]),
  };
}

/** R5 CodeableConcept list -> R4 single Coding (Endpoint.connectionType). */
export function conceptsAsOneCoding(element: string): ElementMap {
  return {
    element,
    targets: [element],
    repeats: true,
    codec: typed('CodeableConcept'),
    project: (value) => ({ [element]: conceptToCoding(asArray(value)[0]) }),
    unproject: (targets) => {
      const concept = codingToConcept(targets[element]);
      return concept ? [concept] : undefined;
    },
  };
}

/** R5 CodeableReference -> R4 CodeableConcept (its concept), same name or `target`. */
export function referenceAsConcept(element: string, target = element): ElementMap {
  return {
    element,
    targets: [target],
    repeats: false,
    codec: codeableReference,
    project: (value) => ({ [target]: isObject(value) ? value.concept : undefined }),
    unproject: (targets) => (targets[target] !== undefined ? { concept: targets[target] } : undefined),
  };
}

/** R5 CodeableReference -> R4 Coding (ImagingStudy.series.bodySite). */
export function referenceAsCoding(element: string): ElementMap {
  return {
    element,
    targets: [element],
    repeats: false,
    codec: codeableReference,
    project: (value) => ({ [element]: isObject(value) ? conceptToCoding(value.concept) : undefined }),
    unproject: (targets) => {
      const concept = codingToConcept(targets[element]);
      return concept ? { concept } : undefined;
    },
  };
}

export interface SplitOptions {
  /** The R4 element for the concepts, undefined when R4 has none. */
  concepts?: string;
  /** The R4 element for the references, undefined when R4 has none. */
  references?: string;
  /** The R4 concept element is 0..1 (else 0..*). */
  singleConcept?: boolean;
  singleReference?: boolean;
}

/**
 * R5 CodeableReference list -> R4 concept list and/or reference list, as
 * the official maps do (reason -> reasonCode + reasonReference). The
 * concepts come back first, then the references; another order, an item
 * with both, or more items than R4 allows, needs the extension.
 */
export function splitReferences(element: string, options: SplitOptions): ElementMap {
  const targets = [options.concepts, options.references].filter((name): name is string => name !== undefined);
  return {
    element,
    targets,
    repeats: true,
    codec: codeableReference,
    project: (value) => {
      const items = objects(value);
      const result: Json = {};
      if (options.concepts) {
        const concepts = items.map((item) => item.concept).filter((concept) => concept !== undefined);
        result[options.concepts] = options.singleConcept ? concepts[0] : nonEmpty(concepts);
      }
      if (options.references) {
        const references = items.map((item) => item.reference).filter((reference) => reference !== undefined);
        result[options.references] = options.singleReference ? references[0] : nonEmpty(references);
      }
      return result;
    },
    unproject: (values) =>
      nonEmpty([
        ...(options.concepts ? asArray(values[options.concepts]).map((concept) => ({ concept })) : []),
        ...(options.references ? asArray(values[options.references]).map((reference) => ({ reference })) : []),
      ]),
  };
}

/**
 * The value[x] types R5 added (Task.input/output, Parameters.parameter):
 * valueCodeableReference is written in R4 as valueCodeableConcept or
 * valueReference, valueInteger64 as valueString (R4 extensions cannot be
 * integer64 either), each with the extension keeping the R5 value.
 */
export const R5_ONLY_VALUE_MAPS: readonly ElementMap[] = [
  {
    element: 'valueCodeableReference',
    targets: ['valueCodeableConcept', 'valueReference'],
    repeats: false,
    sharedTargets: true,
    urlName: 'value',
    codec: codeableReference,
    project: (value) =>
      isObject(value)
        ? value.concept !== undefined
          ? { valueCodeableConcept: value.concept }
          : { valueReference: value.reference }
        : {},
  },
  {
    element: 'valueInteger64',
    targets: ['valueString'],
    repeats: false,
    sharedTargets: true,
    urlName: 'value',
    codec: typed('String'),
    project: (value) => ({ valueString: value }),
  },
];
