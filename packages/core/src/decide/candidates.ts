import { parseTags } from '../cluster/tags.js';
import { compareLsn, type Lsn, toLsn } from '../lsn.js';
import { acksPerCommit } from '../sync/key.js';
import { quorumPromotionSafe } from '../sync/quorum.js';
import type { Timeline } from '../timeline.js';
import { type ClusterView, type Member, type MemberName, malformedKey } from '../types.js';
import { walPosition } from './lease.js';
import type { DecideConfig, Observation, PeerStatus, ReasonCode } from './types.js';

/** One member as an election sees it: this node from its probe, a peer from its REST status. */
export interface Candidate {
  readonly name: MemberName;
  /** Postgres running (and, for a peer, its REST API answered); an unhealthy candidate ranks last */
  readonly healthy: boolean;
  /** WAL position: max(received, replayed) on a replica, flush LSN on a primary */
  readonly lsn: Lsn | null;
  readonly timeline: Timeline | null;
  readonly nofailover: boolean;
  readonly failoverPriority: number;
  /** watchdog required but unusable (why); absent/null: fine */
  readonly watchdogFailure?: string | null;
  /** its `pre_promote` failed less than ttl ago (why): it does not compete; absent/null: fine */
  readonly prePromoteFailure?: string | null;
}

/**
 * The one total order of candidates: healthy first, then WAL position descending,
 * then failover priority descending, then name ascending (so two nodes looking at the
 * same statuses always agree on the winner). Negative when `a` ranks above `b`.
 */
export function compareCandidates(a: Candidate, b: Candidate): number {
  if (a.healthy !== b.healthy) return a.healthy ? -1 : 1;
  const byLsn = compareNullableLsn(b.lsn, a.lsn);
  if (byLsn !== 0) return byLsn;
  if (a.failoverPriority !== b.failoverPriority) return b.failoverPriority - a.failoverPriority;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Best first; does not mutate its input. */
export function rankCandidates(candidates: readonly Candidate[]): Candidate[] {
  return [...candidates].sort(compareCandidates);
}

function compareNullableLsn(a: Lsn | null, b: Lsn | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  return compareLsn(a, b);
}

export function selfCandidate(obs: Observation): Candidate {
  const { pg, self } = obs;
  return {
    name: self.name,
    healthy: pg.process === 'running',
    lsn: walPosition(pg),
    timeline: pg.timeline,
    nofailover: self.nofailover,
    failoverPriority: self.failoverPriority,
    watchdogFailure: self.watchdogFailure ?? null,
    prePromoteFailure: self.prePromoteFailure ?? null,
  };
}

export function peerCandidate(peer: PeerStatus): Candidate {
  return {
    name: peer.name,
    healthy: peer.reachable && peer.state === 'running',
    lsn: peer.xlogLocation,
    timeline: peer.timeline,
    nofailover: peer.nofailover,
    failoverPriority: peer.failoverPriority,
    watchdogFailure: peer.watchdogFailed === true ? 'not watchdog capable' : null,
    prePromoteFailure: peer.prePromoteFailed === true ? 'its pre_promote script failed' : null,
  };
}

/** A member as its etcd record shows it (used by the leader to vet a switchover target). */
export function memberCandidate(m: Member): Candidate {
  const tags = parseTags(m.tags);
  return {
    name: m.name,
    healthy: m.state === 'running',
    lsn: m.xlogLocation,
    timeline: m.timeline,
    nofailover: tags.nofailover,
    failoverPriority: tags.failoverPriority,
  };
}

export type Eligibility =
  | { readonly eligible: true }
  | {
      readonly eligible: false;
      readonly code: IneligibleCode;
      readonly text: string;
    };

const ELIGIBLE: Eligibility = { eligible: true };

type IneligibleCode =
  | 'POSTGRES_NOT_RUNNING'
  | 'NO_LEADER_NOT_ELIGIBLE'
  | 'LAG_TOO_HIGH'
  | 'FAILSAFE_NOT_LISTED';

function no(code: IneligibleCode, text: string) {
  return { eligible: false, code, text } as const;
}

/**
 * May this candidate take the leader key (rule 3)? Checks, in order: Postgres running,
 * `nofailover`, `failover_priority` 0, an unusable required watchdog, a recent failed
 * `pre_promote`, the sync key in synchronous mode, the timeline
 * when `check_timeline` is on, and the lag against the leader's last known optime.
 */
export function isEligible(c: Candidate, config: DecideConfig, view: ClusterView | null): Eligibility {
  if (!c.healthy) return no('POSTGRES_NOT_RUNNING', `${c.name}: Postgres is not running or not reachable`);
  if (c.nofailover) return no('NO_LEADER_NOT_ELIGIBLE', `${c.name}: tagged nofailover`);
  if (c.failoverPriority <= 0) return no('NO_LEADER_NOT_ELIGIBLE', `${c.name}: failover_priority is 0`);
  if (c.watchdogFailure) return no('NO_LEADER_NOT_ELIGIBLE', `${c.name}: ${c.watchdogFailure}`);
  if (c.prePromoteFailure) return no('NO_LEADER_NOT_ELIGIBLE', `${c.name}: ${c.prePromoteFailure}`);
  // M5 (docs/failsafe.md): a primary cut off from etcd reaches only the members its key names;
  // anyone else could lead while it still writes, so only they may take the key
  if (!listedInFailsafeKey(c.name, view))
    return no('FAILSAFE_NOT_LISTED', `${c.name}: the failsafe key does not name it`);
  if (config.synchronousMode !== 'off' && view !== null && view.sync === null && malformedKey(view, 'sync')) {
    // another tool's value: nobody can tell who holds every acknowledged commit (rule 4); the
    // leader rewrites its key at once, and without a leader nobody may guess
    return no('NO_LEADER_NOT_ELIGIBLE', `${c.name}: synchronous mode and the sync key is malformed`);
  }
  if (!inSyncKey(c.name, config, view)) {
    return no('NO_LEADER_NOT_ELIGIBLE', `${c.name}: synchronous mode and not listed in the sync key`);
  }
  const clusterTimeline = config.checkTimeline ? lastKnownTimeline(view) : null;
  if (clusterTimeline !== null && (c.timeline === null || c.timeline < clusterTimeline)) {
    return no(
      'NO_LEADER_NOT_ELIGIBLE',
      `${c.name}: timeline ${c.timeline ?? 'unknown'} is behind the cluster's ${clusterTimeline}`,
    );
  }
  // A standby the sync key lists holds every acknowledged commit whatever its distance from
  // the leader's last optime (WAL the leader wrote but never acknowledged): refusing it on
  // lag would leave the cluster without a primary and gain nothing.
  if (config.synchronousMode !== 'off' && view?.sync?.syncStandbys.includes(c.name) === true) return ELIGIBLE;
  return checkLag(c, config, view);
}

/** No failsafe key (an empty one is none, as for Patroni), or one that names `name`. */
export function listedInFailsafeKey(name: MemberName, view: ClusterView | null): boolean {
  const key = view?.failsafe ?? null;
  return key === null || key.members.size === 0 || key.members.has(name);
}

function checkLag(c: Candidate, config: DecideConfig, view: ClusterView | null): Eligibility {
  const optime = view?.status?.optime ?? null;
  if (optime === null) return ELIGIBLE; // no known leader position: nothing to measure against
  if (c.lsn === null) return no('LAG_TOO_HIGH', `${c.name}: WAL position unknown`);
  const lagBytes = toLsn(optime) - c.lsn;
  if (lagBytes > config.maximumLagOnFailoverBytes) {
    return no(
      'LAG_TOO_HIGH',
      `${c.name}: ${lagBytes} bytes behind the leader's last optime (maximum_lag_on_failover ${config.maximumLagOnFailoverBytes})`,
    );
  }
  return ELIGIBLE;
}

/**
 * Synchronous mode: only a member the sync key lists (or the leader it names) can have every
 * acknowledged commit. In `on` mode each listed standby has them all; in quorum mode the
 * one taking over must also prove it (`quorumProof`).
 */
function inSyncKey(name: MemberName, config: DecideConfig, view: ClusterView | null): boolean {
  if (config.synchronousMode === 'off' || nothingPromised(view)) return true;
  const sync = view!.sync!;
  if (sync.leader === name) return true;
  // A key whose standbys need not hold any commit (quorum 0 of them) can never let one take
  // over: counting it as a candidate would make the others defer to it forever (simulator).
  return sync.syncStandbys.includes(name) && acksPerCommit(sync) >= 1;
}

/**
 * No sync key (or one naming no leader): nothing has been promised synchronously yet — the
 * mode was just switched on and no leader has written it — so asynchronous rules apply, as in
 * Patroni. Every promotion and the bootstrap in synchronous mode write the key before Postgres
 * becomes writable. One home for the rule: eligibility, the proof and the deferral all read it
 * (the proof once demanded a listing in a key that did not exist, and a cluster whose mode was
 * switched on while it had no leader stayed leaderless: simulator, `syncTransitions`).
 */
function nothingPromised(view: ClusterView | null): boolean {
  const sync = view?.sync ?? null;
  return sync === null || sync.leader === null;
}

/**
 * Synchronous mode: can this node prove it holds every acknowledged commit (sync/quorum.ts)?
 * Null when it can, or when no proof is needed (mode off; the key names us as leader, so
 * the commits in question are our own). A key of `on` mode (quorum 0: every listed standby
 * acknowledged) needs only ourselves; a quorum key (`ANY k`), also one left over right after
 * the mode was switched from quorum to on, needs N − k + 1 listed members seen. Peers count
 * with the WAL position their REST status reported in this election.
 */
export function quorumProof(
  obs: Observation,
  view: ClusterView,
  me: Candidate,
): { readonly code: ReasonCode; readonly text: string } | null {
  if (obs.config.synchronousMode === 'off' || nothingPromised(view)) return null;
  if (view.sync?.leader === obs.self.name) return null;
  if (me.lsn === null) return { code: 'QUORUM_NOT_AHEAD', text: `${me.name}: WAL position unknown` };
  const verdict = syncKeyProof(obs, view, obs.self.name, me.lsn, []);
  return verdict.safe ? null : { code: verdict.code, text: verdict.text };
}

/**
 * `quorumPromotionSafe` for `name` at `lsn`, against the sync key of `view` and the WAL positions
 * of the peers we reach (after `seen`, positions we know otherwise).
 */
function syncKeyProof(
  obs: Observation,
  view: ClusterView,
  name: MemberName,
  lsn: Lsn,
  seen: readonly (readonly [MemberName, Lsn | null])[],
): ReturnType<typeof quorumPromotionSafe> {
  const sync = view.sync;
  const reachable = new Map<MemberName, Lsn | null>(seen);
  for (const p of obs.peers?.values() ?? []) if (p.reachable) reachable.set(p.name, p.xlogLocation);
  return quorumPromotionSafe({
    syncKey: { syncStandbys: sync?.syncStandbys ?? [], quorum: sync === null ? 0 : acksPerCommit(sync) },
    reachableStatuses: reachable,
    selfName: name,
    selfLsn: lsn,
  });
}

/**
 * Synchronous mode: a failover target that, from what we see, can never prove it holds every
 * acknowledged commit — not listed in the sync key, a key that guarantees nothing (quorum 0),
 * or a listed member we see (ourselves included) further ahead than it. Deferring to such a
 * target left the cluster leaderless for good (the simulator's quorum-proof stall, Patroni's
 * `manual_failover_process_no_leader` runs the election instead). What the target sees is not
 * needed for these three: they hold whatever it reaches. Each taker still runs its own proof.
 */
export function targetCannotProve(
  obs: Observation,
  view: ClusterView,
  target: Candidate,
  me: Candidate,
): boolean {
  if (obs.config.synchronousMode === 'off' || nothingPromised(view)) return false;
  if (view.sync?.leader === target.name || target.lsn === null) return false;
  const verdict = syncKeyProof(obs, view, target.name, target.lsn, [[me.name, me.lsn]]);
  return !verdict.safe && verdict.code !== 'QUORUM_TOO_FEW_SEEN';
}

/** The timeline the last promotion created (history records the timeline that ended), or null. */
export function lastKnownTimeline(view: ClusterView | null): number | null {
  const entries = view?.history?.entries ?? [];
  if (entries.length === 0) return null;
  return Math.max(...entries.map((e) => e.timeline)) + 1;
}
