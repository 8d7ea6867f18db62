import type { NodeSnapshot } from './api/snapshot.js';

/**
 * Patroni's `/metrics` family, computed from the same snapshot `GET /patroni` answers from, so
 * that Grafana dashboards and alerts written for Patroni read hapg unchanged. Names, `# HELP`
 * texts, `# TYPE`s and units are Patroni 4.x's (`api.py`, `do_GET_metrics`): WAL positions are
 * byte offsets from `0/0`, times are epoch seconds, flags are 0/1, and whatever is unknown is 0
 * (never NaN), as in Patroni. Patroni declares the three WAL positions and the timeline `counter`
 * (without `_total`); so does hapg. Every sample carries the labels `scope` and `name`.
 *
 * A pure table: `value` reads the snapshot and nothing else.
 */
export interface PatroniMetric {
  readonly name: `patroni_${string}`;
  readonly help: string;
  readonly type: 'gauge' | 'counter';
  readonly value: (s: NodeSnapshot) => number;
}

const flag = (b: boolean): number => (b ? 1 : 0);

/** Seconds since the epoch of an ISO-8601 time; 0 when absent or unparsable (Patroni's 0 for null). */
export function epochSeconds(iso: string | null): number {
  if (iso === null) return 0;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms / 1000 : 0;
}

/**
 * Patroni's `patroni_version`: each dotted part zero-padded to two digits, read as a number
 * (`3.0.2` → `030002` → 30002). A pre-release or build suffix is ignored.
 */
export function paddedVersion(version: string): number {
  const core = version.split(/[-+]/, 1)[0] ?? '';
  const digits = core
    .split('.')
    .map((part) => part.replace(/\D/g, '').padStart(2, '0'))
    .join('');
  const n = Number(digits);
  return Number.isFinite(n) ? n : 0;
}

const replicaXlog = (s: NodeSnapshot) => (s.xlog?.kind === 'replica' ? s.xlog : null);

export const PATRONI_METRICS: readonly PatroniMetric[] = [
  {
    name: 'patroni_version',
    help: 'Patroni semver without periods.',
    type: 'gauge',
    value: (s) => paddedVersion(s.version),
  },
  {
    name: 'patroni_postgres_running',
    help: 'Value is 1 if Postgres is running, 0 otherwise.',
    type: 'gauge',
    value: (s) => flag(s.pgState === 'running'),
  },
  {
    name: 'patroni_postmaster_start_time',
    help: 'Epoch seconds since Postgres started.',
    type: 'gauge',
    value: (s) => epochSeconds(s.postmasterStartTime),
  },
  {
    // Patroni 3.x's name for patroni_primary, removed in 4.0; kept for dashboards of that time
    name: 'patroni_master',
    help: 'Value is 1 if this node is the leader, 0 otherwise.',
    type: 'gauge',
    value: (s) => flag(s.role === 'primary'),
  },
  {
    name: 'patroni_primary',
    help: 'Value is 1 if this node is the leader, 0 otherwise.',
    type: 'gauge',
    value: (s) => flag(s.role === 'primary'),
  },
  {
    name: 'patroni_xlog_location',
    help: 'Current location of the Postgres transaction log, 0 if this node is not the leader.',
    type: 'counter',
    value: (s) => (s.xlog?.kind === 'primary' ? s.xlog.locationBytes : 0),
  },
  {
    name: 'patroni_standby_leader',
    help: 'Value is 1 if this node is the standby_leader, 0 otherwise.',
    type: 'gauge',
    value: (s) => flag(s.role === 'standby_leader'),
  },
  {
    name: 'patroni_replica',
    help: 'Value is 1 if this node is a replica, 0 otherwise.',
    type: 'gauge',
    value: (s) => flag(s.role === 'replica'),
  },
  {
    name: 'patroni_sync_standby',
    help: 'Value is 1 if this node is a sync standby, 0 otherwise.',
    type: 'gauge',
    value: (s) => flag(s.syncStandby),
  },
  {
    name: 'patroni_quorum_standby',
    help: 'Value is 1 if this node is a quorum standby, 0 otherwise.',
    type: 'gauge',
    value: (s) => flag(s.quorumStandby),
  },
  {
    // Patroni falls back to the replayed position when the WAL receiver reports none
    // (archive recovery, or before the first byte streamed), so received >= replayed always.
    name: 'patroni_xlog_received_location',
    help: 'Current location of the received Postgres transaction log, 0 if this node is not a replica.',
    type: 'counter',
    value: (s) => {
      const x = replicaXlog(s);
      return x === null ? 0 : (x.receivedBytes ?? x.replayedBytes ?? 0);
    },
  },
  {
    name: 'patroni_xlog_replayed_location',
    help: 'Current location of the replayed Postgres transaction log, 0 if this node is not a replica.',
    type: 'counter',
    value: (s) => replicaXlog(s)?.replayedBytes ?? 0,
  },
  {
    name: 'patroni_xlog_replayed_timestamp',
    help: 'Current timestamp of the replayed Postgres transaction log, 0 if null.',
    type: 'gauge',
    value: (s) => epochSeconds(replicaXlog(s)?.replayedTimestamp ?? null),
  },
  {
    name: 'patroni_xlog_paused',
    help: 'Value is 1 if the Postgres xlog is paused, 0 otherwise.',
    type: 'gauge',
    value: (s) => flag(replicaXlog(s)?.replayPaused === true),
  },
  {
    name: 'patroni_postgres_streaming',
    help: 'Value is 1 if Postgres is streaming, 0 otherwise.',
    type: 'gauge',
    value: (s) => flag(s.replicationState === 'streaming'),
  },
  {
    name: 'patroni_postgres_in_archive_recovery',
    help: 'Value is 1 if Postgres is replicating from archive, 0 otherwise.',
    type: 'gauge',
    value: (s) => flag(s.replicationState === 'in archive recovery'),
  },
  {
    name: 'patroni_postgres_server_version',
    help: 'Version of Postgres (if running), 0 otherwise.',
    type: 'gauge',
    value: (s) => s.serverVersion ?? 0,
  },
  {
    name: 'patroni_cluster_unlocked',
    help: 'Value is 1 if the cluster is unlocked, 0 if locked.',
    type: 'gauge',
    value: (s) => flag(s.clusterUnlocked),
  },
  {
    name: 'patroni_failsafe_mode_is_active',
    help: 'Value is 1 if failsafe mode is active, 0 if inactive.',
    type: 'gauge',
    value: (s) => flag(s.failsafeActive === true),
  },
  {
    name: 'patroni_postgres_timeline',
    help: 'Postgres timeline of this node (if running), 0 otherwise.',
    type: 'counter',
    value: (s) => s.timeline ?? 0,
  },
  {
    name: 'patroni_dcs_last_seen',
    help: 'Epoch timestamp when DCS was last contacted successfully by Patroni.',
    type: 'gauge',
    value: (s) => s.dcsLastSeenS ?? 0,
  },
  {
    name: 'patroni_pending_restart',
    help: 'Value is 1 if the node needs a restart, 0 otherwise.',
    type: 'gauge',
    value: (s) => flag(s.pendingRestart),
  },
  {
    name: 'patroni_is_paused',
    help: 'Value is 1 if auto failover is disabled, 0 otherwise.',
    type: 'gauge',
    value: (s) => flag(s.paused),
  },
];
