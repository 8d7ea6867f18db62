import type {
  ClusterStorePort,
  ExecClock,
  ExecLog,
  FencePort,
  HooksPort,
  PeerPort,
  PostgresControl,
  SyncPostgres,
  TakeoverProbes,
} from '@hapg/agent';
import { type ClusterView, HapgError, type Member, toLsn, toTimeline } from '@hapg/core';
import type { EtcdStore } from '@hapg/dcs';
import type { FollowTarget } from '@hapg/postgres';
import { type SimEtcd, toClusterView } from './etcd.js';
import type { SimNode } from './node.js';

/**
 * The model behind the agent's executor ports: one node's view of the model etcd and its
 * model Postgres. The executor, the duty runner and the sync manager run unchanged on top.
 */
export interface SimWorld {
  readonly etcd: SimEtcd;
  readonly byName: ReadonlyMap<string, SimNode>;
  /** the simulated instant (the world does not move while an agent waits: see `SimClock`) */
  nowMs(): number;
  /** a fresh timeline id for a promotion (unique cluster-wide, unlike Postgres's: keeps the model's streaming checks exact) */
  newTimeline(): number;
  /** model synchronous replication (a fast shutdown hands WAL to the standbys streaming from us) */
  readonly syncModel: boolean;
  /** a fast takeover committed: `to` deposed `from` (the simulator tracks the deposed primary) */
  readonly onTakeover?: (from: string, to: string) => void;
}

/**
 * The fast-failover probes of one standby over the model (the agent's `TakeoverProbes`): its
 * walreceiver's last message, the leader's REST API (its agent up and not frozen) and
 * Postgres port (running), each only across a working link, and LeaseTimeToLive from etcd.
 */
export function simTakeoverProbes(world: SimWorld, node: SimNode): TakeoverProbes {
  const peer = (m: Member): SimNode | undefined => world.byName.get(m.name);
  return {
    streamSilenceMs: async () => (node.pg.lastMsgAtMs === null ? null : world.nowMs() - node.pg.lastMsgAtMs),
    restAnswers: async (m) => {
      const p = peer(m);
      return p !== undefined && !p.agentPaused(world.nowMs()) && reachable(world, node, p);
    },
    portAnswers: async (m) => {
      const p = peer(m);
      return p !== undefined && p.pg.process === 'running' && reachable(world, node, p);
    },
    leaseTimeToLive: async (id) => {
      if (!node.etcdConnected(world.nowMs())) unavailable();
      return world.etcd.timeToLive(id, world.nowMs());
    },
  };
}

/**
 * Virtual time for one loop: starts at the simulated instant; an agent's sleep moves its own
 * clock on, while the world stands still (a step-based model cannot interleave the wait).
 */
export class SimClock implements ExecClock {
  #elapsedMs = 0;
  constructor(private readonly world: SimWorld) {}
  reset(): void {
    this.#elapsedMs = 0;
  }
  monotonicMs(): number {
    return this.world.nowMs() + this.#elapsedMs;
  }
  wallMs(): number {
    return Date.UTC(2026, 0, 1) + this.monotonicMs();
  }
  async sleep(ms: number): Promise<void> {
    this.#elapsedMs += ms;
  }
}

export const silentLog: ExecLog = { info: () => {}, warn: () => {} };

function unavailable(): never {
  throw new HapgError('DCS_UNAVAILABLE', 'the model etcd is cut off from this node');
}

function notModelled(what: string): never {
  throw new HapgError('INTERNAL', `${what} is not modelled (data directories are initialized)`);
}

/** One node's cluster store over the model etcd: fails while the node is cut off from it. */
export function simStore(world: SimWorld, node: SimNode): ClusterStorePort {
  const { etcd } = world;
  const up = () => {
    if (!node.etcdConnected(world.nowMs())) unavailable();
  };
  return {
    acquireLeader: async (opts = {}) => {
      up();
      if (
        node.leaseId === null ||
        !etcd.acquire(
          node.name,
          node.leaseId,
          world.nowMs(),
          node.ownLeaderCreateRevision,
          opts.failsafeModRevision,
          opts.syncModRevision,
          opts.configModRevision,
        )
      )
        return false;
      ownLeaderKey(node, etcd);
      return true;
    },
    verifyLeader: async () => {
      up();
      return etcd.holdsLeader(node);
    },
    releaseLeader: async () => {
      up();
      const released = etcd.release(node.name, world.nowMs());
      if (released) {
        node.ownLeaderCreateRevision = null;
        node.ownLeaderWriteRevision = null;
      }
      return released;
    },
    takeOverLeader: async (t) => {
      up();
      if (node.leaseId === null || !etcd.takeOver(node.name, node.leaseId, t, world.nowMs())) return false;
      ownLeaderKey(node, etcd);
      world.onTakeover?.(t.leader, node.name);
      return true;
    },
    removeLeaderAt: async (rev, member) => {
      up();
      return etcd.removeLeaderAt(rev, member ?? null, world.nowMs());
    },
    tryInitialize: async () => notModelled('bootstrap'),
    setInitialize: async () => notModelled('bootstrap'),
    casConfig: async () => notModelled('bootstrap'),
    casSync: async (value, rev) => {
      up();
      const written = etcd.casSync(value, rev, node, world.nowMs());
      if (written === null)
        throw new HapgError('DCS_CAS_CONFLICT', 'sync key changed or leader key not ours');
      return written;
    },
    deleteSync: async (rev) => {
      up();
      etcd.deleteSync(rev, world.nowMs());
    },
    casHistory: async (entries) => {
      up();
      etcd.putHistory(entries, world.nowMs());
      return String(etcd.current.revision);
    },
    deleteFailover: async () => {
      up();
      etcd.setFailover(null, world.nowMs());
    },
    putRelease: async (r) => {
      up();
      return (
        node.leaseId !== null &&
        etcd.putRelease(node.name, node.leaseId, { ...r, flushLsn: BigInt(r.flushLsn) }, world.nowMs())
      );
    },
    withdrawRelease: async (r) => {
      up();
      return etcd.withdrawRelease(node.name, r.leader, r.leaderRevision, world.nowMs());
    },
    deleteRelease: async () => {
      up();
      etcd.deleteRelease(node.name, world.nowMs());
    },
    view: (): ClusterView | null => node.cachedView,
    readView: async () => {
      up();
      return toClusterView(etcd.current);
    },
    leaseDeadlineMs: () => node.deadlineMs,
  };
}

/** As the store records the key it wrote: its create revision and the revision of the write. */
function ownLeaderKey(node: SimNode, etcd: SimEtcd): void {
  node.ownLeaderCreateRevision = etcd.current.leader?.createRevision ?? null;
  node.ownLeaderWriteRevision = etcd.current.leader?.modRevision ?? null;
}

/**
 * The failsafe key writes of one node's store (dcs store.ts `writeFailsafe`/`deleteFailsafe`),
 * guarded by the leader key. `lostAnswer()` models a request whose answer never came back:
 * 'committed' (it committed before the answer was lost) or 'lost' (it never reached etcd);
 * either way the caller sees DCS_UNAVAILABLE, an outcome it cannot know.
 */
export function simFailsafeStore(
  world: SimWorld,
  node: SimNode,
  lostAnswer: () => 'committed' | 'lost' | null,
): Pick<EtcdStore, 'writeFailsafe' | 'deleteFailsafe'> {
  const { etcd } = world;
  const up = () => {
    if (!node.etcdConnected(world.nowMs())) unavailable();
  };
  const unknown = (): never => {
    throw new HapgError('DCS_UNAVAILABLE', 'the model etcd did not answer (outcome unknown)');
  };
  return {
    writeFailsafe: async (value) => {
      up();
      const members = value instanceof Map ? value : new Map(Object.entries(value));
      const lost = lostAnswer();
      if (lost === 'lost') unknown();
      const rev = etcd.writeFailsafe(members, node, world.nowMs());
      if (lost === 'committed') unknown();
      if (rev === null) throw new HapgError('DCS_CAS_CONFLICT', 'failsafe not written: leader key not ours');
      return rev;
    },
    deleteFailsafe: async () => {
      up();
      if (!etcd.deleteFailsafe(node, world.nowMs()))
        throw new HapgError('DCS_CAS_CONFLICT', 'failsafe not deleted: leader key not ours');
    },
  };
}

/** The node another one's `primary_conninfo` names: member conn_urls carry the member name as host. */
function sourceOf(world: SimWorld, target: FollowTarget): SimNode {
  const n = world.byName.get(target.host);
  if (n === undefined) throw new HapgError('INTERNAL', `no member at ${target.host}`);
  return n;
}

/** A connection between two nodes' Postgres works unless either is fully cut off, or a node↔node cut separates them. */
function reachable(world: SimWorld, a: SimNode, b: SimNode): boolean {
  return a.linked(b, world.nowMs());
}

/** One node's Postgres control over its model. */
export function simPostgres(world: SimWorld, node: SimNode): PostgresControl {
  const pg = node.pg;
  const mustRun = (what: string) => {
    if (pg.process !== 'running') throw new HapgError('PG_NOT_RUNNING', `${what}: Postgres is ${pg.process}`);
  };
  return {
    running: () => pg.process === 'running',
    lastPositions: () =>
      pg.process === 'running' && !pg.primary
        ? { receiveLsn: toLsn(pg.lsn), replayLsn: toLsn(pg.lsn) }
        : null,
    start: async (role, follow) => {
      if (pg.process === 'running') throw new HapgError('INTERNAL', 'start: already running');
      pg.process = 'running';
      pg.incarnation++;
      pg.lastMsgAtMs = null;
      if (role === 'primary') {
        // a standby's data directory started without standby.signal ends recovery on a new timeline
        if (!pg.primary) newTimeline(world, node);
        pg.upstream = null;
      } else {
        pg.primary = false;
        pg.upstream = follow === null ? null : follow.host;
      }
    },
    stop: async (mode) => {
      if (pg.process !== 'running') return;
      if (world.syncModel && mode === 'fast' && node.writable()) shutdownSendsWal(world, node);
      pg.process = 'stopped';
      pg.streaming = false;
    },
    promote: async () => {
      mustRun('promote');
      if (pg.primary) throw new HapgError('INTERNAL', 'promote: already a primary');
      newTimeline(world, node);
      pg.upstream = null;
      pg.streaming = false;
    },
    probe: async () => {
      mustRun('probe');
      return { systemId: 'sim-sysid', timeline: toTimeline(pg.timeline), flushLsn: toLsn(pg.lsn) };
    },
    timelineFork: async (timeline) => {
      const last = pg.history.at(-1);
      if (timeline !== pg.timeline || last === undefined) return null;
      return { parent: toTimeline(last[0]), switchLsn: toLsn(last[1]) };
    },
    checkpoint: async () => mustRun('CHECKPOINT'),
    followPrimary: async (target) => {
      mustRun('follow');
      // a new primary_conninfo restarts the walreceiver
      if (pg.upstream !== target.host) pg.lastMsgAtMs = null;
      pg.upstream = target.host;
    },
    checkpointLsn: async () => toLsn(pg.lsn),
    checkpointSource: async (target) => {
      const source = sourceOf(world, target);
      if (source.pg.process !== 'running' || !reachable(world, node, source))
        throw new HapgError('TIMEOUT', `${target.host} not reachable`);
    },
    rewindFrom: async (target) => {
      const source = sourceOf(world, target);
      if (source === node || source.pg.process !== 'running' || !reachable(world, node, source))
        throw new HapgError('TIMEOUT', `pg_rewind: ${target.host} not reachable`);
      // cut our WAL back to where we left the source's history, then take its timeline
      const fork = forkPoint(pg, source.pg);
      if (pg.lsn > fork) pg.lsn = fork;
      pg.timeline = source.pg.timeline;
      pg.history = source.pg.history.map(([t, l]) => [t, l] as [number, bigint]);
      if (pg.lsn > source.pg.lsn) pg.lsn = source.pg.lsn;
      pg.primary = false;
      return 'pg_rewind: done (model)';
    },
    initdb: async () => notModelled('initdb'),
    createReplicationUser: async () => notModelled('initdb'),
    createReplica: async (target) => {
      const source = sourceOf(world, target);
      if (source.pg.process !== 'running' || !reachable(world, node, source))
        throw new HapgError('TIMEOUT', `pg_basebackup: ${target.host} not reachable`);
      pg.lsn = source.pg.lsn;
      pg.timeline = source.pg.timeline;
      pg.history = source.pg.history.map(([t, l]) => [t, l] as [number, bigint]);
      pg.primary = false;
      return 'basebackup';
    },
    emptyDataDir: async () => {
      if (pg.process === 'running') throw new HapgError('INTERNAL', 'emptyDataDir: Postgres runs');
      pg.lsn = 0n;
      pg.history = [];
    },
    setWasPrimary: async (value) => {
      pg.wasPrimary = value;
    },
    stopReceiving: async () => {
      mustRun('stop receiving');
      // no primary_conninfo: the walreceiver exits and is not restarted
      pg.upstream = null;
      pg.streaming = false;
      pg.lastMsgAtMs = null;
      return toLsn(pg.lsn);
    },
    get streamRelease() {
      return pg.streamRelease;
    },
    setStreamRelease: async (value) => {
      pg.streamRelease = value;
    },
    // the model keeps the agent's memory beside the server's state
    memory: pg,
  };
}

/** Promotion in the model: the current timeline ends at our LSN, a new one starts. */
function newTimeline(world: SimWorld, node: SimNode): void {
  const pg = node.pg;
  pg.history.push([pg.timeline, pg.lsn]);
  pg.timeline = world.newTimeline();
  pg.primary = true;
}

/** A fast shutdown returns once every connected standby confirmed the flush of all our WAL. */
function shutdownSendsWal(world: SimWorld, primary: SimNode): void {
  for (const name of primary.pg.streamingReplicas) {
    const r = world.byName.get(name);
    if (r === undefined || r.pg.process !== 'running' || r.pg.primary || r.pg.upstream !== primary.name)
      continue;
    if (!reachable(world, r, primary) || !canStream(r.pg, primary.pg)) continue;
    r.pg.lsn = primary.pg.lsn;
    r.pg.timeline = primary.pg.timeline;
    r.pg.history = primary.pg.history.map(([t, l]) => [t, l] as [number, bigint]);
  }
}

/** The fence of one node: armed with the lease deadline and the postmaster it watches. */
export function simFence(node: SimNode): FencePort {
  return {
    // as the agent's: nothing to arm without a deadline or a postmaster
    arm: async () => {
      const deadlineMs = node.fenceDeadline();
      if (deadlineMs === null || node.pg.process !== 'running') return;
      node.fence = { deadlineMs, incarnation: node.pg.incarnation };
    },
    disarm: async () => {
      node.fence = null;
    },
  };
}

/** Peers' REST status: unreachable while paused or cut off. */
/**
 * The operator's scripts in the model: callbacks change nothing; `pre_promote` fails when
 * `fails()` says so (the simulator's `prePromoteFailRate`), which aborts the promotion.
 */
export function simHooks(fails: () => boolean): HooksPort {
  return {
    prePromote: async () =>
      fails() ? { ok: false, text: 'exited with 1 (simulated)' } : { ok: true, text: '' },
    beforeStop: async () => {},
    changed: () => {},
  };
}

export function simPeers(world: SimWorld, node: SimNode): PeerPort {
  return async (member) => {
    const peer = world.byName.get(member.name);
    const s = peer?.status(world.nowMs(), node);
    return { xlogLocation: s?.reachable === true ? s.xlogLocation : null };
  };
}

/** The sync duty's view of the model primary. */
export function simSyncPostgres(world: SimWorld, node: SimNode): SyncPostgres {
  return {
    flushLsn: async () => toLsn(node.pg.lsn),
    standbyFlush: async () =>
      node.pg.streamingReplicas.map((name) => ({
        name,
        flushLsn: toLsn(world.byName.get(name)?.pg.lsn ?? 0n),
      })),
    // render + reload: the primary runs with it before the next commit is evaluated
    applySsn: async (value) => {
      node.pg.ssn = value;
    },
    ssnInForce: async () => node.pg.ssn,
  };
}

/** The last LSN our history shares with `source`'s. */
export function forkPoint(mine: SimNode['pg'], source: SimNode['pg']): bigint {
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
export function canStream(replica: SimNode['pg'], source: SimNode['pg']): boolean {
  if (replica.timeline === source.timeline) return replica.lsn <= source.lsn;
  const end = source.history.find(([t]) => t === replica.timeline);
  return end !== undefined && replica.lsn <= end[1];
}
