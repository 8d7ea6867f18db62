import { describe, expect, it } from 'vitest';
import {
  decide,
  evidenceShortfall,
  fastFailoverReadiness,
  type Observation,
  type TakeoverEvidence,
  takeoverTarget,
} from '../src/index.js';
import {
  type clusterView,
  FAST_FAILOVER,
  LEADER_GONE,
  member,
  NOW_MS,
  syncStandbyObs,
} from './decide-fixtures.js';

/**
 * Fast failover (docs/fast-failover.md): `a`, listed in an `on`-mode sync key of leader `b`,
 * whose stream, REST API, Postgres port and lease keepalives have all gone silent.
 */
const FAST = FAST_FAILOVER;

const GONE = LEADER_GONE;

function obs(
  over: {
    evidence?: TakeoverEvidence | null;
    config?: Partial<Observation['config']>;
    view?: Parameters<typeof clusterView>[0];
    pg?: Partial<Observation['pg']>;
    self?: Partial<Observation['self']>;
  } = {},
): Observation {
  const { evidence, ...rest } = over;
  return { ...syncStandbyObs(rest), takeover: evidence === undefined ? GONE : evidence };
}

describe('fast failover: the takeover rule', () => {
  it('takes the key over in one guarded transaction, then verifies, claims the sync key and promotes', () => {
    const d = decide(obs(), NOW_MS);
    expect(d.reason.code).toBe('FAST_FAILOVER');
    expect(d.actions).toEqual([
      {
        kind: 'takeOverLeader',
        leader: 'b',
        leaderModRevision: '5',
        syncModRevision: '7',
        configModRevision: '3',
        failsafeModRevision: null,
      },
      { kind: 'verifyLeader' },
      { kind: 'claimSyncKey' },
      { kind: 'promote', reason: 'fast-failover' },
    ]);
  });

  it.each<[string, Parameters<typeof obs>[0]]>([
    ['the switch is off', { config: { fastFailover: { ...FAST, enabled: false } } }],
    ['no switch at all', { config: { fastFailover: undefined } }],
    ['asynchronous mode', { config: { synchronousMode: 'off' } }],
    [
      'a switchover in progress',
      { view: { failover: { leader: 'b', member: 'c', scheduledAt: null, modRevision: '8' } } },
    ],
    [
      'the key lists another standby',
      { view: { sync: { leader: 'b', syncStandbys: ['c'], quorum: 0, modRevision: '7' } } },
    ],
    [
      'the key names another leader',
      { view: { sync: { leader: 'c', syncStandbys: ['a'], quorum: 0, modRevision: '7' } } },
    ],
    [
      'a quorum key left over after quorum → on',
      { view: { sync: { leader: 'b', syncStandbys: ['a', 'c'], quorum: 1, modRevision: '7' } } },
    ],
    ['no sync key', { view: { sync: null } }],
    [
      'a leader that does not keep the promise (Patroni)',
      {
        view: {
          members: new Map([
            ['a', member('a')],
            ['b', member('b', { role: 'primary' })],
          ]),
        },
      },
    ],
    ['we follow another member', { pg: { following: 'c' } }],
    ['tagged nofailover', { self: { nofailover: true } }],
    ['a failsafe promise', { self: { failsafeHold: { code: 'FAILSAFE_PROMISED', text: 'promised' } } }],
  ])('never when %s', (_why, over) => {
    const d = decide(obs(over), NOW_MS);
    expect(d.reason.code).not.toBe('FAST_FAILOVER');
    expect(d.actions.map((a) => a.kind)).not.toContain('takeOverLeader');
  });

  it.each<[string, Partial<TakeoverEvidence>, RegExp]>([
    ['the stream is live', { streamSilenceMs: 400 }, /stream .* is live/],
    ['the REST API answers', { restAnswered: true }, /REST API answers/],
    ['the Postgres port answers (only the agent died)', { portAnswered: true }, /Postgres port answers/],
    [
      'the lease was renewed less than a second ago',
      { lease: { remainingS: 9, grantedS: 10 } },
      /renewed its lease/,
    ],
    ['the probes were for an older key', { leaderModRevision: '4' }, /another leader key/],
  ])('not while %s', (_why, ev, text) => {
    const o = obs({ evidence: { ...GONE, ...ev } });
    expect(decide(o, NOW_MS).reason.code).not.toBe('FAST_FAILOVER');
    expect(evidenceShortfall(takeoverTarget(o)!, { ...GONE, ...ev })).toMatch(text);
  });

  it('a walreceiver that is gone counts as silent, a lease etcd no longer has as missed', () => {
    expect(
      decide(obs({ evidence: { ...GONE, streamSilenceMs: null, lease: null } }), NOW_MS).reason.code,
    ).toBe('FAST_FAILOVER');
  });

  it('a stale timeline reading (the walreceiver gone, the last restartpoint older) does not stop it', () => {
    // the benchmark's standbys read a timeline 1–2 behind the leader's right after its death
    const o = obs({ pg: { streaming: false, timeline: 3 as never } });
    const members = new Map(o.dcs.view!.members);
    members.set('b', { ...members.get('b')!, timeline: 5 as never });
    const stale: Observation = { ...o, dcs: { ...o.dcs, view: { ...o.dcs.view!, members } } };
    expect(decide(stale, NOW_MS).reason.code).toBe('FAST_FAILOVER');
  });

  it('without evidence the replica follows as before', () => {
    expect(decide(obs({ evidence: null }), NOW_MS).reason.code).toBe('FOLLOWING');
  });
});

describe('a view older than our own leader key write decides nothing', () => {
  it('after a takeover, a stalled view still showing the old leader does not demote us', () => {
    const o = obs({ evidence: null });
    const primary: Observation = {
      ...o,
      pg: { ...o.pg, inRecovery: false, flushLsn: o.pg.receiveLsn, following: null },
      dcs: { ...o.dcs, ownLeaderWriteRevision: '11' },
    };
    const d = decide(primary, NOW_MS);
    expect(d.reason.code).toBe('VIEW_BEHIND_OWN_WRITE');
    expect(d.actions).toEqual([]);
    // once the view has caught up, a key held by another member demotes as always
    const later = decide({ ...primary, dcs: { ...primary.dcs, ownLeaderWriteRevision: '9' } }, NOW_MS);
    expect(later.reason.code).toBe('ANOTHER_LEADER');
  });
});

describe('pause does not keep a deposed primary writable', () => {
  it('a running primary whose key another member validly holds demotes in pause', () => {
    const o = obs({ evidence: null, config: { pause: true } });
    const primary: Observation = { ...o, pg: { ...o.pg, inRecovery: false, flushLsn: o.pg.receiveLsn } };
    const d = decide(primary, NOW_MS);
    expect(d.reason.code).toBe('ANOTHER_LEADER');
    expect(d.actions).toEqual([{ kind: 'demote', mode: 'fast', follow: null }]);
  });
});

describe('pause and a view older than our own takeover', () => {
  it('the new primary, paused right after its takeover on a stale view, does not demote', () => {
    const o = obs({ evidence: null, config: { pause: true } });
    const primary: Observation = {
      ...o,
      pg: { ...o.pg, inRecovery: false, flushLsn: o.pg.receiveLsn, following: null },
      dcs: { ...o.dcs, ownLeaderWriteRevision: '11' },
    };
    expect(decide(primary, NOW_MS).reason.code).toBe('PAUSED');
  });
});

describe('fast failover readiness: what /cluster and hactl list show', () => {
  const ready = (over: Parameters<typeof obs>[0] = {}) => {
    const o = obs(over);
    return fastFailoverReadiness(o.dcs.view!, o.config);
  };
  const withLeaderRaw = (raw: Record<string, unknown>) => {
    const o = obs();
    const members = new Map(o.dcs.view!.members);
    members.set('b', member('b', { role: 'primary', raw: { ...members.get('b')!.raw, ...raw } }));
    return fastFailoverReadiness({ ...o.dcs.view!, members }, o.config);
  };

  it('ready: names the leader and the standbys that may take over', () => {
    expect(ready()).toEqual({ state: 'ready', leader: 'b', standbys: ['a'], releasesNeeded: 0 });
  });

  it('off when the switch is off, and in asynchronous mode (nothing to take over on)', () => {
    expect(ready({ config: { fastFailover: { ...FAST, enabled: false } } })).toEqual({ state: 'off' });
    expect(ready({ config: { synchronousMode: 'off' } })).toEqual({ state: 'off' });
  });

  it.each<[string, Parameters<typeof obs>[0], RegExp]>([
    ['pause', { config: { pause: true } }, /paused/],
    ['no sync key', { view: { sync: null } }, /sync key does not promise b's commits/],
    [
      'a degraded leader',
      { view: { sync: { leader: 'b', syncStandbys: [], quorum: 0, modRevision: '7' } } },
      /no synchronous standby/,
    ],
  ])('unavailable in %s, with the reason', (_why, over, reason) => {
    const r = ready(over);
    expect(r.state).toBe('unavailable');
    expect(r.state === 'unavailable' && r.reason).toMatch(reason);
  });

  it('a leader that withholds its promise says why; one that never made it is told apart', () => {
    const withheld = withLeaderRaw({
      sync_promise: undefined,
      sync_promise_withheld: 'synchronous_commit=local for role app',
    });
    expect(withheld).toEqual({
      state: 'unavailable',
      reason: 'b withholds its sync promise: synchronous_commit=local for role app',
    });
    expect(withLeaderRaw({ sync_promise: undefined })).toEqual({
      state: 'unavailable',
      reason: 'b publishes no sync promise (Patroni or an older hapg)',
    });
  });

  it('a withheld promise stops the takeover itself', () => {
    const o = obs();
    const members = new Map(o.dcs.view!.members);
    const raw = {
      ...members.get('b')!.raw,
      sync_promise_withheld: 'synchronous_commit=off (configuration file)',
    };
    delete (raw as Record<string, unknown>).sync_promise;
    members.set('b', member('b', { role: 'primary', raw }));
    const d = decide({ ...o, dcs: { ...o.dcs, view: { ...o.dcs.view!, members } } }, NOW_MS);
    expect(d.reason.code).not.toBe('FAST_FAILOVER');
  });
});
