import type { MemberName } from '@hapg/core';

/** Why this member may not lead now (core's `SelfInfo.failsafeHold`). */
export interface FailsafeHold {
  readonly code: 'FAILSAFE_PROMISED' | 'FAILSAFE_STARTUP_HOLD';
  readonly text: string;
}

export type AcceptResult = { readonly ok: true } | { readonly ok: false; readonly why: string };

/**
 * The promises this member gives a primary cut off from etcd (docs/failsafe.md M2–M4), and
 * the one place where a promise and leadership exclude each other. `accept` and
 * `beginLeadership` are synchronous, with no `await` between their test and their set: an
 * acquire or a promotion already under way can never slip past an accepted `POST /failsafe`,
 * nor an accept past the start of one.
 */
export class FailsafePromises {
  /** monotonic ms until which we promised `#to` not to lead; null: no promise given */
  #untilMs: number | null = null;
  #to: MemberName | null = null;
  /** we are taking, holding or using the leader key: no promise may be given */
  #leading = false;
  /** monotonic ms before which this process takes no key (M4): its start + the longest promise ever given */
  readonly #startupHoldUntilMs: number;
  #longestPromiseMs: number;

  /**
   * `startedAtMs`: when this process started (monotonic); `longestPromiseMs`: the longest
   * promise any earlier run recorded (`LongestPromiseFile`), 0 if none.
   */
  constructor(opts: { readonly startedAtMs: number; readonly longestPromiseMs: number }) {
    this.#longestPromiseMs = opts.longestPromiseMs;
    this.#startupHoldUntilMs = opts.startedAtMs + opts.longestPromiseMs;
  }

  /** The longest promise recorded so far: an accept needing a longer one must record it first. */
  get longestPromiseMs(): number {
    return this.#longestPromiseMs;
  }

  /** Called once a longer promise is durably recorded (before the accept that needs it). */
  recorded(longestPromiseMs: number): void {
    this.#longestPromiseMs = Math.max(this.#longestPromiseMs, longestPromiseMs);
  }

  /**
   * Promise `to` not to lead for `durationMs` from `nowMs` (read when accepting, so after the
   * request left the primary). Refused while we lead or try to; a later promise moves the
   * end, none shortens it.
   */
  accept(to: MemberName, durationMs: number, nowMs: number): AcceptResult {
    if (this.#leading) return { ok: false, why: 'Running as a leader' };
    if (durationMs > this.#longestPromiseMs)
      return { ok: false, why: `a promise of ${durationMs} ms is not recorded yet` };
    const until = nowMs + durationMs;
    if (this.#untilMs === null || until >= this.#untilMs) {
      this.#untilMs = until;
      this.#to = to;
    }
    return { ok: true };
  }

  /**
   * First step of taking the key, promoting or starting as a primary: refused (with the reason)
   * while a promise or the startup hold runs; once it succeeded, no promise is given until
   * `endLeadership`. `writable`: our Postgres already accepts writes (a restarted agent
   * rebinding its key): no promise can be running then (none is given while writable), and
   * any of an earlier run ended before this server was promoted, so nothing holds it back.
   */
  beginLeadership(nowMs: number, opts: { readonly writable?: boolean } = {}): FailsafeHold | null {
    const hold = opts.writable === true ? null : this.hold(nowMs);
    if (hold !== null) return hold;
    this.#leading = true;
    return null;
  }

  /** We are a replica again and etcd says the key is not ours: promises may be given again. */
  endLeadership(): void {
    this.#leading = false;
  }

  get leading(): boolean {
    return this.#leading;
  }

  /** Why we may not lead now; null: free. */
  hold(nowMs: number): FailsafeHold | null {
    if (this.#untilMs !== null && nowMs < this.#untilMs) {
      return {
        code: 'FAILSAFE_PROMISED',
        text: `failsafe: promised ${this.#to} not to take the leader key for ${this.#untilMs - nowMs} ms more`,
      };
    }
    if (nowMs < this.#startupHoldUntilMs) {
      return {
        code: 'FAILSAFE_STARTUP_HOLD',
        text: `failsafe: not taking the leader key for ${this.#startupHoldUntilMs - nowMs} ms after the agent's start (the longest promise it ever gave)`,
      };
    }
    return null;
  }

  /** The running promise, for `GET /patroni`; null: none. */
  promise(nowMs: number): { readonly to: MemberName; readonly untilMs: number } | null {
    if (this.#untilMs === null || this.#to === null || nowMs >= this.#untilMs) return null;
    return { to: this.#to, untilMs: this.#untilMs };
  }
}
