import { Ring } from '../events/ring.js';

/** One sample of the leader's WAL position (bytes) at a wall-clock instant. */
export interface LeaderPosition {
  readonly wallMs: number;
  readonly lsnBytes: number;
}

/**
 * Lag in seconds, estimated from the leader's WAL positions the dashboard has seen:
 * a replica at position P is as far behind as the time since the leader first
 * reported a position beyond P. Postgres' own `replay_lag` lives on the primary only
 * and hapg does not publish it; this estimate needs nothing but the member keys, at
 * their resolution (about `loop_wait`). It is a lower bound, and null when the
 * samples do not reach back far enough to say.
 */
export class LagClock {
  readonly #samples: Ring<LeaderPosition>;

  constructor(capacity = 600) {
    this.#samples = new Ring(capacity);
  }

  /** Records a position; a repeat of the last one is not a new sample (only its first time counts). */
  record(sample: LeaderPosition): void {
    const last = this.#samples.at(this.#samples.length - 1);
    if (last !== undefined && last.lsnBytes === sample.lsnBytes) return;
    // a new timeline restarts nothing on the byte axis, but a position going backwards (a
    // different leader that is behind) makes the old samples meaningless
    if (last !== undefined && sample.lsnBytes < last.lsnBytes) this.#clear();
    this.#samples.push(sample);
  }

  lagSeconds(replicaLsnBytes: number | null, nowMs: number): number | null {
    if (replicaLsnBytes === null) return null;
    const n = this.#samples.length;
    const latest = this.#samples.at(n - 1);
    if (latest === undefined) return null;
    if (replicaLsnBytes >= latest.lsnBytes) return 0;
    // the oldest sample beyond the replica's position; the one before it must be at or below it
    for (let i = n - 1; i >= 0; i--) {
      const s = this.#samples.at(i)!;
      if (s.lsnBytes <= replicaLsnBytes) {
        const passedAt = this.#samples.at(i + 1)!.wallMs;
        return Math.max(0, (nowMs - passedAt) / 1000);
      }
    }
    return null;
  }

  #clear(): void {
    while (this.#samples.shift() !== undefined) {
      // drained
    }
  }
}
