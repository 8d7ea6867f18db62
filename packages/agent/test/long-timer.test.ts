import { describe, expect, it, vi } from 'vitest';
import { setLongTimeout } from '../src/long-timer.js';

describe('setLongTimeout', () => {
  it('waits out a delay beyond setTimeout’s 24.8 days instead of firing at once (issue 11)', async () => {
    vi.useFakeTimers();
    try {
      let fired = 0;
      const fortyDaysMs = 40 * 24 * 3600 * 1000;
      const t = setLongTimeout(() => fired++, fortyDaysMs);
      await vi.advanceTimersByTimeAsync(1000);
      expect(fired).toBe(0);
      await vi.advanceTimersByTimeAsync(fortyDaysMs - 2000);
      expect(fired).toBe(0);
      await vi.advanceTimersByTimeAsync(1000);
      expect(fired).toBe(1);
      t.cancel();
    } finally {
      vi.useRealTimers();
    }
  });

  it('can be cancelled while in any link of the chain', async () => {
    vi.useFakeTimers();
    try {
      let fired = 0;
      const t = setLongTimeout(() => fired++, 30 * 24 * 3600 * 1000);
      await vi.advanceTimersByTimeAsync(25 * 24 * 3600 * 1000);
      t.cancel();
      await vi.advanceTimersByTimeAsync(10 * 24 * 3600 * 1000);
      expect(fired).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
