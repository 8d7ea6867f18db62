import { describe, expect, it } from 'vitest';
import { statusBody } from '../src/api/bodies.js';
import type { NodeSnapshot } from '../src/api/snapshot.js';
import type { FenceClientStatus } from '../src/fence/client.js';
import { createMetrics, replicationLagBytes } from '../src/metrics.js';
import { epochSeconds, PATRONI_METRICS, paddedVersion } from '../src/metrics-patroni.js';
import { clockAtNow, snapshots } from './api-fixtures.js';

/**
 * The value of the sample of `series` (e.g. `hapg_role{role="primary"}`): the named labels must
 * match; other labels (the `scope` and `name` every series carries) may be present.
 */
function sample(text: string, series: string): number | undefined {
  const want = /^([^{]+)(?:\{(.*)\})?$/.exec(series)!;
  const wantLabels = [...(want[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => `${m[1]}="${m[2]}"`);
  for (const line of text.split('\n')) {
    const m = /^([^{ ]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== want[1]) continue;
    const have = (m[2] ?? '').split(',');
    if (wantLabels.every((l) => have.includes(l))) return Number(m[3]);
  }
  return undefined;
}

/** The fields of `GET /patroni` the Patroni metrics are read from. */
interface StatusBody {
  state: string;
  role: string;
  postmaster_start_time: string | null;
  server_version: number | null;
  timeline?: number;
  dcs_last_seen: number | null;
  xlog?: {
    location?: number;
    received_location?: number | null;
    replayed_location?: number | null;
    paused?: boolean;
  };
  cluster_unlocked?: boolean;
  pending_restart?: boolean;
  sync_standby?: boolean;
  quorum_standby?: boolean;
  pause?: boolean;
  replication_state?: string;
}

/** The `patroni_*` sample lines of a render, exactly as served. */
function patroniLines(text: string): string[] {
  return text.split('\n').filter((l) => l.startsWith('patroni_'));
}

async function patroniValues(s: NodeSnapshot): Promise<Record<string, number>> {
  const m = createMetrics({ processMetrics: false });
  m.observeSnapshot(s);
  const out: Record<string, number> = {};
  for (const line of patroniLines(await m.render())) {
    const [series, value] = line.split(' ');
    out[series!.slice(0, series!.indexOf('{'))] = Number(value);
  }
  return out;
}

describe('createMetrics', () => {
  it('exposes every hapg metric and prefixed process metrics', async () => {
    const text = await createMetrics().render();
    for (const name of [
      'hapg_role',
      'hapg_is_leader',
      'hapg_timeline',
      'hapg_replication_lag_bytes',
      'hapg_lease_remaining_seconds',
      'hapg_loop_duration_seconds',
      'hapg_failovers_total',
      'hapg_switchovers_total',
      'hapg_dcs_errors_total',
      'hapg_decisions_total',
      'hapg_postgres_running',
      'hapg_pending_restart',
      'hapg_sync_standbys',
      'hapg_sync_degraded',
      'hapg_sync_degraded_seconds_total',
      'hapg_fence_connected',
      'hapg_fence_armed',
      'hapg_fence_fired_total',
      'hapg_process_cpu_seconds_total',
      'hapg_nodejs_heap_size_total_bytes',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(text).not.toMatch(/^process_cpu/m);
  });

  it('keeps its own registry: two instances do not collide', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.countFailover();
    expect(sample(await a.render(), 'hapg_failovers_total')).toBe(1);
    expect(sample(await b.render(), 'hapg_failovers_total')).toBe(0);
  });

  it('follows a primary snapshot', async () => {
    const clock = clockAtNow();
    const m = createMetrics({ clock, processMetrics: false });
    m.observeSnapshot(snapshots.primaryHealthy);
    let text = await m.render();
    expect(sample(text, 'hapg_role{role="primary"}')).toBe(1);
    expect(sample(text, 'hapg_role{role="replica"}')).toBe(0);
    expect(sample(text, 'hapg_is_leader')).toBe(1);
    expect(sample(text, 'hapg_timeline')).toBe(3);
    expect(sample(text, 'hapg_replication_lag_bytes')).toBe(0);
    expect(sample(text, 'hapg_postgres_running')).toBe(1);
    expect(sample(text, 'hapg_pending_restart')).toBe(0);
    expect(sample(text, 'hapg_lease_remaining_seconds')).toBe(20);
    // computed at scrape time: keeps falling when no new snapshot arrives, and stops at 0
    clock.advance(5_000);
    expect(sample(await m.render(), 'hapg_lease_remaining_seconds')).toBe(15);
    clock.advance(60_000);
    text = await m.render();
    expect(sample(text, 'hapg_lease_remaining_seconds')).toBe(0);
  });

  it('counts synchronous standbys and the time a leader spends degraded', async () => {
    const clock = clockAtNow();
    const m = createMetrics({ clock, processMetrics: false });
    m.observeSnapshot({ ...snapshots.primaryHealthy, syncStandbys: ['b', 'c'] });
    let text = await m.render();
    expect(sample(text, 'hapg_sync_standbys')).toBe(2);
    expect(sample(text, 'hapg_sync_degraded')).toBe(0);
    m.observeSnapshot({ ...snapshots.primaryHealthy, syncStandbys: [], syncDegraded: true });
    clock.advance(2_500);
    m.observeSnapshot({ ...snapshots.primaryHealthy, syncStandbys: [], syncDegraded: true });
    clock.advance(1_500);
    m.observeSnapshot({ ...snapshots.primaryHealthy, syncStandbys: ['b'] });
    clock.advance(10_000);
    m.observeSnapshot({ ...snapshots.primaryHealthy, syncStandbys: ['b'] });
    text = await m.render();
    expect(sample(text, 'hapg_sync_degraded_seconds_total')).toBe(4);
    expect(sample(text, 'hapg_sync_degraded')).toBe(0);
    expect(sample(text, 'hapg_sync_standbys')).toBe(1);
  });

  it('follows a lagging replica, then a stopped one', async () => {
    const m = createMetrics({ clock: clockAtNow(), processMetrics: false });
    m.observeSnapshot(snapshots.replicaLagging);
    let text = await m.render();
    expect(sample(text, 'hapg_role{role="replica"}')).toBe(1);
    expect(sample(text, 'hapg_role{role="primary"}')).toBe(0);
    expect(sample(text, 'hapg_is_leader')).toBe(0);
    expect(sample(text, 'hapg_replication_lag_bytes')).toBe(100 * 1024 * 1024);
    expect(sample(text, 'hapg_lease_remaining_seconds')).toBe(0);
    m.observeSnapshot({ ...snapshots.replicaStopped, timeline: null, xlog: null, pendingRestart: true });
    text = await m.render();
    expect(sample(text, 'hapg_postgres_running')).toBe(0);
    expect(sample(text, 'hapg_pending_restart')).toBe(1);
    expect(sample(text, 'hapg_timeline')).toBeNaN();
    expect(sample(text, 'hapg_replication_lag_bytes')).toBeNaN();
  });

  it('counts events and decisions by reason', async () => {
    const m = createMetrics({ processMetrics: false });
    m.countSwitchover();
    m.countDcsError();
    m.countDcsError();
    m.countDecision('LEADER_RENEWED');
    m.countDecision('LEADER_RENEWED');
    m.countDecision('FOLLOWING');
    m.observeLoopDurationSeconds(0.02);
    const text = await m.render();
    expect(sample(text, 'hapg_switchovers_total')).toBe(1);
    expect(sample(text, 'hapg_dcs_errors_total')).toBe(2);
    expect(sample(text, 'hapg_decisions_total{reason="LEADER_RENEWED"}')).toBe(2);
    expect(sample(text, 'hapg_decisions_total{reason="FOLLOWING"}')).toBe(1);
    expect(sample(text, 'hapg_loop_duration_seconds_count')).toBe(1);
    expect(sample(text, 'hapg_loop_duration_seconds_bucket{le="0.025"}')).toBe(1);
    expect(sample(text, 'hapg_loop_duration_seconds_bucket{le="0.01"}')).toBe(0);
  });
});

describe('replicationLagBytes', () => {
  it('is 0 on a primary, replay lag on a replica, null when unknown, never negative', () => {
    expect(replicationLagBytes(snapshots.primaryHealthy)).toBe(0);
    expect(replicationLagBytes(snapshots.replicaStreaming)).toBe(10);
    expect(replicationLagBytes(snapshots.replicaUnknownOptime)).toBeNull();
    expect(replicationLagBytes({ ...snapshots.replicaStreaming, leaderOptimeBytes: 1 })).toBe(0);
  });
});

describe("Patroni's metrics", () => {
  it("declares every metric with Patroni 4.x's HELP text and TYPE (patroni_master as in 3.x)", async () => {
    const m = createMetrics({ processMetrics: false });
    m.observeSnapshot(snapshots.primaryHealthy);
    const meta = (await m.render()).split('\n').filter((l) => /^# (HELP|TYPE) patroni_/.test(l));
    // as Patroni's api.py writes them (do_GET_metrics), in its order
    expect(meta).toEqual([
      '# HELP patroni_version Patroni semver without periods.',
      '# TYPE patroni_version gauge',
      '# HELP patroni_postgres_running Value is 1 if Postgres is running, 0 otherwise.',
      '# TYPE patroni_postgres_running gauge',
      '# HELP patroni_postmaster_start_time Epoch seconds since Postgres started.',
      '# TYPE patroni_postmaster_start_time gauge',
      '# HELP patroni_master Value is 1 if this node is the leader, 0 otherwise.',
      '# TYPE patroni_master gauge',
      '# HELP patroni_primary Value is 1 if this node is the leader, 0 otherwise.',
      '# TYPE patroni_primary gauge',
      '# HELP patroni_xlog_location Current location of the Postgres transaction log, 0 if this node is not the leader.',
      '# TYPE patroni_xlog_location counter',
      '# HELP patroni_standby_leader Value is 1 if this node is the standby_leader, 0 otherwise.',
      '# TYPE patroni_standby_leader gauge',
      '# HELP patroni_replica Value is 1 if this node is a replica, 0 otherwise.',
      '# TYPE patroni_replica gauge',
      '# HELP patroni_sync_standby Value is 1 if this node is a sync standby, 0 otherwise.',
      '# TYPE patroni_sync_standby gauge',
      '# HELP patroni_quorum_standby Value is 1 if this node is a quorum standby, 0 otherwise.',
      '# TYPE patroni_quorum_standby gauge',
      '# HELP patroni_xlog_received_location Current location of the received Postgres transaction log, 0 if this node is not a replica.',
      '# TYPE patroni_xlog_received_location counter',
      '# HELP patroni_xlog_replayed_location Current location of the replayed Postgres transaction log, 0 if this node is not a replica.',
      '# TYPE patroni_xlog_replayed_location counter',
      '# HELP patroni_xlog_replayed_timestamp Current timestamp of the replayed Postgres transaction log, 0 if null.',
      '# TYPE patroni_xlog_replayed_timestamp gauge',
      '# HELP patroni_xlog_paused Value is 1 if the Postgres xlog is paused, 0 otherwise.',
      '# TYPE patroni_xlog_paused gauge',
      '# HELP patroni_postgres_streaming Value is 1 if Postgres is streaming, 0 otherwise.',
      '# TYPE patroni_postgres_streaming gauge',
      '# HELP patroni_postgres_in_archive_recovery Value is 1 if Postgres is replicating from archive, 0 otherwise.',
      '# TYPE patroni_postgres_in_archive_recovery gauge',
      '# HELP patroni_postgres_server_version Version of Postgres (if running), 0 otherwise.',
      '# TYPE patroni_postgres_server_version gauge',
      '# HELP patroni_cluster_unlocked Value is 1 if the cluster is unlocked, 0 if locked.',
      '# TYPE patroni_cluster_unlocked gauge',
      '# HELP patroni_failsafe_mode_is_active Value is 1 if failsafe mode is active, 0 if inactive.',
      '# TYPE patroni_failsafe_mode_is_active gauge',
      '# HELP patroni_postgres_timeline Postgres timeline of this node (if running), 0 otherwise.',
      '# TYPE patroni_postgres_timeline counter',
      '# HELP patroni_dcs_last_seen Epoch timestamp when DCS was last contacted successfully by Patroni.',
      '# TYPE patroni_dcs_last_seen gauge',
      '# HELP patroni_pending_restart Value is 1 if the node needs a restart, 0 otherwise.',
      '# TYPE patroni_pending_restart gauge',
      '# HELP patroni_is_paused Value is 1 if auto failover is disabled, 0 otherwise.',
      '# TYPE patroni_is_paused gauge',
    ]);
  });

  it('labels every sample {scope, name} in that order, and serves none before the first snapshot', async () => {
    const m = createMetrics({ processMetrics: false });
    expect(patroniLines(await m.render())).toEqual([]);
    m.observeSnapshot({ ...snapshots.primaryHealthy, scope: 'bat"man', name: 'node\\1' });
    const lines = patroniLines(await m.render());
    expect(lines).toHaveLength(PATRONI_METRICS.length);
    for (const l of lines) expect(l).toMatch(/^patroni_[a-z_]+\{scope="bat\\"man",name="node\\\\1"\} \S+$/);
  });

  it('a primary', async () => {
    expect(await patroniValues(snapshots.primaryHealthy)).toEqual({
      patroni_version: 100, // hapg 0.1.0 → 000100
      patroni_postgres_running: 1,
      patroni_postmaster_start_time: 1_767_225_600,
      patroni_master: 1,
      patroni_primary: 1,
      patroni_xlog_location: 50_000,
      patroni_standby_leader: 0,
      patroni_replica: 0,
      patroni_sync_standby: 0,
      patroni_quorum_standby: 0,
      patroni_xlog_received_location: 0,
      patroni_xlog_replayed_location: 0,
      patroni_xlog_replayed_timestamp: 0,
      patroni_xlog_paused: 0,
      patroni_postgres_streaming: 0,
      patroni_postgres_in_archive_recovery: 0,
      patroni_postgres_server_version: 150013,
      patroni_cluster_unlocked: 0,
      patroni_failsafe_mode_is_active: 0,
      patroni_postgres_timeline: 3,
      patroni_dcs_last_seen: 1_767_225_600,
      patroni_pending_restart: 0,
      patroni_is_paused: 0,
    });
  });

  it('a streaming replica, then variations', async () => {
    const replayedAt = '2026-01-01T00:00:05.250Z';
    const r = await patroniValues({
      ...snapshots.replicaStreaming,
      xlog: {
        kind: 'replica',
        receivedBytes: 50_000,
        replayedBytes: 49_990,
        replayedTimestamp: replayedAt,
        replayPaused: true,
      },
    });
    expect(r).toMatchObject({
      patroni_primary: 0,
      patroni_master: 0,
      patroni_replica: 1,
      patroni_xlog_location: 0,
      patroni_xlog_received_location: 50_000,
      patroni_xlog_replayed_location: 49_990,
      patroni_xlog_replayed_timestamp: 1_767_225_605.25,
      patroni_xlog_paused: 1,
      patroni_postgres_streaming: 1,
      patroni_postgres_in_archive_recovery: 0,
    });
    // no WAL receiver position: Patroni reports the replayed one as received
    const archive = await patroniValues({
      ...snapshots.replicaArchiveRecovery,
      xlog: {
        kind: 'replica',
        receivedBytes: null,
        replayedBytes: 7_000,
        replayedTimestamp: null,
        replayPaused: false,
      },
    });
    expect(archive).toMatchObject({
      patroni_xlog_received_location: 7_000,
      patroni_postgres_streaming: 0,
      patroni_postgres_in_archive_recovery: 1,
    });
    expect(await patroniValues(snapshots.syncStandby)).toMatchObject({
      patroni_sync_standby: 1,
      patroni_quorum_standby: 0,
    });
    expect(await patroniValues(snapshots.quorumStandby)).toMatchObject({
      patroni_sync_standby: 0,
      patroni_quorum_standby: 1,
    });
    expect(await patroniValues(snapshots.standbyLeader)).toMatchObject({
      patroni_standby_leader: 1,
      patroni_primary: 0,
      patroni_replica: 0,
    });
    expect(
      await patroniValues({ ...snapshots.primaryPaused, pendingRestart: true, clusterUnlocked: true }),
    ).toMatchObject({ patroni_is_paused: 1, patroni_pending_restart: 1, patroni_cluster_unlocked: 1 });
  });

  it('a stopped node reports 0 for everything unknown, never NaN', async () => {
    const v = await patroniValues({
      ...snapshots.replicaStopped,
      xlog: null,
      timeline: null,
      serverVersion: null,
      postmasterStartTime: null,
      dcsLastSeenS: null,
    });
    expect(Object.values(v).every(Number.isFinite)).toBe(true);
    expect(v).toMatchObject({
      patroni_postgres_running: 0,
      patroni_postmaster_start_time: 0,
      patroni_xlog_received_location: 0,
      patroni_xlog_replayed_location: 0,
      patroni_postgres_server_version: 0,
      patroni_postgres_timeline: 0,
      patroni_dcs_last_seen: 0,
    });
  });

  it('agrees with GET /patroni for every fixture snapshot (one source)', async () => {
    for (const [fixture, s] of Object.entries(snapshots)) {
      const body = statusBody(s) as unknown as StatusBody;
      const v = await patroniValues(s);
      const xlog = body.xlog ?? {};
      expect(v, fixture).toMatchObject({
        patroni_postgres_running: body.state === 'running' ? 1 : 0,
        patroni_primary: body.role === 'primary' ? 1 : 0,
        patroni_replica: body.role === 'replica' ? 1 : 0,
        patroni_standby_leader: body.role === 'standby_leader' ? 1 : 0,
        patroni_xlog_location: xlog.location ?? 0,
        patroni_xlog_received_location: xlog.received_location ?? xlog.replayed_location ?? 0,
        patroni_xlog_replayed_location: xlog.replayed_location ?? 0,
        patroni_xlog_paused: xlog.paused === true ? 1 : 0,
        patroni_postgres_timeline: body.timeline ?? 0,
        patroni_postgres_server_version: body.server_version ?? 0,
        patroni_postmaster_start_time: epochSeconds(body.postmaster_start_time ?? null),
        patroni_dcs_last_seen: body.dcs_last_seen ?? 0,
        patroni_cluster_unlocked: body.cluster_unlocked ? 1 : 0,
        patroni_pending_restart: body.pending_restart ? 1 : 0,
        patroni_sync_standby: body.sync_standby ? 1 : 0,
        patroni_quorum_standby: body.quorum_standby ? 1 : 0,
        patroni_is_paused: body.pause ? 1 : 0,
        patroni_postgres_streaming: body.replication_state === 'streaming' ? 1 : 0,
        patroni_postgres_in_archive_recovery: body.replication_state === 'in archive recovery' ? 1 : 0,
      });
    }
  });

  it('a scrape refreshes them from the latest snapshot', async () => {
    const m = createMetrics({ processMetrics: false });
    m.observeSnapshot(snapshots.primaryHealthy);
    m.observeSnapshot({ ...snapshots.primaryHealthy, xlog: { kind: 'primary', locationBytes: 60_000 } });
    expect(sample(await m.render(), 'patroni_xlog_location')).toBe(60_000);
  });

  it('paddedVersion and epochSeconds', () => {
    expect(paddedVersion('3.0.2')).toBe(30002);
    expect(paddedVersion('0.1.0')).toBe(100);
    expect(paddedVersion('4.10.11-rc.1')).toBe(41011);
    expect(paddedVersion('')).toBe(0);
    expect(epochSeconds('1970-01-01T00:00:01.5Z')).toBe(1.5);
    expect(epochSeconds('not a time')).toBe(0);
    expect(epochSeconds(null)).toBe(0);
  });
});

describe('labels and the fence', () => {
  it('every hapg series carries the scope and name labels once a snapshot was seen', async () => {
    const m = createMetrics({ processMetrics: true });
    m.observeSnapshot(snapshots.primaryHealthy);
    const lines = (await m.render()).split('\n').filter((l) => l.startsWith('hapg_'));
    expect(lines.length).toBeGreaterThan(20);
    for (const l of lines) expect(l).toMatch(/[{,]scope="demo",name="node1"\} /);
    expect(await m.render()).toContain('hapg_role{role="primary",scope="demo",name="node1"} 1');
  });

  it("serves the fence's state as the client last heard it", async () => {
    let status: FenceClientStatus | null = null;
    const m = createMetrics({ processMetrics: false, fence: () => status });
    let text = await m.render();
    expect(sample(text, 'hapg_fence_connected')).toBe(0);
    expect(sample(text, 'hapg_fence_armed')).toBe(0);
    expect(sample(text, 'hapg_fence_fired_total')).toBe(0);
    expect(text).toContain('# TYPE hapg_fence_fired_total counter');
    status = { connected: true, armed: true, lastState: { fencePid: 7, armed: true, fired: 2 } };
    text = await m.render();
    expect(sample(text, 'hapg_fence_connected')).toBe(1);
    expect(sample(text, 'hapg_fence_armed')).toBe(1);
    expect(sample(text, 'hapg_fence_fired_total')).toBe(2);
    // a new fence process starts counting again: a counter reset, as Prometheus expects
    status = { connected: true, armed: false, lastState: { fencePid: 8, armed: false, fired: 0 } };
    expect(sample(await m.render(), 'hapg_fence_fired_total')).toBe(0);
  });
});
