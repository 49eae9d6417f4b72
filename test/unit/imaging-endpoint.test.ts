import { expect } from 'chai';
import {
  DEFAULT_DICOMWEB_MIME_TYPES,
  DICOMWEB_ENDPOINT_ID,
  ENDPOINT_CONNECTION_TYPE_SYSTEM,
  buildDicomWebEndpoint,
  dicomWebAddress,
  endpointReference,
} from '../../src/resources/imaging/endpoint';

describe('imaging: DICOMweb Endpoint', () => {
  describe('dicomWebAddress', () => {
    it('joins the public base and the DICOMweb root without a trailing slash', () => {
      expect(dicomWebAddress('https://pacs.example.org', '/dicom-web/')).to.equal('https://pacs.example.org/dicom-web');
      expect(dicomWebAddress('https://pacs.example.org/', '/dicom-web/')).to.equal('https://pacs.example.org/dicom-web');
      expect(dicomWebAddress('https://pacs.example.org/orthanc/', 'dicom-web')).to.equal(
        'https://pacs.example.org/orthanc/dicom-web',
      );
      expect(dicomWebAddress('http://localhost:8042')).to.equal('http://localhost:8042/dicom-web');
      expect(dicomWebAddress('https://pacs.example.org/dicomweb', '/')).to.equal('https://pacs.example.org/dicomweb');
    });

    it('refuses bases that cannot be a service base', () => {
      for (const base of ['pacs.example.org', 'ftp://pacs.example.org', 'https://pacs.example.org/?a=1', 'https://x/#f', '']) {
        expect(() => dicomWebAddress(base), base).to.throw(RangeError);
      }
    });
  });

  describe('buildDicomWebEndpoint', () => {
    it('builds the default WADO-RS endpoint', () => {
      expect(buildDicomWebEndpoint({ address: 'https://pacs.example.org/dicom-web/' })).to.deep.equal({
        resourceType: 'Endpoint',
        id: DICOMWEB_ENDPOINT_ID,
        status: 'active',
        connectionType: [
          { coding: [{ system: ENDPOINT_CONNECTION_TYPE_SYSTEM, code: 'dicom-wado-rs', display: 'DICOM WADO-RS' }] },
        ],
        name: 'Orthanc DICOMweb',
        payload: [
          {
            type: [
              { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/endpoint-payload-type', code: 'any', display: 'Any' }] },
            ],
            mimeType: [...DEFAULT_DICOMWEB_MIME_TYPES],
          },
        ],
        address: 'https://pacs.example.org/dicom-web',
      });
    });

    it('takes id, name, connection types and media types from the caller', () => {
      const endpoint = buildDicomWebEndpoint({
        address: 'https://pacs.example.org/dicom-web',
        id: 'pacs-1',
        name: 'Main PACS',
        connectionTypes: ['dicom-wado-rs', 'dicom-qido-rs'],
        mimeTypes: ['application/dicom', 'image/jpeg'],
      });
      expect(endpoint.id).to.equal('pacs-1');
      expect(endpoint.name).to.equal('Main PACS');
      expect(endpoint.connectionType.map((type) => type.coding?.[0]?.code)).to.deep.equal(['dicom-wado-rs', 'dicom-qido-rs']);
      expect(endpoint.payload?.[0]?.mimeType).to.deep.equal(['application/dicom', 'image/jpeg']);
    });

    it('never emits empty lists or an empty address', () => {
      expect(buildDicomWebEndpoint({ address: 'https://x/dicom-web', mimeTypes: [] }).payload?.[0]).to.not.have.property('mimeType');
      expect(() => buildDicomWebEndpoint({ address: ' / ' })).to.throw(RangeError);
      expect(() => buildDicomWebEndpoint({ address: 'https://x/dicom-web', connectionTypes: [] })).to.throw(RangeError);
    });

    it('is referenced as Endpoint/<id>', () => {
      expect(endpointReference(buildDicomWebEndpoint({ address: 'https://x/dicom-web' }))).to.deep.equal({
        reference: 'Endpoint/dicomweb',
      });
    });
  });
});
