import {
  type Clock,
  type ClusterView,
  type Decision,
  type DynamicConfig,
  errorText,
  holdsLeaderKey,
  type NodeConfig,
  type PgObservation,
} from '@hapg/core';
import type { EtcdStore } from '@hapg/dcs';
import type { NodeSnapshot } from '../api/snapshot.js';
import type { LoopEvents } from '../events/index.js';
import type { AgentFailsafe } from '../failsafe/index.js';
import type { LocalPostgres } from '../local-pg.js';
import type { Logger } from '../logger.js';
import { memberJson, streamingFrom } from '../member.js';
import type { AgentMetrics } from '../metrics.js';
import { EMPTY_PG_OBSERVATION, buildSnapshot, joinReasons } from '../snapshot-build.js';
import { type AgentMemory, prePromoteFailure as prePromoteFailureOf } from './memory.js';

/** What the loop runs with at the moment of a publish (reloads and each iteration change it). */
export interface PublishState {
  readonly config: NodeConfig;
  readonly dyn: DynamicConfig;
  readonly memory: AgentMemory;
  /** `watchdog.mode: required` and the watchdog failed (the last observation's word) */
  readonly watchdogFailure: string | null;
  /** the parameter duty's last problem (a reload refused, an ssn not in force) */
  readonly parameterProblem: string | null;
}

export interface PublisherOptions {
  readonly version: string;
  readonly store: EtcdStore;
  readonly pg: LocalPostgres;
  readonly clock: Clock;
  readonly metrics: AgentMetrics;
  readonly log: Logger;
  readonly events: LoopEvents;
  readonly failsafe: AgentFailsafe;
  /** told every snapshot published (the pod role label updater); must return at once */
  readonly onSnapshot?: (snapshot: NodeSnapshot) => void;
  readonly state: () => PublishState;
}

/**
 * What the loop tells the world: the decision in the log and the metrics, the status the REST
 * API, the metrics and the event journal read (`NodeSnapshot`), and our member key in etcd.
 */
export class StatusPublisher {
  readonly #o: PublisherOptions;
  #snapshot: NodeSnapshot;
  #lastDecision: Decision | null = null;
  /** when etcd last answered (wall seconds), shown while it does not */
  #dcsLastSeenS: number | null = null;

  constructor(o: PublisherOptions) {
    this.#o = o;
    const { config, dyn } = o.state();
    // nothing observed yet: no view, no probe, no lease
    this.#snapshot = buildSnapshot({
      version: o.version,
      config,
      dyn,
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
  }

  get snapshot(): NodeSnapshot {
    return this.#snapshot;
  }

  get lastDecision(): Decision | null {
    return this.#lastDecision;
  }

  /** The key names us and is bound to our current lease (core's one rule). */
  holdsLeaderKey(view: ClusterView | null): boolean {
    return holdsLeaderKey(view, this.#o.state().config.name, this.#o.store.leaseId());
  }

  /** The loop read the store: if etcd answers, it was seen now. */
  storeRead(): void {
    if (this.#o.store.reachable()) this.#dcsLastSeenS = Math.floor(this.#o.clock.wallMs() / 1000);
  }

  /** Counts the decision, and logs it when the role or the reason changed. */
  record(d: Decision, pgObs: PgObservation): void {
    this.#o.metrics.countDecision(d.reason.code);
    const prev = this.#lastDecision;
    this.#lastDecision = d;
    if (prev !== null && prev.role === d.role && prev.reason.code === d.reason.code) return;
    const lsn = pgObs.flushLsn ?? pgObs.replayLsn ?? pgObs.receiveLsn;
    this.#o.log.info(
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

  /** Builds and publishes the status from what we see now. */
  publish(view: ClusterView | null, pgObs: PgObservation, decision: Decision | null): void {
    const { store, clock, pg, failsafe } = this.#o;
    const { config, dyn, memory, watchdogFailure, parameterProblem } = this.#o.state();
    // from memory, not the last observation: a pre_promote that failed in this very loop keeps
    // peers from deferring to us at once, not a loop later
    const prePromoteFailure = prePromoteFailureOf(memory, clock.monotonicMs(), dyn.ttlMs);
    const snapshot = buildSnapshot({
      version: this.#o.version,
      config,
      dyn,
      view,
      pg: pgObs,
      status: pg.lastStatus,
      decision,
      holdsLeaderKey: this.holdsLeaderKey(view),
      leaderWithoutEtcd: failsafe.deadlineAhead(),
      leaseDeadlineMs: store.leaseDeadlineMs(),
      dcsReachable: store.reachable(),
      dcsLastSeenS: this.#dcsLastSeenS,
      nowMonotonicMs: clock.monotonicMs(),
      parameterProblem: joinReasons(joinReasons(parameterProblem, watchdogFailure), prePromoteFailure),
    });
    this.#snapshot = {
      ...snapshot,
      ...(watchdogFailure === null ? {} : { watchdogFailed: true }),
      ...(prePromoteFailure === null ? {} : { prePromoteFailed: true }),
      ...(failsafe.active() ? { failsafeActive: true } : {}),
      failsafeDeadlineMs: failsafe.observation().failsafeDeadlineMs ?? null,
    };
    this.#o.metrics.observeSnapshot(this.#snapshot);
    this.#o.onSnapshot?.(this.#snapshot);
    this.#o.events.published(this.#snapshot, view, pgObs, decision);
  }

  /** Writes our member key from the last snapshot; a failure is counted and logged, not thrown. */
  async writeMember(pgObs: PgObservation): Promise<void> {
    const { store, pg, version } = this.#o;
    try {
      const from =
        pgObs.inRecovery === true
          ? streamingFrom(pg.lastStatus?.walReceiver ?? null, store.view()?.members.values() ?? [])
          : null;
      await store.writeMember(memberJson(this.#o.state().config, pgObs, this.#snapshot, version, from));
    } catch (e) {
      this.#o.metrics.countDcsError();
      this.#o.log.warn({ err: errorText(e) }, 'could not write the member key');
    }
  }
}
