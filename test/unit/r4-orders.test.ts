import { expect } from 'chai';
import { fromR4, toR4 } from '../../src/fhir/r4';
import type { Resource } from '../../src/fhir/types';
import { r4SchemaErrors } from './fixtures/r4/r4-schema';

const X5 = 'http://hl7.org/fhir/5.0/StructureDefinition/extension-';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const ACSN = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }] };
const AE_CT01 = { type: 'Device', identifier: { system: 'urn:dicom:ae', value: 'CT01' }, display: 'CT01' };

type Json = Record<string, unknown>;

/** An R4 ServiceRequest as a RIS writes it (the R4 form of ../shared/orders-interface.md). */
const R4_SERVICE_REQUEST: Resource = {
  resourceType: 'ServiceRequest',
  id: 'sr1',
  identifier: [
    { type: ACSN, system: 'urn:oid:2.25.42', value: 'ACC1001' },
    { system: 'urn:dicom:uid', value: 'urn:oid:2.25.1001' },
  ],
  status: 'active',
  intent: 'order',
  priority: 'routine',
  code: {
    coding: [{ system: 'http://loinc.org', code: '24627-2', display: 'CT Chest' }],
    text: 'CT chest with contrast',
  },
  orderDetail: [{ text: 'with contrast' }],
  subject: { reference: 'Patient/p1' },
  occurrenceDateTime: '2030-06-01T09:30:00Z',
  requester: { reference: 'Practitioner/dr1', display: 'Dr. Jane Smith' },
  performerType: { coding: [{ system: 'http://snomed.info/sct', code: '66862007', display: 'Radiologist' }] },
  performer: [{ reference: 'Organization/radiology' }],
  locationCode: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'RADDX' }] }],
  reasonCode: [{ text: 'Persistent cough' }],
  reasonReference: [{ reference: 'Condition/c1' }],
  supportingInfo: [{ reference: 'Observation/creatinine' }],
  bodySite: [{ coding: [{ system: 'http://snomed.info/sct', code: '51185008', display: 'Thorax' }] }],
  note: [{ text: 'Patient is claustrophobic' }],
  patientInstruction: 'Do not eat 4 hours before the exam',
};

/** The scheduled procedure step, R4. */
const R4_TASK: Resource = {
  resourceType: 'Task',
  id: 't1',
  basedOn: [{ reference: 'ServiceRequest/sr1' }],
  status: 'requested',
  businessStatus: { text: 'scheduled' },
  intent: 'order',
  priority: 'routine',
  code: { coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill' }] },
  focus: { reference: 'ServiceRequest/sr1' },
  for: { reference: 'Patient/p1' },
  executionPeriod: { start: '2030-06-01T09:30:00Z' },
  authoredOn: '2030-05-20T08:00:00Z',
  owner: AE_CT01,
  performerType: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/task-performer-type', code: 'performer' }] }],
  reasonCode: { text: 'Persistent cough' },
  input: [
    {
      type: { coding: [{ system: DCM, code: '121139' }] },
      valueCodeableConcept: { coding: [{ system: DCM, code: 'CT' }] },
    },
  ],
  output: [{ type: { text: 'study' }, valueReference: { reference: 'ImagingStudy/st1' } }],
};

/** An R5 ServiceRequest as the orders interface describes it, with R5-only data. */
const R5_SERVICE_REQUEST: Resource = {
  resourceType: 'ServiceRequest',
  id: 'sr2',
  identifier: [{ type: ACSN, system: 'urn:oid:2.25.42', value: 'ACC1002' }],
  status: 'active',
  intent: 'order',
  code: { concept: { coding: [{ system: 'http://loinc.org', code: '24627-2' }], text: 'CT Chest' } },
  orderDetail: [
    {
      parameterFocus: { concept: { text: 'contrast agent' } },
      parameter: [{ code: { text: 'dose' }, valueQuantity: { value: 50, unit: 'mL' } }],
    },
  ],
  subject: { reference: 'Patient/p1' },
  focus: [{ reference: 'Specimen/sp1' }],
  occurrenceDateTime: '2030-06-01T09:30:00Z',
  location: [{ reference: { reference: 'Location/ct-room' } }],
  reason: [{ concept: { text: 'cough' } }, { reference: { reference: 'Condition/c1' } }],
  supportingInfo: [{ reference: { reference: 'Observation/o1' } }, { concept: { text: 'pregnancy ruled out' } }],
  bodyStructure: { reference: 'BodyStructure/b1' },
  patientInstruction: [{ instructionMarkdown: 'Fast **4 hours**' }],
};

const R5_TASK: Resource = {
  resourceType: 'Task',
  id: 't2',
  basedOn: [{ reference: 'ServiceRequest/sr2' }],
  status: 'requested',
  statusReason: { concept: { text: 'waiting for the patient' } },
  intent: 'order',
  for: { reference: 'Patient/p1' },
  requestedPeriod: { start: '2030-06-01T09:30:00Z' },
  owner: AE_CT01,
  requestedPerformer: [{ reference: AE_CT01 }, { concept: { text: 'CT technologist' } }],
  performer: [{ function: { text: 'operator' }, actor: { reference: 'Practitioner/tech1' } }],
  reason: [{ concept: { text: 'cough' } }, { concept: { text: 'fever' } }],
  doNotPerform: false,
  input: [
    {
      type: { coding: [{ system: DCM, code: '121139' }] },
      valueCodeableConcept: { coding: [{ system: DCM, code: 'CT' }] },
    },
    { type: { text: 'protocol' }, valueCodeableReference: { reference: { reference: 'PlanDefinition/ct-chest' } } },
  ],
  output: [{ type: { text: 'study' }, valueReference: { reference: 'ImagingStudy/st1' } }],
};

describe('R4 view: ServiceRequest and Task', function () {
  this.timeout(60000);

  describe('as a RIS writes them in R4', () => {
    it('a ServiceRequest becomes the R5 of the orders interface', () => {
      const r5 = fromR4(R4_SERVICE_REQUEST) as Json;
      expect(r5.code).to.deep.equal({ concept: (R4_SERVICE_REQUEST as Json).code });
      expect(r5.reason).to.deep.equal([{ concept: { text: 'Persistent cough' } }, { reference: { reference: 'Condition/c1' } }]);
      expect(r5.location).to.deep.equal([
        { concept: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'RADDX' }] } },
      ]);
      expect(r5.supportingInfo).to.deep.equal([{ reference: { reference: 'Observation/creatinine' } }]);
      expect(r5.patientInstruction).to.deep.equal([{ instructionMarkdown: 'Do not eat 4 hours before the exam' }]);
      expect(r5.orderDetail).to.deep.equal([{ parameterFocus: { concept: { text: 'with contrast' } } }]);
      expect(r5.identifier).to.deep.equal((R4_SERVICE_REQUEST as Json).identifier);
      expect(r5).to.not.have.any.keys('reasonCode', 'reasonReference', 'locationCode', 'extension');
    });

    it('a ServiceRequest round-trips R4 -> R5 -> R4 unchanged', () => {
      expect(r4SchemaErrors(R4_SERVICE_REQUEST)).to.deep.equal([]);
      expect(toR4(fromR4(R4_SERVICE_REQUEST))).to.deep.equal(R4_SERVICE_REQUEST);
    });

    it('a Task becomes R5 with reason and requestedPerformer', () => {
      const r5 = fromR4(R4_TASK) as Json;
      expect(r5.reason).to.deep.equal([{ concept: { text: 'Persistent cough' } }]);
      expect(r5.requestedPerformer).to.deep.equal([{ concept: (R4_TASK as Json).performerType && ((R4_TASK as Json).performerType as Json[])[0] }]);
      expect(r5.owner).to.deep.equal(AE_CT01);
      expect(r5.input).to.deep.equal((R4_TASK as Json).input);
      expect(r5).to.not.have.any.keys('reasonCode', 'performerType', 'extension');
    });

    it('a Task round-trips R4 -> R5 -> R4 unchanged', () => {
      expect(r4SchemaErrors(R4_TASK)).to.deep.equal([]);
      expect(toR4(fromR4(R4_TASK))).to.deep.equal(R4_TASK);
    });

    it('does not mutate its input', () => {
      const before = JSON.stringify([R4_SERVICE_REQUEST, R4_TASK]);
      fromR4(R4_SERVICE_REQUEST);
      fromR4(R4_TASK);
      expect(JSON.stringify([R4_SERVICE_REQUEST, R4_TASK])).to.equal(before);
    });
  });

  describe('R5 with elements R4 lacks', () => {
    it('a ServiceRequest: R4 shapes, R4 valid, extensions for the rest, lossless back', () => {
      const r4 = toR4(R5_SERVICE_REQUEST) as Json;
      expect(r4.code).to.deep.equal({ coding: [{ system: 'http://loinc.org', code: '24627-2' }], text: 'CT Chest' });
      expect(r4.orderDetail).to.deep.equal([{ text: 'contrast agent' }]);
      expect(r4.locationReference).to.deep.equal([{ reference: 'Location/ct-room' }]);
      expect(r4.reasonCode).to.deep.equal([{ text: 'cough' }]);
      expect(r4.reasonReference).to.deep.equal([{ reference: 'Condition/c1' }]);
      expect(r4.supportingInfo).to.deep.equal([{ reference: 'Observation/o1' }]);
      expect(r4.patientInstruction).to.equal('Fast **4 hours**');
      const urls = (r4.extension as Json[]).map((extension) => extension.url);
      expect(urls).to.deep.equal([
        `${X5}ServiceRequest.orderDetail`,
        `${X5}ServiceRequest.supportingInfo`,
        `${X5}ServiceRequest.supportingInfo`,
        `${X5}ServiceRequest.focus`,
        `${X5}ServiceRequest.bodyStructure`,
      ]);
      expect((r4.extension as Json[])[0]).to.deep.equal({
        url: `${X5}ServiceRequest.orderDetail`,
        extension: [
          { url: 'parameterFocus', extension: [{ url: 'concept', valueCodeableConcept: { text: 'contrast agent' } }] },
          {
            url: 'parameter',
            extension: [
              { url: 'code', valueCodeableConcept: { text: 'dose' } },
              { url: 'value', valueQuantity: { value: 50, unit: 'mL' } },
            ],
          },
        ],
      });
      expect(r4SchemaErrors(r4)).to.deep.equal([]);
      expect(fromR4(r4 as Resource)).to.deep.equal(R5_SERVICE_REQUEST);
    });

    it('a ServiceRequest code that references an ActivityDefinition keeps it in an extension', () => {
      const r5: Resource = {
        ...R5_SERVICE_REQUEST,
        code: { concept: { text: 'CT' }, reference: { reference: 'ActivityDefinition/ct' } },
      };
      const r4 = toR4(r5) as Json;
      expect(r4.code).to.deep.equal({ text: 'CT' });
      expect((r4.extension as Json[]).find((extension) => extension.url === `${X5}ServiceRequest.code`)).to.deep.equal({
        url: `${X5}ServiceRequest.code`,
        extension: [
          { url: 'concept', valueCodeableConcept: { text: 'CT' } },
          { url: 'reference', valueReference: { reference: 'ActivityDefinition/ct' } },
        ],
      });
      expect(fromR4(r4 as Resource)).to.deep.equal(r5);
    });

    it('a Task: R4 shapes, R4 valid, extensions for the rest, lossless back', () => {
      const r4 = toR4(R5_TASK) as Json;
      expect(r4.statusReason).to.deep.equal({ text: 'waiting for the patient' });
      expect(r4.reasonCode).to.deep.equal({ text: 'cough' });
      expect(r4.performerType).to.deep.equal([{ text: 'CT technologist' }]);
      expect(r4).to.not.have.any.keys('requestedPerformer', 'performer', 'requestedPeriod', 'doNotPerform', 'reason');
      const urls = (r4.extension as Json[]).map((extension) => extension.url);
      expect(urls).to.deep.equal([
        `${X5}Task.reason`,
        `${X5}Task.reason`,
        `${X5}Task.requestedPerformer`,
        `${X5}Task.requestedPerformer`,
        `${X5}Task.performer`,
        `${X5}Task.requestedPeriod`,
        `${X5}Task.doNotPerform`,
      ]);
      const protocol = (r4.input as Json[])[1]!;
      expect(protocol.valueReference).to.deep.equal({ reference: 'PlanDefinition/ct-chest' });
      expect(protocol.extension).to.deep.equal([
        { url: `${X5}Task.input.value`, extension: [{ url: 'reference', valueReference: { reference: 'PlanDefinition/ct-chest' } }] },
      ]);
      expect(r4SchemaErrors(r4)).to.deep.equal([]);
      expect(fromR4(r4 as Resource)).to.deep.equal(R5_TASK);
    });

    it('an R4 client that changes the R4 element wins over the stale extension', () => {
      const r4 = toR4(R5_TASK) as Json;
      r4.performerType = [{ text: 'radiographer' }];
      const back = fromR4(r4 as Resource) as Json;
      expect(back.requestedPerformer).to.deep.equal([{ concept: { text: 'radiographer' } }]);
      expect(toR4(back as Resource)).to.have.property('performerType').deep.equal([{ text: 'radiographer' }]);
    });
  });
});
