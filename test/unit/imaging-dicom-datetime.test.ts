import { expect } from 'chai';
import {
  checkConfiguredOffset,
  dicomDateTimeToFhir,
  dicomDateToFhirDate,
  dicomDtToFhirDateTime,
  orthancTimestampToInstant,
  parseDicomTime,
  parseTimezoneOffset,
} from '../../src/resources/imaging/dicom-datetime';
import { fhirPrimitivePattern } from '../support/fhir-schema';

describe('imaging: DICOM dates and times', () => {
  describe('DA -> date', () => {
    const valid: Array<[string, string]> = [
      ['19700115', '1970-01-15'],
      [' 19700115 ', '1970-01-15'],
      ['1970.01.15', '1970-01-15'],
      ['20240229', '2024-02-29'],
      ['20000229', '2000-02-29'],
      ['1970', '1970'],
      ['198507', '1985-07'],
      ['19850700', '1985-07'],
      ['19850000', '1985'],
    ];
    for (const [input, output] of valid) {
      it(`accepts ${JSON.stringify(input)}`, () => {
        expect(dicomDateToFhirDate(input)).to.equal(output);
        expect(output).to.match(fhirPrimitivePattern('date'));
      });
    }

    const invalid = [
      undefined,
      '',
      '   ',
      '19701332', // month 13
      '20230230', // 30 February
      '20230229', // not a leap year
      '19000229', // 1900 is not a leap year
      '19700132',
      '19700015', // unknown month with a known day
      '00000101', // FHIR has no year 0
      '1970-01-15',
      '1970011',
      'abcdefgh',
      '19700115123000',
    ];
    for (const input of invalid) {
      it(`rejects ${JSON.stringify(input)}`, () => {
        expect(dicomDateToFhirDate(input)).to.equal(undefined);
      });
    }
  });

  describe('TM', () => {
    it('parses every precision DICOM allows', () => {
      expect(parseDicomTime('10')).to.deep.equal({ hour: 10 });
      expect(parseDicomTime('1016')).to.deep.equal({ hour: 10, minute: 16 });
      expect(parseDicomTime('101530')).to.deep.equal({ hour: 10, minute: 15, second: 30 });
      expect(parseDicomTime('101530.123456')).to.deep.equal({ hour: 10, minute: 15, second: 30, fraction: '.123456' });
      expect(parseDicomTime('235960')).to.deep.equal({ hour: 23, minute: 59, second: 60 });
      expect(parseDicomTime('10:15:30.5')).to.deep.equal({ hour: 10, minute: 15, second: 30, fraction: '.5' });
    });

    it('rejects malformed times', () => {
      for (const input of ['', '1', '24', '1060', '101561', '10153', '101530.', '101530.1234567', '10.5', 'ab']) {
        expect(parseDicomTime(input), input).to.equal(undefined);
      }
    });
  });

  describe('UTC offsets', () => {
    it('normalizes DICOM and configuration forms', () => {
      expect(parseTimezoneOffset('+0100')).to.equal('+01:00');
      expect(parseTimezoneOffset('-0500')).to.equal('-05:00');
      expect(parseTimezoneOffset('+0530')).to.equal('+05:30');
      expect(parseTimezoneOffset('-1200')).to.equal('-12:00');
      expect(parseTimezoneOffset('+1400')).to.equal('+14:00');
      expect(parseTimezoneOffset('-0000')).to.equal('+00:00');
      expect(parseTimezoneOffset('+02:00')).to.equal('+02:00');
      expect(parseTimezoneOffset('Z')).to.equal('Z');
    });

    it('rejects offsets FHIR cannot write', () => {
      for (const input of [undefined, '', '0100', '+1401', '+1500', '+0160', '+1', 'UTC', '+01:00:00']) {
        expect(parseTimezoneOffset(input), String(input)).to.equal(undefined);
      }
    });

    it('throws for a bad configured offset', () => {
      expect(() => checkConfiguredOffset('CET', 'defaultTimezoneOffset')).to.throw(RangeError, /defaultTimezoneOffset/);
      expect(checkConfiguredOffset(undefined, 'x')).to.equal(undefined);
      expect(checkConfiguredOffset('+0100', 'x')).to.equal('+01:00');
    });
  });

  describe('DA + TM -> dateTime', () => {
    const cases: Array<[string | undefined, string | undefined, string | undefined, string | undefined, string | undefined]> = [
      // date, time, TimezoneOffsetFromUTC, default offset, expected
      ['20240131', '101530.123456', '+0100', undefined, '2024-01-31T10:15:30.123456+01:00'],
      ['20230305', '10', '+0100', undefined, '2023-03-05T10:00:00+01:00'],
      ['20220610', '0930', '-0500', undefined, '2022-06-10T09:30:00-05:00'],
      // No offset known: date precision, never a time without a zone.
      ['20220610', '0930', undefined, undefined, '2022-06-10'],
      ['20220610', '0930', undefined, '+02:00', '2022-06-10T09:30:00+02:00'],
      // The data's own offset wins over the configured one...
      ['20220610', '0930', '+0100', '+02:00', '2022-06-10T09:30:00+01:00'],
      // ...unless it is invalid.
      ['20220610', '0930', '+9999', '+02:00', '2022-06-10T09:30:00+02:00'],
      ['20240131', undefined, '+0100', undefined, '2024-01-31'],
      ['20240131', 'garbage', '+0100', undefined, '2024-01-31'],
      ['197001', '1200', '+0100', undefined, '1970-01'],
      ['', '1016', '+0100', undefined, undefined],
      [undefined, '1016', '+0100', undefined, undefined],
      ['20231301', '1016', '+0100', undefined, undefined],
    ];
    for (const [date, time, tz, fallback, expected] of cases) {
      it(`${String(date)} ${String(time)} ${String(tz)} ${String(fallback)} -> ${String(expected)}`, () => {
        const result = dicomDateTimeToFhir(date, time, tz, fallback);
        expect(result).to.equal(expected);
        if (result !== undefined) expect(result).to.match(fhirPrimitivePattern('dateTime'));
      });
    }
  });

  describe('DT -> dateTime', () => {
    it('uses its own offset suffix first', () => {
      expect(dicomDtToFhirDateTime('20240131101530.5+0100')).to.equal('2024-01-31T10:15:30.5+01:00');
      expect(dicomDtToFhirDateTime('20240131101530.5+0100', '-0500')).to.equal('2024-01-31T10:15:30.5+01:00');
    });

    it('falls back to the given offset, else date precision', () => {
      expect(dicomDtToFhirDateTime('202401311015', '+0000')).to.equal('2024-01-31T10:15:00+00:00');
      expect(dicomDtToFhirDateTime('20240131101530')).to.equal('2024-01-31');
      expect(dicomDtToFhirDateTime('2024')).to.equal('2024');
      expect(dicomDtToFhirDateTime('202401')).to.equal('2024-01');
    });

    it('rejects malformed values', () => {
      for (const input of ['', '20241301', '20240131101530+2500', '2024013110.5', '20240131256000', '2024-01-31']) {
        expect(dicomDtToFhirDateTime(input, '+0100'), input).to.equal(undefined);
      }
    });
  });

  describe('Orthanc timestamps -> instant', () => {
    it('reads LastUpdate as UTC by default', () => {
      const instant = orthancTimestampToInstant('20240131T101530');
      expect(instant).to.equal('2024-01-31T10:15:30Z');
      expect(instant).to.match(fhirPrimitivePattern('instant'));
      expect(orthancTimestampToInstant('20240131T101530', '+0100')).to.equal('2024-01-31T10:15:30+01:00');
    });

    it('rejects anything else', () => {
      for (const input of [undefined, '', '20240131 101530', '20241331T000000', '20240131T246000', '2024-01-31T10:15:30']) {
        expect(orthancTimestampToInstant(input), String(input)).to.equal(undefined);
      }
      expect(orthancTimestampToInstant('20240131T101530', 'local')).to.equal(undefined);
    });
  });
});
