import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ClusterView,
  decide,
  type LeaderRecord,
  leaderKeyFlaw,
  type Observation,
  toLsn,
  trackFlawedLeader,
} from '../src/index.js';
import {
  clusterView,
  formatActions,
  member,
  NOW_MS,
  peer,
  primaryObs,
  replicaObs,
} from './decide-fixtures.js';

/** Issue 11: leader keys written by another tool (no lease, or naming no live member); a malformed sync key. */

const TTL_MS = 30_000;
const ghost = (over: Partial<LeaderRecord> = {}): LeaderRecord => ({
  name: 'ghost',
  leaseId: null,
  modRevision: '6',
  createRevision: '5',
  ...over,
});
/** seen flawed `ms` ago */
const seen = (ms: number) => ({ flawedLeaderSinceMs: NOW_MS - ms });

describe('leaderKeyFlaw', () => {
  const view = (leader: LeaderRecord | null, members = clusterView().members): ClusterView =>
    clusterView({ leader, members });
  const rows: [string, ClusterView, ReturnType<typeof leaderKeyFlaw>][] = [
    ['no leader key', view(null), null],
    ['a real leader: leased, its member key leased', view(ghost({ name: 'b', leaseId: '2' })), null],
    ['bound to no lease', view(ghost()), 'no-lease'],
    ['empty value, no lease', view(ghost({ name: '' })), 'no-lease'],
    ['a real member name, but no lease', view(ghost({ name: 'b' })), 'no-lease'],
    ['leased, naming nobody', view(ghost({ leaseId: '2' })), 'no-member'],
    [
      'leased, naming a member whose key has no lease',
      view(ghost({ name: 'b', leaseId: '2' }), new Map([['b', member('b', { leaseId: null })]])),
      'no-member',
    ],
    ['leased, naming us (own-key rules)', view(ghost({ name: 'a', leaseId: '2' }), new Map()), null],
    ['no lease, naming us', view(ghost({ name: 'a' })), 'no-lease'],
  ];
  it.each(rows)('%s', (_name, v, want) => expect(leaderKeyFlaw(v, 'a')).toBe(want));
});

describe('trackFlawedLeader', () => {
  const flawed = clusterView({ leader: ghost() });
  it('keeps the first sighting of the same key, restarts for another, forgets a sound key', () => {
    const first = trackFlawedLeader(null, flawed, 'a', 100);
    expect(first).toEqual({ modRevision: '6', sinceMs: 100 });
    expect(trackFlawedLeader(first, flawed, 'a', 900)).toBe(first);
    const rewritten = clusterView({ leader: ghost({ modRevision: '7' }) });
    expect(trackFlawedLeader(first, rewritten, 'a', 900)).toEqual({ modRevision: '7', sinceMs: 900 });
    expect(trackFlawedLeader(first, clusterView(), 'a', 900)).toBeNull();
    expect(trackFlawedLeader(first, clusterView({ leader: null }), 'a', 900)).toBeNull();
    expect(trackFlawedLeader(first, null, 'a', 900)).toBeNull();
    // time in pause does not count: the wait starts again after it
    expect(trackFlawedLeader(first, flawed, 'a', 900, true)).toBeNull();
  });
});

type Row = readonly [name: string, obs: Observation, code: string, actions: string];

const noMemberB = new Map([
  ['a', member('a')],
  ['c', member('c')],
]);
/** b held the key before it was overwritten, and has demoted since (its member key says so) */
const bDemoted = new Map([
  ['a', member('a')],
  ['b', member('b', { role: 'replica', state: 'stopped' })],
  ['c', member('c')],
]);
const rows: Row[] = [
  [
    'replica: a lease-less key is not followed, and not removed before ttl',
    replicaObs({ view: { leader: ghost() }, dcs: seen(TTL_MS - 1) }),
    'LEADER_KEY_INVALID',
    '-',
  ],
  [
    'replica: no sighting recorded (no tracker): never removed',
    replicaObs({ view: { leader: ghost() } }),
    'LEADER_KEY_INVALID',
    '-',
  ],
  [
    'replica: a lease-less key seen for ttl is removed by CAS on its revision',
    replicaObs({ view: { leader: ghost(), members: bDemoted }, dcs: seen(TTL_MS) }),
    'LEADER_KEY_INVALID',
    'removeLeaderKey(6)',
  ],
  [
    'replica: not removed while another member says it runs writable (the old holder, paused or frozen)',
    replicaObs({ view: { leader: ghost() }, dcs: seen(TTL_MS * 10) }),
    'LEADER_KEY_INVALID',
    '-',
  ],
  [
    '"demoted" is writable without the key: not removed either',
    replicaObs({
      view: { leader: ghost(), members: new Map([...bDemoted, ['b', member('b', { role: 'demoted' })]]) },
      dcs: seen(TTL_MS),
    }),
    'LEADER_KEY_INVALID',
    '-',
  ],
  [
    "a lease-less member key saying primary is another tool's: it does not hold the removal back",
    replicaObs({
      view: {
        leader: ghost(),
        members: new Map([...bDemoted, ['x', member('x', { role: 'primary', leaseId: null })]]),
      },
      dcs: seen(TTL_MS),
    }),
    'LEADER_KEY_INVALID',
    'removeLeaderKey(6)',
  ],
  [
    'replica: a leased key naming a member with no member key, seen for ttl: removed',
    replicaObs({
      view: { leader: ghost({ name: 'b', leaseId: '2' }), members: noMemberB },
      dcs: seen(TTL_MS),
    }),
    'LEADER_KEY_INVALID',
    'removeLeaderKey(6)',
  ],
  [
    'replica: the leader member key missing for less than ttl: waits, does not re-point',
    replicaObs({
      view: { leader: ghost({ name: 'b', leaseId: '2' }), members: noMemberB },
      dcs: seen(1_000),
    }),
    'LEADER_KEY_INVALID',
    '-',
  ],
  [
    'replica: a real leader is followed whatever the tracker says',
    replicaObs({ dcs: seen(TTL_MS * 10) }),
    'FOLLOWING',
    '-',
  ],
  [
    'stopped replica: waits for the key to go rather than start under a ghost',
    replicaObs({ view: { leader: ghost() }, pg: { process: 'stopped', inRecovery: null } }),
    'LEADER_KEY_INVALID',
    '-',
  ],
  [
    'replica: a lease-less key with our own name is removed after ttl',
    replicaObs({ view: { leader: ghost({ name: 'a' }), members: bDemoted }, dcs: seen(TTL_MS) }),
    'LEADER_KEY_INVALID',
    'removeLeaderKey(6)',
  ],
  [
    'primary whose key was overwritten: demotes at once (it no longer holds it)',
    primaryObs({ view: { leader: ghost() } }),
    'LEADER_KEY_INVALID',
    'demote(fast,-)',
  ],
  [
    'primary whose key was overwritten long ago: demotes and removes it',
    primaryObs({ view: { leader: ghost() }, dcs: seen(TTL_MS) }),
    'LEADER_KEY_INVALID',
    'demote(fast,-) removeLeaderKey(6)',
  ],
  [
    'primary: its own key overwritten with its name and no lease: rebinds it (it never went away)',
    primaryObs({
      view: { leader: ghost({ name: 'a' }) },
      dcs: { ...seen(TTL_MS), ownLeaderCreateRevision: '5' },
    }),
    'LEADER_KEY_OTHER_LEASE',
    'acquireLeader',
  ],
  [
    'primary: its name without a lease on a key it never created: demotes (not its key)',
    primaryObs({
      view: { leader: ghost({ name: 'a', createRevision: '9' }) },
      dcs: { ownLeaderCreateRevision: '5' },
    }),
    'LEADER_KEY_INVALID',
    'demote(fast,-)',
  ],
  [
    'primary that created no key (a restarted agent): its name without a lease is not its key',
    primaryObs({ view: { leader: ghost({ name: 'a' }) } }),
    'LEADER_KEY_INVALID',
    'demote(fast,-)',
  ],
  [
    'the holder is never leaderless, even with its own member key missing',
    primaryObs({ view: { members: new Map([['b', member('b')]]) }, dcs: seen(TTL_MS) }),
    'HOLDING_LEASE',
    '-',
  ],
  [
    'pause: hands off a ghost key too',
    replicaObs({ config: { pause: true }, view: { leader: ghost() }, dcs: seen(TTL_MS) }),
    'PAUSED',
    '-',
  ],
  [
    'after the removal the election runs as for a vanished key',
    replicaObs({
      view: { leader: null },
      pg: { following: null, streaming: false },
      peers: new Map([['c', peer('c', { xlogLocation: toLsn(900) })]]),
    }),
    'NO_LEADER_TAKING_OVER',
    'acquireLeader promote(failover)',
  ],
];

describe('decide with a leader key no real leader holds', () => {
  it.each(rows)('%s', (_name, obs, code, actions) => {
    const d = decide(obs, NOW_MS);
    expect(d.reason.code).toBe(code);
    expect(formatActions(d.actions)).toBe(actions);
  });

  it('the removal carries the member key it relied on: absent, leased off, or unparsable', () => {
    const remove = (view: Partial<ClusterView>) =>
      decide(
        replicaObs({ view: { leader: ghost({ name: 'b', leaseId: '2' }), ...view }, dcs: seen(TTL_MS) }),
        NOW_MS,
      ).actions.find((a) => a.kind === 'removeLeaderKey');
    // a stalled view may miss the member key a real leader wrote since: etcd compares it
    expect(remove({ members: noMemberB })).toMatchObject({ member: { name: 'b', modRevision: null } });
    const unleased = new Map([
      ...noMemberB,
      ['b', member('b', { leaseId: null, role: 'replica', modRevision: '4' })],
    ]);
    expect(remove({ members: unleased })).toMatchObject({ member: { name: 'b', modRevision: '4' } });
    const malformed = [
      { key: '/service/demo/members/b', kind: 'member' as const, error: 'not JSON', modRevision: '3' },
    ];
    expect(remove({ members: noMemberB, malformed })).toMatchObject({
      member: { name: 'b', modRevision: '3' },
    });
    // a lease-less key is its own evidence
    expect(
      decide(replicaObs({ view: { leader: ghost(), members: bDemoted }, dcs: seen(TTL_MS) }), NOW_MS).actions,
    ).toContainEqual({ kind: 'removeLeaderKey', modRevision: '6', member: null });
  });

  it('says what is wrong and when it goes', () => {
    const d = decide(replicaObs({ view: { leader: ghost() }, dcs: seen(10_000) }), NOW_MS);
    expect(d.reason.text).toBe(
      'the leader key holds "ghost" bound to no lease (not written by an agent): not following it; removing it if it stays 20000 ms more (ttl)',
    );
    const held = decide(replicaObs({ view: { leader: ghost() }, dcs: seen(TTL_MS) }), NOW_MS);
    expect(held.reason.text).toBe(
      'the leader key holds "ghost" bound to no lease (not written by an agent): not following it; not removing it while b reports a writable Postgres',
    );
  });
});

// ---- properties ----------------------------------------------------------

const NAMES = ['m0', 'm1', 'm2', 'm3'] as const;

const keyArb = fc.record({
  name: fc.constantFrom(...NAMES, 'ghost', ''),
  leaseId: fc.option(fc.constantFrom('1', '2', '3')),
  modRevision: fc.constantFrom('6', '7'),
});

const worldArb = fc.record({
  key: keyArb,
  /** which members have a key, and whether it is bound to a lease */
  memberKeys: fc.array(fc.constantFrom('absent', 'leased', 'unleased'), { minLength: 4, maxLength: 4 }),
  nodes: fc.array(
    fc.record({
      running: fc.boolean(),
      primary: fc.boolean(),
      lsn: fc.integer({ min: 0, max: 5 }),
      leaseId: fc.option(fc.constantFrom('1', '2', '3')),
      deadlineAheadMs: fc.integer({ min: -1_000, max: 20_000 }),
      sinceAgoMs: fc.option(fc.integer({ min: 0, max: 2 * TTL_MS })),
    }),
    { minLength: 4, maxLength: 4 },
  ),
});
type World = typeof worldArb extends fc.Arbitrary<infer T> ? T : never;

function worldView(w: World): ClusterView {
  const members = new Map(
    NAMES.flatMap((n, i) => {
      const k = w.memberKeys[i]!;
      return k === 'absent'
        ? []
        : [[n, member(n, { leaseId: k === 'leased' ? String(i + 1) : null })] as const];
    }),
  );
  return clusterView({ leader: { ...w.key, createRevision: '5' }, members });
}

function nodeObs(w: World, i: number): Observation {
  const n = w.nodes[i]!;
  const lsn = toLsn(n.lsn * 100);
  const primary = n.running && n.primary;
  return replicaObs({
    self: { name: NAMES[i]! },
    pg: {
      process: n.running ? 'running' : 'stopped',
      inRecovery: n.running ? !primary : null,
      wasPrimary: primary,
      flushLsn: primary ? lsn : null,
      receiveLsn: primary ? null : lsn,
      replayLsn: primary ? null : lsn,
      following: null,
      streaming: false,
      streamingReplicas: [],
    },
    dcs: {
      leaseId: n.leaseId,
      leaseDeadlineMs: NOW_MS + n.deadlineAheadMs,
      flawedLeaderSinceMs: n.sinceAgoMs === null ? null : NOW_MS - n.sinceAgoMs,
    },
    view: worldView(w),
    // peers are read only without a leader key (the agent's rule); a key present means none
    peers: null,
  });
}

describe('leader key properties', () => {
  it('while a leader key stands, only its holder promotes, and nobody follows a flawed one', () => {
    fc.assert(
      fc.property(worldArb, (w) => {
        for (const [i, n] of w.nodes.entries()) {
          const obs = nodeObs(w, i);
          const ours = w.key.name === NAMES[i];
          const flawed = leaderKeyFlaw(obs.dcs.view!, NAMES[i]!) !== null;
          for (const a of decide(obs, NOW_MS).actions) {
            // acquire under a standing key is only ever the rebind of one's own name
            if (a.kind === 'acquireLeader') expect(ours).toBe(true);
            if (a.kind === 'promote') expect(ours && w.key.leaseId === n.leaseId).toBe(true);
            if (!flawed) continue;
            const follows =
              a.kind === 'followLeader' || a.kind === 'rejoin' || a.kind === 'clone'
                ? a.leader
                : a.kind === 'startPostgres'
                  ? a.follow
                  : null;
            expect(follows).not.toBe(w.key.name);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('a key no rule flags is never removed; a flagged one only after ttl, and only at its revision', () => {
    let removals = 0;
    fc.assert(
      fc.property(worldArb, (w) => {
        for (const [i, n] of w.nodes.entries()) {
          const obs = nodeObs(w, i);
          const flaw = leaderKeyFlaw(obs.dcs.view!, NAMES[i]!);
          for (const a of decide(obs, NOW_MS).actions) {
            if (a.kind !== 'removeLeaderKey') continue;
            expect(flaw).not.toBeNull();
            expect(n.sinceAgoMs).not.toBeNull();
            expect(n.sinceAgoMs!).toBeGreaterThanOrEqual(TTL_MS);
            expect(a.modRevision).toBe(w.key.modRevision);
            removals++;
          }
        }
      }),
      { numRuns: 2000 },
    );
    expect(removals).toBeGreaterThan(100); // not vacuous
  });

  it('the holder of a real key (its name, its lease, deadline ahead) never counts itself leaderless', () => {
    fc.assert(
      fc.property(worldArb, fc.integer({ min: 0, max: 3 }), (w, i) => {
        const n = w.nodes[i]!;
        const held: World = {
          ...w,
          key: { ...w.key, name: NAMES[i]!, leaseId: '1' },
          nodes: w.nodes.map((x, j) =>
            j === i ? { ...n, leaseId: '1', deadlineAheadMs: Math.max(1, n.deadlineAheadMs) } : x,
          ),
        };
        const d = decide(nodeObs(held, i), NOW_MS);
        expect(d.reason.code).not.toBe('LEADER_KEY_INVALID');
        expect(d.actions.map((a) => a.kind)).not.toContain('removeLeaderKey');
      }),
      { numRuns: 1000 },
    );
  });
});

describe('a malformed sync key (another tool wrote it)', () => {
  const garbage = {
    key: '/service/demo/sync',
    kind: 'sync' as const,
    error: 'invalid JSON',
    modRevision: '9',
  };
  const election = (synchronousMode: 'off' | 'on') =>
    replicaObs({
      config: { synchronousMode },
      view: { leader: null, sync: null, malformed: [garbage] },
      pg: { following: null, streaming: false },
      peers: new Map([['c', peer('c', { xlogLocation: toLsn(900) })]]),
    });
  it('synchronous mode: nobody can tell who holds every acknowledged commit, so nobody takes over', () => {
    const d = decide(election('on'), NOW_MS);
    expect(d.reason).toEqual({
      code: 'NO_LEADER_NOT_ELIGIBLE',
      text: 'a: synchronous mode and the sync key is malformed',
    });
    expect(d.actions).toEqual([]);
  });
  it('asynchronous mode: the key means nothing, the election runs', () => {
    expect(decide(election('off'), NOW_MS).reason.code).toBe('NO_LEADER_TAKING_OVER');
  });
  it('a malformed history changes nothing for a follower', () => {
    const bad = {
      key: '/service/demo/history',
      kind: 'history' as const,
      error: 'invalid JSON',
      modRevision: '9',
    };
    const d = decide(
      replicaObs({ config: { checkTimeline: true }, view: { history: null, malformed: [bad] } }),
      NOW_MS,
    );
    expect(d.reason.code).toBe('FOLLOWING');
  });
});
