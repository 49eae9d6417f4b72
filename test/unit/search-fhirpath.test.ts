import { expect } from 'chai';
import type { Resource } from '../../src/fhir/types';
import { compileFhirPath, evaluateFhirPath, FhirPathError } from '../../src/search/fhirpath';

const patient: Resource = {
  resourceType: 'Patient',
  id: 'p1',
  meta: { lastUpdated: '2024-03-01T10:00:00Z' },
  name: [
    { use: 'official', family: 'Müller', given: ['Hans', 'Peter'] },
    { use: 'nickname', given: ['Hansi'] },
  ],
  telecom: [
    { system: 'phone', value: '+41 22 000 00 00' },
    { system: 'email', value: 'hans@example.org' },
  ],
  deceasedDateTime: '2021-06-01T08:00:00Z',
  extension: [
    { url: 'http://example.org/agreement', valueReference: { reference: 'DocumentReference/d1' } },
    { url: 'http://example.org/other', valueString: 'x' },
  ],
};

const serviceRequest: Resource = {
  resourceType: 'ServiceRequest',
  id: 'sr1',
  status: 'active',
  intent: 'order',
  subject: { reference: 'Patient/p1' },
  occurrencePeriod: { start: '2024-01-10', end: '2024-01-20' },
};

const imagingStudy: Resource = {
  resourceType: 'ImagingStudy',
  id: 'is1',
  status: 'available',
  subject: { reference: 'Group/g1' },
  endpoint: [{ reference: 'Endpoint/e1' }],
  series: [
    { uid: '1.2.3.1', modality: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'CT' }] }, endpoint: [{ reference: 'Endpoint/e2' }] },
    { uid: '1.2.3.2', modality: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'SR' }] } },
  ],
};

describe('search FHIRPath subset', () => {
  it('navigates paths and flattens arrays', () => {
    expect(evaluateFhirPath('Patient.name.given', patient)).to.deep.equal(['Hans', 'Peter', 'Hansi']);
    expect(evaluateFhirPath('ImagingStudy.series.uid', imagingStudy)).to.deep.equal(['1.2.3.1', '1.2.3.2']);
    expect(evaluateFhirPath('Patient.name.family', patient)).to.deep.equal(['Müller']);
    expect(evaluateFhirPath('Patient.address.city', patient)).to.deep.equal([]);
    expect(evaluateFhirPath('Patient.constructor', patient)).to.deep.equal([]);
  });

  it('treats a leading type name as a filter on the resource type', () => {
    expect(evaluateFhirPath('Resource.id', patient)).to.deep.equal(['p1']);
    expect(evaluateFhirPath('Resource.meta.lastUpdated', patient)).to.deep.equal(['2024-03-01T10:00:00Z']);
    expect(evaluateFhirPath('DomainResource.id', serviceRequest)).to.deep.equal(['sr1']);
    expect(evaluateFhirPath('Observation.id', patient)).to.deep.equal([]);
  });

  it('reads choice elements by their JSON name and tests their type', () => {
    expect(evaluateFhirPath('Patient.deceased', patient)).to.deep.equal(['2021-06-01T08:00:00Z']);
    expect(evaluateFhirPath('(Patient.deceased.ofType(dateTime))', patient)).to.deep.equal(['2021-06-01T08:00:00Z']);
    expect(evaluateFhirPath('Patient.deceased.ofType(boolean)', patient)).to.deep.equal([]);
    expect(evaluateFhirPath('(Patient.deceased as dateTime)', patient)).to.deep.equal(['2021-06-01T08:00:00Z']);
    expect(evaluateFhirPath('Patient.deceased is dateTime', patient)).to.deep.equal([true]);
    const occurrence = 'ServiceRequest.occurrence.ofType(dateTime) | ServiceRequest.occurrence.ofType(Period) | ServiceRequest.occurrence.ofType(Timing)';
    expect(evaluateFhirPath(occurrence, serviceRequest)).to.deep.equal([{ start: '2024-01-10', end: '2024-01-20' }]);
    expect(evaluateFhirPath('ServiceRequest.occurrence.ofType(dateTime)', serviceRequest)).to.deep.equal([]);
    const task: Resource = {
      resourceType: 'Task',
      output: [
        { type: { text: 'report' }, valueReference: { reference: 'DiagnosticReport/r1' } },
        { type: { text: 'note' }, valueString: 'done' },
      ],
    };
    expect(evaluateFhirPath('Task.output.value.ofType(Reference)', task)).to.deep.equal([{ reference: 'DiagnosticReport/r1' }]);
  });

  it('does not take an element for a choice of another element with the same prefix', () => {
    const resource: Resource = { resourceType: 'Patient', nameAlias: 'x', valueQuantityish: 1 };
    expect(evaluateFhirPath('Patient.name', resource)).to.deep.equal([]);
    expect(evaluateFhirPath('Patient.value', resource)).to.deep.equal([]);
  });

  it('unions without duplicates', () => {
    expect(evaluateFhirPath('ImagingStudy.endpoint | ImagingStudy.series.endpoint', imagingStudy)).to.deep.equal([
      { reference: 'Endpoint/e1' },
      { reference: 'Endpoint/e2' },
    ]);
    expect(evaluateFhirPath("Patient.name.given | Patient.name.given", patient)).to.have.length(3);
  });

  it('filters with where() and simple equality', () => {
    expect(evaluateFhirPath("Patient.telecom.where(system='email')", patient)).to.deep.equal([{ system: 'email', value: 'hans@example.org' }]);
    expect(evaluateFhirPath("Patient.telecom.where(system='fax')", patient)).to.deep.equal([]);
    expect(evaluateFhirPath("Patient.name.where(use != 'official').given", patient)).to.deep.equal(['Hansi']);
  });

  it('resolve() is Type looks at the reference type, an absolute URL, Reference.type or a contained resource', () => {
    const expression = 'ServiceRequest.subject.where(resolve() is Patient)';
    const subject = (value: object) => ({ ...serviceRequest, subject: value });
    expect(evaluateFhirPath(expression, subject({ reference: 'Patient/p1' }))).to.have.length(1);
    expect(evaluateFhirPath(expression, subject({ reference: 'https://other.example/fhir/Patient/p9/_history/2' }))).to.have.length(1);
    expect(evaluateFhirPath(expression, subject({ reference: 'urn:uuid:0f4f5b1e-3b1a-4c7e-9d2f-0a0b0c0d0e0f', type: 'Patient' }))).to.have.length(1);
    expect(evaluateFhirPath(expression, subject({ reference: 'Group/g1' }))).to.deep.equal([]);
    expect(evaluateFhirPath(expression, subject({ identifier: { value: '123' } }))).to.deep.equal([]);
    const contained = { ...subject({ reference: '#pat' }), contained: [{ resourceType: 'Patient', id: 'pat' }] };
    expect(evaluateFhirPath(expression, contained)).to.deep.equal([{ reference: '#pat' }]);
    expect(evaluateFhirPath('ImagingStudy.subject.where(resolve() is Patient)', imagingStudy)).to.deep.equal([]);
  });

  it('evaluates exists(), empty(), not(), first(), count() and boolean logic', () => {
    const deceased = 'Patient.deceased.exists() and Patient.deceased != false';
    expect(evaluateFhirPath(deceased, patient)).to.deep.equal([true]);
    expect(evaluateFhirPath(deceased, { resourceType: 'Patient', deceasedBoolean: false })).to.deep.equal([false]);
    expect(evaluateFhirPath(deceased, { resourceType: 'Patient', deceasedBoolean: true })).to.deep.equal([true]);
    expect(evaluateFhirPath(deceased, { resourceType: 'Patient' })).to.deep.equal([false]);
    expect(evaluateFhirPath('Patient.name.first().given', patient)).to.deep.equal(['Hans', 'Peter']);
    expect(evaluateFhirPath('Patient.address.empty()', patient)).to.deep.equal([true]);
    expect(evaluateFhirPath('Patient.name.exists(use = \'nickname\')', patient)).to.deep.equal([true]);
    expect(evaluateFhirPath('Patient.active.not()', { resourceType: 'Patient', active: false })).to.deep.equal([true]);
    expect(evaluateFhirPath('Patient.name.given.count()', patient)).to.deep.equal([3]);
    expect(evaluateFhirPath('Patient.name[1].given', patient)).to.deep.equal(['Hansi']);
    expect(evaluateFhirPath('Patient.active or Patient.deceased.exists()', patient)).to.deep.equal([true]);
  });

  it('reads extensions by URL', () => {
    expect(evaluateFhirPath("Patient.extension('http://example.org/agreement').value", patient)).to.deep.equal([
      { reference: 'DocumentReference/d1' },
    ]);
  });

  it('rejects what the subset does not support when compiling, with the expression in the message', () => {
    const unsupported = [
      'Patient.name.given.substring(1)',
      'Patient.birthDate > @2020-01-01',
      'Patient.birthDate < Patient.deceased',
      'Patient.multipleBirth + 1',
      "Patient.name.given contains 'x'",
      '%ucum',
      '$index',
      'Patient.name.where(',
      'Patient.name)',
      "Patient.name.where('a' 'b')",
      'ofType()',
      '',
    ];
    for (const expression of unsupported) {
      expect(() => compileFhirPath(expression), expression).to.throw(FhirPathError);
    }
    expect(() => compileFhirPath('Patient.name.substring(1)')).to.throw(/substring\(\)' is not supported/);
  });

  it('fails at run time on a boolean test of several items instead of guessing', () => {
    expect(() => evaluateFhirPath('Patient.name.given and true', patient)).to.throw(FhirPathError, /several items/);
  });

  it('caches compiled expressions', () => {
    expect(compileFhirPath('Patient.gender')).to.equal(compileFhirPath('Patient.gender'));
  });
});
