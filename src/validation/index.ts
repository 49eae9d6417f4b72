// Validation of the resources clients write: Patient, ServiceRequest, Task.
//
//   validateResource(type, body, options?)
//     Returns when `body` is a valid `type` resource; throws an
//     OperationOutcomeError otherwise, before anything is stored:
//     - 400 (code 'invalid', expression ['resourceType']) when the body is
//       not a JSON object, or its resourceType is missing or is not `type`
//       (the type of the URL, or of the transaction entry's request.url);
//     - 422 with one issue per problem (severity 'error', `expression` a
//       FHIRPath-like location such as 'ServiceRequest.identifier[0].system',
//       `diagnostics` saying what is wrong), at most `maxIssues` (50) of them,
//       the last then an 'information' issue counting the ones left out:
//       * the official R5 JSON schema (scripts/gen-validators.js generates
//         standalone ajv code from it into schemas/validators/): unknown
//         elements and wrong JSON types (code 'structure'), missing required
//         elements ('required'), values that do not match their primitive
//         type ('value'), codes outside a required binding ('code-invalid');
//         contained Patient, ServiceRequest and Task resources too;
//       * FHIR JSON rules the schema misses: no null, no empty or
//         whitespace-only string, no empty array or object; at most 64
//         levels of nesting;
//       * what the worklist needs ('required' when an element is missing,
//         'business-rule' when it is there but unusable):
//         ServiceRequest: status, intent, subject a literal Patient reference,
//           code.concept with a coding (with a code) or a text, and an
//           identifier of type v2-0203#ACSN with a value (accession number);
//         Task: status, intent, basedOn including a literal ServiceRequest
//           reference, for a literal Patient reference;
//         Patient: an identifier with a value, with the system
//           options.patientIdSystem when that is given.
//       A literal reference is 'Type/<id>', or 'urn:uuid:<uuid>': the fullUrl
//       of another entry of the same transaction, resolved when it is processed
//       (a 'type' given with it must then be the expected one).
//     Malformed JSON and the body size limit are the HTTP layer's: by the
//     time a body reaches validateResource, it has been parsed.
//
//   isValidatedType(type): whether validateResource knows `type`.
//   preloadValidators(): loads the generated code (0.5 MB) now instead of on
//     the first write.
import type { Resource } from '../fhir/types';
import { type Json, MAX_ISSUES, expectedResource, structureIssues, throwIssues } from './outcome';
import { toExpression } from './paths';
import { type RuleOptions, ruleIssues } from './rules';
import { type Issue, type ValidatedType, VALIDATED_TYPES, preloadValidators, schemaIssues } from './schema';

export { type ValidatedType, VALIDATED_TYPES, preloadValidators };
export { literalReferenceProblem } from './rules';
export { type R4ValidatedType, type R4ValidationOptions, validateR4Resource } from './r4';

export { MAX_ISSUES };

export interface ValidationOptions extends RuleOptions {
  /** Most issues in the OperationOutcome (MAX_ISSUES by default). */
  maxIssues?: number;
}

export function isValidatedType(type: string): type is ValidatedType {
  return (VALIDATED_TYPES as readonly string[]).includes(type);
}

/** Every problem of a resource whose resourceType is right, in the order: schema, JSON rules, business rules. */
function collectIssues(type: ValidatedType, resource: Json, options: RuleOptions): Issue[] {
  const found = structureIssues(resource, isValidatedType, schemaIssues);
  // A business rule about an element something else already reported on adds nothing.
  const located = new Set(found.map((issue) => toExpression(type, issue.path)));
  const rules = ruleIssues(type, resource, options).filter((issue) => !located.has(toExpression(type, issue.path)));
  return [...found, ...rules];
}

/** Throws an OperationOutcomeError (400 or 422, see above) unless `body` is a valid `type` resource. */
export function validateResource<T extends ValidatedType>(
  type: T,
  body: unknown,
  options: ValidationOptions = {},
): asserts body is Resource & { resourceType: T } {
  if (!isValidatedType(type)) throw new Error(`validateResource: no validator for ${String(type)}`);
  const resource = expectedResource(type, body);
  throwIssues(type, collectIssues(type, resource, options), options.maxIssues ?? MAX_ISSUES);
}
