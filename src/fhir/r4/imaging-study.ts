// ImagingStudy R5 <-> R4 (https://hl7.org/fhir/R5/imagingstudy-version-maps.html):
// modality and series.modality/laterality CodeableConcept -> Coding,
// series.bodySite CodeableReference -> Coding, procedure -> procedureCode +
// procedureReference, reason -> reasonCode + reasonReference; partOf has no
// R4 home, R4 interpreter no R5 one.
import { conceptAsCoding, referenceAsCoding, splitReferences } from './datatypes';
import { type ElementMap, extensionOnly, mapBackward, mapForward, mapItems, typed } from './extensions';
import type { Json } from './json';

const STUDY: readonly ElementMap[] = [
  conceptAsCoding('modality', true),
  splitReferences('procedure', { concepts: 'procedureCode', references: 'procedureReference', singleReference: true }),
  splitReferences('reason', { concepts: 'reasonCode', references: 'reasonReference' }),
  extensionOnly('partOf', typed('Reference'), true),
];

const SERIES: readonly ElementMap[] = [
  conceptAsCoding('modality', false),
  referenceAsCoding('bodySite'),
  conceptAsCoding('laterality', false),
];

/** R4 elements that R5 removed. */
const STUDY_R4_ONLY: readonly ElementMap[] = [extensionOnly('interpreter', typed('Reference'), true)];

export function imagingStudyToR4(resource: Json): Json {
  const study = mapBackward(mapForward(resource, 'ImagingStudy', STUDY, 'R5'), 'ImagingStudy', STUDY_R4_ONLY, 'R4');
  return mapItems(study, 'series', (series) => mapForward(series, 'ImagingStudy.series', SERIES, 'R5'));
}

export function imagingStudyFromR4(resource: Json): Json {
  const study = mapForward(mapBackward(resource, 'ImagingStudy', STUDY, 'R5'), 'ImagingStudy', STUDY_R4_ONLY, 'R4');
  return mapItems(study, 'series', (series) => mapBackward(series, 'ImagingStudy.series', SERIES, 'R5'));
}
