import {
  type Action,
  type DecideConfig,
  type Decision,
  type FlawedLeaderSighting,
  type Observation,
  type PeerStatus,
  toLsn,
  toTimeline,
  trackFlawedLeader,
} from '@hapg/core';
import { type SimEtcd, toClusterView } from './etcd.js';

/** A model of one node's Postgres: what replication and the invariants need, nothing more. */
export interface PgModel {
  process: 'running' | 'stopped' | 'crashed';
  primary: boolean;
  timeline: number;
  lsn: bigint;
  /** [timeline, lsn where it ended] for every timeline before the current one */
  history: [number, bigint][];
  following: string | null;
  wasPrimary: boolean;
  crashedAtMs: number | null;
  streaming: boolean;
  streamingReplicas: string[];
  /** `synchronous_standby_names` as last rendered (the value a start or promotion runs with) */
  ssn: string;
  /** commits this primary made on its current timeline that no client has seen succeed yet */
  unacked: bigint[];
}

/** Faults active on a node; each is "until" a simulated instant. */
export interface NodeFaults {
  agentPausedUntilMs: number;
  etcdCutUntilMs: number;
  fullCutUntilMs: number;
  renewalsLostUntilMs: number;
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
  deadlineMs: number | null = null;
  renewFailingSinceMs: number | null = null;
  /** when etcd last confirmed a renewal: the isolation grace runs from it, as in LeaseKeeper */
  lastRenewedMs: number | null = null;
  /** when this node last released the leader key (a switchover away) */
  releasedLeaderAtMs: number | null = null;
  /** the fence's copy of the deadline: stops a primary on its own, even when the agent is paused */
  fenceDeadlineMs: number | null = null;
  cachedView: Observation['dcs']['view'] = null;
  reachable = false;
  nextLoopAtMs = 0;
  lastDecision: Decision | null = null;
  /** the sync manager's ssn while leading (null: not leading, render from the key) */
  managedSsn: string | null = null;
  /** the agent's tracker of a leader key no agent holds (ha.ts) */
  flawedLeader: FlawedLeaderSighting | null = null;
  readonly faults: NodeFaults = {
    agentPausedUntilMs: 0,
    etcdCutUntilMs: 0,
    fullCutUntilMs: 0,
    renewalsLostUntilMs: 0,
  };

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
    return nowMs < this.faults.agentPausedUntilMs;
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
      reachable: !this.agentPaused(nowMs) && !this.fullyCut(nowMs) && !from.fullyCut(nowMs),
      xlogLocation: toLsn(this.pg.lsn),
      timeline: toTimeline(this.pg.timeline),
      role: this.writable() ? 'primary' : 'replica',
      state: this.pg.process,
      nofailover: this.nofailover,
      failoverPriority: this.failoverPriority,
    };
  }

  /** Lease upkeep as the dcs layer does it, before each loop. */
  renew(etcd: SimEtcd, nowMs: number, timing: SimTiming): void {
    if (!this.etcdConnected(nowMs) || nowMs < this.faults.renewalsLostUntilMs) {
      this.renewFailingSinceMs ??= this.lastRenewedMs ?? nowMs;
      return;
    }
    if (this.leaseId === null || !etcd.keepAlive(this.leaseId, nowMs, timing.ttlMs)) {
      this.leaseId = etcd.grant(nowMs, timing.ttlMs);
    }
    this.lastRenewedMs = nowMs;
    this.deadlineMs = nowMs + timing.ttlMs - timing.leaseMarginMs;
    this.fenceDeadlineMs = this.deadlineMs;
    this.renewFailingSinceMs = null;
  }

  observe(
    etcd: SimEtcd,
    nowMs: number,
    watchDelayMs: number,
    config: DecideConfig,
    peers: SimNode[],
  ): Observation {
    this.reachable = this.etcdConnected(nowMs);
    if (this.reachable) this.cachedView = toClusterView(etcd.readAt(nowMs - watchDelayMs));
    const view = this.cachedView;
    const paused = view?.config?.value.pause === true;
    this.flawedLeader = trackFlawedLeader(this.flawedLeader, view, this.name, nowMs, paused);
    const pg = this.pg;
    const running = pg.process === 'running';
    return {
      self: {
        name: this.name,
        nofailover: this.nofailover,
        nosync: false,
        failoverPriority: this.failoverPriority,
      },
      config: { ...config, pause: view?.config?.value.pause === true },
      pg: {
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
        rejoinFailure: null,
      },
      dcs: {
        view,
        reachable: this.reachable,
        leaseId: this.leaseId,
        leaseDeadlineMs: this.deadlineMs,
        renewFailingSinceMs: this.renewFailingSinceMs,
        releasedLeaderAtMs: this.releasedLeaderAtMs,
        flawedLeaderSinceMs: this.flawedLeader?.sinceMs ?? null,
      },
      peers: view?.leader === null ? new Map(peers.map((p) => [p.name, p.status(nowMs, this)])) : null,
    };
  }
}

/** What the agent's executor does with each action in the model. Returns false on failure. */
export interface ActContext {
  readonly etcd: SimEtcd;
  readonly nowMs: number;
  readonly node: SimNode;
  readonly byName: ReadonlyMap<string, SimNode>;
  /** global timeline counter, as Postgres picks a fresh timeline id on promotion */
  newTimeline(): number;
  /**
   * Synchronous mode is modelled: `claimSyncKey` writes the key, and a fast shutdown hands
   * all WAL to the standbys streaming from us (walsenders wait for their flush confirmation).
   * Off: today's asynchronous model, unchanged.
   */
  readonly syncModel?: boolean;
  /**
   * Proposed fix (quorum mode): once a switchover target confirmed all our WAL, name it alone
   * in the sync key with k = 1 before releasing, so the target's quorum proof passes on its
   * own. Off: today's agent (awaitReplica gives up after retry_timeout and releases anyway).
   */
  readonly handoverSyncKey?: boolean;
}

export function act(a: Action, ctx: ActContext): boolean {
  const { etcd, nowMs, node } = ctx;
  const pg = node.pg;
  const connected = node.etcdConnected(nowMs);
  switch (a.kind) {
    case 'acquireLeader':
      return connected && node.leaseId !== null && etcd.acquire(node.name, node.leaseId, nowMs);
    case 'claimSyncKey':
      if (ctx.syncModel === true) return connected && claimSyncKey(ctx);
      return connected && etcd.holdsLeader(node);
    case 'verifyLeader': {
      const leader = etcd.current.leader;
      return connected && leader !== null && leader.name === node.name && leader.leaseId === node.leaseId;
    }
    case 'releaseLeader': {
      const ok = connected && etcd.release(node.name, nowMs);
      if (ok) node.releasedLeaderAtMs = nowMs;
      return ok;
    }
    case 'clearFailover':
      if (connected) etcd.setFailover(null, nowMs);
      return connected;
    case 'removeLeaderKey':
      // a key changed meanwhile is left alone, and that is not a failure (act.ts)
      if (connected) etcd.removeLeaderAt(a.modRevision, nowMs);
      return connected;
    case 'promote':
      if (pg.process !== 'running' || pg.primary) return false;
      promoteModel(ctx);
      return true;
    case 'demote':
      // the agent stops Postgres; a later loop starts it as a standby (or rejoins)
      if (ctx.syncModel === true && a.mode === 'fast' && node.writable()) shutdownSendsWal(ctx);
      pg.primary = false;
      pg.process = 'stopped';
      pg.following = null;
      pg.streaming = false;
      return true;
    case 'checkpoint':
      return pg.process === 'running';
    case 'awaitReplica':
      if (ctx.handoverSyncKey === true && a.member !== null) handOver(ctx, a.member);
      return true; // the agent gives up waiting after retry_timeout and goes on
    case 'startPostgres':
      if (pg.process === 'running') return false;
      pg.process = 'running';
      pg.following = a.follow;
      if (a.as === 'primary') {
        if (!pg.primary) promoteModel(ctx);
        pg.crashedAtMs = null;
      } else {
        pg.primary = false;
      }
      return true;
    case 'followLeader':
      pg.following = a.leader;
      return true;
    case 'rejoin':
      return rejoinModel(ctx, a.leader);
    case 'bootstrap':
    case 'clone':
      return false; // data directories are always initialized in the model
  }
}

/**
 * The agent's claim before a promotion: `{leader: self, no standbys}`, guarded by the leader
 * key. On a revision conflict it reads the key again and retries once, so in the model only
 * the leader guard decides.
 */
function claimSyncKey(ctx: ActContext): boolean {
  const { etcd, node, nowMs } = ctx;
  const value = { leader: node.name, syncStandbys: [], quorum: 0 };
  return etcd.casSync(value, etcd.current.sync?.modRevision ?? null, node, nowMs) !== null;
}

/** A fast shutdown returns once every connected standby confirmed the flush of all our WAL. */
function shutdownSendsWal(ctx: ActContext): void {
  const primary = ctx.node;
  for (const name of primary.pg.streamingReplicas) {
    const r = ctx.byName.get(name);
    if (r === undefined || r.pg.process !== 'running' || r.pg.primary || r.pg.following !== primary.name)
      continue;
    if (r.fullyCut(ctx.nowMs) || primary.fullyCut(ctx.nowMs) || !canStream(r.pg, primary.pg)) continue;
    r.pg.lsn = primary.pg.lsn;
    r.pg.timeline = primary.pg.timeline;
    r.pg.history = primary.pg.history.map(([t, l]) => [t, l] as [number, bigint]);
  }
}

/** The agent's switchover handover of the sync key (act.ts): only when the target holds everything we wrote. */
function handOver(ctx: ActContext, member: string): void {
  const { etcd, node, nowMs } = ctx;
  const target = ctx.byName.get(member);
  if (target === undefined || !node.etcdConnected(nowMs)) return;
  const t = target.pg;
  if (t.timeline !== node.pg.timeline || t.lsn < node.pg.lsn) return;
  const value = { leader: node.name, syncStandbys: [member], quorum: 0 }; // stored N − k = 0: k = 1
  etcd.casSync(value, etcd.current.sync?.modRevision ?? null, node, nowMs);
}

function promoteModel(ctx: ActContext): void {
  const pg = ctx.node.pg;
  pg.history.push([pg.timeline, pg.lsn]);
  const old = pg.timeline;
  pg.timeline = ctx.newTimeline();
  pg.primary = true;
  pg.wasPrimary = true;
  pg.following = null;
  pg.streaming = false;
  if (ctx.node.etcdConnected(ctx.nowMs)) {
    ctx.etcd.appendHistory(
      { timeline: old, switchLsn: Number(pg.lsn), reason: 'sim', time: '', newLeader: ctx.node.name },
      ctx.nowMs,
    );
  }
}

/** pg_rewind model: cut our WAL back to where we left the leader's history, then follow it. */
function rejoinModel(ctx: ActContext, leaderName: string): boolean {
  const leader = ctx.byName.get(leaderName);
  const pg = ctx.node.pg;
  if (leader === undefined || leader.pg.process !== 'running' || leader === ctx.node) return false;
  if (leader.fullyCut(ctx.nowMs) || ctx.node.fullyCut(ctx.nowMs)) return false;
  const fork = forkPoint(pg, leader.pg);
  if (pg.lsn > fork) pg.lsn = fork;
  pg.timeline = leader.pg.timeline;
  pg.history = leader.pg.history.map(([t, l]) => [t, l] as [number, bigint]);
  if (pg.lsn > leader.pg.lsn) pg.lsn = leader.pg.lsn;
  pg.process = 'running';
  pg.primary = false;
  pg.wasPrimary = false;
  pg.following = leaderName;
  pg.crashedAtMs = null;
  return true;
}

/** The last LSN our history shares with `source`'s. */
export function forkPoint(mine: PgModel, source: PgModel): bigint {
  if (mine.timeline === source.timeline) return minLsn(mine.lsn, source.lsn);
  const end = source.history.find(([t]) => t === mine.timeline);
  if (end !== undefined) return minLsn(mine.lsn, end[1]);
  // Our timeline is not in the source's history: shared up to where our own history forks.
  let shared = 0n;
  for (const [t, l] of mine.history) {
    const theirs = source.history.find(([st]) => st === t);
    if (theirs === undefined && t !== source.timeline) break;
    shared = theirs === undefined ? l : minLsn(l, theirs[1]);
  }
  return shared;
}

function minLsn(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

/** Can `replica` stream from `source` without diverging? */
export function canStream(replica: PgModel, source: PgModel): boolean {
  if (replica.timeline === source.timeline) return replica.lsn <= source.lsn;
  const end = source.history.find(([t]) => t === replica.timeline);
  return end !== undefined && replica.lsn <= end[1];
}
