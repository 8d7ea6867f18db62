import type { ClusterView, DynamicConfig, Lsn, Member } from '@hapg/core';
import { clusterConfigOf } from '../../actions/cluster-config.js';
import { hostColumn } from '../../member-host.js';

/** One member as `hactl list` shows it. Pure data, computed from a view. */
export interface ListRow {
  readonly member: string;
  readonly host: string;
  readonly role: string;
  readonly state: string;
  readonly tl: number | null;
  /** bytes behind the leader's optime; null for the leader and when not computable */
  readonly lagBytes: bigint | null;
  /** true when lag should be known but is not (no LSN from the member or from the leader) */
  readonly lagUnknown: boolean;
  readonly pendingRestart: boolean;
  readonly tags: Readonly<Record<string, unknown>>;
  readonly reason: string | null;
  /** `-e`: where the member's WAL receiver and startup process are, and how far behind the leader */
  readonly receiveLsn: Lsn | null;
  readonly replayLsn: Lsn | null;
  readonly receiveLagBytes: bigint | null;
  readonly replayLagBytes: bigint | null;
}

export type SyncMode = DynamicConfig['synchronousMode'];

/** The `synchronous_mode` the agents run with (core's parse of the config key). */
export function syncModeOf(view: ClusterView): SyncMode {
  return clusterConfigOf(view).synchronousMode;
}

/** Patroni's roles: the leader key decides Leader; the sync key names sync/quorum standbys. */
export function roleOf(view: ClusterView, m: Member): string {
  if (view.leader?.name === m.name) return m.role === 'standby_leader' ? 'Standby Leader' : 'Leader';
  const mode = syncModeOf(view);
  if (mode !== 'off' && view.sync?.syncStandbys.includes(m.name) === true) {
    return mode === 'quorum' ? 'Quorum Standby' : 'Sync Standby';
  }
  return 'Replica';
}

/** A running replica shows how it replicates (`streaming`), as patronictl does; else Postgres' state. */
export function stateOf(m: Member, isLeader: boolean): string {
  if (!isLeader && m.state === 'running' && m.replicationState !== null && m.replicationState !== '') {
    return m.replicationState;
  }
  return m.state;
}

/**
 * The position replicas are measured against: the leader's optime from the
 * `status` key (refreshed on every renewal), else the leader member's
 * `xlog_location`; null when neither is known.
 */
export function leaderOptime(view: ClusterView): Lsn | null {
  if (view.status?.optime !== null && view.status?.optime !== undefined)
    return BigInt(view.status.optime) as Lsn;
  const leader = view.leader === null ? undefined : view.members.get(view.leader.name);
  return leader?.xlogLocation ?? null;
}

function lagOf(leaderLsn: Lsn | null, position: Lsn | null): bigint | null {
  if (leaderLsn === null || position === null) return null;
  const lag = leaderLsn - position;
  // a replica momentarily ahead of a stale status key is not behind
  return lag < 0n ? 0n : lag;
}

/** Leader first, then by name. */
export function sortMembers(view: ClusterView): Member[] {
  const leaderName = view.leader?.name;
  return [...view.members.values()].sort((a, b) => {
    if (a.name === leaderName) return -1;
    if (b.name === leaderName) return 1;
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
}

export function listRows(view: ClusterView): ListRow[] {
  const optime = leaderOptime(view);
  return sortMembers(view).map((m) => {
    const isLeader = view.leader?.name === m.name;
    const lagBytes = isLeader ? null : lagOf(optime, m.xlogLocation);
    return {
      member: m.name,
      host: hostColumn(m.connUrl),
      role: roleOf(view, m),
      state: stateOf(m, isLeader),
      tl: m.timeline,
      lagBytes,
      lagUnknown: !isLeader && lagBytes === null,
      pendingRestart: m.pendingRestart,
      tags: m.tags,
      reason: m.statusReason,
      receiveLsn: m.receiveLsn,
      replayLsn: m.replayLsn,
      receiveLagBytes: isLeader ? null : lagOf(optime, m.receiveLsn),
      replayLagBytes: isLeader ? null : lagOf(optime, m.replayLsn),
    };
  });
}

const MIB = 1024n * 1024n;

/** Patroni rounds the lag to whole MB: round(bytes / 1024 / 1024). */
export function lagInMb(lagBytes: bigint): number {
  return Number((lagBytes + MIB / 2n) / MIB);
}
