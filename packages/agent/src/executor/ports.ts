import type { Lsn, Member, MemberName, PeerStatus, StreamReleaseState, Timeline } from '@hapg/core';
import type { EtcdStore } from '@hapg/dcs';
import type { FollowTarget, StartRole, StopMode } from '@hapg/postgres';

/**
 * The ports the executor runs every `Action` against. The agent adapts its etcd store, its
 * Postgres and its fence (`local-ports.ts`); the simulator supplies models behind the same
 * interfaces, so that the code it proves is the code that runs in production.
 */

/** The cluster store: leader lock, CAS writes, the watch-fed view. Every method may throw a `DCS_*` error. */
export type ClusterStorePort = Pick<
  EtcdStore,
  | 'acquireLeader'
  | 'takeOverLeader'
  | 'verifyLeader'
  | 'releaseLeader'
  | 'removeLeaderAt'
  | 'tryInitialize'
  | 'setInitialize'
  | 'casConfig'
  | 'casSync'
  | 'deleteSync'
  | 'casHistory'
  | 'deleteFailover'
  | 'putRelease'
  | 'withdrawRelease'
  | 'deleteRelease'
  | 'view'
  | 'readView'
  | 'leaseDeadlineMs'
>;

/** Where a promotion forked off: the timeline that ended and the LSN of the switch. */
export interface TimelineFork {
  readonly parent: Timeline;
  readonly switchLsn: Lsn;
}

/** Control of the local Postgres, and the facts about it only the agent knows (`PgMemory`). */
export interface PostgresControl {
  /** a postmaster runs (started by us or adopted) */
  running(): boolean;
  /** the last probe's positions: where a standby's recovery stood before a promotion */
  lastPositions(): { readonly receiveLsn: Lsn | null; readonly replayLsn: Lsn | null } | null;
  /** starts Postgres; resolves once it accepts connections */
  start(role: StartRole, follow: FollowTarget | null): Promise<void>;
  /** stops Postgres on purpose (its exit is expected) */
  stop(mode: StopMode): Promise<void>;
  /** `pg_promote(wait)` */
  promote(): Promise<void>;
  /** the running server's identity and position */
  probe(): Promise<{
    readonly systemId: string;
    readonly timeline: Timeline | null;
    readonly flushLsn: Lsn | null;
  }>;
  /** the fork recorded in `timeline`'s history file, or null when it cannot be read */
  timelineFork(timeline: Timeline): Promise<TimelineFork | null>;
  checkpoint(): Promise<void>;
  /** re-point a running standby's `primary_conninfo` (and slot) at `target` */
  followPrimary(target: FollowTarget): Promise<void>;
  /** the checkpoint LSN in pg_control (a stopped server's last WAL) */
  checkpointLsn(): Promise<Lsn>;
  /** the CHECKPOINT pg_rewind needs on its source */
  checkpointSource(target: FollowTarget): Promise<void>;
  /** `pg_rewind` from `target`; returns the tool's output */
  rewindFrom(target: FollowTarget): Promise<string>;
  initdb(): Promise<void>;
  createReplicationUser(): Promise<void>;
  /** `create_replica_methods` in order into the empty data directory; returns the method that worked */
  createReplica(source: FollowTarget): Promise<string>;
  /** empties the data directory (it may be a mount point: never removed) */
  emptyDataDir(): Promise<void>;
  /** ran as a primary since its last rejoin or clone (persisted across agent restarts) */
  setWasPrimary(value: boolean): Promise<void>;
  /**
   * Quorum fast failover: stop the walreceiver for good (a standby of nobody, reloaded), wait
   * until it is gone; the final received position (at least every flush we ever confirmed).
   */
  stopReceiving(): Promise<Lsn>;
  /** the stream release we made (`SelfInfo.streamRelease`), persisted across agent restarts; null: none */
  readonly streamRelease: StreamReleaseState | null;
  setStreamRelease(value: StreamReleaseState | null): Promise<void>;
  /** what the agent knows of its Postgres that Postgres does not say (the executor updates it) */
  readonly memory: PgMemory;
}

/** The facts about the local Postgres only the agent knows. */
export interface PgMemory {
  /** the member this node's `primary_conninfo` points at */
  following: MemberName | null;
  /** when a primary went down unexpectedly (bounds restarts by `primary_start_timeout`) */
  crashedAtMs: number | null;
  /** why the last rejoin failed, shown to operators until a reinitialize */
  rejoinFailure: string | null;
}

/** A peer's REST status, asked during a switchover (the target confirms our last WAL). */
export type PeerPort = (member: Member, timeoutMs: number) => Promise<Pick<PeerStatus, 'xlogLocation'>>;

/** Time for the executor: the simulator's is virtual. */
export interface ExecClock {
  monotonicMs(): number;
  /** wall clock, for history timestamps */
  wallMs(): number;
  sleep(ms: number): Promise<void>;
}

/**
 * Failsafe mode's promises (docs/failsafe.md M3): the first step of taking the key, promoting
 * or starting as a primary. Returns why it is refused now (a promise to a primary cut off from
 * etcd, or the startup hold); null: go on, and no promise is given until we lead no more.
 */
export interface FailsafePort {
  beginLeadership(): string | null;
}

/** The fence: a primary must be fenced, with the deadline of the lease it runs under. */
export interface FencePort {
  /** arms the fence with the current lease deadline and the *current* postmaster */
  arm(): Promise<void>;
  disarm(): Promise<void>;
}

/** What a change of Postgres means for the callbacks (`postgresql.callbacks`). */
export type PgChange = 'started' | 'restarted' | 'stopped' | 'promoted';

/** The role a callback is told (Patroni 4's names). */
export type CallbackRole = 'primary' | 'replica';

/**
 * The operator's scripts around Postgres (`postgresql.pre_promote`, `before_stop`, `callbacks`).
 * Only the first two can change what happens: the executor waits for them; callbacks are
 * fire-and-forget and never delay the HA loop.
 */
export interface HooksPort {
  /** runs `pre_promote`; `ok: false` (non-zero exit, timeout, not runnable) aborts the promotion */
  prePromote(): Promise<{ readonly ok: boolean; readonly text: string }>;
  /** runs `before_stop` and waits for it (bounded by its timeout); its outcome changes nothing */
  beforeStop(): Promise<void>;
  /** Postgres changed: the matching callback runs in the background */
  changed(change: PgChange, role: CallbackRole): void;
}

/** What the executor logs through (a pino logger in the agent). */
export interface ExecLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}
