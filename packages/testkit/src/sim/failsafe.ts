import {
  answerFailsafe,
  type FailsafeAnswer,
  type FailsafeHold,
  type FailsafePort,
  FailsafePromises,
  type FailsafeReply,
  type FailsafeRequest,
  type FailsafeRoundPorts,
  FailsafeRounds,
  failsafeKeyDuty,
  type RoundInput,
} from '@hapg/agent';
import {
  type ClusterView,
  type DcsObservation,
  holdsLeaderKey,
  onFailsafeDeadline,
  type PgObservation,
  walPosition,
  writableUntilMs,
} from '@hapg/core';
import type { SimNode } from './node.js';

/**
 * One host's CLOCK_MONOTONIC: its own origin and a rate within ρ of real time (docs/failsafe.md,
 * safety argument). The failsafe modules of a node read only this clock; the simulator converts
 * at the two places where the model's real time meets them (the fence, `decide`'s deadlines).
 */
export class NodeClock {
  constructor(
    readonly rate: number,
    readonly offsetMs: number,
  ) {}
  toNode(realMs: number): number {
    return this.offsetMs + this.rate * realMs;
  }
  toReal(nodeMs: number): number {
    return (nodeMs - this.offsetMs) / this.rate;
  }
}

/** What the failsafe glue needs of the simulator, for one node. */
export interface SimFailsafeDeps {
  readonly node: SimNode;
  readonly clock: NodeClock;
  readonly scope: string;
  /** the simulated (real) instant */
  readonly nowMs: () => number;
  /** this node's dynamic config: as it last read it from etcd */
  readonly dyn: () => {
    readonly failsafeMode: boolean;
    readonly ttlMs: number;
    readonly failsafeTimeoutMs: number;
  };
  readonly store: Parameters<typeof failsafeKeyDuty>[0]['store'];
  /** `POST /failsafe` over the modelled network (never throws) */
  readonly post: FailsafeRoundPorts['post'];
  /** the state file: the longest promise any run of this node's agent recorded (M4) */
  readonly stateFile: { longestPromiseMs: number };
  /** monotonic ms (this node's clock) when this agent process started */
  readonly startedAtNodeMs: number;
  /** the rounds implementation (default: the agent's `FailsafeRounds`); tests pass mutants */
  readonly rounds?: (ports: FailsafeRoundPorts) => FailsafeRounds;
  /** the promises implementation (default: the agent's `FailsafePromises`); tests pass mutants */
  readonly promises?: (opts: { startedAtMs: number; longestPromiseMs: number }) => FailsafePromises;
  /** mutant: `leaseLost()` changes nothing, so a lease the key is not bound to counts in W (reverts G1) */
  readonly unboundLeaseCounts?: boolean;
}

const keyDutyLog = {
  info: () => {},
  warn: () => {},
  error: () => {},
  debug: () => {},
} as unknown as Parameters<typeof failsafeKeyDuty>[0]['log'];

/**
 * The agent's `AgentFailsafe` glue, over the simulator's ports: the production
 * `FailsafePromises`, `FailsafeRounds`, `answerFailsafe` and `failsafeKeyDuty`, wired as
 * agent-failsafe.ts wires them (`port`, `hold`, `observation`, `writableUntilMs`, `answer`,
 * `afterIteration`, `syncFrozen`, and `due()` = P1). `AgentFailsafe` itself cannot be used:
 * its rounds and `#due` are private to its timer-driven `FailsafeRunner`, and the simulator
 * must run rounds on its own simulated schedule. One instance per agent process: a restart
 * makes a new one (memory lost), with the longest promise read back from the state file.
 */
export class SimFailsafe {
  readonly promises: FailsafePromises;
  readonly rounds: FailsafeRounds;
  /** the last probe of our Postgres (ha.ts `#lastPg`); null before the first */
  lastPg: PgObservation | null = null;
  /** posts of the round in flight not answered yet, and the round's task */
  pending = 0;
  task: Promise<void> | null = null;
  readonly #d: SimFailsafeDeps;
  /** agent-failsafe.ts `#leaseUnbound` (P7): the lease the key was bound to expired while we ran on F */
  #leaseUnbound = false;

  constructor(deps: SimFailsafeDeps) {
    this.#d = deps;
    const opts = { startedAtMs: deps.startedAtNodeMs, longestPromiseMs: deps.stateFile.longestPromiseMs };
    this.promises = deps.promises?.(opts) ?? new FailsafePromises(opts);
    const ports: FailsafeRoundPorts = { monotonicMs: () => this.monotonicMs(), post: deps.post };
    this.rounds = deps.rounds?.(ports) ?? new FailsafeRounds(ports);
  }

  get clock(): NodeClock {
    return this.#d.clock;
  }

  /** this node's monotonic clock now */
  monotonicMs(): number {
    return this.#d.clock.toNode(this.#d.nowMs());
  }

  /** The executor's port: M3's leadership step. */
  readonly port: FailsafePort = {
    beginLeadership: () =>
      this.promises.beginLeadership(this.monotonicMs(), { writable: this.#writable() })?.text ?? null,
  };

  /** `SelfInfo.failsafeHold` */
  hold(): FailsafeHold | null {
    return this.promises.hold(this.monotonicMs());
  }

  /** agent-failsafe.ts `leaseLost()`: etcd said the lease is gone (the store's `lease-lost`). */
  leaseLost(): void {
    if (this.#d.unboundLeaseCounts === true) return;
    if (this.rounds.deadlineMs() !== null) this.#leaseUnbound = true;
  }

  /**
   * The failsafe fields of core's `DcsObservation` (F in the model's real time), and the lease
   * deadline to use instead of the store's while the lease is unbound (P7).
   */
  observation(): Pick<DcsObservation, 'failsafeDeadlineMs' | 'failsafeAlone' | 'failsafeRefused'> & {
    readonly leaseDeadlineMs?: null;
  } {
    const node = this.#d.node;
    if (this.#leaseUnbound && holdsLeaderKey(node.cachedView, node.name, node.leaseId))
      this.#leaseUnbound = false;
    const f = this.rounds.deadlineMs();
    return {
      ...(this.#leaseUnbound ? { leaseDeadlineMs: null } : {}),
      failsafeDeadlineMs: f === null ? null : this.#d.clock.toReal(f),
      failsafeAlone: this.#d.dyn().failsafeMode && this.rounds.alone(this.#d.node.name),
      failsafeRefused: this.rounds.refused(),
    };
  }

  /** W in the model's real time: what the fence is armed with. */
  writableUntilMs(): number | null {
    return writableUntilMs({ ...this.#lease(), ...this.observation(), view: null, reachable: false });
  }

  /** P6: while W rests on F, the synchronous duty changes nothing. */
  syncFrozen(): boolean {
    const dcs = { ...this.#lease(), ...this.observation(), view: null, reachable: false };
    return onFailsafeDeadline(dcs, this.#d.nowMs());
  }

  /** `POST /failsafe`, answered against this node's own state. */
  answer(body: unknown): Promise<FailsafeReply> {
    const d = this.#d;
    const node = d.node;
    return answerFailsafe(body, {
      self: node.name,
      scope: d.scope,
      promises: this.promises,
      monotonicMs: () => this.monotonicMs(),
      failsafeMode: () => d.dyn().failsafeMode,
      ttlMs: () => d.dyn().ttlMs,
      writable: () => this.#writable(),
      freshView: () => (node.reachable ? node.cachedView : null),
      walPosition: () => (this.lastPg === null ? null : walPosition(this.lastPg)),
      recordLongest: async (ms) => {
        d.stateFile.longestPromiseMs = Math.max(d.stateFile.longestPromiseMs, ms);
      },
    });
  }

  /** agent-failsafe.ts `afterIteration`: leadership ends (M3), the key duty (K1, K2), P7. */
  async afterIteration(view: ClusterView | null, pg: PgObservation): Promise<void> {
    const node = this.#d.node;
    const holds = holdsLeaderKey(view, node.name, node.leaseId);
    const writable = pg.process !== 'stopped' && pg.inRecovery !== true;
    if (node.reachable && view !== null && !holds && !writable) {
      this.promises.endLeadership();
      this.rounds.leadershipEnded();
      this.#leaseUnbound = false;
    }
    if (holds && node.reachable && view !== null && node.renewFailingSinceMs === null) {
      this.rounds.leaseConfirmed();
      await failsafeKeyDuty(
        { store: this.#d.store, rounds: this.rounds, log: keyDutyLog },
        {
          view,
          self: node.name,
          selfApiUrl: apiUrlOf(node.name),
          failsafeMode: this.#d.dyn().failsafeMode,
        },
      );
    }
  }

  /** agent-failsafe.ts `#due()`, P1: a round is due while we run as primary under our key and the lease is not renewed. */
  due(): RoundInput | null {
    const d = this.#d;
    const node = d.node;
    const dyn = d.dyn();
    if (!dyn.failsafeMode) return null;
    const pg = this.lastPg;
    if (pg === null || pg.process !== 'running' || pg.inRecovery !== false) return null;
    if (!holdsLeaderKey(node.cachedView, node.name, node.leaseId)) return null;
    if (node.renewFailingSinceMs === null) return null;
    const until = this.writableUntilMs();
    if (until === null || d.nowMs() >= until) return null;
    return {
      self: node.name,
      scope: d.scope,
      ttlMs: dyn.ttlMs,
      timeoutMs: dyn.failsafeTimeoutMs,
      connUrl: `postgres://${node.name}:5432/postgres`,
      apiUrl: apiUrlOf(node.name),
      writableUntilMs: () => {
        const w = this.writableUntilMs();
        return w === null ? null : this.#d.clock.toNode(w);
      },
    };
  }

  /** the last probe saw our Postgres accepting writes */
  #writable(): boolean {
    const pg = this.lastPg;
    return pg !== null && pg.process === 'running' && pg.inRecovery === false;
  }

  #lease(): Pick<DcsObservation, 'leaseId' | 'leaseDeadlineMs' | 'renewFailingSinceMs'> {
    const node = this.#d.node;
    return {
      leaseId: node.leaseId,
      leaseDeadlineMs: this.#leaseUnbound ? null : node.deadlineMs,
      renewFailingSinceMs: node.renewFailingSinceMs,
    };
  }
}

/** The `api_url` the model's member keys publish (etcd.ts `toClusterView`). */
export function apiUrlOf(name: string): string {
  return `http://${name}:8008/patroni`;
}

/** The member an `api_url` of the model names (its host). */
export function hostOf(apiUrl: string): string {
  try {
    return new URL(apiUrl).hostname;
  } catch {
    return '';
  }
}

/** runner.ts / httpFailsafePost: a member counts only on 200 `Accepted`; 500 `Running as a leader` refuses. */
export function answerOf(reply: FailsafeReply): FailsafeAnswer {
  if (reply.status === 200 && reply.body === 'Accepted') return 'accepted';
  if (reply.status === 500 && reply.body === 'Running as a leader') return 'leader';
  return 'failed';
}

/** A request as it travels: serialized and parsed, as over HTTP. */
export function overTheWire(body: FailsafeRequest): unknown {
  return JSON.parse(JSON.stringify(body));
}

/**
 * Simulated events between the steps of the simulation, in time order (ties: the order of the
 * instant they were first due, then of scheduling).
 */
export class EventQueue {
  #events: { atMs: number; dueMs: number; seq: number; run: () => Promise<void> | void }[] = [];
  #seq = 0;
  #lastMs = 0;

  /** `dueMs`: when it was first due (kept when an event is postponed) */
  at(atMs: number, run: () => Promise<void> | void, dueMs: number = atMs): void {
    const e = { atMs, dueMs, seq: this.#seq++, run };
    const es = this.#events;
    let i = es.length;
    while (i > 0 && before(e, es[i - 1]!)) i--;
    es.splice(i, 0, e);
  }

  /** Runs every event due at or before `untilMs`, each at its own instant (`setNow`). */
  async runUntil(untilMs: number, setNow: (ms: number) => void): Promise<void> {
    for (let e = this.#events[0]; e !== undefined && e.atMs <= untilMs; e = this.#events[0]) {
      this.#events.shift();
      // never back in time: an event scheduled for an instant already past runs now
      this.#lastMs = Math.max(this.#lastMs, e.atMs);
      setNow(this.#lastMs);
      await e.run();
    }
  }

  get size(): number {
    return this.#events.length;
  }
}

function before(
  a: { atMs: number; dueMs: number; seq: number },
  b: { atMs: number; dueMs: number; seq: number },
): boolean {
  if (a.atMs !== b.atMs) return a.atMs < b.atMs;
  if (a.dueMs !== b.dueMs) return a.dueMs < b.dueMs;
  return a.seq < b.seq;
}
