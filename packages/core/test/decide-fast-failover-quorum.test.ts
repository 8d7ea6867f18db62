import { describe, expect, it } from 'vitest';
import {
  type ClusterView,
  decide,
  fastFailoverReadiness,
  type Observation,
  type StreamRelease,
  type TakeoverEvidence,
  toLsn,
} from '../src/index.js';
import { LEADER_GONE, NOW_MS, syncStandbyObs } from './decide-fixtures.js';

/**
 * Quorum-mode fast failover (docs/fast-failover.md): `a` and `c` listed in leader `b`'s quorum
 * key with `ANY 1` (stored quorum 1: N − k = 1), so a takeover needs the other listed standby's
 * release of its stream from `b` at the leader key's revision 5.
 */
const QUORUM_KEY = { leader: 'b', syncStandbys: ['a', 'c'], quorum: 1, modRevision: '7' } as const;

function release(member: string, over: Partial<StreamRelease> = {}): StreamRelease {
  return {
    member,
    leader: 'b',
    leaderRevision: '5',
    timeline: null,
    flushLsn: toLsn(900),
    modRevision: '8',
    ...over,
  };
}

function obs(
  over: {
    releases?: readonly StreamRelease[];
    evidence?: TakeoverEvidence | null;
    self?: Partial<Observation['self']>;
    pg?: Partial<Observation['pg']>;
    config?: Partial<Observation['config']>;
    view?: Partial<ClusterView>;
  } = {},
): Observation {
  const base = syncStandbyObs({
    config: { synchronousMode: 'quorum', ...over.config },
    ...(over.self === undefined ? {} : { self: over.self }),
    pg: { streaming: false, ...over.pg },
    view: {
      sync: QUORUM_KEY,
      config: { value: { synchronous_mode: 'quorum' }, modRevision: '3' },
      releases: new Map((over.releases ?? []).map((r) => [r.member, r])),
      ...over.view,
    },
  });
  return { ...base, takeover: over.evidence === undefined ? LEADER_GONE : over.evidence };
}

const RELEASED = { streamRelease: { leader: 'b', leaderRevision: '5' } } as const;
const kinds = (o: Observation) => decide(o, NOW_MS).actions.map((a) => a.kind);

describe('quorum fast failover: releases', () => {
  it('the cluster is ready, needing N − k releases', () => {
    const o = obs();
    expect(fastFailoverReadiness(o.dcs.view!, o.config)).toEqual({
      state: 'ready',
      leader: 'b',
      standbys: ['a', 'c'],
      releasesNeeded: 1,
    });
  });

  it('with the leader gone and no release from the others, we release our stream first', () => {
    const d = decide(obs(), NOW_MS);
    expect(d.reason.code).toBe('STREAM_RELEASING');
    expect(d.actions).toEqual([{ kind: 'releaseStream', leader: 'b', leaderRevision: '5' }]);
  });

  it('with the other listed standby released, and we as far, we take over comparing its release', () => {
    const d = decide(obs({ releases: [release('c')] }), NOW_MS);
    expect(d.reason.code).toBe('FAST_FAILOVER');
    expect(d.actions[0]).toEqual({
      kind: 'takeOverLeader',
      leader: 'b',
      leaderModRevision: '5',
      syncModRevision: '7',
      configModRevision: '3',
      failsafeModRevision: null,
      releases: [{ member: 'c', modRevision: '8' }],
    });
    expect(d.reason.text).toMatch(/c released their stream/);
  });

  it('a released standby ahead of us takes over, not we: we release and wait', () => {
    const ahead = [release('c', { flushLsn: toLsn(1200) })];
    expect(decide(obs({ releases: ahead }), NOW_MS).reason.code).toBe('STREAM_RELEASING');
    const held = decide(obs({ releases: ahead, self: RELEASED }), NOW_MS);
    expect(held.reason.code).toBe('STREAM_RELEASED');
    expect(held.actions).toEqual([]);
  });

  it.each<[string, StreamRelease]>([
    ['for an older leader key', release('c', { leaderRevision: '4' })],
    ['for another leader', release('c', { leader: 'd' })],
    ['from a standby the key does not list', release('d')],
    ['our own', release('a')],
  ])('a release %s is not counted', (_why, r) => {
    const d = decide(obs({ releases: [r] }), NOW_MS);
    expect(d.reason.code).not.toBe('FAST_FAILOVER');
  });

  it('`ANY 2` of two standbys (k = N) needs no release, as in `on` mode', () => {
    const d = decide(obs({ view: { sync: { ...QUORUM_KEY, quorum: 0 } } }), NOW_MS);
    expect(d.reason.code).toBe('FAST_FAILOVER');
    expect(d.actions[0]).not.toHaveProperty('releases');
  });

  it('a nofailover standby releases, but never takes over', () => {
    const self = { nofailover: true };
    expect(decide(obs({ self }), NOW_MS).reason.code).toBe('STREAM_RELEASING');
    expect(kinds(obs({ self, releases: [release('c')] }))).not.toContain('takeOverLeader');
  });

  it('no release while the leader answers, or without evidence', () => {
    const answers = { ...LEADER_GONE, restAnswered: true, lease: 'unasked' as const };
    expect(decide(obs({ evidence: answers }), NOW_MS).reason.code).toBe('FOLLOWING');
    expect(kinds(obs({ evidence: null }))).not.toContain('releaseStream');
  });
});

describe('quorum fast failover: a release we made', () => {
  it('held while the leader stays silent: no following it again', () => {
    const d = decide(obs({ self: RELEASED, pg: { following: null } }), NOW_MS);
    expect(d.reason.code).toBe('STREAM_RELEASED');
    expect(d.actions).toEqual([]);
  });

  it('held across a Postgres restart: started as a standby of nobody', () => {
    const d = decide(
      obs({ self: RELEASED, pg: { following: null, process: 'stopped', inRecovery: null } }),
      NOW_MS,
    );
    expect(d.actions).toEqual([{ kind: 'startPostgres', as: 'replica', follow: null }]);
  });

  it('taken back by a guarded delete, then following the leader, once it answers', () => {
    const back = { ...LEADER_GONE, restAnswered: true, lease: 'unasked' as const };
    const d = decide(obs({ self: RELEASED, pg: { following: null }, evidence: back }), NOW_MS);
    expect(d.reason.code).toBe('STREAM_WITHDRAWING');
    expect(d.actions).toEqual([
      { kind: 'withdrawRelease', leader: 'b', leaderRevision: '5' },
      { kind: 'followLeader', leader: 'b' },
    ]);
  });

  it('taken back when the fast path stops applying (a switchover requested)', () => {
    const failover = { leader: 'b', member: 'c', scheduledAt: null, modRevision: '9' };
    const d = decide(obs({ self: RELEASED, pg: { following: null }, view: { failover } }), NOW_MS);
    expect(d.reason.code).toBe('STREAM_WITHDRAWING');
  });

  it('taken back in pause', () => {
    const d = decide(obs({ self: RELEASED, pg: { following: null }, config: { pause: true } }), NOW_MS);
    expect(d.reason.code).toBe('STREAM_WITHDRAWING');
  });

  it('dropped first once the leader key moved past it, whatever else is decided', () => {
    const leader = { name: 'c', leaseId: '3', modRevision: '9', createRevision: '5' };
    const d = decide(obs({ self: RELEASED, pg: { following: null }, view: { leader } }), NOW_MS);
    expect(d.actions[0]).toEqual({ kind: 'dropRelease' });
    expect(d.actions[1]).toEqual({ kind: 'followLeader', leader: 'c' });
  });

  it('taken back before an emptied data directory is cloned again (a fresh copy streams from the leader)', () => {
    const d = decide(
      obs({ self: RELEASED, pg: { dataDir: 'empty', process: 'stopped', inRecovery: null } }),
      NOW_MS,
    );
    expect(d.actions.map((a) => a.kind)).toEqual(['withdrawRelease', 'clone']);
  });

  it('kept on a view older than the released key (it shows an earlier key, not a later one)', () => {
    const leader = { name: 'c', leaseId: '3', modRevision: '2', createRevision: '2' };
    const self = { streamRelease: { leader: 'b', leaderRevision: '12' } };
    expect(kinds(obs({ self, pg: { following: null }, view: { leader } }))).not.toContain('dropRelease');
  });
});
