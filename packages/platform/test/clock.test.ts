import { describe, expect, it } from 'vitest';
import { systemClock } from '../src/index.js';

describe('systemClock', () => {
  it('is monotonic and tells the wall time', () => {
    const a = systemClock.monotonicMs();
    const b = systemClock.monotonicMs();
    expect(b).toBeGreaterThanOrEqual(a);
    expect(Math.abs(systemClock.wallMs() - Date.now())).toBeLessThan(1000);
  });
});
