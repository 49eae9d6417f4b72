// What R5 and R4 validation share: the 400s of a body that is not the
// expected resource, the schema and JSON-rule issues of a resource and of
// its contained ones, and the 422 OperationOutcome of the issues found.
import { OperationOutcomeError, badRequest } from '../fhir/outcome';
import type { OperationOutcome, OperationOutcomeIssue } from '../fhir/types';
import { jsonRuleIssues } from './json-rules';
import { type Path, isWithin, toExpression } from './paths';
import type { Issue } from './schema';

export const MAX_ISSUES = 50;

export type Json = Record<string, unknown>;

export const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** The body as a `type` resource, or the 400 of a body that is not one (not an object, no or another resourceType). */
export function expectedResource(type: string, body: unknown): Json {
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
  return body;
}

/**
 * The schema issues of a resource and of its contained resources of the
 * validated types, then the FHIR JSON rules' (a null or an empty string,
 * which also fails its type or pattern, said once).
 */
export function structureIssues<T extends string>(
  resource: Json,
  validated: (type: string) => type is T,
  schemaIssues: (type: T, resource: unknown, base: Path) => Issue[],
): Issue[] {
  const type = resource.resourceType as T;
  const json = jsonRuleIssues(resource);
  if (json.tooDeep) return json.issues;
  const flagged: Path[] = json.issues.map((issue) => issue.path);
  const fresh = (issue: Issue) => !flagged.some((path) => isWithin(issue.path, path));
  const schema = schemaIssues(type, resource, []).filter(fresh);
  const contained = Array.isArray(resource.contained) ? resource.contained : [];
  contained.forEach((item, index) => {
    if (isObject(item) && typeof item.resourceType === 'string' && validated(item.resourceType)) {
      schema.push(...schemaIssues(item.resourceType, item, ['contained', index]).filter(fresh));
    }
  });
  return [...schema, ...json.issues];
}

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

/** The 422 of the issues found, each once, at most `maxIssues` (the last then counting the others); none: nothing. */
export function throwIssues(type: string, issues: Issue[], maxIssues = MAX_ISSUES): void {
  if (issues.length === 0) return;
  const outcome: OperationOutcome = { resourceType: 'OperationOutcome', issue: toOutcomeIssues(type, issues, maxIssues) };
  throw new OperationOutcomeError(422, outcome);
}
