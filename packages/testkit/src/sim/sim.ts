import {
  type ActionHandlers,
  type ExecContext,
  HANDLERS,
  prePromoteFailed,
  released,
  restartInPlaceActions,
  runActions,
  SyncManager,
  type SyncPlanner,
  syncDuty,
} from '@hapg/agent';
import {
  type Action,
  type DecideConfig,
  type Decision,
  type DynamicConfig,
  decide,
  defaultDynamicConfig,
  holdsLeaderKey,
  InvariantViolation,
  type Observation,
  parseSsn,
  type SyncState,
  toLsn,
} from '@hapg/core';
import type { ReplicationRow } from '@hapg/postgres';
import { AckLedger, releasedLsn } from './commits.js';
import { SimEtcd, toClusterView } from './etcd.js';
import { type PgModel, SimNode, type SimTiming } from './node.js';
import {
  canStream,
  SimClock,
  type SimWorld,
  silentLog,
  simFence,
  simHooks,
  simPeers,
  simPostgres,
  simStore,
  simSyncPostgres,
} from './ports.js';
import { Prng } from './prng.js';

/** `synchronous_mode` settings of a simulated cluster (absent: asynchronous). */
export interface SimSyncConfig {
  readonly mode: 'on' | 'quorum';
  readonly strict: boolean;
  /** `synchronous_node_count` */
  readonly nodeCount: number;
}

export interface SimOptions {
  /** number of nodes; default: 2–5 chosen by the seed */
  readonly nodes?: number;
  /** phase 1 (faults on) length in steps */
  readonly faultSteps?: number;
  /** phase 2 (healed) length in steps: the liveness budget */
  readonly healSteps?: number;
  readonly stepMs?: number;
  /** per-step probability of injecting one fault in phase 1 */
  readonly faultRate?: number;
  /** lines of trace kept for the failure report */
  readonly traceLines?: number;
  /** model the fence (default true); off shows what the fence is for */
  readonly fence?: boolean;
  /** the decision function under test (default: `decide` from core); tests pass mutants */
  readonly decide?: (obs: Observation, nowMs: number) => Decision;
  /**
   * Synchronous replication (absent: asynchronous, the default). Models the `sync` key, the
   * leader's sync duty, commits acknowledged per `synchronous_standby_names`, and checks that
   * no acknowledged commit is lost by a promotion.
   */
  readonly sync?: SimSyncConfig;
  /** the leader duty's planner (default: core's planSyncUpdate); tests pass mutants */
  readonly syncPlan?: SyncPlanner;
  /** the executor's handlers (default: the agent's own, `HANDLERS`); tests pass mutants */
  readonly handlers?: ActionHandlers;
  /**
   * Also inject another tool's writes (issue 11): the leader key overwritten without a lease
   * (a made-up name, '', a member's name) or bound to a live lease but naming nobody, and
   * member keys deleted. Off by default, so the seeds of the other runs keep their schedule.
   */
  readonly hostileKeys?: boolean;
  /**
   * Also inject operators' requests (issue 13): a restart in place (`hactl restart`) and a
   * reinitialize of a replica (`hactl reinit`), run through the executor as the agent runs
   * them between loops. Off by default, so the seeds of the other runs keep their schedule.
   */
  readonly operatorRequests?: boolean;
  /**
   * Each `pre_promote` fails with this probability (issue 14): the promotion is aborted, the
   * key released, and the node stays out of elections for ttl. Unset: never, and no random
   * draw, so the seeds of the other runs keep their schedule.
   */
  readonly prePromoteFailRate?: number;
}

export interface SimResult {
  readonly seed: number;
  /** safety violations found in either phase (empty when safe) */
  readonly violations: readonly string[];
  /** phase 2 ended with exactly one leader: the key holder, running a writable primary */
  readonly live: boolean;
  readonly stats: {
    loops: number;
    faults: number;
    failovers: number;
    /** promotions a failing `pre_promote` aborted (`prePromoteFailRate`) */
    prePromoteFailures: number;
    fenceStops: number;
    /** synchronous mode: commits a client saw succeed */
    acked: number;
    /** synchronous mode: acknowledged commits missing from a newly writable primary */
    lostAcks: number;
    /** synchronous mode: commits acknowledged in phase 2 (healed) */
    ackedAfterHeal: number;
    /** how often each reason code was decided: shows which branches a run exercised */
    codes: Record<string, number>;
  };
  /** the last `traceLines` events, for a human reading a failure */
  readonly trace: readonly string[];
  /** the end state, to tell a legitimate stall from a liveness bug */
  readonly final: {
    readonly syncKey: SyncState | null;
    readonly nofailover: readonly string[];
    /** each node's last decided reason code */
    readonly lastCodes: Readonly<Record<string, string>>;
  };
}

/** Crashes appear twice: they are the most common real fault. */
const FAULTS = [
  'etcd-cut',
  'full-cut',
  'agent-pause',
  'renewals-lost',
  'pg-crash',
  'pg-crash',
  'switchover',
  'toggle-pause',
] as const;

const HOSTILE_FAULTS = ['ghost-leader', 'leased-ghost', 'member-key-deleted'] as const;

const OPERATOR_FAULTS = ['rest-restart', 'rest-restart', 'rest-reinit'] as const;

const TIMING: SimTiming = { ttlMs: 3_000, leaseMarginMs: 500, maxWatchDelayMs: 300 };

/**
 * A seeded, deterministic simulation of N nodes running `decide` loops against a model
 * etcd and model Postgres instances. Phase 1 injects faults (node↔etcd partitions, full
 * partitions, agent pauses, lost renewals, Postgres crashes, switchover requests, pause
 * toggles) and checks safety at every instant; phase 2 heals everything and checks that
 * exactly one leader emerges.
 */
export function runSimulation(seed: number, opts: SimOptions = {}): Promise<SimResult> {
  const sim = new Simulation(seed, opts);
  return sim.run();
}

/** One simulated agent: the production executor's and sync duty's ports over its node's model. */
interface SimAgent {
  readonly node: SimNode;
  readonly clock: SimClock;
  readonly ctx: Omit<ExecContext, 'view' | 'streamingReplicas'>;
  readonly sync: SyncManager;
}

class Simulation {
  readonly rng: Prng;
  readonly stepMs: number;
  readonly faultSteps: number;
  readonly healSteps: number;
  readonly faultRate: number;
  readonly traceLines: number;
  readonly config: DecideConfig;
  readonly etcd: SimEtcd;
  readonly nodes: SimNode[];
  readonly byName: Map<string, SimNode>;
  readonly violations: string[] = [];
  readonly trace: string[] = [];
  readonly stats = {
    loops: 0,
    faults: 0,
    failovers: 0,
    prePromoteFailures: 0,
    fenceStops: 0,
    acked: 0,
    lostAcks: 0,
    ackedAfterHeal: 0,
    codes: {} as Record<string, number>,
  };
  readonly sync: SimSyncConfig | null;
  readonly syncPlan: SyncPlanner | undefined;
  readonly handlers: ActionHandlers;
  readonly dyn: DynamicConfig;
  readonly agents = new Map<SimNode, SimAgent>();
  readonly world: SimWorld;
  readonly acks = new AckLedger();
  readonly fenceOn: boolean;
  readonly decideFn: (obs: Observation, nowMs: number) => Decision;
  readonly faultKinds: readonly (
    | (typeof FAULTS)[number]
    | (typeof HOSTILE_FAULTS)[number]
    | (typeof OPERATOR_FAULTS)[number]
  )[];
  /**
   * Primaries whose leader key another tool overwrote: writable without the key until they
   * notice (nothing can prevent that), so only the two-primaries check applies to them.
   */
  readonly keyTakenFrom = new Set<string>();
  /** the lease another tool's leader key is bound to */
  toolLease: string | null = null;
  maxTimeline = 1;
  nowMs = 0;
  lastLeaderRevision = '';
  /** the instant each node's watch-fed view reflects */
  readonly viewAtMs = new Map<SimNode, number>();
  readonly prePromoteFailRate: number | undefined;

  constructor(
    readonly seed: number,
    opts: SimOptions,
  ) {
    this.rng = new Prng(seed);
    this.prePromoteFailRate = opts.prePromoteFailRate;
    this.stepMs = opts.stepMs ?? 100;
    this.faultSteps = opts.faultSteps ?? 300;
    this.healSteps = opts.healSteps ?? 300;
    this.faultRate = opts.faultRate ?? 0.06;
    this.traceLines = opts.traceLines ?? 80;
    this.fenceOn = opts.fence ?? true;
    this.decideFn = opts.decide ?? decide;
    this.sync = opts.sync ?? null;
    this.syncPlan = opts.syncPlan;
    this.handlers = opts.handlers ?? HANDLERS;
    this.faultKinds = [
      ...FAULTS,
      ...(opts.hostileKeys === true ? HOSTILE_FAULTS : []),
      ...(opts.operatorRequests === true ? OPERATOR_FAULTS : []),
    ];
    const n = opts.nodes ?? this.rng.int(2, 5);
    this.config = {
      ttlMs: TIMING.ttlMs,
      loopWaitMs: 500,
      retryTimeoutMs: 1_000,
      primaryStartTimeoutMs: 2_000,
      maximumLagOnFailoverBytes: this.rng.pick([20_000n, 1_000_000_000n]),
      primaryIsolationTimeoutMs: 1_000,
      checkTimeline: this.rng.chance(0.5),
      pause: false,
      synchronousMode: this.sync?.mode ?? 'off',
      synchronousModeStrict: this.sync?.strict ?? false,
      usePgRewind: true,
    };
    this.etcd = new SimEtcd({
      leader: null,
      members: new Map(),
      failover: null,
      optime: null,
      history: [],
      pause: false,
    });
    // nofailover plus a tight lag limit can legitimately leave no eligible member (the
    // fenced primary is nofailover, the rest lag): no liveness is promised then, so the
    // seed uses one or the other.
    const tags = this.config.maximumLagOnFailoverBytes > 1_000_000n;
    const eligibleOne = this.rng.int(0, n - 1);
    this.nodes = Array.from({ length: n }, (_, i) => {
      const nofailover = tags && i !== eligibleOne && this.rng.chance(0.15);
      const node = new SimNode(`n${i}`, nofailover, this.rng.pick([1, 1, 2]), initialPg(i === 0));
      node.renew(this.etcd, 0, TIMING);
      node.nextLoopAtMs = this.rng.int(0, 5) * this.stepMs;
      return node;
    });
    this.byName = new Map(this.nodes.map((x) => [x.name, x]));
    this.dyn = {
      ...defaultDynamicConfig(),
      ttlMs: this.config.ttlMs,
      loopWaitMs: this.config.loopWaitMs,
      retryTimeoutMs: this.config.retryTimeoutMs,
      synchronousMode: this.sync?.mode ?? 'off',
      synchronousModeStrict: this.sync?.strict ?? false,
      synchronousNodeCount: this.sync?.nodeCount ?? 1,
    };
    this.world = {
      etcd: this.etcd,
      byName: this.byName,
      nowMs: () => this.nowMs,
      newTimeline: () => ++this.maxTimeline,
      syncModel: this.sync !== null,
    };
    for (const node of this.nodes) this.agents.set(node, this.agentFor(node));
    this.etcd.acquire('n0', this.nodes[0]!.leaseId!, 0);
    this.nodes[0]!.ownLeaderCreateRevision = this.etcd.current.leader?.createRevision ?? null;
    const n0 = this.nodes[0]!;
    n0.fence = { deadlineMs: n0.deadlineMs!, incarnation: n0.pg.incarnation };
    n0.lastSawPrimary = true;
    // n0 bootstrapped in synchronous mode: the agent claims the key before Postgres accepts
    // a commit, and runs with what that key allows
    if (this.sync !== null) {
      this.etcd.casSync({ leader: 'n0', syncStandbys: [], quorum: 0 }, null, n0, 0);
      for (const node of this.nodes) node.pg.ssn = this.agents.get(node)!.sync.desiredSsn(null, this.dyn); // a key listing nobody: the fallback
    }
  }

  /** The agent's executor context and sync manager for `node`, behind the model's ports. */
  agentFor(node: SimNode): SimAgent {
    const clock = new SimClock(this.world);
    const store = simStore(this.world, node);
    const rate = this.prePromoteFailRate;
    const ctx: SimAgent['ctx'] = {
      name: node.name,
      store,
      pg: simPostgres(this.world, node),
      fence: simFence(node),
      peers: simPeers(this.world, node),
      hooks: simHooks(() => rate !== undefined && this.rng.chance(rate)),
      clock,
      log: silentLog,
      retryTimeoutMs: this.config.retryTimeoutMs,
      rejoin: { usePgRewind: true, removeDataDirectoryOnRewindFailure: false },
      useSlots: true,
      syncMode: this.dyn.synchronousMode,
      bootstrapDcs: {},
      onPromoted: () => {
        this.stats.failovers++;
      },
      onReleased: () => {
        node.memory = released(node.memory, clock.monotonicMs());
      },
      onPrePromoteFailed: (why) => {
        this.stats.prePromoteFailures++;
        node.memory = prePromoteFailed(node.memory, clock.monotonicMs(), why);
      },
    };
    const sync = new SyncManager({
      name: node.name,
      store,
      pg: simSyncPostgres(this.world, node),
      clock,
      log: silentLog,
      ...(this.syncPlan === undefined ? {} : { plan: this.syncPlan }),
    });
    return { node, clock, ctx, sync };
  }

  async run(): Promise<SimResult> {
    const total = this.faultSteps + this.healSteps;
    for (let step = 0; step < total; step++) {
      this.nowMs = step * this.stepMs;
      if (step < this.faultSteps && this.rng.chance(this.faultRate)) await this.injectFault();
      if (step === this.faultSteps) this.heal();
      this.etcd.expire(this.nowMs);
      this.fence();
      this.replicate();
      this.wakeOnWatch();
      for (const node of this.loopOrder()) await this.loop(node);
    }
    return {
      seed: this.seed,
      violations: this.violations,
      live: this.oneLeader(),
      stats: this.stats,
      trace: this.trace,
      final: {
        syncKey: this.etcd.current.sync,
        nofailover: this.nodes.filter((n) => n.nofailover).map((n) => n.name),
        lastCodes: Object.fromEntries(this.nodes.map((n) => [n.name, n.lastDecision?.reason.code ?? 'none'])),
      },
    };
  }

  log(line: string): void {
    this.trace.push(`t=${this.nowMs} ${line}`);
    if (this.trace.length > this.traceLines) this.trace.shift();
  }

  /** The fence: an independent timer per node that stops a primary at its deadline. */
  fence(): void {
    for (const node of this.nodes) {
      const f = node.fence;
      // the fence stops the postmaster it was armed with, and nothing else
      if (
        this.fenceOn &&
        node.writable() &&
        f !== null &&
        f.incarnation === node.pg.incarnation &&
        this.nowMs >= f.deadlineMs
      ) {
        node.pg.process = 'stopped';
        node.pg.streaming = false;
        this.stats.fenceStops++;
        this.log(`${node.name} fence: deadline ${f.deadlineMs} passed, stopping the primary`);
      }
    }
    this.checkSafety('fence');
  }

  /** WAL: primaries take writes; replicas stream from the member they follow when compatible. */
  replicate(): void {
    for (const node of this.nodes) node.pg.streamingReplicas = [];
    for (const node of this.nodes) {
      // clients of a primary that stopped got an error, never a success
      if (!node.writable()) node.pg.unacked = [];
      else {
        const before = node.pg.lsn;
        node.pg.lsn += BigInt(this.rng.int(0, 2_000));
        if (this.sync !== null && node.pg.lsn > before) node.pg.unacked.push(node.pg.lsn);
      }
    }
    for (const r of this.nodes) {
      const pg = r.pg;
      const source = pg.upstream === null ? undefined : this.byName.get(pg.upstream);
      pg.streaming = false;
      if (source === undefined || pg.process !== 'running' || pg.primary || !source.writable()) continue;
      if (r.fullyCut(this.nowMs) || source.fullyCut(this.nowMs) || !canStream(pg, source.pg)) continue;
      pg.streaming = true;
      const behind = source.pg.lsn - pg.lsn;
      // synchronous mode: a seeded per-step bandwidth, so standbys lag and commits wait
      const bandwidth = this.sync === null ? 3_000n : BigInt(this.rng.pick([0, 1_000, 2_500, 4_000]));
      pg.lsn += behind < bandwidth ? behind : bandwidth;
      pg.timeline = source.pg.timeline;
      pg.history = source.pg.history.map(([t, l]) => [t, l] as [number, bigint]);
      source.pg.streamingReplicas.push(r.name);
    }
    if (this.sync !== null) this.acknowledge();
  }

  /** Commits released by each writable primary's `synchronous_standby_names` are acknowledged. */
  acknowledge(): void {
    for (const node of this.nodes) {
      const pg = node.pg;
      if (!node.writable() || pg.unacked.length === 0) continue;
      const flush = new Map(pg.streamingReplicas.map((n) => [n, this.byName.get(n)!.pg.lsn] as const));
      const released = releasedLsn(parseSsn(pg.ssn), flush);
      if (released === null) continue;
      const done = pg.unacked.filter((lsn) => lsn <= released);
      if (done.length === 0) continue;
      pg.unacked = pg.unacked.filter((lsn) => lsn > released);
      for (const lsn of done) this.acks.record(node.name, pg.timeline, lsn);
      this.stats.acked += done.length;
      if (this.nowMs >= this.faultSteps * this.stepMs) this.stats.ackedAfterHeal += done.length;
    }
  }

  /** Leader-key changes wake every connected agent after its watch delay. */
  wakeOnWatch(): void {
    const leader = this.etcd.current.leader;
    const rev = leader === null ? 'none' : leader.modRevision;
    if (rev === this.lastLeaderRevision) return;
    this.lastLeaderRevision = rev;
    for (const node of this.nodes) {
      if (!node.etcdConnected(this.nowMs)) continue;
      const wakeAt = this.nowMs + this.rng.int(0, TIMING.maxWatchDelayMs);
      node.nextLoopAtMs = Math.min(node.nextLoopAtMs, wakeAt);
    }
  }

  loopOrder(): SimNode[] {
    const order = [...this.nodes];
    for (let i = order.length - 1; i > 0; i--) {
      const j = this.rng.int(0, i);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    return order;
  }

  async loop(node: SimNode): Promise<void> {
    if (node.agentPaused(this.nowMs) || this.nowMs < node.nextLoopAtMs) return;
    this.stats.loops++;
    node.nextLoopAtMs = this.nowMs + this.config.loopWaitMs;
    node.renew(this.etcd, this.nowMs, TIMING);
    const peers = this.nodes.filter((p) => p !== node);
    const watchDelayMs = this.rng.int(0, TIMING.maxWatchDelayMs);
    const obs = node.observe(this.etcd, this.nowMs, watchDelayMs, this.config, peers);
    if (node.reachable) this.viewAtMs.set(node, this.nowMs - watchDelayMs);
    const d = this.decideFn(obs, this.nowMs);
    this.stats.codes[d.reason.code] = (this.stats.codes[d.reason.code] ?? 0) + 1;
    if (d.actions.length > 0 || d.reason.code !== node.lastDecision?.reason.code) {
      this.log(`${node.name} ${d.reason.code} [${d.actions.map((a) => a.kind).join(',')}] ${d.reason.text}`);
    }
    node.lastDecision = d;
    await this.execute(node, d.actions, obs);
    await this.syncDuty(this.agents.get(node)!);
    this.publish(node);
  }

  /**
   * Runs `actions` through the agent's own executor against the model's ports, checking
   * safety after each. `obs`: the observation they were decided on (null: an operator's
   * request, run on the node's cached view).
   */
  async execute(node: SimNode, actions: readonly Action[], obs: Observation | null): Promise<void> {
    const agent = this.agents.get(node)!;
    agent.clock.reset();
    let wasWritable = node.writable();
    const afterEach = async (kind: string) => {
      if (this.sync !== null && !wasWritable && node.writable()) this.checkAcks(node, kind);
      wasWritable = node.writable();
      this.checkSafety(`${node.name} ${kind}`);
    };
    const ctx: ExecContext = {
      ...agent.ctx,
      view: obs?.dcs.view ?? node.cachedView,
      streamingReplicas: obs?.pg.streamingReplicas ?? node.pg.streamingReplicas,
    };
    try {
      await runActions(actions, ctx, afterEach, this.handlers);
    } catch (e) {
      if (e instanceof InvariantViolation) this.fail(`${node.name}: ${e.message}`);
      else this.log(`${node.name} ${e instanceof Error ? e.message : String(e)}`);
      await afterEach('failed action');
    }
  }

  /**
   * After the actions, as the agent does: render `synchronous_standby_names` from its view
   * (applyParameters), then the leader's sync duty — the agent's `syncDuty` and
   * `SyncManager`. The view is the watch-fed cache: it may lag, but never goes back past what
   * this node already saw.
   */
  async syncDuty(agent: SimAgent): Promise<void> {
    const node = agent.node;
    if (node.etcdConnected(this.nowMs)) {
      const atMs = Math.max(
        this.viewAtMs.get(node) ?? 0,
        this.nowMs - this.rng.int(0, TIMING.maxWatchDelayMs),
      );
      this.viewAtMs.set(node, atMs);
      node.cachedView = toClusterView(this.etcd.readAt(atMs));
    }
    const view = node.cachedView;
    if (this.dyn.synchronousMode !== 'off') node.pg.ssn = agent.sync.desiredSsn(view, this.dyn);
    const before = `${node.pg.ssn}|${JSON.stringify(this.etcd.current.sync)}`;
    try {
      await syncDuty(
        agent.sync,
        {
          view,
          dyn: this.dyn,
          runningPrimary: node.writable(),
          holdsLeaderKey: holdsLeaderKey(view, node.name, node.leaseId),
          replication: node.pg.streamingReplicas.map((name) =>
            replicationRow(name, this.byName.get(name)!.pg.lsn),
          ),
          responsive: node.pg.streamingReplicas,
        },
        silentLog,
      );
    } catch (e) {
      if (!(e instanceof InvariantViolation)) throw e;
      this.fail(`${node.name} sync duty: ${e.message}`);
    }
    const after = `${node.pg.ssn}|${JSON.stringify(this.etcd.current.sync)}`;
    if (after !== before)
      this.log(
        `${node.name} sync: ssn ${JSON.stringify(node.pg.ssn)}, key ${JSON.stringify(this.etcd.current.sync)}`,
      );
  }

  /** Every acknowledged commit must be in the WAL of a node that just became writable. */
  checkAcks(node: SimNode, where: string): void {
    for (const lost of this.acks.missingFrom(node.pg)) {
      this.stats.lostAcks++;
      const held = lost.heldUpTo === null ? 'was never on it' : `holds it up to ${lost.heldUpTo}`;
      this.fail(
        `acknowledged commit lost: ${lost.ackedBy} acknowledged lsn ${lost.lsn} on timeline ${lost.timeline}; ${node.name} became writable (${where}) and ${held}`,
      );
    }
  }

  /** After a loop: member key, and the status optime when we lead. */
  publish(node: SimNode): void {
    if (!node.etcdConnected(this.nowMs) || node.leaseId === null) return;
    const pg = node.pg;
    this.etcd.putMember(
      {
        name: node.name,
        leaseId: node.leaseId,
        state: pg.process,
        role: node.writable() ? 'primary' : 'replica',
        xlog: pg.lsn,
        timeline: pg.timeline,
        nofailover: node.nofailover,
      },
      this.nowMs,
    );
    if (this.etcd.current.leader?.name === node.name && node.writable()) {
      this.etcd.putOptime(Number(pg.lsn), this.nowMs);
    }
  }

  checkSafety(where: string): void {
    const writable = this.nodes.filter((n) => n.writable());
    if (writable.length > 1) {
      this.fail(`two writable primaries after ${where}: ${writable.map((n) => n.name).join(', ')}`);
    }
    const holder = this.etcd.current.leader?.name ?? null;
    for (const name of this.keyTakenFrom)
      if (!this.byName.get(name)!.writable()) this.keyTakenFrom.delete(name);
    for (const n of writable) {
      if (n.name !== holder && !this.keyTakenFrom.has(n.name))
        this.fail(`${n.name} writable without the leader key (holder ${holder}) after ${where}`);
    }
  }

  fail(message: string): void {
    const line = `t=${this.nowMs} ${message}`;
    this.log(`VIOLATION ${message}`);
    if (this.violations.length < 10) this.violations.push(line);
  }

  oneLeader(): boolean {
    const writable = this.nodes.filter((n) => n.writable());
    return writable.length === 1 && this.etcd.current.leader?.name === writable[0]!.name;
  }

  async injectFault(): Promise<void> {
    this.stats.faults++;
    const node = this.rng.pick(this.nodes);
    const untilMs = this.nowMs + this.rng.int(3, 80) * this.stepMs;
    const kind = this.rng.int(0, this.faultKinds.length - 1);
    const fault = this.faultKinds[kind]!;
    switch (fault) {
      case 'etcd-cut':
        node.faults.etcdCutUntilMs = untilMs;
        break;
      case 'full-cut':
        node.faults.fullCutUntilMs = untilMs;
        break;
      case 'agent-pause':
        node.faults.agentPausedUntilMs = untilMs;
        break;
      case 'renewals-lost':
        node.faults.renewalsLostUntilMs = untilMs;
        break;
      case 'pg-crash':
        this.crash(node);
        return;
      case 'switchover':
        this.requestSwitchover();
        return;
      case 'toggle-pause':
        this.etcd.setPause(!this.etcd.current.pause, this.nowMs);
        this.log(`FAULT cluster pause = ${this.etcd.current.pause}`);
        return;
      case 'ghost-leader':
      case 'leased-ghost':
        this.overwriteLeader(fault === 'leased-ghost', node.name);
        return;
      case 'member-key-deleted':
        this.etcd.deleteMember(node.name, this.nowMs);
        this.log(`FAULT member key of ${node.name} deleted`);
        return;
      case 'rest-restart':
      case 'rest-reinit':
        await this.operatorRequest(node, fault);
        return;
    }
    this.log(`FAULT ${fault} on ${node.name} until ${untilMs}`);
  }

  /**
   * An operator's request, as the agent runs it between two loops (`HaLoop.restartInPlace`,
   * `HaLoop.reinitialize`): the same actions through the same executor. A paused agent
   * answers nothing; a reinitialize is refused while we hold the key or have no leader.
   */
  async operatorRequest(node: SimNode, kind: 'rest-restart' | 'rest-reinit'): Promise<void> {
    if (node.agentPaused(this.nowMs) || node.pg.process !== 'running') return;
    const view = node.cachedView;
    const leader = view?.leader ?? null;
    const holdsKey = holdsLeaderKey(view, node.name, node.leaseId);
    let actions: Action[];
    if (kind === 'rest-restart') {
      actions = restartInPlaceActions({
        asPrimary: holdsKey && node.pg.primary,
        following: node.pg.following,
      });
    } else {
      if (holdsKey || leader === null || leader.name === node.name || !view?.members.has(leader.name)) return;
      actions = [{ kind: 'reinitialize', leader: leader.name }];
    }
    this.log(`FAULT operator ${kind} on ${node.name} [${actions.map((a) => a.kind).join(',')}]`);
    await this.execute(node, actions, null);
  }

  crash(node: SimNode): void {
    if (node.pg.process !== 'running') return;
    node.pg.process = 'crashed';
    node.pg.streaming = false;
    if (node.pg.primary) node.pg.crashedAtMs ??= this.nowMs;
    node.nextLoopAtMs = this.nowMs; // the child's exit wakes the agent at once
    this.log(`FAULT ${node.name} Postgres crashed (primary=${node.pg.primary})`);
  }

  /**
   * `etcdctl put …/leader <value>`: bound to no lease, or (leased) to the tool's own lease
   * (`etcdctl lease grant 3600`), which outlives the run, naming nobody. Bound to an agent's
   * lease instead, the key would vanish when that lease ends, which is a delete of the key: a
   * hazard of its own (see the report of the issue-11 test), not this rule's.
   */
  overwriteLeader(leased: boolean, memberName: string): void {
    const holder = this.etcd.current.leader?.name;
    if (holder !== undefined && this.byName.get(holder)?.writable()) this.keyTakenFrom.add(holder);
    if (leased) {
      this.toolLease ??= this.etcd.grant(this.nowMs, Number.POSITIVE_INFINITY);
      this.etcd.putLeaderRaw('ghost', this.toolLease, this.nowMs);
      this.log(`FAULT leader key overwritten: "ghost" bound to the tool's lease ${this.toolLease}`);
      return;
    }
    const value = this.rng.pick(['ghost', '', memberName]);
    this.etcd.putLeaderRaw(value, null, this.nowMs);
    this.log(`FAULT leader key overwritten: ${JSON.stringify(value)} bound to no lease`);
  }

  requestSwitchover(): void {
    const leader = this.etcd.current.leader?.name ?? null;
    const others = this.nodes.filter((n) => n.name !== leader);
    if (leader === null || others.length === 0) return;
    const member = this.rng.pick(others).name;
    this.etcd.setFailover({ leader, member, scheduledAt: null, modRevision: '0' }, this.nowMs);
    this.log(`FAULT switchover requested ${leader} → ${member}`);
  }

  heal(): void {
    for (const node of this.nodes) {
      node.faults.agentPausedUntilMs = 0;
      node.faults.etcdCutUntilMs = 0;
      node.faults.fullCutUntilMs = 0;
      node.faults.renewalsLostUntilMs = 0;
    }
    this.etcd.setPause(false, this.nowMs);
    this.log('HEAL all faults cleared');
  }
}

/** A walsender row as the probe reads it, for a standby the model says is streaming. */
function replicationRow(name: string, flush: bigint): ReplicationRow {
  const lsn = toLsn(flush);
  return {
    usename: 'replicator',
    applicationName: name,
    clientAddr: null,
    state: 'streaming',
    syncState: 'async',
    syncPriority: 0,
    sentLsn: lsn,
    writeLsn: lsn,
    flushLsn: lsn,
    replayLsn: lsn,
    replyTime: null,
  };
}

function initialPg(primary: boolean): PgModel {
  return {
    process: 'running',
    primary,
    timeline: 1,
    lsn: 0n,
    history: [],
    following: primary ? null : 'n0',
    upstream: primary ? null : 'n0',
    incarnation: 1,
    rejoinFailure: null,
    wasPrimary: primary,
    crashedAtMs: null,
    streaming: false,
    streamingReplicas: [],
    ssn: '',
    unacked: [],
  };
}
