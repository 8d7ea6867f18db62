import { toTimeline } from '@hapg/core';
import { describe, expect, it } from 'vitest';
import { ReceivedTimeline } from '../src/received-timeline.js';

const START = new Date('2026-12-03T20:00:00Z');

function probe(timeline: number, received: number | null, opts: { primary?: boolean; start?: Date } = {}) {
  return {
    inRecovery: opts.primary !== true,
    timeline: toTimeline(timeline),
    postmasterStartTime: opts.start ?? START,
    walReceiver:
      received === null
        ? null
        : {
            status: 'streaming',
            senderHost: 'h',
            senderPort: 5432,
            receivedTimeline: toTimeline(received),
            slotName: null,
          },
  };
}

describe('ReceivedTimeline', () => {
  it("keeps the receiver's timeline while the receiver is gone and pg_control still names the old one", () => {
    const t = new ReceivedTimeline();
    expect(t.observe(probe(3, 3))).toBe(3);
    // streamed onto timeline 4 from a promoted standby; no restartpoint yet
    expect(t.observe(probe(4, 4))).toBe(4);
    expect(t.observe(probe(3, null))).toBe(4);
    expect(t.observe(null)).toBe(null);
    expect(t.observe(probe(3, null))).toBe(4);
  });

  it('forgets it when the server restarts, is promoted, or pg_control moves past it', () => {
    const restarted = new ReceivedTimeline();
    restarted.observe(probe(4, 4));
    expect(restarted.observe(probe(3, null, { start: new Date(START.getTime() + 1000) }))).toBe(null);

    const promoted = new ReceivedTimeline();
    promoted.observe(probe(4, 4));
    expect(promoted.observe(probe(5, null, { primary: true }))).toBe(null);
    expect(promoted.observe(probe(5, null))).toBe(null);

    const archive = new ReceivedTimeline();
    archive.observe(probe(4, 4));
    expect(archive.observe(probe(5, null))).toBe(null);
  });

  it('is unknown before the receiver ever reported', () => {
    expect(new ReceivedTimeline().observe(probe(3, null))).toBe(null);
  });
});
