import {
  type ClusterView,
  type FlawedLeaderSighting,
  isRunningPrimary,
  type MemberName,
  type PgObservation,
  trackFlawedLeader,
} from '@hapg/core';

/**
 * What the agent remembers between loops beyond what it observes, as one value that only the
 * pure functions below change. (Whom Postgres follows, when it crashed and why a rejoin failed
 * live with the Postgres port, which the executor updates: `PostgresControl`.)
 */
export interface AgentMemory {
  /** when we last released the leader key (a switchover away): we do not race for it at once */
  readonly releasedLeaderAtMs: number | null;
  /** since when we hold the key without a running primary (see `observed`) */
  readonly downUnderKeySinceMs: number | null;
  /** since when the current leader key has looked like no agent's (core's `trackFlawedLeader`) */
  readonly flawedLeader: FlawedLeaderSighting | null;
  /** our `pre_promote` failed then, for this reason: we stay out of elections for ttl */
  readonly prePromoteFailed: { readonly atMs: number; readonly why: string } | null;
}

export const FRESH_MEMORY: AgentMemory = {
  releasedLeaderAtMs: null,
  downUnderKeySinceMs: null,
  flawedLeader: null,
  prePromoteFailed: null,
};

/** We released the leader key at `nowMs`. */
export function released(m: AgentMemory, nowMs: number): AgentMemory {
  return { ...m, releasedLeaderAtMs: nowMs };
}

/** Our `pre_promote` failed at `nowMs`. */
export function prePromoteFailed(m: AgentMemory, nowMs: number, why: string): AgentMemory {
  return { ...m, prePromoteFailed: { atMs: nowMs, why } };
}

/**
 * Why we do not compete now (core's `SelfInfo.prePromoteFailure`): a `pre_promote` that failed
 * less than ttl ago (Patroni's backoff after it). Null once ttl has passed.
 */
export function prePromoteFailure(m: AgentMemory, nowMs: number, ttlMs: number): string | null {
  const f = m.prePromoteFailed;
  if (f === null || nowMs - f.atMs >= ttlMs) return null;
  return `${f.why} (not competing for ${Math.ceil((ttlMs - (nowMs - f.atMs)) / 1000)} s more)`;
}

/**
 * One loop's observation of the key and of Postgres, remembered. Holding the key without a
 * running primary (a start or a promotion failing, not only a crash) counts as a primary
 * that is down: `primary_start_timeout` runs from the first loop that saw it, so a holder
 * that cannot get a primary up hands the key over (the cluster must not stay without a
 * writable primary while another member could be one).
 */
export function observed(
  m: AgentMemory,
  o: {
    readonly view: ClusterView | null;
    readonly self: MemberName;
    readonly holdsLeaderKey: boolean;
    readonly pg: PgObservation;
    readonly paused: boolean;
    readonly nowMs: number;
  },
): { readonly memory: AgentMemory; readonly pg: PgObservation } {
  const flawedLeader = trackFlawedLeader(m.flawedLeader, o.view, o.self, o.nowMs, o.paused);
  if (!o.holdsLeaderKey || o.pg.dataDir !== 'initialized' || isRunningPrimary(o.pg))
    return { memory: { ...m, flawedLeader, downUnderKeySinceMs: null }, pg: o.pg };
  const since = m.downUnderKeySinceMs ?? o.nowMs;
  const pg = o.pg.crashedAtMs !== null ? o.pg : { ...o.pg, crashedAtMs: since };
  return { memory: { ...m, flawedLeader, downUnderKeySinceMs: since }, pg };
}
