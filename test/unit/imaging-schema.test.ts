// Every resource the imaging mappers produce, for every captured study and
// several option sets, must validate against the official R5 JSON schema and
// the JSON rules the schema leaves out (see fixtures/imaging/fhir-schema.ts).
import { expect } from 'chai';
import {
  buildDicomWebEndpoint,
  dicomWebAddress,
  endpointReference,
  mapImagingStudy,
  mapPatient,
  type ImagingStudyMapOptions,
  type PatientMapOptions,
} from '../../src/resources/imaging';
import { FIXTURE_NAMES, loadFixture, patientInput, studyInput } from './fixtures/imaging/load';
import { fhirProblems, loadFhirSchema } from '../support/fhir-schema';

const endpoint = buildDicomWebEndpoint({ address: dicomWebAddress('https://pacs.example.org/orthanc/', '/dicom-web/') });

const patientOptions: Record<string, PatientMapOptions> = {
  defaults: {},
  configured: {
    patientIdSystem: 'http://pacs.example/pid',
    issuerSystems: { 'HOSP-A': 'http://hosp-a.example/mrn' },
    nameRepresentationExtension: true,
  },
};

const studyOptions: Record<string, ImagingStudyMapOptions> = {
  defaults: {},
  configured: {
    endpoints: [endpointReference(endpoint)],
    defaultTimezoneOffset: '+02:00',
    accessionNumberSystem: 'http://ris.example/acsn',
    codingSystems: { '99HOSPA': 'http://hosp-a.example/procedures' },
    bodyPartCodings: { CHEST: { system: 'http://snomed.info/sct', code: '51185008', display: 'Thorax' } },
  },
  literalOrder: {
    endpoints: [endpointReference(endpoint)],
    endpointOnSeries: false,
    serviceRequestReference: () => ({ reference: 'ServiceRequest/42' }),
  },
};

function expectValid(resource: { resourceType: string; [key: string]: unknown }): void {
  const problems = fhirProblems(resource);
  expect(problems, `${JSON.stringify(resource, null, 1)}\n${problems.join('\n')}`).to.deep.equal([]);
}

describe('imaging: output validates against the FHIR R5 schema', function () {
  before(function () {
    // Compiling the 4 MB schema takes seconds.
    this.timeout(120_000);
    loadFhirSchema();
  });

  it('the validator catches what it should (so a pass means something)', () => {
    expect(fhirProblems({ resourceType: 'Patient', id: 'x', name: [{ family: '' }] })).to.have.length.greaterThan(0);
    expect(fhirProblems({ resourceType: 'Patient', id: 'x', gender: 'M' })).to.have.length.greaterThan(0);
    expect(fhirProblems({ resourceType: 'Patient', id: 'x', identifier: [] })).to.have.length.greaterThan(0);
    expect(fhirProblems({ resourceType: 'Patient', id: 'x', birthDate: '19700115' })).to.have.length.greaterThan(0);
    expect(
      fhirProblems({ resourceType: 'ImagingStudy', id: 'x', status: 'available', subject: { reference: 'Patient/x' }, started: '2024-01-31T10:00:00' }),
    ).to.have.length.greaterThan(0);
    expect(fhirProblems({ resourceType: 'ImagingStudy', id: 'x', status: 'available' })).to.have.length.greaterThan(0);
    expect(
      fhirProblems({
        resourceType: 'ImagingStudy',
        id: 'x',
        status: 'available',
        subject: { reference: 'Patient/x' },
        series: [{ uid: '1.2.3', modality: { text: 'CT' }, instance: [{ uid: '1.2.3.4' }] }],
      }),
    ).to.have.length.greaterThan(0);
    expect(fhirProblems({ resourceType: 'Endpoint', id: 'x', status: 'active', address: 'https://x' })).to.have.length.greaterThan(0);
  });

  for (const name of FIXTURE_NAMES) {
    for (const [label, options] of Object.entries(patientOptions)) {
      it(`Patient from ${name} (${label})`, () => {
        const captured = loadFixture(name);
        expectValid(mapPatient(patientInput(captured), options));
        expectValid(mapPatient(patientInput(captured, false), options));
      });
    }

    for (const [label, options] of Object.entries(studyOptions)) {
      it(`ImagingStudy from ${name} (${label})`, () => {
        const captured = loadFixture(name);
        expectValid(mapImagingStudy(studyInput(captured), options));
        expectValid(mapImagingStudy(studyInput(captured, { instances: false }), options));
        expectValid(mapImagingStudy(studyInput(captured, { sopClasses: false, seriesTags: false }), options));
      });
    }
  }

  it('Endpoint, default and customised', () => {
    expectValid(endpoint);
    expectValid(
      buildDicomWebEndpoint({
        address: 'http://localhost:8042/dicom-web',
        id: 'pacs-1',
        connectionTypes: ['dicom-wado-rs', 'dicom-qido-rs', 'dicom-stow-rs'],
        mimeTypes: [],
      }),
    );
  });
});
