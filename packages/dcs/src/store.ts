import { EventEmitter } from 'node:events';
import {
  type Clock,
  type ClusterView,
  errorText,
  HapgError,
  type HistoryEntry,
  isHapgError,
  type LeaderStatus,
  type MemberJson,
  type MemberName,
} from '@hapg/core';
import { systemClock } from '@hapg/platform';
import type { CallLimits, Compare, EtcdBackend, Kv, LeaseRemaining, Op, TxnResult } from './backend.js';
import { createEtcd3Backend } from './etcd3-backend.js';
import { type ClusterKeys, clusterKeys, DEFAULT_NAMESPACE } from './keys.js';
import { type LeaseEvents, type LeaseInfo, LeaseKeeper, type RenewalPlan } from './lease.js';
import { type Logger, silentLogger } from './logger.js';
import { defaultCallTimeoutMs, withRetry } from './retry.js';
import {
  type FailoverValue,
  type FailsafeMembers,
  type ReleaseValue,
  type SyncValue,
  serializeFailover,
  serializeFailsafe,
  serializeHistory,
  serializeRelease,
  serializeStatus,
  serializeSync,
} from './serialize.js';
import { ViewCache, type ViewCacheEvents } from './view-cache.js';

export interface EtcdStoreOptions {
  /** `host:port` of every etcd member */
  readonly hosts: readonly string[];
  /** default `/service` */
  readonly namespace?: string;
  readonly scope: string;
  /** this node's member name; required for the lease, leader and member operations */
  readonly name?: MemberName;
  /** requested lease TTL (Patroni's `ttl`); etcd may grant more */
  readonly ttlSeconds?: number;
  /** how long a failing etcd call is retried before DCS_UNAVAILABLE (Patroni's `retry_timeout`) */
  readonly retryTimeoutMs?: number;
  /** deadline of one etcd call; default max(500, min(retryTimeoutMs / max(2, hosts), 5000)) */
  readonly callTimeoutMs?: number;
  /** periodic full re-list of the prefix while the watch is up (default 60 s; see ViewCache) */
  readonly resyncIntervalMs?: number;
  /** periodic full re-list while the watch is down (default 2 s; the agent passes `loop_wait`) */
  readonly unwatchedListIntervalMs?: number;
  /** false: no watch-fed cache (e.g. a one-shot CLI read through `readView()`) */
  readonly watch?: boolean;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** inject another etcd client (tests, a fork of etcd3) */
  readonly backend?: EtcdBackend;
  /** the least time between two repairs of our member key (default 1000 ms; see `#checkMemberKey`) */
  readonly memberRepairIntervalMs?: number;
}

export type StoreEvents = ViewCacheEvents & LeaseEvents;

const DEFAULT_TTL_S = 30;
const DEFAULT_RETRY_TIMEOUT_MS = 10_000;
const DEFAULT_RESYNC_INTERVAL_MS = 60_000;
const DEFAULT_UNWATCHED_LIST_INTERVAL_MS = 2000;
const FAILED_LIST_RETRY_MS = 500;
const CONFIRM_LIST_AFTER_MS = 1000;
const DEFAULT_MEMBER_REPAIR_INTERVAL_MS = 1000;

/** The mod revision a revision compare expects; null: the key's absence (create revision 0). */
function expectedRevision(c: Compare): string | null {
  return c.target === 'mod' ? c.revision : null;
}

/**
 * hapg's etcd store: the Patroni-compatible keys of one scope, this node's
 * lease with its local deadline, the leader lock, CAS writes, and a
 * watch-fed cluster view. Every method either resolves or rejects with a
 * HapgError; no event or rejection escapes unhandled.
 */

export class EtcdStore extends EventEmitter<StoreEvents> {
  readonly keys: ClusterKeys;
  readonly scope: string;
  readonly name: MemberName | null;
  readonly #backend: EtcdBackend;
  readonly #retryTimeoutMs: number;
  readonly #callTimeoutMs: number;
  readonly #ttlSeconds: number;
  readonly #clock: Clock;
  readonly #log: Logger;
  /** the create revision of the leader key this store created (or rebound) last; null after a release */
  #ownLeaderCreateRevision: string | null = null;
  /** the store revision of our last write of the leader key (create, rebind, takeover); null with the key released */
  #ownLeaderWriteRevision: string | null = null;
  readonly #cache: ViewCache;
  readonly #watch: boolean;
  #lease: LeaseKeeper | null = null;
  /** last member JSON asked for, and what was last written under which lease, at which mod revision */
  #memberValue: string | null = null;
  #memberWritten: { value: string; leaseId: string; modRevision: string } | null = null;
  /** member writes under way: a view read meanwhile may show our write before we know its revision */
  #memberWrites = 0;
  readonly #memberRepairIntervalMs: number;
  #memberRepairedAtMs: number | null = null;
  #memberRepairTimer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(opts: EtcdStoreOptions) {
    super();
    this.scope = opts.scope;
    this.name = opts.name ?? null;
    this.keys = clusterKeys(opts.namespace ?? DEFAULT_NAMESPACE, opts.scope);
    this.#retryTimeoutMs = opts.retryTimeoutMs ?? DEFAULT_RETRY_TIMEOUT_MS;
    this.#callTimeoutMs = opts.callTimeoutMs ?? defaultCallTimeoutMs(this.#retryTimeoutMs, opts.hosts.length);
    this.#ttlSeconds = opts.ttlSeconds ?? DEFAULT_TTL_S;
    this.#clock = opts.clock ?? systemClock;
    this.#log = opts.logger ?? silentLogger;
    this.#watch = opts.watch ?? true;
    this.#backend =
      opts.backend ??
      createEtcd3Backend({ hosts: opts.hosts, defaultCallTimeoutMs: this.#callTimeoutMs, logger: this.#log });
    this.#cache = new ViewCache({
      backend: this.#backend,
      keys: this.keys,
      scope: this.scope,
      callTimeoutMs: this.#callTimeoutMs,
      resyncIntervalMs: opts.resyncIntervalMs ?? DEFAULT_RESYNC_INTERVAL_MS,
      unwatchedListIntervalMs: opts.unwatchedListIntervalMs ?? DEFAULT_UNWATCHED_LIST_INTERVAL_MS,
      failedListRetryMs: FAILED_LIST_RETRY_MS,
      confirmListAfterMs: CONFIRM_LIST_AFTER_MS,
      logger: this.#log,
    });
    this.#memberRepairIntervalMs = opts.memberRepairIntervalMs ?? DEFAULT_MEMBER_REPAIR_INTERVAL_MS;
    this.#cache.on('change', (v) => {
      this.emit('change', v);
      this.#checkMemberKey(v);
    });
    this.#cache.on('leader-deleted', (e) => this.emit('leader-deleted', e));
  }

  /**
   * Connects and reads the view once (retried for retry_timeout, then
   * DCS_UNAVAILABLE); with `watch` (default) keeps the view fresh from then on.
   */
  static async open(opts: EtcdStoreOptions): Promise<EtcdStore> {
    const store = new EtcdStore(opts);
    try {
      await store.readView();
      if (store.#watch) store.#cache.start();
      return store;
    } catch (e) {
      await store.close();
      throw e;
    }
  }

  // ---- view ----------------------------------------------------------------

  /** The last view read (watch-fed); null only before the first successful read. */
  view(): ClusterView | null {
    return this.#cache.view();
  }

  /** Whether the last etcd list succeeded. */
  reachable(): boolean {
    return this.#cache.reachable();
  }

  /** A fresh, linearizable list of the scope, retried; also updates `view()`. */
  async readView(): Promise<ClusterView> {
    const list = await this.#call('list', (limits) => this.#backend.list(this.keys.prefix, limits));
    return this.#cache.apply(list);
  }

  // ---- lease ---------------------------------------------------------------

  /** Grants this node's lease (retried) and starts the keepalive loop. */
  async startLease(): Promise<LeaseInfo> {
    this.#requireName();
    if (this.#lease !== null) throw new Error('lease already started');
    const keeper = new LeaseKeeper({
      backend: this.#backend,
      ttlSeconds: this.#ttlSeconds,
      callTimeoutMs: this.#callTimeoutMs,
      retryTimeoutMs: this.#retryTimeoutMs,
      clock: this.#clock,
      logger: this.#log,
    });
    keeper.on('renewed', (e) => this.emit('renewed', e));
    keeper.on('deadline', (e) => this.emit('deadline', e));
    // etcd may be gone while the watch has not noticed yet (a silent cut shows only at gRPC's
    // keepalive, seconds later): a list says so in reachable() now
    keeper.on('failing', (e) => {
      if (this.#watch) void this.#cache.trigger();
      this.emit('failing', e);
    });
    keeper.on('lease-lost', (e) => this.emit('lease-lost', e));
    keeper.on('granted', (e) => {
      this.emit('granted', e);
      this.#rewriteMember();
    });
    this.#lease = keeper;
    try {
      return await keeper.start();
    } catch (e) {
      this.#lease = null;
      throw e;
    }
  }

  leaseInfo(): LeaseInfo | null {
    return this.#lease?.info() ?? null;
  }

  /** Another member's lease as etcd sees it now (fast failover, condition (e)); null: no such lease. One bounded call, retried within retry_timeout like every store call. */
  leaseTimeToLive(leaseId: string): Promise<LeaseRemaining | null> {
    return this.#call('lease time to live', (limits) => this.#backend.leaseTimeToLive(leaseId, limits));
  }

  leaseId(): string | null {
    return this.leaseInfo()?.id ?? null;
  }

  /** Local monotonic deadline of the lease (clock.monotonicMs() scale); null without a lease. */
  leaseDeadlineMs(): number | null {
    return this.leaseInfo()?.deadlineMs ?? null;
  }

  /** See `LeaseKeeper.renewFailingSinceMs`: failed, or unanswered for the plan's `overdueMs`. */
  renewFailingSinceMs(): number | null {
    return this.#lease?.renewFailingSinceMs() ?? null;
  }

  /** Create revision of the leader key we created and have not released (core's `DcsObservation`). */
  ownLeaderCreateRevision(): string | null {
    return this.#ownLeaderCreateRevision;
  }

  /**
   * The etcd revision at which we last wrote the leader key (acquired, rebound, took over);
   * null: none since we last released it. A view older than it predates our own write: after
   * a fast takeover it still shows the old leader's key, which is not a reason to demote.
   */
  ownLeaderWriteRevision(): string | null {
    return this.#ownLeaderWriteRevision;
  }

  #ownLeaderKey(createRevision: string | null, writeRevision: string | null): void {
    this.#ownLeaderCreateRevision = createRevision;
    this.#ownLeaderWriteRevision = createRevision === null ? null : writeRevision;
  }

  /** See `LeaseKeeper.setRenewal`: the leader renews by core's `leaderRenewal`. */
  setRenewal(plan: RenewalPlan | null): void {
    this.#lease?.setRenewal(plan);
  }

  // ---- leader lock ---------------------------------------------------------

  /**
   * txn `create_revision(leader) == 0` → put leader=name under our lease. True when we hold it.
   * The txn also requires the keys the caller's eligibility rested on to be as its view had them
   * (mod revision, or absent when null; undefined: no compare):
   * - `failsafeModRevision` (docs/failsafe.md M5): a watch that lags behind a new failsafe key
   *   (one that leaves us out) cannot let us in;
   * - `syncModRevision` (synchronous mode): a watch that lags behind the old leader's rewrite of
   *   the sync key (one that no longer lists us: it ran degraded and acknowledged commits alone)
   *   cannot let us in either (simulator, fast-failover runs: the promotion then overwrote that
   *   key from a fresh read and lost the leader's commits).
   * - `configModRevision`: a watch that lags behind the `config` key (pause, `synchronous_mode`
   *   switched on) cannot let us in on the rules of an older config.
   * Without any the txn is the plain create-only one.
   */
  async acquireLeader(
    opts: {
      readonly failsafeModRevision?: string | null;
      readonly syncModRevision?: string | null;
      readonly configModRevision?: string | null;
    } = {},
  ): Promise<boolean> {
    const name = this.#requireName();
    const leaseId = this.#requireLease();
    const leader = this.keys.leader;
    const guards = [
      ...this.#revisionCompare(this.keys.failsafe, opts.failsafeModRevision),
      ...this.#revisionCompare(this.keys.sync, opts.syncModRevision),
      ...this.#revisionCompare(this.keys.config, opts.configModRevision),
    ];
    const res = await this.#txn(
      'acquire leader',
      [{ key: leader, target: 'create', revision: '0' }, ...guards],
      [{ op: 'put', key: leader, value: name, lease: leaseId }],
      [{ op: 'get', key: leader }, ...guards.map((g) => ({ op: 'get', key: g.key }) as const)],
    );
    if (res.succeeded) {
      // created now: its create revision is this txn's
      this.#ownLeaderKey(res.revision, res.revision);
      return this.#afterLeaderWrite(true);
    }
    const holder = res.gets[0] ?? null;
    // ours already (an earlier attempt of this very call may have committed)
    if (holder?.value === name) return this.#rebind(holder, leaseId);
    // no leader key, so the create compare held: only a guard can have failed
    if (holder === null && guards.length > 0)
      this.#log.info(
        {
          expectedModRevisions: Object.fromEntries(guards.map((g) => [g.key, expectedRevision(g)])),
          foundModRevisions: Object.fromEntries(
            guards.map((g, i) => [g.key, res.gets[i + 1]?.modRevision ?? null]),
          ),
        },
        'a key the decision rested on (failsafe, sync, config) changed since its view: not taking the leader key',
      );
    return false;
  }

  /** `key` as the caller's view saw it: at `modRevision`, absent when null; no compare when undefined. */
  #revisionCompare(key: string, modRevision: string | null | undefined): Compare[] {
    if (modRevision === undefined) return [];
    if (modRevision === null) return [{ key, target: 'create', revision: '0' }];
    return [{ key, target: 'mod', revision: modRevision }];
  }

  /**
   * True when the leader key holds our name under our lease. If it holds our
   * name under another lease (we re-granted), rebinds it: txn value==name → put.
   */
  async verifyLeader(): Promise<boolean> {
    const name = this.#requireName();
    const leaseId = this.#requireLease();
    const leader = this.keys.leader;
    const res = await this.#txn(
      'verify leader',
      [
        { key: leader, target: 'value', value: name },
        { key: leader, target: 'lease', lease: leaseId },
      ],
      [],
      [{ op: 'get', key: leader }],
    );
    if (res.succeeded) return true;
    const holder = res.gets[0] ?? null;
    return holder?.value === name ? this.#rebind(holder, leaseId) : false;
  }

  /** txn `value(leader) == name` → delete. True when we held (and deleted) it. */
  async releaseLeader(): Promise<boolean> {
    const name = this.#requireName();
    const leader = this.keys.leader;
    let attempts = 0;
    const res = await this.#call('release leader', (limits) => {
      attempts++;
      return this.#backend.txn(
        [{ key: leader, target: 'value', value: name }],
        [{ op: 'delete', key: leader }],
        [{ op: 'get', key: leader }],
        limits,
      );
    });
    // a retry finding the key gone or someone else's: an earlier attempt deleted ours
    const deletedEarlier = attempts > 1 && res.gets[0]?.value !== name;
    if (res.succeeded || deletedEarlier) this.#ownLeaderKey(null, null);
    return this.#afterLeaderWrite(res.succeeded || deletedEarlier);
  }

  /**
   * Rebinds a leader key with our name to our lease: our previous incarnation's (the agent
   * restarted under a new lease), or our own key that another tool overwrote with our name
   * and no lease (`etcdctl put` keeps a key's create revision: it is still the key we
   * created). Our name bound to no lease on a key we never created says nothing of where the
   * last primary is — it may still run, fenced only by its own lease's deadline — so it is not
   * ours to take; decide() treats it as a flawed key and removes it after ttl. (The simulator
   * found the two primaries that taking it gave.)
   */
  async #rebind(holder: Kv, leaseId: string): Promise<boolean> {
    if (holder.lease === leaseId) return true;
    if (holder.lease === '0' && holder.createRevision !== this.#ownLeaderCreateRevision) {
      this.#log.warn(
        {},
        'the leader key names us but is bound to no lease (another tool wrote it): not taking it',
      );
      return false;
    }
    const name = this.#requireName();
    const leader = this.keys.leader;
    const res = await this.#txn(
      'rebind leader',
      // exactly the key we saw: still our name, still under the lease it had
      [
        { key: leader, target: 'value', value: name },
        { key: leader, target: 'lease', lease: holder.lease },
      ],
      [{ op: 'put', key: leader, value: name, lease: leaseId }],
      [],
    );
    if (res.succeeded) {
      this.#ownLeaderKey(holder.createRevision, res.revision);
      this.#log.info({ oldLeaseId: holder.lease, leaseId }, 'rebound the leader key to our lease');
    }
    return this.#afterLeaderWrite(res.succeeded);
  }

  /**
   * Deletes the leader key if its mod revision is still `expectedModRevision`: for a key no
   * real leader holds (core's `invalidLeader`), so a leader that took the key since is never
   * touched; with `member`, also only if that member key is still as the caller saw it (absent:
   * null), so a decision taken on a stalled view of it cannot delete a real leader's key. False
   * when either changed meanwhile.
   */
  async removeLeaderAt(
    expectedModRevision: string,
    member: { readonly name: MemberName; readonly modRevision: string | null } | null = null,
  ): Promise<boolean> {
    const evidence: Compare[] =
      member === null
        ? []
        : member.modRevision === null
          ? [{ key: this.keys.member(member.name), target: 'create', revision: '0' }]
          : [{ key: this.keys.member(member.name), target: 'mod', revision: member.modRevision }];
    try {
      await this.casDelete(this.keys.leader, expectedModRevision, evidence);
      return true;
    } catch (e) {
      if (isHapgError(e, 'DCS_CAS_CONFLICT')) return false;
      throw e;
    }
  }

  /**
   * Fast failover (docs/fast-failover.md): puts leader = our name under our lease over a key
   * another member still holds, in one transaction that compares the leader key's mod revision
   * and value (the key judged), the sync key's mod revision (the key that lists us: a guarded
   * rewrite by the old leader changes it, so at most one of the two commits), and the `config`
   * and `failsafe` keys as the caller's view had them (null: absent). The put keeps the key's
   * create revision, which becomes ours as after a rebind. There is no delete-then-create:
   * between the two a connected old leader would see the key free. True when we hold it.
   */
  async takeOverLeader(t: {
    readonly leader: MemberName;
    readonly leaderModRevision: string;
    readonly syncModRevision: string;
    readonly configModRevision: string | null;
    readonly failsafeModRevision: string | null;
    /** quorum mode: the release keys counted, at the revisions read (a withdrawn one fails the txn) */
    readonly releases?: readonly { readonly member: MemberName; readonly modRevision: string }[];
  }): Promise<boolean> {
    const name = this.#requireName();
    const leaseId = this.#requireLease();
    const leader = this.keys.leader;
    const res = await this.#txn(
      'take over leader',
      [
        { key: leader, target: 'mod', revision: t.leaderModRevision },
        { key: leader, target: 'value', value: t.leader },
        { key: this.keys.sync, target: 'mod', revision: t.syncModRevision },
        ...this.#revisionCompare(this.keys.config, t.configModRevision),
        ...this.#revisionCompare(this.keys.failsafe, t.failsafeModRevision),
        ...(t.releases ?? []).map(
          (r): Compare => ({ key: this.keys.release(r.member), target: 'mod', revision: r.modRevision }),
        ),
      ],
      [
        { op: 'put', key: leader, value: name, lease: leaseId },
        { op: 'get', key: leader },
      ],
      [{ op: 'get', key: leader }],
    );
    const holder = res.gets[0] ?? null;
    // a retry finding our own key: an earlier attempt of this very call committed
    const ours = holder !== null && holder.value === name && holder.lease === leaseId;
    if (res.succeeded || ours)
      this.#ownLeaderKey(holder?.createRevision ?? null, holder?.modRevision ?? null);
    return this.#afterLeaderWrite(res.succeeded || ours);
  }

  // ---- stream release (quorum fast failover, docs/fast-failover.md) ---------

  /**
   * Puts `release/<name>` under our lease, only while the leader key still holds `leader` at
   * `leaderRevision`: a release for a key already gone could never be counted. False: the key
   * changed (the release is void).
   */
  async putRelease(r: ReleaseValue): Promise<boolean> {
    const name = this.#requireName();
    const leaseId = this.#requireLease();
    const res = await this.#txn(
      'put release',
      this.#leaderAt(r.leader, r.leaderRevision),
      [{ op: 'put', key: this.keys.release(name), value: serializeRelease(r), lease: leaseId }],
      [],
    );
    if (res.succeeded) this.#afterWrite(res.revision);
    return res.succeeded;
  }

  /**
   * Takes our release back: deletes it only while the leader key is still the one we released
   * from. Once that commits no takeover can count it, and none has before (a takeover changes
   * the key). False: the key changed, and the release is void anyway. A plain delete would be
   * unsafe: a takeover may have counted it a moment before.
   */
  async withdrawRelease(r: {
    readonly leader: MemberName;
    readonly leaderRevision: string;
  }): Promise<boolean> {
    const res = await this.#txn(
      'withdraw release',
      this.#leaderAt(r.leader, r.leaderRevision),
      [{ op: 'delete', key: this.keys.release(this.#requireName()) }],
      [],
    );
    if (res.succeeded) this.#afterWrite(res.revision);
    return res.succeeded;
  }

  /** Deletes a release the leader key has moved past (void: nothing may count it any more). */
  async deleteRelease(): Promise<void> {
    const res = await this.#txn(
      'delete release',
      [],
      [{ op: 'delete', key: this.keys.release(this.#requireName()) }],
      [],
    );
    this.#afterWrite(res.revision);
  }

  #leaderAt(leader: MemberName, modRevision: string): Compare[] {
    return [
      { key: this.keys.leader, target: 'mod', revision: modRevision },
      { key: this.keys.leader, target: 'value', value: leader },
    ];
  }

  /** A write of ours changed the leader key: the watch brings it within ms; without one, re-list now. */
  #afterLeaderWrite(result: boolean): boolean {
    this.#refreshUnwatched();
    return result;
  }

  /** While the watch is down a write of ours would show only at the next periodic list. */
  #refreshUnwatched(): void {
    if (this.#watch && !this.#cache.watching()) void this.#cache.trigger();
  }

  /** Full lists the watch-fed view has taken (tests count them). */
  listCount(): number {
    return this.#cache.lists;
  }

  // ---- member key ----------------------------------------------------------

  /**
   * Puts `members/<name>` under our lease; skipped (false) when the same value
   * was already written under the current lease. After a new lease is granted
   * the last value is rewritten automatically.
   */
  async writeMember(json: MemberJson): Promise<boolean> {
    const name = this.#requireName();
    const value = JSON.stringify(json);
    this.#memberValue = value;
    const leaseId = this.#requireLease();
    if (this.#memberWritten?.value === value && this.#memberWritten.leaseId === leaseId) return false;
    this.#memberWrites++;
    try {
      const res = await this.#txn(
        'write member',
        [],
        [{ op: 'put', key: this.keys.member(name), value, lease: leaseId }],
        [],
      );
      this.#memberWritten = { value, leaseId, modRevision: res.revision };
    } finally {
      this.#memberWrites--;
    }
    const view = this.view();
    if (view !== null) this.#checkMemberKey(view);
    return true;
  }

  /**
   * Our member key must be our last write — its mod revision, hence our value under our
   * lease — in every view that is not older than that write. Another tool's delete or
   * overwrite (a spoofed state, another host, no lease) used to stand until our own value
   * changed, since `writeMember` compared with what it last wrote, never with etcd (issue 11);
   * now it is written again as soon as a view shows it. At most once per repair interval, so
   * two agents misconfigured with one name do not spin (each says so in its log).
   */
  #checkMemberKey(view: ClusterView): void {
    const w = this.#memberWritten;
    const name = this.name;
    if (w === null || name === null || this.#closed || this.#memberWrites > 0) return;
    // under a new lease the 'granted' handler rewrites it; a view older than our write proves nothing
    if (this.leaseId() !== w.leaseId || BigInt(view.revision) < BigInt(w.modRevision)) return;
    const m = view.members.get(name);
    if (m !== undefined && m.modRevision === w.modRevision) return;
    const waitMs =
      this.#memberRepairedAtMs === null
        ? 0
        : this.#memberRepairedAtMs + this.#memberRepairIntervalMs - this.#clock.monotonicMs();
    if (waitMs > 0) {
      this.#memberRepairTimer ??= setTimeout(() => {
        this.#memberRepairTimer = undefined;
        const latest = this.view();
        if (latest !== null) this.#checkMemberKey(latest);
      }, waitMs);
      return;
    }
    const key = this.keys.member(name);
    const found =
      m !== undefined
        ? m.leaseId === w.leaseId
          ? 'another value'
          : `bound to ${m.leaseId === null ? 'no lease' : `lease ${m.leaseId}`}`
        : view.malformed.some((x) => x.key === key)
          ? 'a malformed value'
          : 'no key';
    this.#log.warn(
      { key, found, modRevision: m?.modRevision ?? null, ours: w.modRevision },
      'our member key was changed by someone else: writing it again',
    );
    this.#memberRepairedAtMs = this.#clock.monotonicMs();
    this.#memberWritten = null;
    this.writeMember(JSON.parse(this.#memberValue ?? w.value) as MemberJson).catch((e: unknown) => {
      this.#log.warn({ err: errorText(e) }, 'could not write the member key again');
    });
  }

  /** Deletes `members/<name>` (cleanup of a removed node). */
  async deleteMember(name: MemberName): Promise<void> {
    await this.#txn('delete member', [], [{ op: 'delete', key: this.keys.member(name) }], []);
    if (name === this.name) this.#memberWritten = null;
  }

  #rewriteMember(): void {
    const value = this.#memberValue;
    if (value === null) return;
    this.writeMember(JSON.parse(value) as MemberJson).catch((e: unknown) => {
      this.#log.warn({ err: errorText(e) }, 'could not rewrite the member key under the new lease');
    });
  }

  // ---- initialize ----------------------------------------------------------

  /** Create-only txn with value "": true when this node won the bootstrap race. */
  async tryInitialize(): Promise<boolean> {
    const key = this.keys.initialize;
    // A retry after an ambiguous failure sees "" and cannot tell whose it is: reports false
    // (lose the race) rather than risk two bootstraps.
    const res = await this.#txn(
      'initialize',
      [{ key, target: 'create', revision: '0' }],
      [{ op: 'put', key, value: '' }],
      [],
    );
    return res.succeeded;
  }

  /** Sets the system identifier once the bootstrap finished: txn value=="" (or absent) → put. */
  async setInitialize(systemId: string): Promise<void> {
    const key = this.keys.initialize;
    const current = this.view()?.initialize;
    const compare: Compare =
      current === null || current === undefined
        ? { key, target: 'create', revision: '0' }
        : { key, target: 'value', value: '' };
    const res = await this.#txn(
      'set initialize',
      [compare],
      [{ op: 'put', key, value: systemId }],
      [{ op: 'get', key }],
    );
    if (res.succeeded || res.gets[0]?.value === systemId) return;
    if (res.gets[0] === null && compare.target === 'value') {
      await this.casRaw(key, systemId, null);
      return;
    }
    throw new HapgError('DCS_CAS_CONFLICT', `initialize holds ${JSON.stringify(res.gets[0]?.value)}, not ""`);
  }

  // ---- CAS writes ----------------------------------------------------------

  casConfig(value: Record<string, unknown>, expectedModRevision: string | null): Promise<string> {
    return this.casRaw(this.keys.config, JSON.stringify(value), expectedModRevision);
  }

  casFailover(value: FailoverValue, expectedModRevision: string | null): Promise<string> {
    return this.casRaw(this.keys.failover, serializeFailover(value), expectedModRevision);
  }

  deleteFailover(expectedModRevision: string): Promise<void> {
    return this.casDelete(this.keys.failover, expectedModRevision);
  }

  /**
   * CAS of the `sync` key that also requires us to hold the leader key under our lease: a
   * leader deposed without knowing it yet must not rewrite what the new leader claimed.
   */
  casSync(value: SyncValue, expectedModRevision: string | null): Promise<string> {
    return this.casRaw(this.keys.sync, serializeSync(value), expectedModRevision, this.#leaderGuard());
  }

  deleteSync(expectedModRevision: string): Promise<void> {
    return this.casDelete(this.keys.sync, expectedModRevision, this.#leaderGuard());
  }

  /**
   * Puts the failsafe key (docs/failsafe.md K1): compact JSON of member name → `api_url`, names
   * sorted, a permanent key (no lease: it must outlive the leader's lease, that is its point),
   * only while we hold the leader key under our lease. Resolves with the key's new mod revision;
   * DCS_CAS_CONFLICT when we do not hold the leader key. Any other rejection (DCS_UNAVAILABLE after
   * a timeout) leaves the outcome unknown: the caller must count the set as possibly written.
   */
  async writeFailsafe(members: FailsafeMembers): Promise<string> {
    const key = this.keys.failsafe;
    const value = serializeFailsafe(members);
    const guard = this.#leaderGuard();
    let attempts = 0;
    // a put: a retry after an attempt that committed writes the same value again, harmlessly
    const res = await this.#call('write failsafe', (limits) => {
      attempts++;
      return this.#backend.txn(guard, [{ op: 'put', key, value }], [{ op: 'get', key }], limits);
    });
    if (res.succeeded) return this.#afterWrite(res.revision);
    // the leader key went between an earlier attempt (lost answer) and this one: if the key holds
    // our value, that attempt may be what wrote it, so "not written" would be a lie
    if (attempts > 1 && res.gets[0]?.value === value)
      throw new HapgError(
        'DCS_UNAVAILABLE',
        `${key}: outcome unknown: an earlier attempt may have written it before we lost the leader key`,
      );
    throw new HapgError('DCS_CAS_CONFLICT', `${key} not written: we do not hold the leader key`);
  }

  /**
   * Deletes the failsafe key (K2: `failsafe_mode` off) while we hold the leader key; resolves when
   * it is absent, whoever holds the leader key (nothing to do). DCS_CAS_CONFLICT when the key
   * exists and we do not hold the leader key.
   */
  async deleteFailsafe(): Promise<void> {
    const key = this.keys.failsafe;
    const guard = this.#leaderGuard();
    const res = await this.#call('delete failsafe', (limits) =>
      this.#backend.txn(guard, [{ op: 'delete', key }], [{ op: 'get', key }], limits),
    );
    // absent on a failed guard: gone already (perhaps by an earlier attempt of this call)
    if (res.succeeded || res.gets[0] === null) {
      this.#afterWrite(res.revision);
      return;
    }
    throw new HapgError('DCS_CAS_CONFLICT', `${key} not deleted: we do not hold the leader key`);
  }

  #leaderGuard(): Compare[] {
    return [
      { key: this.keys.leader, target: 'value', value: this.#requireName() },
      { key: this.keys.leader, target: 'lease', lease: this.#requireLease() },
    ];
  }

  casHistory(entries: readonly HistoryEntry[], expectedModRevision: string | null): Promise<string> {
    return this.casRaw(this.keys.history, serializeHistory(entries), expectedModRevision);
  }

  casStatus(status: LeaderStatus, expectedModRevision: string | null): Promise<string> {
    return this.casRaw(this.keys.status, serializeStatus(status), expectedModRevision);
  }

  /**
   * Puts `status` (the leader, after each loop) unless the view already holds that very value:
   * an idle primary's optime and slots do not move, and a write each loop cost etcd a Txn and
   * every member a watch event. Resolves with the new mod revision, or null when unchanged.
   */
  async putStatus(status: LeaderStatus): Promise<string | null> {
    const value = serializeStatus(status);
    const seen = this.view()?.status;
    if (seen !== null && seen !== undefined && serializeStatus(seen) === value) return null;
    const res = await this.#txn('put status', [], [{ op: 'put', key: this.keys.status, value }], []);
    return res.revision;
  }

  /**
   * Puts `value` at `key` if its mod revision is `expectedModRevision`, or if it
   * is absent when that is null. Resolves with the new mod revision; rejects
   * with DCS_CAS_CONFLICT (changed) or DCS_KEY_EXISTS (expected absent).
   */
  /** `guard`: further compares that must hold too (the leader key, for `sync`). */
  async casRaw(
    key: string,
    value: string,
    expectedModRevision: string | null,
    guard: readonly Compare[] = [],
  ): Promise<string> {
    const compare: Compare =
      expectedModRevision === null
        ? { key, target: 'create', revision: '0' }
        : { key, target: 'mod', revision: expectedModRevision };
    let attempts = 0;
    const res = await this.#call(`cas ${key}`, (limits) => {
      attempts++;
      return this.#backend.txn(
        [compare, ...guard],
        [{ op: 'put', key, value }],
        [{ op: 'get', key }],
        limits,
      );
    });
    if (res.succeeded) return this.#afterWrite(res.revision);
    const current = res.gets[0] ?? null;
    // an earlier attempt may have committed before its response was lost
    if (attempts > 1 && current?.value === value) return this.#afterWrite(current.modRevision);
    if (guard.length > 0 && current?.modRevision === (expectedModRevision ?? undefined))
      throw new HapgError('DCS_CAS_CONFLICT', `${key} not written: we do not hold the leader key`);
    if (expectedModRevision === null) throw new HapgError('DCS_KEY_EXISTS', `${key} already exists`);
    throw new HapgError(
      'DCS_CAS_CONFLICT',
      `${key} changed: expected mod revision ${expectedModRevision}, found ${current?.modRevision ?? 'none'}`,
    );
  }

  /** Deletes `key` if its mod revision is still `expectedModRevision`; else DCS_CAS_CONFLICT. */
  async casDelete(key: string, expectedModRevision: string, guard: readonly Compare[] = []): Promise<void> {
    let attempts = 0;
    const res = await this.#call(`cas delete ${key}`, (limits) => {
      attempts++;
      return this.#backend.txn(
        [{ key, target: 'mod', revision: expectedModRevision }, ...guard],
        [{ op: 'delete', key }],
        [{ op: 'get', key }],
        limits,
      );
    });
    if (res.succeeded || (attempts > 1 && res.gets[0] === null)) {
      this.#afterWrite(res.revision);
      return;
    }
    throw new HapgError(
      'DCS_CAS_CONFLICT',
      `${key} changed: expected mod revision ${expectedModRevision}, found ${res.gets[0]?.modRevision ?? 'none'}`,
    );
  }

  #afterWrite(revision: string): string {
    this.#refreshUnwatched();
    return revision;
  }

  /** Deletes every key of the scope (hactl remove). */
  async removeCluster(): Promise<void> {
    await this.#txn('remove cluster', [], [{ op: 'deletePrefix', prefix: this.keys.prefix }], []);
    this.#memberWritten = null;
  }

  // ---- lifecycle -----------------------------------------------------------

  /** Stops the watch and the lease loop; `revoke` deletes the lease and its keys at once. */
  async close(opts: { revoke?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#memberRepairTimer);
    await this.#cache.stop();
    await this.#lease?.stop(opts);
    this.#backend.close();
  }

  // ---- helpers -------------------------------------------------------------

  #call<T>(what: string, fn: (limits: CallLimits) => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new HapgError('DCS_UNAVAILABLE', `${what}: store is closed`));
    return withRetry(fn, {
      retryTimeoutMs: this.#retryTimeoutMs,
      callTimeoutMs: this.#callTimeoutMs,
      what,
      nowMs: () => this.#clock.monotonicMs(),
      onRetry: (e, attempt) =>
        this.#log.debug({ what, attempt, err: errorText(e) }, 'etcd call failed; retrying'),
    });
  }

  #txn(
    what: string,
    compares: readonly Compare[],
    success: readonly Op[],
    failure: readonly Op[],
  ): Promise<TxnResult> {
    return this.#call(what, (limits) => this.#backend.txn(compares, success, failure, limits));
  }

  #requireName(): MemberName {
    if (this.name === null) throw new HapgError('INTERNAL', 'this store was opened without a member name');
    return this.name;
  }

  #requireLease(): string {
    const id = this.leaseId();
    if (id === null)
      throw new HapgError(
        'DCS_LEASE_LOST',
        'no lease: startLease() not called or the lease is being re-granted',
      );
    return id;
  }
}
