import { ManualClock } from '@hapg/core';
import type { NodeSnapshot } from '../src/api/snapshot.js';

/** Test fixtures: snapshots of typical node states, all relative to one manual clock. */
export const NOW_MS = 1_000_000;
export const TTL_MS = 30_000;
const MB = 1024 * 1024;

export function clockAtNow(): ManualClock {
  return new ManualClock(NOW_MS);
}

const base: NodeSnapshot = {
  version: '0.1.0',
  name: 'node1',
  scope: 'demo',
  role: 'replica',
  pgState: 'running',
  statusReason: null,
  inRecovery: true,
  holdsLeaderKey: false,
  leaseDeadlineMs: null,
  isStandbyCluster: false,
  paused: false,
  dcsReachable: true,
  dcsLastSeenS: 1_767_225_600,
  lastLoopMs: NOW_MS - 1_000,
  ttlMs: TTL_MS,
  maximumLagOnFailoverBytes: MB,
  timeline: 3,
  xlog: {
    kind: 'replica',
    receivedBytes: 50_000,
    replayedBytes: 49_990,
    replayedTimestamp: null,
    replayPaused: false,
  },
  leaderOptimeBytes: 50_000,
  replicationState: 'streaming',
  replication: [],
  tags: {},
  pendingRestart: false,
  pendingRestartReason: null,
  systemIdentifier: '7268616322854375442',
  serverVersion: 150013,
  postmasterStartTime: '2026-01-01 00:00:00.000000+00:00',
  syncStandby: false,
  quorumStandby: false,
  syncDegraded: false,
  syncStandbys: [],
  clusterUnlocked: false,
  leaderName: 'node0',
  members: [],
  history: [],
  dynamicConfig: { ttl: 30, loop_wait: 10 },
  scheduledSwitchover: null,
  fastFailover: { state: 'off' },
  syncPromiseWithheld: null,
};

export const primaryHealthy: NodeSnapshot = {
  ...base,
  role: 'primary',
  inRecovery: false,
  holdsLeaderKey: true,
  leaseDeadlineMs: NOW_MS + 20_000,
  leaderName: 'node1',
  xlog: { kind: 'primary', locationBytes: 50_000 },
  replicationState: null,
  replication: [
    {
      usename: 'replicator',
      applicationName: 'node2',
      clientAddr: '127.0.0.1',
      state: 'streaming',
      syncState: 'async',
      syncPriority: 0,
    },
  ],
};

export const snapshots = {
  primaryHealthy,
  primaryPgStopped: { ...primaryHealthy, pgState: 'stopped', inRecovery: null },
  primaryLeaseExpired: { ...primaryHealthy, leaseDeadlineMs: NOW_MS - 1 },
  primaryNoLeaseDeadline: { ...primaryHealthy, leaseDeadlineMs: null },
  primaryStillInRecovery: { ...primaryHealthy, inRecovery: true },
  primaryStaleLoop: { ...primaryHealthy, lastLoopMs: NOW_MS - TTL_MS - 1 },
  primaryPaused: { ...primaryHealthy, paused: true, lastLoopMs: NOW_MS - 10 * TTL_MS },
  replicaStreaming: base,
  replicaLagging: {
    ...base,
    leaderOptimeBytes: 200 * MB,
    xlog: {
      kind: 'replica',
      receivedBytes: 199 * MB,
      replayedBytes: 100 * MB,
      replayedTimestamp: null,
      replayPaused: false,
    },
  },
  replicaNoLoadBalance: { ...base, tags: { noloadbalance: true } },
  replicaTagged: { ...base, tags: { zone: 'a', nofailover: false } },
  replicaArchiveRecovery: { ...base, replicationState: 'in archive recovery' },
  replicaUnknownOptime: { ...base, leaderOptimeBytes: null },
  replicaStopped: { ...base, pgState: 'stopped', inRecovery: null, replicationState: null },
  replicaLoop40s: { ...base, lastLoopMs: NOW_MS - 40_000 },
  replicaLoop70s: { ...base, lastLoopMs: NOW_MS - 70_000 },
  syncStandby: { ...base, syncStandby: true, syncStandbys: ['node1'] },
  syncStandbyDcsDown: { ...base, syncStandby: true, dcsReachable: false },
  quorumStandby: { ...base, quorumStandby: true },
  standbyLeader: {
    ...base,
    role: 'standby_leader',
    isStandbyCluster: true,
    holdsLeaderKey: true,
    leaseDeadlineMs: NOW_MS + 20_000,
    leaderName: 'node1',
  },
} satisfies Record<string, NodeSnapshot>;

export type SnapshotName = keyof typeof snapshots;
