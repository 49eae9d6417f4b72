// validateResource: the writes of Patient, ServiceRequest and Task, with
// imaging orders written as ../shared/orders-interface.md describes them.
import { expect } from 'chai';
import { OperationOutcomeError } from '../../src/fhir/outcome';
import type { OperationOutcomeIssue } from '../../src/fhir/types';
import {
  MAX_ISSUES,
  type ValidatedType,
  type ValidationOptions,
  isValidatedType,
  literalReferenceProblem,
  validateResource,
} from '../../src/validation';

type Json = Record<string, any>;

const ACSN_TYPE = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }] };
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const TX_UUID = 'urn:uuid:6f1c7a3e-2b4d-4e8f-9a1b-3c5d7e9f0a12';

function serviceRequest(): Json {
  return {
    resourceType: 'ServiceRequest',
    id: 'sr-1001',
    identifier: [
      { type: ACSN_TYPE, system: 'urn:oid:2.25.42', value: 'ACC1001' },
      { system: 'urn:dicom:uid', value: 'urn:oid:2.25.305414894785312374812352153418762948323' },
    ],
    status: 'active',
    intent: 'order',
    priority: 'routine',
    code: {
      concept: {
        coding: [{ system: 'http://loinc.org', code: '24627-2', display: 'CT Chest' }],
        text: 'CT chest without contrast',
      },
    },
    subject: { reference: 'Patient/pat-1', display: 'DOE^JANE' },
    occurrenceDateTime: '2030-06-01T09:30:00Z',
    authoredOn: '2030-05-28T16:02:11+02:00',
    requester: { display: 'Dr. A. Referrer' },
    reason: [{ concept: { text: 'Persistent cough' } }],
  };
}

function task(): Json {
  return {
    resourceType: 'Task',
    id: 'task-1001-1',
    status: 'requested',
    intent: 'order',
    basedOn: [{ reference: 'ServiceRequest/sr-1001' }],
    for: { reference: 'Patient/pat-1' },
    requestedPeriod: { start: '2030-06-01T09:30:00Z', end: '2030-06-01T10:00:00Z' },
    owner: { type: 'Device', identifier: { system: 'urn:dicom:ae', value: 'CT01' }, display: 'CT01' },
    requestedPerformer: [{ reference: { type: 'Device', identifier: { system: 'urn:dicom:ae', value: 'CT01' } } }],
    input: [
      {
        type: { coding: [{ system: DCM, code: '121139', display: 'Modality' }] },
        valueCodeableConcept: { coding: [{ system: DCM, code: 'CT' }] },
      },
    ],
  };
}

function patient(): Json {
  return {
    resourceType: 'Patient',
    id: 'pat-1',
    identifier: [{ use: 'usual', system: 'urn:oid:1.2.250.1.71.4.2.2', value: 'PID-000123' }],
    name: [{ family: 'Doe', given: ['Jane'] }],
    gender: 'female',
    birthDate: '1970-01-15',
  };
}

/** The OperationOutcomeError validateResource throws; fails the test when it does not throw. */
function rejection(type: ValidatedType, body: unknown, options?: ValidationOptions): OperationOutcomeError {
  try {
    validateResource(type, body, options);
  } catch (error) {
    expect(error).to.be.instanceOf(OperationOutcomeError);
    return error as OperationOutcomeError;
  }
  expect.fail(`${type} was accepted: ${JSON.stringify(body)}`);
}

function expectValid(type: ValidatedType, body: unknown, options?: ValidationOptions): void {
  try {
    validateResource(type, body, options);
  } catch (error) {
    const issues = error instanceof OperationOutcomeError ? JSON.stringify(error.outcome.issue, null, 1) : String(error);
    expect.fail(`${type} was rejected: ${issues}`);
  }
}

/** The 422's issues, as 'expression code' strings. */
function problems(type: ValidatedType, body: unknown, options?: ValidationOptions): string[] {
  const error = rejection(type, body, options);
  expect(error.status, JSON.stringify(error.outcome)).to.equal(422);
  return error.outcome.issue.map((issue) => `${issue.expression?.join(',')} ${issue.code}`);
}

function issueAt(type: ValidatedType, body: unknown, expression: string, options?: ValidationOptions): OperationOutcomeIssue {
  const error = rejection(type, body, options);
  expect(error.status).to.equal(422);
  const issue = error.outcome.issue.find((candidate) => candidate.expression?.[0] === expression);
  expect(issue, `no issue at ${expression} in ${JSON.stringify(error.outcome.issue)}`).to.not.equal(undefined);
  return issue!;
}

describe('validation: resources a RIS writes', () => {
  describe('accepts valid orders', () => {
    it('an imaging order: ServiceRequest, Task and Patient as the orders interface writes them', () => {
      expectValid('ServiceRequest', serviceRequest());
      expectValid('Task', task());
      expectValid('Patient', patient());
    });

    it('urn:uuid references between the entries of a transaction', () => {
      expectValid('ServiceRequest', { ...serviceRequest(), subject: { reference: TX_UUID } });
      expectValid('ServiceRequest', { ...serviceRequest(), subject: { reference: TX_UUID, type: 'Patient' } });
      expectValid('Task', {
        ...task(),
        basedOn: [{ reference: TX_UUID.replace('6f', '7a'), type: 'ServiceRequest' }],
        for: { reference: TX_UUID },
      });
    });

    it('a requested procedure as text only, and no id (a create)', () => {
      const body = serviceRequest();
      delete body.id;
      body.code = { concept: { text: 'CT chest' } };
      expectValid('ServiceRequest', body);
    });

    it('other basedOn references besides the ServiceRequest, and no optional elements', () => {
      expectValid('Task', {
        resourceType: 'Task',
        status: 'requested',
        intent: 'order',
        basedOn: [{ reference: 'CarePlan/cp1' }, { reference: 'ServiceRequest/sr-1001' }],
        for: { reference: 'Patient/pat-1' },
      });
    });

    it('a Patient with an identifier of the configured system', () => {
      const body = patient();
      body.identifier.unshift({ system: 'http://hospital.example/mrn', value: 'MRN-9' });
      expectValid('Patient', body, { patientIdSystem: 'urn:oid:1.2.250.1.71.4.2.2' });
    });

    it('a contained Patient, and primitive extensions', () => {
      expectValid('ServiceRequest', {
        ...serviceRequest(),
        contained: [{ resourceType: 'Patient', id: 'p', name: [{ family: 'Roe' }], gender: 'male' }],
        _status: { extension: [{ url: 'http://example.org/fhir/StructureDefinition/note', valueString: 'checked' }] },
      });
    });

    it('does not change the resource', () => {
      const body = serviceRequest();
      const copy = JSON.parse(JSON.stringify(body));
      validateResource('ServiceRequest', body);
      expect(body).to.deep.equal(copy);
    });
  });

  describe('400: not a resource of the URL type', () => {
    for (const [label, body] of [
      ['null', null],
      ['an array', [serviceRequest()]],
      ['a string', 'ServiceRequest'],
      ['a number', 42],
    ] as const) {
      it(`a body that is ${label}`, () => {
        const error = rejection('ServiceRequest', body);
        expect(error.status).to.equal(400);
        expect(error.outcome.issue[0].code).to.equal('invalid');
      });
    }

    it('no resourceType', () => {
      const body = serviceRequest();
      delete body.resourceType;
      const error = rejection('ServiceRequest', body);
      expect(error.status).to.equal(400);
      expect(error.outcome.issue[0].expression).to.deep.equal(['resourceType']);
      expect(error.outcome.issue[0].diagnostics).to.match(/no resourceType/);
    });

    it('another resourceType than the URL, even with other problems', () => {
      const error = rejection('ServiceRequest', { ...task(), status: 'bogus', foo: null });
      expect(error.status).to.equal(400);
      expect(error.outcome.issue).to.have.length(1);
      expect(error.outcome.issue[0].expression).to.deep.equal(['resourceType']);
      expect(error.outcome.issue[0].diagnostics).to.equal('The body is a Task resource, but a ServiceRequest resource is expected here');
      expect(rejection('Patient', { resourceType: 'patient' }).status).to.equal(400);
      expect(rejection('Patient', { resourceType: 7 }).status).to.equal(400);
    });
  });

  describe('422: the R5 schema', () => {
    it('an unknown element, such as an R4 name', () => {
      // R4's ServiceRequest.code was a CodeableConcept; R5's is a CodeableReference.
      const body = { ...serviceRequest(), code: { coding: [{ system: 'http://loinc.org', code: '24627-2' }] }, reasonCode: [{ text: 'x' }] };
      expect(problems('ServiceRequest', body)).to.have.members([
        'ServiceRequest.reasonCode structure',
        'ServiceRequest.code.coding structure',
        'ServiceRequest.code.concept required',
      ]);
      expect(issueAt('ServiceRequest', body, 'ServiceRequest.reasonCode').diagnostics).to.match(/Unknown element 'reasonCode'/);
    });

    it('a wrong JSON type', () => {
      const body = { ...serviceRequest(), identifier: { type: ACSN_TYPE, value: 'ACC1001' } };
      const issue = issueAt('ServiceRequest', body, 'ServiceRequest.identifier');
      expect(issue.code).to.equal('structure');
      expect(issue.diagnostics).to.equal('Expected an array, found an object');
      expect(issueAt('Patient', { ...patient(), active: 'yes' }, 'Patient.active').code).to.equal('structure');
    });

    it('a code outside its required binding', () => {
      const issue = issueAt('ServiceRequest', { ...serviceRequest(), status: 'scheduled' }, 'ServiceRequest.status');
      expect(issue.code).to.equal('code-invalid');
      expect(issue.diagnostics).to.contain('"scheduled"').and.contain('active');
      expect(problems('Task', { ...task(), status: 'active' })).to.deep.equal(['Task.status code-invalid']);
      expect(problems('Task', { ...task(), intent: 'directive' })).to.deep.equal(['Task.intent code-invalid']);
      expect(problems('ServiceRequest', { ...serviceRequest(), priority: 'high' })).to.deep.equal(['ServiceRequest.priority code-invalid']);
      expect(problems('Patient', { ...patient(), gender: 'F' })).to.deep.equal(['Patient.gender code-invalid']);
    });

    it('an id that is not a FHIR id', () => {
      for (const id of ['sr 1001', 'x'.repeat(65), 'sr_1', 'é']) {
        const issue = issueAt('ServiceRequest', { ...serviceRequest(), id }, 'ServiceRequest.id');
        expect(issue.code).to.equal('value');
        expect(issue.diagnostics).to.contain('not a valid id');
      }
      expectValid('ServiceRequest', { ...serviceRequest(), id: 'A-z.09'.padEnd(64, '9') });
    });

    it('a dateTime with a time but no UTC offset, also in a choice element', () => {
      const start = issueAt('Task', { ...task(), requestedPeriod: { start: '2030-06-01T09:30:00' } }, 'Task.requestedPeriod.start');
      expect(start.code).to.equal('value');
      expect(start.diagnostics).to.contain('UTC offset');
      expect(problems('ServiceRequest', { ...serviceRequest(), occurrenceDateTime: '2030-06-01T09:30:00' })).to.deep.equal([
        'ServiceRequest.occurrenceDateTime value',
      ]);
      expect(problems('ServiceRequest', { ...serviceRequest(), occurrenceDateTime: '2030-06-01Z' })).to.deep.equal([
        'ServiceRequest.occurrenceDateTime value',
      ]);
      expectValid('ServiceRequest', { ...serviceRequest(), occurrenceDateTime: '2030-06-01' });
    });

    it('values that break their primitive type, with array indexes in the expression', () => {
      const body = serviceRequest();
      body.identifier[0].system = 'urn:oid: 2.25.42';
      const issue = issueAt('ServiceRequest', body, 'ServiceRequest.identifier[0].system');
      expect(issue.code).to.equal('value');
      expect(issue.diagnostics).to.equal('"urn:oid: 2.25.42" is not a valid uri (no whitespace)');
      const input = task();
      input.input.push({ type: { text: 'Number of views' }, valuePositiveInt: 0 }, { type: { text: 'Count' }, valueInteger: 1.5 });
      expect(problems('Task', input)).to.deep.equal(['Task.input[1].valuePositiveInt value', 'Task.input[2].valueInteger structure']);
    });

    it('contained resources', () => {
      const body = {
        ...serviceRequest(),
        contained: [
          { resourceType: 'Patient', id: 'p', gender: 'F' },
          { resourceType: 'Practitioner', id: 'dr' },
          { resourceType: 'Nonsense', id: 'n' },
        ],
      };
      expect(problems('ServiceRequest', body)).to.deep.equal([
        'ServiceRequest.contained[2].resourceType code-invalid',
        'ServiceRequest.contained[0].gender code-invalid',
      ]);
    });
  });

  describe('422: FHIR JSON rules the schema misses', () => {
    it('null, said once (not also as a wrong type)', () => {
      const body = serviceRequest();
      body.priority = null;
      body.identifier[1].value = null;
      expect(problems('ServiceRequest', body)).to.deep.equal(['ServiceRequest.identifier[1].value structure', 'ServiceRequest.priority structure']);
      expect(issueAt('ServiceRequest', body, 'ServiceRequest.priority').diagnostics).to.contain('null');
    });

    it('empty or whitespace-only strings', () => {
      const body = patient();
      body.name[0].given = ['Jane', ''];
      body.name[0].family = '   ';
      expect(problems('Patient', body)).to.deep.equal(['Patient.name[0].family value', 'Patient.name[0].given[1] value']);
    });

    it('empty arrays and objects', () => {
      expect(problems('Task', { ...task(), input: [], owner: {} })).to.deep.equal(['Task.owner structure', 'Task.input structure']);
    });

    it('absurd nesting is one issue, not a stack overflow', () => {
      let extension: Json = { url: 'http://example.org/x', valueString: 'deep' };
      for (let i = 0; i < 5000; i++) extension = { url: 'http://example.org/x', extension: [extension] };
      const error = rejection('Patient', { ...patient(), extension: [extension] });
      expect(error.status).to.equal(422);
      expect(error.outcome.issue).to.have.length(1);
      expect(error.outcome.issue[0].diagnostics).to.match(/nests deeper than/);
    });
  });

  describe('422: what the worklist needs from a ServiceRequest', () => {
    for (const element of ['status', 'intent', 'code']) {
      it(`${element} is required`, () => {
        const body = serviceRequest();
        delete body[element];
        expect(problems('ServiceRequest', body)).to.deep.equal([`ServiceRequest.${element} required`]);
      });
    }

    it('subject is required (said once, though both the schema and the rule require it)', () => {
      const body = serviceRequest();
      delete body.subject;
      expect(problems('ServiceRequest', body)).to.deep.equal(['ServiceRequest.subject required']);
    });

    for (const [label, subject, message] of [
      ['a Group', { reference: 'Group/g1' }, /not a Group/],
      ['a logical reference', { identifier: { system: 'urn:oid:1.2.3', value: 'PID-000123' } }, /identifier alone is not resolved/],
      ['an absolute URL', { reference: 'https://pacs.example.org/fhir/Patient/pat-1' }, /literal reference to a Patient/],
      ['a contained resource', { reference: '#p' }, /literal reference to a Patient/],
      ['a urn:uuid typed as another resource', { reference: TX_UUID, type: 'Group' }, /not a Group/],
      ['a type contradicting the reference', { reference: 'Patient/pat-1', type: 'Group' }, /contradicts/],
      ['a display only', { display: 'Jane Doe' }, /literal reference to a Patient/],
    ] as const) {
      it(`subject is not ${label}`, () => {
        const issue = issueAt('ServiceRequest', { ...serviceRequest(), subject }, 'ServiceRequest.subject');
        expect(issue.code).to.equal('business-rule');
        expect(issue.diagnostics).to.match(message);
      });
    }

    it('code.concept, not only a code.reference', () => {
      const body = { ...serviceRequest(), code: { reference: { reference: 'ActivityDefinition/ct-chest' } } };
      expect(problems('ServiceRequest', body)).to.deep.equal(['ServiceRequest.code.concept required']);
    });

    it('code.concept with a coding that has a code, or a text', () => {
      const body = { ...serviceRequest(), code: { concept: { coding: [{ system: 'http://loinc.org', display: 'CT Chest' }] } } };
      const issue = issueAt('ServiceRequest', body, 'ServiceRequest.code.concept');
      expect(issue.code).to.equal('business-rule');
      expect(issue.diagnostics).to.match(/coding with a code, or a text/);
    });

    it('an accession number: an identifier of type v2-0203 ACSN', () => {
      const body = serviceRequest();
      body.identifier.shift();
      const issue = issueAt('ServiceRequest', body, 'ServiceRequest.identifier');
      expect(issue.code).to.equal('required');
      expect(issue.diagnostics).to.contain('http://terminology.hl7.org/CodeSystem/v2-0203#ACSN');
      delete body.identifier;
      expect(problems('ServiceRequest', body)).to.deep.equal(['ServiceRequest.identifier required']);
    });

    it('an identifier typed with another v2-0203 code is no accession number', () => {
      const body = serviceRequest();
      body.identifier[0].type = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'PLAC' }] };
      expect(problems('ServiceRequest', body)).to.deep.equal(['ServiceRequest.identifier required']);
      body.identifier[0].type = { text: 'ACSN' };
      expect(problems('ServiceRequest', body)).to.deep.equal(['ServiceRequest.identifier required']);
    });

    it('the accession number has a value', () => {
      const body = serviceRequest();
      delete body.identifier[0].value;
      expect(problems('ServiceRequest', body)).to.deep.equal(['ServiceRequest.identifier[0].value required']);
      body.identifier[0].value = '';
      expect(problems('ServiceRequest', body)).to.deep.equal(['ServiceRequest.identifier[0].value value']);
    });
  });

  describe('422: what the worklist needs from a Task', () => {
    for (const element of ['status', 'intent', 'basedOn', 'for']) {
      it(`${element} is required`, () => {
        const body = task();
        delete body[element];
        expect(problems('Task', body)).to.deep.equal([`Task.${element} required`]);
      });
    }

    it('basedOn includes a ServiceRequest', () => {
      const issue = issueAt('Task', { ...task(), basedOn: [{ reference: 'CarePlan/cp1' }] }, 'Task.basedOn');
      expect(issue.code).to.equal('business-rule');
      expect(issue.diagnostics).to.contain('ServiceRequest');
      expect(problems('Task', { ...task(), basedOn: [{ identifier: { system: 'urn:oid:2.25.42', value: 'ACC1001' } }] })).to.deep.equal([
        'Task.basedOn business-rule',
      ]);
      expect(problems('Task', { ...task(), basedOn: [{ reference: TX_UUID, type: 'CarePlan' }] })).to.deep.equal([
        'Task.basedOn business-rule',
      ]);
    });

    it('for is a literal Patient reference', () => {
      expect(problems('Task', { ...task(), for: { reference: 'Device/ct01' } })).to.deep.equal(['Task.for business-rule']);
      expect(problems('Task', { ...task(), for: { identifier: { system: 'urn:oid:1.2.3', value: 'PID-000123' } } })).to.deep.equal([
        'Task.for business-rule',
      ]);
    });
  });

  describe('422: what the worklist needs from a Patient', () => {
    it('an identifier with a value (the PatientID)', () => {
      const body = patient();
      delete body.identifier;
      expect(problems('Patient', body)).to.deep.equal(['Patient.identifier required']);
      expect(problems('Patient', { ...patient(), identifier: [{ system: 'urn:oid:1.2.3' }] })).to.deep.equal([
        'Patient.identifier[0].value required',
      ]);
    });

    it('with patientIdSystem, an identifier of that system', () => {
      const options = { patientIdSystem: 'http://pacs.example/pid' };
      const issue = issueAt('Patient', patient(), 'Patient.identifier', options);
      expect(issue.code).to.equal('required');
      expect(issue.diagnostics).to.contain('http://pacs.example/pid');
      expectValid('Patient', patient());
      const body = patient();
      body.identifier.push({ system: 'http://pacs.example/pid' });
      expect(problems('Patient', body, options)).to.deep.equal(['Patient.identifier[1].value required']);
    });
  });

  describe('the OperationOutcome', () => {
    it('one issue per problem, each with severity, code, diagnostics and expression', () => {
      const body: Json = { ...serviceRequest(), status: 'bogus', subject: { reference: 'Group/1' }, extra: 1, occurrenceDateTime: '2030-06-01T09:30' };
      delete body.intent;
      const error = rejection('ServiceRequest', body);
      expect(error.status).to.equal(422);
      expect(error.outcome.resourceType).to.equal('OperationOutcome');
      expect(error.outcome.issue).to.have.length(5);
      for (const issue of error.outcome.issue) {
        expect(issue.severity).to.equal('error');
        expect(issue.diagnostics).to.be.a('string').and.not.equal('');
        expect(issue.expression).to.have.length(1);
        expect(issue.expression![0]).to.match(/^ServiceRequest\./);
      }
      expect(error.message).to.contain('is not an allowed code');
    });

    it(`at most ${MAX_ISSUES} issues, the last saying how many were left out`, () => {
      const body: Json = serviceRequest();
      for (let i = 0; i < 80; i++) body[`unknown${i}`] = i;
      const issues = rejection('ServiceRequest', body).outcome.issue;
      expect(issues).to.have.length(MAX_ISSUES);
      expect(issues[MAX_ISSUES - 1]).to.include({ severity: 'information', diagnostics: `${80 - (MAX_ISSUES - 1)} more issues were found and are not listed` });
      expect(rejection('ServiceRequest', body, { maxIssues: 5 }).outcome.issue).to.have.length(5);
    });

    it('names with characters FHIRPath identifiers cannot hold are quoted', () => {
      expect(problems('Patient', { ...patient(), 'birth date': '1970' })).to.deep.equal(['Patient.`birth date` structure']);
    });
  });

  describe('helpers', () => {
    it('isValidatedType', () => {
      expect(['Patient', 'ServiceRequest', 'Task', 'ImagingStudy', 'task'].map(isValidatedType)).to.deep.equal([true, true, true, false, false]);
    });

    it('literalReferenceProblem', () => {
      expect(literalReferenceProblem({ reference: 'ServiceRequest/a.b-1' }, 'ServiceRequest')).to.equal(undefined);
      expect(literalReferenceProblem({ reference: 'ServiceRequest/a b' }, 'ServiceRequest')).to.be.a('string');
      expect(literalReferenceProblem({ reference: 'urn:uuid:not-a-uuid' }, 'Patient')).to.be.a('string');
      expect(literalReferenceProblem({ reference: 'Patient/pat-1/_history/2' }, 'Patient')).to.be.a('string');
    });
  });
});
