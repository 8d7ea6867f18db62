import {
  type Action,
  type Clock,
  type ClusterView,
  configuredParameters,
  type Decision,
  type DynamicConfig,
  decide,
  effectivePgHba,
  evidenceBoundsFor,
  InvariantViolation,
  isHapgError,
  leaderRenewal,
  type MemberName,
  type NodeConfig,
  type Observation,
  type PgObservation,
  replicationSampleMs,
} from '@hapg/core';
import type { EtcdStore } from '@hapg/dcs';
import type { NodeSnapshot } from './api/snapshot.js';
import { runLeaderDuties } from './duties/leader-duties.js';
import { ParameterDuty, type ParameterInput } from './duties/parameters.js';
import { SlotManager } from './duties/slots/index.js';
import { SyncManager } from './duties/sync/sync-manager.js';
import { adoptSsnInForce } from './duties/sync/duty.js';
import { sqlSyncPostgres } from './duties/sync/sync-postgres.js';
import { DynamicConfigReader } from './dynamic-config.js';
import { type EventJournal, LoopEvents } from './events/index.js';
import { ActionFailed, type ExecContext, runActions } from './executor/execute.js';
import { localPostgresControl, realExecClock, restPeers } from './executor/local-ports.js';
import type { ExecClock, HooksPort, PostgresControl } from './executor/ports.js';
import { restartInPlaceActions } from './executor/requests.js';
import {
  AgentFailsafe,
  type FailsafePromises,
  httpFailsafePost,
  type LongestPromiseFile,
} from './failsafe/index.js';
import { CallbackRunner, localHooks } from './hooks/index.js';
import type { LocalPostgres } from './local-pg.js';
import type { Logger } from './logger.js';
import { type Fence, FenceArming } from './loop/fence-arming.js';
import { type AgentMemory, FRESH_MEMORY, prePromoteFailed, released } from './loop/memory.js';
import { observe } from './loop/observer.js';
import { StatusPublisher } from './loop/publisher.js';
import { SafetyGuard } from './loop/safety-guard.js';
import { LoopScheduler } from './loop/scheduler.js';
import { viewChangeWakes } from './loop/wake.js';
import { EMPTY_PG_OBSERVATION } from './snapshot-build.js';
import { ownUrls } from './member.js';
import { rememberSilence } from './fast-failover/recent-silence.js';
import { agentTakeoverProbes } from './fast-failover/agent-probes.js';
import type { TakeoverProbes } from './fast-failover/evidence.js';
import { SilenceWatch } from './fast-failover/silence-watch.js';
import type { AgentMetrics } from './metrics.js';

export type { Fence } from './loop/fence-arming.js';

/**
 * Steps after which the REST status is published at once, mid-run: peers read it during
 * elections (a switchover target must not see us as a running primary once we stopped), and
 * health checks must see a rebound key as ours without waiting for the iteration's end.
 */
const PUBLISH_AFTER: ReadonlySet<Action['kind']> = new Set([
  'demote',
  'promote',
  'releaseLeader',
  'startPostgres',
  'acquireLeader',
]);

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
  /** where the loop reports role changes, failovers, crashes... (`GET /events`, the webhook) */
  readonly events?: EventJournal;
  /** failsafe mode's promises, and where the longest one is recorded (docs/failsafe.md M2–M4) */
  readonly failsafe: { readonly promises: FailsafePromises; readonly promiseFile: LongestPromiseFile };
}

/**
 * The HA loop: one iteration is operator requests, observe, decide, act, duties, publish. It
 * runs every `loop_wait` and at once on an etcd event that matters (leader key gone,
 * failover/config change), on the lease deadline, and on the Postgres child's exit.
 *
 * This file wires the parts and runs the iteration; the parts live elsewhere:
 * `loop/scheduler.ts` decides when an iteration runs, `loop/observer.ts` builds the
 * Observation, core's `decide` decides, `executor/` carries out the actions (the simulator
 * runs the same executor), `duties/` renders parameters and runs the slot, sync and status
 * duties, `loop/memory.ts` is what the agent remembers, `loop/publisher.ts` publishes the
 * status and the member key, `loop/fence-arming.ts` moves the fence with W, and
 * `loop/safety-guard.ts` re-checks a primary between iterations.
 */
export class HaLoop {
  #o: HaOptions;
  readonly #log: Logger;
  #dyn: DynamicConfig;
  readonly #dynReader: DynamicConfigReader;
  #memory: AgentMemory = FRESH_MEMORY;
  /** what the last iteration decided on (the safety guard re-checks it with fresh evidence) */
  #lastObs: Observation | null = null;
  #lastPg: PgObservation | null = null;
  /** the last decision made us the primary: the lease renews by the leader's plan */
  #leading = false;
  /** the last replication sample, since we lead, that was quiet (see `#planRenewal`) */
  #lastQuietAtMs: number | null = null;
  #prevView: ClusterView | null = null;
  /** the silent synchronous standbys the loop was last woken for (once per change, not per sample) */
  #syncGoneWoken = '';
  // the parts
  readonly #scheduler: LoopScheduler;
  readonly #publisher: StatusPublisher;
  readonly #fence: FenceArming;
  readonly #pgControl: PostgresControl;
  /** the executor's and the sync duty's clock: the agent's, with real sleeps */
  readonly #execClock: ExecClock;
  readonly #params: ParameterDuty;
  readonly #slots: SlotManager;
  readonly #sync: SyncManager;
  readonly #guard: SafetyGuard;
  /** role changes, promotions, crashes... as events (`GET /events`, the webhook) */
  readonly #events: LoopEvents;
  /** `postgresql.callbacks`, run in the background */
  readonly #callbacks: CallbackRunner;
  /** the executor's hooks: `pre_promote`, `before_stop`, the callbacks */
  readonly #hooks: HooksPort;
  /** failsafe mode: promises, rounds, the failsafe key */
  readonly failsafe: AgentFailsafe;
  /** fast failover: the probes of a leader that may be gone, and the stream sampler between loops */
  readonly #takeoverProbes: TakeoverProbes;
  readonly #silenceWatch: SilenceWatch;

  constructor(o: HaOptions) {
    this.#o = o;
    this.#log = o.log.child({ component: 'ha' });
    this.#scheduler = new LoopScheduler({
      iteration: () => this.#iteration(),
      loopWaitMs: () => this.#dyn.loopWaitMs,
      monotonicMs: () => o.clock.monotonicMs(),
      log: this.#log,
      onRunSeconds: (s) => o.metrics.observeLoopDurationSeconds(s),
      onInvariantViolation: (e) => {
        this.#guard.stop();
        this.#o.onInvariantViolation?.(e);
      },
    });
    this.#events = new LoopEvents(o.events, o.config.name);
    this.#slots = new SlotManager({
      name: o.config.name,
      log: o.log.child({ component: 'slots' }),
      // logical slots live in their own database: connect there as the superuser, over the
      // local socket first like every other connection of the agent to its own server
      connectIn: (database) => o.pg.node.localConnectOptions(database),
    });
    this.#execClock = realExecClock(o.clock);
    const hooksLog = o.log.child({ component: 'hooks' });
    this.#callbacks = new CallbackRunner({
      config: () => this.#o.config.postgresql.hooks,
      scope: o.config.scope,
      log: hooksLog,
    });
    this.#hooks = localHooks({
      config: () => this.#o.config.postgresql.hooks,
      callbacks: this.#callbacks,
      log: hooksLog,
    });
    this.#pgControl = localPostgresControl(o.pg, { config: () => this.#o.config, log: this.#log });
    this.#sync = new SyncManager({
      name: o.config.name,
      store: o.store,
      pg: sqlSyncPostgres(o.pg.node, (value) => this.#params.applySsn(value, this.#parameterInput())),
      clock: this.#execClock,
      log: o.log.child({ component: 'sync' }),
    });
    this.#params = new ParameterDuty({
      node: o.pg.node,
      log: this.#log,
      desiredSsn: (view, dyn) => this.#sync.desiredSsn(view, dyn),
      onReloaded: (role) => this.#callbacks.reloaded(role),
    });
    this.failsafe = new AgentFailsafe({
      name: o.config.name,
      scope: o.config.scope,
      store: o.store,
      promises: o.failsafe.promises,
      promiseFile: o.failsafe.promiseFile,
      monotonicMs: () => o.clock.monotonicMs(),
      post: httpFailsafePost(() => this.#o.config.restapi.authentication),
      log: o.log.child({ component: 'failsafe' }),
      dyn: () => this.#dyn,
      lastPg: () => this.#lastPg,
      urls: () => ownUrls(this.#o.config),
      onExtended: () => {
        void this.#fence.deadlineMoved();
        this.#publish(o.store.view(), this.#lastPg);
      },
      onRefused: () => void this.#guard.tick(),
    });
    this.#dynReader = new DynamicConfigReader({ log: this.#log, bootstrap: o.config.bootstrap.dcs });
    this.#dyn = this.#dynReader.read(o.store.view(), null);
    this.#publisher = new StatusPublisher({
      version: o.version,
      store: o.store,
      pg: o.pg,
      clock: o.clock,
      metrics: o.metrics,
      log: this.#log,
      events: this.#events,
      failsafe: this.failsafe,
      ...(o.onSnapshot === undefined ? {} : { onSnapshot: o.onSnapshot }),
      state: () => ({
        config: this.#o.config,
        dyn: this.#dyn,
        memory: this.#memory,
        watchdogFailure: this.#lastObs?.self.watchdogFailure ?? null,
        parameterProblem: this.#params.problem,
      }),
    });
    this.#fence = new FenceArming({
      pg: o.pg,
      fence: o.fence,
      writableUntilMs: () => this.failsafe.writableUntilMs(),
      ttlMs: () => this.#dyn.ttlMs,
      holdsLeaderKey: () => this.#publisher.holdsLeaderKey(o.store.view()),
      lastPg: () => this.#lastPg,
    });
    this.#guard = new SafetyGuard(
      {
        clock: o.clock,
        log: this.#log,
        lastObservation: () => this.#lastObs,
        lease: () => ({
          leaseId: o.store.leaseId(),
          leaseDeadlineMs: o.store.leaseDeadlineMs(),
          renewFailingSinceMs: o.store.renewFailingSinceMs(),
          ...this.failsafe.observation(),
        }),
        sampleReplication: async (nowMs) => {
          const streaming = await o.pg.sampleReplication(nowMs);
          this.#planRenewal();
          this.#wakeIfSyncStandbyGone(streaming);
          return streaming;
        },
        enforce: (d, obs) => this.#enforce(d, obs),
      },
      replicationSampleMs(this.#dyn.primaryIsolationTimeoutMs),
    );
    this.#takeoverProbes = rememberSilence(agentTakeoverProbes({ pg: o.pg.node, store: o.store }), () =>
      o.clock.monotonicMs(),
    );
    this.#silenceWatch = new SilenceWatch({
      lastObservation: () => this.#lastObs,
      probes: this.#takeoverProbes,
      wake: (why) => this.wake(why),
    });
    this.#listen();
  }

  /** The events that wake the loop (or move the fence) between two `loop_wait`s. */
  #listen(): void {
    const { store, pg, clock } = this.#o;
    store.on('leader-deleted', () => this.wake('leader key deleted'));
    store.on('deadline', () => this.wake('lease deadline passed'));
    store.on('renewed', (info) => {
      // etcd may revive a lease after its deadline fired: the loop re-verifies before trusting it
      if (info.afterDeadline) this.wake('lease renewed after its deadline');
      void this.#fence.deadlineMoved();
    });
    store.on('granted', () => this.wake('new lease'));
    store.on('lease-lost', () => this.failsafe.leaseLost());
    store.on('change', (view) => {
      const prev = this.#prevView;
      this.#prevView = view;
      if (viewChangeWakes(prev, view)) this.wake('cluster view changed');
    });
    pg.node.on('exit', (exit) => {
      // An exit during our own start is that start failing: the action reports it, and the
      // next attempt waits for loop_wait instead of spinning (no crash loop).
      const duringStart = pg.transition === 'starting';
      const crash = pg.onExit(exit.expected || duringStart, clock.monotonicMs());
      if (crash) {
        this.#log.warn({ ...exit }, 'Postgres exited unexpectedly');
        // the fence kills a primary whose deadline (lease or failsafe) passed: that is the fence firing
        const deadline = this.failsafe.writableUntilMs();
        const wasPrimary = this.#lastPg?.inRecovery === false;
        const fenced = wasPrimary && (deadline === null || clock.monotonicMs() >= deadline);
        this.#events.postgresExited(exit, fenced, this.#lastPg);
      }
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
    return this.#publisher.snapshot;
  }

  /** the last iteration's decision reason, as the log last printed its code (the dashboard shows it) */
  lastDecisionReason(): { readonly code: string; readonly text: string } | null {
    const d = this.#publisher.lastDecision;
    return d === null ? null : { code: d.reason.code, text: d.reason.text };
  }

  dynamicConfig(): DynamicConfig {
    return this.#dyn;
  }

  start(): void {
    this.#guard.start();
    this.#silenceWatch.start();
    this.failsafe.start();
    this.wake('start');
  }

  async stop(): Promise<void> {
    // no iteration starts from here on; the running one ends on its own
    const ended = this.#scheduler.stop();
    this.#guard.stop();
    this.#silenceWatch.stop();
    this.failsafe.stop();
    await ended;
  }

  /** The executor's hooks, for the stop at shutdown (`before_stop`, `on_stop`). */
  get hooks(): HooksPort {
    return this.#hooks;
  }

  /** Runs an iteration now (or right after the current one). */
  wake(why: string): void {
    this.#scheduler.wake(why);
  }

  /**
   * Runs `fn` inside the loop, between two iterations, so that it never races a decision
   * about the same Postgres. Resolves with its result once it ran.
   */
  runExclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.#scheduler.runExclusive(fn);
  }

  /**
   * A restart in place on request (REST, hactl, a schedule, `--pending`), run by the executor
   * like any decision (`restartInPlaceActions`): a primary restarts only after etcd confirms
   * its key, with its lease ahead, and the fence armed with the *new* postmaster before this
   * returns; a replica comes back following whom it followed, with or without a slot.
   */
  restartInPlace(): Promise<void> {
    return this.runExclusive(async () => {
      const pgObs = await this.#o.pg.observe(this.#o.clock.monotonicMs());
      const asPrimary = this.#publisher.snapshot.holdsLeaderKey && pgObs.inRecovery === false;
      const actions = restartInPlaceActions({ asPrimary, following: this.#o.pg.following });
      this.#log.info({ asPrimary, actions: actions.map((a) => a.kind) }, 'restarting Postgres on request');
      await runActions(actions, this.#execContext(this.#o.store.view(), pgObs));
    });
  }

  /**
   * Wipe the data directory and clone from `leader` again (REST `POST /reinitialize`), run by
   * the executor between iterations: the fence is disarmed first, slots follow `use_slots`.
   */
  reinitialize(leader: MemberName): Promise<void> {
    return this.runExclusive(async () => {
      this.#log.info({ leader }, 'reinitializing: wiping the data directory and cloning from the leader');
      const pgObs = await this.#o.pg.observe(this.#o.clock.monotonicMs());
      await runActions([{ kind: 'reinitialize', leader }], this.#execContext(this.#o.store.view(), pgObs));
    });
  }

  /** One iteration: observe, decide, act, duties, publish (operator requests ran just before). */
  async #iteration(): Promise<void> {
    const { store, pg, config, clock } = this.#o;
    const view = store.view();
    this.#publisher.storeRead();
    // the config key's problems are logged once per write of the key, not every loop
    this.#dyn = this.#dynReader.read(view, this.#dyn);
    this.#applyTiming();
    // a start or clone in this loop writes pg_hba.conf from the current dynamic config
    pg.node.setPgHba(effectivePgHba(config, this.#dyn));
    const seen = await observe(
      { ...this.#o, failsafe: this.failsafe, takeoverProbes: this.#takeoverProbes },
      { config, dyn: this.#dyn, view, memory: this.#memory },
    );
    this.#memory = seen.memory;
    const { obs } = seen;
    this.#lastPg = obs.pg;
    const decision = decide(obs, clock.monotonicMs());
    this.#lastObs = obs;
    this.#leading = decision.role === 'primary';
    this.#planRenewal();
    this.#publisher.record(decision, obs.pg);
    this.#publish(view, obs.pg);
    if (decision.actions.length > 0) await this.#act(decision, view, obs.pg);
    else this.#scheduler.settled();
    const after = decision.actions.length > 0 ? await pg.observe(clock.monotonicMs()) : obs.pg;
    this.#lastPg = after;
    const runningPrimary = after.process === 'running' && after.inRecovery === false;
    await adoptSsnInForce(this.#sync, { view: store.view(), dyn: this.#dyn, runningPrimary });
    await this.#params.apply({ config, dyn: this.#dyn, view: store.view(), pg: after });
    await runLeaderDuties(
      { slots: this.#slots, sync: this.#sync, store, node: pg.node, log: this.#log },
      {
        view: store.view(),
        dyn: this.#dyn,
        pg: after,
        status: pg.lastStatus,
        holdsLeaderKey: this.#publisher.holdsLeaderKey(store.view()),
        nowMs: clock.monotonicMs(),
        syncFrozen: this.failsafe.syncFrozen(),
      },
    );
    await this.failsafe.afterIteration(store.view(), after);
    this.#publish(store.view(), after);
    await this.#publisher.writeMember(after);
  }

  /** Runs the decision's actions; a failure is logged and counted, and the next loop re-observes. */
  async #act(decision: Decision, view: ClusterView | null, pgObs: PgObservation): Promise<void> {
    const { store, pg, clock, metrics } = this.#o;
    try {
      await runActions(decision.actions, this.#execContext(view, pgObs), async (kind) => {
        if (kind === 'rejoin')
          this.#events.rejoined(view?.leader?.name ?? null, decision.reason.code, this.#lastPg);
        if (PUBLISH_AFTER.has(kind)) this.#publish(store.view(), await pg.observe(clock.monotonicMs()));
      });
      this.#scheduler.followUp();
    } catch (e) {
      if (e instanceof InvariantViolation) throw e;
      // logged by runActions; the next iteration re-observes after loop_wait. A failed
      // pg_rewind or start is not an etcd error: each failure counts under its action.
      if (e instanceof ActionFailed) metrics.countActionFailure(e.action.kind);
      if (isDcsError(e)) metrics.countDcsError();
    }
  }

  /**
   * The leader renews by core's `leaderRenewal`: quickly while a cut could lose a commit, every
   * ttl/3 while its standbys hold everything and no WAL moves (rule 2 and issue 15); the others
   * by the lease keeper's rest plan. Called after every replication sample and decision.
   */
  #planRenewal(): void {
    const quietAtMs = this.#leading ? this.#o.pg.quietSampleMs() : null;
    if (!this.#leading) this.#lastQuietAtMs = null;
    else if (quietAtMs !== null) this.#lastQuietAtMs = Math.max(this.#lastQuietAtMs ?? quietAtMs, quietAtMs);
    this.#o.store.setRenewal(
      this.#leading
        ? leaderRenewal({
            ttlMs: this.#dyn.ttlMs,
            primaryIsolationTimeoutMs: this.#dyn.primaryIsolationTimeoutMs,
            quiet: quietAtMs !== null,
            lastQuietAtMs: this.#lastQuietAtMs,
          })
        : null,
    );
  }

  /** The evidence bounds and the guard's period follow the dynamic timing and parameters. */
  #applyTiming(): void {
    const isolationMs = this.#dyn.primaryIsolationTimeoutMs;
    const params = configuredParameters(this.#dyn, this.#o.config.postgresql.parameters);
    this.#o.pg.evidenceBounds = evidenceBoundsFor(params, isolationMs);
    this.#guard.setIntervalMs(replicationSampleMs(isolationMs));
  }

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

  /**
   * The safety guard found a running primary that must stop now (rule 2). Runs the demotion
   * through the executor even while an iteration is under way — stopping writes is always
   * safe, and that iteration may be stuck on etcd — then lets the loop take it from there.
   */
  async #enforce(decision: Decision, obs: Observation): Promise<void> {
    const { pg, clock, store } = this.#o;
    this.#publisher.record(decision, obs.pg);
    try {
      await runActions(decision.actions, this.#execContext(obs.dcs.view, obs.pg));
    } catch (e) {
      if (e instanceof InvariantViolation) return this.#scheduler.halt(e);
      // logged by runActions; the loop decides again on what it then observes
    }
    const after = await pg.observe(clock.monotonicMs());
    this.#lastPg = after;
    this.#lastObs = { ...obs, pg: after };
    this.#publish(store.view(), after);
    this.wake('safety guard demoted');
  }

  /** Publishes the status with the last decision recorded. */
  #publish(view: ClusterView | null, pgObs: PgObservation | null): void {
    this.#publisher.publish(view, pgObs ?? EMPTY_PG_OBSERVATION, this.#publisher.lastDecision);
  }

  #parameterInput(): ParameterInput | null {
    const pg = this.#lastPg;
    if (pg === null) return null;
    return { config: this.#o.config, dyn: this.#dyn, view: this.#o.store.view(), pg };
  }

  #execContext(view: ClusterView | null, pgObs: PgObservation): ExecContext {
    const o = this.#o;
    return {
      name: o.config.name,
      store: o.store,
      pg: this.#pgControl,
      fence: this.#fence,
      peers: restPeers,
      hooks: this.#hooks,
      failsafe: this.failsafe.port,
      clock: this.#execClock,
      log: this.#log,
      view,
      retryTimeoutMs: this.#dyn.retryTimeoutMs,
      rejoin: {
        usePgRewind: o.config.postgresql.usePgRewind ?? this.#dyn.postgresql.usePgRewind,
        removeDataDirectoryOnRewindFailure: this.#dyn.postgresql.removeDataDirectoryOnRewindFailure,
      },
      streamingReplicas: pgObs.streamingReplicas,
      useSlots: this.#dyn.postgresql.useSlots,
      syncMode: this.#dyn.synchronousMode,
      bootstrapDcs: o.config.bootstrap.dcsJson,
      onReleased: () => {
        this.#memory = released(this.#memory, o.clock.monotonicMs());
      },
      onPrePromoteFailed: (why) => {
        this.#memory = prePromoteFailed(this.#memory, o.clock.monotonicMs(), why);
      },
      onPromoted: (reason) => {
        if (reason === 'switchover') o.metrics.countSwitchover();
        else o.metrics.countFailover();
        this.#events.promoted(reason, this.#lastPg);
      },
    };
  }
}

/** An etcd request failed somewhere in `e`'s cause chain (`DCS_*` codes). */
function isDcsError(e: unknown): boolean {
  for (let c: unknown = e; c instanceof Error; c = c.cause) {
    if (isHapgError(c) && c.code.startsWith('DCS_')) return true;
  }
  return false;
}
