// The rules of FHIR's JSON representation the schema does not check: no
// nulls, no empty (or whitespace-only) strings, no empty arrays or objects.
// Also bounds the nesting depth, so that a hostile body cannot exhaust the
// stack of the (recursive) schema validators.
import type { Issue } from './schema';
import type { Path } from './paths';

/** Deeper than any real resource (an Extension in an Extension... stays far below). */
export const MAX_DEPTH = 64;

export interface JsonRulesResult {
  issues: Issue[];
  /** True when the body nests deeper than MAX_DEPTH: nothing else should look at it. */
  tooDeep: boolean;
}

export function jsonRuleIssues(resource: object): JsonRulesResult {
  const issues: Issue[] = [];
  // Iterative, so that the depth check itself cannot overflow the stack.
  const stack: Array<{ value: unknown; path: Path }> = [{ value: resource, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (path.length > MAX_DEPTH) {
      return {
        issues: [{ path: [], code: 'structure', diagnostics: `The resource nests deeper than ${MAX_DEPTH} levels` }],
        tooDeep: true,
      };
    }
    if (value === null) {
      issues.push({ path, code: 'structure', diagnostics: 'null is not allowed in FHIR JSON: leave the element out' });
    } else if (typeof value === 'string') {
      if (value.trim() === '') {
        issues.push({ path, code: 'value', diagnostics: 'Empty or whitespace-only strings are not allowed in FHIR JSON: leave the element out' });
      }
    } else if (Array.isArray(value)) {
      if (value.length === 0) {
        issues.push({ path, code: 'structure', diagnostics: 'Empty arrays are not allowed in FHIR JSON: leave the element out' });
      }
      for (let index = value.length - 1; index >= 0; index--) stack.push({ value: value[index], path: [...path, index] });
    } else if (typeof value === 'object') {
      const keys = Object.keys(value);
      if (keys.length === 0) {
        issues.push({ path, code: 'structure', diagnostics: 'Empty objects are not allowed in FHIR JSON: leave the element out' });
      }
      for (let index = keys.length - 1; index >= 0; index--) {
        stack.push({ value: (value as Record<string, unknown>)[keys[index]], path: [...path, keys[index]] });
      }
    }
  }
  return { issues, tooDeep: false };
}
