/**
 * Time comes from one place so that simulations can control it. The system clock is
 * `systemClock` in `@hapg/platform`: core reads no clock.
 */
export interface Clock {
  /** monotonic milliseconds (never goes backwards; unrelated to wall time) */
  monotonicMs(): number;
  /** wall-clock milliseconds since the epoch, for timestamps shown to people */
  wallMs(): number;
}

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  #mono: number;
  #wall: number;
  constructor(startMonoMs = 0, startWallMs = Date.UTC(2026, 0, 1)) {
    this.#mono = startMonoMs;
    this.#wall = startWallMs;
  }
  monotonicMs(): number {
    return this.#mono;
  }
  wallMs(): number {
    return this.#wall;
  }
  advance(ms: number): void {
    if (ms < 0) throw new Error(`ManualClock cannot go backwards (${ms} ms)`);
    this.#mono += ms;
    this.#wall += ms;
  }
}
