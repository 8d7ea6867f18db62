import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AgentNode,
  freePort,
  spawnTracked,
  TestCluster,
  type TrackedProcess,
  waitFor,
} from '@hapg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ALERTS_PATH,
  dashboardExpressions,
  type Exposition,
  parseExposition,
  usedMetricNames,
} from '../packages/agent/test/monitoring-configs.js';

const TTL_S = 4;

/** Dashboard queries that are empty on a healthy cluster by design. */
const EMPTY_WHEN_HEALTHY = new Set(['panel "Synchronous standbys" B']);

const hasPrometheus = spawnSync('prometheus', ['--version'], { stdio: 'ignore' }).status === 0;

/** A real Prometheus scraping the members every second and evaluating configs/prometheus/alerts.yml. */
class Prometheus {
  private constructor(
    readonly url: string,
    readonly proc: TrackedProcess,
    readonly dir: string,
  ) {}

  static async start(targets: readonly string[]): Promise<Prometheus> {
    const dir = await mkdtemp(join(tmpdir(), 'hapg-prometheus-'));
    const port = await freePort();
    const config = {
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: [ALERTS_PATH],
      scrape_configs: [{ job_name: 'hapg', static_configs: [{ targets }] }],
    };
    await writeFile(join(dir, 'prometheus.yml'), JSON.stringify(config));
    const proc = spawnTracked('prometheus', [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ]);
    const p = new Prometheus(`http://127.0.0.1:${port}`, proc, dir);
    await waitFor(
      () =>
        p
          .get('/-/ready')
          .then(() => true)
          .catch(() => false),
      {
        timeoutMs: 20_000,
        what: `prometheus ready (${proc.output().slice(-500)})`,
      },
    );
    return p;
  }

  async get(path: string): Promise<unknown> {
    const res = await fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.headers.get('content-type')?.includes('json') ? res.json() : res.text();
  }

  /** An instant query's result vector. */
  async query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const r = (await this.get(`/api/v1/query?query=${encodeURIComponent(expr)}`)) as {
      status: string;
      data: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    expect(r.status, expr).toBe('success');
    return r.data.result;
  }

  /** Alerts pending or firing, as `name@member:state`. */
  async alerts(): Promise<string[]> {
    const r = (await this.get('/api/v1/alerts')) as {
      data: { alerts: { labels: Record<string, string>; state: string }[] };
    };
    return r.data.alerts
      .map((a) => `${a.labels.alertname}@${a.labels.name ?? a.labels.scope}:${a.state}`)
      .sort();
  }

  async close(): Promise<void> {
    await this.proc.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * /metrics of a real primary and replica: every metric the shipped alerts and dashboard use is
 * there, labelled {scope, name}, with a plausible value; then the counters the failover and
 * fence alerts read move when a frozen primary's fence fires and the replica takes over.
 * With Debian's `prometheus` installed, a real Prometheus scrapes both members: every dashboard
 * query returns data, no alert fires on the healthy cluster, and HapgFailover and HapgFenceFired
 * fire after the failover.
 */
describe('metrics of a real cluster', () => {
  let cluster: TestCluster;
  let prometheus: Prometheus | null = null;

  beforeAll(async () => {
    cluster = await TestCluster.start({ nodes: 2, ttl: TTL_S, loopWait: 1, retryTimeout: 1 });
    await cluster.waitHealthy(120_000);
    if (hasPrometheus)
      prometheus = await Prometheus.start(cluster.nodes.map((n) => `${n.host}:${n.restPort}`));
    else
      console.warn(
        'prometheus not on PATH (apt-get install prometheus): its queries and alert checks are skipped',
      );
  });
  afterAll(async () => {
    await prometheus?.close();
    await cluster?.close();
  });

  async function scrape(node: AgentNode): Promise<Exposition> {
    const res = await fetch(`http://${node.host}:${node.restPort}/metrics`, {
      signal: AbortSignal.timeout(5000),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parseExposition(await res.text());
  }

  /** The value of a metric's only sample matching `labels` (its scope/name are checked apart). */
  function value(e: Exposition, metric: string, labels: Record<string, string> = {}): number {
    const found = (e.samples.get(metric)?.values ?? []).filter((v) =>
      Object.entries(labels).every(([k, want]) => v.labels[k] === want),
    );
    expect(found, `${metric}${JSON.stringify(labels)}`).toHaveLength(1);
    return found[0]!.value;
  }

  function expectUsedMetricsServed(e: Exposition, node: AgentNode): void {
    const used = usedMetricNames();
    expect(used.length).toBeGreaterThan(20);
    for (const name of used) {
      const s = e.samples.get(name);
      expect(s?.values.length ?? 0, `${node.name} serves ${name}`).toBeGreaterThan(0);
      for (const v of s!.values) {
        expect(v.labels.scope, `${name} scope`).toBe(cluster.scope);
        expect(v.labels.name, `${name} name`).toBe(node.name);
        expect(Number.isNaN(v.value) && name !== 'hapg_replication_lag_bytes', `${name} is a number`).toBe(
          false,
        );
      }
    }
  }

  it('a primary and a replica serve every metric the alerts and the dashboard use, with plausible values', async () => {
    const primary = await cluster.waitHealthy();
    const replica = cluster.nodes.find((n) => n !== primary)!;
    // a replica reports positions once it has replayed past the primary's last checkpoint
    await waitFor(
      async () =>
        value(await scrape(replica), 'patroni_xlog_replayed_location') > 0 &&
        value(await scrape(replica), 'patroni_postgres_streaming') === 1,
      { timeoutMs: 20_000, what: 'the replica reporting its positions' },
    );
    const p = await scrape(primary);
    const r = await scrape(replica);
    const nowS = Date.now() / 1000;
    expectUsedMetricsServed(p, primary);
    expectUsedMetricsServed(r, replica);

    // the primary
    expect(value(p, 'patroni_primary')).toBe(1);
    expect(value(p, 'patroni_master')).toBe(1);
    expect(value(p, 'patroni_replica')).toBe(0);
    expect(value(p, 'patroni_standby_leader')).toBe(0);
    expect(value(p, 'patroni_postgres_running')).toBe(1);
    expect(value(p, 'patroni_xlog_location')).toBeGreaterThan(0);
    expect(value(p, 'patroni_xlog_replayed_location')).toBe(0);
    expect(value(p, 'patroni_cluster_unlocked')).toBe(0);
    expect(value(p, 'patroni_postgres_timeline')).toBeGreaterThanOrEqual(1);
    expect(value(p, 'patroni_postgres_server_version')).toBeGreaterThanOrEqual(150000);
    expect(value(p, 'patroni_postmaster_start_time')).toBeGreaterThan(nowS - 600);
    expect(value(p, 'patroni_postmaster_start_time')).toBeLessThanOrEqual(nowS);
    expect(Math.abs(nowS - value(p, 'patroni_dcs_last_seen'))).toBeLessThan(TTL_S * 2);
    expect(value(p, 'patroni_version')).toBeGreaterThan(0);
    expect(value(p, 'hapg_role', { role: 'primary' })).toBe(1);
    expect(value(p, 'hapg_role', { role: 'demoted' })).toBe(0);
    expect(value(p, 'hapg_replication_lag_bytes')).toBe(0);
    expect(value(p, 'hapg_lease_remaining_seconds')).toBeGreaterThan(0);
    expect(value(p, 'hapg_lease_remaining_seconds')).toBeLessThanOrEqual(TTL_S);
    expect(value(p, 'hapg_fence_connected')).toBe(1);
    expect(value(p, 'hapg_fence_armed')).toBe(1);
    for (const e of [p, r]) {
      expect(value(e, 'patroni_pending_restart')).toBe(0);
      expect(value(e, 'patroni_is_paused')).toBe(0);
      expect(value(e, 'patroni_failsafe_mode_is_active')).toBe(0);
      expect(value(e, 'hapg_failovers_total')).toBe(0);
      expect(value(e, 'hapg_fence_fired_total')).toBe(0);
      expect(value(e, 'hapg_sync_degraded')).toBe(0);
      expect(value(e, 'hapg_loop_duration_seconds_count')).toBeGreaterThan(0);
    }

    // the replica
    expect(value(r, 'patroni_replica')).toBe(1);
    expect(value(r, 'patroni_primary')).toBe(0);
    expect(value(r, 'patroni_postgres_running')).toBe(1);
    expect(value(r, 'patroni_postgres_streaming')).toBe(1);
    expect(value(r, 'patroni_postgres_in_archive_recovery')).toBe(0);
    expect(value(r, 'patroni_xlog_location')).toBe(0);
    const received = value(r, 'patroni_xlog_received_location');
    const replayed = value(r, 'patroni_xlog_replayed_location');
    expect(replayed).toBeGreaterThan(0);
    expect(received).toBeGreaterThanOrEqual(replayed);
    // each member's snapshot is up to a loop old: the primary's catches up with what was received
    await waitFor(async () => value(await scrape(primary), 'patroni_xlog_location') >= received, {
      timeoutMs: 5000,
      what: `the primary's position reaching the replica's received ${received}`,
    });
    expect(value(r, 'patroni_postgres_timeline')).toBe(value(p, 'patroni_postgres_timeline'));
    expect(value(r, 'hapg_role', { role: 'replica' })).toBe(1);
    expect(value(r, 'hapg_replication_lag_bytes')).toBeGreaterThanOrEqual(0);
    expect(value(r, 'hapg_lease_remaining_seconds')).toBe(0);
    expect(value(r, 'hapg_fence_armed')).toBe(0);

    if (prometheus !== null) {
      const prom = prometheus;
      // a few scrapes of both members, so that rate() and increase() have two samples
      await waitFor(async () => (await prom.query('count_over_time(up{job="hapg"}[1m]) >= 4')).length === 2, {
        timeoutMs: 20_000,
        what: 'four scrapes of each member',
      });
      for (const e of dashboardExpressions()) {
        const result = await prom.query(e.expr);
        if (!EMPTY_WHEN_HEALTHY.has(e.where))
          expect(result.length, `${e.where}: ${e.expr}`).toBeGreaterThan(0);
      }
      // the join Patroni dashboards use for lag finds the replica, and only it
      const lag = await prom.query(
        dashboardExpressions().find((e) => e.where.includes('Replay lag behind'))!.expr,
      );
      expect(lag.map((x) => x.metric.name)).toEqual([replica.name]);
      expect(await prom.alerts()).toEqual([]);
    }

    // the same snapshot as GET /patroni
    const status = await cluster.patroni(replica);
    const again = await scrape(replica);
    expect(value(again, 'patroni_postgres_timeline')).toBe(status.timeline);
    expect(value(again, 'patroni_xlog_replayed_location')).toBeGreaterThanOrEqual(
      status.xlog!.replayed_location!,
    );
  });

  it('a frozen primary: its fence fires (hapg_fence_fired_total), the replica is promoted (hapg_failovers_total, timeline + 1)', async () => {
    const old = await cluster.waitHealthy();
    const next = cluster.nodes.find((n) => n !== old)!;
    const timeline = value(await scrape(old), 'patroni_postgres_timeline');
    old.signalAgent('SIGSTOP');
    try {
      await cluster.waitForPrimary(TTL_S * 1000 + 20_000, old);
    } finally {
      old.signalAgent('SIGCONT');
    }
    const n = await waitFor(
      async () => {
        const e = await scrape(next);
        return value(e, 'patroni_primary') === 1 ? e : null;
      },
      { timeoutMs: 10_000, what: 'the new primary in its metrics' },
    );
    expect(value(n, 'hapg_failovers_total')).toBe(1);
    expect(value(n, 'hapg_switchovers_total')).toBe(0);
    expect(value(n, 'patroni_postgres_timeline')).toBe(timeline + 1);
    // once thawed, the old primary's agent hears from its fence that it fired
    await waitFor(async () => value(await scrape(old), 'hapg_fence_fired_total') >= 1, {
      timeoutMs: 20_000,
      what: 'the fence firing in the old primary metrics',
    });
    if (prometheus !== null) {
      const prom = prometheus;
      // HapgFailover and HapgFenceFired have no `for`: they fire at the next evaluation
      await waitFor(
        async () => {
          const a = await prom.alerts();
          return (
            a.includes(`HapgFailover@${next.name}:firing`) && a.includes(`HapgFenceFired@${old.name}:firing`)
          );
        },
        { timeoutMs: 15_000, what: 'HapgFailover and HapgFenceFired firing' },
      );
    }
    await cluster.waitHealthy(90_000);
    const o = await scrape(old);
    expect(value(o, 'patroni_replica')).toBe(1);
    expect(value(o, 'patroni_primary')).toBe(0);
    expect(value(o, 'hapg_fence_armed')).toBe(0);
  });
});
