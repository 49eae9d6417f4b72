import { expect } from 'chai';
import { ConfigurationError, readConfig } from '../../src/config';

describe('configuration', () => {
  it('has defaults', () => {
    const config = readConfig({});
    expect(config.requestTimeoutSeconds).to.equal(30);
    expect(config.publicBaseUrl).to.equal(undefined);
    expect(config.dicomWebRoot).to.equal('/dicom-web');
  });

  it('reads the Fhir and DicomWeb sections', () => {
    const config = readConfig({
      Fhir: { Enable: true, RequestTimeout: 5, PublicBaseUrl: 'https://pacs.example.org/fhir/', MaxCount: 200, DefaultCount: 20 },
      DicomWeb: { Root: '/dw/' },
    });
    expect(config.requestTimeoutSeconds).to.equal(5);
    expect(config.publicBaseUrl).to.equal('https://pacs.example.org/fhir');
    expect(config.maxCount).to.equal(200);
    expect(config.dicomWebRoot).to.equal('/dw');
  });

  it('rejects bad values and unknown options', () => {
    for (const fhir of [
      { RequestTimeout: 'x' },
      { RequestTimeout: -1 },
      { PublicBaseUrl: 'not a url' },
      { PublicBaseUrl: 'ftp://x/fhir' },
      { MaxCount: 0 },
      { DefaultCount: 500, MaxCount: 100 },
      { Unknown: true },
    ]) {
      expect(() => readConfig({ Fhir: fhir }), JSON.stringify(fhir)).to.throw(ConfigurationError);
    }
    expect(() => readConfig({ Fhir: [] })).to.throw(ConfigurationError);
  });
});
