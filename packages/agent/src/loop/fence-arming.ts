import type { PgObservation } from '@hapg/core';
import type { LocalPostgres } from '../local-pg.js';

/** Arms/disarms the fence; never throws (a fence failure is logged and shown, not fatal). */
export interface Fence {
  /** `ttlMs`: the lease ttl, for the watchdog's expected timeout (ttl − safety_margin) */
  arm(deadlineMs: number, pid: number, dataDir: string, ttlMs?: number): Promise<boolean>;
  disarm(): Promise<void>;
  /** `watchdog.mode: required`: why this node may not lead (`Observation.self.watchdogFailure`); null: fine */
  watchdogFailure?(timing: { readonly ttlMs: number; readonly loopWaitMs: number }): Promise<string | null>;
}

export interface FenceArmingOptions {
  readonly pg: LocalPostgres;
  readonly fence: Fence;
  /** W: the lease deadline, or the failsafe deadline when later; null: no lease */
  readonly writableUntilMs: () => number | null;
  readonly ttlMs: () => number;
  readonly holdsLeaderKey: () => boolean;
  /** the last probe of Postgres */
  readonly lastPg: () => PgObservation | null;
}

/**
 * Whether a moved W (a renewal, a failsafe round) moves the fence: while we run a primary
 * *and* etcd's data (the watch-fed view) shows the leader key ours. A renewal proves our lease
 * lives, not that the key is still bound to it: a primary deposed by a fast takeover goes on
 * renewing, and a fence moved by those renewals would outlive the key (docs/fast-failover.md,
 * review item 3). Left unmoved, the fence stops it at the deadline of the last renewal that
 * came while the key was ours; its loop, seeing the new key, usually demotes it first. A
 * postmaster we cannot probe (refusing us, or in a long crash recovery) may be a primary: while
 * we hold the key its fence moves like any primary's, or it would be killed every ttl and
 * started again by the loop. The simulator calls this too.
 */
export function fenceMoves(
  last: Pick<PgObservation, 'inRecovery'> | null,
  holdsLeaderKey: boolean,
  postmasterRunning: boolean,
): boolean {
  if (last === null || last.inRecovery === true || !holdsLeaderKey) return false;
  return last.inRecovery === false || postmasterRunning;
}

/**
 * Which deadline and which postmaster the fence watches. The executor arms it when Postgres
 * becomes writable; every lease renewal (and failsafe round that extended W) moves it on.
 */
export class FenceArming {
  readonly #o: FenceArmingOptions;

  constructor(o: FenceArmingOptions) {
    this.#o = o;
  }

  /** Arms the fence with W and the postmaster running *now*. */
  async arm(): Promise<void> {
    const { pg, fence } = this.#o;
    const deadline = this.#o.writableUntilMs();
    const pid = pg.node.pid;
    if (deadline === null || pid === null) return;
    await fence.arm(deadline, pid, pg.node.dataDir, this.#o.ttlMs());
  }

  disarm(): Promise<void> {
    return this.#o.fence.disarm();
  }

  /** W moved (a renewal, a failsafe round): move the fence when `fenceMoves` says so. */
  async deadlineMoved(): Promise<void> {
    if (!fenceMoves(this.#o.lastPg(), this.#o.holdsLeaderKey(), this.#o.pg.node.running)) return;
    await this.arm();
  }
}
