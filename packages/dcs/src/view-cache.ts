import { EventEmitter } from 'node:events';
import { type ClusterView, errorText, type LeaderRecord } from '@hapg/core';
import type { EtcdBackend, ListResult, WatchHandle } from './backend.js';
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
  /** periodic full re-list, whatever the watch says (about loop_wait) */
  readonly resyncIntervalMs: number;
  /** re-list this soon after a failed list */
  readonly failedListRetryMs: number;
  readonly logger: Logger;
}

/**
 * The cluster view, kept in memory. The watch is only a trigger (stack-notes
 * #7: it can silently skip events around reconnects): every view is built
 * from a full list of the prefix, taken after every watch event, (re)connect,
 * watch error, and periodically. A list older than the current view is
 * dropped, so the view's revision never goes backwards.
 */
export class ViewCache extends EventEmitter<ViewCacheEvents> {
  readonly #o: ViewCacheOptions;
  #view: ClusterView | null = null;
  #fingerprint: string | null = null;
  #reachable = false;
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
      onConnected: () => void this.trigger(),
      onEvent: (type, key) => {
        if (type === 'delete' && key === keys.leader) this.#leaderGone(this.#view?.leader ?? null);
        void this.trigger();
      },
      onBroken: (err) => {
        this.#o.logger.debug({ err: errorText(err) }, 'etcd watch broken; re-listing');
        void this.trigger();
      },
    });
    this.#scheduleResync();
    void this.trigger();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#resyncTimer);
    clearTimeout(this.#retryTimer);
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

  /** Applies a list result taken elsewhere (e.g. a retried read); returns the current view. */
  apply(list: ListResult): ClusterView {
    this.#reachable = true;
    const current = this.#view;
    if (current !== null && BigInt(list.revision) < BigInt(current.revision)) return current;
    const fp = fingerprint(list.kvs);
    if (current !== null && fp === this.#fingerprint) return current;
    const next = buildView(this.#o.keys, this.#o.scope, list.revision, list.kvs);
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

  #scheduleResync(): void {
    if (this.#stopped) return;
    this.#resyncTimer = setTimeout(() => {
      void this.trigger();
      this.#scheduleResync();
    }, this.#o.resyncIntervalMs);
  }
}
