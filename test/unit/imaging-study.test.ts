import { expect } from 'chai';
import { ACCESSION_TYPE, DCM_SYSTEM, SNOMED_SYSTEM } from '../../src/resources/imaging/dicom-codes';
import { mapImagingStudy } from '../../src/resources/imaging/imaging-study';
import type { ImagingStudySeries } from '../../src/resources/imaging/fhir-r5';
import type { OrthancSeries } from '../../src/resources/imaging/orthanc-types';
import { loadFixture, studyInput } from './fixtures/imaging/load';
import { withTimeZone } from './with-time-zone';

const ENDPOINT = { reference: 'Endpoint/dicomweb' };

function seriesByNumber(series: readonly ImagingStudySeries[] | undefined, number: number): ImagingStudySeries {
  const found = series?.find((item) => item.number === number);
  if (!found) throw new Error(`no series ${number}`);
  return found;
}

describe('imaging: ImagingStudy mapper', () => {
  describe('a PET-CT study with four series', () => {
    const captured = loadFixture('study-pet-ct');
    const study = mapImagingStudy(studyInput(captured), { endpoints: [ENDPOINT] });

    it('uses Orthanc ids for the resource and its subject', () => {
      expect(study.id).to.equal(captured.study.ID);
      expect(study.subject).to.deep.equal({ reference: `Patient/${captured.patient.ID}` });
      expect(study.status).to.equal('available');
      expect(study.meta).to.deep.equal({ lastUpdated: '2026-11-28T05:38:05Z' });
    });

    it('identifies the study by UID, accession number and study ID', () => {
      expect(study.identifier).to.deep.equal([
        { use: 'official', system: 'urn:dicom:uid', value: 'urn:oid:1.2.826.0.1.3680043.8.498.77.1' },
        { use: 'usual', type: ACCESSION_TYPE, value: 'ACC-1001' },
        { use: 'secondary', type: { text: 'DICOM Study ID' }, value: 'S1' },
      ]);
    });

    it('refers to the order by accession number', () => {
      expect(study.basedOn).to.deep.equal([{ type: 'ServiceRequest', identifier: { type: ACCESSION_TYPE, value: 'ACC-1001' } }]);
    });

    it('lists each series modality once, in series order', () => {
      expect(study.modality).to.deep.equal([
        { coding: [{ system: DCM_SYSTEM, code: 'CT' }] },
        { coding: [{ system: DCM_SYSTEM, code: 'PT' }] },
        { coding: [{ system: DCM_SYSTEM, code: 'SR' }] },
      ]);
    });

    it('starts at StudyDate + StudyTime in the offset of TimezoneOffsetFromUTC', () => {
      expect(study.started).to.equal('2024-01-31T10:15:30.123456+01:00');
    });

    it('maps referrer, description, counts and endpoint', () => {
      expect(study.referrer).to.deep.equal({ display: 'Dr. Jane Smith' });
      expect(study.description).to.equal('PET-CT Chest');
      expect(study.numberOfSeries).to.equal(4);
      expect(study.numberOfInstances).to.equal(7);
      expect(study.endpoint).to.deep.equal([ENDPOINT]);
    });

    it('maps ProcedureCodeSequence to procedure concepts', () => {
      expect(study.procedure).to.deep.equal([
        { concept: { coding: [{ system: 'http://loinc.org', code: '24627-2', display: 'CT Chest' }] } },
        { concept: { coding: [{ code: 'PETCT01', display: 'PET-CT oncology protocol' }] } },
      ]);
    });

    it('orders series by number and maps their elements', () => {
      expect(study.series?.map((series) => series.number)).to.deep.equal([1, 2, 3, 100]);
      expect(seriesByNumber(study.series, 1)).to.deep.include({
        uid: '1.2.826.0.1.3680043.8.498.77.1.1',
        modality: { coding: [{ system: DCM_SYSTEM, code: 'CT' }] },
        description: 'Axial 5mm',
        numberOfInstances: 3,
        endpoint: [ENDPOINT],
        bodySite: { concept: { text: 'CHEST' } },
        started: '2024-01-31T10:16:00+01:00',
      });
      const scout = seriesByNumber(study.series, 3);
      expect(scout).to.not.have.any.keys('bodySite', 'started', 'laterality');
    });

    it('lists instances with SOP class, number and title', () => {
      expect(seriesByNumber(study.series, 1).instance).to.deep.equal(
        [1, 2, 3].map((n) => ({
          uid: `1.2.826.0.1.3680043.8.498.77.1.1.${n}`,
          sopClass: { system: 'urn:ietf:rfc:3986', code: 'urn:oid:1.2.840.10008.5.1.4.1.1.2' },
          number: n,
        })),
      );
      expect(seriesByNumber(study.series, 2).instance?.[0]?.sopClass.code).to.equal('urn:oid:1.2.840.10008.5.1.4.1.1.128');
      // The SR has no InstanceNumber; its title is the concept name of the document.
      expect(seriesByNumber(study.series, 100).instance).to.deep.equal([
        {
          uid: '1.2.826.0.1.3680043.8.498.77.1.4.1',
          sopClass: { system: 'urn:ietf:rfc:3986', code: 'urn:oid:1.2.840.10008.5.1.4.1.1.88.33' },
          title: 'X-Ray Radiation Dose Report',
        },
      ]);
    });
  });

  describe('options and partial input', () => {
    const captured = loadFixture('study-pet-ct');

    it('lets a caller supply a literal ServiceRequest reference', () => {
      const study = mapImagingStudy(studyInput(captured), {
        accessionNumberSystem: 'http://ris.example/acsn',
        serviceRequestReference: (accession) => (accession!.value === 'ACC-1001' ? { reference: 'ServiceRequest/42' } : undefined),
      });
      expect(study.basedOn).to.deep.equal([{ reference: 'ServiceRequest/42' }]);
      expect(study.identifier?.[1]).to.deep.equal({
        use: 'usual',
        type: ACCESSION_TYPE,
        system: 'http://ris.example/acsn',
        value: 'ACC-1001',
      });
    });

    it('keeps the logical reference when the hook has no answer', () => {
      const study = mapImagingStudy(studyInput(captured), {
        accessionNumberSystem: 'http://ris.example/acsn',
        serviceRequestReference: () => undefined,
      });
      expect(study.basedOn).to.deep.equal([
        { type: 'ServiceRequest', identifier: { type: ACCESSION_TYPE, system: 'http://ris.example/acsn', value: 'ACC-1001' } },
      ]);
    });

    it('resolves local coding schemes the caller knows', () => {
      const study = mapImagingStudy(studyInput(captured), { codingSystems: { '99HOSPA': 'http://hosp-a.example/procedures' } });
      expect(study.procedure?.[1]?.concept?.coding?.[0]?.system).to.equal('http://hosp-a.example/procedures');
    });

    it('can leave the endpoint off the series', () => {
      const study = mapImagingStudy(studyInput(captured), { endpoints: [ENDPOINT], endpointOnSeries: false });
      expect(study.endpoint).to.deep.equal([ENDPOINT]);
      for (const series of study.series ?? []) expect(series).to.not.have.property('endpoint');
      expect(mapImagingStudy(studyInput(captured))).to.not.have.property('endpoint');
    });

    it('maps series without instances when the instance list is not given', () => {
      const study = mapImagingStudy(studyInput(captured, { instances: false }));
      expect(study.numberOfInstances).to.equal(7);
      for (const series of study.series ?? []) expect(series).to.not.have.property('instance');
      expect(seriesByNumber(study.series, 1).numberOfInstances).to.equal(3);
    });

    it('leaves out instances whose SOP class is unknown, and keeps the counts', () => {
      const study = mapImagingStudy(studyInput(captured, { sopClasses: false, seriesTags: false }));
      for (const series of study.series ?? []) expect(series).to.not.have.property('instance');
      expect(study.numberOfInstances).to.equal(7);
    });

    it('takes the SOP class from the tags read for a series when they are that instance', () => {
      const study = mapImagingStudy(studyInput(captured, { sopClasses: false }));
      const firstOfSeries1 = captured.series.find((series) => series.MainDicomTags['SeriesNumber'] === '1')?.Instances[0];
      const uidOfFirst = captured.instances.find((instance) => instance.ID === firstOfSeries1)?.MainDicomTags['SOPInstanceUID'];
      expect(seriesByNumber(study.series, 1).instance?.map((instance) => instance.uid)).to.deep.equal([uidOfFirst]);
    });

    it('without file tags: no procedure, no zone, so date precision', () => {
      const study = mapImagingStudy(studyInput(captured, { seriesTags: false }));
      expect(study).to.not.have.property('procedure');
      expect(study.started).to.equal('2024-01-31');
      expect(seriesByNumber(study.series, 1).started).to.equal('2024-01-31');
      expect(mapImagingStudy(studyInput(captured, { seriesTags: false }), { defaultTimezoneOffset: '+0100' }).started).to.equal(
        '2024-01-31T10:15:30.123456+01:00',
      );
    });

    it('prefers explicit study tags to the series tags', () => {
      const study = mapImagingStudy({
        ...studyInput(captured),
        studyTags: { TimezoneOffsetFromUTC: '-0300', StudyDescription: 'ignored: MainDicomTags win' },
      });
      expect(study.started).to.equal('2024-01-31T10:15:30.123456-03:00');
      expect(study.description).to.equal('PET-CT Chest');
      // The series' own tags still carry +0100.
      expect(seriesByNumber(study.series, 1).started).to.equal('2024-01-31T10:16:00+01:00');
    });

    it('reads an issuer of accession number from the file tags', () => {
      const study = mapImagingStudy({
        ...studyInput(captured),
        studyTags: {
          IssuerOfAccessionNumberSequence: [
            { LocalNamespaceEntityID: 'RIS', UniversalEntityID: '1.2.3.4', UniversalEntityIDType: 'ISO' },
          ],
        },
      });
      expect(study.identifier?.[1]?.system).to.equal('urn:oid:1.2.3.4');
    });

    it('rejects a bad default offset', () => {
      expect(() => mapImagingStudy(studyInput(captured), { defaultTimezoneOffset: 'CET' })).to.throw(RangeError);
    });
  });

  describe('other captured studies', () => {
    it('minimal MR: hour-only time, laterality R, nothing invented', () => {
      const study = mapImagingStudy(studyInput(loadFixture('study-minimal')));
      expect(study.started).to.equal('2023-03-05');
      expect(study).to.not.have.any.keys('basedOn', 'referrer', 'description', 'procedure', 'endpoint');
      expect(study.identifier).to.have.length(1);
      const [series] = study.series ?? [];
      expect(series).to.deep.include({
        modality: { coding: [{ system: DCM_SYSTEM, code: 'MR' }] },
        bodySite: { concept: { text: 'KNEE' } },
        laterality: { coding: [{ system: SNOMED_SYSTEM, code: '24028007', display: 'Right' }] },
      });
      expect(series).to.not.have.any.keys('number', 'description', 'started');
      const zoned = mapImagingStudy(studyInput(loadFixture('study-minimal')), { defaultTimezoneOffset: '-05:00' });
      expect(zoned.started).to.equal('2023-03-05T10:00:00-05:00');
    });

    it('mammography: one MG modality, left and right series, body part coding hook', () => {
      const study = mapImagingStudy(studyInput(loadFixture('study-mammo')), {
        bodyPartCodings: { BREAST: { system: SNOMED_SYSTEM, code: '76752008', display: 'Breast' } },
      });
      expect(study.modality).to.deep.equal([{ coding: [{ system: DCM_SYSTEM, code: 'MG' }] }]);
      expect(study.started).to.equal('2022-06-10');
      expect(study.referrer).to.deep.equal({ display: 'Anna Weiß' });
      expect(study.series?.map((series) => series.laterality?.coding?.[0]?.code)).to.deep.equal(['7771000', '24028007']);
      expect(study.series?.[0]?.bodySite).to.deep.equal({
        concept: { coding: [{ system: SNOMED_SYSTEM, code: '76752008', display: 'Breast' }], text: 'BREAST' },
      });
    });

    it('ultrasound: negative offset, fractional seconds, a series on the next day', () => {
      const study = mapImagingStudy(studyInput(loadFixture('study-ultrasound')));
      expect(study.started).to.equal('2021-01-01T23:59:59.5-05:00');
      const [series] = study.series ?? [];
      expect(series?.started).to.equal('2021-01-02T00:00:10-05:00');
      expect(series?.laterality?.coding?.[0]?.code).to.equal('51440002');
      expect(series?.instance?.[0]?.number).to.equal(7);
    });

    it('present-but-empty values become absent elements', () => {
      const study = mapImagingStudy(studyInput(loadFixture('study-empty-values')));
      expect(study).to.not.have.any.keys('started', 'basedOn', 'referrer', 'description', 'procedure');
      expect(study.identifier).to.have.length(1);
      const [series] = study.series ?? [];
      expect(series).to.not.have.any.keys('number', 'description', 'started', 'bodySite', 'laterality');
      expect(series?.instance?.[0]).to.deep.equal({
        uid: '1.2.826.0.1.3680043.8.498.77.5.1.1',
        sopClass: { system: 'urn:ietf:rfc:3986', code: 'urn:oid:1.2.840.10008.5.1.4.1.1.7' },
      });
    });
  });

  describe('times without TimezoneOffsetFromUTC, in the local zone (TZ=Europe/Brussels)', () => {
    withTimeZone('Europe/Brussels');

    it('started and series started take the offset in force at their date: winter +01:00, summer +02:00', () => {
      const winter = mapImagingStudy(studyInput(loadFixture('study-pet-ct'), { seriesTags: false }), { defaultTimezoneOffset: 'local' });
      expect(winter.started).to.equal('2024-01-31T10:15:30.123456+01:00');
      expect(seriesByNumber(winter.series, 1).started).to.equal('2024-01-31T10:16:00+01:00');
      expect(mapImagingStudy(studyInput(loadFixture('study-minimal')), { defaultTimezoneOffset: 'local' }).started).to.equal('2023-03-05T10:00:00+01:00');
      const summer = mapImagingStudy(studyInput(loadFixture('study-mammo')), { defaultTimezoneOffset: 'local' });
      expect(summer.started).to.equal('2022-06-10T09:30:00+02:00');
    });

    it('the data\'s own offset wins over the local zone', () => {
      const study = mapImagingStudy(studyInput(loadFixture('study-pet-ct')), { defaultTimezoneOffset: 'local' });
      expect(study.started).to.equal('2024-01-31T10:15:30.123456+01:00');
      expect(mapImagingStudy(studyInput(loadFixture('study-ultrasound')), { defaultTimezoneOffset: 'local' }).started).to.equal('2021-01-01T23:59:59.5-05:00');
    });

    it('a fixed offset overrides it; none, or no option, gives the date alone', () => {
      const mammo = studyInput(loadFixture('study-mammo'));
      expect(mapImagingStudy(mammo, { defaultTimezoneOffset: '+01:00' }).started).to.equal('2022-06-10T09:30:00+01:00');
      expect(mapImagingStudy(mammo, { defaultTimezoneOffset: 'none' }).started).to.equal('2022-06-10');
      expect(mapImagingStudy(mammo).started).to.equal('2022-06-10');
      expect(() => mapImagingStudy(mammo, { defaultTimezoneOffset: 'Europe/Brussels' })).to.throw(RangeError, /TZ/);
    });
  });

  describe('defensive cases', () => {
    const captured = loadFixture('study-minimal');
    const [original] = captured.series;
    if (!original) throw new Error('fixture has no series');

    function withSeries(tags: Record<string, string>, lastUpdate?: string): OrthancSeries {
      return {
        ...original,
        MainDicomTags: { ...original.MainDicomTags, ...tags },
        ...(lastUpdate ? { LastUpdate: lastUpdate } : {}),
      };
    }

    it('gives a series without Modality a text-only modality and leaves it out of the study list', () => {
      const study = mapImagingStudy({ study: captured.study, series: [withSeries({ Modality: '' })] });
      expect(study.series?.[0]?.modality).to.deep.equal({ text: 'Unknown modality' });
      expect(study).to.not.have.property('modality');
    });

    it('skips a series whose UID cannot be a FHIR id, and drops a negative series number', () => {
      const study = mapImagingStudy({
        study: captured.study,
        series: [withSeries({ SeriesInstanceUID: '1.2.3 4' }), withSeries({ SeriesNumber: '-1' })],
      });
      expect(study.series).to.have.length(1);
      expect(study.series?.[0]).to.not.have.property('number');
      expect(study.numberOfSeries).to.equal(2);
    });

    it('takes the latest LastUpdate of the study and its series', () => {
      const study = mapImagingStudy({ study: captured.study, series: [withSeries({}, '29991231T235959')] });
      expect(study.meta?.lastUpdated).to.equal('2999-12-31T23:59:59Z');
    });
  });
});
