import {
  type ClusterRole,
  type ClusterView,
  clusterRole,
  clusterRows,
  type DynamicConfig,
  type Lsn,
  type Member,
} from '@hapg/core';
import { clusterConfigOf, decideConfigOf } from '../../actions/cluster-config.js';
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

/** patronictl's spelling of a `/cluster` role: `sync_standby` → `Sync Standby`. */
export function roleTitle(role: ClusterRole): string {
  return role
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ');
}

/** The Role column: core's `clusterRole`, the one `GET /cluster` answers, title-cased. */
export function roleOf(view: ClusterView, m: Member): string {
  return roleTitle(clusterRole(view, decideConfigOf(view), m));
}

/**
 * The rows, from core's `clusterRows` (the rows of `GET /cluster`: roles, states, order, lag
 * against the leader's optime), with hactl's host column and `unknown` lag.
 */
export function listRows(view: ClusterView): ListRow[] {
  return clusterRows(view, decideConfigOf(view)).map((r) => ({
    member: r.name,
    host: hostColumn(r.member.connUrl),
    role: roleTitle(r.role),
    state: r.state,
    tl: r.timeline,
    lagBytes: r.lagBytes,
    lagUnknown: !r.isLeader && r.lagBytes === null,
    pendingRestart: r.member.pendingRestart,
    tags: r.member.tags,
    reason: r.member.statusReason,
    receiveLsn: r.receiveLsn,
    replayLsn: r.replayLsn,
    receiveLagBytes: r.receiveLagBytes,
    replayLagBytes: r.replayLagBytes,
  }));
}

const MIB = 1024n * 1024n;

/** Patroni rounds the lag to whole MB: round(bytes / 1024 / 1024). */
export function lagInMb(lagBytes: bigint): number {
  return Number((lagBytes + MIB / 2n) / MIB);
}
