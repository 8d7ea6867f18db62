import { toLsn, toTimeline } from '@hapg/core';
import { describe, expect, it } from 'vitest';
import { parseTimelineHistory, timelineHistoryFile } from '../src/timeline-history.js';

describe('timeline history files', () => {
  it('parses every switch, the last one being where the newest timeline began', () => {
    const text = '1\t0/3000060\tno recovery target specified\n\n2\t0/5983F70\tno recovery target specified\n';
    expect(parseTimelineHistory(text)).toEqual([
      { parent: toTimeline(1), switchLsn: toLsn(0x3000060), reason: 'no recovery target specified' },
      { parent: toTimeline(2), switchLsn: toLsn(0x5983f70), reason: 'no recovery target specified' },
    ]);
  });
  it('refuses a malformed line', () => {
    expect(() => parseTimelineHistory('x\t0/1\n')).toThrow(/malformed timeline history line/);
  });
  it('names the file as Postgres does', () => {
    expect(timelineHistoryFile(toTimeline(42))).toBe('0000002A.history');
  });
});
