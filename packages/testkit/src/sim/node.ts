import { type AgentMemory, FRESH_MEMORY, fenceMoves, observed, prePromoteFailure } from '@hapg/agent';
import {
  type DecideConfig,
  type Decision,
  holdsLeaderKey,
  type Observation,
  type PeerStatus,
  type PgObservation,
  type StreamReleaseState,
  toLsn,
  toTimeline,
} from '@hapg/core';
import { type SimEtcd, syncModeOf, toClusterView } from './etcd.js';

/** A model of one node's Postgres: what replication and the invariants need, nothing more. */
export interface PgModel {
  process: 'running' | 'stopped' | 'crashed';
  primary: boolean;
  timeline: number;
  lsn: bigint;
  /** [timeline, lsn where it ended] for every timeline before the current one */
  history: [number, bigint][];
  /** the agent's memory: the member it configured this server to follow */
  following: string | null;
  /** the member `primary_conninfo` names: what the server really streams from */
  upstream: string | null;
  /** the postmaster's incarnation (a pid): each start makes a new one, which the fence must be armed with */
  incarnation: number;
  wasPrimary: boolean;
  crashedAtMs: number | null;
  /** the agent's memory: why the last rejoin failed */
  rejoinFailure: string | null;
  /** the agent's persisted stream release (quorum fast failover): survives agent restarts */
  streamRelease: StreamReleaseState | null;
  streaming: boolean;
  streamingReplicas: string[];
  /** `synchronous_standby_names` as last rendered (the value a start or promotion runs with) */
  ssn: string;
  /** commits this primary made on its current timeline that no client has seen succeed yet */
  unacked: bigint[];
  /**
   * a standby: when its walreceiver last got a message from its upstream
   * (`pg_stat_wal_receiver.last_msg_receipt_time`); null: no walreceiver since its last start
   */
  lastMsgAtMs: number | null;
}

/** Faults active on a node; each is "until" a simulated instant. */
export interface NodeFaults {
  agentPausedUntilMs: number;
  etcdCutUntilMs: number;
  fullCutUntilMs: number;
  renewalsLostUntilMs: number;
  /** the agent's process is down (restarting): loops stop, its REST API refuses connections */
  agentDownUntilMs: number;
  /** messages from this node to the named one are lost until then (a node↔node cut, one direction) */
  readonly cutTo: Map<string, number>;
  /** the watch delivers nothing until then: the view stays as it was (requests still work) */
  watchStalledUntilMs: number;
  /** the stall freezes the view at the next revision without a leader key, not at once */
  watchStallAtNoLeader: boolean;
}

export interface SimTiming {
  readonly ttlMs: number;
  /** deadline = send time of the last acked keepalive + ttl − margin */
  readonly leaseMarginMs: number;
  readonly maxWatchDelayMs: number;
}

/** One simulated node: Postgres model, agent state, fence deadline, faults. */
export class SimNode {
  readonly pg: PgModel;
  leaseId: string | null = null;
  /** the create revision of the leader key this node's store created last (store.ts) */
  ownLeaderCreateRevision: string | null = null;
  /** the etcd revision of this node's store's last leader key write (store.ts) */
  ownLeaderWriteRevision: string | null = null;
  deadlineMs: number | null = null;
  renewFailingSinceMs: number | null = null;
  /** when etcd last confirmed a renewal: the isolation grace runs from it, as in LeaseKeeper */
  lastRenewedMs: number | null = null;
  /** what the agent remembers between loops, changed by the agent's own functions (loop/memory.ts) */
  memory: AgentMemory = FRESH_MEMORY;
  /** why this node stays out of elections now (a failed `pre_promote`), from its last loop */
  prePromoteFailure: string | null = null;
  /**
   * The fence: the deadline and the postmaster it was armed with. It stops that postmaster on
   * its own at the deadline, even while the agent is paused; a postmaster started since is
   * not the one it watches.
   */
  fence: { readonly deadlineMs: number; readonly incarnation: number } | null = null;
  /** the last observation saw a running primary (the agent re-arms the fence on each renewal then) */
  lastSawPrimary = false;
  cachedView: Observation['dcs']['view'] = null;
  reachable = false;
  nextLoopAtMs = 0;
  lastDecision: Decision | null = null;
  readonly faults: NodeFaults = {
    agentPausedUntilMs: 0,
    etcdCutUntilMs: 0,
    fullCutUntilMs: 0,
    renewalsLostUntilMs: 0,
    agentDownUntilMs: 0,
    cutTo: new Map(),
    watchStalledUntilMs: 0,
    watchStallAtNoLeader: false,
  };
  /** the instant of the etcd state a stalled watch left the view at; null: not stalled */
  watchFrozenAtMs: number | null = null;
  /**
   * The fence's deadline when the agent arms it (ha.ts `#armFence`): the lease deadline, or in
   * failsafe mode W = max(lease deadline, failsafe deadline) (set by the simulator).
   */
  fenceDeadline: () => number | null = () => this.deadlineMs;
  /** the agent's rule for moving the fence on a renewal (a mutant in tests) */
  fenceMoves: typeof fenceMoves = fenceMoves;
  /** the store's `lease-lost` event: a keepalive found the lease gone (set by the simulator in failsafe mode) */
  onLeaseLost: (() => void) | null = null;

  constructor(
    readonly name: string,
    readonly nofailover: boolean,
    readonly failoverPriority: number,
    pg: PgModel,
  ) {
    this.pg = pg;
  }

  writable(): boolean {
    return this.pg.process === 'running' && this.pg.primary;
  }
  agentPaused(nowMs: number): boolean {
    return nowMs < this.faults.agentPausedUntilMs || nowMs < this.faults.agentDownUntilMs;
  }
  agentDown(nowMs: number): boolean {
    return nowMs < this.faults.agentDownUntilMs;
  }
  /** messages from this node reach `to` (no one-way cut, neither fully cut off) */
  sendsTo(to: SimNode, nowMs: number): boolean {
    return nowMs >= (this.faults.cutTo.get(to.name) ?? 0) && !this.fullyCut(nowMs) && !to.fullyCut(nowMs);
  }
  /** a connection between the two works (both directions) */
  linked(other: SimNode, nowMs: number): boolean {
    return this.sendsTo(other, nowMs) && other.sendsTo(this, nowMs);
  }
  fullyCut(nowMs: number): boolean {
    return nowMs < this.faults.fullCutUntilMs;
  }
  etcdConnected(nowMs: number): boolean {
    return nowMs >= this.faults.etcdCutUntilMs && !this.fullyCut(nowMs);
  }

  /** REST `/patroni` as a peer sees it; unreachable while paused or cut off. */
  status(nowMs: number, from: SimNode): PeerStatus {
    return {
      name: this.name,
      reachable: !this.agentPaused(nowMs) && this.linked(from, nowMs),
      xlogLocation: toLsn(this.pg.lsn),
      timeline: toTimeline(this.pg.timeline),
      role: this.writable() ? 'primary' : 'replica',
      state: this.pg.process,
      nofailover: this.nofailover,
      failoverPriority: this.failoverPriority,
      // as published in its REST status at its last loop
      ...(this.prePromoteFailure === null ? {} : { prePromoteFailed: true }),
    };
  }

  /** Lease upkeep as the dcs layer does it, before each loop. */
  renew(etcd: SimEtcd, nowMs: number, timing: SimTiming): void {
    if (!this.etcdConnected(nowMs) || nowMs < this.faults.renewalsLostUntilMs) {
      this.renewFailingSinceMs ??= this.lastRenewedMs ?? nowMs;
      return;
    }
    if (this.leaseId === null || !etcd.keepAlive(this.leaseId, nowMs, timing.ttlMs)) {
      if (this.leaseId !== null) this.onLeaseLost?.();
      this.leaseId = etcd.grant(nowMs, timing.ttlMs);
    }
    this.lastRenewedMs = nowMs;
    this.deadlineMs = nowMs + timing.ttlMs - timing.leaseMarginMs;
    this.renewFailingSinceMs = null;
    // ha.ts: each renewal moves the fence of a primary whose view shows the key its own (the
    // agent's rule, `fenceMoves`), armed with the current postmaster
    const deadlineMs = this.fenceDeadline();
    const holds = holdsLeaderKey(this.cachedView, this.name, this.leaseId);
    const last = this.lastSawPrimary ? { inRecovery: false } : null;
    if (this.fenceMoves(last, holds, this.pg.process === 'running') && deadlineMs !== null)
      this.fence = { deadlineMs, incarnation: this.pg.incarnation };
  }

  /** A probe of the model Postgres, as `LocalPostgres.observe` reads it (changes nothing). */
  probe(): PgObservation {
    const pg = this.pg;
    const running = pg.process === 'running';
    return {
      dataDir: 'initialized',
      systemId: 'sim-sysid',
      process: pg.process,
      crashedAtMs: pg.crashedAtMs,
      inRecovery: running ? !pg.primary : null,
      wasPrimary: pg.wasPrimary,
      timeline: toTimeline(pg.timeline),
      flushLsn: running && pg.primary ? toLsn(pg.lsn) : null,
      receiveLsn: running && !pg.primary ? toLsn(pg.lsn) : null,
      replayLsn: running && !pg.primary ? toLsn(pg.lsn) : null,
      following: pg.following,
      streaming: pg.streaming,
      streamingReplicas: pg.streamingReplicas,
      rejoinFailure: pg.rejoinFailure,
    };
  }

  /**
   * The agent's process restarted: what it held in memory is gone (its lease id, its view, its
   * memory); Postgres, the fence (armed with its last deadline) and the files survive.
   */
  agentRestarted(): void {
    this.leaseId = null;
    this.ownLeaderCreateRevision = null;
    this.ownLeaderWriteRevision = null;
    this.deadlineMs = null;
    this.renewFailingSinceMs = null;
    this.lastRenewedMs = null;
    this.memory = FRESH_MEMORY;
    this.prePromoteFailure = null;
    this.lastSawPrimary = false;
    this.cachedView = null;
    this.reachable = false;
    this.lastDecision = null;
  }

  observe(
    etcd: SimEtcd,
    nowMs: number,
    watchDelayMs: number,
    config: DecideConfig,
    peers: SimNode[],
  ): Observation {
    this.reachable = this.etcdConnected(nowMs);
    if (this.reachable)
      this.cachedView = toClusterView(etcd.readAt(this.watchFrozenAtMs ?? nowMs - watchDelayMs));
    const view = this.cachedView;
    const paused = view?.config?.value.pause === true;
    const pg = this.pg;
    const running = pg.process === 'running';
    // as LocalPostgres.observe: a running primary is no longer crashed, and must rewind one day
    this.lastSawPrimary = running && pg.primary;
    if (this.lastSawPrimary) {
      pg.crashedAtMs = null;
      pg.wasPrimary = true;
    }
    const pgObs = this.probe();
    // the agent's own memory rules (loop/memory.ts): flawed-key sightings, down under the key
    const seen = observed(this.memory, {
      view,
      self: this.name,
      holdsLeaderKey: holdsLeaderKey(view, this.name, this.leaseId),
      pg: pgObs,
      paused,
      nowMs,
    });
    this.memory = seen.memory;
    this.prePromoteFailure = prePromoteFailure(this.memory, nowMs, config.ttlMs);
    return {
      self: {
        name: this.name,
        nofailover: this.nofailover,
        nosync: false,
        failoverPriority: this.failoverPriority,
        prePromoteFailure: this.prePromoteFailure,
        streamRelease: this.pg.streamRelease,
      },
      // pause and synchronous_mode as this node's (lagging) view of the config key has them
      config: {
        ...config,
        pause: view?.config?.value.pause === true,
        synchronousMode: syncModeOf(view) ?? config.synchronousMode,
      },
      pg: seen.pg,
      dcs: {
        view,
        reachable: this.reachable,
        leaseId: this.leaseId,
        leaseDeadlineMs: this.deadlineMs,
        renewFailingSinceMs: this.renewFailingSinceMs,
        releasedLeaderAtMs: this.memory.releasedLeaderAtMs,
        flawedLeaderSinceMs: this.memory.flawedLeader?.sinceMs ?? null,
        ownLeaderCreateRevision: this.ownLeaderCreateRevision,
        ownLeaderWriteRevision: this.ownLeaderWriteRevision,
      },
      peers: view?.leader === null ? new Map(peers.map((p) => [p.name, p.status(nowMs, this)])) : null,
    };
  }
}
