// The generated validators (scripts/gen-validators.js -> schemas/validators/):
// up to date, derived from the official R5 schema, at least as strict as it,
// precompiled (no ajv compiler at run time), and bundled by esbuild.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as esbuild from 'esbuild';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import path from 'path';
import * as generated from '../../schemas/validators/fhir-r5-writes';
import { loadFhirSchema, schemaErrors } from '../support/fhir-schema';

const root = path.join(__dirname, '..', '..');
const outputDir = path.join(root, 'schemas', 'validators');

interface Generator {
  generate(): Record<string, string>;
  deriveSchema(): { $id: string; definitions: Record<string, Record<string, unknown>> };
  RESOURCE_TYPES: string[];
}
const generator = require('../../scripts/gen-validators.js') as Generator;

type Json = Record<string, unknown>;
type Schema = { definitions: Record<string, Json> };

function officialSchema(): Schema {
  return JSON.parse(readFileSync(require.resolve('hl7.fhir.r5.core/openapi/fhir.schema.json'), 'utf8')) as Schema;
}

function withoutDescriptions(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDescriptions);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([key, item]) => key !== 'description' || typeof item !== 'string').map(([key, item]) => [key, withoutDescriptions(item)]));
  }
  return value;
}

const ACSN = { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }] }, value: 'A1' };

/** Resources the official schema accepts or rejects, for the agreement check. */
const CORPUS: Array<[string, Json]> = [
  ['valid order', { resourceType: 'ServiceRequest', status: 'active', intent: 'order', identifier: [ACSN], subject: { reference: 'Patient/p' }, code: { concept: { text: 'CT' } } }],
  ['valid step', { resourceType: 'Task', status: 'requested', intent: 'order', basedOn: [{ reference: 'ServiceRequest/s' }], for: { reference: 'Patient/p' }, requestedPeriod: { start: '2030-06-01T09:30:00Z' } }],
  ['valid patient', { resourceType: 'Patient', identifier: [{ value: 'P1' }], name: [{ family: 'Doe', given: ['J'] }], birthDate: '1970', deceasedBoolean: false }],
  ['valid extensions', { resourceType: 'Patient', extension: [{ url: 'http://x.org/e', extension: [{ url: 'a', valueQuantity: { value: 1.5, unit: 'mg' } }, { url: 'b', valueTiming: { repeat: { frequency: 2, period: 1, periodUnit: 'd' } } }] }] }],
  ['unknown element', { resourceType: 'Patient', nickname: 'J' }],
  ['R4 code', { resourceType: 'ServiceRequest', subject: { reference: 'Patient/p' }, code: { coding: [{ code: 'x' }] } }],
  ['no subject', { resourceType: 'ServiceRequest', status: 'active' }],
  ['wrong type', { resourceType: 'Task', basedOn: { reference: 'ServiceRequest/s' } }],
  ['bad id', { resourceType: 'Task', id: 'a/b' }],
  ['bad uri', { resourceType: 'Patient', identifier: [{ system: 'a b', value: 'x' }] }],
  ['bad date', { resourceType: 'Patient', birthDate: '19700115' }],
  ['bad instant', { resourceType: 'Patient', meta: { lastUpdated: '2030-01-01' } }],
  ['bad boolean', { resourceType: 'Patient', active: 'true' }],
  ['bad decimal', { resourceType: 'Task', input: [{ type: { text: 't' }, valueDecimal: '1.5' }] }],
  ['bad extension', { resourceType: 'Task', extension: [{ url: 'http://x.org/e', valueFoo: 1 }] }],
  ['bad enum', { resourceType: 'Patient', name: [{ use: 'nick' }] }],
  ['bad contained', { resourceType: 'Task', contained: [{ id: 'x' }] }],
];

describe('validation: generated validators', function () {
  it('are up to date (node scripts/gen-validators.js)', function () {
    this.timeout(30_000);
    const files = generator.generate();
    expect(Object.keys(files).sort()).to.deep.equal(['fhir-r5-writes.d.ts', 'fhir-r5-writes.js', 'fhir-r5-writes.schema.json']);
    for (const [name, text] of Object.entries(files)) {
      expect(readFileSync(path.join(outputDir, name), 'utf8') === text, `${name} is out of date: run node scripts/gen-validators.js`).to.equal(true);
    }
  });

  it('export one validator per resource type', () => {
    expect(generator.RESOURCE_TYPES).to.deep.equal(['Patient', 'ServiceRequest', 'Subscription', 'Task']);
    const minimal: Record<string, Json> = { ServiceRequest: { subject: { reference: 'Patient/p' } }, Subscription: { status: 'requested', topic: 'urn:t', channelType: { code: 'rest-hook' } } };
    for (const type of generator.RESOURCE_TYPES) {
      const validate = (generated as unknown as Record<string, typeof generated.Patient>)[type];
      expect(validate({ resourceType: type, ...minimal[type] }), type).to.equal(true);
      expect(validate({ resourceType: type, ...minimal[type], unknownElement: 1 }), type).to.equal(false);
      expect(validate.errors?.[0]).to.include({ keyword: 'additionalProperties', instancePath: '' });
      expect(validate({ resourceType: 'Observation' }), type).to.equal(false);
    }
  });

  describe('the derived schema', () => {
    const derived = JSON.parse(readFileSync(path.join(outputDir, 'fhir-r5-writes.schema.json'), 'utf8')) as Schema;
    const official = officialSchema();

    it('holds what the three types reference, and nothing else', () => {
      const names = Object.keys(derived.definitions);
      expect(names).to.include.members(['Patient', 'ServiceRequest', 'Task', 'Task_Input', 'CodeableReference', 'Reference', 'Extension', 'dateTime']);
      expect(names).to.not.include.members(['Observation', 'Bundle', 'ImagingStudy', 'Parameters']);
      const text = JSON.stringify(derived);
      for (const [, name] of text.matchAll(/"\$ref":"#\/definitions\/([^"]+)"/g)) {
        expect(derived.definitions, name).to.have.property(name);
      }
      // No description text; the element Task.description (a property) is kept.
      expect(text).to.not.match(/"description":"/);
      expect(derived.definitions.Task.properties).to.have.property('description');
    });

    it('keeps the official definitions, but for the documented changes', () => {
      for (const name of ['Identifier', 'Reference', 'CodeableReference', 'CodeableConcept', 'Coding', 'Period', 'HumanName', 'id', 'uri', 'string']) {
        expect(derived.definitions[name], name).to.deep.equal(withoutDescriptions(official.definitions[name]));
      }
      const status = (derived.definitions.Task.properties as Record<string, Json>).status;
      expect(status.enum).to.include.members(['requested', 'accepted', 'in-progress', 'completed', 'cancelled']);
      expect((derived.definitions.ServiceRequest.properties as Record<string, Json>).intent.enum).to.include('order');
      expect(derived.definitions.positiveInt).to.deep.equal({ type: 'integer', minimum: 1, maximum: 2147483647 });
      expect(new RegExp(derived.definitions.dateTime.pattern as string).test('2030-06-01T09:30:00')).to.equal(false);
      expect(new RegExp(official.definitions.dateTime.pattern as string).test('2030-06-01T09:30:00')).to.equal(true);
    });
  });

  describe('against the official schema compiled at run time', function () {
    before(function () {
      // Compiling the 4 MB schema takes seconds.
      this.timeout(120_000);
      loadFhirSchema();
    });

    for (const [label, resource] of CORPUS) {
      it(`agree: ${label}`, () => {
        const validate = (generated as unknown as Record<string, typeof generated.Patient>)[resource.resourceType as string];
        const officialErrors = schemaErrors(resource);
        expect(validate(resource), `official: ${officialErrors.join('; ')}; generated: ${JSON.stringify(validate.errors)}`).to.equal(
          officialErrors.length === 0,
        );
      });
    }

    it('and are stricter where the official one is wrong', () => {
      for (const resource of [
        { resourceType: 'Task', requestedPeriod: { start: '2030-06-01T09:30:00' } },
        { resourceType: 'Task', status: 'scheduled' },
        { resourceType: 'Task', input: [{ type: { text: 't' }, valuePositiveInt: -1 }] },
      ]) {
        expect(schemaErrors(resource), JSON.stringify(resource)).to.deep.equal([]);
        expect(generated.Task(resource), JSON.stringify(resource)).to.equal(false);
      }
    });
  });

  it('load without ajv compiling anything', () => {
    const script =
      "const v = require('./schemas/validators/fhir-r5-writes.js');" +
      "const ok = v.Task({ resourceType: 'Task', status: 'requested' });" +
      "const compiler = Object.keys(require.cache).filter((f) => /ajv[\\\\/]dist[\\\\/](core|ajv|compile[\\\\/]index)\\.js$/.test(f));" +
      'console.log(JSON.stringify({ ok, compiler }));';
    const child = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' });
    expect(child.status, child.stderr).to.equal(0);
    expect(JSON.parse(child.stdout)).to.deep.equal({ ok: true, compiler: [] });
  });

  it('are bundled by esbuild with their ajv runtime helpers', async function () {
    this.timeout(60_000);
    const result = await esbuild.build({
      entryPoints: [path.join(root, 'src', 'validation', 'index.ts')],
      bundle: true,
      platform: 'node',
      target: 'node18',
      format: 'cjs',
      write: false,
      logLevel: 'silent',
    });
    const code = result.outputFiles[0].text;
    // No require() of ajv or of a relative file is left (ajv's equal.js holds one in a string).
    expect(code).to.not.match(/(?<!['"\w.])require\(["'](ajv|\.\.?\/)/);
    expect(code).to.match(/exports\d*\.patternTypes = /);
    const dir = mkdtempSync(path.join(tmpdir(), 'validation-bundle-'));
    try {
      const file = path.join(dir, 'validation.js');
      writeFileSync(file, code);
      const bundled: typeof import('../../src/validation') = require(file);
      bundled.validateResource('Patient', { resourceType: 'Patient', identifier: [{ value: 'P1' }] });
      expect(() => bundled.validateResource('Patient', { resourceType: 'Patient', gender: 'F' })).to.throw(/not an allowed code/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
