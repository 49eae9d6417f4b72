#!/usr/bin/env node
// Generates the write validators of the resource types a RIS writes
// (Patient, ServiceRequest, Task) from the official FHIR R5 JSON schema
// (hl7.fhir.r5.core@5.0.0, openapi/fhir.schema.json):
//
//   schemas/validators/fhir-r5-writes.schema.json  the derived JSON schema
//   schemas/validators/fhir-r5-writes.js           ajv standalone code (CommonJS), one
//                                                  validate function per resource type
//   schemas/validators/fhir-r5-writes.d.ts         its types
//
// The derived schema keeps only the definitions the three types reference
// transitively, without descriptions, with three changes:
// - ResourceList (the type of `contained`, a oneOf over all 158 resource
//   types, through which everything references everything) becomes an object
//   with a known resourceType; src/validation validates contained resources
//   of the three types with their own validator.
// - the primitive definitions the official schema gets wrong are fixed
//   (FIXES below): dateTime accepts a time without a UTC offset, integers
//   are typed "number" with a pattern that only applies to strings.
// - code elements with a required binding to a value set the package
//   expands by itself (whole code systems, enumerated codes) get an enum:
//   the official schema leaves ServiceRequest.status, Task.intent... open.
//
// One module with three exports, not one per type: the types share some 70
// data types (Extension alone references 50), so separate modules would
// hold three copies (1.2 MB against 0.5 MB).
//
// The output is deterministic (no timestamps; it depends only on the
// package, ajv's version and this script) so that it can be committed.
//
//   node scripts/gen-validators.js [--check]
//
// --check exits 1 when the committed files are out of date instead of writing.
'use strict';

const fs = require('fs');
const path = require('path');
const { Terminology } = require('./terminology');

const RESOURCE_TYPES = ['Patient', 'ServiceRequest', 'Subscription', 'Task'];
const SCHEMA_ID = 'urn:orthanc-fhir:fhir-r5-writes';

const root = path.join(__dirname, '..');
const packageDir = path.dirname(require.resolve('hl7.fhir.r5.core/package.json', { paths: [root] }));
const ajvDir = path.dirname(require.resolve('ajv/package.json', { paths: [root] }));
const outputDir = path.join(root, 'schemas', 'validators');
const BASENAME = 'fhir-r5-writes';

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** Names of the definitions a schema references directly. */
function references(definition) {
  const names = [];
  JSON.stringify(definition, (key, value) => {
    if (key === '$ref') {
      const match = /^#\/definitions\/([^/]+)$/.exec(value);
      if (!match) throw new Error(`unexpected $ref ${value}`);
      names.push(match[1]);
    }
    return value;
  });
  return names;
}

/** The definitions reachable from `roots`, not going through ResourceList. */
function closure(definitions, roots) {
  const seen = new Set();
  const queue = [...roots];
  while (queue.length > 0) {
    const name = queue.pop();
    if (seen.has(name)) continue;
    if (!definitions[name]) throw new Error(`no definition ${name} in the official schema`);
    seen.add(name);
    if (name !== 'ResourceList') queue.push(...references(definitions[name]));
  }
  return [...seen].sort();
}

const YEAR = '([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)';
const TIME = '([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]{1,9})?';
const OFFSET = '(Z|(\\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))';

/** Replacements of official primitive definitions, with the reason. */
const FIXES = {
  // "If hours and minutes are specified, a UTC offset SHALL be populated": the
  // official pattern makes the offset optional (and allows one after a date).
  dateTime: {
    pattern: `^${YEAR}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T${TIME}${OFFSET})?)?)?$`,
    type: 'string',
  },
  // Typed "number" officially, so 1.5 or -3 passed as a positiveInt.
  integer: { type: 'integer', minimum: -2147483648, maximum: 2147483647 },
  positiveInt: { type: 'integer', minimum: 1, maximum: 2147483647 },
  unsignedInt: { type: 'integer', minimum: 0, maximum: 2147483647 },
};

/** The primitive type named in diagnostics for a pattern several types share. */
const PREFERRED_PRIMITIVES = ['uri', 'string', 'integer'];

function withoutDescriptions(value) {
  if (Array.isArray(value)) return value.map(withoutDescriptions);
  if (value !== null && typeof value === 'object') {
    const copy = {};
    for (const [key, item] of Object.entries(value)) {
      // A schema's description is a string; a property named description
      // (Task.description, Expression.description) is an object: kept.
      if (key !== 'description' || typeof item !== 'string') copy[key] = withoutDescriptions(item);
    }
    return copy;
  }
  return value;
}

/**
 * Replaces the primitive definitions of FIXES, and the copies of them the
 * official schema inlines (choice elements such as occurrenceDateTime carry
 * the pattern and type of dateTime rather than a $ref); returns the names fixed.
 */
function applyFixes(definitions, officialDefinitions) {
  const replacements = new Map();
  for (const [name, fix] of Object.entries(FIXES)) {
    replacements.set(JSON.stringify(withoutDescriptions(officialDefinitions[name])), fix);
  }
  const fixed = new Set();
  const visit = (schema) => {
    if (Array.isArray(schema)) return schema.map(visit);
    if (schema === null || typeof schema !== 'object') return schema;
    const replacement = replacements.get(JSON.stringify(schema));
    if (replacement) {
      fixed.add(Object.keys(FIXES).find((name) => FIXES[name] === replacement));
      return replacement;
    }
    return Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, visit(value)]));
  };
  for (const name of Object.keys(definitions)) definitions[name] = visit(definitions[name]);
  return Object.keys(FIXES).filter((name) => fixed.has(name));
}

/** Terminology of the package: its CodeSystem-*.json and ValueSet-*.json files (the type checked against the name). */
function packageTerminology() {
  const resources = [];
  for (const file of fs.readdirSync(packageDir).sort()) {
    const match = /^(CodeSystem|ValueSet)-.+\.json$/.exec(file);
    if (!match) continue;
    const resource = readJson(path.join(packageDir, file));
    if (resource.resourceType === match[1]) resources.push(resource);
  }
  return new Terminology(resources);
}

/** 'Task_Input' -> 'Task.input', 'Dosage_DoseAndRate' -> 'Dosage.doseAndRate'. */
function elementPath(definitionName) {
  const [type, ...parts] = definitionName.split('_');
  return [type, ...parts.map((part) => part[0].toLowerCase() + part.slice(1))].join('.');
}

/** Element path -> value set canonical, for the code elements of `type` with a required binding. */
function requiredCodeBindings(type) {
  const file = path.join(packageDir, `StructureDefinition-${type}.json`);
  const bindings = new Map();
  if (!fs.existsSync(file)) return bindings;
  for (const element of readJson(file).snapshot?.element ?? []) {
    const types = (element.type ?? []).map((t) => t.code);
    if (element.binding?.strength === 'required' && types.length === 1 && types[0] === 'code' && !element.path.endsWith('[x]')) {
      bindings.set(element.path, element.binding.valueSet);
    }
  }
  return bindings;
}

/** Adds an enum to the code properties with an expandable required binding; returns what it did. */
function addRequiredCodes(definitions, terminology) {
  const added = [];
  const bindingsByType = new Map();
  for (const name of Object.keys(definitions)) {
    const definition = definitions[name];
    if (!definition.properties) continue;
    const type = name.split('_')[0];
    if (!bindingsByType.has(type)) bindingsByType.set(type, requiredCodeBindings(type));
    const bindings = bindingsByType.get(type);
    for (const [property, schema] of Object.entries(definition.properties)) {
      const valueSet = bindings.get(`${elementPath(name)}.${property}`);
      if (!valueSet) continue;
      const target = schema.items ?? schema;
      if (target.$ref !== '#/definitions/code' || target.enum) continue;
      const codes = terminology.expand(valueSet);
      if (!codes || codes.length === 0) continue;
      target.enum = codes;
      added.push(`${elementPath(name)}.${property}`);
    }
  }
  return added;
}

function deriveSchema() {
  const official = readJson(path.join(packageDir, 'openapi', 'fhir.schema.json'));
  const pkg = readJson(path.join(packageDir, 'package.json'));
  const definitions = {};
  for (const name of closure(official.definitions, RESOURCE_TYPES)) {
    definitions[name] = withoutDescriptions(official.definitions[name]);
  }
  const fixed = applyFixes(definitions, official.definitions);
  const resourceTypes = official.definitions.ResourceList.oneOf.map((ref) => ref.$ref.replace('#/definitions/', '')).sort();
  definitions.ResourceList = {
    type: 'object',
    properties: { resourceType: { enum: resourceTypes } },
    required: ['resourceType'],
  };
  const requiredCodes = addRequiredCodes(definitions, packageTerminology());
  return {
    $id: SCHEMA_ID,
    $comment:
      `Derived from ${pkg.name}@${pkg.version} openapi/fhir.schema.json by scripts/gen-validators.js: ` +
      `the definitions ${RESOURCE_TYPES.join(', ')} reference, without descriptions; ResourceList only checks resourceType; ` +
      `${fixed.join(', ')} fixed (also where the official schema copies them inline, as in choice elements); ` +
      `enums added for the required bindings of ${requiredCodes.join(', ')}.`,
    definitions,
  };
}

function generate() {
  const Ajv = require(path.join(ajvDir, 'dist', 'ajv.js')).default;
  const standaloneCode = require(path.join(ajvDir, 'dist', 'standalone')).default;
  const ajvVersion = readJson(path.join(ajvDir, 'package.json')).version;
  const schema = deriveSchema();
  // The schema is draft-06 (no $schema here: ajv's default draft-07 reads it
  // the same). Its decimal pattern is not valid with the 'u' flag.
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    strictTypes: false, // boolean, decimal... carry a string pattern: harmless
    unicodeRegExp: false,
    inlineRefs: false,
    code: { source: true, lines: true },
  });
  ajv.addSchema(schema);
  const exports = Object.fromEntries(RESOURCE_TYPES.map((type) => [type, `${SCHEMA_ID}#/definitions/${type}`]));
  const header =
    `// Generated by scripts/gen-validators.js from ${schema.$comment.match(/hl7\.fhir\.r5\.core@\S+/)[0]} ` +
    `with ajv@${ajvVersion}: do not edit.\n`;
  // The primitive type of each pattern, for readable diagnostics (with
  // inlineRefs off, an error's schemaPath is relative to the primitive's
  // definition and does not name it).
  const patternTypes = {};
  for (const [name, definition] of Object.entries(schema.definitions)) {
    if (typeof definition.pattern !== 'string') continue;
    const current = patternTypes[definition.pattern];
    if (current === undefined || (PREFERRED_PRIMITIVES.includes(name) && !PREFERRED_PRIMITIVES.includes(current))) {
      patternTypes[definition.pattern] = name;
    }
  }
  const code =
    `${header}${standaloneCode(ajv, exports)}\n` +
    `exports.patternTypes = ${JSON.stringify(patternTypes, null, 2)};\n`;
  const types =
    `${header}// Standalone ajv validators, one per resource type; errors as ajv's ErrorObject.\n` +
    `import type { ErrorObject } from 'ajv';\n\n` +
    `export interface StandaloneValidator {\n  (data: unknown): boolean;\n  errors?: ErrorObject[] | null;\n}\n\n` +
    RESOURCE_TYPES.map((type) => `export declare const ${type}: StandaloneValidator;\n`).join('') +
    `/** Pattern -> name of the FHIR primitive type it belongs to. */\n` +
    `export declare const patternTypes: Readonly<Record<string, string>>;\n`;
  return {
    [`${BASENAME}.schema.json`]: `${JSON.stringify(schema, null, 2)}\n`,
    [`${BASENAME}.js`]: code,
    [`${BASENAME}.d.ts`]: types,
  };
}

function main() {
  const files = generate();
  if (process.argv.includes('--check')) {
    const stale = Object.entries(files).filter(([name, text]) => {
      const file = path.join(outputDir, name);
      return !fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text;
    });
    if (stale.length > 0) {
      for (const [name] of stale) {
        console.error(`${path.relative(root, path.join(outputDir, name))} is out of date: run node scripts/gen-validators.js`);
      }
      process.exit(1);
    }
    return;
  }
  fs.mkdirSync(outputDir, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    fs.writeFileSync(path.join(outputDir, name), text);
    console.log(`wrote ${path.relative(root, path.join(outputDir, name))} (${text.length} bytes)`);
  }
}

if (require.main === module) main();

module.exports = { generate, deriveSchema, closure, elementPath, RESOURCE_TYPES };
