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
import { offsetOfLocalTime, wallClockAt, zonePolicy, zoneSignature } from '../../src/resources/imaging/time-zone';
import { fhirPrimitivePattern } from '../support/fhir-schema';
import { withTimeZone } from './with-time-zone';

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

  describe('the zone of DICOM times without their own offset', () => {
    it('reads the setting: local, none, or a fixed offset; anything else is a RangeError', () => {
      expect(zonePolicy('local')).to.deep.equal({ kind: 'local' });
      expect(zonePolicy('none')).to.deep.equal({ kind: 'none' });
      expect(zonePolicy(undefined)).to.deep.equal({ kind: 'none' });
      expect(zonePolicy('+0100')).to.deep.equal({ kind: 'fixed', offset: '+01:00' });
      expect(zonePolicy('Z')).to.deep.equal({ kind: 'fixed', offset: 'Z' });
      for (const bad of ['CET', 'Europe/Brussels', 'Local', '+15:00', '']) {
        expect(() => zonePolicy(bad, 'DefaultTimezoneOffset'), bad).to.throw(RangeError, /DefaultTimezoneOffset/);
      }
    });

    describe('local, in Europe/Brussels', () => {
      withTimeZone('Europe/Brussels');
      const cases: Array<[string, string | undefined, string | undefined, string | undefined]> = [
        // date, time, TimezoneOffsetFromUTC, expected
        ['20240115', '101530', undefined, '2024-01-15T10:15:30+01:00'],
        ['20240715', '101530', undefined, '2024-07-15T10:15:30+02:00'],
        ['20240715', '101530.25', undefined, '2024-07-15T10:15:30.25+02:00'],
        ['20240115', '10', undefined, '2024-01-15T10:00:00+01:00'],
        // Spring forward (31 March 2024, 02:00 -> 03:00): the last minute before, the first after.
        ['20240331', '015959', undefined, '2024-03-31T01:59:59+01:00'],
        ['20240331', '030000', undefined, '2024-03-31T03:00:00+02:00'],
        // 02:30 never showed on a clock: the offset before the change (the instant of 03:30+02:00).
        ['20240331', '023000', undefined, '2024-03-31T02:30:00+01:00'],
        // Fall back (27 October 2024, 03:00 -> 02:00): 02:30 showed twice; its first occurrence, in summer time.
        ['20241027', '023000', undefined, '2024-10-27T02:30:00+02:00'],
        ['20241027', '033000', undefined, '2024-10-27T03:30:00+01:00'],
        // The data's own offset still wins.
        ['20240715', '101530', '-0500', '2024-07-15T10:15:30-05:00'],
        // No time, or a partial date: nothing to place in time.
        ['20240715', undefined, undefined, '2024-07-15'],
        ['202407', '1015', undefined, '2024-07'],
      ];
      for (const [date, time, tz, expected] of cases) {
        it(`${date} ${String(time)} ${String(tz)} -> ${String(expected)}`, () => {
          const result = dicomDateTimeToFhir(date, time, tz, 'local');
          expect(result).to.equal(expected);
          if (result !== undefined) expect(result).to.match(fhirPrimitivePattern('dateTime'));
        });
      }

      it('the same instant as Date gives the local time, gap and overlap included', () => {
        for (const [y, m, d, h, mi] of [[2024, 3, 31, 2, 30], [2024, 10, 27, 2, 30], [2024, 1, 15, 10, 15], [1950, 7, 1, 12, 0]] as const) {
          const offset = offsetOfLocalTime({ kind: 'local' }, { year: y, month: m, day: d, hour: h, minute: mi, second: 0 })!;
          const written = `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:${String(mi).padStart(2, '0')}:00${offset}`;
          expect(Date.parse(written), written).to.equal(new Date(y, m - 1, d, h, mi).getTime());
        }
      });

      it('a fixed offset overrides the local zone, whatever the date; none gives the date alone', () => {
        expect(dicomDateTimeToFhir('20240715', '101530', undefined, '+01:00')).to.equal('2024-07-15T10:15:30+01:00');
        expect(dicomDateTimeToFhir('20240115', '101530', undefined, '-05:00')).to.equal('2024-01-15T10:15:30-05:00');
        expect(dicomDateTimeToFhir('20240715', '101530', undefined, 'none')).to.equal('2024-07-15');
        expect(dicomDateTimeToFhir('20240715', '101530')).to.equal('2024-07-15');
      });

      it('DT values without a suffix take the zone too', () => {
        expect(dicomDtToFhirDateTime('20240715101530', undefined, 'local')).to.equal('2024-07-15T10:15:30+02:00');
        expect(dicomDtToFhirDateTime('20240115101530', undefined, 'local')).to.equal('2024-01-15T10:15:30+01:00');
        expect(dicomDtToFhirDateTime('20240115101530', '+0900', 'local')).to.equal('2024-01-15T10:15:30+09:00');
        expect(dicomDtToFhirDateTime('20240115101530-0300', '+0900', 'local')).to.equal('2024-01-15T10:15:30-03:00');
      });

      it('the wall clock of an instant, DST-aware', () => {
        expect(wallClockAt({ kind: 'local' }, Date.parse('2024-01-15T09:15:30Z'))).to.deep.equal({ year: 2024, month: 1, day: 15, hour: 10, minute: 15, second: 30 });
        expect(wallClockAt({ kind: 'local' }, Date.parse('2024-07-15T22:30:00Z'))).to.deep.equal({ year: 2024, month: 7, day: 16, hour: 0, minute: 30, second: 0 });
        expect(wallClockAt({ kind: 'fixed', offset: '-05:00' }, Date.parse('2024-07-15T02:00:00Z'))).to.deep.equal({ year: 2024, month: 7, day: 14, hour: 21, minute: 0, second: 0 });
        expect(wallClockAt({ kind: 'none' }, Date.parse('2024-07-15T02:00:00Z'))).to.equal(undefined);
      });
    });

    describe('local elsewhere', () => {
      describe('UTC', () => {
        withTimeZone('UTC');
        it('writes +00:00, as DICOM\'s +0000 reads', () => {
          expect(dicomDateTimeToFhir('20240715', '101530', undefined, 'local')).to.equal('2024-07-15T10:15:30+00:00');
          expect(dicomDateTimeToFhir('20240715', '101530', '+0000', 'local')).to.equal('2024-07-15T10:15:30+00:00');
        });
      });
      describe('Australia/Sydney (southern summer in January)', () => {
        withTimeZone('Australia/Sydney');
        it('+11:00 in January, +10:00 in July', () => {
          expect(dicomDateTimeToFhir('20240115', '101530', undefined, 'local')).to.equal('2024-01-15T10:15:30+11:00');
          expect(dicomDateTimeToFhir('20240715', '101530', undefined, 'local')).to.equal('2024-07-15T10:15:30+10:00');
        });
      });
      describe('Asia/Kolkata and America/St_Johns (offsets with minutes)', () => {
        it('+05:30, -03:30 / -02:30', () => {
          const saved = process.env.TZ;
          try {
            process.env.TZ = 'Asia/Kolkata';
            expect(dicomDateTimeToFhir('20240115', '101530', undefined, 'local')).to.equal('2024-01-15T10:15:30+05:30');
            process.env.TZ = 'America/St_Johns';
            expect(dicomDateTimeToFhir('20240115', '101530', undefined, 'local')).to.equal('2024-01-15T10:15:30-03:30');
            expect(dicomDateTimeToFhir('20240715', '101530', undefined, 'local')).to.equal('2024-07-15T10:15:30-02:30');
          } finally {
            if (saved === undefined) delete process.env.TZ;
            else process.env.TZ = saved;
          }
        });
      });
    });

    it('the signature of the local zone follows TZ; fixed and none are what they say', () => {
      const saved = process.env.TZ;
      try {
        process.env.TZ = 'Europe/Brussels';
        const brussels = zoneSignature({ kind: 'local' });
        expect(brussels).to.contain('Europe/Brussels');
        process.env.TZ = 'Europe/Paris';
        // Same offsets, another name: still another signature (its rules may differ one day).
        expect(zoneSignature({ kind: 'local' })).to.not.equal(brussels);
        process.env.TZ = 'UTC';
        expect(zoneSignature({ kind: 'local' })).to.not.equal(brussels);
        process.env.TZ = 'Europe/Brussels';
        expect(zoneSignature({ kind: 'local' })).to.equal(brussels);
      } finally {
        if (saved === undefined) delete process.env.TZ;
        else process.env.TZ = saved;
      }
      expect(zoneSignature({ kind: 'fixed', offset: '+01:00' })).to.equal('+01:00');
      expect(zoneSignature({ kind: 'none' })).to.equal('none');
    });
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
