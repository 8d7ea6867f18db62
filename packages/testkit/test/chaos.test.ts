import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, faultSchedule, LAG_MS, withinBound } from '../src/chaos/index.js';
import { Prng } from '../src/sim/prng.js';
import type { Ack } from '../src/writer.js';

const ack = (target: string, atMs: number, timeline = 1): Ack => ({
  id: atMs,
  target,
  timeline,
  lsn: '0/0',
  atMs,
});

describe('faultSchedule', () => {
  it('covers every kind once before repeating, and the seed fixes the order', () => {
    const a = faultSchedule(new Prng(7), 20);
    expect(new Set(a.slice(0, FAULT_KINDS.length))).toEqual(new Set(FAULT_KINDS));
    expect(a).toHaveLength(20);
    expect(faultSchedule(new Prng(7), 20)).toEqual(a);
    expect(faultSchedule(new Prng(8), 20)).not.toEqual(a);
  });

  it('a short run is a prefix of the same order; kinds restrict it', () => {
    expect(faultSchedule(new Prng(3), 5)).toEqual(faultSchedule(new Prng(3), 13).slice(0, 5));
    expect(new Set(faultSchedule(new Prng(3), 10, ['host-death', 'agent-freeze']))).toEqual(
      new Set(['host-death', 'agent-freeze']),
    );
  });
});

describe('withinBound (the asynchronous loss window)', () => {
  const t0 = 100_000;
  const old = { name: 'node1' };
  it('allows commits from just before the fault to the end of the isolation grace + 1 s', () => {
    const acks = [ack('node1', t0 - 500), ack('node1', t0 + 1900)];
    expect(withinBound(acks[0]!, t0, old, acks)).toBe(true);
    expect(withinBound(acks[1]!, t0, old, acks)).toBe(true);
    expect(
      withinBound(ack('node1', t0 - LAG_MS - 1), t0, old, [
        ack('node1', t0 - LAG_MS - 1),
        ack('node1', t0 + 100),
      ]),
    ).toBe(false);
  });

  it('allows the last second of the old reign (a primary that served until its deadline)', () => {
    const acks = [ack('node1', t0 + 4000), ack('node1', t0 + 4800)];
    expect(withinBound(acks[1]!, t0, old, acks)).toBe(true);
    // but not a commit acknowledged seconds into an isolation that should have stopped it
    const long = [ack('node1', t0 + 3000), ack('node1', t0 + 7500)];
    expect(withinBound(long[0]!, t0, old, long)).toBe(false);
  });
});
