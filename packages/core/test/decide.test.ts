import { describe, expect, it } from 'vitest';
import { decide, type Observation, toLsn, toTimeline } from '../src/index.js';
import {
  clusterView,
  electionObs,
  formatActions,
  member,
  NOW_MS,
  peer,
  primaryObs,
  replicaObs,
} from './decide-fixtures.js';

/** Replica `a`, not streaming, on timeline 1; leader `b` on timeline 2, which forked off 1 at 1100. */
function forkedReplica(pg: Partial<Observation['pg']>): Observation {
  return replicaObs({
    pg: { streaming: false, timeline: toTimeline(1), ...pg },
    view: {
      members: new Map([
        ['a', member('a')],
        ['b', member('b', { role: 'primary', timeline: toTimeline(2) })],
      ]),
      history: {
        entries: [{ timeline: 1, switchLsn: 1100, reason: 'x', time: '', newLeader: 'b' }],
        modRevision: '1',
      },
    },
  });
}

type Row = readonly [name: string, obs: Observation, code: string, actions: string, nowMs?: number];

const past = NOW_MS - 1;
const rows: Row[] = [
  // --- rule 1/2: the holder, the deadline and isolation
  ['primary holding the lease keeps serving', primaryObs(), 'HOLDING_LEASE', '-'],
  [
    'lease deadline passed on a primary: immediate demote',
    primaryObs({ dcs: { leaseDeadlineMs: past } }),
    'LEASE_DEADLINE_PASSED',
    'demote(immediate,-)',
  ],
  [
    'deadline exactly now counts as passed',
    primaryObs({ dcs: { leaseDeadlineMs: NOW_MS } }),
    'LEASE_DEADLINE_PASSED',
    'demote(immediate,-)',
  ],
  [
    'no lease at all on a running primary: demote',
    primaryObs({ dcs: { leaseId: null, leaseDeadlineMs: null } }),
    'LEASE_DEADLINE_PASSED',
    'demote(immediate,-)',
  ],
  [
    'deadline passed while paused: safety still demotes',
    primaryObs({ config: { pause: true }, dcs: { leaseDeadlineMs: past } }),
    'LEASE_DEADLINE_PASSED',
    'demote(immediate,-)',
  ],
  [
    'deadline passed while etcd unreachable: demote',
    primaryObs({ dcs: { leaseDeadlineMs: past, reachable: false } }),
    'LEASE_DEADLINE_PASSED',
    'demote(immediate,-)',
  ],
  [
    'isolated: renewals failing, no replica streaming, past the grace',
    primaryObs({ pg: { streamingReplicas: [] }, dcs: { renewFailingSinceMs: NOW_MS - 1_000 } }),
    'ISOLATED',
    'demote(immediate,-)',
  ],
  [
    'not yet isolated: renewals failing for less than the grace',
    primaryObs({ pg: { streamingReplicas: [] }, dcs: { renewFailingSinceMs: NOW_MS - 999 } }),
    'HOLDING_LEASE',
    '-',
  ],
  [
    'renewals failing but a replica streams: keep serving until the deadline',
    primaryObs({ pg: { streamingReplicas: ['b'] }, dcs: { renewFailingSinceMs: NOW_MS - 20_000 } }),
    'HOLDING_LEASE',
    '-',
  ],
  [
    'isolated while paused: safety still demotes',
    primaryObs({
      config: { pause: true },
      pg: { streamingReplicas: [] },
      dcs: { renewFailingSinceMs: NOW_MS - 5_000 },
    }),
    'ISOLATED',
    'demote(immediate,-)',
  ],
  [
    'etcd unreachable, deadline ahead: primary keeps serving',
    primaryObs({ dcs: { reachable: false, renewFailingSinceMs: NOW_MS - 500 } }),
    'DCS_UNAVAILABLE',
    '-',
  ],
  ['etcd never read (view null): replica keeps going', replicaObs({ view: null }), 'DCS_UNAVAILABLE', '-'],
  [
    'etcd unreachable: a stopped replica is left alone',
    replicaObs({ pg: { process: 'stopped', inRecovery: null }, dcs: { reachable: false } }),
    'DCS_UNAVAILABLE',
    '-',
  ],
  [
    'leader key mine but Postgres a replica: promote',
    primaryObs({ pg: { inRecovery: true, streamingReplicas: [] } }),
    'PROMOTING_HELD_LEASE',
    'verifyLeader promote(failover)',
  ],
  [
    'key mine, replica, deadline passed: never promote',
    primaryObs({ pg: { inRecovery: true }, dcs: { leaseDeadlineMs: past } }),
    'LEASE_DEADLINE_PASSED',
    '-',
  ],
  [
    'key names me under another lease, replica: wait for it to expire',
    replicaObs({ view: { leader: { name: 'a', leaseId: '99', modRevision: '1', createRevision: '1' } } }),
    'LEADER_KEY_OTHER_LEASE',
    '-',
  ],
  [
    'key names me under another lease, running primary: rebind',
    primaryObs({ view: { leader: { name: 'a', leaseId: '99', modRevision: '1', createRevision: '1' } } }),
    'LEADER_KEY_OTHER_LEASE',
    'acquireLeader',
  ],
  // --- crashed primary
  [
    'my Postgres crashed while holding the key: restart in place',
    primaryObs({ pg: { process: 'crashed', inRecovery: null, crashedAtMs: NOW_MS - 1_000 } }),
    'RESTARTING_CRASHED_PRIMARY',
    'verifyLeader startPostgres(primary,-)',
  ],
  [
    'holding the key over a stopped standby data dir (its promotion failed): start it as a standby, never as a primary',
    primaryObs({ pg: { process: 'stopped', inRecovery: null, wasPrimary: false, crashedAtMs: null } }),
    'STARTING_STANDBY_TO_PROMOTE',
    'verifyLeader startPostgres(replica,-)',
  ],
  [
    '… and once it runs as a standby under the key: promote (a new timeline)',
    primaryObs({
      pg: { inRecovery: true, wasPrimary: false, flushLsn: null, receiveLsn: null, replayLsn: toLsn(1000) },
    }),
    'PROMOTING_HELD_LEASE',
    'verifyLeader promote(failover)',
  ],
  [
    'holding the key while every promotion fails, past primary_start_timeout: release the key',
    primaryObs({
      pg: {
        inRecovery: true,
        wasPrimary: false,
        flushLsn: null,
        receiveLsn: null,
        replayLsn: toLsn(1000),
        crashedAtMs: NOW_MS - 300_000,
      },
    }),
    'PRIMARY_START_TIMEOUT',
    'releaseLeader',
  ],
  [
    'holding the key over a standby data dir that will not start, past primary_start_timeout: release the key',
    primaryObs({
      pg: { process: 'stopped', inRecovery: null, wasPrimary: false, crashedAtMs: NOW_MS - 300_000 },
    }),
    'PRIMARY_START_TIMEOUT',
    'releaseLeader',
  ],
  [
    'crashed primary past primary_start_timeout: release the key',
    primaryObs({ pg: { process: 'crashed', inRecovery: null, crashedAtMs: NOW_MS - 300_000 } }),
    'PRIMARY_START_TIMEOUT',
    'releaseLeader',
  ],
  [
    'crashed primary past primary_start_timeout, no other member eligible: keep restarting',
    primaryObs({
      pg: { process: 'crashed', inRecovery: null, crashedAtMs: NOW_MS - 300_000 },
      view: {
        members: new Map([
          ['b', member('b', { tags: { nofailover: true } })],
          ['c', member('c', { state: 'stopped' })],
        ]),
      },
    }),
    'RESTARTING_CRASHED_PRIMARY',
    'verifyLeader startPostgres(primary,-)',
  ],
  [
    'crashed primary in pause: no restart',
    primaryObs({ config: { pause: true }, pg: { process: 'crashed', inRecovery: null, crashedAtMs: past } }),
    'PAUSED',
    '-',
  ],
  // --- another leader
  [
    'another leader while I am primary: fast demote',
    primaryObs({ view: { leader: { name: 'b', leaseId: '2', modRevision: '9', createRevision: '9' } } }),
    'ANOTHER_LEADER',
    'demote(fast,-)',
  ],
  ['replica following the leader: nothing to do', replicaObs(), 'FOLLOWING', '-'],
  [
    "replica past the fork point of the leader's timeline, not streaming for ttl + loop_wait: rewind",
    forkedReplica({
      receiveLsn: toLsn(1200),
      notStreamingSinceMs: NOW_MS - 41_000,
    }),
    'REJOINING',
    'rejoin(b)',
  ],
  [
    'same, not streaming for less than ttl + loop_wait (a leader that just died looks the same): wait',
    forkedReplica({
      receiveLsn: toLsn(1200),
      notStreamingSinceMs: NOW_MS - 39_000,
    }),
    'FOLLOWING',
    '-',
  ],
  [
    "same, but our timeline is our WAL receiver's (exact): rewind at once, without the wait",
    forkedReplica({
      timelineExact: true,
      receiveLsn: toLsn(1200),
      notStreamingSinceMs: NOW_MS - 1_000,
    }),
    'REJOINING',
    'rejoin(b)',
  ],
  [
    'not streaming but at or before the fork point: keep following (nothing to rewind)',
    forkedReplica({
      receiveLsn: toLsn(1100),
      replayLsn: toLsn(1100),
      notStreamingSinceMs: NOW_MS - 41_000,
    }),
    'FOLLOWING',
    '-',
  ],
  [
    'replica following the wrong member: repoint',
    replicaObs({ pg: { following: 'c' } }),
    'REPOINTING',
    'followLeader(b)',
  ],
  [
    'stopped replica: start as a standby of the leader',
    replicaObs({ pg: { process: 'stopped', inRecovery: null } }),
    'STARTING_REPLICA',
    'startPostgres(replica,b)',
  ],
  [
    'former primary finding another leader: rejoin, never just follow',
    replicaObs({ pg: { wasPrimary: true } }),
    'REJOINING',
    'rejoin(b)',
  ],
  [
    'stopped former primary: rejoin',
    replicaObs({ pg: { wasPrimary: true, process: 'stopped', inRecovery: null } }),
    'REJOINING',
    'rejoin(b)',
  ],
  [
    'former primary, leader not running yet: wait',
    replicaObs({
      pg: { wasPrimary: true },
      view: { members: new Map([['b', member('b', { state: 'starting' })]]) },
    }),
    'WAITING',
    '-',
  ],
  [
    'rejoin failed: stopped with the reason text',
    replicaObs({ pg: { process: 'stopped', inRecovery: null, rejoinFailure: 'pg_rewind: diverged' } }),
    'REJOIN_FAILED',
    '-',
  ],
  [
    'Postgres starting: wait',
    replicaObs({ pg: { process: 'starting', inRecovery: null } }),
    'POSTGRES_STARTING',
    '-',
  ],
  // --- empty data dir
  [
    'empty data dir, no initialize key: bootstrap',
    replicaObs({
      pg: { dataDir: 'empty', process: 'stopped', inRecovery: null },
      view: { initialize: null, leader: null },
    }),
    'BOOTSTRAPPING',
    'bootstrap',
  ],
  [
    'empty data dir, nofailover: never bootstrap',
    replicaObs({
      self: { nofailover: true },
      pg: { dataDir: 'empty', process: 'stopped', inRecovery: null },
      view: { initialize: null, leader: null },
    }),
    'WAITING_FOR_INITIALIZE',
    '-',
  ],
  [
    'empty data dir, leader running: clone',
    replicaObs({ pg: { dataDir: 'empty', process: 'stopped', inRecovery: null, systemId: null } }),
    'CLONING',
    'clone(b)',
  ],
  [
    'empty data dir, initialized cluster, no leader: wait',
    replicaObs({ pg: { dataDir: 'empty', process: 'stopped', inRecovery: null }, view: { leader: null } }),
    'WAITING_FOR_LEADER_TO_CLONE',
    '-',
  ],
  [
    'empty data dir, bootstrap race on (initialize ""): wait',
    replicaObs({
      pg: { dataDir: 'empty', process: 'stopped', inRecovery: null },
      view: { initialize: '', leader: null },
    }),
    'WAITING_FOR_LEADER_TO_CLONE',
    '-',
  ],
  [
    'system id differs from initialize: no actions',
    replicaObs({ pg: { systemId: 'other' } }),
    'SYSTEM_ID_MISMATCH',
    '-',
  ],
  // --- pause
  [
    'pause: replica reports only',
    replicaObs({ config: { pause: true }, pg: { following: 'c' } }),
    'PAUSED',
    '-',
  ],
  ['pause: no election', electionObs({ config: { pause: true } }), 'PAUSED', '-'],
  [
    'pause: key mine on a replica, no promote',
    primaryObs({ config: { pause: true }, pg: { inRecovery: true } }),
    'PAUSED',
    '-',
  ],
  // --- elections (rule 3)
  [
    'no leader and I am the healthiest: take over',
    electionObs(),
    'NO_LEADER_TAKING_OVER',
    'acquireLeader promote(failover)',
  ],
  [
    'no leader and someone is ahead: wait',
    electionObs({ peerList: [peer('b', { xlogLocation: toLsn(1001) })] }),
    'NO_LEADER_NOT_HEALTHIEST',
    '-',
  ],
  [
    'a peer ahead but unreachable does not block',
    electionObs({ peerList: [peer('b', { xlogLocation: toLsn(5000), reachable: false })] }),
    'NO_LEADER_TAKING_OVER',
    'acquireLeader promote(failover)',
  ],
  [
    'a peer ahead but nofailover does not block',
    electionObs({ peerList: [peer('b', { xlogLocation: toLsn(5000), nofailover: true })] }),
    'NO_LEADER_TAKING_OVER',
    'acquireLeader promote(failover)',
  ],
  [
    'a peer ahead but lagging beyond the limit does not block',
    electionObs({
      peerList: [peer('b', { xlogLocation: toLsn(3_000_000) })],
      view: { status: { optime: 5_000_000, slots: {}, retainSlots: [] } },
      pg: { receiveLsn: toLsn(4_500_000), replayLsn: toLsn(4_500_000) },
    }),
    'NO_LEADER_TAKING_OVER',
    'acquireLeader promote(failover)',
  ],
  [
    'tie on LSN: higher failover_priority wins',
    electionObs({ peerList: [peer('b', { failoverPriority: 2 })] }),
    'NO_LEADER_NOT_HEALTHIEST',
    '-',
  ],
  [
    'tie on LSN and priority: lower name wins (a < b)',
    electionObs({ peerList: [peer('b')] }),
    'NO_LEADER_TAKING_OVER',
    'acquireLeader promote(failover)',
  ],
  [
    'tie on LSN and priority: lower name wins (0 < a)',
    electionObs({ peerList: [peer('0')] }),
    'NO_LEADER_NOT_HEALTHIEST',
    '-',
  ],
  [
    'my lag above maximum_lag_on_failover: not eligible',
    electionObs({ view: { status: { optime: 1000 + 1_048_577, slots: {}, retainSlots: [] } } }),
    'LAG_TOO_HIGH',
    '-',
  ],
  [
    'lag exactly at the maximum: eligible',
    electionObs({ view: { status: { optime: 1000 + 1_048_576, slots: {}, retainSlots: [] } } }),
    'NO_LEADER_TAKING_OVER',
    'acquireLeader promote(failover)',
  ],
  ['nofailover: never take over', electionObs({ self: { nofailover: true } }), 'NO_LEADER_NOT_ELIGIBLE', '-'],
  [
    'failover_priority 0: never take over',
    electionObs({ self: { failoverPriority: 0 } }),
    'NO_LEADER_NOT_ELIGIBLE',
    '-',
  ],
  [
    'check_timeline: my timeline behind the cluster history',
    electionObs({
      config: { checkTimeline: true },
      view: {
        history: {
          entries: [{ timeline: 1, switchLsn: 500, reason: 'x', time: '', newLeader: 'b' }],
          modRevision: '1',
        },
      },
    }),
    'NO_LEADER_NOT_ELIGIBLE',
    '-',
  ],
  [
    'check_timeline: on the cluster timeline',
    electionObs({
      config: { checkTimeline: true },
      pg: { timeline: toTimeline(2) },
      view: {
        history: {
          entries: [{ timeline: 1, switchLsn: 500, reason: 'x', time: '', newLeader: 'b' }],
          modRevision: '1',
        },
      },
    }),
    'NO_LEADER_TAKING_OVER',
    'acquireLeader promote(failover)',
  ],
  [
    'sync mode on, not in the sync key: not eligible',
    electionObs({
      config: { synchronousMode: 'on' },
      view: { sync: { leader: 'b', syncStandbys: ['c'], quorum: null, modRevision: '1' } },
    }),
    'NO_LEADER_NOT_ELIGIBLE',
    '-',
  ],
  [
    'sync mode on, listed: eligible; an unlisted peer ahead does not block',
    electionObs({
      config: { synchronousMode: 'on' },
      peerList: [peer('c', { xlogLocation: toLsn(2000) })],
      view: { sync: { leader: 'b', syncStandbys: ['a'], quorum: null, modRevision: '1' } },
    }),
    'NO_LEADER_TAKING_OVER',
    'acquireLeader claimSyncKey promote(failover)',
  ],
  [
    'sync mode on, listed but far behind the last optime: still eligible (it has every acknowledged commit)',
    electionObs({
      config: { synchronousMode: 'on' },
      peerList: [peer('c', { xlogLocation: toLsn(900) })],
      view: {
        sync: { leader: 'b', syncStandbys: ['a'], quorum: null, modRevision: '1' },
        status: { optime: 900_000_000, slots: {}, retainSlots: [] },
      },
    }),
    'NO_LEADER_TAKING_OVER',
    'acquireLeader claimSyncKey promote(failover)',
  ],
  [
    'sync mode off, far behind the last optime: lag too high',
    electionObs({
      peerList: [peer('c', { xlogLocation: toLsn(900) })],
      view: { status: { optime: 900_000_000, slots: {}, retainSlots: [] } },
    }),
    'LAG_TOO_HIGH',
    '-',
  ],
  [
    'quorum ANY 1 of [a,c] (stored quorum 1): a sees c behind it: takes over',
    electionObs({
      config: { synchronousMode: 'quorum' },
      peerList: [peer('c', { xlogLocation: toLsn(900) })],
      view: { sync: { leader: 'b', syncStandbys: ['a', 'c'], quorum: 1, modRevision: '1' } },
    }),
    'NO_LEADER_TAKING_OVER',
    'acquireLeader claimSyncKey promote(failover)',
  ],
  [
    'quorum ANY 1 of [a,c]: c unreachable, a cannot prove it has every commit',
    electionObs({
      config: { synchronousMode: 'quorum' },
      peerList: [peer('c', { reachable: false, xlogLocation: null })],
      view: { sync: { leader: 'b', syncStandbys: ['a', 'c'], quorum: 1, modRevision: '1' } },
    }),
    'QUORUM_TOO_FEW_SEEN',
    '-',
  ],
  [
    'quorum ANY 2 of [a,c] (stored quorum 0): every listed standby has every commit, none need be seen',
    electionObs({
      config: { synchronousMode: 'quorum' },
      peerList: [peer('c', { reachable: false, xlogLocation: null })],
      view: { sync: { leader: 'b', syncStandbys: ['a', 'c'], quorum: 0, modRevision: '1' } },
    }),
    'NO_LEADER_TAKING_OVER',
    'acquireLeader claimSyncKey promote(failover)',
  ],
  [
    'on mode, but the key is still a quorum key (ANY 1 of [a,c]): a must prove it, c unseen',
    electionObs({
      config: { synchronousMode: 'on' },
      peerList: [peer('c', { reachable: false, xlogLocation: null })],
      view: { sync: { leader: 'b', syncStandbys: ['a', 'c'], quorum: 1, modRevision: '1' } },
    }),
    'QUORUM_TOO_FEW_SEEN',
    '-',
  ],
  [
    'quorum, manual failover to a: the proof is still required',
    electionObs({
      config: { synchronousMode: 'quorum' },
      peerList: [peer('c', { reachable: false, xlogLocation: null })],
      view: {
        sync: { leader: 'b', syncStandbys: ['a', 'c'], quorum: 1, modRevision: '1' },
        failover: { leader: null, member: 'a', scheduledAt: null, modRevision: '1' },
      },
    }),
    'QUORUM_TOO_FEW_SEEN',
    '-',
  ],
  [
    'no leader, my Postgres down: start it as a standby first',
    electionObs({ pg: { process: 'crashed', inRecovery: null } }),
    'POSTGRES_NOT_RUNNING',
    'startPostgres(replica,-)',
  ],
  [
    'no leader, running primary (key expired in a blip): re-acquire',
    primaryObs({ view: { leader: null } }),
    'NO_LEADER_REACQUIRING',
    'acquireLeader',
  ],
  [
    'no leader, running primary with deadline passed: demote first',
    primaryObs({ view: { leader: null }, dcs: { leaseDeadlineMs: past } }),
    'LEASE_DEADLINE_PASSED',
    'demote(immediate,-)',
  ],
  [
    'no leader, a peer still runs as primary: defer to it whatever its tags',
    electionObs({ peerList: [peer('b', { role: 'primary', nofailover: true, xlogLocation: toLsn(10) })] }),
    'NO_LEADER_NOT_HEALTHIEST',
    '-',
  ],
  // --- failover key
  [
    'leader, valid switchover to c: demote first, then release',
    primaryObs({ view: { failover: { leader: 'a', member: 'c', scheduledAt: null, modRevision: '3' } } }),
    'SWITCHOVER_DEMOTING',
    'checkpoint demote(fast,-) awaitReplica(c) releaseLeader',
  ],
  [
    'leader, switchover to a stopped member: ignored',
    primaryObs({
      view: {
        failover: { leader: 'a', member: 'c', scheduledAt: null, modRevision: '3' },
        members: new Map([['c', member('c', { state: 'stopped' })]]),
      },
    }),
    'HOLDING_LEASE',
    '-',
  ],
  [
    'leader, switchover to a member lagging beyond the limit: ignored (no release/re-win livelock)',
    primaryObs({
      view: {
        failover: { leader: 'a', member: 'c', scheduledAt: null, modRevision: '3' },
        status: { optime: 5_000_000, slots: {}, retainSlots: [] },
        members: new Map([['c', member('c', { xlogLocation: toLsn(100) })]]),
      },
    }),
    'HOLDING_LEASE',
    '-',
  ],
  [
    'leader, switchover to a nofailover member: ignored',
    primaryObs({
      view: {
        failover: { leader: 'a', member: 'c', scheduledAt: null, modRevision: '3' },
        members: new Map([['c', member('c', { tags: { nofailover: true } })]]),
      },
    }),
    'HOLDING_LEASE',
    '-',
  ],
  [
    'leader already demoted for a switchover, key still held: release only (never re-promote)',
    primaryObs({
      pg: { inRecovery: true },
      view: { failover: { leader: 'a', member: 'c', scheduledAt: null, modRevision: '3' } },
    }),
    'SWITCHOVER_RELEASING',
    'releaseLeader',
  ],
  [
    'no leader and the failover key names me: take over though not the healthiest',
    electionObs({
      peerList: [peer('b', { xlogLocation: toLsn(1500) })],
      view: { failover: { leader: 'b', member: 'a', scheduledAt: null, modRevision: '3' } },
    }),
    'NO_LEADER_FAILOVER_TARGET',
    'acquireLeader promote(switchover) clearFailover',
  ],
  [
    'no leader and the failover key names a healthy c: do not compete',
    electionObs({ view: { failover: { leader: 'b', member: 'c', scheduledAt: null, modRevision: '3' } } }),
    'FAILOVER_TARGET_ELSEWHERE',
    '-',
  ],
  [
    'quorum: the failover key names c, and a listed standby we see (we) is ahead of it: c can never prove, so compete',
    electionObs({
      config: { synchronousMode: 'quorum' },
      peerList: [peer('c', { xlogLocation: toLsn(900) })],
      view: {
        sync: { leader: 'b', syncStandbys: ['a', 'c'], quorum: 1, modRevision: '1' },
        failover: { leader: 'b', member: 'c', scheduledAt: null, modRevision: '3' },
      },
    }),
    'NO_LEADER_TAKING_OVER',
    'acquireLeader claimSyncKey promote(failover) clearFailover',
  ],
  [
    'quorum: the failover key names c, level with us: c can prove, do not compete',
    electionObs({
      config: { synchronousMode: 'quorum' },
      peerList: [peer('c', { xlogLocation: toLsn(1000) })],
      view: {
        sync: { leader: 'b', syncStandbys: ['a', 'c'], quorum: 1, modRevision: '1' },
        failover: { leader: 'b', member: 'c', scheduledAt: null, modRevision: '3' },
      },
    }),
    'FAILOVER_TARGET_ELSEWHERE',
    '-',
  ],
  [
    'asynchronous: the failover key names c, behind us: c needs no proof, do not compete',
    electionObs({
      peerList: [peer('c', { xlogLocation: toLsn(900) })],
      view: { failover: { leader: 'b', member: 'c', scheduledAt: null, modRevision: '3' } },
    }),
    'FAILOVER_TARGET_ELSEWHERE',
    '-',
  ],
  [
    'no leader and the failover key names an unreachable c: compete',
    electionObs({
      peerList: [peer('c', { reachable: false })],
      view: { failover: { leader: 'b', member: 'c', scheduledAt: null, modRevision: '3' } },
    }),
    'NO_LEADER_TAKING_OVER',
    'acquireLeader promote(failover) clearFailover',
  ],
  [
    'leader holding the key and a stale failover key naming another leader: clear it',
    primaryObs({ view: { failover: { leader: 'b', member: 'a', scheduledAt: null, modRevision: '3' } } }),
    'CLEARING_STALE_FAILOVER',
    'clearFailover',
  ],
];

describe('decide', () => {
  it.each(rows)('%s', (...row) => {
    const [, obs, code, actions, nowMs = NOW_MS] = row as unknown as Row;
    const d = decide(obs, nowMs);
    expect({ code: d.reason.code, actions: formatActions(d.actions) }).toEqual({ code, actions });
    expect(d.reason.text.length).toBeGreaterThan(0);
  });

  it('says in the reason text that pause does not suspend the deadline demotion', () => {
    const d = decide(primaryObs({ config: { pause: true }, dcs: { leaseDeadlineMs: NOW_MS - 1 } }), NOW_MS);
    expect(d.reason.text).toMatch(/pause/);
  });

  it('reports the rejoin failure text verbatim', () => {
    const d = decide(replicaObs({ pg: { rejoinFailure: 'pg_rewind failed: no common ancestor' } }), NOW_MS);
    expect(d.reason.text).toBe('pg_rewind failed: no common ancestor');
    expect(d.role).toBe('stopped');
  });

  it('does not mutate the observation', () => {
    const obs = electionObs();
    const before = JSON.stringify(obs, (_k, v) =>
      typeof v === 'bigint' ? `${v}n` : v instanceof Map ? [...v] : v,
    );
    decide(obs, NOW_MS);
    const after = JSON.stringify(obs, (_k, v) =>
      typeof v === 'bigint' ? `${v}n` : v instanceof Map ? [...v] : v,
    );
    expect(after).toBe(before);
  });

  it('uses the default view fixture consistently', () => {
    expect(clusterView().leader?.name).toBe('b');
  });
});

describe('switchover details', () => {
  const failover = (
    over: Partial<{ leader: string | null; member: string | null; scheduledAt: string | null }>,
  ) => ({
    failover: { leader: 'a', member: 'c', scheduledAt: null, modRevision: '3', ...over },
  });
  it('to any eligible member: the leader hands over without naming one', () => {
    const d = decide(primaryObs({ view: failover({ member: null }) }), NOW_MS);
    expect(formatActions(d.actions)).toBe('checkpoint demote(fast,-) awaitReplica(any) releaseLeader');
  });
  it('a scheduled switchover waits for its time, and the key is not stale meanwhile', () => {
    const at = '2026-01-01T00:10:00Z';
    const before = decide(
      { ...primaryObs({ view: failover({ scheduledAt: at }) }), wallNowMs: Date.parse(at) - 1 },
      NOW_MS,
    );
    expect(before.reason.code).toBe('HOLDING_LEASE');
    const due = decide(
      { ...primaryObs({ view: failover({ scheduledAt: at }) }), wallNowMs: Date.parse(at) },
      NOW_MS,
    );
    expect(due.reason.code).toBe('SWITCHOVER_DEMOTING');
    const noClock = decide(primaryObs({ view: failover({ scheduledAt: at }) }), NOW_MS);
    expect(noClock.reason.code).toBe('HOLDING_LEASE');
  });
});

describe('timelines', () => {
  it('a replica does not follow a leader on an older timeline than its own', () => {
    const d = decide(
      replicaObs({
        pg: { timeline: toTimeline(3), following: 'c' },
        view: {
          members: new Map([
            ['a', member('a')],
            ['b', member('b', { role: 'primary', timeline: toTimeline(2) })],
          ]),
        },
      }),
      NOW_MS,
    );
    expect(d.reason.code).toBe('LEADER_ON_OLDER_TIMELINE');
    expect(d.actions).toEqual([]);
  });
  it('a replica on the same timeline re-points to the leader', () => {
    const d = decide(
      replicaObs({
        pg: { timeline: toTimeline(2), following: 'c' },
        view: {
          members: new Map([
            ['a', member('a')],
            ['b', member('b', { role: 'primary', timeline: toTimeline(2) })],
          ]),
        },
      }),
      NOW_MS,
    );
    expect(d.reason.code).toBe('REPOINTING');
  });
});
