import { describe, expect, it } from 'vitest';
import { parseStreamSilenceRows, probeStreamSilence, STREAM_SILENCE_SQL } from '../src/stream-silence.js';

describe('parseStreamSilenceRows', () => {
  it('no row: no walreceiver, nothing heard', () => {
    expect(parseStreamSilenceRows([])).toEqual({ silenceMs: null, status: null });
  });

  it('a streaming walreceiver: the float8 ms as is', () => {
    expect(parseStreamSilenceRows([{ status: 'streaming', silence_ms: 12.5 }])).toEqual({
      silenceMs: 12.5,
      status: 'streaming',
    });
  });

  it('a numeric string (a type parser set elsewhere) is read too', () => {
    expect(parseStreamSilenceRows([{ status: 'streaming', silence_ms: '1500.25' }]).silenceMs).toBe(1500.25);
  });

  it('a walreceiver that has heard nothing yet: status, but no silence figure', () => {
    expect(parseStreamSilenceRows([{ status: 'starting', silence_ms: null }])).toEqual({
      silenceMs: null,
      status: 'starting',
    });
  });

  it('a role without pg_read_all_stats sees the row with its columns null', () => {
    expect(parseStreamSilenceRows([{ status: null, silence_ms: null }])).toEqual({
      silenceMs: null,
      status: null,
    });
  });

  it('a negative difference (a clock step between the stamps) counts as 0', () => {
    expect(parseStreamSilenceRows([{ status: 'streaming', silence_ms: -3 }]).silenceMs).toBe(0);
  });
});

describe('probeStreamSilence', () => {
  it('runs one statement, on clock_timestamp(), not the transaction start', async () => {
    const seen: string[] = [];
    const session = {
      query: async <R>(text: string): Promise<R[]> => {
        seen.push(text);
        return [{ status: 'streaming', silence_ms: 250 }] as R[];
      },
    };
    expect(await probeStreamSilence(session)).toEqual({ silenceMs: 250, status: 'streaming' });
    expect(seen).toEqual([STREAM_SILENCE_SQL]);
    expect(STREAM_SILENCE_SQL).toContain('clock_timestamp() - last_msg_receipt_time');
    expect(STREAM_SILENCE_SQL).not.toMatch(/\bnow\(\)/);
  });
});
