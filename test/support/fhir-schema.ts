// Validation of resources against the official FHIR R5 JSON schema
// (hl7.fhir.r5.core/openapi/fhir.schema.json), compiled once per process,
// plus the FHIR JSON rules that schema does not check: no empty strings,
// arrays or objects, no nulls, an offset on every dateTime with a time, and
// the codes of the required bindings the mappers emit.
import Ajv, { type ValidateFunction } from 'ajv';
import draft06 from 'ajv/dist/refs/json-schema-draft-06.json';
import { readFileSync } from 'fs';

interface FhirSchema {
  id: string;
  definitions: Record<string, { pattern?: string }>;
  [key: string]: unknown;
}

let schema: FhirSchema | undefined;
let ajv: Ajv | undefined;
const validators = new Map<string, ValidateFunction>();

function loadSchema(): FhirSchema {
  if (!schema) {
    schema = JSON.parse(readFileSync(require.resolve('hl7.fhir.r5.core/openapi/fhir.schema.json'), 'utf8')) as FhirSchema;
  }
  return schema;
}

function compiler(): Ajv {
  if (!ajv) {
    const { id, discriminator: _discriminator, ...rest } = loadSchema();
    // The schema is draft-06 and names itself with "id" (ajv 8 wants "$id");
    // its decimal pattern is not valid with the 'u' flag; the OpenAPI
    // "discriminator" keyword is not JSON Schema.
    ajv = new Ajv({ strict: false, allErrors: true, unicodeRegExp: false, validateSchema: false });
    ajv.addMetaSchema(draft06);
    ajv.addSchema({ ...rest, $id: id });
  }
  return ajv;
}

/** Compiles the schema (slow: seconds); call it from a before() hook with a long timeout. */
export function loadFhirSchema(): void {
  validatorFor('Patient');
}

function validatorFor(resourceType: string): ValidateFunction {
  let validate = validators.get(resourceType);
  if (!validate) {
    const { id } = loadSchema();
    validate = compiler().compile({ $ref: `${id}#/definitions/${resourceType}` });
    validators.set(resourceType, validate);
  }
  return validate;
}

/** The regular expression of a FHIR primitive type in the schema (date, dateTime, instant...). */
export function fhirPrimitivePattern(type: string): RegExp {
  const pattern = loadSchema().definitions[type]?.pattern;
  if (!pattern) throw new Error(`no pattern for FHIR type ${type}`);
  return new RegExp(pattern);
}

/** The errors the official schema finds in `resource`; empty when valid. */
export function schemaErrors(resource: unknown): string[] {
  const type = (resource as { resourceType?: unknown })?.resourceType;
  if (typeof type !== 'string') return ['resourceType is missing'];
  if (!loadSchema().definitions[type]) return [`unknown resourceType ${type}`];
  const validate = validatorFor(type);
  if (validate(resource)) return [];
  return (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message ?? ''} ${JSON.stringify(error.params)}`);
}

const DATE_TIME_KEYS = new Set(['started', 'lastUpdated', 'start', 'end']);

function ruleErrors(value: unknown, path: string, errors: string[]): void {
  if (value === null || value === undefined) {
    errors.push(`${path}: ${String(value)} value`);
  } else if (typeof value === 'string') {
    if (value.trim() === '') errors.push(`${path}: empty string`);
    if (value !== value.trim()) errors.push(`${path}: leading or trailing whitespace`);
    const key = path.split('/').pop() ?? '';
    if (DATE_TIME_KEYS.has(key) && value.includes('T') && !/(Z|[+-]\d{2}:\d{2})$/.test(value)) {
      errors.push(`${path}: time without a UTC offset`);
    }
  } else if (Array.isArray(value)) {
    if (value.length === 0) errors.push(`${path}: empty array`);
    value.forEach((item, index) => ruleErrors(item, `${path}/${index}`, errors));
  } else if (typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) errors.push(`${path}: empty object`);
    for (const [key, item] of entries) ruleErrors(item, `${path}/${key}`, errors);
  }
}

const REQUIRED_CODES: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  Patient: { gender: ['male', 'female', 'other', 'unknown'] },
  ImagingStudy: { status: ['registered', 'available', 'cancelled', 'entered-in-error', 'unknown'] },
  Endpoint: { status: ['active', 'limited', 'suspended', 'error', 'off', 'entered-in-error'] },
};

/** Every problem found in a resource; empty when it is valid. */
export function fhirProblems(resource: { resourceType: string; [key: string]: unknown }): string[] {
  const errors = schemaErrors(resource);
  ruleErrors(resource, '', errors);
  for (const [element, codes] of Object.entries(REQUIRED_CODES[resource.resourceType] ?? {})) {
    const value = resource[element];
    if (value !== undefined && (typeof value !== 'string' || !codes.includes(value))) {
      errors.push(`/${element}: ${JSON.stringify(value)} is not in the required value set`);
    }
  }
  return errors;
}
