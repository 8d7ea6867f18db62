import {
  type Clock,
  type DcsObservation,
  type Decision,
  errorText,
  isRunningPrimary,
  type MemberName,
  type Observation,
  safetyDemotion,
} from '@hapg/core';
import type { Logger } from '../logger.js';

/**
 * Rule 2 between loop iterations. While Postgres runs as our primary, every `intervalMs` it
 * samples `pg_stat_replication`, re-reads the lease state and evaluates `safetyDemotion` — the
 * same pure rule that heads `decide()` — on the last observation refreshed with both.
 *
 * Why not just the loop: with packets dropped, the iteration that would notice is often stuck
 * in an etcd call (a member or status write) until that call's own deadline, seconds after
 * the isolation grace ran out; every write acknowledged meanwhile is lost at the failover.
 * Stopping writes is always safe, so the guard does not wait for the iteration: it carries
 * the demotion out through the executor at once and then wakes the loop.
 */
export interface SafetyGuardPorts {
  readonly clock: Clock;
  readonly log: Logger;
  /** the observation the last loop iteration decided on; null before the first */
  lastObservation(): Observation | null;
  /** the lease state now (not as of the last iteration) */
  lease(): Pick<DcsObservation, 'leaseId' | 'leaseDeadlineMs' | 'renewFailingSinceMs'>;
  /** a fresh look at the standbys: those provably streaming from us */
  sampleReplication(nowMs: number): Promise<MemberName[]>;
  /** carries the safety decision out (executor), logs it, and wakes the loop */
  enforce(decision: Decision, obs: Observation): Promise<void>;
}

export class SafetyGuard {
  readonly #p: SafetyGuardPorts;
  #intervalMs: number;
  #timer: NodeJS.Timeout | null = null;
  #busy = false;
  #stopped = true;

  constructor(ports: SafetyGuardPorts, intervalMs: number) {
    this.#p = ports;
    this.#intervalMs = intervalMs;
  }

  start(): void {
    this.#stopped = false;
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** The sampling period follows `primary_isolation_timeout` (a dynamic key). */
  setIntervalMs(ms: number): void {
    this.#intervalMs = ms;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.tick(), this.#delayMs());
  }

  /**
   * The sampling period — or less, when renewals are failing and the isolation grace runs out
   * sooner: the check then lands on the grace's end instead of up to a period after it, and
   * every write acknowledged in that period would have been lost.
   */
  #delayMs(): number {
    const since = this.#p.lease().renewFailingSinceMs;
    const graceMs = this.#p.lastObservation()?.config.primaryIsolationTimeoutMs;
    if (since === null || graceMs === undefined) return this.#intervalMs;
    const untilGraceEndsMs = since + graceMs - this.#p.clock.monotonicMs();
    // +1: the rule holds from the grace's end on, and a timer never fires early
    return untilGraceEndsMs < 0
      ? this.#intervalMs
      : Math.min(this.#intervalMs, Math.ceil(untilGraceEndsMs) + 1);
  }

  /** One check; exported for tests. Never throws. */
  async tick(): Promise<Decision | null> {
    if (this.#busy) return null;
    this.#busy = true;
    try {
      return await this.#check();
    } catch (e) {
      this.#p.log.warn({ err: errorText(e) }, 'safety guard check failed');
      return null;
    } finally {
      this.#busy = false;
      this.#schedule();
    }
  }

  async #check(): Promise<Decision | null> {
    const last = this.#p.lastObservation();
    if (last === null || !isRunningPrimary(last.pg)) return null;
    const nowMs = this.#p.clock.monotonicMs();
    const streamingReplicas = await this.#p.sampleReplication(nowMs);
    const obs: Observation = {
      ...last,
      pg: { ...last.pg, streamingReplicas },
      dcs: { ...last.dcs, ...this.#p.lease() },
    };
    const decision = safetyDemotion(obs, this.#p.clock.monotonicMs());
    if (decision !== null) await this.#p.enforce(decision, obs);
    return decision;
  }
}
