import { type Action, SYNC_PROMISE_VERSION, toLsn, toTimeline } from '../src/index.js';
import type {
  ClusterView,
  Member,
  MemberName,
  Observation,
  PeerStatus,
  TakeoverEvidence,
} from '../src/index.js';

/** Test fixtures for decide(): plain mutable objects, so tests and scenarios can poke fields. */

export const NOW_MS = 50_000;

export function member(name: MemberName, over: Partial<Member> = {}): Member {
  return {
    name,
    connUrl: `postgres://127.0.0.1:5432/postgres`,
    apiUrl: `http://127.0.0.1:8008/patroni`,
    state: 'running',
    role: 'replica',
    version: '0.1.0',
    tags: {},
    timeline: toTimeline(1),
    xlogLocation: toLsn(1000),
    receiveLsn: toLsn(1000),
    replayLsn: toLsn(1000),
    replicationState: 'streaming',
    pendingRestart: false,
    statusReason: null,
    // bound to a lease, as every agent's member key is (a key without one is another tool's)
    leaseId: '9',
    modRevision: '1',
    raw: { conn_url: '', api_url: '', state: 'running', role: 'replica', version: '0.1.0' },
    ...over,
  };
}

export function peer(name: MemberName, over: Partial<PeerStatus> = {}): PeerStatus {
  return {
    name,
    reachable: true,
    xlogLocation: toLsn(1000),
    timeline: toTimeline(1),
    role: 'replica',
    state: 'running',
    nofailover: false,
    failoverPriority: 1,
    ...over,
  };
}

export function clusterView(over: Partial<ClusterView> = {}): ClusterView {
  return {
    scope: 'demo',
    revision: '10',
    initialize: 'sys1',
    leader: { name: 'b', leaseId: '2', modRevision: '5', createRevision: '5' },
    members: new Map([
      ['a', member('a')],
      ['b', member('b', { role: 'primary' })],
      ['c', member('c')],
    ]),
    config: null,
    failover: null,
    sync: null,
    history: null,
    status: { optime: 1000, slots: {}, retainSlots: [] },
    malformed: [],
    ...over,
  };
}

type Over = {
  self?: Partial<Observation['self']>;
  config?: Partial<Observation['config']>;
  pg?: Partial<Observation['pg']>;
  dcs?: Partial<Observation['dcs']>;
  view?: Partial<ClusterView> | null;
  peers?: ReadonlyMap<MemberName, PeerStatus> | null;
};

/** Node `a`, a streaming replica of leader `b`, lease `1` good until NOW_MS + 10 s. */
export function replicaObs(over: Over = {}): Observation {
  return {
    self: { name: 'a', nofailover: false, nosync: false, failoverPriority: 1, ...over.self },
    config: {
      ttlMs: 30_000,
      loopWaitMs: 10_000,
      retryTimeoutMs: 10_000,
      primaryStartTimeoutMs: 300_000,
      maximumLagOnFailoverBytes: 1_048_576n,
      primaryIsolationTimeoutMs: 1_000,
      checkTimeline: false,
      pause: false,
      synchronousMode: 'off',
      synchronousModeStrict: false,
      usePgRewind: true,
      ...over.config,
    },
    pg: {
      dataDir: 'initialized',
      systemId: 'sys1',
      process: 'running',
      crashedAtMs: null,
      inRecovery: true,
      wasPrimary: false,
      timeline: toTimeline(1),
      flushLsn: null,
      receiveLsn: toLsn(1000),
      replayLsn: toLsn(1000),
      following: 'b',
      streaming: true,
      streamingReplicas: [],
      rejoinFailure: null,
      ...over.pg,
    },
    dcs: {
      view: over.view === null ? null : clusterView(over.view),
      reachable: true,
      leaseId: '1',
      leaseDeadlineMs: NOW_MS + 10_000,
      renewFailingSinceMs: null,
      ...over.dcs,
    },
    peers: over.peers === undefined ? null : over.peers,
  };
}

/** Node `a` as the running primary holding the key under its lease `1`, replicas b and c streaming. */
export function primaryObs(over: Over = {}): Observation {
  return replicaObs({
    ...over,
    pg: {
      inRecovery: false,
      flushLsn: toLsn(1000),
      receiveLsn: null,
      replayLsn: null,
      following: null,
      streaming: false,
      streamingReplicas: ['b', 'c'],
      wasPrimary: true,
      ...over.pg,
    },
    view: {
      leader: { name: 'a', leaseId: '1', modRevision: '5', createRevision: '5' },
      members: new Map([
        ['a', member('a', { role: 'primary' })],
        ['b', member('b')],
        ['c', member('c')],
      ]),
      ...over.view,
    },
  });
}

export const FAST_FAILOVER = { enabled: true, streamSilenceMs: 1000, probeTimeoutMs: 500 } as const;

/** What `a` finds out about `b` when b's host is gone: silent everywhere, 7 of 10 s left on its lease. */
export const LEADER_GONE: TakeoverEvidence = {
  leader: 'b',
  leaderModRevision: '5',
  streamSilenceMs: 1500,
  restAnswered: false,
  portAnswered: false,
  lease: { remainingS: 7, grantedS: 10 },
};

/**
 * Replica `a` listed in the `on`-mode sync key of leader `b`, whose member key keeps the sync
 * promise, with fast failover on (docs/fast-failover.md).
 */
export function syncStandbyObs(over: Over = {}): Observation {
  const leader = member('b', {
    role: 'primary',
    raw: {
      conn_url: '',
      api_url: '',
      state: 'running',
      role: 'primary',
      version: '0.1.0',
      sync_promise: SYNC_PROMISE_VERSION,
    },
  });
  return replicaObs({
    ...over,
    config: { synchronousMode: 'on', fastFailover: FAST_FAILOVER, ...over.config },
    pg: { following: 'b', streaming: true, ...over.pg },
    view: {
      members: new Map([
        ['a', member('a')],
        ['b', leader],
        ['c', member('c')],
      ]),
      sync: { leader: 'b', syncStandbys: ['a'], quorum: 0, modRevision: '7' },
      config: { value: { synchronous_mode: true }, modRevision: '3' },
      ...over.view,
    },
  });
}

/** Replica `a` with no leader key and peers b, c reporting the given positions. */
export function electionObs(over: Over & { peerList?: PeerStatus[] } = {}): Observation {
  const peers = over.peerList ?? [
    peer('b', { xlogLocation: toLsn(900) }),
    peer('c', { xlogLocation: toLsn(900) }),
  ];
  return replicaObs({
    ...over,
    pg: { following: null, streaming: false, ...over.pg },
    view: { leader: null, ...over.view },
    peers: new Map(peers.map((p) => [p.name, p])),
  });
}

/** Compact action text for assertions and scenario files: `demote(immediate,-)`. */
export function formatAction(a: Action): string {
  switch (a.kind) {
    case 'bootstrap':
    case 'acquireLeader':
    case 'releaseLeader':
    case 'clearFailover':
    case 'verifyLeader':
    case 'checkpoint':
    case 'claimSyncKey':
    case 'dropSyncKey':
      return a.kind;
    case 'awaitReplica':
      return `awaitReplica(${a.member ?? 'any'})`;
    case 'clone':
    case 'followLeader':
    case 'rejoin':
    case 'reinitialize':
      return `${a.kind}(${a.leader})`;
    case 'promote':
      return `promote(${a.reason})`;
    case 'demote':
      return `demote(${a.mode},${a.follow ?? '-'})`;
    case 'startPostgres':
      return `startPostgres(${a.as},${a.follow ?? '-'})`;
    case 'removeLeaderKey':
      return `removeLeaderKey(${a.modRevision})`;
    case 'takeOverLeader':
      return `takeOverLeader(${a.leader}@${a.leaderModRevision},sync@${a.syncModRevision})`;
    case 'releaseStream':
    case 'withdrawRelease':
      return `${a.kind}(${a.leader}@${a.leaderRevision})`;
    case 'dropRelease':
      return a.kind;
  }
}

export function formatActions(actions: readonly Action[]): string {
  return actions.length === 0 ? '-' : actions.map(formatAction).join(' ');
}
