import {
  type Action,
  type Clock,
  type ClusterView,
  configuredParameters,
  type Decision,
  type DynamicConfig,
  decide,
  effectivePgHba,
  errorText,
  evidenceBoundsFor,
  holdsLeaderKey,
  InvariantViolation,
  isHapgError,
  leaderRenewIntervalMs,
  type MemberName,
  type NodeConfig,
  type Observation,
  type PgObservation,
  replicationSampleMs,
} from '@hapg/core';
import type { EtcdStore } from '@hapg/dcs';
import type { NodeSnapshot } from './api/snapshot.js';
import { runLeaderDuties } from './duties/leader-duties.js';
import { type ParameterInput, ParameterDuty } from './duties/parameters.js';
import { DynamicConfigReader } from './dynamic-config.js';
import { ActionFailed, type ExecContext, runActions } from './executor/execute.js';
import { localPostgresControl, realExecClock, restPeers } from './executor/local-ports.js';
import type { ExecClock, HooksPort, PostgresControl } from './executor/ports.js';
import { restartInPlaceActions } from './executor/requests.js';
import type { LocalPostgres } from './local-pg.js';
import type { Logger } from './logger.js';
import {
  type AgentMemory,
  FRESH_MEMORY,
  prePromoteFailed,
  prePromoteFailure as prePromoteFailureOf,
  released,
} from './loop/memory.js';
import { CallbackRunner, localHooks } from './hooks/index.js';
import { type EventJournal, LoopEvents } from './events/index.js';
import {
  AgentFailsafe,
  type FailsafePromises,
  httpFailsafePost,
  type LongestPromiseFile,
} from './failsafe/index.js';
import { observe } from './loop/observer.js';
import { viewChangeWakes } from './loop/wake.js';
import { formatApiUrl, formatConnUrl } from './conn.js';
import { memberJson, streamingFrom } from './member.js';
import type { AgentMetrics } from './metrics.js';
import { SafetyGuard } from './loop/safety-guard.js';
import { SlotManager } from './duties/slots/index.js';
import { EMPTY_PG_OBSERVATION, buildSnapshot, joinReasons } from './snapshot-build.js';
import { SyncManager } from './duties/sync/sync-manager.js';
import { sqlSyncPostgres } from './duties/sync/sync-postgres.js';

const MAX_FOLLOW_UPS = 3;
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

/** Arms/disarms the fence; never throws (a fence failure is logged and shown, not fatal). */
export interface Fence {
  /** `ttlMs`: the lease ttl, for the watchdog's expected timeout (ttl − safety_margin) */
  arm(deadlineMs: number, pid: number, dataDir: string, ttlMs?: number): Promise<boolean>;
  disarm(): Promise<void>;
  /** `watchdog.mode: required`: why this node may not lead (`Observation.self.watchdogFailure`); null: fine */
  watchdogFailure?(timing: { readonly ttlMs: number; readonly loopWaitMs: number }): Promise<string | null>;
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
  /** where the loop reports role changes, failovers, crashes... (`GET /events`, the webhook) */
  readonly events?: EventJournal;
  /** failsafe mode's promises, and where the longest one is recorded (docs/failsafe.md M2–M4) */
  readonly failsafe: { readonly promises: FailsafePromises; readonly promiseFile: LongestPromiseFile };
}

/**
 * The scheduler of observe → decide → act → duties. Runs every `loop_wait` and at once on an
 * etcd event that matters (leader key gone, failover/config change), on the lease deadline,
 * and on the Postgres child's exit; operator requests run between iterations, never beside
 * them. One iteration at a time; a wake-up during an iteration runs another right after it.
 *
 * The parts live elsewhere: `loop/observer.ts` builds the Observation, core's `decide` decides,
 * `executor/` carries out the actions (the simulator runs the same executor), `duties/` renders
 * parameters and runs the slot, sync and status duties, `loop/memory.ts` is what the agent
 * remembers, and `safety-guard.ts` re-checks a primary between iterations.
 */
export class HaLoop {
  #o: HaOptions;
  readonly #log: Logger;
  #snapshot: NodeSnapshot;
  #dyn: DynamicConfig;
  readonly #dynReader: DynamicConfigReader;
  #memory: AgentMemory = FRESH_MEMORY;
  #lastDecision: Decision | null = null;
  /** what the last iteration decided on (the safety guard re-checks it with fresh evidence) */
  #lastObs: Observation | null = null;
  #lastPg: PgObservation | null = null;
  #prevView: ClusterView | null = null;
  #dcsLastSeenS: number | null = null;
  // scheduling
  #running = false;
  #rerun = false;
  #stopped = false;
  #timer: NodeJS.Timeout | null = null;
  #loopDone: Promise<void> = Promise.resolve();
  /** immediate follow-up iterations after successful actions, bounded so a decision cannot spin */
  #followUps = 0;
  /** operator requests (restart, reinit) run by the loop between iterations, never beside them */
  readonly #exclusive: (() => Promise<void>)[] = [];
  /** the silent synchronous standbys the loop was last woken for (once per change, not per sample) */
  #syncGoneWoken = '';
  // the parts
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

  constructor(o: HaOptions) {
    this.#o = o;
    this.#log = o.log.child({ component: 'ha' });
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
      urls: () => {
        const { postgresql, restapi } = this.#o.config;
        return {
          connUrl: formatConnUrl(postgresql.connectAddress.host, postgresql.connectAddress.port),
          apiUrl: formatApiUrl(
            restapi.connectAddress.host,
            restapi.connectAddress.port,
            restapi.certfile !== null,
          ),
        };
      },
      onExtended: () => {
        void this.#rearmFence();
        this.#publish(this.#o.store.view(), this.#lastPg ?? EMPTY_PG_OBSERVATION, this.#lastDecision);
      },
      onRefused: () => void this.#guard.tick(),
    });
    this.#dynReader = new DynamicConfigReader({ log: this.#log, bootstrap: o.config.bootstrap.dcs });
    this.#dyn = this.#dynReader.read(o.store.view(), null);
    // nothing observed yet: no view, no probe, no lease
    this.#snapshot = buildSnapshot({
      version: o.version,
      config: o.config,
      dyn: this.#dyn,
      view: null,
      pg: EMPTY_PG_OBSERVATION,
      status: null,
      decision: null,
      holdsLeaderKey: false,
      leaseDeadlineMs: null,
      dcsReachable: false,
      dcsLastSeenS: null,
      nowMonotonicMs: o.clock.monotonicMs(),
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
    o.store.on('lease-lost', () => this.failsafe.leaseLost());
    o.store.on('change', (view) => {
      const prev = this.#prevView;
      this.#prevView = view;
      if (viewChangeWakes(prev, view)) this.wake('cluster view changed');
    });
    o.pg.node.on('exit', (exit) => {
      // An exit during our own start is that start failing: the action reports it, and the
      // next attempt waits for loop_wait instead of spinning (no crash loop).
      const duringStart = o.pg.transition === 'starting';
      const crash = o.pg.onExit(exit.expected || duringStart, o.clock.monotonicMs());
      if (crash) {
        this.#log.warn({ ...exit }, 'Postgres exited unexpectedly');
        // the fence kills a primary whose deadline (lease or failsafe) passed: that is the fence firing
        const deadline = this.failsafe.writableUntilMs();
        const fenced =
          this.#lastPg?.inRecovery === false && (deadline === null || o.clock.monotonicMs() >= deadline);
        const role = this.#lastPg?.inRecovery === false ? 'primary' : 'replica';
        this.#events.report(
          {
            type: fenced ? 'fence_fired' : 'postgres_crash',
            oldRole: role,
            newRole: null,
            reason: {
              code: fenced ? 'LEASE_DEADLINE_PASSED' : 'POSTGRES_CRASHED',
              text: fenced
                ? 'the fence stopped Postgres: its deadline (the lease, or in failsafe mode the failsafe deadline) passed'
                : `Postgres exited unexpectedly (${exit.signal ?? `code ${exit.code}`})`,
            },
          },
          this.#lastPg,
        );
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
    return this.#snapshot;
  }

  dynamicConfig(): DynamicConfig {
    return this.#dyn;
  }

  start(): void {
    this.#guard.start();
    this.failsafe.start();
    this.wake('start');
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#guard.stop();
    this.failsafe.stop();
    if (this.#timer) clearTimeout(this.#timer);
    await this.#loopDone;
  }

  /** The executor's hooks, for the stop at shutdown (`before_stop`, `on_stop`). */
  get hooks(): HooksPort {
    return this.#hooks;
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
   * like any decision (`restartInPlaceActions`): a primary restarts only after etcd confirms
   * its key, with its lease ahead, and the fence armed with the *new* postmaster before this
   * returns; a replica comes back following whom it followed, with or without a slot.
   */
  restartInPlace(): Promise<void> {
    return this.runExclusive(async () => {
      const pgObs = await this.#o.pg.observe(this.#o.clock.monotonicMs());
      const asPrimary = this.#snapshot.holdsLeaderKey && pgObs.inRecovery === false;
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

  /** One iteration: operator requests, observe, decide, act, duties, publish. */
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
    // the config key's problems are logged once per write of the key, not every loop
    this.#dyn = this.#dynReader.read(view, this.#dyn);
    this.#applyTiming();
    // a start or clone in this loop writes pg_hba.conf from the current dynamic config
    pg.node.setPgHba(effectivePgHba(config, this.#dyn));
    const seen = await observe(
      { ...this.#o, failsafe: this.failsafe },
      { config, dyn: this.#dyn, view, memory: this.#memory },
    );
    this.#memory = seen.memory;
    const { obs } = seen;
    this.#lastPg = obs.pg;
    const decision = decide(obs, clock.monotonicMs());
    this.#lastObs = obs;
    // The leader renews more often: it bounds how soon an isolated primary notices (rule 2).
    store.setRenewIntervalMs(
      decision.role === 'primary' ? leaderRenewIntervalMs(this.#dyn.primaryIsolationTimeoutMs) : null,
    );
    this.#recordDecision(decision, obs.pg);
    this.#publish(view, obs.pg, decision);
    if (decision.actions.length > 0) {
      try {
        await runActions(decision.actions, this.#execContext(view, obs.pg), async (kind) => {
          if (kind === 'rejoin') {
            const leader = view?.leader?.name ?? null;
            this.#events.report(
              {
                type: 'rejoin',
                oldRole: 'demoted',
                newRole: 'replica',
                newLeader: leader,
                reason: {
                  code: decision.reason.code,
                  text: `rejoined ${leader ?? 'the leader'} as a replica`,
                },
              },
              this.#lastPg,
            );
          }
          if (PUBLISH_AFTER.has(kind))
            this.#publish(store.view(), await pg.observe(clock.monotonicMs()), decision);
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
    const after = decision.actions.length > 0 ? await pg.observe(clock.monotonicMs()) : obs.pg;
    this.#lastPg = after;
    await this.#params.apply({ config, dyn: this.#dyn, view: store.view(), pg: after });
    await runLeaderDuties(
      { slots: this.#slots, sync: this.#sync, store, node: pg.node, log: this.#log },
      {
        view: store.view(),
        dyn: this.#dyn,
        pg: after,
        status: pg.lastStatus,
        holdsLeaderKey: this.#holdsLeaderKey(store.view()),
        nowMs: clock.monotonicMs(),
        syncFrozen: this.failsafe.syncFrozen(),
      },
    );
    await this.failsafe.afterIteration(store.view(), after);
    this.#publish(store.view(), after, decision);
    await this.#writeMember(after);
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
    this.#recordDecision(decision, obs.pg);
    try {
      await runActions(decision.actions, this.#execContext(obs.dcs.view, obs.pg));
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

  /** Counts the decision, and logs it when the role or the reason changed. */
  #recordDecision(d: Decision, pgObs: PgObservation): void {
    this.#o.metrics.countDecision(d.reason.code);
    const prev = this.#lastDecision;
    this.#lastDecision = d;
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
    return holdsLeaderKey(view, this.#o.config.name, this.#o.store.leaseId());
  }

  #parameterInput(): ParameterInput | null {
    const pg = this.#lastPg;
    if (pg === null) return null;
    return { config: this.#o.config, dyn: this.#dyn, view: this.#o.store.view(), pg };
  }

  #publish(view: ClusterView | null, pgObs: PgObservation, decision: Decision | null): void {
    const { store, clock, pg } = this.#o;
    const watchdogFailure = this.#lastObs?.self.watchdogFailure ?? null;
    // from memory, not the last observation: a pre_promote that failed in this very loop keeps
    // peers from deferring to us at once, not a loop later
    const prePromoteFailure = prePromoteFailureOf(this.#memory, clock.monotonicMs(), this.#dyn.ttlMs);
    const snapshot = buildSnapshot({
      version: this.#o.version,
      config: this.#o.config,
      dyn: this.#dyn,
      view,
      pg: pgObs,
      status: pg.lastStatus,
      decision,
      holdsLeaderKey: this.#holdsLeaderKey(view),
      leaderWithoutEtcd: this.failsafe.deadlineAhead(),
      leaseDeadlineMs: store.leaseDeadlineMs(),
      dcsReachable: store.reachable(),
      dcsLastSeenS: this.#dcsLastSeenS,
      nowMonotonicMs: clock.monotonicMs(),
      parameterProblem: joinReasons(joinReasons(this.#params.problem, watchdogFailure), prePromoteFailure),
    });
    this.#snapshot = {
      ...snapshot,
      ...(watchdogFailure === null ? {} : { watchdogFailed: true }),
      ...(prePromoteFailure === null ? {} : { prePromoteFailed: true }),
      ...(this.failsafe.active() ? { failsafeActive: true } : {}),
      failsafeDeadlineMs: this.failsafe.observation().failsafeDeadlineMs ?? null,
    };
    this.#o.metrics.observeSnapshot(this.#snapshot);
    this.#o.onSnapshot?.(this.#snapshot);
    this.#events.published(this.#snapshot, view, pgObs, decision);
  }

  async #writeMember(pgObs: PgObservation): Promise<void> {
    try {
      const from =
        pgObs.inRecovery === true
          ? streamingFrom(
              this.#o.pg.lastStatus?.walReceiver ?? null,
              this.#o.store.view()?.members.values() ?? [],
            )
          : null;
      await this.#o.store.writeMember(
        memberJson(this.#o.config, pgObs, this.#snapshot, this.#o.version, from),
      );
    } catch (e) {
      this.#o.metrics.countDcsError();
      this.#log.warn({ err: errorText(e) }, 'could not write the member key');
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

  /**
   * Arms the fence with W (the lease deadline, or the failsafe deadline when later) and the
   * postmaster running *now*.
   */
  async #armFence(): Promise<void> {
    const { pg, fence } = this.#o;
    const deadline = this.failsafe.writableUntilMs();
    const pid = pg.node.pid;
    if (deadline === null || pid === null) return;
    await fence.arm(deadline, pid, pg.node.dataDir, this.#dyn.ttlMs);
  }

  #execContext(view: ClusterView | null, pgObs: PgObservation): ExecContext {
    const o = this.#o;
    return {
      name: o.config.name,
      store: o.store,
      pg: this.#pgControl,
      fence: { arm: () => this.#armFence(), disarm: () => o.fence.disarm() },
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
