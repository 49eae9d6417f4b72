// Validates resources against the official FHIR R5 JSON schema
// (hl7.fhir.r5.core@5.0.0), each against its own type's definition so that
// errors are readable; validators are compiled once per type and process.
import Ajv, { type ValidateFunction } from 'ajv';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const SCHEMA_ID = 'http://hl7.org/fhir/json-schema/5.0';
let ajv: Ajv | undefined;
const validators = new Map<string, ValidateFunction>();

function load(): Ajv {
  const path = join(require.resolve('hl7.fhir.r5.core/package.json'), '..', 'openapi', 'fhir.schema.json');
  const schema = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  // Written for draft-06: ajv 8 wants $id and knows the same keywords. Its
  // patterns are not valid in unicode mode.
  delete schema.$schema;
  delete schema.id;
  schema.$id = SCHEMA_ID;
  const instance = new Ajv({ strict: false, allErrors: true, validateFormats: false, unicodeRegExp: false });
  instance.addSchema(schema);
  return instance;
}

/** Returns the schema errors of `resource`, empty when valid. */
export function schemaErrors(resource: unknown): string[] {
  const type = (resource as { resourceType?: unknown })?.resourceType;
  if (typeof type !== 'string') return ['resourceType is missing'];
  ajv ??= load();
  let validate = validators.get(type);
  if (!validate) {
    const found = ajv.getSchema(`${SCHEMA_ID}#/definitions/${type}`);
    if (!found) return [`unknown resourceType ${type}`];
    validate = found;
    validators.set(type, validate);
  }
  if (validate(resource)) return [];
  return (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message ?? ''} ${JSON.stringify(error.params)}`);
}
