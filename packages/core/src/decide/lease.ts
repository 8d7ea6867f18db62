import { holdsLeaderKey } from '../cluster/leader-key.js';
import { type Lsn, maxLsn } from '../lsn.js';
import type { DcsObservation, Observation, PgObservation } from './types.js';

/**
 * What this node's claim on the leader key is worth right now:
 * - `held`: the key names us under our current lease and the local deadline is ahead;
 * - `deadline-passed`: the key names us, but the local deadline passed (or we have no lease):
 *   etcd may expire it any moment, so we must act as if we had lost it;
 * - `isolated`: held, but renewals have failed for `primaryIsolationTimeoutMs` and nobody
 *   streams from us, so every write we acknowledge would be lost at the next failover;
 * - `not-held`: the key is absent or names someone else (or our name under another lease).
 */
export type LeaseClass = 'held' | 'deadline-passed' | 'isolated' | 'not-held';

export function classifyLease(obs: Observation, nowMs: number): LeaseClass {
  if (!namesUsUnderOurLease(obs)) return 'not-held';
  if (deadlinePassed(obs.dcs, nowMs)) return 'deadline-passed';
  if (isIsolated(obs, nowMs)) return 'isolated';
  return 'held';
}

/** Rule 1's identity test: the key's value is our name *and* it is bound to our current lease. */
export function namesUsUnderOurLease(obs: Observation): boolean {
  return holdsLeaderKey(obs.dcs.view, obs.self.name, obs.dcs.leaseId);
}

/**
 * Until when this node may accept writes, W = max(L, F): the lease's local deadline L (while
 * it has a lease), and in failsafe mode the deadline F of the last round every failsafe member
 * answered (docs/failsafe.md). Each alone keeps every rival from leading; null: neither.
 */
export function writableUntilMs(dcs: DcsObservation): number | null {
  const lease = dcs.leaseId === null ? null : dcs.leaseDeadlineMs;
  const failsafe = dcs.failsafeDeadlineMs ?? null;
  if (lease === null) return failsafe;
  return failsafe === null ? lease : Math.max(lease, failsafe);
}

/** Neither deadline is strictly ahead of `nowMs`. */
export function deadlinePassed(dcs: DcsObservation, nowMs: number): boolean {
  const until = writableUntilMs(dcs);
  return until === null || nowMs >= until;
}

/** The failsafe deadline, not the lease's, is what keeps us writable now. */
export function onFailsafeDeadline(dcs: DcsObservation, nowMs: number): boolean {
  const failsafe = dcs.failsafeDeadlineMs ?? null;
  if (failsafe === null || nowMs >= failsafe) return false;
  return dcs.leaseId === null || dcs.leaseDeadlineMs === null || nowMs >= dcs.leaseDeadlineMs;
}

/**
 * Renewals failing for at least `primaryIsolationTimeoutMs` while no replica streams
 * from us. With a replica streaming, its receipt protects our commits, so an etcd blip
 * alone never counts as isolation.
 */
export function isIsolated(obs: Observation, nowMs: number): boolean {
  const since = obs.dcs.renewFailingSinceMs;
  if (since === null) return false;
  if (obs.pg.streamingReplicas.length > 0) return false;
  // P5: the failsafe set is us alone, so nobody else can take the key and lose our writes
  if (obs.dcs.failsafeAlone === true) return false;
  return nowMs - since >= obs.config.primaryIsolationTimeoutMs;
}

/** Postgres is up and accepting writes. */
export function isRunningPrimary(pg: PgObservation): boolean {
  return pg.process === 'running' && pg.inRecovery === false;
}

/**
 * Where this server's WAL is: the flush LSN of a primary, max(received, replayed) of a standby
 * (Patroni's `xlog_location`). One reading for the election, the member key and the events.
 */
export function walPosition(
  pg: Pick<PgObservation, 'inRecovery' | 'flushLsn' | 'receiveLsn' | 'replayLsn'>,
): Lsn | null {
  return pg.inRecovery === false ? pg.flushLsn : maxLsn(pg.receiveLsn, pg.replayLsn);
}

/** Postgres is up as a standby. */
export function isRunningReplica(pg: PgObservation): boolean {
  return pg.process === 'running' && pg.inRecovery === true;
}
