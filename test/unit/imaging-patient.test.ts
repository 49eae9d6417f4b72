import { expect } from 'chai';
import { MEDICAL_RECORD_TYPE } from '../../src/resources/imaging/dicom-codes';
import { NAME_REPRESENTATION_EXTENSION_URL } from '../../src/resources/imaging/dicom-pn';
import { mapPatient } from '../../src/resources/imaging/patient';
import { loadFixture, patientInput } from './fixtures/imaging/load';

describe('imaging: Patient mapper', () => {
  const options = {
    patientIdSystem: 'http://pacs.example/pid',
    issuerSystems: { 'HOSP-A': 'http://hosp-a.example/mrn' },
  };

  it('maps a patient with issuer, other ids and three name groups', () => {
    const captured = loadFixture('study-pet-ct');
    const patient = mapPatient(patientInput(captured), options);
    expect(patient.id).to.equal(captured.patient.ID);
    expect(patient.meta).to.deep.equal({ lastUpdated: '2026-11-28T05:38:05Z' });
    expect(patient.identifier).to.deep.equal([
      {
        use: 'usual',
        type: MEDICAL_RECORD_TYPE,
        system: 'http://hosp-a.example/mrn',
        value: 'PID-001',
        assigner: { display: 'HOSP-A' },
      },
      // OtherPatientIDsSequence: issuer with an ISO universal id.
      {
        use: 'secondary',
        system: 'urn:oid:2.16.840.1.113883.2.4.6.3',
        value: 'NAT-123',
        assigner: { display: 'NATIONAL' },
      },
      // Retired OtherPatientIDs: no issuer, so no system.
      { use: 'secondary', value: 'ALT-1' },
      { use: 'secondary', value: 'ALT-2' },
    ]);
    expect(patient.name).to.deep.equal([
      { text: 'Dr. John Albert Doe Jr.', family: 'Doe', given: ['John', 'Albert'], prefix: ['Dr.'], suffix: ['Jr.'] },
      { text: '山田 太郎', family: '山田', given: ['太郎'] },
      { text: 'やまだ たろう', family: 'やまだ', given: ['たろう'] },
    ]);
    expect(patient.gender).to.equal('male');
    expect(patient.birthDate).to.equal('1970-01-15');
  });

  it('does not put an unconfigured, non-OID issuer in the default namespace', () => {
    const patient = mapPatient(patientInput(loadFixture('study-pet-ct')), { patientIdSystem: 'http://pacs.example/pid' });
    expect(patient.identifier?.[0]).to.deep.equal({
      use: 'usual',
      type: MEDICAL_RECORD_TYPE,
      value: 'PID-001',
      assigner: { display: 'HOSP-A' },
    });
  });

  it('uses only the indexed tags when no file tags are given', () => {
    // Orthanc 1.10.1 does not index IssuerOfPatientID: the issuer is then unknown.
    const patient = mapPatient(patientInput(loadFixture('study-pet-ct'), false), options);
    expect(patient.identifier?.map((identifier) => [identifier.system, identifier.value])).to.deep.equal([
      ['http://pacs.example/pid', 'PID-001'],
      [undefined, 'ALT-1'],
      [undefined, 'ALT-2'],
    ]);
  });

  it('decodes Latin-1 names, sex O, an OID issuer and drops an impossible birth date', () => {
    const patient = mapPatient(patientInput(loadFixture('study-mammo')), options);
    expect(patient.name).to.deep.equal([
      { text: 'Prof. Dr. Jürgen Müller', family: 'Müller', given: ['Jürgen'], prefix: ['Prof. Dr.'] },
    ]);
    expect(patient.gender).to.equal('other');
    expect(patient).to.not.have.property('birthDate'); // 19701332
    expect(patient.identifier).to.deep.equal([
      {
        use: 'usual',
        type: MEDICAL_RECORD_TYPE,
        system: 'urn:oid:1.3.6.1.4.1.99999.1',
        value: 'PID-003',
        assigner: { display: '1.3.6.1.4.1.99999.1' },
      },
    ]);
  });

  it('keeps a partial birth date and ideographic/phonetic-only names', () => {
    const patient = mapPatient(patientInput(loadFixture('study-ultrasound')), { nameRepresentationExtension: true });
    expect(patient.birthDate).to.equal('1985-07');
    expect(patient.gender).to.equal('female');
    expect(patient.name).to.deep.equal([
      {
        extension: [{ url: NAME_REPRESENTATION_EXTENSION_URL, valueCode: 'IDE' }],
        text: '山田 花子',
        family: '山田',
        given: ['花子'],
      },
      {
        extension: [{ url: NAME_REPRESENTATION_EXTENSION_URL, valueCode: 'SYL' }],
        text: 'やまだ はなこ',
        family: 'やまだ',
        given: ['はなこ'],
      },
    ]);
  });

  it('maps an unknown sex code to unknown and empty name components to nothing', () => {
    const patient = mapPatient(patientInput(loadFixture('study-empty-values')));
    expect(patient.gender).to.equal('unknown');
    expect(patient).to.not.have.property('birthDate'); // 20230230
    expect(patient.name).to.deep.equal([{ text: 'Q Doe Esq.', family: 'Doe', given: ['Q'], suffix: ['Esq.'] }]);
  });

  it('leaves out what the data does not have', () => {
    const patient = mapPatient(patientInput(loadFixture('study-minimal')));
    expect(patient).to.not.have.any.keys('gender', 'birthDate');
    expect(patient.identifier).to.deep.equal([{ use: 'usual', type: MEDICAL_RECORD_TYPE, value: 'ANON-2' }]);
    expect(patient.name).to.deep.equal([{ text: 'ANONYMOUS', family: 'ANONYMOUS' }]);
  });

  it('omits identifier, name and meta when Orthanc has nothing for them', () => {
    const patient = mapPatient({ patient: { ID: 'abc', MainDicomTags: { PatientID: '', PatientName: '', PatientSex: '' } } });
    expect(patient).to.deep.equal({ resourceType: 'Patient', id: 'abc' });
  });

  it('applies a configured LastUpdate offset and rejects a bad one', () => {
    const captured = loadFixture('study-minimal');
    expect(mapPatient(patientInput(captured), { lastUpdateOffset: '+02:00' }).meta?.lastUpdated).to.match(/\+02:00$/);
    expect(() => mapPatient(patientInput(captured), { lastUpdateOffset: 'local' })).to.throw(RangeError);
  });
});
