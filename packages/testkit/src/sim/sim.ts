import {
  type ActionHandlers,
  type ExecContext,
  type FailsafePromises,
  type FailsafeRoundPorts,
  type FailsafeRounds,
  HANDLERS,
  prePromoteFailed,
  released,
  restartInPlaceActions,
  roundIntervalMs,
  runActions,
  SyncManager,
  type SyncPlanner,
  syncDuty,
  adoptSsnInForce,
  type fenceMoves,
  gatherTakeoverEvidence,
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
import { SimEtcd, syncModeOf, toClusterView } from './etcd.js';
import { EventQueue, hostOf, NodeClock, overTheWire, answerOf, SimFailsafe } from './failsafe.js';
import { type PgModel, SimNode, type SimTiming } from './node.js';
import {
  canStream,
  SimClock,
  type SimWorld,
  silentLog,
  simFence,
  simHooks,
  simPeers,
  simFailsafeStore,
  simPostgres,
  simStore,
  simSyncPostgres,
  simTakeoverProbes,
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
  /**
   * Failsafe mode (docs/failsafe.md): `failsafe_mode` on, the agent's failsafe modules on
   * every node (promises, rounds of `POST /failsafe` over a modelled network, the failsafe key),
   * and the failsafe faults mixed with the others: etcd down for everyone, etcd cut off from
   * everyone, node↔node cuts, agent restarts and host reboots. Off by default, so the seeds of
   * the other runs keep their schedule.
   */
  readonly failsafe?: boolean;
  /** failsafe tuning and mutants (only with `failsafe`) */
  readonly failsafeOptions?: SimFailsafeOptions;
  /**
   * With `sync`: also switch `synchronous_mode` off and back on mid-run in the `config` key
   * (each node acts on it when its own lagging view has it), restart agents (a new process
   * manages nothing yet while its Postgres runs on) and stall watches. With the mode off no
   * commit is promised, so the ledger of acknowledged commits starts again when it is back on.
   * Off by default, so the seeds of the other runs keep their schedule.
   */
  readonly syncTransitions?: boolean;
  /**
   * With `sync` in `on` mode: fast failover (docs/fast-failover.md) on every node — a listed
   * standby probes a silent leader through the agent's own gatherer and may take the key over
   * before the leader's lease expires. A primary deposed so may stay writable until it notices;
   * it must then acknowledge nothing (checked at every acknowledgement). Off by default, so the
   * seeds of the other runs keep their schedule.
   */
  readonly fastFailover?: boolean;
  /** the agent's rule for moving the fence on a renewal (default: `fenceMoves`); tests pass mutants */
  readonly fenceMoves?: typeof fenceMoves;
  /** faults at given instants (directed scenarios), besides the random ones (`faultRate`) */
  readonly schedule?: readonly ScheduledFault[];
  /** called at the end of every step, for scenario assertions */
  readonly onStep?: (step: SimStep) => void;
}

export interface SimFailsafeOptions {
  /** the rounds implementation (default: the agent's `FailsafeRounds`); mutants */
  readonly rounds?: (ports: FailsafeRoundPorts) => FailsafeRounds;
  /** the promises implementation (default: the agent's `FailsafePromises`); mutants */
  readonly promises?: (opts: { startedAtMs: number; longestPromiseMs: number }) => FailsafePromises;
  /** one-way latency of a `POST /failsafe` or its answer (default: seeded, mostly 1–40 ms, sometimes up to 1.5 s) */
  readonly latencyMs?: (from: string, to: string, nowMs: number) => number;
  /** clock rates are drawn within 1 ± ρ (default 0.05) */
  readonly clockRho?: number;
  /** `failsafe_timeout` in ms (default 1000, the most (ttl − margin)/2 allows at ttl 3 s) */
  readonly timeoutMs?: number;
  /** the most a loop's actions run after its decision (default 90 ms; promises can be given in between) */
  readonly decideToActMs?: number;
  /** probability that a failsafe key write's answer is lost (default 0.05) */
  readonly lostAnswerRate?: number;
  /** clock rates by node name (default: drawn within 1 ± ρ) */
  readonly clockRates?: Readonly<Record<string, number>>;
  /**
   * Mutant: etcd's word that the lease is gone changes nothing (agent-failsafe.ts `leaseLost`
   * ignored), so the renewals of a lease granted after the one the key was bound to count in
   * W and move the fence (docs/failsafe.md P7, G1).
   */
  readonly unboundLeaseCounts?: boolean;
}

/** A fault at a given instant (names are node names: `n0` is the first primary). */
export type SimFault =
  | {
      readonly kind: 'etcd-cut' | 'full-cut' | 'agent-pause' | 'renewals-lost';
      readonly node: string;
      readonly forMs: number;
    }
  | { readonly kind: 'etcd-down' | 'etcd-cut-all'; readonly forMs: number }
  | {
      readonly kind: 'node-cut';
      readonly from: string;
      readonly to: string;
      readonly forMs: number;
      /** only messages from `from` to `to` are lost */
      readonly oneWay?: boolean;
    }
  | { readonly kind: 'agent-restart' | 'reboot'; readonly node: string; readonly downMs: number }
  | {
      readonly kind: 'watch-stall';
      readonly node: string;
      readonly forMs: number;
      /** freeze the view at the next revision without a leader key (a watch that stalls right after delivering it) */
      readonly atNoLeader?: boolean;
    }
  | { readonly kind: 'pg-crash'; readonly node: string }
  | { readonly kind: 'switchover'; readonly to: string }
  | { readonly kind: 'failsafe-mode' | 'pause'; readonly on: boolean };

export interface ScheduledFault {
  readonly atMs: number;
  readonly fault: SimFault;
}

/** The state at the end of a step, for scenario assertions. */
export interface SimStep {
  readonly nowMs: number;
  /** nodes whose Postgres accepts writes */
  readonly writable: readonly string[];
  /** the leader key: its value and whether its lease is alive */
  readonly leader: { readonly name: string; readonly leaseId: string | null } | null;
  readonly failsafeKey: readonly string[] | null;
  /** each node's last decided reason code */
  readonly codes: Readonly<Record<string, string>>;
  /** each node's WAL position */
  readonly lsn: Readonly<Record<string, bigint>>;
  /** each node's W (failsafe mode), in the model's time */
  readonly writableUntil: Readonly<Record<string, number | null>>;
  readonly fenceStops: number;
}

/** What failsafe mode did in one run. */
export interface SimFailsafeStats {
  rounds: number;
  extended: number;
  incomplete: number;
  refused: number;
  notListed: number;
  posts: number;
  accepted: number;
  /** steps during which a writable primary ran on F (its lease deadline passed or its key gone) */
  stepsOnF: number;
  restarts: number;
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
    /** fast failover: leader keys taken over before the old lease expired */
    fastFailovers: number;
    /** fast failover: commits a deposed primary acknowledged (each one is a violation) */
    deposedAcks: number;
    fenceStops: number;
    /** synchronous mode: commits a client saw succeed */
    acked: number;
    /** synchronous mode: acknowledged commits missing from a newly writable primary */
    lostAcks: number;
    /** synchronous mode: commits acknowledged in phase 2 (healed) */
    ackedAfterHeal: number;
    /** how often each reason code was decided: shows which branches a run exercised */
    codes: Record<string, number>;
    /** failsafe mode only */
    failsafe?: SimFailsafeStats;
    /** `syncTransitions` only: how often the mode was switched, and agents restarted */
    transitions?: { modeSwitches: number; restarts: number };
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

/** The primary's etcd cut and node↔node cuts appear twice: they are what failsafe mode is about. */
const FAILSAFE_FAULTS = [
  'etcd-down',
  'etcd-cut-all',
  'primary-etcd-cut',
  'primary-etcd-cut',
  'node-cut',
  'node-cut',
  'peers-cut',
  'agent-restart',
  'reboot',
  'failsafe-toggle',
  'watch-stall',
] as const;

/** docs/fast-failover.md, review items 1 and 2: the mode switched mid-run, agents restarted, watches stalled */
const SYNC_FAULTS = ['sync-mode-toggle', 'agent-restart', 'watch-stall'] as const;

/**
 * Fast failover: what it is for (the primary's host dies, or is cut off from everything) and
 * what races it (cuts between the primary and one member or etcd, stalled watches).
 */
const FAST_FAULTS = [
  'host-death',
  'host-death',
  'primary-full-cut',
  'primary-full-cut',
  'primary-etcd-cut',
  'node-cut',
  'watch-stall',
] as const;

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
    fastFailovers: 0,
    deposedAcks: 0,
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
  /** commits promised to survive: forgotten when synchronous_mode is switched off */
  acks = new AckLedger();
  readonly fenceOn: boolean;
  readonly decideFn: (obs: Observation, nowMs: number) => Decision;
  readonly faultKinds: readonly (
    | (typeof FAULTS)[number]
    | (typeof HOSTILE_FAULTS)[number]
    | (typeof OPERATOR_FAULTS)[number]
    | (typeof FAILSAFE_FAULTS)[number]
    | (typeof SYNC_FAULTS)[number]
    | (typeof FAST_FAULTS)[number]
  )[];
  /** `syncTransitions`: its counters (agents restart outside failsafe mode too); null when off */
  readonly transitions: { modeSwitches: number; restarts: number } | null;
  /** failsafe mode: each agent process's failsafe glue (a restart makes a new one) */
  readonly failsafeOn: boolean;
  readonly fsOpts: SimFailsafeOptions;
  readonly fsOf = new Map<SimNode, SimFailsafe>();
  /** each host's monotonic clock (a reboot resets its origin) */
  readonly clocks = new Map<SimNode, NodeClock>();
  /** each node's state file (the longest promise it recorded): survives restarts */
  readonly stateFiles = new Map<SimNode, { longestPromiseMs: number }>();
  /** each node's agent process generation: events of an earlier process are dropped */
  readonly generation = new Map<SimNode, number>();
  readonly queue = new EventQueue();
  readonly fsStats: SimFailsafeStats = {
    rounds: 0,
    extended: 0,
    incomplete: 0,
    refused: 0,
    notListed: 0,
    posts: 0,
    accepted: 0,
    stepsOnF: 0,
    restarts: 0,
  };
  readonly lastRoundOutcome = new Map<SimNode, string>();
  etcdDownUntilMs = 0;
  readonly schedule: ScheduledFault[];
  readonly onStep: ((step: SimStep) => void) | undefined;
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
  /** fast failover on (`fastFailover`) */
  readonly fastOn: boolean;
  /** primaries deposed by a fast takeover that are still writable (they must acknowledge nothing) */
  readonly deposed = new Set<string>();

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
    this.failsafeOn = opts.failsafe === true;
    this.fsOpts = opts.failsafeOptions ?? {};
    this.schedule = [...(opts.schedule ?? [])].sort((a, b) => a.atMs - b.atMs);
    this.onStep = opts.onStep;
    this.fastOn = opts.fastFailover === true && this.sync !== null;
    this.faultKinds = [
      ...FAULTS,
      ...(opts.hostileKeys === true ? HOSTILE_FAULTS : []),
      ...(opts.operatorRequests === true ? OPERATOR_FAULTS : []),
      ...(this.failsafeOn ? FAILSAFE_FAULTS : []),
      ...(opts.syncTransitions === true && this.sync !== null ? SYNC_FAULTS : []),
      ...(this.fastOn ? FAST_FAULTS : []),
    ];
    this.transitions =
      opts.syncTransitions === true && this.sync !== null ? { modeSwitches: 0, restarts: 0 } : null;
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
      ...(this.fastOn
        ? {
            fastFailover: {
              enabled: true,
              streamSilenceMs: this.rng.pick([300, 600, 1_000]),
              probeTimeoutMs: 500,
            },
          }
        : {}),
    };
    this.etcd = new SimEtcd(
      {
        leader: null,
        members: new Map(),
        failover: null,
        optime: null,
        history: [],
        pause: false,
      },
      this.sync?.mode ?? 'off',
    );
    // nofailover plus a tight lag limit can legitimately leave no eligible member (the
    // fenced primary is nofailover, the rest lag): no liveness is promised then, so the
    // seed uses one or the other.
    const tags = this.config.maximumLagOnFailoverBytes > 1_000_000n;
    const eligibleOne = this.rng.int(0, n - 1);
    this.nodes = Array.from({ length: n }, (_, i) => {
      const nofailover = tags && i !== eligibleOne && this.rng.chance(0.15);
      const node = new SimNode(`n${i}`, nofailover, this.rng.pick([1, 1, 2]), initialPg(i === 0));
      if (opts.fenceMoves !== undefined) node.fenceMoves = opts.fenceMoves;
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
      failsafeMode: this.failsafeOn,
      failsafeTimeoutMs: this.fsOpts.timeoutMs ?? 1_000,
    };
    this.world = {
      etcd: this.etcd,
      byName: this.byName,
      nowMs: () => this.nowMs,
      newTimeline: () => ++this.maxTimeline,
      syncModel: this.sync !== null,
      onTakeover: (from, to) => {
        this.stats.fastFailovers++;
        if (this.byName.get(from)?.writable() === true) this.deposed.add(from);
        this.log(`${to} took the leader key over from ${from} (fast failover)`);
      },
    };
    for (const node of this.nodes) this.agents.set(node, this.agentFor(node));
    if (this.failsafeOn) {
      this.etcd.setFailsafeMode(true, 0);
      const rho = this.fsOpts.clockRho ?? 0.05;
      for (const node of this.nodes) {
        const rate = 1 - rho + 2 * rho * this.rng.next();
        const offset = this.rng.int(0, 1_000_000);
        this.clocks.set(node, new NodeClock(this.fsOpts.clockRates?.[node.name] ?? rate, offset));
        this.stateFiles.set(node, { longestPromiseMs: 0 });
        this.startFailsafe(node, 0);
      }
    }
    this.etcd.acquire('n0', this.nodes[0]!.leaseId!, 0);
    this.nodes[0]!.ownLeaderCreateRevision = this.etcd.current.leader?.createRevision ?? null;
    this.nodes[0]!.ownLeaderWriteRevision = this.etcd.current.leader?.modRevision ?? null;
    const n0 = this.nodes[0]!;
    n0.fence = { deadlineMs: n0.deadlineMs!, incarnation: n0.pg.incarnation };
    n0.lastSawPrimary = true;
    // n0 bootstrapped in synchronous mode: the agent claims the key before Postgres accepts
    // a commit, and runs with what that key allows
    if (this.sync !== null) {
      this.etcd.casSync({ leader: 'n0', syncStandbys: [], quorum: 0 }, null, n0, 0);
      for (const node of this.nodes)
        node.pg.ssn = this.agents.get(node)!.sync.desiredSsn(null, this.dyn) ?? ''; // a key listing nobody: the fallback
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
      // failsafe mode: what happened between the steps (rounds, messages, deferred actions)
      await this.queue.runUntil(step * this.stepMs, (ms) => {
        this.nowMs = ms;
      });
      this.nowMs = step * this.stepMs;
      if (this.etcd.down && this.nowMs >= this.etcdDownUntilMs) this.etcdUp();
      if (this.faultKinds.includes('watch-stall')) this.watches();
      while (this.schedule.length > 0 && this.schedule[0]!.atMs <= this.nowMs)
        await this.applyFault(this.schedule.shift()!.fault);
      if (step < this.faultSteps && this.rng.chance(this.faultRate)) await this.injectFault();
      if (step === this.faultSteps) this.heal();
      this.etcd.expire(this.nowMs);
      this.fence();
      this.replicate();
      this.wakeOnWatch();
      for (const node of this.loopOrder()) await this.loop(node);
      if (this.failsafeOn) this.countOnF();
      this.onStep?.(this.stepView());
    }
    return {
      seed: this.seed,
      violations: this.violations,
      live: this.oneLeader(),
      stats: {
        ...this.stats,
        ...(this.failsafeOn ? { failsafe: this.fsStats } : {}),
        ...(this.transitions === null ? {} : { transitions: this.transitions }),
      },
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
      if (!r.linked(source, this.nowMs) || !canStream(pg, source.pg)) continue;
      pg.streaming = true;
      pg.lastMsgAtMs = this.nowMs;
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
      this.checkDeposedAck(node, done.length);
      if (this.promised(node)) for (const lsn of done) this.acks.record(node.name, pg.timeline, lsn);
      this.stats.acked += done.length;
      if (this.nowMs >= this.faultSteps * this.stepMs) this.stats.ackedAfterHeal += done.length;
    }
  }

  /**
   * Fast failover: a primary whose key another member holds must acknowledge nothing (its ssn
   * needs the standby that took over) — the overlap the lease path never has.
   */
  checkDeposedAck(node: SimNode, count: number): void {
    if (!this.fastOn || this.keyTakenFrom.has(node.name)) return;
    const holder = this.etcd.current.leader?.name ?? null;
    if (holder === null || holder === node.name) return;
    this.stats.deposedAcks += count;
    this.fail(
      `${node.name} acknowledged ${count} commit(s) while ${holder} holds the leader key (ssn ${JSON.stringify(node.pg.ssn)})`,
    );
  }

  /**
   * Whether a commit `node` acknowledges now is promised to survive a failover. Always, in a
   * run whose mode never changes (so any acknowledgement past the key's promise is found). With
   * `syncTransitions`: while the mode is on and the sync key in etcd names `node` as leader —
   * with the mode off nothing is promised, and right after it is switched on, nothing until a
   * leader has written the key (asynchronous rules until then, as in Patroni).
   */
  promised(node: SimNode): boolean {
    if (this.transitions === null) return true;
    return this.etcd.current.syncMode !== 'off' && this.etcd.current.sync?.leader === node.name;
  }

  /** Leader-key and stream release changes wake every connected agent after its watch delay (loop/wake.ts). */
  wakeOnWatch(): void {
    const leader = this.etcd.current.leader;
    const releases = [...this.etcd.current.releases.values()].map((r) => r.modRevision).join(',');
    const rev = `${leader === null ? 'none' : leader.modRevision}|${releases}`;
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
    let obs = node.observe(this.etcd, this.nowMs, watchDelayMs, this.config, peers);
    if (node.reachable) this.viewAtMs.set(node, this.nowMs - watchDelayMs);
    const fs = this.fsOf.get(node) ?? null;
    if (fs !== null) {
      // observer.ts: our promises and the deadline of our rounds
      fs.lastPg = obs.pg;
      obs = {
        ...obs,
        self: { ...obs.self, failsafeHold: fs.hold() },
        dcs: { ...obs.dcs, ...fs.observation() },
      };
    }
    // the agent's fast-failover gatherer, over the model's probes
    if (this.fastOn)
      obs = { ...obs, takeover: await gatherTakeoverEvidence(simTakeoverProbes(this.world, node), obs) };
    const d = this.decideFn(obs, this.nowMs);
    this.stats.codes[d.reason.code] = (this.stats.codes[d.reason.code] ?? 0) + 1;
    if (d.actions.length > 0 || d.reason.code !== node.lastDecision?.reason.code) {
      this.log(`${node.name} ${d.reason.code} [${d.actions.map((a) => a.kind).join(',')}] ${d.reason.text}`);
    }
    node.lastDecision = d;
    if (fs === null) {
      await this.execute(node, d.actions, obs);
      await this.syncDuty(this.agents.get(node)!);
      this.publish(node);
      return;
    }
    // the actions run a little after the decision: a `POST /failsafe` may be accepted in between (M3)
    const delay = this.rng.int(0, Math.min(this.fsOpts.decideToActMs ?? 90, this.stepMs - 10));
    const gen = this.generation.get(node);
    const act = async () => {
      if (this.generation.get(node) !== gen) return; // the agent restarted meanwhile
      await this.execute(node, d.actions, obs);
      // ha.ts: the last probe is the one after the actions, when there were any
      fs.lastPg = d.actions.length > 0 ? node.probe() : obs.pg;
      await this.syncDuty(this.agents.get(node)!, fs.syncFrozen());
      await fs.afterIteration(node.cachedView, fs.lastPg);
      this.publish(node);
    };
    if (delay === 0) await act();
    else this.queue.at(this.nowMs + delay, act);
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
    const fs = this.fsOf.get(node);
    const ctx: ExecContext = {
      ...agent.ctx,
      syncMode: this.dynOf(node).synchronousMode,
      ...(fs === undefined ? {} : { failsafe: fs.port }),
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
  async syncDuty(agent: SimAgent, frozen = false): Promise<void> {
    const node = agent.node;
    if (node.etcdConnected(this.nowMs)) {
      const atMs = Math.max(
        this.viewAtMs.get(node) ?? 0,
        this.nowMs - this.rng.int(0, TIMING.maxWatchDelayMs),
      );
      this.viewAtMs.set(node, atMs);
      node.cachedView = toClusterView(this.etcd.readAt(node.watchFrozenAtMs ?? atMs));
    }
    const view = node.cachedView;
    const dyn = this.dynOf(node);
    // ha.ts: a writable primary keeps the value in force unless the key gives it one, then the
    // render (the operator's value, when not managed, is none here)
    await adoptSsnInForce(agent.sync, { view, dyn, runningPrimary: node.writable() });
    if (this.sync !== null) node.pg.ssn = agent.sync.desiredSsn(view, dyn) ?? '';
    const before = `${node.pg.ssn}|${JSON.stringify(this.etcd.current.sync)}`;
    // leader-duties.ts: while W rests on F the leader's sync duty changes nothing (P6)
    if (frozen && node.writable() && holdsLeaderKey(view, node.name, node.leaseId)) return;
    try {
      await syncDuty(
        agent.sync,
        {
          view,
          dyn,
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
    for (const name of this.deposed) if (!this.byName.get(name)!.writable()) this.deposed.delete(name);
    // a primary deposed by a fast takeover may stay writable until it notices; that it
    // acknowledges nothing then is checked at each acknowledgement (checkDeposedAck)
    const writable = this.nodes.filter((n) => n.writable() && !this.deposed.has(n.name));
    if (writable.length > 1) {
      this.fail(`two writable primaries after ${where}: ${writable.map((n) => n.name).join(', ')}`);
    }
    const holder = this.etcd.current.leader?.name ?? null;
    for (const name of this.keyTakenFrom)
      if (!this.byName.get(name)!.writable()) this.keyTakenFrom.delete(name);
    for (const n of writable) {
      if (n.name === holder || this.keyTakenFrom.has(n.name)) continue;
      // failsafe mode: a primary runs on without its key (gone with its lease) while every
      // member promised not to take it; never while another member holds it
      if (this.failsafeOn && holder === null) continue;
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
      case 'etcd-down':
      case 'etcd-cut-all':
        await this.applyFault({ kind: fault, forMs: untilMs - this.nowMs });
        return;
      case 'primary-etcd-cut': {
        const primary = this.nodes.find((n) => n.writable()) ?? node;
        await this.applyFault({ kind: 'etcd-cut', node: primary.name, forMs: untilMs - this.nowMs });
        return;
      }
      case 'node-cut': {
        // mostly between the primary and another member: the cut that fails rounds
        const primary = this.nodes.find((n) => n.writable());
        const from = primary !== undefined && this.rng.chance(0.7) ? primary : node;
        const others = this.nodes.filter((n) => n !== from);
        if (others.length === 0) return;
        const to = this.rng.pick(others);
        const oneWay = this.rng.chance(0.4);
        const [a, b] = this.rng.chance(0.5) ? [from, to] : [to, from];
        await this.applyFault({
          kind: 'node-cut',
          from: a.name,
          to: b.name,
          forMs: untilMs - this.nowMs,
          oneWay,
        });
        return;
      }
      case 'peers-cut':
        // a member cut off from every other member, still reaching etcd
        for (const other of this.nodes)
          if (other !== node)
            await this.applyFault({
              kind: 'node-cut',
              from: node.name,
              to: other.name,
              forMs: untilMs - this.nowMs,
            });
        return;
      case 'agent-restart':
      case 'reboot':
        await this.applyFault({
          kind: fault,
          node: node.name,
          downMs: this.rng.int(1, fault === 'reboot' ? 30 : 15) * this.stepMs,
        });
        return;
      case 'failsafe-toggle':
        await this.applyFault({ kind: 'failsafe-mode', on: !this.etcd.current.failsafeMode });
        return;
      case 'watch-stall':
        await this.applyFault({ kind: 'watch-stall', node: node.name, forMs: untilMs - this.nowMs });
        return;
      case 'sync-mode-toggle':
        this.toggleSyncMode();
        return;
      case 'host-death':
        this.hostDeath(this.nodes.find((n) => n.writable()) ?? node, untilMs);
        return;
      case 'primary-full-cut': {
        const primary = this.nodes.find((n) => n.writable()) ?? node;
        await this.applyFault({ kind: 'full-cut', node: primary.name, forMs: untilMs - this.nowMs });
        return;
      }
    }
    this.log(`FAULT ${fault} on ${node.name} until ${untilMs}`);
  }

  /** One fault, now: the scheduled ones, and the failsafe ones of the random mix. */
  async applyFault(f: SimFault): Promise<void> {
    const now = this.nowMs;
    const named = (name: string): SimNode => {
      const n = this.byName.get(name);
      if (n === undefined) throw new Error(`no node ${name}`);
      return n;
    };
    switch (f.kind) {
      case 'etcd-cut':
        named(f.node).faults.etcdCutUntilMs = Math.max(named(f.node).faults.etcdCutUntilMs, now + f.forMs);
        break;
      case 'full-cut':
        named(f.node).faults.fullCutUntilMs = Math.max(named(f.node).faults.fullCutUntilMs, now + f.forMs);
        break;
      case 'agent-pause':
        named(f.node).faults.agentPausedUntilMs = Math.max(
          named(f.node).faults.agentPausedUntilMs,
          now + f.forMs,
        );
        break;
      case 'renewals-lost':
        named(f.node).faults.renewalsLostUntilMs = Math.max(
          named(f.node).faults.renewalsLostUntilMs,
          now + f.forMs,
        );
        break;
      case 'etcd-down':
      case 'etcd-cut-all':
        for (const n of this.nodes)
          n.faults.etcdCutUntilMs = Math.max(n.faults.etcdCutUntilMs, now + f.forMs);
        if (f.kind === 'etcd-down') {
          this.etcd.setDown(true, now);
          this.etcdDownUntilMs = Math.max(this.etcdDownUntilMs, now + f.forMs);
        }
        this.log(`FAULT ${f.kind} until ${now + f.forMs}`);
        return;
      case 'node-cut': {
        const from = named(f.from);
        const to = named(f.to);
        const until = now + f.forMs;
        from.faults.cutTo.set(to.name, Math.max(from.faults.cutTo.get(to.name) ?? 0, until));
        if (f.oneWay !== true)
          to.faults.cutTo.set(from.name, Math.max(to.faults.cutTo.get(from.name) ?? 0, until));
        this.log(`FAULT node-cut ${f.from} ${f.oneWay === true ? '→' : '↔'} ${f.to} until ${until}`);
        return;
      }
      case 'agent-restart':
      case 'reboot':
        this.restartAgent(named(f.node), f.downMs, f.kind === 'reboot');
        return;
      case 'pg-crash':
        this.crash(named(f.node));
        return;
      case 'watch-stall': {
        const n = named(f.node);
        n.faults.watchStalledUntilMs = Math.max(n.faults.watchStalledUntilMs, now + f.forMs);
        n.faults.watchStallAtNoLeader = f.atNoLeader === true;
        if (f.atNoLeader !== true) n.watchFrozenAtMs ??= this.viewAtMs.get(n) ?? now;
        this.log(
          `FAULT watch of ${f.node} stalls until ${now + f.forMs}${f.atNoLeader === true ? ' (at the next revision without a leader key)' : ''}`,
        );
        return;
      }
      case 'switchover': {
        const leader = this.etcd.current.leader?.name ?? null;
        if (leader === null) return;
        this.etcd.setFailover({ leader, member: f.to, scheduledAt: null, modRevision: '0' }, now);
        this.log(`FAULT switchover requested ${leader} → ${f.to}`);
        return;
      }
      case 'failsafe-mode':
        this.etcd.setFailsafeMode(f.on, now);
        this.log(`FAULT failsafe_mode = ${f.on}`);
        return;
      case 'pause':
        this.etcd.setPause(f.on, now);
        this.log(`FAULT cluster pause = ${f.on}`);
        return;
    }
    this.log(`FAULT ${f.kind} on ${f.node} for ${f.forMs} ms`);
  }

  /** Stalled watches: frozen at the next revision without a leader key when so armed; resumed when over. */
  watches(): void {
    for (const n of this.nodes) {
      const f = n.faults;
      if (this.nowMs >= f.watchStalledUntilMs) {
        if (n.watchFrozenAtMs !== null) this.log(`${n.name} watch resumes`);
        n.watchFrozenAtMs = null;
        f.watchStallAtNoLeader = false;
      } else if (f.watchStallAtNoLeader && n.watchFrozenAtMs === null && this.etcd.current.leader === null) {
        n.watchFrozenAtMs = this.nowMs;
        this.log(`${n.name} watch stalled at t=${this.nowMs} (no leader key)`);
      }
    }
  }

  /** etcd is back (every member restarted): every lease is refreshed to its full ttl. */
  etcdUp(): void {
    this.etcd.setDown(false, this.nowMs);
    this.log('etcd up again: leases refreshed');
  }

  /** `hactl edit-config` switching synchronous_mode off, or back to the run's mode. */
  toggleSyncMode(): void {
    if (this.sync === null) return;
    const mode = this.etcd.current.syncMode === 'off' ? this.sync.mode : 'off';
    // each node acts on it once its own (lagging, maybe stalled) view of the config key has it
    this.etcd.setSyncMode(mode, this.nowMs);
    if (mode === 'off') this.acks = new AckLedger();
    if (this.transitions !== null) this.transitions.modeSwitches++;
    this.log(`FAULT synchronous_mode = ${mode}`);
  }

  /**
   * The agent's process restarts (a reboot: the host, so Postgres stops and the monotonic
   * clock starts again). Its memory is lost; the state file (the longest promise) survives;
   * the new process starts `downMs` later.
   */
  restartAgent(node: SimNode, downMs: number, reboot: boolean): void {
    if (!this.failsafeOn && this.transitions === null) return;
    if (this.failsafeOn) this.fsStats.restarts++;
    if (this.transitions !== null) this.transitions.restarts++;
    const startAt = this.nowMs + downMs;
    if (reboot) {
      this.crash(node);
      node.fence = null;
      const old = this.clocks.get(node)!;
      // CLOCK_MONOTONIC starts near zero again after a boot
      this.clocks.set(node, new NodeClock(old.rate, -old.rate * startAt + this.rng.int(1_000, 60_000)));
    }
    this.newAgentProcess(node, startAt);
    if (this.failsafeOn) this.startFailsafe(node, startAt);
    this.log(`FAULT ${reboot ? 'reboot of' : 'agent restart on'} ${node.name}: up again at ${startAt}`);
  }

  /** The agent's process is gone until `startAt`, when a new one starts with nothing in memory. */
  newAgentProcess(node: SimNode, startAt: number): void {
    node.agentRestarted();
    // the new process lists etcd afresh and watches from there: a stall was the old watch's
    node.faults.watchStalledUntilMs = 0;
    node.watchFrozenAtMs = null;
    // nor can a stall leave the new process's view older than its own first list
    this.viewAtMs.delete(node);
    node.faults.agentPausedUntilMs = 0;
    node.faults.agentDownUntilMs = startAt;
    node.nextLoopAtMs = startAt;
    this.agents.set(node, this.agentFor(node));
  }

  /**
   * The host dies (kill -9 of everything, or power): Postgres and the agent stop, nothing
   * reaches it until `untilMs`, when it boots with Postgres stopped and a fresh agent.
   */
  hostDeath(node: SimNode, untilMs: number): void {
    if (this.failsafeOn) {
      this.restartAgent(node, untilMs - this.nowMs, true);
      return;
    }
    this.crash(node);
    node.fence = null;
    node.faults.fullCutUntilMs = Math.max(node.faults.fullCutUntilMs, untilMs);
    this.newAgentProcess(node, untilMs);
    this.log(`FAULT host of ${node.name} dies: up again at ${untilMs}`);
  }

  /** A new agent process's failsafe glue on `node`, its runner's first tick at `startAt`. */
  startFailsafe(node: SimNode, startAt: number): void {
    const gen = (this.generation.get(node) ?? 0) + 1;
    this.generation.set(node, gen);
    const clock = this.clocks.get(node)!;
    const lostRate = this.fsOpts.lostAnswerRate ?? 0.05;
    const fs = new SimFailsafe({
      node,
      clock,
      scope: 'sim',
      nowMs: () => this.nowMs,
      dyn: () => this.dynOf(node),
      store: simFailsafeStore(this.world, node, () =>
        this.rng.chance(lostRate) ? this.rng.pick(['committed', 'lost'] as const) : null,
      ),
      post: (apiUrl, body, timeoutMs) => this.post(node, gen, apiUrl, body, timeoutMs),
      stateFile: this.stateFiles.get(node)!,
      startedAtNodeMs: clock.toNode(startAt),
      ...(this.fsOpts.rounds === undefined ? {} : { rounds: this.fsOpts.rounds }),
      ...(this.fsOpts.promises === undefined ? {} : { promises: this.fsOpts.promises }),
      unboundLeaseCounts: this.fsOpts.unboundLeaseCounts === true,
    });
    this.fsOf.set(node, fs);
    node.fenceDeadline = () => fs.writableUntilMs();
    node.onLeaseLost = () => fs.leaseLost();
    this.lastRoundOutcome.delete(node);
    this.queue.at(startAt, () => this.roundTick(node, gen));
  }

  /** This node's dynamic config: `failsafe_mode` as it last read the config key (the bootstrap value before). */
  /** The dynamic config as `node`'s view of the `config` key has it (failsafe and synchronous mode). */
  dynOf(node: SimNode): DynamicConfig {
    const v = node.cachedView?.config?.value.failsafe_mode;
    return {
      ...this.dyn,
      failsafeMode: typeof v === 'boolean' ? v : this.dyn.failsafeMode,
      synchronousMode: syncModeOf(node.cachedView) ?? this.dyn.synchronousMode,
    };
  }

  /**
   * runner.ts `FailsafeRunner.#tick`: a round when one is due (P1), one at a time, the next
   * ttl/10 after this one started or as soon as it ended if it took longer. A frozen agent's
   * timer fires when it resumes.
   */
  async roundTick(node: SimNode, gen: number): Promise<void> {
    if (this.generation.get(node) !== gen) return;
    if (node.agentPaused(this.nowMs)) {
      const resume = Math.max(node.faults.agentPausedUntilMs, node.faults.agentDownUntilMs);
      this.queue.at(resume, () => this.roundTick(node, gen), this.nowMs);
      return;
    }
    const fs = this.fsOf.get(node)!;
    const started = this.nowMs;
    const interval = roundIntervalMs(this.dynOf(node).ttlMs);
    const input = fs.due();
    if (input === null) {
      this.queue.at(started + interval, () => this.roundTick(node, gen));
      return;
    }
    this.fsStats.rounds++;
    fs.pending = 0;
    const task = (async () => {
      const outcome = await fs.rounds.round(input);
      if (this.generation.get(node) !== gen) return;
      fs.task = null;
      this.fsStats[outcome.kind === 'not-listed' ? 'notListed' : outcome.kind]++;
      const key = outcome.kind === 'incomplete' ? `incomplete:${outcome.missing.join(',')}` : outcome.kind;
      if (this.lastRoundOutcome.get(node) !== key) {
        this.lastRoundOutcome.set(node, key);
        const detail =
          outcome.kind === 'extended' ? ` F=${Math.round(fs.clock.toReal(outcome.deadlineMs))}` : '';
        const set = [...(fs.rounds.failsafeSet()?.keys() ?? [])].join(',');
        this.log(`${node.name} failsafe round: ${key}${detail} (FS ${set})`);
      }
      if (outcome.kind === 'extended') this.rearmFence(node, fs);
      // the safety guard demotes at once: the loop runs now
      if (outcome.kind === 'refused') node.nextLoopAtMs = Math.min(node.nextLoopAtMs, this.nowMs);
      this.queue.at(Math.max(this.nowMs, started + interval), () => this.roundTick(node, gen));
    })();
    fs.task = task;
    if (fs.pending === 0) await task;
  }

  /** ha.ts `#rearmFence`: a complete round moves the fence of a running primary to W. */
  rearmFence(node: SimNode, fs: SimFailsafe): void {
    const holds = holdsLeaderKey(node.cachedView, node.name, node.leaseId);
    if (!node.fenceMoves(fs.lastPg, holds, node.pg.process === 'running')) return;
    const deadlineMs = fs.writableUntilMs();
    if (deadlineMs === null || node.pg.process !== 'running') return;
    node.fence = { deadlineMs, incarnation: node.pg.incarnation };
  }

  /**
   * `POST /failsafe` from `from` to the member `apiUrl` names, over the modelled network: the
   * request is lost while a cut separates them (or either is cut off from everything), takes
   * its latency, waits while the member's agent is frozen, is refused while it restarts; the
   * answer travels back the same way. Nothing in time: 'failed' at `timeoutMs`. The sender's
   * side runs when its agent can (frozen: on resume; restarted: never).
   */
  post(
    from: SimNode,
    gen: number,
    apiUrl: string,
    body: Parameters<typeof overTheWire>[0],
    timeoutMs: number,
  ) {
    this.fsStats.posts++;
    const fs = this.fsOf.get(from)!;
    fs.pending++;
    return new Promise<'accepted' | 'leader' | 'failed'>((resolve) => {
      let done = false;
      const sentAt = this.nowMs;
      // runs on the sender's side: its agent must be alive and running to see it
      const atSender = (dueMs: number, fn: () => Promise<void>): Promise<void> | void => {
        if (this.generation.get(from) !== gen) return;
        if (from.agentPaused(this.nowMs)) {
          this.queue.at(from.faults.agentPausedUntilMs, () => atSender(dueMs, fn), dueMs);
          return;
        }
        return fn();
      };
      const finish = async (answer: 'accepted' | 'leader' | 'failed') => {
        if (done) return;
        done = true;
        resolve(answer);
        fs.pending--;
        if (fs.pending === 0 && fs.task !== null) await fs.task;
      };
      this.queue.at(sentAt + timeoutMs, () => atSender(sentAt + timeoutMs, () => finish('failed')));
      const to = this.byName.get(hostOf(apiUrl));
      if (to === undefined) return;
      const deliver = async (): Promise<void> => {
        if (done) return;
        if (!from.sendsTo(to, this.nowMs)) return; // lost
        if (to.agentDown(this.nowMs))
          return this.reply(from, to, () => atSender(this.nowMs, () => finish('failed')));
        if (to.agentPaused(this.nowMs)) {
          // the request waits in the frozen agent's socket
          this.queue.at(to.faults.agentPausedUntilMs, deliver, this.nowMs);
          return;
        }
        const reply = await this.fsOf.get(to)!.answer(overTheWire(body));
        const answer = answerOf(reply);
        if (answer === 'accepted') this.fsStats.accepted++;
        else this.log(`${to.name} answered POST /failsafe from ${from.name}: ${reply.status} ${reply.body}`);
        this.reply(from, to, () => atSender(this.nowMs, () => finish(answer)));
      };
      this.queue.at(sentAt + this.latency(from, to), deliver);
    });
  }

  /** The answer from `to` travels back to `from`. */
  reply(from: SimNode, to: SimNode, arrive: () => Promise<void> | void): void {
    const at = this.nowMs + this.latency(to, from);
    this.queue.at(at, () => {
      if (to.sendsTo(from, this.nowMs)) return arrive();
    });
  }

  /** One-way latency of a failsafe message. */
  latency(from: SimNode, to: SimNode): number {
    const fixed = this.fsOpts.latencyMs?.(from.name, to.name, this.nowMs);
    if (fixed !== undefined) return fixed;
    return this.rng.chance(0.05) ? this.rng.int(200, 1_500) : this.rng.int(1, 40);
  }

  /** Failsafe stats: a writable primary whose lease deadline passed or whose key went runs on F. */
  countOnF(): void {
    const holder = this.etcd.current.leader;
    for (const n of this.nodes) {
      if (!n.writable()) continue;
      if (holder?.name !== n.name || n.deadlineMs === null || this.nowMs >= n.deadlineMs)
        this.fsStats.stepsOnF++;
    }
  }

  stepView(): SimStep {
    const l = this.etcd.current.leader;
    return {
      nowMs: this.nowMs,
      writable: this.nodes.filter((n) => n.writable()).map((n) => n.name),
      leader: l === null ? null : { name: l.name, leaseId: l.leaseId },
      failsafeKey:
        this.etcd.current.failsafe === null ? null : [...this.etcd.current.failsafe.members.keys()],
      codes: Object.fromEntries(this.nodes.map((n) => [n.name, n.lastDecision?.reason.code ?? 'none'])),
      lsn: Object.fromEntries(this.nodes.map((n) => [n.name, n.pg.lsn])),
      writableUntil: Object.fromEntries(
        this.nodes.map((n) => [n.name, this.fsOf.get(n)?.writableUntilMs() ?? null]),
      ),
      fenceStops: this.stats.fenceStops,
    };
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
      node.faults.cutTo.clear();
      node.faults.watchStalledUntilMs = 0;
    }
    if (this.etcd.down) this.etcdUp();
    if (this.failsafeOn) this.etcd.setFailsafeMode(true, this.nowMs);
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
    streamRelease: null,
    wasPrimary: primary,
    crashedAtMs: null,
    streaming: false,
    streamingReplicas: [],
    ssn: '',
    unacked: [],
    lastMsgAtMs: null,
  };
}
