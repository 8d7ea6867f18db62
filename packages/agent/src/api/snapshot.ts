import type { FastFailoverReadiness, HistoryEntry } from '@hapg/core';

/**
 * Everything the REST API and the metrics need, as plain data, taken at the
 * end of a loop iteration. Endpoints answer from this only and never query
 * Postgres or etcd on the request path, so load-balancer checks stay cheap at
 * any rate and cannot pile up behind a hung database.
 *
 * Times that must stay correct while the loop is stuck (lease deadline, last
 * loop) are monotonic instants, not precomputed booleans: the API compares them
 * with its own clock on each request, so a frozen loop cannot keep reporting a
 * lease that has already run out.
 */
export interface NodeSnapshot {
  /** hapg agent version */
  readonly version: string;
  readonly name: string;
  readonly scope: string;
  readonly role: NodeRole;
  /** Postgres state, member JSON vocabulary (`running`, `stopped`, `starting`, `crashed`, ...) */
  readonly pgState: string;
  /**
   * hapg addition (`status_reason`): what an operator must fix on this node (a failed rejoin,
   * Postgres refusing the agent, parameters Postgres refused or hapg skipped); null when nothing to say
   */
  readonly statusReason: string | null;
  /** what `pg_is_in_recovery()` said; null when Postgres is not running */
  readonly inRecovery: boolean | null;
  /** the last etcd read showed this node as the leader key's holder */
  readonly holdsLeaderKey: boolean;
  /** monotonic ms after which the lease may have expired (send time + ttl − margin); null if none */
  readonly leaseDeadlineMs: number | null;
  readonly isStandbyCluster: boolean;
  readonly paused: boolean;
  /** the last etcd request succeeded */
  readonly dcsReachable: boolean;
  /** wall-clock epoch seconds of the last successful etcd read (Patroni's `dcs_last_seen`) */
  readonly dcsLastSeenS: number | null;
  /** monotonic ms at which the last loop iteration finished */
  readonly lastLoopMs: number;
  readonly ttlMs: number;
  readonly maximumLagOnFailoverBytes: number;
  readonly timeline: number | null;
  readonly xlog: XlogSnapshot | null;
  /** the leader's last reported WAL position (`status.optime`), for lag checks; null if unknown */
  readonly leaderOptimeBytes: number | null;
  readonly replicationState: ReplicationState | null;
  /** pg_stat_replication rows, on a primary; empty elsewhere */
  readonly replication: readonly ReplicationRow[];
  /** the node's tags as its member key publishes them (`publishedTags`: no false boolean tags) */
  readonly tags: Readonly<Record<string, unknown>>;
  readonly pendingRestart: boolean;
  readonly pendingRestartReason: Readonly<Record<string, { old_value: string; new_value: string }>> | null;
  /** `watchdog.mode: required` and the watchdog cannot be used (`/patroni` `watchdog_failed`) */
  readonly watchdogFailed?: boolean;
  /** its `pre_promote` failed less than ttl ago: it is no candidate (`/patroni` `pre_promote_failed`) */
  readonly prePromoteFailed?: boolean;
  /** failsafe mode: we run on the failsafe deadline, or keep a promise (`failsafe_mode_is_active`) */
  readonly failsafeActive?: boolean;
  /**
   * failsafe mode: the deadline F of this primary's last round every member answered (monotonic
   * ms); while it is ahead the primary is the leader without etcd, and `/primary` says so
   */
  readonly failsafeDeadlineMs?: number | null;
  readonly systemIdentifier: string | null;
  /** `server_version_num`, e.g. 150013 */
  readonly serverVersion: number | null;
  /** ISO-8601 with offset, as Postgres prints `pg_postmaster_start_time()` */
  readonly postmasterStartTime: string | null;
  /** this node is listed in the `sync` key */
  readonly syncStandby: boolean;
  /** this node is a quorum standby (synchronous_mode: quorum) */
  readonly quorumStandby: boolean;
  /** names listed in the `sync` key */
  readonly syncStandbys: readonly string[];
  /** leader in synchronous mode with no synchronous standby recorded in the key (running asynchronously, or blocked in strict mode) */
  readonly syncDegraded: boolean;
  /** the cluster has no leader key */
  readonly clusterUnlocked: boolean;
  readonly leaderName: string | null;
  readonly members: readonly ClusterMemberSnapshot[];
  readonly history: readonly HistoryEntry[];
  /** the dynamic config JSON from etcd, as stored */
  readonly dynamicConfig: Readonly<Record<string, unknown>> | null;
  readonly scheduledSwitchover: ScheduledSwitchover | null;
  /** whether the cluster could fail over fast now (`GET /cluster` `fast_failover`, `hactl list`) */
  readonly fastFailover: FastFailoverReadiness;
  /**
   * a primary: why it cannot keep the sync key's promise (`synchronous_commit=local for role app`),
   * published as `sync_promise_withheld` instead of `sync_promise`; null when it keeps it
   */
  readonly syncPromiseWithheld: string | null;
}

export type NodeRole = 'primary' | 'replica' | 'standby_leader' | 'demoted' | 'uninitialized';

export type ReplicationState = 'streaming' | 'in archive recovery';

export const REPLICATION_STATES: readonly ReplicationState[] = ['streaming', 'in archive recovery'];

/** WAL positions in bytes (Patroni's integer form). */
export type XlogSnapshot =
  | { readonly kind: 'primary'; readonly locationBytes: number }
  | {
      readonly kind: 'replica';
      readonly receivedBytes: number | null;
      readonly replayedBytes: number | null;
      /** ISO-8601 time of the last replayed transaction */
      readonly replayedTimestamp: string | null;
      /** WAL replay paused (`pg_is_wal_replay_paused()`) */
      readonly replayPaused: boolean;
    };

export interface ReplicationRow {
  readonly usename: string;
  /** the standby's member name (set in its primary_conninfo) */
  readonly applicationName: string;
  readonly clientAddr: string | null;
  readonly state: string;
  readonly syncState: string;
  readonly syncPriority: number;
}

/** A member line of `GET /cluster` (role in `/cluster`'s vocabulary). */
export interface ClusterMemberSnapshot {
  readonly name: string;
  readonly role: 'leader' | 'standby_leader' | 'sync_standby' | 'quorum_standby' | 'replica';
  readonly state: string;
  readonly apiUrl: string;
  readonly host: string;
  readonly port: number;
  readonly timeline: number | null;
  readonly tags: Readonly<Record<string, unknown>>;
  readonly pendingRestart: boolean;
  /** behind the leader's optime, bytes; null when unknown (rendered `"unknown"`) or for the leader */
  readonly lagBytes: number | null;
  readonly lsnBytes: number | null;
  readonly receiveLagBytes: number | null;
  readonly receiveLsnBytes: number | null;
  readonly replayLagBytes: number | null;
  readonly replayLsnBytes: number | null;
  /** hapg addition: whether this member may be promoted right now, and why (not) */
  readonly failoverEligible: boolean;
  /** core's eligibility code (`LAG_TOO_HIGH`, ...), null when eligible */
  readonly failoverReasonCode: string | null;
  readonly failoverReason: string;
}

export interface ScheduledSwitchover {
  /** ISO-8601 */
  readonly at: string | null;
  readonly from: string | null;
  readonly to: string | null;
}
