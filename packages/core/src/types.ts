import type { Lsn } from './lsn.js';
import type { Timeline } from './timeline.js';

/** A member's name as configured by `name:`; also its replication slot's base name. */
export type MemberName = string;

/** Role values of the member JSON (Patroni's vocabulary). */
export type MemberRole = 'primary' | 'replica' | 'standby_leader' | 'demoted' | 'uninitialized' | 'promoted';

/** Postgres state values of the member JSON (Patroni's vocabulary, plus a few of ours). */
export type MemberState =
  | 'running'
  | 'starting'
  | 'stopping'
  | 'stopped'
  | 'crashed'
  | 'creating replica'
  | 'initializing new cluster'
  | 'restarting'
  | 'rewinding'
  | 'start failed'
  | 'unknown';

export type Tags = Readonly<Record<string, unknown>>;

/**
 * The member JSON stored at `members/<name>` — the Patroni contract.
 * Integers are LSNs in bytes; fields are optional where Patroni omits them.
 */
export interface MemberJson {
  conn_url: string;
  api_url: string;
  state: MemberState | string;
  role: MemberRole | string;
  version: string;
  tags?: Record<string, unknown>;
  pending_restart?: boolean;
  pending_restart_reason?: Record<string, { old_value: string; new_value: string }>;
  xlog_location?: number;
  receive_lsn?: number;
  replay_lsn?: number;
  replication_state?: 'streaming' | 'in archive recovery' | string;
  timeline?: number;
  scheduled_restart?: Record<string, unknown>;
  pause?: boolean;
  /** hapg addition (Patroni ignores unknown fields): why a node is stopped, e.g. a failed rewind. */
  status_reason?: string;
  /**
   * hapg addition: the member this standby's WAL receiver streams from now (its
   * `pg_stat_wal_receiver` sender matched to a member's `conn_url`); absent when not streaming
   * or the sender is no member. `hactl topology` draws the tree from it.
   */
  streaming_from?: string;
  /**
   * hapg addition: this leader keeps the sync key's promise as docs/fast-failover.md's I1–I4
   * state (version 1): a listed standby may then take over before its lease expires. Absent
   * (Patroni, an older hapg): never.
   */
  sync_promise?: number;
  /**
   * hapg addition: a hapg primary that cannot keep that promise says why instead of publishing
   * `sync_promise`, e.g. `synchronous_commit=local for role app` (docs/fast-failover.md).
   */
  sync_promise_withheld?: string;
}

/** A member as the agent reasons about it: parsed, typed, with etcd metadata. */
export interface Member {
  readonly name: MemberName;
  readonly connUrl: string;
  readonly apiUrl: string;
  readonly state: string;
  readonly role: string;
  readonly version: string;
  readonly tags: Tags;
  readonly timeline: Timeline | null;
  /** current WAL position: flush LSN on a primary, max(receive, replay) on a replica. */
  readonly xlogLocation: Lsn | null;
  readonly receiveLsn: Lsn | null;
  readonly replayLsn: Lsn | null;
  readonly replicationState: string | null;
  readonly pendingRestart: boolean;
  readonly statusReason: string | null;
  /** etcd lease id the key is bound to (decimal string); null when unbound. */
  readonly leaseId: string | null;
  readonly modRevision: string;
  /** the raw JSON, kept so unknown fields survive a rewrite by a newer agent */
  readonly raw: MemberJson;
}

/** The leader key: who holds it and under which lease. */
export interface LeaderRecord {
  readonly name: MemberName;
  readonly leaseId: string | null;
  readonly modRevision: string;
  readonly createRevision: string;
}

/** `failover` key: a requested switchover (with leader) or failover (without), maybe scheduled. */
export interface FailoverRequest {
  readonly leader: MemberName | null;
  readonly member: MemberName | null;
  /** ISO-8601 time, or null for "now" */
  readonly scheduledAt: string | null;
  readonly modRevision: string;
}

/** `sync` key. */
export interface SyncState {
  readonly leader: MemberName | null;
  readonly syncStandbys: readonly MemberName[];
  readonly quorum: number | null;
  readonly modRevision: string;
}

export type SwitchReason = 'failover' | 'switchover' | 'manual' | 'bootstrap' | string;

/**
 * One element of the `history` list: `[timeline, switch_lsn, reason, time, new_leader]` as in
 * Patroni. Older hapg versions wrote a 6th element `old_leader`; it is still read (hactl
 * history shows it), never written: `patronictl history` fails on rows longer than five.
 */
export interface HistoryEntry {
  /** the timeline that ended at this switch (Patroni writes the old timeline) */
  readonly timeline: number;
  readonly switchLsn: number;
  readonly reason: SwitchReason;
  readonly time: string;
  readonly newLeader: MemberName | null;
  /** the leader before the switch, from a 6th element an older hapg wrote; never written */
  readonly oldLeader?: MemberName | null;
}

/** `status` key, written by the leader after renewals. */
export interface LeaderStatus {
  readonly optime: number | null;
  readonly slots: Readonly<Record<string, number>>;
  readonly retainSlots: readonly string[];
}

/** Everything this node knows about the cluster from etcd, as one immutable value. */
export interface ClusterView {
  readonly scope: string;
  /** etcd revision this view is consistent with */
  readonly revision: string;
  readonly initialize: string | null;
  readonly leader: LeaderRecord | null;
  readonly members: ReadonlyMap<MemberName, Member>;
  /** parsed dynamic config JSON (validated by the caller), with its mod revision */
  readonly config: { readonly value: Record<string, unknown>; readonly modRevision: string } | null;
  readonly failover: FailoverRequest | null;
  readonly sync: SyncState | null;
  readonly history: { readonly entries: readonly HistoryEntry[]; readonly modRevision: string } | null;
  readonly status: LeaderStatus | null;
  /**
   * the `failsafe` key (docs/failsafe.md): member name → api_url, written by the leader; absent
   * (undefined) in views built before it was read, null when there is none
   */
  readonly failsafe?: FailsafeKey | null;
  /**
   * the `release/<member>` keys (hapg only; docs/fast-failover.md, quorum mode): listed standbys
   * that stopped streaming from a leader shown gone and promised not to stream from it again
   * while its leader key stays at one revision. Absent in views built before they were read.
   */
  readonly releases?: ReadonlyMap<MemberName, StreamRelease>;
  /** keys whose JSON could not be parsed: reported and otherwise ignored */
  readonly malformed: readonly MalformedKey[];
}

/** The `failsafe` key: the members a primary cut off from etcd must reach, each with its `api_url`. */
export interface FailsafeKey {
  readonly members: ReadonlyMap<MemberName, string>;
  readonly modRevision: string;
}

/**
 * `release/<member>`, under the member's lease: `member` stopped its walreceiver from `leader`
 * (flushed up to `flushLsn`) and streams from it no more while the leader key still holds
 * `leader` at mod revision `leaderRevision`. A fast takeover in quorum mode counts these: with
 * enough of them the old leader cannot gather the confirmations a commit needs.
 */
export interface StreamRelease {
  readonly member: MemberName;
  readonly leader: MemberName;
  readonly leaderRevision: string;
  readonly timeline: Timeline | null;
  readonly flushLsn: Lsn;
  readonly modRevision: string;
}

/** Kinds of key whose value is parsed (the leader and initialize keys are plain strings). */
export type MalformedKind =
  | 'member'
  | 'release'
  | 'config'
  | 'failover'
  | 'sync'
  | 'history'
  | 'status'
  | 'failsafe';

/**
 * A key whose value could not be parsed. Its mod revision lets a writer replace or delete it
 * with CAS (a malformed `failover` key is cleared by `DELETE /switchover`, a malformed `sync` or
 * `history` key is rewritten by the leader) without touching a value written since.
 */
export interface MalformedKey {
  readonly key: string;
  readonly kind: MalformedKind;
  readonly error: string;
  readonly modRevision: string;
}

/** The malformed key of `kind` (a singleton: config, failover, sync, history, status), if any. */
export function malformedKey(
  view: ClusterView | null,
  kind: Exclude<MalformedKind, 'member' | 'release'>,
): MalformedKey | null {
  return view?.malformed.find((m) => m.kind === kind) ?? null;
}

/**
 * The mod revision of a singleton key as `view` has it: the parsed key's, else a malformed
 * value's (another tool wrote it: a CAS may replace it, and a compare must see it), else null
 * (absent). What every guarded write and every compare of "the key the decision saw" uses.
 */
export function keyRevision(
  view: ClusterView | null,
  kind: 'config' | 'failover' | 'sync' | 'history' | 'failsafe',
): string | null {
  return view?.[kind]?.modRevision ?? malformedKey(view, kind)?.modRevision ?? null;
}

export const EMPTY_REVISION = '0';
