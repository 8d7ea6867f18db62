import type { Clock, ClusterView } from '@hapg/core';
import type { NodeSnapshot } from '../api/snapshot.js';
import type { EventJournal } from '../events/index.js';
import { LagClock } from './lag-clock.js';
import { buildUiState, type UiPeerReport, type UiReason, type UiState } from './state.js';

export interface UiHubOptions {
  readonly snapshot: () => NodeSnapshot;
  /** the store's watch-fed view (no etcd request: the agent's one watch keeps it) */
  readonly view: () => ClusterView | null;
  /** calls `fn` on every view change; answers the function that stops that */
  readonly onViewChange: (fn: () => void) => () => void;
  readonly journal?: EventJournal;
  /** this node's last logged decision reason */
  readonly ownReason: () => UiReason | null;
  /** a peer's `GET /ui/reason`; null when it does not answer */
  readonly fetchPeer?: (apiUrl: string) => Promise<UiPeerReport | null>;
  readonly clock: Clock;
  readonly timing?: Partial<UiHubTiming>;
}

export interface UiHubTiming {
  /** the least time between two pushes: a burst of changes is one push */
  readonly minPushIntervalMs: number;
  /** a push at least this often while watched (lease time left, lag seconds move on their own) */
  readonly tickMs: number;
  /** how often the other members' decision reasons are asked for, while watched */
  readonly peerPollMs: number;
  readonly peerTimeoutMs: number;
}

export const UI_HUB_TIMING: UiHubTiming = {
  minPushIntervalMs: 250,
  tickMs: 1000,
  peerPollMs: 2000,
  peerTimeoutMs: 1000,
};

export type UiListener = (state: UiState, json: string) => void;

interface PeerEntry {
  readonly report: UiPeerReport;
  /** monotonic ms of the answer, to age its lease figure */
  readonly atMs: number;
}

/**
 * One per agent: turns the agent's own view, snapshot and events into dashboard states
 * for every open page. It costs nothing while nobody watches; while someone does, it
 * builds one state per push whatever the number of pages, never asks etcd (the view is
 * the agent's one watch's), and asks each peer for its decision reason once per
 * `peerPollMs`. Pushes are coalesced to at most one per `minPushIntervalMs`.
 */
export class UiHub {
  readonly #o: UiHubOptions;
  readonly #t: UiHubTiming;
  readonly #lag = new LagClock();
  #listeners: readonly UiListener[] = [];
  #peers = new Map<string, PeerEntry>();
  #lastPushMs = Number.NEGATIVE_INFINITY;
  #pushTimer: NodeJS.Timeout | null = null;
  #tick: NodeJS.Timeout | null = null;
  #peerPoll: NodeJS.Timeout | null = null;
  #polling = false;
  #unwatch: (() => void)[] = [];

  constructor(o: UiHubOptions) {
    this.#o = o;
    this.#t = { ...UI_HUB_TIMING, ...o.timing };
  }

  get listeners(): number {
    return this.#listeners.length;
  }

  /** The state now (`GET /ui/state`, and a new page's first frame). */
  state(): UiState {
    const { clock } = this.#o;
    const snapshot = this.#o.snapshot();
    const wallNowMs = clock.wallMs();
    const monotonicNowMs = clock.monotonicMs();
    const leader = snapshot.members.find((m) => m.role === 'leader' || m.role === 'standby_leader');
    if (leader?.lsnBytes != null) this.#lag.record({ wallMs: wallNowMs, lsnBytes: leader.lsnBytes });
    return buildUiState({
      snapshot,
      view: this.#o.view(),
      events: this.#o.journal?.recent({ limit: 50 }) ?? [],
      wallNowMs,
      monotonicNowMs,
      ownReason: this.#o.ownReason(),
      peers: this.#agedPeers(monotonicNowMs),
      lag: this.#lag,
    });
  }

  /** Adds a page; answers the function that removes it. The first one starts the timers. */
  subscribe(fn: UiListener): () => void {
    this.#listeners = [...this.#listeners, fn];
    if (this.#listeners.length === 1) this.#start();
    return () => {
      const before = this.#listeners.length;
      this.#listeners = this.#listeners.filter((l) => l !== fn);
      if (before > 0 && this.#listeners.length === 0) this.#stop();
    };
  }

  /** Stops everything (the agent's shutdown). */
  close(): void {
    this.#listeners = [];
    this.#stop();
  }

  #start(): void {
    const changed = () => this.#schedule();
    this.#unwatch.push(this.#o.onViewChange(changed));
    if (this.#o.journal !== undefined) this.#unwatch.push(this.#o.journal.subscribe(changed));
    this.#tick = setInterval(changed, this.#t.tickMs);
    if (this.#o.fetchPeer !== undefined) {
      this.#peerPoll = setInterval(() => void this.#pollPeers(), this.#t.peerPollMs);
      void this.#pollPeers();
    }
  }

  #stop(): void {
    for (const u of this.#unwatch) u();
    this.#unwatch = [];
    for (const t of [this.#tick, this.#peerPoll]) if (t !== null) clearInterval(t);
    if (this.#pushTimer !== null) clearTimeout(this.#pushTimer);
    this.#tick = this.#peerPoll = this.#pushTimer = null;
    this.#peers.clear();
  }

  /** A push soon: now if the last was long enough ago, else when it will be. */
  #schedule(): void {
    if (this.#pushTimer !== null || this.#listeners.length === 0) return;
    const waitMs = Math.max(0, this.#lastPushMs + this.#t.minPushIntervalMs - this.#o.clock.monotonicMs());
    this.#pushTimer = setTimeout(() => {
      this.#pushTimer = null;
      this.#push();
    }, waitMs);
  }

  #push(): void {
    this.#lastPushMs = this.#o.clock.monotonicMs();
    const state = this.state();
    const json = JSON.stringify(state);
    for (const l of this.#listeners) {
      try {
        l(state, json);
      } catch {
        // one broken page must not starve the others
      }
    }
  }

  async #pollPeers(): Promise<void> {
    const fetchPeer = this.#o.fetchPeer;
    if (this.#polling || fetchPeer === undefined) return;
    this.#polling = true;
    try {
      const self = this.#o.snapshot().name;
      const members = [...(this.#o.view()?.members.values() ?? [])].filter((m) => m.name !== self);
      await Promise.all(
        members.map(async (m) => {
          const report = await fetchPeer(m.apiUrl).catch(() => null);
          if (report === null) this.#peers.delete(m.name);
          else this.#peers.set(m.name, { report, atMs: this.#o.clock.monotonicMs() });
        }),
      );
    } finally {
      this.#polling = false;
    }
    this.#schedule();
  }

  #agedPeers(nowMs: number): Map<string, UiPeerReport> {
    const out = new Map<string, UiPeerReport>();
    for (const [name, { report, atMs }] of this.#peers) {
      const lease = report.leaseRemainingMs;
      out.set(name, {
        reason: report.reason,
        leaseRemainingMs: lease === null ? null : Math.max(0, lease - (nowMs - atMs)),
      });
    }
    return out;
  }
}
