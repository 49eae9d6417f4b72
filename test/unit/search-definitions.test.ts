import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineSearch, officialSearchParam, resolveSearchParam, searchParamDeclarations } from '../../src/search/definitions';

interface GeneratedEntry {
  url: string;
  type: string;
  expression?: string;
  target?: string[];
  description: string;
  supported: boolean;
  unsupportedReason?: string;
  base?: string;
  implicitSystem?: string;
  implicitSystemByCode?: Record<string, string>;
}

interface GeneratedFile {
  common: Record<string, GeneratedEntry>;
  resources: Record<string, Record<string, GeneratedEntry>>;
  generatedFrom: string;
}

interface Generator {
  generate(): GeneratedFile;
  splitUnion(expression: string): string[];
  expressionFor(expression: string | undefined, base: string): string | undefined;
  descriptionFor(description: string, base: string): string;
  implicitSystemOf(expression: string): { implicitSystem?: string; implicitSystemByCode?: Record<string, string> };
}

// The generator is a plain CommonJS script; its exports are typed here.
const generator = require('../../scripts/gen-search-params.js') as Generator;
const committedPath = join(__dirname, '..', '..', 'schemas', 'search-parameters.json');

describe('search parameter definitions (scripts/gen-search-params.js)', () => {
  const generated = generator.generate();

  it('the committed schemas/search-parameters.json is what the generator writes', () => {
    const committed = JSON.parse(readFileSync(committedPath, 'utf8')) as GeneratedFile;
    expect(committed).to.deep.equal(generated);
    expect(generated.generatedFrom).to.equal('hl7.fhir.r5.core@5.0.0');
  });

  it('is deterministic: sorted keys at every level', () => {
    const text = readFileSync(committedPath, 'utf8');
    const check = (value: unknown): void => {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
      const keys = Object.keys(value);
      expect(keys).to.deep.equal([...keys].sort());
      for (const child of Object.values(value)) check(child);
    };
    check(JSON.parse(text));
  });

  it('covers the served types and keeps only their part of combined definitions', () => {
    expect(Object.keys(generated.resources)).to.deep.equal(['AuditEvent', 'Endpoint', 'ImagingStudy', 'Patient', 'ServiceRequest', 'Subscription', 'SubscriptionTopic', 'Task']);
    // A combined definition keeps AuditEvent's member only (clinical-date lists many types).
    expect(generated.resources.AuditEvent!.date!.expression).to.equal('AuditEvent.recorded');
    const patientOfStudy = generated.resources.ImagingStudy!.patient!;
    expect(patientOfStudy.expression).to.equal('ImagingStudy.subject.where(resolve() is Patient)');
    expect(patientOfStudy.url).to.equal('http://hl7.org/fhir/SearchParameter/clinical-patient');
    expect(patientOfStudy.target).to.deep.equal(['Patient']);
    expect(patientOfStudy.description).to.equal('Who the study is about');
    expect(generated.resources.Task!.patient!.expression).to.equal('Task.for.where(resolve() is Patient)');
    expect(generated.resources.Patient!.birthdate!.expression).to.equal('Patient.birthDate');
    expect(generated.resources.Patient!.email!.expression).to.equal("Patient.telecom.where(system='email')");
    expect(generated.resources.Patient!.birthdate!.description).to.equal("The patient's date of birth");
    expect(generated.resources.ServiceRequest!.occurrence!.expression).to.equal(
      'ServiceRequest.occurrence.ofType(dateTime) | ServiceRequest.occurrence.ofType(Period) | ServiceRequest.occurrence.ofType(Timing)',
    );
  });

  it('includes the common parameters with their official expressions and marks what the engine supports', () => {
    expect(generated.common._id).to.include({ type: 'token', expression: 'Resource.id', supported: true, base: 'Resource' });
    expect(generated.common._lastUpdated).to.include({ type: 'date', expression: 'Resource.meta.lastUpdated', supported: true });
    expect(generated.common._text!.supported).to.equal(false);
    expect(generated.common._has!.supported).to.equal(false);
    expect(generated.resources.ImagingStudy!.reason).to.include({ supported: false, unsupportedReason: 'the official definition has no FHIRPath expression' });
    expect(generated.resources.Patient!.phonetic!.supported).to.equal(false);
    // Example SearchParameters of the package (experimental) are left out.
    expect(generated.resources.Patient!['part-agree']).to.equal(undefined);
  });

  it('every entry marked supported compiles with the engine', () => {
    const all = [
      ...Object.entries(generated.resources).flatMap(([type, params]) => Object.keys(params).map((code) => [type, code] as const)),
      ...Object.keys(generated.common).map((code) => ['Patient', code] as const),
    ];
    let compiled = 0;
    for (const [type, code] of all) {
      const definition = officialSearchParam(type, code)!;
      if (definition.supported) {
        expect(() => resolveSearchParam(type, code, definition), `${type}.${code}`).not.to.throw();
        compiled++;
      } else {
        expect(() => resolveSearchParam(type, code, definition), `${type}.${code}`).to.throw(/not (supported|implemented)/);
      }
    }
    expect(compiled).to.be.at.least(90);
  });

  it('gives token parameters on a bound code the code system of its value set', () => {
    const { common, resources } = generated;
    expect(resources.Patient!.gender!.implicitSystem).to.equal('http://hl7.org/fhir/administrative-gender');
    expect(resources.Patient!['address-use']!.implicitSystem).to.equal('http://hl7.org/fhir/address-use');
    expect(resources.ImagingStudy!.status!.implicitSystem).to.equal('http://hl7.org/fhir/imagingstudy-status');
    expect(resources.Endpoint!.status!.implicitSystem).to.equal('http://hl7.org/fhir/endpoint-status');
    expect(resources.ServiceRequest!.status!.implicitSystem).to.equal('http://hl7.org/fhir/request-status');
    expect(resources.ServiceRequest!.intent!.implicitSystem).to.equal('http://hl7.org/fhir/request-intent');
    expect(resources.ServiceRequest!.priority!.implicitSystem).to.equal('http://hl7.org/fhir/request-priority');
    expect(resources.Task!.status!.implicitSystem).to.equal('http://hl7.org/fhir/task-status');
    expect(resources.Task!.priority!.implicitSystem).to.equal('http://hl7.org/fhir/request-priority');
    expect(common._language!.implicitSystem).to.equal('urn:ietf:bcp:47');
    // Task.intent's value set includes task-intent (all of it: 'unknown') and some request-intent codes.
    expect(resources.Task!.intent!.implicitSystem).to.equal(undefined);
    expect(resources.Task!.intent!.implicitSystemByCode).to.include({
      unknown: 'http://hl7.org/fhir/task-intent',
      order: 'http://hl7.org/fhir/request-intent',
      plan: 'http://hl7.org/fhir/request-intent',
    });
    // id, boolean, uri elements, and complex types that carry their own system, get none.
    for (const [type, code] of [['ImagingStudy', 'series'], ['ImagingStudy', 'instance'], ['Patient', 'active'], ['Patient', 'identifier'],
      ['Patient', 'deceased'], ['ImagingStudy', 'modality'], ['Endpoint', 'connection-type']] as const) {
      expect(resources[type]![code]!.implicitSystem, `${type}.${code}`).to.equal(undefined);
      expect(resources[type]![code]!.implicitSystemByCode, `${type}.${code}`).to.equal(undefined);
    }
    expect(common._id!.implicitSystem).to.equal(undefined);
    // Only token parameters get one.
    expect(Object.values(resources).flatMap((params) => Object.values(params)).filter((p) => p.implicitSystem && p.type !== 'token')).to.deep.equal([]);
  });

  it('follows paths through backbone elements, data types, ofType() and where()', () => {
    expect(generator.implicitSystemOf('Patient.contact.gender')).to.deep.equal({ implicitSystem: 'http://hl7.org/fhir/administrative-gender' });
    expect(generator.implicitSystemOf('(Patient.link.type)')).to.deep.equal({ implicitSystem: 'http://hl7.org/fhir/link-type' });
    expect(generator.implicitSystemOf("Patient.address.where(city='x').use")).to.deep.equal({ implicitSystem: 'http://hl7.org/fhir/address-use' });
    expect(generator.implicitSystemOf('Patient.gender | Patient.contact.gender')).to.deep.equal({ implicitSystem: 'http://hl7.org/fhir/administrative-gender' });
    // Members that disagree (a code and an id), or an expression that is not a path: none.
    expect(generator.implicitSystemOf('Patient.gender | Patient.id')).to.deep.equal({});
    expect(generator.implicitSystemOf('Patient.deceased.exists() and Patient.deceased != false')).to.deep.equal({});
    expect(generator.implicitSystemOf('Patient.deceased.ofType(boolean)')).to.deep.equal({});
    expect(generator.implicitSystemOf('Patient.nosuchelement')).to.deep.equal({});
  });

  it('splits unions at top level only and picks a description bullet', () => {
    expect(generator.splitUnion("A.b.where(c = 'x|y') | (A.d as dateTime) | B.e")).to.deep.equal([
      "A.b.where(c = 'x|y')",
      '(A.d as dateTime)',
      'B.e',
    ]);
    expect(generator.expressionFor('Patient.a | (Person.b) | (Patient.c)', 'Patient')).to.equal('Patient.a | (Patient.c)');
    expect(generator.descriptionFor('Multiple Resources: \r\n\r\n* [Person](person.html): P\r\n* [Patient](patient.html): The [x](y.html) thing. More\r\n', 'Patient')).to.equal('The x thing');
    expect(generator.descriptionFor('Type of content (e.g. DICOM). Second.', 'Endpoint')).to.equal('Type of content (e.g. DICOM)');
  });
});

describe('defineSearch', () => {
  it('compiles the declared parameters and the CapabilityStatement declaration', () => {
    const search = defineSearch({ resourceType: 'Patient', params: ['_id', 'name', 'birthdate'], include: ['Patient:general-practitioner'] });
    expect([...search.params.keys()]).to.deep.equal(['_id', 'name', 'birthdate']);
    expect(search.defaultCount).to.equal(20);
    expect(searchParamDeclarations(search)[2]).to.deep.equal({
      name: 'birthdate',
      type: 'date',
      definition: 'http://hl7.org/fhir/SearchParameter/individual-birthdate',
      documentation: "The patient's date of birth",
    });
  });

  it('fails at load time on what it cannot serve', () => {
    expect(() => defineSearch({ resourceType: 'Patient', params: ['nmae'] })).to.throw(/Patient\.nmae: no definition/);
    expect(() => defineSearch({ resourceType: 'ImagingStudy', params: ['reason'] })).to.throw(/no FHIRPath expression/);
    expect(() => defineSearch({ resourceType: 'Patient', params: ['phonetic'] })).to.throw(/phonetic/);
    expect(() => defineSearch({ resourceType: 'Patient', params: ['_text'] })).to.throw(/special/);
    expect(() =>
      defineSearch({ resourceType: 'Patient', params: ['x'], custom: { x: { type: 'string', expression: 'Patient.name.substring(2)' } } }),
    ).to.throw(/Patient\.x: FHIRPath .*substring/);
    expect(() => defineSearch({ resourceType: 'Patient', params: [], include: ['Patient:name'] })).to.throw(/not a reference/);
    expect(() => defineSearch({ resourceType: 'Patient', params: [], include: ['ImagingStudy:subject'] })).to.throw(/expected 'Patient:param/);
    expect(() => defineSearch({ resourceType: 'Patient', params: [], defaultCount: 500, maxCount: 100 })).to.throw(/page sizes/);
  });

  it('accepts custom definitions, which override the official one', () => {
    const search = defineSearch({
      resourceType: 'ImagingStudy',
      params: ['reason'],
      custom: { reason: { type: 'token', expression: 'ImagingStudy.reason.concept' } },
    });
    expect(search.params.get('reason')!.expression.expression).to.equal('ImagingStudy.reason.concept');
  });
});
