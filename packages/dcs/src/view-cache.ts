import { EventEmitter } from 'node:events';
import { type ClusterView, errorText, type LeaderRecord } from '@hapg/core';
import type { EtcdBackend, Kv, ListResult, WatchEvent, WatchHandle } from './backend.js';
import type { ClusterKeys } from './keys.js';
import type { Logger } from './logger.js';
import { withTimeout } from './retry.js';
import { buildView, fingerprint } from './view.js';

export interface ViewCacheEvents {
  /** a new view whose content differs from the previous one */
  change: [ClusterView];
  /** the leader key disappeared (watch-driven, within ms); `previous` is the last record we knew, if any */
  'leader-deleted': [{ readonly previous: LeaderRecord | null }];
}

export interface ViewCacheOptions {
  readonly backend: EtcdBackend;
  readonly keys: ClusterKeys;
  readonly scope: string;
  readonly callTimeoutMs: number;
  /** periodic full re-list while the watch is up, whatever it says (default 60 s) */
  readonly resyncIntervalMs: number;
  /** periodic full re-list while the watch is down (about loop_wait) */
  readonly unwatchedListIntervalMs: number;
  /** re-list this soon after a failed list */
  readonly failedListRetryMs: number;
  /** a second list this long after each (re)connect: closes stack-notes #7's window */
  readonly confirmListAfterMs: number;
  readonly logger: Logger;
}

/**
 * The cluster view, kept in memory and fed by the watch: a full list of the prefix at start,
 * after every (re)connect (and once more `confirmListAfterMs` later), after every watch error
 * or failed list, every `resyncIntervalMs` while the watch is up and every
 * `unwatchedListIntervalMs` while it is down; each watch response in between is applied to the
 * keys of the last list. An idle cluster thus costs etcd no read at all between resyncs (issue
 * 15; it used to re-list after every event, three Range calls per write in a 3-node cluster).
 *
 * The watch can skip events around a reconnect (stack-notes #7), which is why each reconnect
 * and error is followed by two lists, and why the periodic list stays. Events and lists are
 * ordered by revision: anything at or below the view's revision is already in it, so neither
 * can take the view backwards. No safety rule rests on the view being fresh: every write that
 * could make a second primary is a txn whose compares etcd checks (design rule 1).
 */
export class ViewCache extends EventEmitter<ViewCacheEvents> {
  readonly #o: ViewCacheOptions;
  #view: ClusterView | null = null;
  #fingerprint: string | null = null;
  /** the keys of the prefix as of `#revision` (the view's, or later when nothing in it changed) */
  #kvs = new Map<string, Kv>();
  #revision = -1n;
  #reachable = false;
  #watchUp = false;
  #confirmTimer: NodeJS.Timeout | undefined;
  #lists = 0;
  #leaderGoneFor: string | null = null;
  /** `key@modRevision` of the malformed values already reported: each is logged once, not every list */
  #malformedSeen = new Set<string>();
  #watch: WatchHandle | null = null;
  #resyncTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #pending: Promise<ClusterView | null> | null = null;
  #chain: Promise<unknown> = Promise.resolve();
  #stopped = false;

  constructor(opts: ViewCacheOptions) {
    super();
    this.#o = opts;
  }

  view(): ClusterView | null {
    return this.#view;
  }

  /** whether the last list succeeded */
  reachable(): boolean {
    return this.#reachable;
  }

  /** Starts the watch and the periodic re-list; the first list is triggered at once. */
  start(): void {
    const { keys } = this.#o;
    this.#watch = this.#o.backend.watchPrefix(keys.prefix, {
      onConnected: () => {
        this.#watchUp = true;
        void this.trigger();
        clearTimeout(this.#confirmTimer);
        this.#confirmTimer = setTimeout(() => void this.trigger(), this.#o.confirmListAfterMs);
        this.#scheduleResync();
      },
      onEvents: (revision, events) => this.#applyEvents(revision, events),
      onBroken: (err) => {
        this.#o.logger.debug({ err: errorText(err) }, 'etcd watch broken; re-listing');
        this.#watchUp = false;
        void this.trigger();
        this.#scheduleResync();
      },
    });
    this.#scheduleResync();
    void this.trigger();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#resyncTimer);
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#confirmTimer);
    await this.#watch?.close();
    await this.#chain;
  }

  /**
   * Queues one re-list (coalesced with one already queued but not started)
   * and resolves with the resulting view, or null if etcd could not be read.
   * Never rejects.
   */
  trigger(): Promise<ClusterView | null> {
    if (this.#pending !== null) return this.#pending;
    const p = this.#chain.then(() => {
      this.#pending = null;
      return this.#listOnce();
    });
    this.#pending = p;
    this.#chain = p;
    return p;
  }

  /** full lists taken since start (tests count them) */
  get lists(): number {
    return this.#lists;
  }

  /** whether the watch is connected: while it is not, the view is re-listed every `unwatchedListIntervalMs` */
  watching(): boolean {
    return this.#watchUp;
  }

  /** Applies a list result taken elsewhere (e.g. a retried read); returns the current view. */
  apply(list: ListResult): ClusterView {
    this.#reachable = true;
    const current = this.#view;
    const revision = BigInt(list.revision);
    if (current !== null && revision < this.#revision) return current;
    this.#revision = revision;
    this.#kvs = new Map(list.kvs.map((kv) => [kv.key, kv]));
    return this.#install(list.revision, list.kvs);
  }

  /**
   * One watch response on top of the last list. Before the first list there is nothing to
   * apply it to (that list is under way); an event at or below the view's revision is in it.
   */
  #applyEvents(revision: string, events: readonly WatchEvent[]): void {
    if (this.#view === null || this.#stopped) return;
    const known = this.#revision;
    let changed = false;
    for (const { type, kv } of events) {
      if (BigInt(kv.modRevision) <= known) continue;
      if (type === 'put') this.#kvs.set(kv.key, kv);
      else this.#kvs.delete(kv.key);
      changed = true;
    }
    const header = BigInt(revision);
    if (header > this.#revision) this.#revision = header;
    if (!changed) return;
    const kvs = [...this.#kvs.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    this.#install(String(this.#revision), kvs);
  }

  /** Makes `kvs` at `revision` the view (unless its content is the current one's); returns the view. */
  #install(revision: string, kvs: readonly Kv[]): ClusterView {
    const current = this.#view;
    const fp = fingerprint(kvs);
    if (current !== null && fp === this.#fingerprint) return current;
    const next = buildView(this.#o.keys, this.#o.scope, revision, kvs);
    this.#reportMalformed(next);
    this.#view = next;
    this.#fingerprint = fp;
    if (
      current?.leader &&
      (next.leader === null || next.leader.createRevision !== current.leader.createRevision)
    ) {
      this.#leaderGone(current.leader);
    }
    this.emit('change', next);
    return next;
  }

  async #listOnce(): Promise<ClusterView | null> {
    if (this.#stopped) return this.#view;
    try {
      const timeoutMs = this.#o.callTimeoutMs;
      this.#lists++;
      const list = await withTimeout(
        this.#o.backend.list(this.#o.keys.prefix, { timeoutMs }),
        timeoutMs,
        'list',
      );
      return this.apply(list);
    } catch (e) {
      if (this.#reachable) this.#o.logger.warn({ err: errorText(e) }, 'cannot list the cluster prefix');
      this.#reachable = false;
      if (!this.#stopped) {
        clearTimeout(this.#retryTimer);
        this.#retryTimer = setTimeout(() => void this.trigger(), this.#o.failedListRetryMs);
      }
      return null;
    }
  }

  /** Logs each malformed value once (a key rewritten with another bad value is a new one). */
  #reportMalformed(view: ClusterView): void {
    const now = new Set<string>();
    for (const m of view.malformed) {
      const id = `${m.key}@${m.modRevision}`;
      now.add(id);
      if (!this.#malformedSeen.has(id))
        this.#o.logger.warn(
          { key: m.key, kind: m.kind, modRevision: m.modRevision, error: m.error },
          'ignoring malformed etcd value',
        );
    }
    this.#malformedSeen = now;
  }

  /** Reports each leader key (by create revision) gone at most once, from watch or list. */
  #leaderGone(previous: LeaderRecord | null): void {
    const id = previous?.createRevision ?? null;
    if (id !== null && this.#leaderGoneFor === id) return;
    if (id !== null) this.#leaderGoneFor = id;
    this.emit('leader-deleted', { previous });
  }

  /** The periodic list: rare while the watch is up, about every loop while it is down. */
  #scheduleResync(): void {
    clearTimeout(this.#resyncTimer);
    if (this.#stopped) return;
    const ms = this.#watchUp ? this.#o.resyncIntervalMs : this.#o.unwatchedListIntervalMs;
    this.#resyncTimer = setTimeout(() => {
      void this.trigger();
      this.#scheduleResync();
    }, ms);
  }
}
