import { expect } from 'chai';
import {
  DCM_SYSTEM,
  SNOMED_SYSTEM,
  codeItemToCoding,
  codeItemToConcept,
  codingSchemeSystem,
  dicomSexToGender,
  lateralityConcept,
  modalityCoding,
  sopClassCoding,
  universalEntityIdToSystem,
} from '../../src/resources/imaging/dicom-codes';
import { resolveIssuer } from '../../src/resources/imaging/dicom-issuer';
import { parseUnsignedInt, tagValues } from '../../src/resources/imaging/dicom-tags';

describe('imaging: DICOM codes', () => {
  it('maps the common coding scheme designators to FHIR systems', () => {
    expect(codingSchemeSystem('DCM')).to.equal(DCM_SYSTEM);
    expect(codingSchemeSystem('LN')).to.equal('http://loinc.org');
    expect(codingSchemeSystem('SCT')).to.equal(SNOMED_SYSTEM);
    expect(codingSchemeSystem('RADLEX')).to.equal('http://radlex.org');
    expect(codingSchemeSystem(' ln ')).to.equal('http://loinc.org');
    expect(codingSchemeSystem('99HOSPA')).to.equal(undefined);
    expect(codingSchemeSystem(undefined)).to.equal(undefined);
    expect(codingSchemeSystem('99HOSPA', { '99HOSPA': 'http://hosp-a.example/codes' })).to.equal(
      'http://hosp-a.example/codes',
    );
    expect(codingSchemeSystem('LN', { LN: 'urn:oid:2.16.840.1.113883.6.1' })).to.equal('urn:oid:2.16.840.1.113883.6.1');
  });

  it('turns a code sequence item into a coding', () => {
    expect(
      codeItemToCoding({ CodeValue: '24627-2', CodingSchemeDesignator: 'LN', CodeMeaning: 'CT Chest', CodingSchemeVersion: '2.76' }),
    ).to.deep.equal({ system: 'http://loinc.org', version: '2.76', code: '24627-2', display: 'CT Chest' });
    // A local scheme keeps its code and meaning, without inventing a system.
    expect(codeItemToCoding({ CodeValue: 'X1', CodingSchemeDesignator: '99LOCAL', CodeMeaning: 'Local', CodingSchemeVersion: '1' })).to.deep.equal({
      code: 'X1',
      display: 'Local',
    });
    expect(codeItemToCoding({ LongCodeValue: 'A-VERY-LONG-CODE', CodingSchemeDesignator: 'DCM' })).to.deep.equal({
      system: DCM_SYSTEM,
      code: 'A-VERY-LONG-CODE',
    });
    expect(codeItemToCoding({ URNCodeValue: 'urn:example:123', CodeMeaning: 'x' })).to.deep.equal({
      system: 'urn:ietf:rfc:3986',
      code: 'urn:example:123',
      display: 'x',
    });
    expect(codeItemToCoding({ CodeMeaning: 'meaning only' })).to.equal(undefined);
    expect(codeItemToConcept({ CodeMeaning: 'meaning only' })).to.deep.equal({ text: 'meaning only' });
    expect(codeItemToConcept({ CodeValue: '', CodeMeaning: '' })).to.equal(undefined);
  });

  it('codes modality and SOP class', () => {
    expect(modalityCoding('CT ')).to.deep.equal({ system: DCM_SYSTEM, code: 'CT' });
    expect(sopClassCoding('1.2.840.10008.5.1.4.1.1.2')).to.deep.equal({
      system: 'urn:ietf:rfc:3986',
      code: 'urn:oid:1.2.840.10008.5.1.4.1.1.2',
    });
  });

  it('maps laterality to the SNOMED CT codes of CID 244', () => {
    expect(lateralityConcept('R')).to.deep.equal({ coding: [{ system: SNOMED_SYSTEM, code: '24028007', display: 'Right' }] });
    expect(lateralityConcept('L')?.coding?.[0]?.code).to.equal('7771000');
    expect(lateralityConcept('B')?.coding?.[0]?.code).to.equal('51440002');
    expect(lateralityConcept('U')?.coding?.[0]?.code).to.equal('66459002');
    expect(lateralityConcept('l')?.coding?.[0]?.code).to.equal('7771000');
    expect(lateralityConcept('X')).to.deep.equal({ text: 'X' });
    expect(lateralityConcept('')).to.equal(undefined);
    expect(lateralityConcept(undefined)).to.equal(undefined);
  });

  it('maps PatientSex to administrative gender', () => {
    expect(dicomSexToGender('M')).to.equal('male');
    expect(dicomSexToGender('F')).to.equal('female');
    expect(dicomSexToGender('O')).to.equal('other');
    expect(dicomSexToGender(' m ')).to.equal('male');
    expect(dicomSexToGender('U')).to.equal('unknown');
    expect(dicomSexToGender('X')).to.equal('unknown');
    expect(dicomSexToGender('')).to.equal(undefined);
    expect(dicomSexToGender(undefined)).to.equal(undefined);
  });

  it('writes universal entity ids as URIs when their type allows', () => {
    expect(universalEntityIdToSystem('2.16.840.1.113883.2.4.6.3', 'ISO')).to.equal('urn:oid:2.16.840.1.113883.2.4.6.3');
    expect(universalEntityIdToSystem('not-an-oid', 'ISO')).to.equal(undefined);
    expect(universalEntityIdToSystem('0F2BB5A4-2D4C-4F43-9B5E-6E1C3A3D3C11', 'UUID')).to.equal(
      'urn:uuid:0f2bb5a4-2d4c-4f43-9b5e-6e1c3a3d3c11',
    );
    expect(universalEntityIdToSystem('http://hosp.example/ids', 'URI')).to.equal('http://hosp.example/ids');
    expect(universalEntityIdToSystem('something', 'DNS')).to.equal(undefined);
  });
});

describe('imaging: issuer convention', () => {
  const options = { defaultSystem: 'http://pacs.example/pid', issuerSystems: { 'HOSP-A': 'http://hosp-a.example/mrn' } };

  it('uses the default system only when no issuer is stated', () => {
    expect(resolveIssuer(undefined, undefined, options)).to.deep.equal({ system: 'http://pacs.example/pid' });
    expect(resolveIssuer('  ', undefined, options)).to.deep.equal({ system: 'http://pacs.example/pid' });
    expect(resolveIssuer(undefined, undefined)).to.deep.equal({});
  });

  it('prefers the configured table, then the qualifiers, then an OID or URI name', () => {
    expect(resolveIssuer('HOSP-A', { UniversalEntityID: '1.2.3', UniversalEntityIDType: 'ISO' }, options)).to.deep.equal({
      system: 'http://hosp-a.example/mrn',
      assigner: { display: 'HOSP-A' },
    });
    expect(resolveIssuer('HOSP-B', { UniversalEntityID: '1.2.3', UniversalEntityIDType: 'ISO' }, options)).to.deep.equal({
      system: 'urn:oid:1.2.3',
      assigner: { display: 'HOSP-B' },
    });
    expect(resolveIssuer('1.3.6.1.4.1.99999.1', undefined, options)).to.deep.equal({
      system: 'urn:oid:1.3.6.1.4.1.99999.1',
      assigner: { display: '1.3.6.1.4.1.99999.1' },
    });
    expect(resolveIssuer('urn:example:issuer', undefined, options).system).to.equal('urn:example:issuer');
  });

  it('gives no system for an unknown issuer, but keeps its name', () => {
    expect(resolveIssuer('HOSP-B', undefined, options)).to.deep.equal({ assigner: { display: 'HOSP-B' } });
  });
});

describe('imaging: tag values', () => {
  it('splits multi-valued strings and drops empties', () => {
    expect(tagValues({ OtherPatientIDs: 'A\\ B \\\\' }, 'OtherPatientIDs')).to.deep.equal(['A', 'B']);
    expect(tagValues({ OtherPatientIDs: null }, 'OtherPatientIDs')).to.deep.equal([]);
  });

  it('reads IS values as unsignedInt only when they are one', () => {
    expect(parseUnsignedInt('7')).to.equal(7);
    expect(parseUnsignedInt(' +12 ')).to.equal(12);
    expect(parseUnsignedInt('0')).to.equal(0);
    expect(parseUnsignedInt('-1')).to.equal(undefined);
    expect(parseUnsignedInt('1.5')).to.equal(undefined);
    expect(parseUnsignedInt('')).to.equal(undefined);
    expect(parseUnsignedInt(undefined)).to.equal(undefined);
  });
});
