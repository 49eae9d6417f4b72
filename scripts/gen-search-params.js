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
'use strict';

const fs = require('fs');
const path = require('path');

const RESOURCE_TYPES = ['Endpoint', 'ImagingStudy', 'Patient', 'ServiceRequest', 'Task'];
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

module.exports = { generate, splitUnion, expressionFor, descriptionFor };
