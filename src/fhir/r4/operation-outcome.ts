// OperationOutcome R5 <-> R4 (https://hl7.org/fhir/R5/operationoutcome-version-maps.html):
// the same elements; R5 issue codes 'limited-filter' and 'success' have no
// R4 code (the official map: no map) and become 'informational', the code
// kept in the extension of issue.code.
import { codeBackward, codeForward, mapItems } from './extensions';
import type { Json } from './json';

const R4_ISSUE_CODES = [
  'invalid', 'structure', 'required', 'value', 'invariant', 'security', 'login', 'unknown', 'expired', 'forbidden',
  'suppressed', 'processing', 'not-supported', 'duplicate', 'multiple-matches', 'not-found', 'deleted', 'too-long',
  'code-invalid', 'extension', 'too-costly', 'business-rule', 'conflict', 'transient', 'lock-error', 'no-store',
  'exception', 'timeout', 'incomplete', 'throttled', 'informational',
];

const PATH = 'OperationOutcome.issue';

export function operationOutcomeToR4(resource: Json): Json {
  return mapItems(resource, 'issue', (issue) => codeForward(issue, 'code', PATH, R4_ISSUE_CODES, 'informational', 'R5'));
}

export function operationOutcomeFromR4(resource: Json): Json {
  return mapItems(resource, 'issue', (issue) => codeBackward(issue, 'code', PATH, 'informational', 'R5'));
}
