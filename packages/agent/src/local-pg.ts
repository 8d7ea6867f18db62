import { existsSync } from 'node:fs';
import { open, readFile, rename, writeFile } from 'node:fs/promises';
import {
  type EvidenceBounds,
  errorText,
  type MemberName,
  type PgObservation,
  type PgProcessState,
  ReplicaEvidence,
  type StreamReleaseState,
} from '@hapg/core';
import { systemClock } from '@hapg/platform';
import {
  type ControlData,
  type FollowTarget,
  type PgStatus,
  type PostgresNode,
  parseReplicationRow,
  REPLICATION_SQL,
  replicationSamples,
  type StartRole,
  type StopMode,
} from '@hapg/postgres';
import { ConnectFailures } from './connect-failures.js';
import type { Logger } from './logger.js';
import { ReceivedTimeline } from './received-timeline.js';

/** What the agent remembers about its Postgres between loops (and, for `wasPrimary`, across restarts). */
interface Persisted {
  /** ran as a primary since its last rejoin/clone: must rewind before following anyone */
  readonly wasPrimary: boolean;
  /** quorum fast failover: our promise not to stream from a leader key (core `SelfInfo.streamRelease`) */
  readonly streamRelease: StreamReleaseState | null;
}

const NOTHING_PERSISTED: Persisted = { wasPrimary: false, streamRelease: null };

/** A persisted release, or null for anything else (a file an older agent wrote has none). */
function releaseFrom(v: unknown): StreamReleaseState | null {
  if (typeof v !== 'object' || v === null) return null;
  const { leader, leaderRevision } = v as Record<string, unknown>;
  return typeof leader === 'string' &&
    typeof leaderRevision === 'string' &&
    /^[1-9][0-9]*$/.test(leaderRevision)
    ? { leader, leaderRevision }
    : null;
}

/**
 * The agent's view of its local Postgres: the probe result of this loop plus
 * the facts only the agent knows (whom it configured it to follow, when a
 * primary crashed, why a rejoin failed). Turns them into `PgObservation`.
 */
export class LocalPostgres {
  readonly node: PostgresNode;
  readonly #log: Logger;
  readonly #statePath: string;
  #persisted: Persisted = NOTHING_PERSISTED;
  /** the member this node's primary_conninfo points at */
  following: MemberName | null = null;
  /** monotonic ms of an unexpected exit while it ran as a primary */
  crashedAtMs: number | null = null;
  /** set after a failed rejoin: the reason shown to operators; cleared by reinit */
  rejoinFailure: string | null = null;
  /** transitional states set while an action runs */
  transition: 'starting' | 'stopping' | null = null;
  /** last probe (running) or controldata (stopped) */
  lastStatus: PgStatus | null = null;
  lastControl: ControlData | null = null;
  #expectExit = false;
  /** the agent's own connection attempts: the last failure and the backoff after a refusal */
  readonly #connect: ConnectFailures;

  constructor(node: PostgresNode, log: Logger) {
    this.node = node;
    this.#log = log;
    this.#connect = new ConnectFailures(log);
    this.#statePath = `${node.dataDir}.hapg-state.json`;
  }

  async load(): Promise<void> {
    try {
      const raw = JSON.parse(await readFile(this.#statePath, 'utf8')) as Record<string, unknown>;
      this.#persisted = {
        wasPrimary: raw.wasPrimary === true,
        streamRelease: releaseFrom(raw.streamRelease),
      };
    } catch {
      this.#persisted = NOTHING_PERSISTED;
    }
  }

  get wasPrimary(): boolean {
    return this.#persisted.wasPrimary;
  }

  async setWasPrimary(value: boolean): Promise<void> {
    if (this.#persisted.wasPrimary === value) return;
    await this.#save({ ...this.#persisted, wasPrimary: value });
  }

  get streamRelease(): StreamReleaseState | null {
    return this.#persisted.streamRelease;
  }

  /** Persisted before the walreceiver stops: a restarted agent keeps the promise. */
  async setStreamRelease(value: StreamReleaseState | null): Promise<void> {
    if (value === null && this.#persisted.streamRelease === null) return;
    await this.#save({ ...this.#persisted, streamRelease: value });
  }

  async #save(next: Persisted): Promise<void> {
    const tmp = `${this.#statePath}.tmp`;
    await writeFile(tmp, JSON.stringify(next), { mode: 0o600 });
    // durable before we act on it: the release is a promise other members count
    const fh = await open(tmp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.#statePath);
    this.#persisted = next;
  }

  /** Stops Postgres on purpose: its exit is expected, and observers see `stopping` meanwhile. */
  async stop(mode: StopMode): Promise<void> {
    this.expectExit();
    this.transition = 'stopping';
    try {
      await this.node.stop(mode);
    } finally {
      this.transition = null;
    }
  }

  /** Starts Postgres; observers see `starting` until it accepts connections or fails. */
  async start(opts: { role: StartRole; follow: FollowTarget | null }): Promise<void> {
    this.transition = 'starting';
    try {
      await this.node.start(opts);
    } finally {
      this.transition = null;
    }
  }

  /** Tell the next exit event it was asked for. */
  expectExit(): void {
    this.#expectExit = true;
  }

  /** Called on the postmaster's exit event; returns true when the exit was a crash. */
  onExit(expected: boolean, nowMs: number): boolean {
    const crash = !expected && !this.#expectExit;
    this.#expectExit = false;
    this.lastStatus = null;
    if (crash && this.lastRanAsPrimary) this.crashedAtMs ??= nowMs;
    return crash;
  }

  /** the last probe saw a writable primary */
  lastRanAsPrimary = false;

  /** replica: when it was first seen not streaming from `following` (see PgObservation.notStreamingSinceMs) */
  #notStreaming: { readonly following: string | null; readonly sinceMs: number } | null = null;

  /** replica: the timeline of its received WAL (see PgObservation.timelineExact) */
  readonly #received = new ReceivedTimeline();

  /** whether our standbys still answer (design rule 2): fed by every probe and by `sampleReplication` */
  readonly #evidence = new ReplicaEvidence();
  /** set by the loop from the replication timing in force; until then the defaults' */
  evidenceBounds: EvidenceBounds = { idleBoundMs: 1500, ackBoundMs: 750 };

  /** Standbys provably streaming from us at `nowMs` (fresh replies, not just a row). */
  streamingReplicas(nowMs: number): MemberName[] {
    return this.#evidence.streaming(nowMs, this.evidenceBounds);
  }

  /** The last replication sample's time if nothing acknowledged by then could be lost (core `ReplicaEvidence`). */
  quietSampleMs(): number | null {
    return this.#evidence.quietSampleMs(this.evidenceBounds);
  }

  /**
   * A primary's quick look at `pg_stat_replication` between loops (the safety guard), so that
   * a standby's silence is seen within a fraction of the isolation grace. Returns the standbys
   * still provably streaming; a failed query leaves the evidence to age.
   */
  async sampleReplication(nowMs: number): Promise<MemberName[]> {
    try {
      const rows = await this.node.query(REPLICATION_SQL);
      this.#evidence.update(replicationSamples(rows.map(parseReplicationRow)), nowMs);
    } catch (e) {
      this.#log.debug({ err: errorText(e) }, 'replication sample failed');
    }
    return this.streamingReplicas(nowMs);
  }

  #updateEvidence(status: PgStatus | null, nowMs: number): MemberName[] {
    // a standby (or a stopped server) has no walsenders of its own worth judging
    if (status === null || status.inRecovery) this.#evidence.update([], nowMs);
    else this.#evidence.update(replicationSamples(status.replication), nowMs);
    return this.streamingReplicas(nowMs);
  }

  /** Probes Postgres (or reads pg_control when it is down) and returns the observation. */
  async observe(nowMs: number = systemClock.monotonicMs()): Promise<PgObservation> {
    const dataDir = existsSync(`${this.node.dataDir}/PG_VERSION`) ? 'initialized' : 'empty';
    let process: PgProcessState = 'stopped';
    let status: PgStatus | null = null;
    if (dataDir === 'initialized' && !this.node.running) await this.node.adopt().catch(() => false);
    if (this.node.running) {
      // a server that refused us is asked again only when its backoff elapsed
      process = 'starting';
      if (this.#connect.due(nowMs)) {
        try {
          status = await this.node.probe();
          process = 'running';
          this.#connect.succeeded();
        } catch (e) {
          this.#connect.failed(e, await this.node.serverRoleFromPidFile(), nowMs);
        }
      }
    } else {
      this.#connect.reset();
      if (this.crashedAtMs !== null) process = 'crashed';
    }
    if (this.transition !== null) process = this.transition;
    this.lastStatus = status;
    if (status !== null) {
      this.lastRanAsPrimary = !status.inRecovery;
      if (!status.inRecovery) {
        this.crashedAtMs = null;
        await this.setWasPrimary(true);
      }
    }
    let control: ControlData | null = null;
    if (status === null && dataDir === 'initialized') {
      control = await this.node.controldata().catch(() => null);
      // a data dir last run as a primary (cleanly or not) must rejoin through rewind
      if (control !== null && (control.state === 'in production' || control.state === 'shut down')) {
        await this.setWasPrimary(true);
      }
    }
    this.lastControl = control;
    const streaming = status?.walReceiver?.status === 'streaming';
    if (status === null || !status.inRecovery || streaming) this.#notStreaming = null;
    else if (this.#notStreaming === null || this.#notStreaming.following !== this.following)
      this.#notStreaming = { following: this.following, sinceMs: nowMs };
    const received = this.#received.observe(status);
    return {
      dataDir,
      systemId: status?.systemId ?? control?.systemId ?? null,
      process,
      crashedAtMs: this.crashedAtMs,
      inRecovery: status === null ? null : status.inRecovery,
      wasPrimary: this.wasPrimary && (status === null || status.inRecovery),
      timeline: received ?? status?.timeline ?? control?.timeline ?? null,
      timelineExact: received !== null,
      flushLsn: status?.flushLsn ?? null,
      receiveLsn: status?.receiveLsn ?? null,
      replayLsn: status?.replayLsn ?? null,
      following: this.following,
      streaming,
      notStreamingSinceMs: this.#notStreaming?.sinceMs ?? null,
      streamingReplicas: this.#updateEvidence(status, nowMs),
      rejoinFailure: this.rejoinFailure,
      connectFailure: this.node.running ? this.#connect.current : null,
    };
  }
}
