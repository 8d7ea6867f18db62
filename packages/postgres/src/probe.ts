import { type Lsn, parseLsn, type ReplicationSample, type Timeline, toTimeline } from '@hapg/core';
import type { QueryRow, SqlSession } from './connection.js';

export interface ReplicationRow {
  readonly usename: string | null;
  readonly applicationName: string;
  readonly clientAddr: string | null;
  readonly state: string | null;
  readonly syncState: string | null;
  readonly syncPriority: number | null;
  /** what the walsender has sent (may run ahead of what the standby reported) */
  readonly sentLsn: Lsn | null;
  readonly writeLsn: Lsn | null;
  readonly flushLsn: Lsn | null;
  readonly replayLsn: Lsn | null;
  /**
   * `reply_time` as text: the standby's send time of its last status message, on *its* clock.
   * Only compared for change (ReplicaEvidence); never subtracted from our clock.
   */
  readonly replyTime: string | null;
}

export interface WalReceiver {
  /** `streaming`, `starting`, `waiting`, `stopping`... */
  readonly status: string;
  readonly senderHost: string | null;
  readonly senderPort: number | null;
  readonly receivedTimeline: Timeline | null;
  readonly slotName: string | null;
}

export interface PendingRestartSetting {
  readonly oldValue: string;
  readonly newValue: string;
}

/** One consistent look at a running server. */
export interface PgStatus {
  readonly inRecovery: boolean;
  readonly timeline: Timeline | null;
  /** primary: pg_current_wal_lsn() */
  readonly writeLsn: Lsn | null;
  /** primary: pg_current_wal_flush_lsn() — what replicas are compared against (stack-notes #14) */
  readonly flushLsn: Lsn | null;
  /** replica: pg_last_wal_receive_lsn() */
  readonly receiveLsn: Lsn | null;
  /** replica: pg_last_wal_replay_lsn() */
  readonly replayLsn: Lsn | null;
  readonly replayedAt: Date | null;
  readonly replayPaused: boolean;
  readonly systemId: string;
  readonly serverVersion: number;
  readonly postmasterStartTime: Date;
  readonly walReceiver: WalReceiver | null;
  readonly replication: readonly ReplicationRow[];
  readonly pendingRestart: Readonly<Record<string, PendingRestartSetting>>;
  /**
   * primary: where `synchronous_commit` lets a commit return without waiting for a synchronous
   * standby (`local`/`off`), e.g. `synchronous_commit=local for role app`; empty when nowhere
   * the server knows of (a client's own `SET` it cannot know); null on a standby
   */
  readonly commitsSkipStandby: readonly string[] | null;
}

/*
 * The timeline of a primary comes from the name of its current WAL file
 * (pg_control's checkpoint timeline lags until the first checkpoint after a
 * promotion); a replica's from its WAL receiver, else its last restartpoint.
 */
const REPLICATION_COLUMNS = `SELECT usename, application_name, host(client_addr) AS client_addr, state,
     sync_state, sync_priority, sent_lsn::text, write_lsn::text, flush_lsn::text, replay_lsn::text,
     reply_time::text FROM pg_stat_replication ORDER BY application_name`;

/**
 * Just the walsender rows: what a primary samples several times a second to judge whether
 * its standbys still answer (a few microseconds of work on the server).
 */
export const REPLICATION_SQL = REPLICATION_COLUMNS;

/**
 * Where a commit may return before a synchronous standby has it (docs/fast-failover.md,
 * "Commits that do not wait for S"): the server's own value (configuration file, ALTER SYSTEM,
 * command line), and every role or database setting — those apply at each new session's start,
 * without a reload. A few rows of catalogue: cheap enough for every loop. `false`, `no` and `0`
 * are Postgres's hidden spellings of `off`.
 */
const COMMITS_SKIP_STANDBY_SQL = `SELECT COALESCE(json_agg(w.what ORDER BY w.what COLLATE "C"), '[]') FROM (
    SELECT 'synchronous_commit=' || setting || ' (' || source || ')' AS what FROM pg_settings
      WHERE name = 'synchronous_commit' AND setting IN ('local', 'off')
        AND source NOT IN ('database', 'user', 'database user')
    UNION ALL
    SELECT c || concat(' for role ' || r.rolname, ' in database ' || d.datname)
      FROM pg_db_role_setting s CROSS JOIN LATERAL unnest(s.setconfig) c
        LEFT JOIN pg_roles r ON r.oid = s.setrole LEFT JOIN pg_database d ON d.oid = s.setdatabase
      WHERE lower(c) ~ '^synchronous_commit=(local|off|false|no|0)$') w`;

const STATUS_SQL = `
SELECT pg_is_in_recovery() AS in_recovery,
  CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS write_lsn,
  CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_flush_lsn()::text END AS flush_lsn,
  pg_last_wal_receive_lsn()::text AS receive_lsn,
  pg_last_wal_replay_lsn()::text AS replay_lsn,
  pg_last_xact_replay_timestamp() AS replayed_at,
  CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS replay_paused,
  CASE WHEN pg_is_in_recovery()
    THEN COALESCE((SELECT received_tli FROM pg_stat_wal_receiver), (SELECT timeline_id FROM pg_control_checkpoint()))
    ELSE ('x' || substr(pg_walfile_name(pg_current_wal_flush_lsn()), 1, 8))::bit(32)::int END AS timeline,
  (SELECT system_identifier FROM pg_control_system())::text AS system_id,
  current_setting('server_version_num')::int AS server_version,
  pg_postmaster_start_time() AS postmaster_start_time,
  (SELECT row_to_json(r) FROM (SELECT status, sender_host, sender_port, received_tli, slot_name
     FROM pg_stat_wal_receiver) r) AS wal_receiver,
  (SELECT COALESCE(json_agg(r), '[]') FROM (${REPLICATION_COLUMNS}) r) AS replication,
  (SELECT COALESCE(json_agg(r), '[]') FROM (
     SELECT s.name, current_setting(s.name) AS old_value,
       (SELECT f.setting FROM pg_file_settings f WHERE f.name = s.name ORDER BY f.seqno DESC LIMIT 1) AS new_value
     FROM pg_settings s WHERE s.pending_restart) r) AS pending_restart,
  CASE WHEN pg_is_in_recovery() THEN NULL ELSE (${COMMITS_SKIP_STANDBY_SQL}) END AS commits_skip_standby
`;

function lsnOrNull(v: unknown): Lsn | null {
  return typeof v === 'string' && v !== '' ? parseLsn(v) : null;
}

/** One `pg_stat_replication` row (of the status probe or of `REPLICATION_SQL`). */
export function parseReplicationRow(r: QueryRow): ReplicationRow {
  return {
    usename: (r.usename as string | null) ?? null,
    applicationName: String(r.application_name ?? ''),
    clientAddr: (r.client_addr as string | null) ?? null,
    state: (r.state as string | null) ?? null,
    syncState: (r.sync_state as string | null) ?? null,
    syncPriority: (r.sync_priority as number | null) ?? null,
    sentLsn: lsnOrNull(r.sent_lsn),
    writeLsn: lsnOrNull(r.write_lsn),
    flushLsn: lsnOrNull(r.flush_lsn),
    replayLsn: lsnOrNull(r.replay_lsn),
    replyTime: typeof r.reply_time === 'string' ? r.reply_time : null,
  };
}

function parseWalReceiver(v: unknown): WalReceiver | null {
  if (v === null || typeof v !== 'object') return null;
  const r = v as QueryRow;
  return {
    status: String(r.status),
    senderHost: (r.sender_host as string | null) ?? null,
    senderPort: (r.sender_port as number | null) ?? null,
    receivedTimeline: r.received_tli ? toTimeline(r.received_tli) : null,
    slotName: (r.slot_name as string | null) ?? null,
  };
}

/** Parses the probe row; exported for unit tests. */
export function parseStatusRow(row: QueryRow): PgStatus {
  const pending: Record<string, PendingRestartSetting> = {};
  for (const p of (row.pending_restart as QueryRow[] | null) ?? []) {
    pending[String(p.name)] = { oldValue: String(p.old_value ?? ''), newValue: String(p.new_value ?? '') };
  }
  return {
    inRecovery: row.in_recovery === true,
    timeline: row.timeline === null || row.timeline === undefined ? null : toTimeline(row.timeline),
    writeLsn: lsnOrNull(row.write_lsn),
    flushLsn: lsnOrNull(row.flush_lsn),
    receiveLsn: lsnOrNull(row.receive_lsn),
    replayLsn: lsnOrNull(row.replay_lsn),
    replayedAt: (row.replayed_at as Date | null) ?? null,
    replayPaused: row.replay_paused === true,
    systemId: String(row.system_id),
    serverVersion: Number(row.server_version),
    postmasterStartTime: row.postmaster_start_time as Date,
    walReceiver: parseWalReceiver(row.wal_receiver),
    replication: ((row.replication as QueryRow[] | null) ?? []).map(parseReplicationRow),
    pendingRestart: pending,
    commitsSkipStandby: Array.isArray(row.commits_skip_standby)
      ? row.commits_skip_standby.map(String)
      : row.in_recovery === true
        ? null
        : ['unknown (the probe gave no answer)'],
  };
}

/** Runs the status probe on the session; errors are HapgErrors (PG_NOT_RUNNING when it is down). */
export async function probeStatus(session: SqlSession): Promise<PgStatus> {
  const rows = await session.query(STATUS_SQL);
  const row = rows[0];
  if (!row) throw new Error('status probe returned no row');
  return parseStatusRow(row);
}

/** Standbys whose walsender row says `streaming` — a claim, not proof (see ReplicaEvidence). */
export function streamingReplicas(status: PgStatus): string[] {
  return status.replication.filter((r) => r.state === 'streaming').map((r) => r.applicationName);
}

/** The rows of `REPLICATION_SQL`, or of a status probe, as evidence samples. */
export function replicationSamples(rows: readonly ReplicationRow[]): ReplicationSample[] {
  return rows.map((r) => ({
    applicationName: r.applicationName,
    state: r.state,
    replyTime: r.replyTime,
    sentLsn: r.sentLsn,
    writeLsn: r.writeLsn,
  }));
}
