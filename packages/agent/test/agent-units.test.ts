import type { ClusterView, Member, MemberJson, NodeConfig, PgObservation } from '@hapg/core';
import { defaultDynamicConfig, parseDynamicConfig, parseNodeConfig, toLsn, toTimeline } from '@hapg/core';
import { describe, expect, it } from 'vitest';
import { runActions } from '../src/executor/execute.js';
import { formatApiUrl, formatConnUrl, pgAddressOf } from '../src/conn.js';
import { memberJson } from '../src/member.js';
import type { PgStatus } from '@hapg/postgres';
import { fetchPeerStatuses, parsePeerStatus } from '../src/peers.js';
import { slotNameFor } from '../src/duties/slots/names.js';
import {
  buildSnapshot,
  clusterMembers,
  memberState,
  nodeRole,
  syncPromiseWithheld,
} from '../src/snapshot-build.js';

const config: NodeConfig = parseNodeConfig(
  'scope: s\nname: n1\nrestapi:\n  listen: 127.0.0.1:8008\npostgresql:\n  listen: 127.0.0.1:5432\n  data_dir: /tmp/x\ntags:\n  zone: a\n',
  { fileName: 'n1.yaml', env: {} },
).config;

const pgObs = (over: Partial<PgObservation> = {}): PgObservation => ({
  dataDir: 'initialized',
  systemId: '1',
  process: 'running',
  crashedAtMs: null,
  inRecovery: true,
  wasPrimary: false,
  timeline: toTimeline(2),
  flushLsn: null,
  receiveLsn: toLsn(2000),
  replayLsn: toLsn(1500),
  following: 'n2',
  streaming: true,
  streamingReplicas: [],
  rejoinFailure: null,
  ...over,
});

function member(name: string, over: Partial<Member> = {}): Member {
  const raw: MemberJson = { conn_url: '', api_url: '', state: 'running', role: 'replica', version: '0' };
  return {
    name,
    connUrl: `postgres://127.0.0.1:${5430 + Number(name.slice(1))}/postgres`,
    apiUrl: `http://127.0.0.1:${8000 + Number(name.slice(1))}/patroni`,
    state: 'running',
    role: 'replica',
    version: '0',
    tags: {},
    timeline: toTimeline(2),
    xlogLocation: toLsn(1000),
    receiveLsn: toLsn(1000),
    replayLsn: toLsn(1000),
    replicationState: 'streaming',
    pendingRestart: false,
    statusReason: null,
    leaseId: '1',
    modRevision: '1',
    raw,
    ...over,
  };
}

function view(members: Member[], leader: string | null, optime: number | null): ClusterView {
  return {
    scope: 's',
    revision: '9',
    initialize: '1',
    leader: leader === null ? null : { name: leader, leaseId: '1', modRevision: '1', createRevision: '1' },
    members: new Map(members.map((m) => [m.name, m])),
    config: null,
    failover: null,
    sync: null,
    history: null,
    status: optime === null ? null : { optime, slots: {}, retainSlots: [] },
    malformed: [],
  };
}

describe('addresses', () => {
  it('reads host and port from conn_url, IPv6 included', () => {
    expect(pgAddressOf({ connUrl: 'postgres://10.0.0.1:5433/postgres' })).toEqual({
      host: '10.0.0.1',
      port: 5433,
    });
    expect(pgAddressOf({ connUrl: 'postgres://[::1]:5433/postgres' })).toEqual({ host: '::1', port: 5433 });
    expect(pgAddressOf({ connUrl: 'postgres://h/postgres' })).toEqual({ host: 'h', port: 5432 });
    expect(pgAddressOf({ connUrl: 'garbage' })).toBeNull();
    expect(formatConnUrl('::1', 5)).toBe('postgres://[::1]:5/postgres');
    expect(formatApiUrl('h', 8008, true)).toBe('https://h:8008/patroni');
  });
  it('names slots like Patroni', () => {
    expect(slotNameFor('Node-1.a')).toBe('node_1_a');
  });
});

describe('peer status', () => {
  it('takes the highest of the reported positions and the tags', () => {
    const p = parsePeerStatus('n2', {
      state: 'running',
      role: 'replica',
      timeline: 3,
      xlog: { received_location: 100, replayed_location: 90 },
      tags: { failover_priority: 5 },
    });
    expect(p).toMatchObject({
      reachable: true,
      xlogLocation: 100n,
      timeline: 3,
      failoverPriority: 5,
      nofailover: false,
    });
  });
  it('survives garbage', () => {
    expect(parsePeerStatus('n2', 'nope')).toMatchObject({
      reachable: true,
      xlogLocation: null,
      timeline: null,
    });
    expect(parsePeerStatus('n2', { xlog: { location: 'x' }, timeline: -1 })).toMatchObject({
      xlogLocation: null,
      timeline: null,
    });
  });
  it("an election asks only members whose key is bound to a lease: not another tool's keys (issue 11)", async () => {
    const m = (name: string, leaseId: string | null) =>
      ({ name, apiUrl: '', tags: {}, leaseId }) as unknown as Member;
    const peers = await fetchPeerStatuses([m('n1', '7'), m('n2', '8'), m('aaa', null)], 'n1', 100);
    expect([...peers.keys()]).toEqual(['n2']);
  });
  it("a peer's tags are read by core's parseTags: text from YAML/env too, nofailover means priority 0", () => {
    expect(parsePeerStatus('n2', { tags: { nofailover: 'true', failover_priority: 3 } })).toMatchObject({
      nofailover: true,
      failoverPriority: 0,
    });
    expect(parsePeerStatus('n2', { tags: { nofailover: 'false', failover_priority: '2' } })).toMatchObject({
      nofailover: false,
      failoverPriority: 2,
    });
    expect(parsePeerStatus('n2', {})).toMatchObject({ nofailover: false, failoverPriority: 1 });
  });
});

/** The snapshot a loop would publish for this node, with nothing but Postgres known. */
function snapshotOf(pg: PgObservation, status: PgStatus | null, holdsLeaderKey: boolean) {
  return buildSnapshot({
    version: '1.0',
    config,
    dyn: defaultDynamicConfig(),
    view: null,
    pg,
    status,
    decision: null,
    holdsLeaderKey,
    leaseDeadlineMs: null,
    dcsReachable: true,
    dcsLastSeenS: null,
    nowMonotonicMs: 0,
  });
}

describe('member JSON', () => {
  it('publishes a replica the Patroni way', () => {
    const snap = snapshotOf(pgObs(), null, false);
    expect(memberJson(config, pgObs(), snap, '1.0')).toEqual({
      conn_url: 'postgres://127.0.0.1:5432/postgres',
      api_url: 'http://127.0.0.1:8008/patroni',
      state: 'running',
      role: 'replica',
      version: '1.0',
      tags: { zone: 'a' },
      xlog_location: 2000,
      receive_lsn: 2000,
      replay_lsn: 1500,
      timeline: 2,
      replication_state: 'streaming',
    });
  });
  it('a primary publishes its sync promise, or why it withholds it', () => {
    const primary = pgObs({ inRecovery: false });
    const snapWith = (status: PgStatus) => snapshotOf(primary, status, true);
    const status = (commitsSkipStandby: string[] | null): PgStatus => ({
      inRecovery: false,
      timeline: null,
      writeLsn: null,
      flushLsn: null,
      receiveLsn: null,
      replayLsn: null,
      replayedAt: null,
      replayPaused: false,
      systemId: '1',
      serverVersion: 150013,
      postmasterStartTime: new Date(0),
      walReceiver: null,
      replication: [],
      pendingRestart: {},
      commitsSkipStandby,
    });
    const kept = memberJson(config, primary, snapWith(status([])), '1.0');
    expect(kept.sync_promise).toBe(1);
    expect(kept.sync_promise_withheld).toBeUndefined();
    const weak = ['synchronous_commit=local for role app', 'synchronous_commit=off (configuration file)'];
    const withheld = memberJson(config, primary, snapWith(status(weak)), '1.0');
    expect(withheld.sync_promise).toBeUndefined();
    expect(withheld.sync_promise_withheld).toBe(
      'synchronous_commit=local for role app; synchronous_commit=off (configuration file)',
    );
    // a standby promises nothing either way
    expect(syncPromiseWithheld(null)).toBeNull();
  });
  it('reports a failed rejoin as the reason a node is stopped', () => {
    const pg = pgObs({ process: 'stopped', inRecovery: null, rejoinFailure: 'pg_rewind failed' });
    expect(memberState(pg, null)).toBe('stopped');
    expect(nodeRole(pg, false)).toBe('replica');
    expect(nodeRole(pgObs({ inRecovery: false }), false)).toBe('demoted');
    expect(nodeRole(pgObs({ inRecovery: false }), true)).toBe('primary');
    expect(nodeRole(pgObs({ dataDir: 'empty' }), false)).toBe('uninitialized');
  });
});

describe('/cluster members', () => {
  it('puts the leader first and computes lag against the optime', () => {
    const rows = clusterMembers(
      view(
        [
          member('n3', { xlogLocation: toLsn(400), receiveLsn: toLsn(400), replayLsn: toLsn(300) }),
          member('n1'),
          member('n2'),
        ],
        'n2',
        1000,
      ),
      defaultDynamicConfig(),
    );
    expect(rows.map((r) => [r.name, r.role, r.lagBytes, r.failoverEligible])).toEqual([
      ['n2', 'leader', null, false],
      ['n1', 'replica', 0, true],
      ['n3', 'replica', 600, true],
    ]);
  });
  it('marks a member lagging beyond maximum_lag_on_failover as not eligible, with the reason', () => {
    const rows = clusterMembers(
      view(
        [member('n1', { xlogLocation: toLsn(0), receiveLsn: toLsn(0), replayLsn: toLsn(0) }), member('n2')],
        'n2',
        5_000_000,
      ),
      defaultDynamicConfig(),
    );
    const n1 = rows.find((r) => r.name === 'n1')!;
    expect(n1.failoverEligible).toBe(false);
    expect(n1.failoverReasonCode).toBe('LAG_TOO_HIGH');
  });
  it("core's clusterRows, the rows hactl list shows: sync roles only in synchronous mode, a running replica's state is how it replicates", () => {
    const v = {
      ...view(
        [member('n1'), member('n2', { role: 'primary' }), member('n3', { state: 'stopped' })],
        'n2',
        1000,
      ),
      sync: { leader: 'n2', syncStandbys: ['n1'], quorum: null, modRevision: '4' },
    };
    const rows = (json: Record<string, unknown>) =>
      clusterMembers(v, parseDynamicConfig(json, { source: 'test' }).config).map((r) => [
        r.name,
        r.role,
        r.state,
      ]);
    expect(rows({})).toEqual([
      ['n2', 'leader', 'running'],
      ['n1', 'replica', 'streaming'],
      ['n3', 'replica', 'stopped'],
    ]);
    expect(rows({ synchronous_mode: true })[1]).toEqual(['n1', 'sync_standby', 'streaming']);
  });
});

describe('runActions', () => {
  it('runs in order and stops at the first failure', async () => {
    const calls: string[] = [];
    const store = {
      acquireLeader: async () => {
        calls.push('acquire');
        return false;
      },
      releaseLeader: async () => {
        calls.push('release');
        return true;
      },
    };
    const ctx = { store, log: { warn() {}, info() {} }, onReleased() {} } as unknown as Parameters<
      typeof runActions
    >[1];
    await expect(runActions([{ kind: 'acquireLeader' }, { kind: 'releaseLeader' }], ctx)).rejects.toThrow(
      /acquireLeader: the leader key is held by another member/,
    );
    expect(calls).toEqual(['acquire']);
    await expect(runActions([{ kind: 'releaseLeader' }], ctx)).resolves.toEqual(['releaseLeader']);
  });
});

describe('Postgres parameters', () => {
  it('the node overrides the cluster, except for cluster-wide settings', async () => {
    const { mergeParameters } = await import('@hapg/core');
    expect(
      mergeParameters(
        { work_mem: '4MB', max_connections: 100, shared_buffers: '1GB' },
        { work_mem: '8MB', max_connections: 20 },
      ),
    ).toEqual({ work_mem: '8MB', max_connections: 100, shared_buffers: '1GB' });
  });
});

describe('pg_hba precedence', () => {
  const node = (pgHba: string[] | null) => ({ postgresql: { pgHba } }) as never;
  const dyn = (pgHba: string[] | null) => ({ postgresql: { pgHba } }) as never;

  it.each([
    ['the node list wins', ['local all all peer'], ['host all all 0.0.0.0/0 md5'], ['local all all peer']],
    ['else the dynamic list', null, ['host all all 0.0.0.0/0 md5'], ['host all all 0.0.0.0/0 md5']],
    [
      'an empty node list does not hide the dynamic one',
      [],
      ['host all all ::/0 md5'],
      ['host all all ::/0 md5'],
    ],
    ['neither: the generated file (bootstrap.pg_hba appended there)', null, null, null],
    ['an empty dynamic list is none', null, [], null],
  ] as const)('%s', async (_case, local, cluster, expected) => {
    const { effectivePgHba } = await import('@hapg/core');
    expect(effectivePgHba(node(local as string[] | null), dyn(cluster as string[] | null))).toEqual(expected);
  });
});
