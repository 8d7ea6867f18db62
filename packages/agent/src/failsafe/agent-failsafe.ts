import {
  type ClusterView,
  type DcsObservation,
  type DynamicConfig,
  holdsLeaderKey,
  type MemberName,
  onFailsafeDeadline,
  type PgObservation,
  walPosition,
  writableUntilMs,
} from '@hapg/core';
import type { EtcdStore } from '@hapg/dcs';
import type { FailsafePort } from '../executor/ports.js';
import type { Logger } from '../logger.js';
import { answerFailsafe, type FailsafeReply } from './answer.js';
import { failsafeKeyDuty } from './key-duty.js';
import type { LongestPromiseFile } from './longest-promise.js';
import type { FailsafeHold, FailsafePromises } from './promises.js';
import { type FailsafeRoundPorts, FailsafeRounds } from './rounds.js';
import { FailsafeRunner } from './runner.js';

/** What failsafe mode adds to (and, for an unbound lease, overrides in) core's `DcsObservation`. */
export type FailsafeObservation = Pick<
  DcsObservation,
  'failsafeDeadlineMs' | 'failsafeAlone' | 'failsafeRefused'
> & {
  readonly leaseDeadlineMs?: null;
};

export interface AgentFailsafeDeps {
  readonly name: MemberName;
  readonly scope: string;
  readonly store: Pick<
    EtcdStore,
    | 'view'
    | 'reachable'
    | 'leaseId'
    | 'leaseDeadlineMs'
    | 'renewFailingSinceMs'
    | 'writeFailsafe'
    | 'deleteFailsafe'
  >;
  readonly promises: FailsafePromises;
  readonly promiseFile: Pick<LongestPromiseFile, 'save'>;
  readonly monotonicMs: () => number;
  readonly post: FailsafeRoundPorts['post'];
  readonly log: Logger;
  readonly dyn: () => DynamicConfig;
  /** the last probe of our Postgres; null before the first */
  readonly lastPg: () => PgObservation | null;
  /** our own `conn_url` and `api_url`, as our member key publishes them */
  readonly urls: () => { readonly connUrl: string; readonly apiUrl: string };
  /** a round extended the failsafe deadline: re-arm the fence */
  readonly onExtended: () => void;
  /** a member answered it leads: demote now */
  readonly onRefused: () => void;
}

/**
 * Failsafe mode in the agent (docs/failsafe.md): the promises this member gives, the rounds it
 * runs as a primary cut off from etcd, the `failsafe` key duty, and what core, the executor and
 * the REST API read of them. `ha.ts` only calls in.
 */
export class AgentFailsafe {
  readonly #d: AgentFailsafeDeps;
  readonly #rounds: FailsafeRounds;
  readonly #runner: FailsafeRunner;
  /**
   * P7: the lease the key was bound to expired while we ran on F; the lease granted since is
   * bound to no key of ours, so its deadline keeps nobody out and must not keep us writable
   * (nor move the fence) until etcd shows the key under it
   */
  #leaseUnbound = false;

  constructor(deps: AgentFailsafeDeps) {
    this.#d = deps;
    this.#rounds = new FailsafeRounds({ monotonicMs: deps.monotonicMs, post: deps.post });
    this.#runner = new FailsafeRunner({
      rounds: this.#rounds,
      log: deps.log,
      monotonicMs: deps.monotonicMs,
      ttlMs: () => deps.dyn().ttlMs,
      due: () => this.#due(),
      onExtended: deps.onExtended,
      onRefused: deps.onRefused,
    });
  }

  start(): void {
    this.#runner.start();
  }

  stop(): void {
    this.#runner.stop();
  }

  /** The executor's port: M3's leadership step. */
  readonly port: FailsafePort = {
    beginLeadership: () =>
      this.#d.promises.beginLeadership(this.#d.monotonicMs(), { writable: this.#writable() })?.text ?? null,
  };

  /** `SelfInfo.failsafeHold` */
  hold(nowMs: number): FailsafeHold | null {
    return this.#d.promises.hold(nowMs);
  }

  /** etcd said the lease is gone (`lease-lost`): if we were running on F, see `#leaseUnbound`. */
  leaseLost(): void {
    if (this.#rounds.deadlineMs() !== null) {
      this.#leaseUnbound = true;
      this.#d.log.warn(
        {},
        'failsafe: our lease expired during the outage; writable on the failsafe deadline only until the key is ours again',
      );
    }
  }

  /**
   * The failsafe fields of core's `DcsObservation`, and the lease deadline to use instead of
   * the store's while the lease is unbound (P7).
   */
  observation(): FailsafeObservation {
    const { store, name } = this.#d;
    if (this.#leaseUnbound && holdsLeaderKey(store.view(), name, store.leaseId())) this.#leaseUnbound = false;
    return {
      ...(this.#leaseUnbound ? { leaseDeadlineMs: null } : {}),
      failsafeDeadlineMs: this.#rounds.deadlineMs(),
      failsafeAlone: this.#d.dyn().failsafeMode && this.#rounds.alone(this.#d.name),
      failsafeRefused: this.#rounds.refused(),
    };
  }

  /** W: the fence's deadline (the lease's, or the failsafe deadline when that is later). */
  writableUntilMs(): number | null {
    return writableUntilMs({ ...this.#lease(), ...this.observation(), view: null, reachable: false });
  }

  /** F is ahead: every member promised not to lead before it, so we are the leader without etcd. */
  deadlineAhead(): boolean {
    const f = this.#rounds.deadlineMs();
    return f !== null && this.#d.monotonicMs() < f;
  }

  /** `failsafe_mode_is_active`: we run on the failsafe deadline, or keep a promise. */
  active(): boolean {
    const nowMs = this.#d.monotonicMs();
    const dcs = { ...this.#lease(), ...this.observation(), view: null, reachable: false };
    return onFailsafeDeadline(dcs, nowMs) || this.#d.promises.promise(nowMs) !== null;
  }

  /** `GET /failsafe`: the key as last read, or as we last wrote it; null: none. */
  key(): Readonly<Record<MemberName, string>> | null {
    const members = this.#d.store.view()?.failsafe?.members ?? this.#rounds.failsafeSet();
    return members == null ? null : Object.fromEntries(members);
  }

  /** `POST /failsafe` */
  answer(body: unknown): Promise<FailsafeReply> {
    const d = this.#d;
    return answerFailsafe(body, {
      self: d.name,
      scope: d.scope,
      promises: d.promises,
      monotonicMs: d.monotonicMs,
      failsafeMode: () => d.dyn().failsafeMode,
      ttlMs: () => d.dyn().ttlMs,
      writable: () => this.#writable(),
      freshView: () => (d.store.reachable() ? d.store.view() : null),
      walPosition: () => {
        const pg = d.lastPg();
        return pg === null ? null : walPosition(pg);
      },
      recordLongest: (ms) => d.promiseFile.save(ms),
    });
  }

  /**
   * After each loop iteration. We lead no more once etcd says the key is not ours and our
   * Postgres is not writable: promises may be given again and FS starts afresh (M3). While we
   * hold the key, the key duty (K1, K2).
   */
  async afterIteration(view: ClusterView | null, pg: PgObservation): Promise<void> {
    const { store, name } = this.#d;
    const holds = holdsLeaderKey(view, name, store.leaseId());
    const writable = pg.process !== 'stopped' && pg.inRecovery !== true;
    if (store.reachable() && view !== null && !holds && !writable) {
      this.#d.promises.endLeadership();
      this.#rounds.leadershipEnded();
      this.#leaseUnbound = false;
    }
    if (holds && store.reachable() && view !== null && store.renewFailingSinceMs() === null) {
      // the lease carries us again (P7): F is no longer needed
      this.#rounds.leaseConfirmed();
      await failsafeKeyDuty(
        { store, rounds: this.#rounds, log: this.#d.log },
        { view, self: name, selfApiUrl: this.#d.urls().apiUrl, failsafeMode: this.#d.dyn().failsafeMode },
      );
    }
  }

  /** P6: while W rests on F, the synchronous duty changes nothing. */
  syncFrozen(): boolean {
    const dcs = { ...this.#lease(), ...this.observation(), view: null, reachable: false };
    return onFailsafeDeadline(dcs, this.#d.monotonicMs());
  }

  /** the last probe saw our Postgres accepting writes */
  #writable(): boolean {
    const pg = this.#d.lastPg();
    return pg !== null && pg.process === 'running' && pg.inRecovery === false;
  }

  #lease(): Pick<DcsObservation, 'leaseId' | 'leaseDeadlineMs' | 'renewFailingSinceMs'> {
    const { store } = this.#d;
    return {
      leaseId: store.leaseId(),
      leaseDeadlineMs: this.#leaseUnbound ? null : store.leaseDeadlineMs(),
      renewFailingSinceMs: store.renewFailingSinceMs(),
    };
  }

  /** P1: a round is due while we run as primary under our key and the lease is not renewed. */
  #due() {
    const d = this.#d;
    const dyn = d.dyn();
    if (!dyn.failsafeMode) return null;
    const pg = d.lastPg();
    if (pg === null || pg.process !== 'running' || pg.inRecovery !== false) return null;
    if (!holdsLeaderKey(d.store.view(), d.name, d.store.leaseId())) return null;
    if (d.store.renewFailingSinceMs() === null) return null;
    const until = this.writableUntilMs();
    if (until === null || d.monotonicMs() >= until) return null;
    const { connUrl, apiUrl } = d.urls();
    return {
      self: d.name,
      scope: d.scope,
      ttlMs: dyn.ttlMs,
      timeoutMs: dyn.failsafeTimeoutMs,
      connUrl,
      apiUrl,
      writableUntilMs: () => this.writableUntilMs(),
    };
  }
}
