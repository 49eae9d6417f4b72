// Validation of R4 (4.0.1) resources against the R4 schema
// scripts/gen-r4-validators.js derives from HL7's R4 files
// (schemas/validators/fhir-r4.schema.json: Patient, ServiceRequest, Task,
// ImagingStudy, Endpoint, Subscription, Bundle, OperationOutcome,
// CapabilityStatement, Parameters and what they reference), compiled once
// per process, plus the FHIR JSON rules the schema does not check: no empty
// strings, arrays or objects, no nulls. The resources of a Bundle's entries
// (resource and response.outcome), of a Parameters' parameters and contained
// resources are validated with the schema of their own type.
import Ajv, { type ValidateFunction } from 'ajv';
import { readFileSync } from 'fs';
import path from 'path';

interface R4Schema {
  $id: string;
  definitions: Record<string, unknown>;
}

/** The resource types the derived R4 schema defines. */
export const R4_SCHEMA_TYPES = [
  'Bundle',
  'CapabilityStatement',
  'Endpoint',
  'ImagingStudy',
  'OperationOutcome',
  'Parameters',
  'Patient',
  'ServiceRequest',
  'Subscription',
  'Task',
] as const;

export type R4SchemaType = (typeof R4_SCHEMA_TYPES)[number];

const SCHEMA_FILE = path.join(__dirname, '..', '..', 'schemas', 'validators', 'fhir-r4.schema.json');

let schema: R4Schema | undefined;
let ajv: Ajv | undefined;
const validators = new Map<string, ValidateFunction>();

function loadSchema(): R4Schema {
  schema ??= JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as R4Schema;
  return schema;
}

function compiler(): Ajv {
  if (!ajv) {
    // Its decimal pattern is not valid with the 'u' flag.
    ajv = new Ajv({ strict: false, allErrors: true, unicodeRegExp: false });
    ajv.addSchema(loadSchema());
  }
  return ajv;
}

function validatorFor(resourceType: R4SchemaType): ValidateFunction {
  let validate = validators.get(resourceType);
  if (!validate) {
    validate = compiler().compile({ $ref: `${loadSchema().$id}#/definitions/${resourceType}` });
    validators.set(resourceType, validate);
  }
  return validate;
}

/** Compiles the schema of every type (about a second); call it from a before() hook. */
export function loadR4Schema(): void {
  for (const type of R4_SCHEMA_TYPES) validatorFor(type);
}

const isSchemaType = (type: string): type is R4SchemaType => (R4_SCHEMA_TYPES as readonly string[]).includes(type);
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A required choice (Task.input.value[x]) fails once per type: one line for them all. */
function schemaLines(validate: ValidateFunction, base: string): string[] {
  const lines: string[] = [];
  const choices = new Map<string, string[]>();
  for (const error of validate.errors ?? []) {
    const at = `${base}${error.instancePath}` || '/';
    const branch = error.keyword === 'required' ? /^(.*\/anyOf)\/\d+\/required$/.exec(error.schemaPath) : null;
    if (branch) {
      const key = `${at} ${branch[1]}`;
      if (!choices.has(key)) {
        choices.set(key, []);
        lines.push(key);
      }
      choices.get(key)!.push(String(error.params.missingProperty));
    } else if (error.keyword === 'anyOf' && choices.has(`${at} ${error.schemaPath}`)) {
      continue;
    } else {
      lines.push(`${at} ${error.message ?? ''} ${JSON.stringify(error.params)}`);
    }
  }
  return lines.map((line) => {
    const names = choices.get(line);
    return names ? `${line.split(' ')[0]} must have one of ${names.join(', ')}` : line;
  });
}

function resourceProblems(resource: unknown, base: string, problems: string[]): void {
  if (!isObject(resource)) {
    problems.push(`${base || '/'}: not a resource`);
    return;
  }
  const type = resource.resourceType;
  if (typeof type !== 'string') {
    problems.push(`${base || '/'}: resourceType is missing`);
    return;
  }
  if (!isSchemaType(type)) {
    problems.push(`${base || '/'}: no R4 schema for ${type} (only ${R4_SCHEMA_TYPES.join(', ')})`);
    return;
  }
  const validate = validatorFor(type);
  if (!validate(resource)) problems.push(...schemaLines(validate, base));
  const nested = (value: unknown, at: string) => {
    if (value !== undefined) resourceProblems(value, at, problems);
  };
  if (Array.isArray(resource.contained)) resource.contained.forEach((item, i) => nested(item, `${base}/contained/${i}`));
  if (type === 'Bundle' && Array.isArray(resource.entry)) {
    resource.entry.forEach((entry, i) => {
      if (!isObject(entry)) return;
      nested(entry.resource, `${base}/entry/${i}/resource`);
      if (isObject(entry.response)) nested(entry.response.outcome, `${base}/entry/${i}/response/outcome`);
    });
  }
  if (type === 'Parameters') {
    const parameters = (list: unknown, at: string) => {
      if (!Array.isArray(list)) return;
      list.forEach((parameter, i) => {
        if (!isObject(parameter)) return;
        nested(parameter.resource, `${at}/${i}/resource`);
        parameters(parameter.part, `${at}/${i}/part`);
      });
    };
    parameters(resource.parameter, `${base}/parameter`);
  }
}

function ruleErrors(value: unknown, at: string, errors: string[]): void {
  if (value === null || value === undefined) {
    errors.push(`${at || '/'}: ${String(value)} value`);
  } else if (typeof value === 'string') {
    if (value.trim() === '') errors.push(`${at}: empty string`);
  } else if (Array.isArray(value)) {
    if (value.length === 0) errors.push(`${at}: empty array`);
    value.forEach((item, index) => ruleErrors(item, `${at}/${index}`, errors));
  } else if (typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) errors.push(`${at || '/'}: empty object`);
    for (const [key, item] of entries) ruleErrors(item, `${at}/${key}`, errors);
  }
}

/** Every problem the R4 schema and the FHIR JSON rules find in `resource` (and the resources it holds); empty when valid. */
export function validateR4(resource: unknown): string[] {
  const problems: string[] = [];
  resourceProblems(resource, '', problems);
  ruleErrors(resource, '', problems);
  return problems;
}
