import { expect } from 'chai';
import { fromR4, toR4 } from '../../src/fhir/r4';
import type { Resource } from '../../src/fhir/types';
import { buildCapabilityStatement } from '../../src/interactions/capability';
import type { ResourceProvider } from '../../src/resources/provider';
import { buildDicomWebEndpoint } from '../../src/resources/imaging/endpoint';
import { mapImagingStudy } from '../../src/resources/imaging/imaging-study';
import { mapPatient } from '../../src/resources/imaging/patient';
import { loadFixture, patientInput, studyInput } from './fixtures/imaging/load';
import { bundleR4Errors, r4SchemaErrors } from './fixtures/r4/r4-schema';

const X5 = 'http://hl7.org/fhir/5.0/StructureDefinition/extension-';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';

type Json = Record<string, unknown>;

const captured = loadFixture('study-pet-ct');
const study = mapImagingStudy(studyInput(captured), { endpoints: [{ reference: 'Endpoint/dicomweb' }] });
const patient = mapPatient(patientInput(captured));
const endpoint = buildDicomWebEndpoint({ address: 'https://pacs.example.org/dicom-web' });
const serviceRequest: Resource = {
  resourceType: 'ServiceRequest',
  id: 'sr1',
  status: 'active',
  intent: 'order',
  code: { concept: { text: 'CT chest' } },
  subject: { reference: `Patient/${patient.id}` },
  reason: [{ concept: { text: 'cough' } }],
};
const BASE = 'https://fhir.example.org/fhir';

describe('R4 view: Bundle, OperationOutcome, CapabilityStatement, Parameters', function () {
  this.timeout(60000);

  describe('a searchset with several types', () => {
    const bundle: Resource = {
      resourceType: 'Bundle',
      type: 'searchset',
      total: 1,
      link: [{ relation: 'self', url: `${BASE}/ImagingStudy?based-on=ServiceRequest/sr1&_include=ImagingStudy:based-on` }],
      entry: [
        { fullUrl: `${BASE}/ImagingStudy/${study.id}`, resource: study, search: { mode: 'match' } },
        { fullUrl: `${BASE}/Patient/${patient.id}`, resource: patient, search: { mode: 'include' } },
        { fullUrl: `${BASE}/Endpoint/dicomweb`, resource: endpoint, search: { mode: 'include' } },
        { fullUrl: `${BASE}/ServiceRequest/sr1`, resource: serviceRequest, search: { mode: 'include' } },
        { resource: { resourceType: 'OperationOutcome', issue: [{ severity: 'warning', code: 'not-supported', diagnostics: 'ignored: foo' }] }, search: { mode: 'outcome' } },
      ],
    };

    it('converts entry by entry, each entry R4 valid, and back', () => {
      const r4 = toR4(bundle) as Json;
      const entries = r4.entry as Json[];
      expect(entries.map((entry) => entry.resource)).to.deep.equal(
        (bundle.entry as Json[]).map((entry) => toR4(entry.resource as Resource)),
      );
      expect((entries[0]!.resource as Json).modality).to.deep.include({ system: DCM, code: 'CT' });
      expect((entries[2]!.resource as Json).payloadType).to.be.an('array');
      expect((entries[3]!.resource as Json).code).to.deep.equal({ text: 'CT chest' });
      expect(entries[4]).to.deep.equal((bundle.entry as Json[])[4]);
      expect(r4.link).to.deep.equal([{ relation: 'self', url: `${BASE}/ImagingStudy?basedon=ServiceRequest/sr1&_include=ImagingStudy:basedon` }]);
      expect(bundleR4Errors(r4)).to.deep.equal([]);
      expect(fromR4(r4 as Resource)).to.deep.equal(bundle);
    });

    it('turns R5 issues into an outcome entry marked to come back as issues', () => {
      const issues = { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'success' }] };
      const withIssues: Resource = { ...bundle, issues };
      const r4 = toR4(withIssues) as Json;
      expect(r4).to.not.have.key('issues');
      const last = (r4.entry as Json[]).at(-1)!;
      expect(last.search).to.deep.equal({ mode: 'outcome' });
      expect(last.extension).to.deep.equal([{ url: `${X5}Bundle.issues`, valueBoolean: true }]);
      expect(last.resource).to.deep.equal({
        resourceType: 'OperationOutcome',
        issue: [
          {
            severity: 'information',
            code: 'informational',
            _code: { extension: [{ url: `${X5}OperationOutcome.issue.code`, valueCode: 'success' }] },
          },
        ],
      });
      expect(bundleR4Errors(r4)).to.deep.equal([]);
      expect(fromR4(r4 as Resource)).to.deep.equal(withIssues);
    });
  });

  describe('an R4 transaction', () => {
    const transaction: Resource = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:0b6f1a1e-5c7e-4c1e-9b7e-6a1d2e3f4a5b',
          resource: {
            resourceType: 'ServiceRequest',
            status: 'active',
            intent: 'order',
            code: { coding: [{ system: 'http://loinc.org', code: '24627-2' }] },
            subject: { reference: 'Patient/p1' },
            reasonCode: [{ text: 'cough' }],
            patientInstruction: 'Fast',
          },
          request: { method: 'POST', url: 'ServiceRequest', ifNoneExist: 'identifier=urn:oid:2.25.42|ACC1&code=24627-2' },
        },
        {
          resource: {
            resourceType: 'Task',
            status: 'requested',
            intent: 'order',
            basedOn: [{ reference: 'urn:uuid:0b6f1a1e-5c7e-4c1e-9b7e-6a1d2e3f4a5b' }],
            for: { reference: 'Patient/p1' },
            performerType: [{ text: 'technologist' }],
          },
          request: { method: 'PUT', url: 'Task?based-on:ServiceRequest.code=24627-2' },
        },
        { request: { method: 'DELETE', url: 'ImagingStudy?basedon=ServiceRequest/old' } },
      ],
    };

    it('converts the resources and the search names of conditional requests, and back', () => {
      const r5 = fromR4(transaction) as Json;
      const entries = r5.entry as Json[];
      expect((entries[0]!.resource as Json).code).to.deep.equal({ concept: { coding: [{ system: 'http://loinc.org', code: '24627-2' }] } });
      expect((entries[0]!.resource as Json).patientInstruction).to.deep.equal([{ instructionMarkdown: 'Fast' }]);
      expect(entries[0]!.request).to.deep.equal({ method: 'POST', url: 'ServiceRequest', ifNoneExist: 'identifier=urn:oid:2.25.42|ACC1&code-concept=24627-2' });
      expect((entries[1]!.resource as Json).requestedPerformer).to.deep.equal([{ concept: { text: 'technologist' } }]);
      // Typed: the segment is renamed for ServiceRequest (untyped, Task.basedOn may also point to a Task, whose code stays code).
      expect(entries[1]!.request).to.deep.equal({ method: 'PUT', url: 'Task?based-on:ServiceRequest.code-concept=24627-2' });
      expect(entries[2]!.request).to.deep.equal({ method: 'DELETE', url: 'ImagingStudy?based-on=ServiceRequest/old' });
      expect(toR4(r5 as Resource)).to.deep.equal(transaction);
    });

    it('converts the outcomes of a transaction-response', () => {
      const response: Resource = {
        resourceType: 'Bundle',
        type: 'transaction-response',
        entry: [
          {
            response: {
              status: '400 Bad Request',
              outcome: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'limited-filter', diagnostics: 'x' }] },
            },
          },
        ],
      };
      const r4 = toR4(response) as Json;
      const outcome = ((r4.entry as Json[])[0]!.response as Json).outcome as Json;
      expect((outcome.issue as Json[])[0]!.code).to.equal('informational');
      expect(r4SchemaErrors(outcome)).to.deep.equal([]);
      expect(fromR4(r4 as Resource)).to.deep.equal(response);
    });
  });

  describe('CapabilityStatement', () => {
    const providers: ResourceProvider[] = [
      {
        type: 'ImagingStudy',
        interactions: ['read', 'search-type'],
        searchParams: [
          { name: 'based-on', type: 'reference', definition: 'http://hl7.org/fhir/SearchParameter/ImagingStudy-based-on' },
          { name: 'body-site', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/ImagingStudy-body-site' },
          { name: 'patient', type: 'reference', definition: 'http://hl7.org/fhir/SearchParameter/clinical-patient' },
        ],
        searchInclude: ['ImagingStudy:based-on', 'ImagingStudy:patient'],
      },
      {
        type: 'ServiceRequest',
        interactions: ['read', 'create', 'update', 'search-type'],
        searchParams: [
          { name: 'code-concept', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/ServiceRequest-code-concept' },
        ],
        searchRevInclude: ['ImagingStudy:based-on', 'Task:based-on'],
      },
    ];
    const statement = buildCapabilityStatement(
      providers,
      [],
      { name: 'orthanc-fhir', version: '0.1.0', orthancVersion: '1.10.1', date: '2030-01-01T00:00:00Z' },
      BASE,
      ['transaction', 'batch'],
    );

    it('is 4.0.1 with the R4 search names, R4 valid, and back', () => {
      const r4 = toR4({ ...statement, rest: [{ ...(statement.rest as Json[])[0], resource: [
        { ...((statement.rest as Json[])[0]!.resource as Json[])[0], conditionalPatch: true },
        ((statement.rest as Json[])[0]!.resource as Json[])[1],
      ] }] }) as Json;
      expect(r4.fhirVersion).to.equal('4.0.1');
      const [imaging, orders] = (r4.rest as Json[])[0]!.resource as Json[];
      expect(imaging!.searchParam).to.deep.equal([
        { name: 'basedon', type: 'reference', definition: 'http://hl7.org/fhir/SearchParameter/ImagingStudy-basedon' },
        { name: 'bodysite', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/ImagingStudy-bodysite' },
        { name: 'patient', type: 'reference', definition: 'http://hl7.org/fhir/SearchParameter/clinical-patient' },
      ]);
      expect(imaging!.searchInclude).to.deep.equal(['ImagingStudy:basedon', 'ImagingStudy:patient']);
      expect(imaging!.extension).to.deep.equal([{ url: `${X5}CapabilityStatement.rest.resource.conditionalPatch`, valueBoolean: true }]);
      expect(orders!.searchParam).to.deep.equal([
        { name: 'code', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/clinical-code' },
      ]);
      expect(orders!.searchRevInclude).to.deep.equal(['ImagingStudy:basedon', 'Task:based-on']);
      expect(r4SchemaErrors(r4)).to.deep.equal([]);
      const plain = toR4(statement);
      expect(fromR4(plain)).to.deep.equal(statement);
    });
  });

  describe('Parameters', () => {
    it('converts parameter resources and R5-only value types', () => {
      const parameters: Resource = {
        resourceType: 'Parameters',
        parameter: [
          { name: 'study', resource: study },
          { name: 'n', valueInteger64: '9007199254740993' },
          { name: 'group', part: [{ name: 'concept', valueCodeableReference: { concept: { text: 'x' } } }] },
        ],
      };
      const r4 = toR4(parameters) as Json;
      const [first, second, third] = r4.parameter as Json[];
      expect(first!.resource).to.deep.equal(toR4(study));
      expect(second!.valueString).to.equal('9007199254740993');
      expect(((third!.part as Json[])[0]!).valueCodeableConcept).to.deep.equal({ text: 'x' });
      expect(r4SchemaErrors(r4)).to.deep.equal([]);
      expect(fromR4(r4 as Resource)).to.deep.equal(parameters);
    });
  });
});
