import { expect } from 'chai';
import { gapRanges, gapsAfter, parseGaps, type GapOptions } from '../../src/resources/change-gaps';

const options: GapOptions = { graceMs: 1000, maxWidth: 5, maxGaps: 4 };

describe('gaps in Orthanc\'s change log', () => {
  it('remembers the numbers a page skipped after the cursor, and between its changes', () => {
    expect(gapsAfter([], 10, [11, 12, 13], new Set(), 0, options)).to.deep.equal([]);
    expect(gapsAfter([], 10, [13, 12, 15], new Set(), 7, options)).to.deep.equal([{ seq: 11, seen: 7 }, { seq: 14, seen: 7 }]);
  });

  it('forgets a number once found, or once waited for longer than any transaction', () => {
    const pending = [{ seq: 11, seen: 0 }, { seq: 14, seen: 500 }];
    expect(gapsAfter(pending, 15, [16], new Set([11]), 900, options)).to.deep.equal([{ seq: 14, seen: 500 }]);
    expect(gapsAfter(pending, 15, [], new Set(), 1200, options)).to.deep.equal([{ seq: 14, seen: 500 }]);
    expect(gapsAfter(pending, 15, [], new Set(), 1600, options)).to.deep.equal([]);
  });

  it('does not wait for a hole wider than transactions in flight make, and keeps the newest at most', () => {
    expect(gapsAfter([], 0, [100], new Set(), 0, options)).to.deep.equal([]);
    expect(gapsAfter([], 0, [2, 4, 6, 8, 10], new Set(), 3, options).map((g) => g.seq)).to.deep.equal([3, 5, 7, 9]);
  });

  it('reads runs of missing numbers at once, and survives a damaged setting', () => {
    expect(gapRanges([11, 12, 13, 20, 22, 21].map((seq) => ({ seq, seen: 0 })))).to.deep.equal([[11, 13], [20, 22]]);
    expect(parseGaps(undefined)).to.deep.equal([]);
    expect(parseGaps('not json')).to.deep.equal([]);
    expect(parseGaps('[{"seq":3,"seen":1},{"seq":"x"}]')).to.deep.equal([{ seq: 3, seen: 1 }]);
  });
});
