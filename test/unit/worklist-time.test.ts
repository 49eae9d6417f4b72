// The worklist direction of the zone: a FHIR instant as the modality's local
// DICOM date and time (worklist-item.ts), the date key the store indexes a
// Task by (worklist-keys.ts), and the index version that carries the zone so
// that a change of zone re-indexes those keys. Pure, in set zones.
import { expect } from 'chai';
import type { Resource } from '../../src/fhir/types';
import { createIndexer } from '../../src/resources/search-indexer';
import { indexVersionOf, INDEX_VERSION, NO_INDEXER } from '../../src/store/reindex';
import { dicomDateTime, scheduledStart, worklistItem } from '../../src/worklist/worklist-item';
import { worklistKeys } from '../../src/worklist/worklist-keys';
import { withTimeZone } from './with-time-zone';

const order: Resource = {
  resourceType: 'ServiceRequest', id: 'sr1', status: 'active', intent: 'order', subject: { reference: 'Patient/p1' },
  occurrenceDateTime: '2030-01-15T09:15:30Z',
};
const task = (start: string): Resource => ({
  resourceType: 'Task', id: 't1', status: 'requested', intent: 'order', basedOn: [{ reference: 'ServiceRequest/sr1' }],
  for: { reference: 'Patient/p1' }, requestedPeriod: { start },
});
const dateKey = async (zone: string | undefined, start: string) => {
  const rows = await createIndexer({ keys: { Task: worklistKeys(zone) } }).rows(task(start), async () => order);
  return rows!.tokens.filter((row) => row.p === 'Task.$wl-date').map((row) => row.code);
};

describe('worklist times in the zone of the worklist', () => {
  describe('local, in Europe/Brussels', () => {
    withTimeZone('Europe/Brussels');

    it('expresses an instant as the local date and time at that instant: +01:00 in winter, +02:00 in summer', () => {
      expect(dicomDateTime('2024-01-15T09:15:30Z', 'local')).to.deep.equal({ date: '20240115', time: '101530' });
      expect(dicomDateTime('2024-07-15T08:15:30Z', 'local')).to.deep.equal({ date: '20240715', time: '101530' });
      expect(dicomDateTime('2024-07-15T10:15:30+02:00', 'local')).to.deep.equal({ date: '20240715', time: '101530' });
      expect(dicomDateTime('2024-07-15T10:15:30.750-04:00', 'local')).to.deep.equal({ date: '20240715', time: '161530' });
      // Across midnight: the local date is the next day.
      expect(dicomDateTime('2030-06-01T23:30:00Z', 'local')).to.deep.equal({ date: '20300602', time: '013000' });
      // Around the changes: 00:59Z is 01:59 CET, 01:00Z already 03:00 CEST; 00:30Z and 01:30Z are both "02:30" in October.
      expect(dicomDateTime('2024-03-31T00:59:00Z', 'local').time).to.equal('015900');
      expect(dicomDateTime('2024-03-31T01:00:00Z', 'local').time).to.equal('030000');
      expect(dicomDateTime('2024-10-27T00:30:00Z', 'local').time).to.equal('023000');
      expect(dicomDateTime('2024-10-27T01:30:00Z', 'local').time).to.equal('023000');
    });

    it('keeps what has no instant as written: a date, a time without zone, a leap second', () => {
      expect(dicomDateTime('2024-07-15', 'local')).to.deep.equal({ date: '20240715', time: '' });
      expect(dicomDateTime('2024-07', 'local')).to.deep.equal({ date: '202407', time: '' });
      expect(dicomDateTime('2024-07-15T10:15:30', 'local')).to.deep.equal({ date: '20240715', time: '101530' });
      expect(dicomDateTime('2016-12-31T23:59:60Z', 'local')).to.deep.equal({ date: '20161231', time: '235960' });
      expect(dicomDateTime(undefined, 'local')).to.deep.equal({ date: '', time: '' });
    });

    it('a fixed offset overrides the local zone; none keeps the clock time written', () => {
      expect(dicomDateTime('2024-07-15T08:15:30Z', '-05:00')).to.deep.equal({ date: '20240715', time: '031530' });
      expect(dicomDateTime('2024-07-15T02:00:00Z', '-05:00')).to.deep.equal({ date: '20240714', time: '210000' });
      expect(dicomDateTime('2024-07-15T08:15:30Z', 'Z')).to.deep.equal({ date: '20240715', time: '081530' });
      expect(dicomDateTime('2024-07-15T08:15:30-04:00', 'none')).to.deep.equal({ date: '20240715', time: '081530' });
      expect(dicomDateTime('2024-07-15T08:15:30-04:00')).to.deep.equal({ date: '20240715', time: '081530' });
      expect(() => dicomDateTime('2024-07-15T08:15:30Z', 'CET')).to.throw(RangeError);
    });

    it('the item and the date key agree: the Task\'s start, else the order\'s occurrence, in the zone', async () => {
      expect(scheduledStart(task('2030-06-01T23:30:00Z'), order, 'local')).to.deep.equal({ date: '20300602', time: '013000' });
      expect(scheduledStart({ ...task(''), requestedPeriod: undefined }, order, 'local')).to.deep.equal({ date: '20300115', time: '101530' });
      const item = worklistItem(task('2030-06-01T23:30:00Z'), order, undefined, { patientId: 'P1', timezoneOffset: 'local' });
      const step = (item.ScheduledProcedureStepSequence as Array<Record<string, string>>)[0]!;
      expect(step).to.include({ ScheduledProcedureStepStartDate: '20300602', ScheduledProcedureStepStartTime: '013000' });
      expect(await dateKey('local', '2030-06-01T23:30:00Z')).to.deep.equal(['20300602']);
      expect(await dateKey('+00:00', '2030-06-01T23:30:00Z')).to.deep.equal(['20300601']);
      expect(await dateKey('none', '2030-06-01T23:30:00+02:00')).to.deep.equal(['20300601']);
      expect(await dateKey(undefined, '2030-06-01T23:30:00Z')).to.deep.equal(['20300601']);
    });
  });

  describe('local, in UTC', () => {
    withTimeZone('UTC');
    it('is the UTC clock', async () => {
      expect(dicomDateTime('2030-06-01T23:30:00+02:00', 'local')).to.deep.equal({ date: '20300601', time: '213000' });
      expect(await dateKey('local', '2030-06-01T23:30:00Z')).to.deep.equal(['20300601']);
    });
  });

  it('the index version carries the indexer\'s signature, so that another zone rebuilds the index', () => {
    expect(indexVersionOf(NO_INDEXER)).to.equal(INDEX_VERSION);
    const brussels = indexVersionOf({ ...NO_INDEXER, signature: 'worklist-zone local Europe/Brussels' });
    expect(brussels).to.not.equal(INDEX_VERSION);
    expect(brussels).to.not.equal(indexVersionOf({ ...NO_INDEXER, signature: 'worklist-zone local UTC' }));
    expect(brussels).to.equal(indexVersionOf({ ...NO_INDEXER, signature: 'worklist-zone local Europe/Brussels' }));
  });
});
