#!/usr/bin/env node
// Generates schemas/search-parameters.json from the official FHIR R5
// SearchParameter definitions (hl7.fhir.r5.core@5.0.0), restricted to the
// resource types this server serves plus the common Resource/DomainResource
// parameters. The output is deterministic (sorted keys, no timestamps) so
// that it can be committed and diffed when the package is upgraded.
//
//   node scripts/gen-search-params.js [--check]
//
// --check exits 1 when the committed file is out of date instead of writing.
//
// Token parameters whose expression ends on a `code` element with a required
// binding get `implicitSystem`: the one code system of the bound ValueSet
// (search.html token table: a code's system is implicit from its binding).
// It is read from the package's StructureDefinition snapshots and ValueSets.
'use strict';

const fs = require('fs');
const path = require('path');

const RESOURCE_TYPES = ['AuditEvent', 'Endpoint', 'ImagingStudy', 'Patient', 'ServiceRequest', 'Subscription', 'SubscriptionTopic', 'Task'];
const COMMON_BASES = ['Resource', 'DomainResource'];
// The search engine (src/search) implements these parameter types; the others
// (composite, quantity, special) are listed but marked unsupported.
const ENGINE_TYPES = new Set(['date', 'number', 'reference', 'string', 'token', 'uri']);

const root = path.join(__dirname, '..');
const packageDir = path.dirname(require.resolve('hl7.fhir.r5.core/package.json', { paths: [root] }));
const outputFile = path.join(root, 'schemas', 'search-parameters.json');

/** Splits a FHIRPath union at its top-level '|' (not inside parentheses or quotes). */
function splitUnion(expression) {
  const parts = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < expression.length; i++) {
    const c = expression[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === "'") quoted = false;
    } else if (c === "'") quoted = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) {
      parts.push(expression.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(expression.slice(start).trim());
  return parts.filter((part) => part !== '');
}

/** The type name a union member starts from: 'Patient' for '(Patient.deceased.ofType(dateTime))'. */
function rootType(part) {
  const match = /^\(*\s*([A-Za-z][A-Za-z0-9]*)/.exec(part);
  return match ? match[1] : undefined;
}

/** Keeps only the union members that apply to `base` (combined definitions list many types). */
function expressionFor(expression, base) {
  if (expression === undefined) return undefined;
  const parts = splitUnion(expression).filter((part) => rootType(part) === base);
  return parts.length > 0 ? parts.join(' | ') : undefined;
}

/** First sentence of the description, or of this type's bullet in a "Multiple Resources" one. */
function descriptionFor(description, base) {
  let text = String(description ?? '');
  if (text.startsWith('Multiple Resources')) {
    const line = text.split(/\r?\n/).find((l) => l.startsWith(`* [${base}](`));
    text = line ? line.replace(/^\* \[[^\]]+\]\([^)]*\):\s*/, '') : '';
  }
  text = text.replace(/\[([^\]]+)\]\([^)]*\)/g, '$1').replace(/\s+/g, ' ').trim();
  // A sentence ends at a period followed by a blank, except in abbreviations such as "e.g.".
  const end = text.search(/(?<!\b(?:e\.g|i\.e|etc))\.(\s|$)/);
  return end >= 0 ? text.slice(0, end) : text;
}

function unsupportedReason(definition, expression) {
  if (!ENGINE_TYPES.has(definition.type)) return `parameter type '${definition.type}' is not implemented`;
  if (definition.processingMode && definition.processingMode !== 'normal') {
    return `processing mode '${definition.processingMode}' is not implemented`;
  }
  if (expression === undefined) return 'the official definition has no FHIRPath expression';
  return undefined;
}

// --- implicit code systems ---------------------------------------------------

const structureDefinitions = new Map();
let valueSetsByUrl;
let codeSystemsByUrl;

/** StructureDefinition-<type>.json of the package (base resources and data types), or undefined. */
function structureDefinition(type) {
  if (!structureDefinitions.has(type)) {
    const file = path.join(packageDir, `StructureDefinition-${type}.json`);
    const sd = /^[A-Za-z][A-Za-z0-9]*$/.test(type) && fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : undefined;
    structureDefinitions.set(type, sd?.resourceType === 'StructureDefinition' && sd.type === type ? sd : undefined);
  }
  return structureDefinitions.get(type);
}

/** Every ValueSet of the package, by canonical URL. */
function valueSet(url) {
  if (valueSetsByUrl === undefined) {
    valueSetsByUrl = new Map();
    for (const file of fs.readdirSync(packageDir).filter((f) => /^ValueSet-.+\.json$/.test(f)).sort()) {
      const vs = JSON.parse(fs.readFileSync(path.join(packageDir, file), 'utf8'));
      if (vs.resourceType === 'ValueSet' && typeof vs.url === 'string' && !valueSetsByUrl.has(vs.url)) valueSetsByUrl.set(vs.url, vs);
    }
  }
  return valueSetsByUrl.get(url);
}

/** An element's FHIR type codes; 'id' for System.String typed with the fhir-type extension (Resource.id). */
function typeCodes(element) {
  return (element.type ?? []).map((t) => {
    const fhirType = (t.extension ?? []).find((e) => e.url === 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type');
    return fhirType?.valueUrl ?? fhirType?.valueUri ?? t.code;
  });
}

/**
 * A union member as a simple path: the root type then steps, each a name or a
 * function call ({ name, arg }). Undefined for anything else (operators,
 * literals...), whose values the generator does not try to type.
 */
function pathSteps(part) {
  let text = part.trim();
  while (text.startsWith('(') && text.endsWith(')') && balanced(text.slice(1, -1))) {
    text = text.slice(1, -1).trim();
  }
  const steps = [];
  let i = 0;
  while (i < text.length) {
    const name = /^[A-Za-z][A-Za-z0-9_]*/.exec(text.slice(i));
    if (!name) return undefined;
    i += name[0].length;
    let arg;
    if (text[i] === '(') {
      const close = closingParen(text, i);
      if (close < 0) return undefined;
      arg = text.slice(i + 1, close).trim();
      i = close + 1;
    }
    steps.push({ name: name[0], arg });
    if (i === text.length) break;
    if (text[i] !== '.') return undefined;
    i++;
  }
  return steps.length > 0 && steps[0].arg === undefined ? steps : undefined;
}

function balanced(text) {
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === "'") quoted = false;
    } else if (c === "'") quoted = true;
    else if (c === '(') depth++;
    else if (c === ')' && --depth < 0) return false;
  }
  return depth === 0 && !quoted;
}

/** Index of the ')' closing the '(' at `open`, or -1. */
function closingParen(text, open) {
  let depth = 0;
  let quoted = false;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === "'") quoted = false;
    } else if (c === "'") quoted = true;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

/**
 * The element a simple path ends on, from the StructureDefinition snapshots:
 * { types, binding } (types narrowed by ofType()), or undefined when the path
 * cannot be followed. where() keeps the element; other functions stop.
 */
function pathElement(steps) {
  let sd = structureDefinition(steps[0].name);
  if (sd === undefined) return undefined;
  let elementPath = steps[0].name;
  let current; // { types, binding, path }
  for (const step of steps.slice(1)) {
    if (step.arg !== undefined) {
      if (step.name === 'where') continue;
      if (step.name === 'ofType' && current !== undefined && current.types.includes(step.arg)) {
        current = { ...current, types: [step.arg] };
        continue;
      }
      return undefined;
    }
    if (current !== undefined) {
      // Step into the data type of the element reached so far (inline backbone elements stay in this definition).
      if (current.types.length !== 1) return undefined;
      const [type] = current.types;
      if (type !== 'BackboneElement' && type !== 'Element') {
        sd = structureDefinition(type);
        if (sd === undefined) return undefined;
        elementPath = type;
      } else {
        elementPath = current.path;
      }
    }
    const elements = sd.snapshot?.element ?? [];
    let element = elements.find((e) => e.path === `${elementPath}.${step.name}` || e.path === `${elementPath}.${step.name}[x]`);
    if (element === undefined) return undefined;
    let resolvedPath = element.path;
    if (typeof element.contentReference === 'string') {
      // '#Questionnaire.item': the element repeats a definition given elsewhere in the same type.
      resolvedPath = element.contentReference.replace(/^.*#/, '');
      const target = elements.find((e) => e.path === resolvedPath);
      if (target === undefined) return undefined;
      element = { ...target, binding: element.binding ?? target.binding };
    }
    current = { types: typeCodes(element), binding: element.binding, path: resolvedPath };
  }
  return current;
}

/** Codes of a complete CodeSystem of the package (nested concepts included), or undefined. */
function codeSystemCodes(url) {
  if (codeSystemsByUrl === undefined) {
    codeSystemsByUrl = new Map();
    for (const file of fs.readdirSync(packageDir).filter((f) => /^CodeSystem-.+\.json$/.test(f)).sort()) {
      const cs = JSON.parse(fs.readFileSync(path.join(packageDir, file), 'utf8'));
      if (cs.resourceType === 'CodeSystem' && typeof cs.url === 'string' && !codeSystemsByUrl.has(cs.url)) codeSystemsByUrl.set(cs.url, cs);
    }
  }
  const cs = codeSystemsByUrl.get(url);
  if (cs?.content !== 'complete') return undefined;
  const codes = [];
  const walk = (concepts) => {
    for (const concept of concepts ?? []) {
      codes.push(concept.code);
      walk(concept.concept);
    }
  };
  walk(cs.concept);
  return codes;
}

/**
 * The code system(s) of a required binding's ValueSet (compose.include):
 * { system } when it draws from one system; { byCode } when it draws from
 * several, each code being in one of them (Task.intent: task-intent and
 * request-intent); undefined when not required, not in the package, or
 * not decidable (filters, nested value sets, a code in two systems).
 */
function boundSystems(binding) {
  if (binding?.strength !== 'required' || typeof binding.valueSet !== 'string') return undefined;
  const vs = valueSet(binding.valueSet.split('|')[0]);
  const includes = vs?.compose?.include ?? [];
  if (includes.length === 0 || includes.some((include) => typeof include.system !== 'string' || include.valueSet !== undefined)) return undefined;
  const systems = [...new Set(includes.map((include) => include.system))];
  if (systems.length === 1) return { system: systems[0] };
  const byCode = {};
  for (const include of includes) {
    if (include.filter !== undefined) return undefined;
    const codes = include.concept !== undefined ? include.concept.map((c) => c.code) : codeSystemCodes(include.system);
    if (codes === undefined) return undefined;
    for (const code of codes) {
      if (byCode[code] !== undefined && byCode[code] !== include.system) return undefined;
      byCode[code] = include.system;
    }
  }
  return { byCode };
}

/**
 * The implicit system of the primitive values a token expression selects:
 * { implicitSystem } or { implicitSystemByCode } for a code with a required
 * binding, {} for primitives without a system (id, string, uri, boolean,
 * unbound code) and when unknown or when the union's members disagree.
 * Complex values (Coding, Identifier...) carry their own system and do not count.
 */
function implicitSystemOf(expression) {
  const found = new Set();
  for (const part of splitUnion(expression)) {
    const steps = pathSteps(part);
    const element = steps && pathElement(steps);
    if (element === undefined || element.types.length !== 1) return {};
    const [type] = element.types;
    if (/^[A-Z]/.test(type)) continue;
    const bound = type === 'code' ? boundSystems(element.binding) : undefined;
    found.add(JSON.stringify(bound?.system !== undefined ? { implicitSystem: bound.system }
      : bound?.byCode !== undefined ? { implicitSystemByCode: bound.byCode } : {}));
  }
  return found.size === 1 ? JSON.parse([...found][0]) : {};
}

function entryFor(definition, base) {
  const expression = expressionFor(definition.expression, base);
  const entry = {
    url: definition.url,
    type: definition.type,
    description: descriptionFor(definition.description, base),
  };
  if (expression !== undefined) entry.expression = expression;
  if (Array.isArray(definition.target) && definition.target.length > 0) entry.target = [...definition.target].sort();
  const reason = unsupportedReason(definition, expression);
  entry.supported = reason === undefined;
  if (reason !== undefined) entry.unsupportedReason = reason;
  if (entry.supported && definition.type === 'token') {
    Object.assign(entry, implicitSystemOf(expression));
  }
  return entry;
}

/** Two files define the same code for a base (e.g. _filter): prefer the canonical '<Base>-<code>' one. */
function preferred(current, candidate, base) {
  const canonicalId = (d) => d.id === `${base}-${d.code.replace(/^_/, '')}`;
  if (canonicalId(candidate) && !canonicalId(current)) return candidate;
  return current;
}

function loadDefinitions() {
  return fs
    .readdirSync(packageDir)
    .filter((file) => /^SearchParameter-.+\.json$/.test(file))
    .sort()
    .map((file) => JSON.parse(fs.readFileSync(path.join(packageDir, file), 'utf8')))
    // The package also ships example SearchParameters (experimental: true), which are not part of the spec's set.
    .filter((d) => d.resourceType === 'SearchParameter' && d.experimental !== true && typeof d.code === 'string');
}

function generate() {
  const definitions = loadDefinitions();
  const resources = {};
  for (const type of RESOURCE_TYPES) {
    const chosen = {};
    for (const definition of definitions) {
      if (!(definition.base ?? []).includes(type)) continue;
      chosen[definition.code] = chosen[definition.code] ? preferred(chosen[definition.code], definition, type) : definition;
    }
    resources[type] = Object.fromEntries(Object.entries(chosen).map(([code, d]) => [code, entryFor(d, type)]));
  }
  // DomainResource parameters (_text) override the Resource ones of the same code: they apply to every served type.
  const common = {};
  for (const base of COMMON_BASES) {
    const chosen = {};
    for (const definition of definitions) {
      if (!(definition.base ?? []).includes(base)) continue;
      chosen[definition.code] = chosen[definition.code] ? preferred(chosen[definition.code], definition, base) : definition;
    }
    for (const [code, d] of Object.entries(chosen)) common[code] = { ...entryFor(d, base), base };
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
  return {
    common,
    generatedFrom: `${pkg.name}@${pkg.version}`,
    generator: 'scripts/gen-search-params.js',
    resources,
  };
}

/** JSON with recursively sorted object keys, so regeneration gives byte-identical output. */
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

function main() {
  const text = stableStringify(generate());
  if (process.argv.includes('--check')) {
    const current = fs.existsSync(outputFile) ? fs.readFileSync(outputFile, 'utf8') : '';
    if (current !== text) {
      console.error(`${path.relative(root, outputFile)} is out of date: run node scripts/gen-search-params.js`);
      process.exit(1);
    }
    return;
  }
  fs.mkdirSync(path.dirname(outputFile), { recursive: true });
  fs.writeFileSync(outputFile, text);
  console.log(`wrote ${path.relative(root, outputFile)}`);
}

if (require.main === module) main();

module.exports = { generate, splitUnion, expressionFor, descriptionFor, implicitSystemOf };
