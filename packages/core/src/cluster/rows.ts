import { type Eligibility, isEligible, memberCandidate } from '../decide/candidates.js';
import type { DecideConfig } from '../decide/types.js';
import { type Lsn, toLsn } from '../lsn.js';
import type { Timeline } from '../timeline.js';
import type { ClusterView, Member, MemberName } from '../types.js';

/** A member's role in `GET /cluster` (Patroni's `cluster_as_json`); hactl prints it title-cased. */
export type ClusterRole = 'leader' | 'standby_leader' | 'sync_standby' | 'quorum_standby' | 'replica';

/**
 * One member as `GET /cluster` and `hactl list` show it, computed from a view alone. Each
 * side adds what is its own: the REST API the address fields and numbers in its JSON shape,
 * hactl its host column, MB rounding and table.
 */
export interface ClusterRow {
  readonly member: Member;
  readonly name: MemberName;
  readonly role: ClusterRole;
  /** the member's Postgres state, or for a running non-leader how it replicates (`streaming`) */
  readonly state: string;
  readonly isLeader: boolean;
  readonly timeline: Timeline | null;
  /** the member key's `xlog_location`: flush position on a primary, max(receive, replay) on a replica */
  readonly lsn: Lsn | null;
  readonly receiveLsn: Lsn | null;
  readonly replayLsn: Lsn | null;
  /** bytes behind the leader's optime (never negative); null for the leader and when unknown */
  readonly lagBytes: bigint | null;
  readonly receiveLagBytes: bigint | null;
  readonly replayLagBytes: bigint | null;
  /** may it take over now (core's `isEligible` on its member record); not asked of the leader */
  readonly eligibility: Eligibility | null;
}

/**
 * The position replicas are measured against: the leader's optime from the `status` key
 * (refreshed on every renewal), else the leader member's `xlog_location`; null when neither
 * is known.
 */
export function leaderOptime(view: ClusterView): Lsn | null {
  const optime = view.status?.optime ?? null;
  // the status key holds any safe integer (another tool's value): a negative one is no position
  if (optime !== null && optime >= 0) return toLsn(optime);
  const leader = view.leader === null ? undefined : view.members.get(view.leader.name);
  return leader?.xlogLocation ?? null;
}

function lagOf(optime: Lsn | null, position: Lsn | null): bigint | null {
  if (optime === null || position === null) return null;
  const lag = optime - position;
  // a replica momentarily ahead of a stale status key is not behind
  return lag < 0n ? 0n : lag;
}

/**
 * Patroni's roles: the leader key decides the leader (`standby_leader` when its member says
 * so); in synchronous mode only, the sync key names sync (or, in quorum mode, quorum)
 * standbys — a key left over after the mode was switched off names nobody.
 */
export function clusterRole(
  view: ClusterView,
  config: Pick<DecideConfig, 'synchronousMode'>,
  m: Member,
): ClusterRole {
  if (view.leader?.name === m.name) return m.role === 'standby_leader' ? 'standby_leader' : 'leader';
  const mode = config.synchronousMode;
  if (mode !== 'off' && view.sync?.syncStandbys.includes(m.name) === true) {
    return mode === 'quorum' ? 'quorum_standby' : 'sync_standby';
  }
  return 'replica';
}

/**
 * Patroni shows a non-leader's `replication_state` (`streaming`, `in archive recovery`) in
 * place of its state; hapg only while it runs, since the member key keeps the last
 * replication state of a member that has stopped since.
 */
export function clusterState(m: Member, isLeader: boolean): string {
  if (!isLeader && m.state === 'running' && m.replicationState !== null && m.replicationState !== '') {
    return m.replicationState;
  }
  return m.state;
}

/** Leader first, then by name (code point order, the same on every host). */
export function sortMembers(view: ClusterView): Member[] {
  const leaderName = view.leader?.name;
  return [...view.members.values()].sort((a, b) => {
    if (a.name === leaderName) return -1;
    if (b.name === leaderName) return 1;
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
}

/** The members of `GET /cluster` and `hactl list`, the leader first; lag against `leaderOptime`. */
export function clusterRows(view: ClusterView, config: DecideConfig): ClusterRow[] {
  const optime = leaderOptime(view);
  return sortMembers(view).map((m) => {
    const isLeader = view.leader?.name === m.name;
    const lag = (position: Lsn | null) => (isLeader ? null : lagOf(optime, position));
    return {
      member: m,
      name: m.name,
      role: clusterRole(view, config, m),
      state: clusterState(m, isLeader),
      isLeader,
      timeline: m.timeline,
      lsn: m.xlogLocation,
      receiveLsn: m.receiveLsn,
      replayLsn: m.replayLsn,
      lagBytes: lag(m.xlogLocation),
      receiveLagBytes: lag(m.receiveLsn),
      replayLagBytes: lag(m.replayLsn),
      eligibility: isLeader ? null : isEligible(memberCandidate(m), config, view),
    };
  });
}
