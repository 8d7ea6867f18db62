import {
  type ClusterView,
  chooseSyncStandbys,
  describeSyncStep,
  type DynamicConfig,
  assert,
  formatLsn,
  HapgError,
  type Lsn,
  type MalformedKey,
  type MemberName,
  malformedKey,
  type PlanSyncInput,
  parseSsn,
  planSyncUpdate,
  type SyncState,
  type SyncStep,
  ssnForKey,
  ssnKeepsKey,
  type SyncKeyValue,
  storedSyncFromKey,
  syncKeyFromState,
} from '@hapg/core';
import type { ReplicationRow } from '@hapg/postgres';
import type { ClusterStorePort, ExecClock, ExecLog } from '../../executor/ports.js';

/** What the sync duty needs of the local primary (SQL in the agent, a model in the simulator). */
export interface SyncPostgres {
  /** `pg_current_wal_flush_lsn()` */
  flushLsn(): Promise<Lsn>;
  /** the flush position of each standby streaming from us (`pg_stat_replication`) */
  standbyFlush(): Promise<readonly { readonly name: MemberName; readonly flushLsn: Lsn | null }[]>;
  /** renders `synchronous_standby_names` and reloads; resolves once our session sees it, throws otherwise */
  applySsn(value: string): Promise<void>;
  /** `current_setting('synchronous_standby_names')`: the value the running server acknowledges by */
  ssnInForce(): Promise<string>;
}

export type SyncPlanner = (input: PlanSyncInput) => SyncStep[];

export interface SyncManagerOptions {
  readonly name: MemberName;
  readonly store: Pick<ClusterStorePort, 'casSync' | 'deleteSync'>;
  readonly pg: SyncPostgres;
  readonly clock: Pick<ExecClock, 'monotonicMs' | 'sleep'>;
  readonly log: ExecLog;
  /** how often `awaitCaughtUp` polls pg_stat_replication */
  readonly pollMs?: number;
  /** the planner (core's `planSyncUpdate`); the simulator's tests pass mutants */
  readonly plan?: SyncPlanner;
}

export interface SyncTickInput {
  readonly view: ClusterView;
  readonly dyn: DynamicConfig;
  /** the primary's pg_stat_replication, from this loop's probe */
  readonly replication: readonly ReplicationRow[];
  /**
   * The standbys whose replies are fresh (design rule 2's evidence, `ReplicaEvidence`). Any
   * other row counts as not streaming: when packets are dropped a walsender row says
   * `streaming` until `wal_sender_timeout`, and a synchronous standby that is gone would hold
   * every commit that long instead of being replaced within the evidence bound.
   */
  readonly responsive: readonly MemberName[];
  /** bound on `awaitCaughtUp` (the dynamic `retry_timeout`) */
  readonly retryTimeoutMs: number;
}

/**
 * Runs design rule 4 on the leader: picks the synchronous standbys (core's planner, pure)
 * and carries out its ordered steps — sync key CAS (only while we hold the leader key),
 * `synchronous_standby_names` by config file and reload, and waits for newcomers to hold
 * every commit acknowledged so far. A failed step ends the tick; the next loop plans again
 * from what is in force, which the planner allows from any intermediate state.
 */
export class SyncManager {
  readonly #o: SyncManagerOptions;
  /** the value in force on our primary while we lead; null when not leading */
  #ssn: string | null = null;
  /** the key as we last wrote it: newer than a view that has not caught up with our write */
  #written: SyncState | null = null;
  /** during a tick: the key the steps so far left in etcd (the invariant's reference) */
  #keyInForce: SyncKeyValue | null = null;
  /** a value in force we did not set, once logged */
  #foreign: string | null = null;

  constructor(o: SyncManagerOptions) {
    this.#o = o;
  }

  /**
   * What `synchronous_standby_names` should be rendered as; null when hapg does not manage it
   * (mode off, nothing of a key left to keep: the operator's own value stands). While we run
   * writable, the value in force, which only a guarded step changes — even once the mode is
   * switched off, until the key is gone (docs/fast-failover.md, review items 1 and 2); otherwise
   * the value that keeps the key's promise (a start in place, a promotion).
   */
  desiredSsn(view: ClusterView | null, dyn: DynamicConfig): string | null {
    if (this.#ssn !== null) return this.#ssn;
    const mode = dyn.synchronousMode;
    if (mode === 'off') return null;
    const key = syncKeyFromState(this.#newest(view?.sync ?? null), mode);
    return ssnForKey(mode, dyn.synchronousModeStrict, key, this.#o.name);
  }

  /**
   * Before a writable primary's parameters are rendered: if we do not manage its value yet (the
   * agent restarted, Postgres came back after a restart in place) and the key does not name us,
   * the value the server runs with is kept. Rendering the key's fallback (`''`, `'*'`) instead
   * would loosen it outside the guarded steps, letting commits through that a listed standby
   * may lack. When the key names us, its own value keeps its promise, as before.
   */
  async adoptInForce(view: ClusterView | null, dyn: DynamicConfig): Promise<void> {
    if (this.#ssn !== null) return;
    const key = this.#newest(view?.sync ?? null);
    if (dyn.synchronousMode === 'off' ? key === null : key?.leader === this.#o.name) return;
    this.#ssn = await this.#o.pg.ssnInForce();
  }

  /** The view's key, or ours when the view has not caught up with our last write yet. */
  #newest(seen: SyncState | null): SyncState | null {
    const w = this.#written;
    if (w === null) return seen;
    if (seen === null || BigInt(seen.modRevision) < BigInt(w.modRevision)) return w;
    return seen;
  }

  /** We no longer lead: the next reign starts from the key again. */
  reset(): void {
    this.#ssn = null;
  }

  async tick(input: SyncTickInput): Promise<void> {
    const { view, dyn } = input;
    const mode = dyn.synchronousMode;
    if (mode === 'off') {
      // The key goes first (a guarded write), and only then may the value in force loosen: a
      // member whose view still holds the key relies on its promise until etcd has removed it.
      const current = this.#newest(view.sync);
      const bad = this.#malformed(view, current);
      if ((view.sync !== null && current !== null) || bad !== null) {
        await this.#o.store.deleteSync(bad?.modRevision ?? current!.modRevision);
        this.#written = null;
        this.#o.log.info({ reason: 'synchronous_mode off' }, 'sync key removed');
      }
      // the operator's value (or none) is rendered from the next loop on
      this.#ssn = null;
      return;
    }
    const current = this.#newest(view.sync);
    const bad = this.#malformed(view, current);
    const key = syncKeyFromState(current, mode);
    const inForce = await this.#readInForce(this.desiredSsn(view, dyn)!);
    this.#ssn = inForce;
    const parsed = parseSsn(inForce);
    if (!ssnKeepsKey(key, parsed, this.#o.name)) {
      // a value set outside our steps no longer keeps the key's promise: empty the key (guarded),
      // so that no standby is promoted on a promise the server stopped keeping; plan next loop
      const empty: SyncStep = {
        kind: 'writeSyncKey',
        value: { leader: this.#o.name, syncStandbys: [], quorum: mode === 'on' ? null : 0 },
      };
      await this.#run(empty, bad?.modRevision ?? current?.modRevision ?? null, input.retryTimeoutMs);
      this.#o.log.warn(
        { synchronousStandbyNames: inForce, reason: 'the value in force does not keep the sync key' },
        'sync key emptied',
      );
      return;
    }
    const desired = chooseSyncStandbys({
      mode,
      nodeCount: dyn.synchronousNodeCount,
      members: view.members,
      replication: input.replication.map((r) => ({
        applicationName: r.applicationName,
        state: input.responsive.includes(r.applicationName) ? (r.state ?? '') : 'unresponsive',
        flushLsn: r.flushLsn,
      })),
      selfName: this.#o.name,
      current: key?.leader === this.#o.name ? key.syncStandbys : [],
    });
    const steps = (this.#o.plan ?? planSyncUpdate)({
      key,
      ssn: parsed,
      desired,
      mode,
      strict: dyn.synchronousModeStrict,
      nodeCount: dyn.synchronousNodeCount,
      leader: this.#o.name,
    });
    // Another tool's value in the key: rewrite ours over it (CAS on its revision, while we hold
    // the leader key). What we last wrote is what the ssn in force keeps the promise of.
    if (bad !== null && key !== null && !steps.some((st) => st.kind === 'writeSyncKey'))
      steps.unshift({ kind: 'writeSyncKey', value: key });
    let revision = bad?.modRevision ?? current?.modRevision ?? null;
    this.#keyInForce = key;
    for (const step of steps) revision = await this.#run(step, revision, input.retryTimeoutMs);
    if (steps.length > 0) {
      const reason =
        bad !== null
          ? 'the sync key was malformed'
          : desired.length === 0
            ? 'no healthy standby: degraded'
            : 'standbys changed';
      this.#o.log.info(
        {
          mode,
          syncStandbys: desired,
          synchronousStandbyNames: this.#ssn,
          steps: steps.map(describeSyncStep),
          reason,
        },
        'synchronous replication changed',
      );
    }
  }

  /**
   * The value the server runs with, read every tick (docs/fast-failover.md, review item 5):
   * ALTER SYSTEM (postgresql.auto.conf wins over our file) or a hand edit takes effect at the
   * next reload without passing our steps, so plans start from what is in force, not from
   * what we last set. Logged once per foreign value.
   */
  async #readInForce(managed: string): Promise<string> {
    const actual = await this.#o.pg.ssnInForce();
    if (actual === managed) {
      this.#foreign = null;
      return managed;
    }
    if (this.#foreign !== actual) {
      this.#foreign = actual;
      this.#o.log.warn(
        {
          synchronousStandbyNames: actual,
          managed,
          reason: 'changed outside hapg (ALTER SYSTEM, postgresql.auto.conf?)',
        },
        'synchronous_standby_names in force is not the value hapg set',
      );
    }
    return actual;
  }

  /** The sync key as etcd holds it is malformed (and newer than our own last write). */
  #malformed(view: ClusterView, current: SyncState | null): MalformedKey | null {
    const bad = view.sync === null ? malformedKey(view, 'sync') : null;
    if (bad === null || (current !== null && BigInt(current.modRevision) >= BigInt(bad.modRevision)))
      return null;
    return bad;
  }

  async #run(step: SyncStep, revision: string | null, timeoutMs: number): Promise<string | null> {
    switch (step.kind) {
      case 'writeSyncKey': {
        const stored = storedSyncFromKey(step.value);
        const written = await this.#o.store.casSync(stored, revision);
        this.#written = { ...stored, modRevision: written };
        this.#keyInForce = step.value;
        return written;
      }
      case 'setSsn':
        this.#assertKeyKept(step.value);
        await this.#o.pg.applySsn(step.value);
        this.#ssn = step.value;
        return revision;
      case 'awaitCaughtUp':
        await this.#awaitCaughtUp(step.names, step.count, timeoutMs);
        return revision;
    }
  }

  /**
   * Waits until `count` of `names` report a flush position at or past our flush LSN as read
   * now, i.e. hold every commit acknowledged before the new `synchronous_standby_names`
   * was in force (commits after it wait for them anyway).
   */
  async #awaitCaughtUp(names: readonly MemberName[], count: number, timeoutMs: number): Promise<void> {
    const { pg, clock } = this.#o;
    const target = await pg.flushLsn();
    const deadline = clock.monotonicMs() + timeoutMs;
    for (;;) {
      const caughtUp = new Set(
        (await pg.standbyFlush())
          .filter((r) => r.flushLsn !== null && r.flushLsn >= target)
          .map((r) => r.name),
      );
      if (names.filter((n) => caughtUp.has(n)).length >= count) return;
      if (clock.monotonicMs() > deadline) {
        throw new HapgError(
          'TIMEOUT',
          `${count} of ${names.join(', ')} did not reach ${formatLsn(target)} within ${timeoutMs} ms`,
        );
      }
      await clock.sleep(this.#o.pollMs ?? 50);
    }
  }

  /**
   * Design rule 4's order: `synchronous_standby_names` may let a commit through only with the
   * acknowledgements the sync key in force promises, or a failover could promote a member that
   * never saw it. Every plan keeps this; a plan that breaks it is a programmer error.
   */
  #assertKeyKept(value: string): void {
    assert(
      ssnKeepsKey(this.#keyInForce, parseSsn(value), this.#o.name),
      `synchronous_standby_names ${JSON.stringify(value)} set while the sync key is ${JSON.stringify(this.#keyInForce)}`,
    );
  }
}
