import type { Clock } from '@hapg/core';

/** The machine's clocks: `performance.now()` (monotonic) and `Date.now()` (wall). */
export const systemClock: Clock = {
  monotonicMs: () => performance.now(),
  wallMs: () => Date.now(),
};
