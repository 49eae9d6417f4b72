// The R4 view's validation: validateR4Resource (src/validation/r4.ts) on what
// R4 clients write, the derived R4 schema (scripts/gen-r4-validators.js ->
// schemas/validators/fhir-r4.schema.json) through test/support's validateR4,
// and the other generated files (summary elements, R4 search parameters).
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import { readFileSync } from 'fs';
import path from 'path';
import { OperationOutcomeError } from '../../src/fhir/outcome';
import type { OperationOutcome } from '../../src/fhir/types';
import { validateR4Resource } from '../../src/validation';
import { loadR4Schema, validateR4 } from '../support/fhir-schema-r4';

const root = path.join(__dirname, '..', '..');
const readJson = <T>(file: string): T => JSON.parse(readFileSync(path.join(root, file), 'utf8')) as T;

type Json = Record<string, unknown>;

const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';

const SERVICE_REQUEST: Json = {
  resourceType: 'ServiceRequest',
  status: 'active',
  intent: 'order',
  identifier: [{ type: { coding: [{ system: V2_0203, code: 'ACSN' }] }, system: 'urn:oid:1.2.3', value: 'A1' }],
  subject: { reference: 'Patient/p' },
  code: { coding: [{ system: 'http://loinc.org', code: '24627-2', display: 'CT Chest' }], text: 'CT chest' },
  reasonCode: [{ text: 'cough' }],
  locationCode: [{ text: 'CT room 1' }],
  occurrenceDateTime: '2030-06-01T09:30:00+02:00',
};

const TASK: Json = {
  resourceType: 'Task',
  status: 'requested',
  intent: 'order',
  basedOn: [{ reference: 'ServiceRequest/s' }],
  for: { reference: 'Patient/p' },
  executionPeriod: { start: '2030-06-01T09:30:00Z' },
  input: [{ type: { text: 'station' }, valueString: 'CT1' }],
};

const PATIENT: Json = {
  resourceType: 'Patient',
  identifier: [{ system: 'urn:oid:1.2.3.4', value: 'P1' }],
  name: [{ family: 'Doe', given: ['Jane'] }],
  gender: 'female',
  birthDate: '1970-01-15',
  deceasedBoolean: false,
  meta: { lastUpdated: '2030-01-01T00:00:00Z', profile: ['http://example.org/p'] },
};

const ENDPOINT: Json = {
  resourceType: 'Endpoint',
  status: 'active',
  connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' },
  payloadType: [{ text: 'DICOM' }],
  address: 'http://pacs/dicom-web',
};

/** The OperationOutcomeError validateR4Resource throws (fails when it returns). */
function refusal(type: 'Patient' | 'ServiceRequest' | 'Task', body: unknown, maxIssues?: number): OperationOutcomeError {
  try {
    validateR4Resource(type, body, maxIssues === undefined ? {} : { maxIssues });
  } catch (error) {
    expect(error).to.be.instanceOf(OperationOutcomeError);
    return error as OperationOutcomeError;
  }
  expect.fail(`${JSON.stringify(body)} was accepted`);
}

function issuesOf(error: OperationOutcomeError): Array<{ code: string; expression: string; diagnostics: string }> {
  const outcome = (error as unknown as { outcome: OperationOutcome }).outcome;
  return (outcome.issue ?? []).map((issue) => ({
    code: String(issue.code),
    expression: String(issue.expression?.[0] ?? ''),
    diagnostics: String(issue.diagnostics ?? ''),
  }));
}

describe('validation: R4 writes (validateR4Resource)', function () {
  this.timeout(30_000);

  it('accepts valid R4 ServiceRequest, Task and Patient resources', () => {
    validateR4Resource('ServiceRequest', SERVICE_REQUEST);
    validateR4Resource('Task', TASK);
    validateR4Resource('Task', { ...TASK, description: 'CT chest, step 1' });
    validateR4Resource('Patient', PATIENT);
    validateR4Resource('Patient', { resourceType: 'Patient' }); // no worklist rules: no identifier needed
    const { basedOn: _basedOn, for: _for, ...unlinked } = TASK;
    validateR4Resource('Task', { ...unlinked, contained: [{ resourceType: 'Patient', gender: 'male' }] });
  });

  it('refuses what is not an R4 resource of the type with a 400', () => {
    for (const body of [null, [], 'x', { status: 'active' }, { resourceType: 'Task' }]) {
      const error = refusal('ServiceRequest', body);
      expect(error.status, JSON.stringify(body)).to.equal(400);
    }
  });

  it('refuses an R5-shaped ServiceRequest (code.concept), naming the element', () => {
    const error = refusal('ServiceRequest', { ...SERVICE_REQUEST, code: { concept: { text: 'CT chest' } } });
    expect(error.status).to.equal(422);
    const issues = issuesOf(error);
    expect(issues).to.have.length(1);
    expect(issues[0]).to.include({ code: 'structure', expression: 'ServiceRequest.code.concept' });
    expect(issues[0].diagnostics).to.contain('FHIR R4');
    // R5 elements that R4 does not have.
    const r5 = issuesOf(refusal('ServiceRequest', { ...SERVICE_REQUEST, reason: [{ concept: { text: 'x' } }], focus: [{ reference: 'Patient/p' }] }));
    expect(r5.map((issue) => issue.expression).sort()).to.deep.equal(['ServiceRequest.focus', 'ServiceRequest.reason']);
  });

  it('reports the missing required elements', () => {
    const { subject: _subject, ...noSubject } = SERVICE_REQUEST;
    expect(issuesOf(refusal('ServiceRequest', noSubject))).to.deep.include({
      code: 'required',
      expression: 'ServiceRequest.subject',
      diagnostics: "The element 'subject' is required",
    });
    const { intent: _intent, ...noIntent } = TASK;
    expect(issuesOf(refusal('Task', noIntent)).map((issue) => [issue.code, issue.expression])).to.deep.equal([['required', 'Task.intent']]);
    // In data types too: an Extension needs its url.
    const extension = issuesOf(refusal('Patient', { resourceType: 'Patient', extension: [{ valueString: 'x' }] }));
    expect(extension.map((issue) => issue.expression)).to.deep.equal(['Patient.extension[0].url']);
  });

  it('reports a missing required choice element once', () => {
    const issues = issuesOf(refusal('Task', { ...TASK, input: [{ type: { text: 'station' } }] }));
    expect(issues).to.have.length(1);
    expect(issues[0]).to.include({ code: 'required', expression: 'Task.input[0].value' });
    expect(issues[0].diagnostics).to.contain('value[x]');
  });

  it('refuses a code outside a required binding', () => {
    const issues = issuesOf(refusal('ServiceRequest', { ...SERVICE_REQUEST, status: 'bogus' }));
    expect(issues).to.have.length(1);
    expect(issues[0]).to.include({ code: 'code-invalid', expression: 'ServiceRequest.status' });
    expect(issues[0].diagnostics).to.contain('active');
    expect(issuesOf(refusal('Task', { ...TASK, intent: 'bogus' }))[0]).to.include({ code: 'code-invalid', expression: 'Task.intent' });
    expect(issuesOf(refusal('Patient', { ...PATIENT, gender: 'f' }))[0]).to.include({ code: 'code-invalid', expression: 'Patient.gender' });
  });

  it("refuses Medplum's additions (meta.project, a Reference's resource) as unknown elements", () => {
    const project = issuesOf(refusal('Patient', { ...PATIENT, meta: { project: 'p1' } }));
    expect(project).to.have.length(1);
    expect(project[0]).to.include({ code: 'structure', expression: 'Patient.meta.project' });
    for (const element of ['author', 'account', 'compartment']) {
      const value = element === 'compartment' ? [{ reference: 'Project/p' }] : { reference: 'Practitioner/x' };
      expect(issuesOf(refusal('Patient', { ...PATIENT, meta: { [element]: value } }))[0]).to.include({ expression: `Patient.meta.${element}` });
    }
    const resource = issuesOf(refusal('ServiceRequest', { ...SERVICE_REQUEST, subject: { reference: 'Patient/p', resource: { resourceType: 'Patient' } } }));
    expect(resource.map((issue) => [issue.code, issue.expression])).to.deep.equal([['structure', 'ServiceRequest.subject.resource']]);
  });

  it('checks primitive values, the JSON rules and contained resources', () => {
    const issues = issuesOf(
      refusal('Task', {
        ...TASK,
        authoredOn: '2030-06-01T09:30:00', // a time without an offset
        description: ' ',
        note: [],
        contained: [{ resourceType: 'Patient', gender: 'x' }],
      }),
    );
    expect(issues.map((issue) => [issue.code, issue.expression])).to.deep.equal([
      ['value', 'Task.authoredOn'],
      ['code-invalid', 'Task.contained[0].gender'],
      ['value', 'Task.description'],
      ['structure', 'Task.note'],
    ]);
    expect(issues[0].diagnostics).to.contain('dateTime');
    const { occurrenceDateTime: _occurrence, ...untimed } = SERVICE_REQUEST;
    const numbers = issuesOf(refusal('ServiceRequest', { ...untimed, occurrenceTiming: { repeat: { count: 1.5 } } }));
    expect(numbers.map((issue) => issue.expression)).to.deep.equal(['ServiceRequest.occurrenceTiming.repeat.count']);
  });

  it('refuses a bad base64Binary quickly (no exponential backtracking)', () => {
    const started = Date.now();
    const value = `${'QUJD  '.repeat(40)}!`;
    const issues = issuesOf(refusal('Patient', { resourceType: 'Patient', extension: [{ url: 'http://example.org/e', valueBase64Binary: value }] }));
    expect(Date.now() - started).to.be.below(1000);
    expect(issues[0]).to.include({ code: 'value', expression: 'Patient.extension[0].valueBase64Binary' });
    expect(issues[0].diagnostics).to.contain('base64Binary');
    validateR4Resource('Patient', { resourceType: 'Patient', extension: [{ url: 'http://example.org/e', valueBase64Binary: 'QUJD\nREVG' }] });
  });

  it('does not apply the worklist rules (they run on the converted R5 resource)', () => {
    validateR4Resource('ServiceRequest', { resourceType: 'ServiceRequest', status: 'draft', intent: 'proposal', subject: { identifier: { value: 'x' } } });
    validateR4Resource('Task', { resourceType: 'Task', status: 'draft', intent: 'plan' });
  });

  it('stops at maxIssues', () => {
    const body = { resourceType: 'Patient', identifier: Array.from({ length: 20 }, () => ({ system: 'a b' })) };
    const issues = issuesOf(refusal('Patient', body, 5));
    expect(issues).to.have.length(5);
    expect(issues[4].code).to.equal('too-costly');
  });
});

describe('validation: the derived R4 schema (test/support validateR4)', function () {
  this.timeout(60_000);
  before(() => loadR4Schema());

  it('accepts valid resources of the nine types', () => {
    expect(validateR4(SERVICE_REQUEST)).to.deep.equal([]);
    expect(validateR4(TASK)).to.deep.equal([]);
    expect(validateR4(PATIENT)).to.deep.equal([]);
    expect(validateR4(ENDPOINT)).to.deep.equal([]);
    expect(validateR4({ resourceType: 'ImagingStudy', status: 'available', subject: { reference: 'Patient/p' }, modality: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'CT' }], series: [{ uid: '1.2.3', modality: { code: 'CT' } }] })).to.deep.equal([]);
    expect(validateR4({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid' }] })).to.deep.equal([]);
    expect(validateR4({ resourceType: 'Parameters', parameter: [{ name: 'p', resource: PATIENT }, { name: 'q', part: [{ name: 'r', valueString: 'x' }] }] })).to.deep.equal([]);
    expect(
      validateR4({
        resourceType: 'CapabilityStatement',
        status: 'active',
        date: '2030-01-01',
        kind: 'instance',
        fhirVersion: '4.0.1',
        format: ['json'],
        rest: [{ mode: 'server', resource: [{ type: 'Patient', interaction: [{ code: 'read' }], searchParam: [{ name: '_id', type: 'token' }] }] }],
      }),
    ).to.deep.equal([]);
  });

  it('reports Endpoint.payloadType as required', () => {
    const { payloadType: _payloadType, ...endpoint } = ENDPOINT;
    const problems = validateR4(endpoint);
    expect(problems).to.have.length(1);
    expect(problems[0]).to.contain('payloadType');
  });

  it('compiles the Bundle part and validates the entries with their own type', () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction-response',
      entry: [
        { fullUrl: 'urn:uuid:1', resource: SERVICE_REQUEST, response: { status: '201 Created' } },
        { response: { status: '400', outcome: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid' }] } } },
      ],
    };
    expect(validateR4(bundle)).to.deep.equal([]);
    const bad = { ...bundle, entry: [{ resource: { ...SERVICE_REQUEST, code: { concept: { text: 'x' } } } }, { resource: { resourceType: 'Observation' } }] };
    const problems = validateR4(bad);
    expect(problems).to.have.length(2);
    expect(problems[0]).to.match(/^\/entry\/0\/resource\/code .*concept/);
    expect(problems[1]).to.contain('Observation');
    expect(validateR4({ resourceType: 'Bundle' }).join()).to.contain('type');
  });

  it('reports the JSON rules', () => {
    expect(validateR4({ ...PATIENT, name: [] })).to.deep.equal(['/name: empty array']);
    expect(validateR4({ ...PATIENT, gender: null }).some((problem) => problem.startsWith('/gender: null'))).to.equal(true);
  });
});

describe('validation: the generated R4 files (scripts/gen-r4-validators.js)', function () {
  this.timeout(60_000);

  it('are up to date (--check exits 0)', () => {
    const result = spawnSync(process.execPath, [path.join(root, 'scripts', 'gen-r4-validators.js'), '--check'], { encoding: 'utf8' });
    expect(result.stderr).to.equal('');
    expect(result.status).to.equal(0);
  });

  it('hold no element R4 does not define, and no descriptions', () => {
    const schema = readJson<{ definitions: Record<string, { properties?: Json; required?: string[] }> }>('schemas/validators/fhir-r4.schema.json');
    const properties = (name: string) => Object.keys(schema.definitions[name].properties ?? {});
    expect(properties('Meta')).to.not.include.members(['project']);
    for (const medplum of ['project', 'author', 'account', 'compartment']) expect(properties('Meta')).to.not.include(medplum);
    expect(properties('Reference')).to.not.include('resource');
    expect(properties('OperationOutcome')).to.not.include('status');
    expect(properties('Timing_Repeat')).to.not.include('modifierExtension');
    expect(properties('ServiceRequest')).to.include.members(['reasonCode', 'locationCode', 'patientInstruction']);
    expect(schema.definitions.Endpoint.required).to.include.members(['resourceType', 'status', 'connectionType', 'payloadType', 'address']);
    expect(JSON.stringify(schema)).to.not.match(/"description":"/);
    // Elements named description are elements, not annotations.
    expect(properties('Task')).to.include.members(['description', '_description']);
    expect(properties('ImagingStudy_Series')).to.include('description');
    expect(Object.keys(schema.definitions)).to.not.include.members(['Project']);
  });

  it('define exactly the top-level elements of the R4 StructureDefinitions (Medplum additions removed)', () => {
    type Element = { path: string; type?: Array<{ code: string }> };
    const generator = require('../../scripts/gen-r4-validators.js') as {
      loadR4Profiles(): { profiles: Map<string, { elements: Element[] }>; removed: string[] };
    };
    const { profiles, removed } = generator.loadR4Profiles();
    expect(removed).to.include.members(['Meta.project', 'Meta.author', 'Meta.account', 'Meta.compartment', 'SubscriptionStatus']);
    const schema = readJson<{ definitions: Record<string, { properties?: Json }> }>('schemas/validators/fhir-r4.schema.json');
    for (const type of ['Patient', 'ServiceRequest', 'Task', 'ImagingStudy', 'Endpoint', 'Meta', 'Reference']) {
      const names = profiles
        .get(type)!
        .elements.filter((element) => element.path.split('.').length === 2)
        .flatMap((element) => {
          const name = element.path.split('.')[1];
          if (!name.endsWith('[x]')) return [name];
          return (element.type ?? []).map((t) => name.slice(0, -3) + t.code[0].toUpperCase() + t.code.slice(1));
        });
      const properties = Object.keys(schema.definitions[type].properties ?? {}).filter((name) => name !== 'resourceType' && !name.startsWith('_'));
      expect(properties.sort(), type).to.deep.equal([...new Set(names)].sort());
    }
  });

  it('list the summary and mandatory elements of R5 and R4', () => {
    type Summary = Record<string, Record<string, { summary: string[]; mandatory: string[] }>>;
    const summaries = readJson<Summary>('schemas/summary-elements.json');
    expect(Object.keys(summaries)).to.deep.equal(['5.0', '4.0']);
    for (const version of ['5.0', '4.0']) {
      expect(Object.keys(summaries[version]).sort()).to.deep.equal(['Endpoint', 'ImagingStudy', 'Patient', 'ServiceRequest', 'Task']);
    }
    const r5Patient = summaries['5.0'].Patient;
    expect(r5Patient.summary).to.include.members(['identifier', 'name', 'gender', 'birthDate', 'deceasedBoolean', 'deceasedDateTime', 'active']);
    expect(r5Patient.summary).to.not.include.members(['contact']);
    expect(r5Patient.summary).to.not.include('photo');
    expect(r5Patient.mandatory).to.deep.equal([]);
    expect(summaries['5.0'].ServiceRequest.summary).to.include.members(['occurrenceDateTime', 'occurrencePeriod', 'occurrenceTiming', 'code']);
    expect(summaries['5.0'].ServiceRequest.mandatory).to.deep.equal(['status', 'intent', 'subject']);
    expect(summaries['5.0'].Endpoint.mandatory).to.deep.equal(['status', 'connectionType', 'address']);
    expect(summaries['4.0'].ImagingStudy.summary).to.include.members(['modality', 'subject', 'started', 'series', 'procedureCode']);
    expect(summaries['4.0'].Endpoint.mandatory).to.deep.equal(['status', 'connectionType', 'payloadType', 'address']);
    expect(summaries['4.0'].Task.summary).to.not.include('input');
  });

  it('list the official R4 search parameters', () => {
    type Entry = { url: string; type: string; expression?: string; target?: string[] };
    const parameters = readJson<{ common: Record<string, Entry>; resources: Record<string, Record<string, Entry>> }>('schemas/search-parameters-r4.json');
    expect(parameters.common._id).to.include({ url: 'http://hl7.org/fhir/SearchParameter/Resource-id', type: 'token' });
    expect(parameters.common._lastUpdated.url).to.equal('http://hl7.org/fhir/SearchParameter/Resource-lastUpdated');
    expect(parameters.resources.Patient.identifier.url).to.equal('http://hl7.org/fhir/SearchParameter/Patient-identifier');
    expect(parameters.resources.ServiceRequest.patient).to.deep.equal({
      url: 'http://hl7.org/fhir/SearchParameter/clinical-patient',
      type: 'reference',
      expression: 'ServiceRequest.subject.where(resolve() is Patient)',
      target: ['Patient'],
    });
    expect(parameters.resources.ImagingStudy.modality.expression).to.equal('ImagingStudy.series.modality');
    expect(Object.keys(parameters.resources).sort()).to.deep.equal(['Endpoint', 'ImagingStudy', 'Patient', 'ServiceRequest', 'Task']);
  });
});
