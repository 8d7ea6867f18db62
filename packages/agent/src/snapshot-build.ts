import {
  type ClusterRow,
  type ClusterView,
  clusterRows,
  type Decision,
  type DynamicConfig,
  fastFailoverReadiness,
  keyHasSyncStandbysFor,
  lsnToJson,
  type NodeConfig,
  type PgObservation,
  toDecideConfig,
  toLsn,
} from '@hapg/core';
import type { PgStatus } from '@hapg/postgres';
import type { ClusterMemberSnapshot, NodeRole, NodeSnapshot } from './api/snapshot.js';
import { pgAddressOf } from './conn.js';
import { publishedTags } from './member.js';

export interface SnapshotInputs {
  readonly version: string;
  readonly config: NodeConfig;
  readonly dyn: DynamicConfig;
  readonly view: ClusterView | null;
  readonly pg: PgObservation;
  readonly status: PgStatus | null;
  readonly decision: Decision | null;
  readonly holdsLeaderKey: boolean;
  /**
   * failsafe mode: we run on the failsafe deadline, the leader without etcd, key or no key (a
   * lease that expired in the outage leaves none until we re-acquire it): role `primary`
   */
  readonly leaderWithoutEtcd?: boolean;
  readonly leaseDeadlineMs: number | null;
  readonly dcsReachable: boolean;
  readonly dcsLastSeenS: number | null;
  readonly nowMonotonicMs: number;
  /** what Postgres refused of the parameters, or what was skipped (`ParameterApplier.problem`) */
  readonly parameterProblem?: string | null;
}

/**
 * The `state` of a postmaster that runs but refuses the agent's connection (hapg's own word;
 * Patroni's vocabulary is open). Not `running`: the agent cannot vouch for its role or WAL,
 * so `/health`, `/primary` and `/replica` answer 503; `status_reason` says why.
 */
export const UNREACHABLE_STATE = 'unreachable';

/** Postgres state in the member JSON vocabulary. */
export function memberState(pg: PgObservation, decision: Decision | null): string {
  if (decision?.actions.some((a) => a.kind === 'clone')) return 'creating replica';
  if (pg.rejoinFailure !== null) return 'stopped';
  if (pg.connectFailure?.kind === 'rejected' && pg.process === 'starting') return UNREACHABLE_STATE;
  switch (pg.process) {
    case 'running':
      return 'running';
    case 'starting':
      return 'starting';
    case 'stopping':
      return 'stopping';
    case 'crashed':
      return 'crashed';
    default:
      return 'stopped';
  }
}

export function nodeRole(pg: PgObservation, holdsLeaderKey: boolean): NodeRole {
  if (pg.dataDir === 'empty') return 'uninitialized';
  // unprobed, postmaster.pid still tells a primary (`ready`) from a standby
  const primary =
    pg.process === 'running' ? pg.inRecovery === false : pg.connectFailure?.serverRole === 'primary';
  if (primary) return holdsLeaderKey ? 'primary' : 'demoted';
  return 'replica';
}

/**
 * Why this node is not healthy, for operators: a failed rejoin, or the server's refusal of
 * the agent's own connection. Published as `status_reason` (member key, `GET /patroni`).
 */
export function statusReason(pg: PgObservation): string | null {
  if (pg.rejoinFailure !== null) return pg.rejoinFailure;
  const f = pg.connectFailure;
  if (f?.kind !== 'rejected') return null;
  return `Postgres runs${f.serverRole === null ? '' : ` as a ${f.serverRole}`} but refuses the agent's connection: ${f.text}`;
}

/** Both reasons an operator must act on, in one `status_reason`. */
export function joinReasons(health: string | null, parameters: string | null): string | null {
  if (health === null) return parameters;
  return parameters === null ? health : `${health}; ${parameters}`;
}

function num(l: bigint | null | undefined): number | null {
  return l === null || l === undefined ? null : lsnToJson(toLsn(l));
}

/** Postgres before the first probe: nothing known. */
export const EMPTY_PG_OBSERVATION: PgObservation = Object.freeze({
  dataDir: 'empty',
  systemId: null,
  process: 'stopped',
  crashedAtMs: null,
  inRecovery: null,
  wasPrimary: false,
  timeline: null,
  flushLsn: null,
  receiveLsn: null,
  replayLsn: null,
  following: null,
  streaming: false,
  streamingReplicas: [],
  rejoinFailure: null,
});

export function buildSnapshot(i: SnapshotInputs): NodeSnapshot {
  const { pg, status, view, dyn } = i;
  const sync = view?.sync ?? null;
  const syncStandbys = sync?.syncStandbys ?? [];
  const leaderOptime = view?.status?.optime ?? null;
  const role = nodeRole(pg, i.holdsLeaderKey || i.leaderWithoutEtcd === true);
  return {
    version: i.version,
    name: i.config.name,
    scope: i.config.scope,
    role,
    pgState: memberState(pg, i.decision),
    statusReason: joinReasons(statusReason(pg), i.parameterProblem ?? null),
    inRecovery: pg.inRecovery,
    holdsLeaderKey: i.holdsLeaderKey,
    leaseDeadlineMs: i.leaseDeadlineMs,
    isStandbyCluster: false,
    paused: dyn.pause,
    dcsReachable: i.dcsReachable,
    dcsLastSeenS: i.dcsLastSeenS,
    lastLoopMs: i.nowMonotonicMs,
    ttlMs: dyn.ttlMs,
    maximumLagOnFailoverBytes: Number(dyn.maximumLagOnFailoverBytes),
    timeline: pg.timeline,
    xlog:
      status === null
        ? null
        : status.inRecovery
          ? {
              kind: 'replica',
              receivedBytes: num(status.receiveLsn),
              replayedBytes: num(status.replayLsn),
              replayedTimestamp: status.replayedAt?.toISOString() ?? null,
              replayPaused: status.replayPaused,
            }
          : { kind: 'primary', locationBytes: num(status.flushLsn) ?? 0 },
    leaderOptimeBytes: leaderOptime,
    replicationState: status?.inRecovery ? (pg.streaming ? 'streaming' : 'in archive recovery') : null,
    replication: (status?.replication ?? []).map((r) => ({
      usename: r.usename ?? '',
      applicationName: r.applicationName,
      clientAddr: r.clientAddr,
      state: r.state ?? '',
      syncState: r.syncState ?? 'async',
      syncPriority: r.syncPriority ?? 0,
    })),
    // as the member key publishes them: `/patroni` and `/replica?tag_key=` see what Patroni's would
    tags: publishedTags(i.config.tags.all),
    pendingRestart: status !== null && Object.keys(status.pendingRestart).length > 0,
    pendingRestartReason: status === null ? null : pendingReason(status),
    systemIdentifier: pg.systemId,
    serverVersion: status?.serverVersion ?? null,
    postmasterStartTime: status?.postmasterStartTime.toISOString() ?? null,
    syncStandby: dyn.synchronousMode === 'on' && syncStandbys.includes(i.config.name),
    quorumStandby: dyn.synchronousMode === 'quorum' && syncStandbys.includes(i.config.name),
    syncStandbys,
    syncDegraded:
      role === 'primary' && dyn.synchronousMode !== 'off' && !keyHasSyncStandbysFor(sync, i.config.name),
    clusterUnlocked: view !== null && view.leader === null,
    leaderName: view?.leader?.name ?? null,
    members: view === null ? [] : clusterMembers(view, dyn),
    history: view?.history?.entries ?? [],
    dynamicConfig: view?.config?.value ?? null,
    scheduledSwitchover: view?.failover?.scheduledAt
      ? { at: view.failover.scheduledAt, from: view.failover.leader, to: view.failover.member }
      : null,
    fastFailover:
      view === null
        ? { state: 'unavailable', reason: 'no cluster view yet' }
        : fastFailoverReadiness(view, dyn),
    syncPromiseWithheld: syncPromiseWithheld(status),
  };
}

/**
 * Why a primary cannot keep the sync key's promise: commits that may return before a
 * synchronous standby has them. A standby may take over fast only from a leader that keeps it,
 * or such commits, acknowledged by a cut-off old primary, would overlap the new one's.
 */
export function syncPromiseWithheld(status: PgStatus | null): string | null {
  const skip = status?.commitsSkipStandby ?? null;
  return skip === null || skip.length === 0 ? null : skip.join('; ');
}

function pendingReason(s: PgStatus): Record<string, { old_value: string; new_value: string }> | null {
  const entries = Object.entries(s.pendingRestart);
  if (entries.length === 0) return null;
  const out: Record<string, { old_value: string; new_value: string }> = {};
  for (const [k, v] of entries) {
    const r = v as unknown as {
      oldValue?: string;
      newValue?: string;
      old_value?: string;
      new_value?: string;
    };
    out[k] = {
      old_value: String(r.oldValue ?? r.old_value ?? ''),
      new_value: String(r.newValue ?? r.new_value ?? ''),
    };
  }
  return out;
}

/**
 * `/cluster` members: core's `clusterRows` (the rows `hactl list` shows too — roles, states,
 * lag against the leader's optime, eligibility), in the REST API's JSON shape.
 */
export function clusterMembers(view: ClusterView, dyn: DynamicConfig): ClusterMemberSnapshot[] {
  return clusterRows(view, toDecideConfig(dyn)).map(memberRow);
}

function memberRow(r: ClusterRow): ClusterMemberSnapshot {
  const m = r.member;
  const addr = pgAddressOf(m);
  const e = r.eligibility;
  return {
    name: r.name,
    role: r.role,
    state: r.state,
    apiUrl: m.apiUrl,
    host: addr?.host ?? '',
    port: addr?.port ?? 0,
    timeline: r.timeline,
    tags: m.tags,
    pendingRestart: m.pendingRestart,
    lagBytes: num(r.lagBytes),
    lsnBytes: num(r.lsn),
    receiveLagBytes: num(r.receiveLagBytes),
    receiveLsnBytes: num(r.receiveLsn),
    replayLagBytes: num(r.replayLagBytes),
    replayLsnBytes: num(r.replayLsn),
    failoverEligible: e?.eligible === true,
    failoverReasonCode: e === null || e.eligible ? null : e.code,
    failoverReason: e === null ? 'leader' : e.eligible ? 'eligible' : e.text,
  };
}
