// The schema check: the standalone ajv validators generated from the
// official R5 schema by scripts/gen-validators.js (schemas/validators/), and
// the mapping of their errors to issues.
import type { ErrorObject } from 'ajv';
import type * as Generated from '../../schemas/validators/fhir-r5-writes';
import { type Path, fromPointer, show, valueAt } from './paths';

export type ValidatedType = 'Patient' | 'ServiceRequest' | 'Subscription' | 'Task';

export const VALIDATED_TYPES: readonly ValidatedType[] = ['Patient', 'ServiceRequest', 'Subscription', 'Task'];

/** A problem found in a resource, located by its path from the resource root. */
export interface Issue {
  path: Path;
  code: 'required' | 'structure' | 'value' | 'code-invalid' | 'business-rule';
  diagnostics: string;
}

let generated: typeof Generated | undefined;

/**
 * The generated module (0.5 MB of code), loaded on the first validation
 * rather than at start-up; esbuild bundles it all the same.
 */
function validators(): typeof Generated {
  generated ??= require('../../schemas/validators/fhir-r5-writes') as typeof Generated;
  return generated;
}

/** Loads the generated validators now (to keep the first write's latency flat). */
export function preloadValidators(): void {
  validators();
}

/**
 * What the diagnostics of a set of generated validators depend on: the FHIR
 * release named in them, and its pattern -> primitive type table.
 */
export interface SchemaRelease {
  name: string;
  patternTypes(): Readonly<Record<string, string>>;
}

const R5: SchemaRelease = { name: 'R5', patternTypes: () => validators().patternTypes };

const ID_RULE = '1 to 64 characters among A-Z, a-z, 0-9, "-" and "."';

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `the ${typeof value} ${show(value)}`;
}

function patternIssue(error: ErrorObject, value: unknown, release: SchemaRelease): string {
  const pattern = String((error.params as { pattern?: unknown }).pattern);
  const primitive = release.patternTypes()[pattern];
  if (primitive === 'id') return `${show(value)} is not a valid id (${ID_RULE})`;
  if (primitive === 'dateTime') {
    return `${show(value)} is not a valid dateTime (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with a UTC offset such as Z or +01:00)`;
  }
  if (primitive === 'instant') return `${show(value)} is not a valid instant (YYYY-MM-DDThh:mm:ss with a UTC offset)`;
  if (primitive === 'code') return `${show(value)} is not a valid code (no leading, trailing or repeated whitespace)`;
  if (primitive === 'uri') return `${show(value)} is not a valid uri (no whitespace)`;
  if (primitive) return `${show(value)} is not a valid ${primitive}`;
  return `${show(value)} does not match the pattern ${pattern}`;
}

/** One ajv error as an issue; `path` is where the error lies (a missing or unknown element included). */
export function issueFromAjv(error: ErrorObject, resource: unknown, release: SchemaRelease = R5): Issue {
  const path = fromPointer(error.instancePath);
  const value = valueAt(resource, path);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required': {
      const missing = String(params.missingProperty);
      return { path: [...path, missing], code: 'required', diagnostics: `The element '${missing}' is required` };
    }
    case 'additionalProperties': {
      const unknown = String(params.additionalProperty);
      return {
        path: [...path, unknown],
        code: 'structure',
        diagnostics: `Unknown element '${unknown}': not an element of this FHIR ${release.name} type (check the spelling and the ${release.name} name)`,
      };
    }
    case 'type': {
      const expected = String(params.type);
      const article = /^[aeiou]/.test(expected) ? 'an' : 'a';
      return { path, code: 'structure', diagnostics: `Expected ${article} ${expected}, found ${describeType(value)}` };
    }
    case 'enum': {
      const allowed = Array.isArray(params.allowedValues) ? params.allowedValues.map(String) : [];
      if (path[path.length - 1] === 'resourceType') {
        return { path, code: 'code-invalid', diagnostics: `${show(value)} is not a FHIR ${release.name} resource type` };
      }
      const list = allowed.length <= 20 ? `: one of ${allowed.join(', ')}` : '';
      return { path, code: 'code-invalid', diagnostics: `${show(value)} is not an allowed code${list}` };
    }
    case 'const':
      return { path, code: 'value', diagnostics: `${show(value)} must be ${show(params.allowedValue)}` };
    case 'pattern':
      return { path, code: 'value', diagnostics: patternIssue(error, value, release) };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { path, code: 'value', diagnostics: `${show(value)} ${error.message ?? 'is out of range'}` };
    default:
      return { path, code: 'structure', diagnostics: `${error.message ?? 'is invalid'} (${error.keyword})` };
  }
}

/** The schema errors of `resource` (of one of the validated types), at `base` in the root resource. */
export function schemaIssues(type: ValidatedType, resource: unknown, base: Path): Issue[] {
  const validate = validators()[type];
  if (validate(resource)) return [];
  return (validate.errors ?? []).map((error) => {
    const issue = issueFromAjv(error, resource);
    return { ...issue, path: [...base, ...issue.path] };
  });
}
