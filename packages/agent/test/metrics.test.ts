import { describe, expect, it } from 'vitest';
import { createMetrics, replicationLagBytes } from '../src/metrics.js';
import { clockAtNow, snapshots } from './api-fixtures.js';

/** The value of one sample line, e.g. `hapg_role{role="primary"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
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
