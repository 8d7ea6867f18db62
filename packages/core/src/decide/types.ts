import type { Lsn } from '../lsn.js';
import type { Timeline } from '../timeline.js';
import type { ClusterView, MemberName } from '../types.js';

/**
 * What `decide` needs of the dynamic config, already converted to internal
 * units (milliseconds, bytes). The agent maps the validated config onto this.
 */
export interface DecideConfig {
  readonly ttlMs: number;
  readonly loopWaitMs: number;
  readonly retryTimeoutMs: number;
  /** how long a crashed primary is restarted in place before the lease is released */
  readonly primaryStartTimeoutMs: number;
  /** a replica further than this behind the leader's last optime may not take over */
  readonly maximumLagOnFailoverBytes: bigint;
  /** leader whose renewals fail and which has no streaming replica stops writing after this */
  readonly primaryIsolationTimeoutMs: number;
  readonly checkTimeline: boolean;
  readonly pause: boolean;
  /** `failsafe_mode`: a primary cut off from etcd may run on the failsafe deadline (docs/failsafe.md) */
  readonly failsafeMode?: boolean;
  readonly synchronousMode: 'off' | 'on' | 'quorum';
  readonly synchronousModeStrict: boolean;
  readonly usePgRewind: boolean;
  /** fast failover in `on` mode (docs/fast-failover.md); absent: off */
  readonly fastFailover?: FastFailoverConfig;
}

/** `fast_failover*` (docs/fast-failover.md), in internal units. */
export interface FastFailoverConfig {
  readonly enabled: boolean;
  /** (c): no message from the leader on our walreceiver for this long */
  readonly streamSilenceMs: number;
  /** (d): the bound on each REST and Postgres-port probe of the leader */
  readonly probeTimeoutMs: number;
}

/**
 * What a listed sync standby found out about a leader whose stream went silent (conditions
 * (c)–(e) of docs/fast-failover.md), gathered by the agent while `takeoverTarget` holds.
 */
export interface TakeoverEvidence {
  readonly leader: MemberName;
  /** the leader key's mod revision the probes were made for */
  readonly leaderModRevision: string;
  /** ms since our walreceiver's last message from the leader; null: no walreceiver at all */
  readonly streamSilenceMs: number | null;
  readonly restAnswered: boolean;
  readonly portAnswered: boolean;
  /** LeaseTimeToLive of the leader key's lease, whole seconds; null: etcd has no such lease */
  /** 'unasked': REST or the port answered first, so etcd was not asked */
  readonly lease: { readonly remainingS: number; readonly grantedS: number } | null | 'unasked';
}

/** This node's own identity and tags. */
export interface SelfInfo {
  readonly name: MemberName;
  readonly nofailover: boolean;
  readonly nosync: boolean;
  /** higher wins a tie on WAL position (Patroni's `failover_priority`, default 1; 0 = never) */
  readonly failoverPriority: number;
  /**
   * `watchdog.mode: required` and the watchdog cannot be used: why (Patroni's unhealthy
   * watchdog). Such a node never takes the leader key, never bootstraps, and a holder hands
   * the key back. Absent/null: fine, or not required.
   */
  readonly watchdogFailure?: string | null;
  /**
   * this node's `pre_promote` script failed less than ttl ago (why): it released the key and
   * does not compete until then (Patroni's backoff), and says so to its peers
   * (`pre_promote_failed` in `/patroni`), so that the next best member takes over instead of
   * deferring to it. Absent/null: fine.
   */
  readonly prePromoteFailure?: string | null;
  /**
   * failsafe mode: why this node may not take the leader key, promote or start as a primary
   * now — a promise to a primary cut off from etcd (`FAILSAFE_PROMISED`), or the hold after the
   * agent's start that outlasts any promise of an earlier run (`FAILSAFE_STARTUP_HOLD`).
   * Absent/null: free. The executor enforces the same promise atomically (`beginLeadership`).
   */
  readonly failsafeHold?: {
    readonly code: 'FAILSAFE_PROMISED' | 'FAILSAFE_STARTUP_HOLD';
    readonly text: string;
  } | null;
  /**
   * quorum fast failover (docs/fast-failover.md): we stopped our walreceiver from `leader` and
   * promised not to stream from it again while the leader key holds it at `leaderRevision`
   * (persisted by the agent, so a restart keeps the promise). Absent/null: no release.
   */
  readonly streamRelease?: StreamReleaseState | null;
}

/** A release this node made (`SelfInfo.streamRelease`): the leader key it is bound to. */
export interface StreamReleaseState {
  readonly leader: MemberName;
  readonly leaderRevision: string;
}

export type PgProcessState = 'running' | 'starting' | 'stopping' | 'stopped' | 'crashed';

/** The postmaster runs, but the agent's own connection to it failed (see `PgObservation.connectFailure`). */
export interface PgConnectFailure {
  /**
   * `rejected`: the server answered and refused us (pg_hba.conf, password, role, database,
   * too many clients) — it will not pass by itself; `no-answer`: nothing accepted the
   * connection (still starting, shutting down, hung, listening elsewhere)
   */
  readonly kind: 'rejected' | 'no-answer';
  /** what the agent got, with the server's own text and SQLSTATE, for every address it tried */
  readonly text: string;
  /** monotonic ms of the first failure of this run of failures */
  readonly sinceMs: number;
  /** from postmaster.pid, no connection needed: `ready` is a primary, `standby` a hot standby; null: neither yet */
  readonly serverRole: 'primary' | 'standby' | null;
}

/** The local Postgres as the last probe saw it. */
export interface PgObservation {
  /** `empty`: no data directory yet (needs bootstrap or clone) */
  readonly dataDir: 'empty' | 'initialized';
  /** from pg_controldata / the probe; null when unknown */
  readonly systemId: string | null;
  readonly process: PgProcessState;
  /**
   * monotonic ms since which this node is down as a primary: the first unexpected exit of a
   * primary since it last ran, or (set by the agent) since it has held the leader key without
   * a running primary — a start or a promotion failing; null if neither
   */
  readonly crashedAtMs: number | null;
  /** null when not running; otherwise what `pg_is_in_recovery()` says */
  readonly inRecovery: boolean | null;
  /**
   * true when the data directory was last a primary (pg_controldata `in production`,
   * or the agent ran it as one); a former primary must rejoin through rewind, never blindly.
   */
  readonly wasPrimary: boolean;
  readonly timeline: Timeline | null;
  /**
   * replica: `timeline` is the timeline of the WAL it received (its WAL receiver's, now or
   * earlier in this server's run), not pg_control's, which stays on the last restartpoint's
   * timeline and lags a timeline switch; absent or false when unknown
   */
  readonly timelineExact?: boolean;
  /** primary: pg_current_wal_flush_lsn(); replica: null */
  readonly flushLsn: Lsn | null;
  readonly receiveLsn: Lsn | null;
  readonly replayLsn: Lsn | null;
  /** the member this replica's primary_conninfo points at (from the config the agent rendered) */
  readonly following: MemberName | null;
  /** replica: the WAL receiver is streaming */
  readonly streaming: boolean;
  /**
   * replica following `following`: monotonic ms since it was first seen not streaming from it
   * (reset when it streams or is re-pointed); null while streaming, absent when unknown
   */
  readonly notStreamingSinceMs?: number | null;
  /**
   * primary: members provably streaming from it — a `pg_stat_replication` row in state
   * `streaming` whose standby replies are fresh (`ReplicaEvidence`); a row alone proves nothing
   * when packets are dropped
   */
  readonly streamingReplicas: readonly MemberName[];
  /** set by the agent after a rewind/clone attempt failed: the reason shown to operators */
  readonly rejoinFailure: string | null;
  /** the postmaster runs but the agent cannot connect to it (process is then `starting`); absent/null: no such failure */
  readonly connectFailure?: PgConnectFailure | null;
}

/** The etcd side: the last good cluster view, and the state of this node's lease. */
export interface DcsObservation {
  /** the last view read from etcd; null before the first successful read */
  readonly view: ClusterView | null;
  /** whether the last etcd request succeeded */
  readonly reachable: boolean;
  /** this node's current lease id (decimal string), null while none is granted */
  readonly leaseId: string | null;
  /** local monotonic deadline of the lease: send time of the last acked keepalive + ttl − margin */
  readonly leaseDeadlineMs: number | null;
  /**
   * monotonic ms at which the first renewal since the last success was sent, once it failed or
   * has gone unanswered for longer than the renewal period; null while renewals succeed
   */
  readonly renewFailingSinceMs: number | null;
  /** monotonic ms at which this node last released the leader key (a switchover away); absent: never */
  readonly releasedLeaderAtMs?: number | null;
  /**
   * monotonic ms since which this node has seen the current leader key (same mod revision)
   * bound to no lease or naming no member with a live member key (`trackFlawedLeader`);
   * null/absent: not seen so, and such a key is then never removed
   */
  readonly flawedLeaderSinceMs?: number | null;
  /**
   * create revision of the leader key this node created (acquired, or rebound after a restart)
   * and has not released; null/absent: none. A key with our name and no lease at that revision
   * is still ours, overwritten by another tool (`etcdctl put` keeps a key's create revision);
   * at any other revision it says nothing of where the last primary is.
   */
  readonly ownLeaderCreateRevision?: string | null;
  /**
   * the etcd revision of this node's last write of the leader key (acquire, rebind, fast
   * takeover) since it last released it; null/absent: none. A view at an older revision
   * predates that write (a stalled watch): its leader key says nothing about who holds it now.
   */
  readonly ownLeaderWriteRevision?: string | null;
  /**
   * failsafe mode, a primary whose renewals fail: monotonic ms until which the last complete
   * round of `POST /failsafe` lets it write (F, docs/failsafe.md); the primary writes while
   * now < max(lease deadline, F). Null/absent: no complete round, or not in failsafe.
   */
  readonly failsafeDeadlineMs?: number | null;
  /**
   * the failsafe set this primary must reach is itself alone: nobody else can take the key,
   * so the isolation rule (no replica streaming) does not stop it (P5)
   */
  readonly failsafeAlone?: boolean;
  /**
   * failsafe mode: a member answered this primary's `POST /failsafe` that it runs as primary
   * or holds the key (why, with its name): the primary stops writes at once (P3)
   */
  readonly failsafeRefused?: string | null;
}

/** A peer's status, read from its REST `/patroni` during an election. */
export interface PeerStatus {
  readonly name: MemberName;
  readonly reachable: boolean;
  readonly xlogLocation: Lsn | null;
  readonly timeline: Timeline | null;
  readonly role: string | null;
  readonly state: string | null;
  readonly nofailover: boolean;
  readonly failoverPriority: number;
  /** its `/patroni` says `watchdog_failed: true` (watchdog required but unusable): not a candidate */
  readonly watchdogFailed?: boolean;
  /** its `pre_promote` failed less than ttl ago: not a candidate (`pre_promote_failed` in `/patroni`) */
  readonly prePromoteFailed?: boolean;
}

export interface Observation {
  readonly self: SelfInfo;
  readonly config: DecideConfig;
  readonly pg: PgObservation;
  readonly dcs: DcsObservation;
  /** filled by observe only when the leader key is absent (an election is considered) */
  readonly peers: ReadonlyMap<MemberName, PeerStatus> | null;
  /**
   * Wall-clock ms since the epoch, for operations scheduled at a wall time (a scheduled
   * switchover). Absent: nothing scheduled is ever due. Never used for lease safety.
   */
  readonly wallNowMs?: number;
  /** fast failover: the probes of the leader, when `takeoverTarget` held and all of them ran; absent/null: none */
  readonly takeover?: TakeoverEvidence | null;
}

/**
 * Actions, executed by the agent **in order, stopping at the first failure**.
 * Each is one effect; composite I/O sequences (bootstrap, clone, rejoin) are
 * single actions because their steps have no decision between them.
 */
export type Action =
  /** race for the `initialize` key; the winner runs initdb, starts as primary, takes the leader key, writes initialize+config */
  | { readonly kind: 'bootstrap' }
  /**
   * pg_basebackup from `from` (a running `clonefrom` member, or the leader), then start as a
   * streaming standby of `leader` (its upstream: the leader, or its `replicatefrom` member)
   */
  | { readonly kind: 'clone'; readonly leader: MemberName; readonly from?: MemberName }
  /**
   * create the leader key (txn create_revision == 0, bound to our lease); fails if someone else has it.
   * If the key already holds our own name under another lease (the agent restarted under a
   * new lease), rebind it to our lease (txn value == name), as the contract's keep path does.
   */
  | { readonly kind: 'acquireLeader' }
  /**
   * Fails unless etcd (not the cached view) says the leader key holds our name under our
   * lease: a txn comparing value and lease, with no writes. Put before every action that
   * makes Postgres writable on the strength of the view (promote or start as primary while
   * holding the key), because the watch-fed view can lag our own release or an expiry.
   * (Added with the decide() implementation; the simulator found the stale-view promotion.)
   */
  | { readonly kind: 'verifyLeader' }
  /** delete the leader key if it is ours (txn value == name) */
  | { readonly kind: 'releaseLeader' }
  /** CHECKPOINT while still serving, so that the shutdown checkpoint of a switchover is short */
  | { readonly kind: 'checkpoint' }
  /**
   * After a clean stop for a switchover: wait (bounded by retry_timeout) until `member` (null:
   * any eligible member) reports a received WAL position at or past our shutdown checkpoint.
   */
  | { readonly kind: 'awaitReplica'; readonly member: MemberName | null }
  /**
   * Synchronous mode, right before a promotion: CAS the `sync` key to name us as leader with
   * no standbys. The old key describes the old leader's commits, not ours: left alone, a
   * standby it lists could be promoted after we acknowledged commits it never received.
   * A failed CAS (the key changed under us) fails the promotion; the next loop retries.
   */
  | { readonly kind: 'claimSyncKey' }
  /**
   * Asynchronous mode, right before a promotion: delete a `sync` key left from before the mode
   * was switched off (CAS at the view's revision, guarded by our leader key; best effort).
   */
  | { readonly kind: 'dropSyncKey' }
  /** pg_promote(wait) then append to `history` */
  | { readonly kind: 'promote'; readonly reason: PromoteReason }
  /** stop accepting writes now: stop Postgres (`immediate` when the lease is in doubt); a later loop starts it as a standby */
  | { readonly kind: 'demote'; readonly mode: 'fast' | 'immediate'; readonly follow: MemberName | null }
  /** start the stopped Postgres: as primary (only while holding the key) or as a standby of `follow` */
  | { readonly kind: 'startPostgres'; readonly as: 'primary' | 'replica'; readonly follow: MemberName | null }
  /** re-point primary_conninfo (reload, no restart) */
  | { readonly kind: 'followLeader'; readonly leader: MemberName }
  /** former primary: pg_rewind against the leader (or re-clone when allowed), then start as its standby */
  | { readonly kind: 'rejoin'; readonly leader: MemberName }
  /** delete a consumed or stale `failover` key */
  | { readonly kind: 'clearFailover' }
  /**
   * Delete a leader key no real leader can hold (leader-key.ts) if its mod revision is still
   * `modRevision`: a CAS, so a leader that took the key since is never touched. A key that
   * changed or went meanwhile is left alone, and that is not a failure. `member`: for a key
   * naming a member with no member key bound to a lease, that member key as the decision saw
   * it (its mod revision, null: absent), compared in the same transaction — the decision may
   * rest on a stalled watch, and a member key written since means a real leader (simulator).
   */
  | {
      readonly kind: 'removeLeaderKey';
      readonly modRevision: string;
      readonly member: { readonly name: MemberName; readonly modRevision: string | null } | null;
    }
  /**
   * Fast failover (docs/fast-failover.md): put the leader key = us under our lease in one
   * transaction comparing the leader key's mod revision (still `leader`'s key, the one judged),
   * the sync key's (still the key that lists us), and the `config` and `failsafe` keys' (null:
   * absent) as the decision saw them. Fails when any changed: the leader's guarded key writes
   * and this can never both succeed.
   */
  | {
      readonly kind: 'takeOverLeader';
      readonly leader: MemberName;
      readonly leaderModRevision: string;
      readonly syncModRevision: string;
      readonly configModRevision: string | null;
      readonly failsafeModRevision: string | null;
      /** quorum mode: the release keys counted, at the revisions read; each compared */
      readonly releases?: readonly { readonly member: MemberName; readonly modRevision: string }[];
    }
  /**
   * Quorum fast failover: persist the release, stop our walreceiver (no `primary_conninfo`,
   * reload), wait until it is gone, read our final flush LSN and put `release/<us>` under our
   * lease while the leader key still holds `leader` at `leaderRevision`.
   */
  | { readonly kind: 'releaseStream'; readonly leader: MemberName; readonly leaderRevision: string }
  /**
   * Take the release back: delete `release/<us>` in a transaction comparing the leader key
   * (still `leader` at `leaderRevision`), then forget it. Fails when the key changed.
   */
  | { readonly kind: 'withdrawRelease'; readonly leader: MemberName; readonly leaderRevision: string }
  /** forget a release the leader key has moved past, and delete its key (best effort) */
  | { readonly kind: 'dropRelease' }
  /**
   * An operator's request, never decided: wipe the data directory and clone from `leader`
   * again (REST `POST /reinitialize`, `hactl reinit`). Refused while we hold the leader key.
   */
  | { readonly kind: 'reinitialize'; readonly leader: MemberName };

export type ActionKind = Action['kind'];

/** Why a promotion happened; `fast-failover`: after a takeover before the old lease expired (history: `failover (fast)`). */
export type PromoteReason = 'failover' | 'fast-failover' | 'switchover' | 'manual';

export type DecidedRole = 'primary' | 'replica' | 'candidate' | 'demoted' | 'uninitialized' | 'stopped';

/** Reasons are data: tests assert the code, logs print the text, metrics count by code. */
export interface Reason {
  readonly code: ReasonCode;
  readonly text: string;
}

export type ReasonCode =
  | 'PAUSED'
  | 'DCS_UNAVAILABLE'
  | 'WAITING_FOR_INITIALIZE'
  | 'BOOTSTRAPPING'
  | 'WAITING_FOR_LEADER_TO_CLONE'
  | 'CLONING'
  | 'SYSTEM_ID_MISMATCH'
  | 'LEASE_DEADLINE_PASSED'
  | 'ISOLATED'
  | 'HOLDING_LEASE'
  | 'PROMOTING_HELD_LEASE'
  | 'RESTARTING_CRASHED_PRIMARY'
  | 'STARTING_STANDBY_TO_PROMOTE'
  | 'PRIMARY_START_TIMEOUT'
  | 'ANOTHER_LEADER'
  | 'FOLLOWING'
  | 'REPOINTING'
  | 'REJOINING'
  | 'REJOIN_FAILED'
  | 'STARTING_REPLICA'
  | 'NO_LEADER_NOT_ELIGIBLE'
  | 'NO_LEADER_NOT_HEALTHIEST'
  | 'NO_LEADER_TAKING_OVER'
  | 'NO_LEADER_REACQUIRING'
  | 'LAG_TOO_HIGH'
  | 'POSTGRES_NOT_RUNNING'
  | 'POSTGRES_STARTING'
  /** holder with `watchdog.mode: required` whose watchdog cannot be used: hands the key back (Patroni) */
  | 'WATCHDOG_UNAVAILABLE'
  /** Postgres runs but refuses the agent's connection: the text carries the server's words (see cannot-connect.ts) */
  | 'POSTGRES_CONNECTION_REJECTED'
  | 'WAITING'
  // added with the decide() implementation:
  /** the key has our name but another lease (agent restarted): rebind it, or wait for it to expire */
  | 'LEADER_KEY_OTHER_LEASE'
  /** leader: a valid switchover names us as `leader`: stop writes, then release the key */
  | 'SWITCHOVER_DEMOTING'
  /** leader already demoted for a switchover but still holds the key: release it */
  | 'SWITCHOVER_RELEASING'
  /** no leader and a valid failover key names another member: do not compete */
  | 'FAILOVER_TARGET_ELSEWHERE'
  /** no leader and the failover key names us: take over even if not strictly the healthiest */
  | 'NO_LEADER_FAILOVER_TARGET'
  /** leader: the failover key is stale (names another leader, or us as the target) */
  | 'CLEARING_STALE_FAILOVER'
  | 'SWITCHOVER_AWAY'
  | 'LEADER_ON_OLDER_TIMELINE'
  /** the leader key is bound to no lease or names no live member: no leader (leader-key.ts) */
  | 'LEADER_KEY_INVALID'
  // added with synchronous mode:
  /** quorum mode: this member cannot prove it holds every acknowledged commit (see sync/quorum.ts) */
  | 'QUORUM_NOT_LISTED'
  | 'QUORUM_NO_GUARANTEE'
  | 'QUORUM_TOO_FEW_SEEN'
  | 'QUORUM_NOT_AHEAD'
  // added with failsafe mode (docs/failsafe.md):
  /** etcd unreachable, and every failsafe member answered: running on the failsafe deadline */
  | 'FAILSAFE_ACTIVE'
  /** neither the lease deadline nor the failsafe deadline is ahead: stop writes */
  | 'FAILSAFE_DEADLINE_PASSED'
  /** a failsafe member answered that it runs as primary or holds the key: stop writes at once */
  | 'FAILSAFE_REFUSED'
  /** this member promised a primary cut off from etcd not to lead for a while */
  | 'FAILSAFE_PROMISED'
  /** the agent started less than the longest promise it ever gave ago */
  | 'FAILSAFE_STARTUP_HOLD'
  /** the failsafe key exists and does not name this member: it never leads */
  | 'FAILSAFE_NOT_LISTED'
  // added with fast failover (docs/fast-failover.md):
  /** a listed sync standby takes the key from a leader shown gone before its lease expired */
  | 'FAST_FAILOVER'
  /** our view is older than our own last leader key write: nothing is decided on it */
  | 'VIEW_BEHIND_OWN_WRITE'
  /** quorum mode: the leader is shown gone; we stop streaming from it and say so in etcd */
  | 'STREAM_RELEASING'
  /** quorum mode: we released our stream from the leader and wait for a takeover or its return */
  | 'STREAM_RELEASED'
  /** quorum mode: the leader we released is back (or the fast path no longer applies): stream again */
  | 'STREAM_WITHDRAWING';

export interface Decision {
  readonly role: DecidedRole;
  readonly actions: readonly Action[];
  readonly reason: Reason;
}
