import { expect } from 'chai';
import { fromR4, toR4 } from '../../src/fhir/r4';
import { DEFAULT_R4_PAYLOAD_TYPE } from '../../src/fhir/r4/endpoint';
import type { Resource } from '../../src/fhir/types';
import { SNOMED_SYSTEM } from '../../src/resources/imaging/dicom-codes';
import { buildDicomWebEndpoint } from '../../src/resources/imaging/endpoint';
import { mapImagingStudy } from '../../src/resources/imaging/imaging-study';
import { mapPatient } from '../../src/resources/imaging/patient';
import { FIXTURE_NAMES, loadFixture, patientInput, studyInput } from './fixtures/imaging/load';
import { r4SchemaErrors } from './fixtures/r4/r4-schema';

const X5 = 'http://hl7.org/fhir/5.0/StructureDefinition/extension-';
const X4 = 'http://hl7.org/fhir/4.0/StructureDefinition/extension-';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const ENDPOINT = { reference: 'Endpoint/dicomweb' };

type Json = Record<string, unknown>;

function json(value: unknown): Json {
  return value as Json;
}

function roundTrip(resource: Resource): { r4: Json; back: Resource } {
  const before = JSON.stringify(resource);
  const r4 = toR4(resource);
  expect(JSON.stringify(resource), 'toR4 mutated its input').to.equal(before);
  const r4Before = JSON.stringify(r4);
  const back = fromR4(r4);
  expect(JSON.stringify(r4), 'fromR4 mutated its input').to.equal(r4Before);
  return { r4: json(r4), back };
}

describe('R4 view: ImagingStudy, Endpoint, Patient', function () {
  this.timeout(60000);

  describe('ImagingStudy from the mappers, for every fixture', () => {
    for (const name of FIXTURE_NAMES) {
      it(`${name}: R4 valid, R5 -> R4 -> R5 lossless`, () => {
        const study = mapImagingStudy(studyInput(loadFixture(name)), {
          endpoints: [ENDPOINT],
          serviceRequestReference: () => ({ reference: 'ServiceRequest/42' }),
          bodyPartCodings: { CHEST: { system: SNOMED_SYSTEM, code: '51185008', display: 'Thorax' } },
        });
        const { r4, back } = roundTrip(study);
        expect(r4SchemaErrors(r4)).to.deep.equal([]);
        expect(back).to.deep.equal(study);
      });
    }
  });

  describe('a PET-CT study', () => {
    const study = mapImagingStudy(studyInput(loadFixture('study-pet-ct')), {
      endpoints: [ENDPOINT],
      bodyPartCodings: { CHEST: { system: SNOMED_SYSTEM, code: '51185008', display: 'Thorax' } },
    });
    const r4 = json(toR4(study));
    const series = r4.series as Json[];

    it('has Coding modalities, study and series', () => {
      expect(r4.modality).to.deep.equal([
        { system: DCM, code: 'CT' },
        { system: DCM, code: 'PT' },
        { system: DCM, code: 'SR' },
      ]);
      expect(series[0]!.modality).to.deep.equal({ system: DCM, code: 'CT' });
    });

    it('has procedureCode for the R5 procedure concepts, without extension', () => {
      expect(r4.procedureCode).to.deep.equal([
        { coding: [{ system: 'http://loinc.org', code: '24627-2', display: 'CT Chest' }] },
        { coding: [{ code: 'PETCT01', display: 'PET-CT oncology protocol' }] },
      ]);
      expect(r4).to.not.have.any.keys('procedure', 'procedureReference', 'extension');
    });

    it('keeps basedOn, endpoint, counts and instance sopClass as they are', () => {
      expect(r4.basedOn).to.deep.equal(study.basedOn);
      expect(r4.endpoint).to.deep.equal([ENDPOINT]);
      expect(r4.numberOfSeries).to.equal(4);
      expect(r4.numberOfInstances).to.equal(7);
      expect(series[0]!.instance).to.deep.equal(study.series?.[0]?.instance);
    });

    it('writes series.bodySite as a Coding, the R5 CodeableReference in the cross-version extension', () => {
      const chest = series[0]!;
      expect(chest.bodySite).to.deep.equal({ system: SNOMED_SYSTEM, code: '51185008', display: 'Thorax' });
      expect(chest.extension).to.deep.equal([
        {
          url: `${X5}ImagingStudy.series.bodySite`,
          // R4 has no CodeableReference: a complex extension, concept and reference.
          extension: [
            {
              url: 'concept',
              valueCodeableConcept: { coding: [{ system: SNOMED_SYSTEM, code: '51185008', display: 'Thorax' }], text: 'CHEST' },
            },
          ],
        },
      ]);
    });
  });

  describe('ImagingStudy elements without an R4 or R5 home', () => {
    const study: Resource = {
      resourceType: 'ImagingStudy',
      id: 's1',
      status: 'available',
      subject: { reference: 'Patient/p1' },
      partOf: [{ reference: 'Procedure/pr1' }],
      procedure: [{ concept: { text: 'CT head' } }, { reference: { reference: 'PlanDefinition/pd' } }],
      reason: [
        { concept: { text: 'headache' } },
        { reference: { reference: 'Condition/c1' } },
        { concept: { text: 'both' }, reference: { reference: 'Condition/c2' } },
      ],
      series: [{ uid: '1.2.3', modality: { text: 'Unknown modality' }, laterality: { coding: [{ system: SNOMED_SYSTEM, code: '7771000' }] } }],
    };

    it('splits procedure and reason as the maps do, the whole R5 element in extensions when they lose something', () => {
      const r4 = json(toR4(study));
      expect(r4.procedureCode).to.deep.equal([{ text: 'CT head' }]);
      expect(r4.procedureReference).to.deep.equal({ reference: 'PlanDefinition/pd' });
      expect(r4.reasonCode).to.deep.equal([{ text: 'headache' }, { text: 'both' }]);
      expect(r4.reasonReference).to.deep.equal([{ reference: 'Condition/c1' }, { reference: 'Condition/c2' }]);
      const urls = (r4.extension as Json[]).map((extension) => extension.url);
      expect(urls).to.deep.equal([
        `${X5}ImagingStudy.reason`,
        `${X5}ImagingStudy.reason`,
        `${X5}ImagingStudy.reason`,
        `${X5}ImagingStudy.partOf`,
      ]);
      const series = (r4.series as Json[])[0]!;
      expect(series.modality).to.deep.equal({ display: 'Unknown modality' });
      expect(series.laterality).to.deep.equal({ system: SNOMED_SYSTEM, code: '7771000' });
      expect(r4SchemaErrors(r4)).to.deep.equal([]);
      expect(fromR4(toR4(study))).to.deep.equal(study);
    });

    it('uses the R4 elements when an R4 client changed them after reading the extensions', () => {
      const r4 = json(toR4(study));
      r4.reasonCode = [{ text: 'changed' }];
      const back = json(fromR4(r4 as Resource));
      expect(back.reason).to.deep.equal([
        { concept: { text: 'changed' } },
        { reference: { reference: 'Condition/c1' } },
        { reference: { reference: 'Condition/c2' } },
      ]);
      expect(back.partOf).to.deep.equal([{ reference: 'Procedure/pr1' }]);
      expect(back).to.not.have.key('extension');
    });

    it('gives an R4 client back its interpreter, through an R4 extension on the R5 side', () => {
      const r4: Resource = {
        resourceType: 'ImagingStudy',
        id: 's2',
        status: 'available',
        subject: { reference: 'Patient/p1' },
        modality: [{ system: DCM, code: 'MR' }],
        interpreter: [{ reference: 'Practitioner/dr1' }],
        procedureCode: [{ text: 'MR knee' }],
        reasonReference: [{ reference: 'Condition/c1' }],
        series: [
          {
            uid: '1.2.3.4',
            modality: { system: DCM, code: 'MR' },
            bodySite: { system: SNOMED_SYSTEM, code: '72696002', display: 'Knee' },
            laterality: { system: SNOMED_SYSTEM, code: '24028007', display: 'Right' },
          },
        ],
      };
      const r5 = json(fromR4(r4));
      expect(r5.extension).to.deep.equal([{ url: `${X4}ImagingStudy.interpreter`, valueReference: { reference: 'Practitioner/dr1' } }]);
      expect(r5.modality).to.deep.equal([{ coding: [{ system: DCM, code: 'MR' }] }]);
      expect(r5.procedure).to.deep.equal([{ concept: { text: 'MR knee' } }]);
      expect(r5.reason).to.deep.equal([{ reference: { reference: 'Condition/c1' } }]);
      expect((r5.series as Json[])[0]!.bodySite).to.deep.equal({
        concept: { coding: [{ system: SNOMED_SYSTEM, code: '72696002', display: 'Knee' }] },
      });
      expect(toR4(r5 as Resource)).to.deep.equal(r4);
    });
  });

  describe('Endpoint', () => {
    const endpoint = buildDicomWebEndpoint({ address: 'https://pacs.example.org/dicom-web' });

    it('has one connectionType Coding, payloadType and payloadMimeType', () => {
      const { r4, back } = roundTrip(endpoint);
      expect(r4.connectionType).to.deep.equal({
        system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type',
        code: 'dicom-wado-rs',
        display: 'DICOM WADO-RS',
      });
      // R5's 'any' payload of a WADO-RS Endpoint is R4's DICOM WADO-RS (the R4 DICOM examples), and back.
      expect(endpoint.payload?.[0]?.type?.[0]?.coding?.[0]?.code).to.equal('any');
      expect(r4.payloadType).to.deep.equal([DEFAULT_R4_PAYLOAD_TYPE]);
      expect(r4.payloadMimeType).to.deep.equal(['application/dicom', 'application/dicom+json', 'application/dicom+xml']);
      expect(r4).to.not.have.any.keys('payload', 'extension');
      expect(r4SchemaErrors(r4)).to.deep.equal([]);
      expect(back).to.deep.equal(endpoint);
    });

    it('gets the DICOM WADO-RS payloadType when the R5 has none, and keeps the R5-only elements', () => {
      const bare: Resource = {
        resourceType: 'Endpoint',
        id: 'e1',
        status: 'active',
        connectionType: [
          { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' }] },
          { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-qido-rs' }] },
        ],
        description: 'WADO and QIDO',
        environmentType: [{ coding: [{ system: 'http://hl7.org/fhir/endpoint-environment', code: 'prod' }] }],
        address: 'https://pacs.example.org/dicom-web',
      };
      const r4 = json(toR4(bare));
      expect(r4.payloadType).to.deep.equal([DEFAULT_R4_PAYLOAD_TYPE]);
      expect(r4.connectionType).to.deep.equal({ system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' });
      expect((r4.extension as Json[]).map((extension) => extension.url)).to.deep.equal([
        `${X5}Endpoint.connectionType`,
        `${X5}Endpoint.connectionType`,
        `${X5}Endpoint.description`,
        `${X5}Endpoint.environmentType`,
      ]);
      expect(r4SchemaErrors(r4)).to.deep.equal([]);
      const back = json(fromR4(r4 as Resource));
      // The R4 payloadType R4 requires comes back as an R5 payload: 'any', what R5 says of a WADO-RS Endpoint.
      expect(back.payload).to.deep.equal([{ type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/endpoint-payload-type', code: 'any', display: 'Any' }] }] }]);
      const { payload: _payload, ...rest } = back;
      expect(rest).to.deep.equal(bare);
    });

    it('keeps several R5 payloads, and R4 status test, through the extensions', () => {
      const r5: Resource = {
        ...endpoint,
        payload: [
          { type: [{ text: 'a' }], mimeType: ['application/dicom'] },
          { type: [{ text: 'b' }] },
        ],
      };
      expect(fromR4(toR4(r5))).to.deep.equal(r5);
      const r4Test: Resource = { ...toR4(endpoint), status: 'test' };
      const r5Test = json(fromR4(r4Test));
      expect(r5Test.status).to.equal('active');
      expect(r5Test._status).to.deep.equal({ extension: [{ url: `${X4}Endpoint.status`, valueCode: 'test' }] });
      expect(toR4(r5Test as Resource)).to.deep.equal(r4Test);
    });
  });

  describe('Patient', () => {
    for (const name of ['study-pet-ct', 'study-mammo'] as const) {
      it(`${name}: the same in R4, valid`, () => {
        const patient = mapPatient(patientInput(loadFixture(name)), { nameRepresentationExtension: true });
        const { r4, back } = roundTrip(patient);
        expect(r4).to.deep.equal(patient);
        expect(r4).to.not.equal(patient);
        expect(r4SchemaErrors(r4)).to.deep.equal([]);
        expect(back).to.deep.equal(patient);
      });
    }

    it('converts contained resources', () => {
      const patient: Resource = {
        resourceType: 'Patient',
        id: 'p1',
        contained: [{ resourceType: 'Endpoint', id: 'e', status: 'active', connectionType: [{ coding: [{ code: 'x' }] }], address: 'https://x' }],
      };
      const r4 = json(toR4(patient));
      expect((r4.contained as Json[])[0]!.connectionType).to.deep.equal({ code: 'x' });
      expect(fromR4(r4 as Resource)).to.deep.equal({
        ...patient,
        contained: [{ ...json(patient.contained && (patient.contained as Json[])[0]), payload: [{ type: [DEFAULT_R4_PAYLOAD_TYPE] }] }],
      });
    });
  });
});
