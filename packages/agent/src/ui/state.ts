import type { ClusterView } from '@hapg/core';
import { memberApiBase } from '@hapg/platform';
import type { NodeSnapshot } from '../api/snapshot.js';
import { type HapgEvent, type WireEvent, toWireEvent } from '../events/index.js';
import type { LagClock } from './lag-clock.js';
import { redactSecrets } from './redact.js';

/** A reason as hapg writes them everywhere: tests match `code`, people read `text`. */
export interface UiReason {
  readonly code: string;
  readonly text: string;
}

/** What a member says about itself that etcd does not hold (`GET /ui/reason`). */
export interface UiPeerReport {
  /** the decision reason it last logged (role or reason code changed) */
  readonly reason: UiReason | null;
  /** it holds the leader key: ms until its lease may expire; else null */
  readonly leaseRemainingMs: number | null;
}

export interface UiMember {
  readonly name: string;
  /** `/cluster`'s role: leader, standby_leader, sync_standby, quorum_standby, replica */
  readonly role: string;
  readonly state: string;
  readonly timeline: number | null;
  readonly lagBytes: number | null;
  readonly lagSeconds: number | null;
  readonly lsnBytes: number | null;
  readonly pendingRestart: boolean;
  readonly tags: Readonly<Record<string, unknown>>;
  readonly failoverEligible: boolean;
  readonly failoverReasonCode: string | null;
  readonly failoverReason: string;
  /** the member its WAL receiver streams from (its member key's `streaming_from`); null: none */
  readonly streamingFrom: string | null;
  /** its own dashboard */
  readonly uiUrl: string | null;
  /** what it last decided; null: not heard from it */
  readonly decision: UiReason | null;
}

export interface UiHistoryRow {
  readonly timeline: number;
  readonly switchLsn: number;
  readonly reason: string;
  readonly time: string;
  readonly newLeader: string | null;
}

/** The dashboard's whole state: one document, pushed whole on every change (it is a few KB). */
export interface UiState {
  readonly scope: string;
  /** the member serving the page */
  readonly self: string;
  readonly version: string;
  /** wall clock ms when this state was built */
  readonly builtAtMs: number;
  readonly dcs: {
    /** the agent's last etcd request succeeded */
    readonly reachable: boolean;
    /** wall ms of the last successful etcd read: the page's "cluster data as of" */
    readonly lastSeenMs: number | null;
  };
  readonly paused: boolean;
  readonly leader: {
    readonly name: string | null;
    /** ms until the holder's lease may expire (its own report); null when unknown */
    readonly leaseRemainingMs: number | null;
    readonly ttlMs: number;
  };
  readonly syncStandbys: readonly string[];
  /** `/cluster`'s `fast_failover`, as `hactl list` prints it: ready, unavailable (why) or off */
  readonly fastFailover: NodeSnapshot['fastFailover'];
  readonly members: readonly UiMember[];
  readonly history: readonly UiHistoryRow[];
  readonly events: readonly WireEvent[];
}

export interface UiStateInput {
  readonly snapshot: NodeSnapshot;
  readonly view: ClusterView | null;
  readonly events: readonly HapgEvent[];
  readonly wallNowMs: number;
  /** monotonic now, for this node's own lease deadline */
  readonly monotonicNowMs: number;
  /** this node's last logged decision reason */
  readonly ownReason: UiReason | null;
  /** what the other members last said about themselves */
  readonly peers: ReadonlyMap<string, UiPeerReport>;
  readonly lag: LagClock;
}

/** Only the most recent history rows: the page has room for a screenful. */
export const UI_HISTORY_ROWS = 20;

/**
 * The dashboard's state from what the REST API already serves: the members are the
 * snapshot's `/cluster` rows (core's `clusterRows`, the same `hactl list` shows), the
 * history is `/history`'s, the events `/events`' wire form. Only what the page adds is
 * computed here: the cascade edges, the lag in seconds and the decision reasons.
 */
export function buildUiState(i: UiStateInput): UiState {
  const s = i.snapshot;
  const members = s.members.map((m): UiMember => {
    const own = m.name === s.name;
    const viewMember = i.view?.members.get(m.name);
    const streamingFrom = viewMember?.raw.streaming_from;
    const isLeader = m.role === 'leader' || m.role === 'standby_leader';
    return {
      name: m.name,
      role: m.role,
      state: m.state,
      timeline: m.timeline,
      lagBytes: isLeader ? null : m.lagBytes,
      lagSeconds: isLeader ? null : i.lag.lagSeconds(m.lsnBytes, i.wallNowMs),
      lsnBytes: m.lsnBytes,
      pendingRestart: m.pendingRestart,
      tags: m.tags,
      failoverEligible: m.failoverEligible,
      failoverReasonCode: m.failoverReasonCode,
      failoverReason: m.failoverReason,
      streamingFrom: typeof streamingFrom === 'string' ? streamingFrom : null,
      uiUrl: uiUrlOf(m.apiUrl),
      decision: own ? i.ownReason : (i.peers.get(m.name)?.reason ?? null),
    };
  });
  const state: UiState = {
    scope: s.scope,
    self: s.name,
    version: s.version,
    builtAtMs: i.wallNowMs,
    dcs: { reachable: s.dcsReachable, lastSeenMs: s.dcsLastSeenS === null ? null : s.dcsLastSeenS * 1000 },
    paused: s.paused,
    leader: {
      name: s.leaderName,
      leaseRemainingMs: leaseRemainingMs(i),
      ttlMs: s.ttlMs,
    },
    syncStandbys: s.syncStandbys,
    fastFailover: s.fastFailover,
    members,
    history: s.history.slice(-UI_HISTORY_ROWS).map((h) => ({
      timeline: h.timeline,
      switchLsn: h.switchLsn,
      reason: h.reason,
      time: h.time,
      newLeader: h.newLeader,
    })),
    events: i.events.map(toWireEvent),
  };
  return redactSecrets(state);
}

/** The leader's lease: our own deadline when we hold it, else what the holder last reported. */
function leaseRemainingMs(i: UiStateInput): number | null {
  const s = i.snapshot;
  if (s.leaderName === null) return null;
  if (s.leaderName === s.name)
    return s.holdsLeaderKey && s.leaseDeadlineMs !== null
      ? Math.max(0, s.leaseDeadlineMs - i.monotonicNowMs)
      : null;
  return i.peers.get(s.leaderName)?.leaseRemainingMs ?? null;
}

/** `http://host:port/patroni` → `http://host:port/ui`; null when it is no URL. */
export function uiUrlOf(apiUrl: string): string | null {
  try {
    const url = new URL(`${memberApiBase(apiUrl)}/ui`);
    // never a userinfo part: a member key is no place for credentials, and the page shows this
    url.username = '';
    url.password = '';
    return url.toString();
  } catch {
    return null;
  }
}
