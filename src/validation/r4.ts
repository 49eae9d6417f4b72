// Validation of what R4 (4.0.1) clients write: Patient, ServiceRequest, Task,
// before src/fhir/r4 converts them to R5.
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
//         ('code-invalid'); contained Patient, ServiceRequest and Task too;
//       * the FHIR JSON rules (no null, no empty string, array or object; at
//         most 64 levels of nesting).
//     The worklist's business rules are not checked here: they run on the
//     converted R5 resource (validateResource).
import type { ErrorObject } from 'ajv';
import { OperationOutcomeError, badRequest } from '../fhir/outcome';
import type { OperationOutcome, OperationOutcomeIssue } from '../fhir/types';
import type * as Generated from '../../schemas/validators/fhir-r4-writes';
import { jsonRuleIssues } from './json-rules';
import { type Path, fromPointer, isWithin, toExpression } from './paths';
import { type Issue, type SchemaRelease, type ValidatedType, VALIDATED_TYPES, issueFromAjv } from './schema';

export type R4ValidatedType = ValidatedType;

export interface R4ValidationOptions {
  /** Most issues in the OperationOutcome (50 by default, as validateResource). */
  maxIssues?: number;
}

const MAX_ISSUES = 50;

let generated: typeof Generated | undefined;

/** The generated module (0.5 MB), loaded on the first R4 write. */
function validators(): typeof Generated {
  generated ??= require('../../schemas/validators/fhir-r4-writes') as typeof Generated;
  return generated;
}

/** Loads the generated R4 validators now. */
export function preloadR4Validators(): void {
  validators();
}

const R4: SchemaRelease = { name: 'R4', patternTypes: () => validators().patternTypes };

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const isR4ValidatedType = (type: string): type is R4ValidatedType => (VALIDATED_TYPES as readonly string[]).includes(type);

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

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

function collectIssues(type: R4ValidatedType, resource: Json): Issue[] {
  const json = jsonRuleIssues(resource);
  if (json.tooDeep) return json.issues;
  const flagged: Path[] = json.issues.map((issue) => issue.path);
  // A null or an empty string also fails its type or pattern: say it once.
  const fresh = (issue: Issue) => !flagged.some((path) => isWithin(issue.path, path));
  const schema = schemaIssues(type, resource, []).filter(fresh);
  const contained = Array.isArray(resource.contained) ? resource.contained : [];
  contained.forEach((item, index) => {
    if (isObject(item) && typeof item.resourceType === 'string' && isR4ValidatedType(item.resourceType)) {
      schema.push(...schemaIssues(item.resourceType, item, ['contained', index]).filter(fresh));
    }
  });
  return [...schema, ...json.issues];
}

/** As validateResource's: unique issues, at most `maxIssues`, the last then counting the others. */
function toOutcomeIssues(type: string, issues: Issue[], maxIssues: number): OperationOutcomeIssue[] {
  const seen = new Set<string>();
  const unique: OperationOutcomeIssue[] = [];
  for (const issue of issues) {
    const expression = toExpression(type, issue.path);
    const key = `${expression}\u0000${issue.code}\u0000${issue.diagnostics}`;
    if (seen.has(key)) continue;
    seen.add(key);
    unique.push({ severity: 'error', code: issue.code, diagnostics: issue.diagnostics, expression: [expression] });
  }
  const max = Math.max(2, maxIssues);
  if (unique.length <= max) return unique;
  const kept = unique.slice(0, max - 1);
  kept.push({
    severity: 'information',
    code: 'too-costly',
    diagnostics: `${unique.length - kept.length} more issues were found and are not listed`,
  });
  return kept;
}

/** Throws an OperationOutcomeError (400 or 422, see above) unless `body` is a valid R4 `type` resource. */
export function validateR4Resource(type: R4ValidatedType, body: unknown, options: R4ValidationOptions = {}): void {
  if (!isR4ValidatedType(type)) throw new Error(`validateR4Resource: no validator for ${String(type)}`);
  if (!isObject(body)) {
    throw badRequest(`The body must be a JSON object (a ${type} resource), not ${describe(body)}`);
  }
  const resourceType = body.resourceType;
  if (resourceType === undefined) {
    throw badRequest(`The body has no resourceType: a ${type} resource is expected`, ['resourceType']);
  }
  if (resourceType !== type) {
    const found = typeof resourceType === 'string' ? `a ${resourceType} resource` : `a resourceType that is ${describe(resourceType)}`;
    throw badRequest(`The body is ${found}, but a ${type} resource is expected here`, ['resourceType']);
  }
  const issues = collectIssues(type, body);
  if (issues.length === 0) return;
  const outcome: OperationOutcome = {
    resourceType: 'OperationOutcome',
    issue: toOutcomeIssues(type, issues, options.maxIssues ?? MAX_ISSUES),
  };
  throw new OperationOutcomeError(422, outcome);
}
