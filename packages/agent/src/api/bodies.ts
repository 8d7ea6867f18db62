import type { ClusterMemberSnapshot, NodeSnapshot, XlogSnapshot } from './snapshot.js';

/**
 * JSON bodies in Patroni's shape, built from the snapshot. Flags Patroni only
 * writes when true (`pause`, `cluster_unlocked`, `pending_restart`,
 * `sync_standby`) are omitted when false, because some tools test for the
 * key's presence rather than its value.
 */
export function statusBody(s: NodeSnapshot): Record<string, unknown> {
  const body: Record<string, unknown> = {
    state: s.pgState,
    postmaster_start_time: s.postmasterStartTime,
    role: s.role,
    server_version: s.serverVersion,
  };
  // hapg addition, as in the member key: why the agent cannot vouch for this node
  if (s.statusReason !== null) body.status_reason = s.statusReason;
  if (s.xlog !== null) body.xlog = xlogBody(s.xlog);
  if (s.timeline !== null) body.timeline = s.timeline;
  if (s.replication.length > 0) {
    body.replication = s.replication.map((r) => ({
      usename: r.usename,
      application_name: r.applicationName,
      client_addr: r.clientAddr,
      state: r.state,
      sync_state: r.syncState,
      sync_priority: r.syncPriority,
    }));
  }
  if (s.clusterUnlocked) body.cluster_unlocked = true;
  body.dcs_last_seen = s.dcsLastSeenS;
  // Patroni writes `tags` only when there are some (`if tags: response['tags'] = tags`)
  if (Object.keys(s.tags).length > 0) body.tags = s.tags;
  if (s.systemIdentifier !== null) body.database_system_identifier = s.systemIdentifier;
  if (s.pendingRestart) body.pending_restart = true;
  if (s.pendingRestartReason !== null) body.pending_restart_reason = s.pendingRestartReason;
  // Patroni's flag: watchdog required but unusable (peers then skip this node in an election)
  if (s.watchdogFailed === true) body.watchdog_failed = true;
  // hapg's: a failed pre_promote keeps this node out of elections for ttl (peers skip it)
  if (s.prePromoteFailed === true) body.pre_promote_failed = true;
  // Patroni's, present only while true
  if (s.failsafeActive === true) body.failsafe_mode_is_active = true;
  if (s.syncStandby) body.sync_standby = true;
  if (s.quorumStandby) body.quorum_standby = true;
  if (s.paused) body.pause = true;
  if (s.replicationState !== null) body.replication_state = s.replicationState;
  body.patroni = { version: s.version, scope: s.scope, name: s.name };
  return body;
}

function xlogBody(x: XlogSnapshot): Record<string, unknown> {
  if (x.kind === 'primary') return { location: x.locationBytes };
  return {
    received_location: x.receivedBytes,
    replayed_location: x.replayedBytes,
    replayed_timestamp: x.replayedTimestamp,
    paused: x.replayPaused,
  };
}

export function clusterBody(s: NodeSnapshot): Record<string, unknown> {
  const body: Record<string, unknown> = { members: s.members.map(clusterMemberBody), scope: s.scope };
  if (s.scheduledSwitchover !== null) body.scheduled_switchover = s.scheduledSwitchover;
  if (s.paused) body.pause = true;
  // hapg addition, absent while the switch is off (Patroni's body then)
  // ({ state: 'ready', leader, standbys, releases_needed } or { state: 'unavailable', reason })
  const ff = s.fastFailover;
  if (ff.state === 'ready') {
    const { releasesNeeded, ...rest } = ff;
    body.fast_failover = { ...rest, releases_needed: releasesNeeded };
  } else if (ff.state !== 'off') body.fast_failover = ff;
  return body;
}

const isLeaderRole = (role: ClusterMemberSnapshot['role']): boolean =>
  role === 'leader' || role === 'standby_leader';

function clusterMemberBody(m: ClusterMemberSnapshot): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: m.name,
    role: m.role,
    state: m.state,
    api_url: m.apiUrl,
    host: m.host,
    port: m.port,
    timeline: m.timeline,
  };
  // as Patroni's cluster_as_json: the member key's tags when it has some, else no `tags`
  if (Object.keys(m.tags).length > 0) body.tags = m.tags;
  if (m.pendingRestart) body.pending_restart = true;
  // Patroni reports lag only for non-leaders, and "unknown" where it cannot compute it.
  if (!isLeaderRole(m.role)) {
    body.lag = m.lagBytes ?? 'unknown';
    body.lsn = m.lsnBytes ?? 'unknown';
    body.receive_lag = m.receiveLagBytes ?? 'unknown';
    body.receive_lsn = m.receiveLsnBytes ?? 'unknown';
    body.replay_lag = m.replayLagBytes ?? 'unknown';
    body.replay_lsn = m.replayLsnBytes ?? 'unknown';
  }
  body.failover_eligible = m.failoverEligible;
  body.failover_reason_code = m.failoverReasonCode;
  body.failover_reason = m.failoverReason;
  return body;
}

/** `[timeline, switch_lsn, reason, time, new_leader]`, as stored in the `history` key. */
export function historyBody(s: NodeSnapshot): unknown[][] {
  return s.history.map((h) => {
    const row: unknown[] = [h.timeline, h.switchLsn, h.reason, h.time];
    if (h.newLeader !== null) row.push(h.newLeader);
    return row;
  });
}
