import {
  type Clock,
  type ClusterView,
  type Decision,
  isHapgError,
  type DynamicConfig,
  decide,
  errorText,
  evidenceBoundsFor,
  type FlawedLeaderSighting,
  InvariantViolation,
  isRunningPrimary,
  leaderRenewIntervalMs,
  type MemberName,
  type NodeConfig,
  type Observation,
  type PgObservation,
  replicationSampleMs,
  replicationTimingParameters,
  toDecideConfig,
  trackFlawedLeader,
} from '@hapg/core';
import type { EtcdStore } from '@hapg/dcs';
import { ActionFailed, type ExecContext, followTarget, runActions } from './executor/execute.js';
import { localPostgresControl, realExecClock, restPeers } from './executor/local-ports.js';
import type { PostgresControl } from './executor/ports.js';
import { restartInPlaceActions } from './executor/requests.js';
import { DynamicConfigReader } from './dynamic-config.js';
import type { NodeSnapshot } from './api/snapshot.js';
import type { LocalPostgres } from './local-pg.js';
import type { Logger } from './logger.js';
import { memberJson } from './member.js';
import type { AgentMetrics } from './metrics.js';
import { ParameterApplier } from './parameters.js';
import { fetchPeerStatuses } from './peers.js';
import { SlotManager } from './slots/index.js';
import { SafetyGuard } from './safety-guard.js';
import { buildSnapshot } from './snapshot-build.js';
import { SyncManager } from './sync/sync-manager.js';
import { sqlSyncPostgres } from './sync/sync-postgres.js';
import { syncDuty } from './sync/duty.js';

const MAX_FOLLOW_UPS = 3;

/**
 * Settings that must agree across the cluster (a standby refuses to run with less than its
 * primary has): when the dynamic config sets one, it wins over the node's YAML, as in Patroni.
 */
export const CLUSTER_WIDE_PARAMETERS: readonly string[] = [
  'max_connections',
  'max_locks_per_transaction',
  'max_worker_processes',
  'max_prepared_transactions',
  'max_wal_senders',
  'max_replication_slots',
  'wal_level',
  'wal_log_hints',
  'track_commit_timestamp',
  'hot_standby',
  'wal_keep_size',
];

type Params = Readonly<Record<string, string | number | boolean>>;

/** The node's own parameters override the cluster's, except the cluster-wide ones. */
export function mergeParameters(cluster: Params, local: Params): Record<string, string | number | boolean> {
  const merged: Record<string, string | number | boolean> = { ...cluster, ...local };
  for (const name of CLUSTER_WIDE_PARAMETERS) {
    const v = cluster[name];
    if (v !== undefined) merged[name] = v;
  }
  return merged;
}

/**
 * The `pg_hba.conf` lines that replace the generated file: the node's `postgresql.pg_hba`,
 * else the dynamic one (Patroni's precedence); null: the generated file, with
 * `bootstrap.pg_hba` appended.
 */
export function effectivePgHba(
  config: Pick<NodeConfig, 'postgresql'>,
  dyn: Pick<DynamicConfig, 'postgresql'>,
): readonly string[] | null {
  const local = config.postgresql.pgHba;
  if (local !== null && local.length > 0) return local;
  const cluster = dyn.postgresql.pgHba;
  return cluster !== null && cluster.length > 0 ? cluster : null;
}

/** Arms/disarms the fence; never throws (a fence failure is logged and shown, not fatal). */
export interface Fence {
  arm(deadlineMs: number, pid: number, dataDir: string): Promise<boolean>;
  disarm(): Promise<void>;
}

export interface HaOptions {
  readonly config: NodeConfig;
  readonly store: EtcdStore;
  readonly pg: LocalPostgres;
  readonly fence: Fence;
  readonly log: Logger;
  readonly metrics: AgentMetrics;
  readonly clock: Clock;
  readonly version: string;
  /** told every snapshot the loop publishes (the pod role label updater); must return at once */
  readonly onSnapshot?: (snapshot: NodeSnapshot) => void;
  /**
   * A broken invariant (a programmer error): the loop stops deciding and calls this; main.ts
   * exits, and the fence, which keeps its last arming when we hang up, ends a primary at its
   * lease deadline.
   */
  readonly onInvariantViolation?: (e: InvariantViolation) => void;
}

/**
 * The observe → decide → act loop. Runs every `loop_wait` and at once on
 * an etcd event that matters (leader key gone, failover/config change), on
 * the lease deadline, and on the Postgres child's exit. One iteration at a
 * time; a wake-up during an iteration runs another right after it.
 */
export class HaLoop {
  #o: HaOptions;
  readonly #log: Logger;
  #snapshot: NodeSnapshot;
  #dyn: DynamicConfig;
  readonly #dynReader: DynamicConfigReader;
  #lastDecision: Decision | null = null;
  #running = false;
  #rerun = false;
  #stopped = false;
  #timer: NodeJS.Timeout | null = null;
  #dcsLastSeenS: number | null = null;
  #loopDone: Promise<void> = Promise.resolve();
  #lastPg: PgObservation | null = null;
  #releasedLeaderAtMs: number | null = null;
  /** operator requests (restart, reinit, reload) run by the loop between iterations, never beside them */
  readonly #exclusive: (() => Promise<void>)[] = [];
  /** renders parameter changes into postgresql.conf and reloads, once per change */
  readonly #params: ParameterApplier;
  readonly #slots: SlotManager;
  readonly #sync: SyncManager;
  /** immediate follow-up iterations after successful actions, bounded so a decision cannot spin */
  #followUps = 0;
  /** since when we hold the key without a running primary (see `#downUnderKey`) */
  #downUnderKeySinceMs: number | null = null;
  /** what the last iteration decided on (the safety guard re-checks it with fresh evidence) */
  #lastObs: Observation | null = null;
  readonly #guard: SafetyGuard;
  /** the silent synchronous standbys the loop was last woken for (once per change, not per sample) */
  #syncGoneWoken = '';
  /** since when the current leader key has looked like no agent's (core's `trackFlawedLeader`) */
  #flawedLeader: FlawedLeaderSighting | null = null;
  /** the executor's port to our Postgres */
  readonly #pgControl: PostgresControl;

  constructor(o: HaOptions) {
    this.#o = o;
    this.#log = o.log.child({ component: 'ha' });
    this.#slots = new SlotManager({
      name: o.config.name,
      log: o.log.child({ component: 'slots' }),
      // logical slots live in their own database: connect there as the superuser, over the
      // local socket first like every other connection of the agent to its own server
      connectIn: (database) => o.pg.node.localConnectOptions(database),
    });
    this.#params = new ParameterApplier(o.pg.node, this.#log);
    this.#pgControl = localPostgresControl(o.pg, { config: () => this.#o.config, log: this.#log });
    this.#sync = new SyncManager({
      name: o.config.name,
      store: o.store,
      pg: sqlSyncPostgres(o.pg.node, (value) => this.#applySsn(value)),
      clock: realExecClock(o.clock),
      log: o.log.child({ component: 'sync' }),
    });
    this.#dynReader = new DynamicConfigReader({ log: this.#log, bootstrap: o.config.bootstrap.dcs });
    this.#dyn = this.#dynamicConfig(o.store.view());
    this.#snapshot = this.#emptySnapshot();
    this.#guard = new SafetyGuard(
      {
        clock: o.clock,
        log: this.#log,
        lastObservation: () => this.#lastObs,
        lease: () => ({
          leaseId: o.store.leaseId(),
          leaseDeadlineMs: o.store.leaseDeadlineMs(),
          renewFailingSinceMs: o.store.renewFailingSinceMs(),
        }),
        sampleReplication: async (nowMs) => {
          const streaming = await o.pg.sampleReplication(nowMs);
          this.#wakeIfSyncStandbyGone(streaming);
          return streaming;
        },
        enforce: (d, obs) => this.#enforce(d, obs),
      },
      replicationSampleMs(this.#dyn.primaryIsolationTimeoutMs),
    );
    o.store.on('leader-deleted', () => this.wake('leader key deleted'));
    o.store.on('deadline', () => this.wake('lease deadline passed'));
    o.store.on('renewed', (info) => {
      // etcd may revive a lease after its deadline fired: the loop re-verifies before trusting it
      if (info.afterDeadline) this.wake('lease renewed after its deadline');
      void this.#rearmFence();
    });
    o.store.on('granted', () => this.wake('new lease'));
    o.store.on('change', (v) => this.#onViewChange(v));
    o.pg.node.on('exit', (exit) => {
      // An exit during our own start is that start failing: the action reports it, and the
      // next attempt waits for loop_wait instead of spinning (no crash loop).
      const duringStart = o.pg.transition === 'starting';
      const crash = o.pg.onExit(exit.expected || duringStart, o.clock.monotonicMs());
      if (crash) this.#log.warn({ ...exit }, 'Postgres exited unexpectedly');
      if (!duringStart) this.wake('postgres exited');
    });
  }

  /**
   * A reloaded node config (`reload.ts` keeps everything but its live keys as they were): the
   * next iteration publishes the new tags and renders the new parameters and pg_hba.
   */
  setNodeConfig(config: NodeConfig): void {
    this.#o = { ...this.#o, config };
    this.wake('configuration reloaded');
  }

  snapshot(): NodeSnapshot {
    return this.#snapshot;
  }

  dynamicConfig(): DynamicConfig {
    return this.#dyn;
  }

  start(): void {
    this.#guard.start();
    this.wake('start');
  }

  /** Runs an iteration now (or right after the current one). */
  wake(why: string): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#rerun = true;
      return;
    }
    this.#log.debug({ why }, 'wake');
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#loopDone = this.#iterate();
  }

  /**
   * Runs `fn` inside the loop, between two iterations, so that it never races a decision
   * about the same Postgres. Resolves with its result once it ran.
   */
  runExclusive<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#exclusive.push(() => fn().then(resolve, reject));
      this.wake('operator request');
    });
  }

  /**
   * A restart in place on request (REST, hactl, a schedule, `--pending`), run by the executor
   * like any decision: a primary restarts only after etcd confirms its key (`verifyLeader`) and
   * with its lease ahead, and the fence is armed with the *new* postmaster before this returns;
   * a replica comes back following whom it followed, with or without a slot as `use_slots` says.
   */
  restartInPlace(): Promise<void> {
    return this.runExclusive(async () => {
      const { pg, clock, store } = this.#o;
      const pgObs = await pg.observe(clock.monotonicMs());
      const asPrimary = this.#snapshot.holdsLeaderKey && pgObs.inRecovery === false;
      const actions = restartInPlaceActions({ asPrimary, following: pg.following });
      this.#log.info({ asPrimary, actions: actions.map((a) => a.kind) }, 'restarting Postgres on request');
      await runActions(actions, this.#actContext(store.view(), pgObs));
    });
  }

  /**
   * Wipe the data directory and clone from `leader` again (REST `POST /reinitialize`), run by
   * the executor between iterations: the fence is disarmed first, slots follow `use_slots`.
   */
  reinitialize(leader: MemberName): Promise<void> {
    return this.runExclusive(async () => {
      const { pg, clock, store } = this.#o;
      this.#log.info({ leader }, 'reinitializing: wiping the data directory and cloning from the leader');
      const pgObs = await pg.observe(clock.monotonicMs());
      await runActions([{ kind: 'reinitialize', leader }], this.#actContext(store.view(), pgObs));
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#guard.stop();
    if (this.#timer) clearTimeout(this.#timer);
    await this.#loopDone;
  }

  #prevView: ClusterView | null = null;
  /** the last leader name seen in any view: the "old leader" of the next promotion's history entry */
  #previousLeader: string | null = null;

  #onViewChange(view: ClusterView): void {
    const prev = this.#prevView;
    if (view.leader !== null && view.leader.name !== this.#o.config.name)
      this.#previousLeader = view.leader.name;
    this.#prevView = view;
    // Member keys change every loop on every node; only wake for what can change a decision now.
    if (
      prev === null ||
      prev.leader?.name !== view.leader?.name ||
      prev.leader?.leaseId !== view.leader?.leaseId ||
      // a new leader publishes its timeline after promoting; replicas re-point on it at once
      (view.leader !== null &&
        prev.members.get(view.leader.name)?.timeline !== view.members.get(view.leader.name)?.timeline) ||
      prev.failover?.modRevision !== view.failover?.modRevision ||
      prev.config?.modRevision !== view.config?.modRevision ||
      prev.initialize !== view.initialize
    ) {
      this.wake('cluster view changed');
    }
  }

  /** the config key's problems are logged once per write of the key, not every loop */
  #dynamicConfig(view: ClusterView | null): DynamicConfig {
    return this.#dynReader.read(view, this.#dyn ?? null);
  }

  async #iterate(): Promise<void> {
    this.#running = true;
    const { clock, metrics } = this.#o;
    const started = clock.monotonicMs();
    try {
      do {
        this.#rerun = false;
        await this.#once();
      } while (this.#rerun && !this.#stopped);
    } catch (e) {
      if (e instanceof InvariantViolation) this.#invariantViolated(e);
      else this.#log.error({ err: errorText(e), stack: (e as Error).stack }, 'loop iteration failed');
    } finally {
      metrics.observeLoopDurationSeconds((clock.monotonicMs() - started) / 1000);
      this.#running = false;
      if (!this.#stopped) this.#timer = setTimeout(() => this.wake('loop_wait'), this.#dyn.loopWaitMs);
    }
  }

  #invariantViolated(e: InvariantViolation): void {
    this.#log.fatal({ err: e.message, stack: e.stack }, 'invariant violated: the agent stops');
    this.#stopped = true;
    this.#guard.stop();
    this.#o.onInvariantViolation?.(e);
  }

  async #once(): Promise<void> {
    const { store, pg, config, clock, metrics } = this.#o;
    for (let op = this.#exclusive.shift(); op !== undefined; op = this.#exclusive.shift()) {
      await op().catch((e) => {
        if (e instanceof InvariantViolation) throw e;
        this.#log.warn({ err: errorText(e) }, 'operator request failed');
      });
    }
    const view = store.view();
    if (store.reachable()) this.#dcsLastSeenS = Math.floor(clock.wallMs() / 1000);
    this.#dyn = this.#dynamicConfig(view);
    const nowMs = clock.monotonicMs();
    this.#flawedLeader = trackFlawedLeader(this.#flawedLeader, view, config.name, nowMs, this.#dyn.pause);
    this.#applyTiming();
    // a start or clone in this loop writes pg_hba.conf from the current dynamic config
    pg.node.setPgHba(effectivePgHba(config, this.#dyn));
    const pgObs = this.#downUnderKey(view, await pg.observe(clock.monotonicMs()), clock.monotonicMs());
    this.#lastPg = pgObs;
    const peers =
      view !== null && view.leader === null && pgObs.process === 'running'
        ? await fetchPeerStatuses(view.members.values(), config.name, this.#peerTimeoutMs())
        : null;
    const obs: Observation = {
      self: {
        name: config.name,
        nofailover: config.tags.nofailover,
        nosync: config.tags.nosync,
        failoverPriority: config.tags.failoverPriority,
      },
      config: toDecideConfig(this.#dyn),
      pg: pgObs,
      dcs: {
        view,
        reachable: store.reachable(),
        leaseId: store.leaseId(),
        leaseDeadlineMs: store.leaseDeadlineMs(),
        renewFailingSinceMs: store.renewFailingSinceMs(),
        releasedLeaderAtMs: this.#releasedLeaderAtMs,
        flawedLeaderSinceMs: this.#flawedLeader?.sinceMs ?? null,
      },
      peers,
      wallNowMs: clock.wallMs(),
    };
    const decision = decide(obs, clock.monotonicMs());
    this.#lastObs = obs;
    // The leader renews more often: it bounds how soon an isolated primary notices (rule 2).
    store.setRenewIntervalMs(
      decision.role === 'primary' ? leaderRenewIntervalMs(this.#dyn.primaryIsolationTimeoutMs) : null,
    );
    metrics.countDecision(decision.reason.code);
    this.#logChange(decision, pgObs);
    this.#lastDecision = decision;
    this.#publish(view, pgObs, decision);
    if (decision.actions.length > 0) {
      try {
        // Peers read our REST status during elections: publish each step at once (a switchover
        // target must not see us as a running primary once we have stopped).
        await runActions(decision.actions, this.#actContext(view, pgObs), async (kind) => {
          if (
            kind === 'demote' ||
            kind === 'promote' ||
            kind === 'releaseLeader' ||
            kind === 'startPostgres'
          ) {
            this.#publish(store.view(), await pg.observe(this.#o.clock.monotonicMs()), decision);
          }
        });
        // the state changed: look again at once rather than after loop_wait (e.g. a demoted
        // primary comes back as a standby, a promoted one publishes its role)
        if (this.#followUps < MAX_FOLLOW_UPS) {
          this.#followUps++;
          this.#rerun = true;
        }
      } catch (e) {
        if (e instanceof InvariantViolation) throw e;
        // logged by runActions; the next iteration re-observes after loop_wait. A failed
        // pg_rewind or start is not an etcd error: each failure counts under its action.
        if (e instanceof ActionFailed) metrics.countActionFailure(e.action.kind);
        if (isDcsError(e)) metrics.countDcsError();
      }
    } else this.#followUps = 0;
    const after = decision.actions.length > 0 ? await pg.observe(clock.monotonicMs()) : pgObs;
    this.#lastPg = after;
    await this.#applyParameters(after);
    await this.#leaderDuties(store.view(), after);
    this.#publish(store.view(), after, decision);
    await this.#writeMember(after);
  }

  /**
   * Holding the key without a running primary (a start or a promotion failing, not only a
   * crash) counts as a primary that is down: `primary_start_timeout` runs from the first loop
   * that saw it, so a holder that cannot get a primary up hands the key over (rule: the
   * cluster must not stay without a writable primary while another member could be one).
   */
  #downUnderKey(view: ClusterView | null, pgObs: PgObservation, nowMs: number): PgObservation {
    if (!this.#holdsLeaderKey(view) || pgObs.dataDir !== 'initialized' || isRunningPrimary(pgObs)) {
      this.#downUnderKeySinceMs = null;
      return pgObs;
    }
    this.#downUnderKeySinceMs ??= nowMs;
    return pgObs.crashedAtMs !== null ? pgObs : { ...pgObs, crashedAtMs: this.#downUnderKeySinceMs };
  }

  /** The evidence bounds and the guard's period follow the dynamic timing and parameters. */
  #applyTiming(): void {
    const isolationMs = this.#dyn.primaryIsolationTimeoutMs;
    this.#o.pg.evidenceBounds = evidenceBoundsFor(this.#configuredParameters(), isolationMs);
    this.#guard.setIntervalMs(replicationSampleMs(isolationMs));
  }

  /**
   * The safety guard found a running primary that must stop now (rule 2). Runs the demotion
   * through the executor even while an iteration is under way — stopping writes is always
   * safe, and that iteration may be stuck on etcd — then lets the loop take it from there.
   */
  /**
   * While a synchronous standby named in the key has stopped answering, every commit waits for
   * it: the loop replaces it now rather than up to loop_wait later.
   */
  #wakeIfSyncStandbyGone(streaming: readonly MemberName[]): void {
    const sync = this.#o.store.view()?.sync ?? null;
    if (sync === null || sync.leader !== this.#o.config.name || this.#dyn.synchronousMode === 'off') return;
    const gone = sync.syncStandbys.filter((n) => !streaming.includes(n));
    const key = gone.join(',');
    if (key !== '' && key !== this.#syncGoneWoken) this.wake(`synchronous standby ${key} stopped answering`);
    this.#syncGoneWoken = key;
  }

  async #enforce(decision: Decision, obs: Observation): Promise<void> {
    const { pg, clock, metrics, store } = this.#o;
    metrics.countDecision(decision.reason.code);
    this.#logChange(decision, obs.pg);
    this.#lastDecision = decision;
    try {
      await runActions(decision.actions, this.#actContext(obs.dcs.view, obs.pg));
    } catch (e) {
      if (e instanceof InvariantViolation) return this.#invariantViolated(e);
      // logged by runActions; the loop decides again on what it then observes
    }
    const after = await pg.observe(clock.monotonicMs());
    this.#lastPg = after;
    this.#lastObs = { ...obs, pg: after };
    this.#publish(store.view(), after, decision);
    this.wake('safety guard demoted');
  }

  /** Peers are asked during elections only; a dead peer must not stall the election. */
  #peerTimeoutMs(): number {
    return Math.min(1000, this.#dyn.retryTimeoutMs);
  }

  #logChange(d: Decision, pgObs: PgObservation): void {
    const prev = this.#lastDecision;
    if (prev !== null && prev.role === d.role && prev.reason.code === d.reason.code) return;
    const lsn = pgObs.flushLsn ?? pgObs.replayLsn ?? pgObs.receiveLsn;
    this.#log.info(
      {
        from: prev?.role ?? null,
        to: d.role,
        reasonCode: d.reason.code,
        timeline: pgObs.timeline,
        lsn: lsn === null ? null : lsn.toString(),
        actions: d.actions.map((a) => a.kind),
      },
      d.reason.text,
    );
  }

  #holdsLeaderKey(view: ClusterView | null): boolean {
    const l = view?.leader;
    const leaseId = this.#o.store.leaseId();
    return (
      l !== undefined &&
      l !== null &&
      l.name === this.#o.config.name &&
      leaseId !== null &&
      l.leaseId === leaseId
    );
  }

  #publish(view: ClusterView | null, pgObs: PgObservation, decision: Decision | null): void {
    const { store, clock, metrics, pg } = this.#o;
    this.#snapshot = buildSnapshot({
      version: this.#o.version,
      config: this.#o.config,
      dyn: this.#dyn,
      view,
      pg: pgObs,
      status: pg.lastStatus,
      decision,
      holdsLeaderKey: this.#holdsLeaderKey(view),
      leaseDeadlineMs: store.leaseDeadlineMs(),
      dcsReachable: store.reachable(),
      dcsLastSeenS: this.#dcsLastSeenS,
      nowMonotonicMs: clock.monotonicMs(),
      parameterProblem: this.#params.problem,
    });
    metrics.observeSnapshot(this.#snapshot);
    this.#o.onSnapshot?.(this.#snapshot);
  }

  async #writeMember(pgObs: PgObservation): Promise<void> {
    try {
      await this.#o.store.writeMember(memberJson(this.#o.config, pgObs, this.#snapshot, this.#o.version));
    } catch (e) {
      this.#o.metrics.countDcsError();
      this.#log.warn({ err: errorText(e) }, 'could not write the member key');
    }
  }

  /**
   * The Postgres parameters this node should run with. In synchronous mode hapg owns
   * `synchronous_standby_names` (a value in `parameters` is ignored); with the mode off the
   * operator's own value, if any, stands, as in Patroni.
   */
  desiredParameters(ssn?: string): Record<string, string | number | boolean> {
    const merged = this.#configuredParameters();
    if (this.#dyn.synchronousMode !== 'off' || ssn !== undefined)
      merged.synchronous_standby_names = ssn ?? this.#sync.desiredSsn(this.#o.store.view(), this.#dyn);
    return merged;
  }

  /** The parameters from the dynamic and the local config, over the replication timing hapg sets. */
  #configuredParameters(): Record<string, string | number | boolean> {
    return {
      // the replies the isolation rule relies on (rule 2); the operator's values win
      ...replicationTimingParameters(this.#dyn.ttlMs),
      ...mergeParameters(this.#dyn.postgresql.parameters, this.#o.config.postgresql.parameters),
    };
  }

  /**
   * Applies a change of the parameters (a `hactl edit-config`, a reloaded YAML, a new
   * `synchronous_standby_names`) to the running server: rewrite postgresql.conf and reload.
   * Settings that need a restart show up as pending_restart (member key, `hactl list`)
   * until `hactl restart --pending`; what Postgres refused, as `status_reason` (see
   * `ParameterApplier`). Returns false when it could not.
   */
  async #applyParameters(pgObs: PgObservation, ssn?: string): Promise<boolean> {
    const { config, store } = this.#o;
    // a changed pg_hba list (hactl edit-config) is applied by the same rewrite and reload
    const hba = effectivePgHba(config, this.#dyn);
    const running = pgObs.process === 'running' && pgObs.inRecovery !== null;
    return this.#params.apply({
      desired: this.desiredParameters(ssn),
      skipped: this.#dyn.postgresql.skippedParameters,
      hba,
      hbaShadowed: (this.#dyn.postgresql.pgHba?.length ?? 0) > 0 && hba === config.postgresql.pgHba,
      reload: running
        ? {
            role: pgObs.inRecovery ? 'replica' : 'primary',
            // a just-promoted primary still remembers whom it followed: that member may be dead
            follow: () =>
              pgObs.following === null || pgObs.inRecovery === false
                ? null
                : followTarget(
                    { view: store.view(), name: config.name, useSlots: this.#dyn.postgresql.useSlots },
                    pgObs.following,
                  ),
          }
        : null,
    });
  }

  /** Renders and reloads a new `synchronous_standby_names`, then checks the server runs with it. */
  async #applySsn(value: string): Promise<void> {
    const pgObs = this.#lastPg;
    if (pgObs === null || !(await this.#applyParameters(pgObs, value)))
      throw new Error('could not render and reload synchronous_standby_names');
    const rows = await this.#o.pg.node.query<{ v: string }>(
      "SELECT current_setting('synchronous_standby_names') AS v",
    );
    const inForce = rows[0]?.v ?? null;
    if (inForce !== value) {
      // e.g. ALTER SYSTEM put a value in postgresql.auto.conf, which wins over our file
      throw new Error(
        `synchronous_standby_names is ${JSON.stringify(inForce)} after reload, not ${JSON.stringify(value)} (set in postgresql.auto.conf?)`,
      );
    }
  }

  /**
   * Replication slots on every running node (a slot per member and the permanent ones on the
   * leader; copies advanced on replicas so they survive a failover), and, while leading, the
   * `status` key with our optime and slot positions.
   */
  async #leaderDuties(view: ClusterView | null, pgObs: PgObservation): Promise<void> {
    const runningPrimary = pgObs.process === 'running' && pgObs.inRecovery === false;
    const holdsLeaderKey = this.#holdsLeaderKey(view);
    const { pg, store, clock } = this.#o;
    const syncInput = {
      view,
      dyn: this.#dyn,
      runningPrimary,
      holdsLeaderKey,
      replication: pg.lastStatus?.replication ?? [],
      responsive: pgObs.streamingReplicas,
    };
    if (!runningPrimary) await syncDuty(this.#sync, syncInput, this.#log);
    if (view === null || pgObs.process !== 'running' || pgObs.inRecovery === null) return;
    const leading = holdsLeaderKey && runningPrimary;
    if (!leading && runningPrimary) return; // a demoted primary waits for its rejoin
    const r = await this.#slots.tick({
      role: leading ? 'primary' : 'replica',
      view,
      dyn: this.#dyn,
      nowMs: clock.monotonicMs(),
      node: pg.node,
      flushLsn: pgObs.flushLsn,
      replayLsn: pgObs.replayLsn,
    });
    if (r.created.length > 0 || r.dropped.length > 0) {
      this.#log.info({ created: r.created, dropped: r.dropped }, 'replication slots changed');
    }
    if (!leading) return;
    await syncDuty(this.#sync, syncInput, this.#log);
    if (pgObs.flushLsn === null) return;
    try {
      await store.putStatus({
        optime: Number(pgObs.flushLsn),
        slots: r.status.slots,
        retainSlots: r.status.retainSlots,
      });
    } catch (e) {
      this.#log.warn({ err: errorText(e) }, 'could not write the status key');
    }
  }

  /** On each renewal, move the fence's deadline while we run a primary. */
  async #rearmFence(): Promise<void> {
    const last = this.#lastPg;
    if (last === null || last.inRecovery === true) return;
    // A postmaster we cannot probe (refusing us, or in a long crash recovery) may be a primary:
    // while we hold the key its fence moves with our lease like any primary's. Left armed at
    // its start deadline, the fence would kill it every ttl and the loop start it again.
    if (last.inRecovery === null && !(this.#o.pg.node.running && this.#holdsLeaderKey(this.#o.store.view())))
      return;
    await this.#armFence();
  }

  async #armFence(): Promise<void> {
    const { store, pg, fence } = this.#o;
    const deadline = store.leaseDeadlineMs();
    const pid = pg.node.pid;
    if (deadline === null || pid === null) return;
    await fence.arm(deadline, pid, pg.node.dataDir);
  }

  #actContext(view: ClusterView | null, pgObs: PgObservation): ExecContext {
    const o = this.#o;
    return {
      name: o.config.name,
      store: o.store,
      pg: this.#pgControl,
      fence: { arm: () => this.#armFence(), disarm: () => o.fence.disarm() },
      peers: restPeers,
      clock: realExecClock(o.clock),
      log: this.#log,
      view,
      retryTimeoutMs: this.#dyn.retryTimeoutMs,
      rejoin: {
        usePgRewind: o.config.postgresql.usePgRewind ?? this.#dyn.postgresql.usePgRewind,
        removeDataDirectoryOnRewindFailure: this.#dyn.postgresql.removeDataDirectoryOnRewindFailure,
      },
      previousLeader: this.#previousLeader,
      streamingReplicas: pgObs.streamingReplicas,
      useSlots: this.#dyn.postgresql.useSlots,
      syncMode: this.#dyn.synchronousMode,
      bootstrapDcs: o.config.bootstrap.dcsJson,
      onReleased: () => {
        this.#releasedLeaderAtMs = o.clock.monotonicMs();
      },
      onPromoted: (reason) => {
        if (reason === 'switchover') o.metrics.countSwitchover();
        else o.metrics.countFailover();
      },
    };
  }

  #emptySnapshot(): NodeSnapshot {
    return buildSnapshot({
      version: this.#o.version,
      config: this.#o.config,
      dyn: this.#dyn,
      view: null,
      pg: {
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
      },
      status: null,
      decision: null,
      holdsLeaderKey: false,
      leaseDeadlineMs: null,
      dcsReachable: false,
      dcsLastSeenS: null,
      nowMonotonicMs: this.#o.clock.monotonicMs(),
    });
  }
}

/** An etcd request failed somewhere in `e`'s cause chain (`DCS_*` codes). */
function isDcsError(e: unknown): boolean {
  for (let c: unknown = e; c instanceof Error; c = c.cause) {
    if (isHapgError(c) && c.code.startsWith('DCS_')) return true;
  }
  return false;
}
