// Validation of what R4 (4.0.1) clients write: Patient, ServiceRequest, Task,
// Subscription (the backport IG's form), before src/fhir/r4 converts them to R5.
//
//   validateR4Resource(type, body, options?)
//     Returns when `body` is a valid R4 `type` resource; throws the same
//     OperationOutcomeErrors as validateResource otherwise:
//     - 400 (code 'invalid', expression ['resourceType']) when the body is
//       not a JSON object, or its resourceType is missing or is not `type`;
//     - 422 with one issue per problem (expression such as
//       'ServiceRequest.code.coding[0].system'), at most `maxIssues` (50):
//       * the R4 schema scripts/gen-r4-validators.js derives from HL7's R4
//         files (schemas/validators/fhir-r4-writes.js): unknown elements (an
//         R5 element, Medplum's meta.project...) and wrong JSON types
//         ('structure'), missing elements of min >= 1 ('required'; a choice
//         such as Task.input.value[x] once, at Task.input[0].value), bad
//         primitive values ('value'), codes outside a required binding
//         ('code-invalid'); contained resources of these types too;
//       * the FHIR JSON rules (no null, no empty string, array or object; at
//         most 64 levels of nesting).
//     The worklist's business rules are not checked here: they run on the
//     converted R5 resource (validateResource).
import type { ErrorObject } from 'ajv';
import type * as Generated from '../../schemas/validators/fhir-r4-writes';
import { MAX_ISSUES, expectedResource, structureIssues, throwIssues } from './outcome';
import { type Path, fromPointer } from './paths';
import { type Issue, type SchemaRelease, issueFromAjv } from './schema';

/**
 * The types scripts/gen-r4-validators.js generates a validator for (its
 * WRITE_TYPES), not R5's VALIDATED_TYPES: the R4 form of a Subscription
 * (criteria, channel) is checked here whatever R5 validation covers.
 */
export type R4ValidatedType = keyof Omit<typeof Generated, 'patternTypes'>;

export const R4_VALIDATED_TYPES: readonly R4ValidatedType[] = ['Patient', 'ServiceRequest', 'Subscription', 'Task'];

export interface R4ValidationOptions {
  /** Most issues in the OperationOutcome (MAX_ISSUES, 50, by default, as validateResource). */
  maxIssues?: number;
}

let generated: typeof Generated | undefined;

/** The generated module (0.5 MB), loaded on the first R4 write. */
function validators(): typeof Generated {
  generated ??= require('../../schemas/validators/fhir-r4-writes') as typeof Generated;
  return generated;
}

const R4: SchemaRelease = { name: 'R4', patternTypes: () => validators().patternTypes };

const isR4ValidatedType = (type: string): type is R4ValidatedType => (R4_VALIDATED_TYPES as readonly string[]).includes(type);

/** The branch of a required choice an error comes from: '#/anyOf/3/required' -> '#/anyOf'. */
const CHOICE_BRANCH = /^(.*\/anyOf)\/\d+\/required$/;

/** The longest common prefix of the JSON names of a choice: 'value' for valueString, valueCode... */
function choiceName(names: string[]): string {
  let prefix = names[0] ?? '';
  for (const name of names) while (!name.startsWith(prefix)) prefix = prefix.slice(0, -1);
  // valueDate and valueDateTime alone would give 'valueDate': drop the type.
  return names.includes(prefix) ? prefix.replace(/[A-Z][A-Za-z0-9]*$/, '') : prefix;
}

/**
 * The issues of ajv's errors: a required choice element fails as one
 * `required` error per type and an `anyOf` error, reported once.
 */
function issuesFromErrors(errors: ErrorObject[], resource: unknown): Issue[] {
  // In the order of the errors: an issue, or the names of a required choice (filled as its errors come).
  const found: Array<Issue | { path: Path; names: string[] }> = [];
  const choices = new Map<string, { path: Path; names: string[] }>();
  for (const error of errors) {
    const branch = error.keyword === 'required' ? CHOICE_BRANCH.exec(error.schemaPath) : null;
    if (branch) {
      const key = `${error.instancePath}\u0000${branch[1]}`;
      let choice = choices.get(key);
      if (!choice) {
        choice = { path: fromPointer(error.instancePath), names: [] };
        choices.set(key, choice);
        found.push(choice);
      }
      choice.names.push(String((error.params as { missingProperty?: unknown }).missingProperty));
    } else if (!(error.keyword === 'anyOf' && choices.has(`${error.instancePath}\u0000${error.schemaPath}`))) {
      found.push(issueFromAjv(error, resource, R4));
    }
  }
  return found.map((item): Issue => {
    if (!('names' in item)) return item;
    const name = choiceName(item.names);
    const listed = item.names.length <= 6 ? item.names.join(', ') : `${item.names.slice(0, 5).join(', ')}... (${item.names.length} types)`;
    return { path: [...item.path, name], code: 'required', diagnostics: `The element '${name}[x]' is required: one of ${listed}` };
  });
}

function schemaIssues(type: R4ValidatedType, resource: unknown, base: Path): Issue[] {
  const validate = validators()[type];
  if (validate(resource)) return [];
  return issuesFromErrors(validate.errors ?? [], resource).map((issue) => ({ ...issue, path: [...base, ...issue.path] }));
}

/** Throws an OperationOutcomeError (400 or 422, see above) unless `body` is a valid R4 `type` resource. */
export function validateR4Resource(type: R4ValidatedType, body: unknown, options: R4ValidationOptions = {}): void {
  if (!isR4ValidatedType(type)) throw new Error(`validateR4Resource: no validator for ${String(type)}`);
  const resource = expectedResource(type, body);
  throwIssues(type, structureIssues(resource, isR4ValidatedType, schemaIssues), options.maxIssues ?? MAX_ISSUES);
}
