import type { Clock } from '@hapg/core';
import { systemClock } from '@hapg/platform';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { NodeRole, NodeSnapshot } from './api/snapshot.js';
import type { FenceClientStatus } from './fence/client.js';
import { PATRONI_METRICS } from './metrics-patroni.js';

/**
 * The agent's Prometheus metrics, on a registry of its own (never prom-client's
 * global one) so that two agents in one test process do not collide.
 * Gauges follow the loop's snapshot; the lease gauge is computed at scrape time
 * so that it keeps falling while a loop iteration is stuck.
 *
 * Beside the `hapg_*` metrics the registry serves Patroni's `patroni_*` family
 * (metrics-patroni.ts) from the same snapshot. Once a snapshot has been seen,
 * every series carries Patroni's `scope` and `name` labels.
 */
export interface AgentMetrics {
  readonly registry: Registry;
  /** `Content-Type` of `render()`'s text */
  readonly contentType: string;
  observeSnapshot(snapshot: NodeSnapshot): void;
  observeLoopDurationSeconds(seconds: number): void;
  countFailover(): void;
  countSwitchover(): void;
  countDcsError(): void;
  /** an action of a decision failed (any kind: a pg_rewind, a start, a CAS) */
  countActionFailure(kind: string): void;
  /** one per decide() result, labelled by its reason code (a bounded set) */
  countDecision(reasonCode: string): void;
  /** the Prometheus text exposition */
  render(): Promise<string>;
}

export interface MetricsOptions {
  /** monotonic clock of the snapshot's `leaseDeadlineMs`; default the system clock */
  readonly clock?: Clock;
  /** Node process metrics (`hapg_process_*`, `hapg_nodejs_*`); default true */
  readonly processMetrics?: boolean;
  /** the fence client's status, read at scrape time; absent or null when the fence is off */
  readonly fence?: () => FenceClientStatus | null;
}

export const METRIC_PREFIX = 'hapg_';

const ROLES: readonly NodeRole[] = ['primary', 'replica', 'standby_leader', 'demoted', 'uninitialized'];
const LOOP_DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createMetrics(options: MetricsOptions = {}): AgentMetrics {
  const clock = options.clock ?? systemClock;
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  const registers = [registry];
  let last: NodeSnapshot | null = null;

  const role = new Gauge({
    name: 'hapg_role',
    help: '1 for the current role',
    labelNames: ['role'],
    registers,
  });
  const isLeader = new Gauge({
    name: 'hapg_is_leader',
    help: '1 while this node holds the leader key',
    registers,
  });
  const timeline = new Gauge({
    name: 'hapg_timeline',
    help: 'Postgres timeline (NaN if unknown)',
    registers,
  });
  const lag = new Gauge({
    name: 'hapg_replication_lag_bytes',
    help: "bytes this replica's replay position is behind the leader's optime (0 on the leader, NaN if unknown)",
    registers,
  });
  new Gauge({
    name: 'hapg_lease_remaining_seconds',
    help: 'seconds until the local leader-lease deadline (0 when not the leader)',
    registers,
    collect() {
      this.set(leaseRemainingSeconds(last, clock.monotonicMs()));
    },
  });
  const pgRunning = new Gauge({
    name: 'hapg_postgres_running',
    help: '1 while Postgres is running',
    registers,
  });
  const pendingRestart = new Gauge({
    name: 'hapg_pending_restart',
    help: '1 when Postgres needs a restart for a changed parameter',
    registers,
  });
  const loopDuration = new Histogram({
    name: 'hapg_loop_duration_seconds',
    help: 'duration of one observe/decide/act iteration',
    buckets: LOOP_DURATION_BUCKETS_S,
    registers,
  });
  const failovers = new Counter({
    name: 'hapg_failovers_total',
    help: 'failovers this node took part in',
    registers,
  });
  const switchovers = new Counter({
    name: 'hapg_switchovers_total',
    help: 'switchovers this node took part in',
    registers,
  });
  const dcsErrors = new Counter({ name: 'hapg_dcs_errors_total', help: 'failed etcd requests', registers });
  const actionFailures = new Counter({
    name: 'hapg_action_failures_total',
    help: 'failed actions of loop decisions, by action kind',
    labelNames: ['action'],
    registers,
  });
  const decisions = new Counter({
    name: 'hapg_decisions_total',
    help: 'loop decisions by reason code',
    labelNames: ['reason'],
    registers,
  });

  const syncStandbys = new Gauge({
    name: 'hapg_sync_standbys',
    help: 'synchronous (or quorum) standbys the sync key lists, on the leader in synchronous mode (0 elsewhere)',
    registers,
  });
  const syncDegraded = new Gauge({
    name: 'hapg_sync_degraded',
    help: '1 while this leader runs in synchronous mode with no standby in the sync key',
    registers,
  });
  const syncDegradedSeconds = new Counter({
    name: 'hapg_sync_degraded_seconds_total',
    help: 'seconds this leader spent in synchronous mode with no standby in the sync key',
    registers,
  });
  let degradedSinceMs: number | null = null;

  registerFenceMetrics(registers, options.fence ?? (() => null));
  registerPatroniMetrics(registers, () => last);

  return {
    registry,
    contentType: registry.contentType,
    observeSnapshot(s) {
      last = s;
      registry.setDefaultLabels({ scope: s.scope, name: s.name });
      for (const r of ROLES) role.set({ role: r }, r === s.role ? 1 : 0);
      isLeader.set(s.holdsLeaderKey ? 1 : 0);
      timeline.set(s.timeline ?? Number.NaN);
      lag.set(replicationLagBytes(s) ?? Number.NaN);
      pgRunning.set(s.pgState === 'running' ? 1 : 0);
      pendingRestart.set(s.pendingRestart ? 1 : 0);
      const leadingSync = s.role === 'primary' && s.holdsLeaderKey && !s.syncDegraded;
      syncStandbys.set(leadingSync ? s.syncStandbys.length : 0);
      syncDegraded.set(s.syncDegraded ? 1 : 0);
      const nowMs = clock.monotonicMs();
      if (degradedSinceMs !== null) syncDegradedSeconds.inc(Math.max(0, nowMs - degradedSinceMs) / 1000);
      degradedSinceMs = s.syncDegraded ? nowMs : null;
    },
    observeLoopDurationSeconds: (seconds) => loopDuration.observe(seconds),
    countFailover: () => failovers.inc(),
    countSwitchover: () => switchovers.inc(),
    countDcsError: () => dcsErrors.inc(),
    countActionFailure: (kind) => actionFailures.inc({ action: kind }),
    countDecision: (reasonCode) => decisions.inc({ reason: reasonCode }),
    render: () => registry.metrics(),
  };
}

/** The fence as the agent last heard from it (its `fired` count is the fence process's own). */
function registerFenceMetrics(registers: Registry[], status: () => FenceClientStatus | null): void {
  new Gauge({
    name: 'hapg_fence_connected',
    help: "1 while the agent's connection to its fence is up (0 when the fence is off)",
    registers,
    collect() {
      this.set(status()?.connected ? 1 : 0);
    },
  });
  new Gauge({
    name: 'hapg_fence_armed',
    help: 'the fence is armed with a lease deadline, as it last acknowledged',
    registers,
    collect() {
      this.set(status()?.armed ? 1 : 0);
    },
  });
  new Counter({
    name: 'hapg_fence_fired_total',
    help: 'times the fence stopped Postgres because a lease deadline passed, since the fence started',
    registers,
    collect() {
      this.reset();
      this.inc(status()?.lastState?.fired ?? 0);
    },
  });
}

/** Patroni's family; no samples until the first snapshot (their labels come from it). */
function registerPatroniMetrics(registers: Registry[], snapshot: () => NodeSnapshot | null): void {
  for (const m of PATRONI_METRICS) {
    const collect = function (this: Gauge<'scope' | 'name'> | Counter<'scope' | 'name'>) {
      this.reset();
      const s = snapshot();
      if (s === null) return;
      const labels = { scope: s.scope, name: s.name };
      const v = m.value(s);
      // a counter refuses to go below 0 (and a throw would fail the scrape): none of these can
      if (this instanceof Counter) this.inc(labels, Number.isFinite(v) && v > 0 ? v : 0);
      else this.set(labels, v);
    };
    const config = { name: m.name, help: m.help, labelNames: ['scope', 'name'] as const, registers, collect };
    if (m.type === 'counter') new Counter(config);
    else new Gauge(config);
  }
}

/** 0 on a leader, the replay lag on a replica, null when it cannot be known. */
export function replicationLagBytes(s: NodeSnapshot): number | null {
  if (s.xlog?.kind === 'primary') return 0;
  if (s.xlog?.kind !== 'replica' || s.xlog.replayedBytes === null || s.leaderOptimeBytes === null)
    return null;
  return Math.max(0, s.leaderOptimeBytes - s.xlog.replayedBytes);
}

function leaseRemainingSeconds(s: NodeSnapshot | null, nowMs: number): number {
  if (s === null || !s.holdsLeaderKey || s.leaseDeadlineMs === null) return 0;
  return Math.max(0, (s.leaseDeadlineMs - nowMs) / 1000);
}
