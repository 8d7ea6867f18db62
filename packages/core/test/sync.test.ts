import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toLsn } from '../src/lsn.js';
import {
  acksPerCommit,
  chooseSyncStandbys,
  type ParsedSsn,
  parseSsn,
  planSyncUpdate,
  quorumPromotionSafe,
  renderSsn,
  ssnForKey,
  storedSyncFromKey,
  syncKeyFromState,
  type SyncKeyValue,
} from '../src/sync/index.js';
import type { Member } from '../src/types.js';

function member(name: string, over: Partial<Member> = {}): Member {
  return {
    name,
    connUrl: '',
    apiUrl: '',
    state: 'running',
    role: 'replica',
    version: '0',
    tags: {},
    timeline: null,
    xlogLocation: null,
    receiveLsn: null,
    replayLsn: null,
    replicationState: 'streaming',
    pendingRestart: false,
    statusReason: null,
    leaseId: null,
    modRevision: '1',
    raw: { conn_url: '', api_url: '', state: 'running', role: 'replica', version: '0' },
    ...over,
  };
}

const members = new Map(
  [
    member('p'),
    member('a'),
    member('b'),
    member('c'),
    member('n', { tags: { nosync: true } }),
    member('s', { state: 'stopped' }),
  ].map((m) => [m.name, m] as const),
);
const row = (applicationName: string, flush: number, state = 'streaming') => ({
  applicationName,
  state,
  flushLsn: toLsn(flush),
});

describe('chooseSyncStandbys', () => {
  const base = { members, selfName: 'p', current: [] as string[], nodeCount: 1 };
  const rows = [
    row('a', 100),
    row('b', 300),
    row('c', 200),
    row('n', 900),
    row('s', 900),
    row('x', 900),
    row('p', 900),
  ];

  it('takes the least lagging eligible streaming standbys in on mode', () => {
    expect(chooseSyncStandbys({ ...base, mode: 'on', replication: rows })).toEqual(['b']);
    expect(chooseSyncStandbys({ ...base, mode: 'on', nodeCount: 2, replication: rows })).toEqual(['b', 'c']);
  });

  it('skips nosync, stopped, unknown, self and non-streaming rows', () => {
    const r = [row('n', 9), row('s', 9), row('x', 9), row('p', 9), row('a', 9, 'catchup')];
    expect(chooseSyncStandbys({ ...base, mode: 'quorum', replication: r })).toEqual([]);
  });

  it('lists every eligible standby in quorum mode, and none when off', () => {
    expect(chooseSyncStandbys({ ...base, mode: 'quorum', replication: rows })).toEqual(['b', 'c', 'a']);
    expect(chooseSyncStandbys({ ...base, mode: 'off', replication: rows })).toEqual([]);
  });

  it('on a lag tie orders by name; a current standby that still qualifies stays', () => {
    const tie = [row('a', 5), row('b', 5), row('c', 5)];
    expect(chooseSyncStandbys({ ...base, mode: 'on', replication: tie })).toEqual(['a']);
    expect(chooseSyncStandbys({ ...base, mode: 'on', current: ['c'], replication: tie })).toEqual(['c']);
    // another standby further ahead does not displace it
    expect(chooseSyncStandbys({ ...base, mode: 'on', current: ['a'], replication: rows })).toEqual(['a']);
    // once it stops streaming, the least lagging one replaces it
    const gone = rows.filter((r) => r.applicationName !== 'a');
    expect(chooseSyncStandbys({ ...base, mode: 'on', current: ['a'], replication: gone })).toEqual(['b']);
  });
});

describe('renderSsn / parseSsn', () => {
  it.each([
    ['on', ['a', 'b'], 2, 'FIRST 2 ("a","b")'],
    ['quorum', ['a', 'b', 'c'], 2, 'ANY 2 ("a","b","c")'],
    ['on', ['node-1', 'We"ird'], 1, 'FIRST 1 ("node-1","We""ird")'],
    ['on', [], 0, ''],
  ] as const)('renders %s %j %d', (mode, names, count, text) => {
    expect(renderSsn(mode, names, count)).toBe(text);
  });

  it('rejects a count outside 1..names', () => {
    expect(() => renderSsn('on', ['a'], 2)).toThrow(RangeError);
    expect(() => renderSsn('quorum', ['a'], 0)).toThrow(RangeError);
  });

  it.each<[string, ParsedSsn]>([
    ['', { kind: 'none' }],
    ['  ', { kind: 'none' }],
    ['*', { kind: 'anyStandby' }],
    ['a, b', { kind: 'first', count: 1, names: ['a', 'b'] }],
    ['2 (a, "B c")', { kind: 'first', count: 2, names: ['a', 'B c'] }],
    ['first 1 (a)', { kind: 'first', count: 1, names: ['a'] }],
    ['ANY 2 (a,b,c)', { kind: 'any', count: 2, names: ['a', 'b', 'c'] }],
    ['FIRST 1 (*)', { kind: 'first', count: 1, names: ['*'] }],
  ])('parses %j', (text, parsed) => {
    expect(parseSsn(text)).toEqual(parsed);
  });

  it.each(['ANY 2 (a,b', 'ANY (a)', 'a,', '"a', 'a b', '2 (a,,b)'])('rejects %j', (text) => {
    expect(() => parseSsn(text)).toThrow(SyntaxError);
  });
});

const key = (syncStandbys: string[], quorum: number | null = null, leader = 'p'): SyncKeyValue => ({
  leader,
  syncStandbys,
  quorum,
});

describe('planSyncUpdate, on mode', () => {
  const on = { mode: 'on' as const, strict: false, nodeCount: 1, leader: 'p' };

  it('adds a standby: ssn first, await it, then the key', () => {
    expect(planSyncUpdate({ ...on, key: null, ssn: parseSsn(''), desired: ['a'] })).toEqual([
      { kind: 'writeSyncKey', value: key([]) },
      { kind: 'setSsn', value: 'FIRST 1 ("a")' },
      { kind: 'awaitCaughtUp', names: ['a'], count: 1 },
      { kind: 'writeSyncKey', value: key(['a']) },
    ]);
  });

  it('replaces a standby: key narrowed before the ssn drops it', () => {
    expect(
      planSyncUpdate({ ...on, key: key(['a']), ssn: parseSsn('FIRST 1 ("a")'), desired: ['b'] }),
    ).toEqual([
      { kind: 'writeSyncKey', value: key([]) },
      { kind: 'setSsn', value: 'FIRST 1 ("b")' },
      { kind: 'awaitCaughtUp', names: ['b'], count: 1 },
      { kind: 'writeSyncKey', value: key(['b']) },
    ]);
  });

  it('nothing to do when key and ssn already match', () => {
    expect(
      planSyncUpdate({ ...on, key: key(['a']), ssn: parseSsn('FIRST 1 ("a")'), desired: ['a'] }),
    ).toEqual([]);
  });

  it('no standby left: non-strict degrades to an empty ssn and records it in the key', () => {
    expect(planSyncUpdate({ ...on, key: key(['a']), ssn: parseSsn('FIRST 1 ("a")'), desired: [] })).toEqual([
      { kind: 'writeSyncKey', value: key([]) },
      { kind: 'setSsn', value: '' },
    ]);
  });

  it('no standby left: strict blocks commits with *', () => {
    expect(
      planSyncUpdate({ ...on, strict: true, key: key(['a']), ssn: parseSsn('FIRST 1 ("a")'), desired: [] }),
    ).toEqual([
      { kind: 'writeSyncKey', value: key([]) },
      { kind: 'setSsn', value: '*' },
    ]);
  });

  it('a key left by another leader is rewritten empty first', () => {
    const steps = planSyncUpdate({
      ...on,
      key: key(['p', 'b'], null, 'a'),
      ssn: parseSsn(''),
      desired: ['b'],
    });
    expect(steps[0]).toEqual({ kind: 'writeSyncKey', value: key([]) });
    expect(steps.at(-1)).toEqual({ kind: 'writeSyncKey', value: key(['b']) });
  });
});

describe('planSyncUpdate, quorum mode', () => {
  const q = { mode: 'quorum' as const, strict: false, nodeCount: 1, leader: 'p' };

  it('adds a standby: the key is widened before the ssn', () => {
    expect(
      planSyncUpdate({
        ...q,
        key: key(['a', 'b'], 1),
        ssn: parseSsn('ANY 1 ("a","b")'),
        desired: ['a', 'b', 'c'],
      }),
    ).toEqual([
      { kind: 'writeSyncKey', value: key(['a', 'b', 'c'], 1) },
      { kind: 'setSsn', value: 'ANY 1 ("a","b","c")' },
    ]);
  });

  it('removes a standby: ssn narrowed, then await, then the key', () => {
    expect(
      planSyncUpdate({
        ...q,
        key: key(['a', 'b', 'c'], 1),
        ssn: parseSsn('ANY 1 ("a","b","c")'),
        desired: ['a', 'b'],
      }),
    ).toEqual([
      // unchanged, but kept: its CAS proves the key before the ssn changes
      { kind: 'writeSyncKey', value: key(['a', 'b', 'c'], 1) },
      { kind: 'setSsn', value: 'ANY 1 ("a","b")' },
      { kind: 'awaitCaughtUp', names: ['a', 'b'], count: 1 },
      { kind: 'writeSyncKey', value: key(['a', 'b'], 1) },
    ]);
  });

  it('raising k lowers nothing early: the key count rises only after the await', () => {
    const steps = planSyncUpdate({
      ...q,
      nodeCount: 2,
      key: key(['a', 'b'], 1),
      ssn: parseSsn('ANY 1 ("a","b")'),
      desired: ['a', 'b'],
    });
    expect(steps).toEqual([
      { kind: 'writeSyncKey', value: key(['a', 'b'], 1) },
      { kind: 'setSsn', value: 'ANY 2 ("a","b")' },
      { kind: 'awaitCaughtUp', names: ['a', 'b'], count: 2 },
      { kind: 'writeSyncKey', value: key(['a', 'b'], 2) },
    ]);
  });
});

describe('planSyncUpdate: the key is proven before the ssn changes', () => {
  it('keeps an unchanged key write ahead of an ssn change (a stale view fails its CAS), drops it otherwise', () => {
    const stale = { leader: 'p', syncStandbys: [], quorum: null };
    const steps = planSyncUpdate({
      key: stale,
      ssn: parseSsn('FIRST 1 ("a")'),
      desired: [],
      mode: 'on',
      strict: false,
      nodeCount: 1,
      leader: 'p',
    });
    expect(steps).toEqual([
      { kind: 'writeSyncKey', value: stale },
      { kind: 'setSsn', value: '' },
    ]);
    const steady = planSyncUpdate({
      key: { leader: 'p', syncStandbys: ['a'], quorum: null },
      ssn: parseSsn('FIRST 1 ("a")'),
      desired: ['a'],
      mode: 'on',
      strict: false,
      nodeCount: 1,
      leader: 'p',
    });
    expect(steady).toEqual([]);
  });
});

describe('quorumPromotionSafe', () => {
  const syncKey = { syncStandbys: ['a', 'b', 'c'], quorum: 2 };
  const seen = (entries: [string, number | null][]) =>
    new Map(entries.map(([n, l]) => [n, l === null ? null : toLsn(l)]));

  it.each<[string, [string, number | null][], number, boolean, string | undefined]>([
    ['sees 2 of 3 with ANY 2, and is ahead', [['b', 90]], 100, true, undefined],
    ['sees 2 of 3 with ANY 2, equal positions', [['b', 100]], 100, true, undefined],
    ['another seen member is further', [['b', 120]], 100, false, 'QUORUM_NOT_AHEAD'],
    ['sees only itself', [], 100, false, 'QUORUM_TOO_FEW_SEEN'],
    ['a peer with unknown position does not count', [['b', null]], 100, false, 'QUORUM_TOO_FEW_SEEN'],
    ['an unlisted peer does not count', [['z', 10]], 100, false, 'QUORUM_TOO_FEW_SEEN'],
  ])('%s', (_title, peers, selfLsn, safe, code) => {
    const v = quorumPromotionSafe({
      syncKey,
      reachableStatuses: seen(peers),
      selfName: 'a',
      selfLsn: toLsn(selfLsn),
    });
    expect(v.safe).toBe(safe);
    if (!v.safe) expect(v.code).toBe(code);
  });

  it('refuses an unlisted candidate and a key with quorum 0', () => {
    const none = seen([['b', 1]]);
    expect(
      quorumPromotionSafe({ syncKey, reachableStatuses: none, selfName: 'z', selfLsn: toLsn(9) }),
    ).toMatchObject({
      code: 'QUORUM_NOT_LISTED',
    });
    expect(
      quorumPromotionSafe({
        syncKey: { ...syncKey, quorum: 0 },
        reachableStatuses: none,
        selfName: 'a',
        selfLsn: toLsn(9),
      }),
    ).toMatchObject({ code: 'QUORUM_NO_GUARANTEE' });
  });

  it('ANY 3 of 3: any one member is enough', () => {
    const v = quorumPromotionSafe({
      syncKey: { ...syncKey, quorum: 3 },
      reachableStatuses: new Map(),
      selfName: 'c',
      selfLsn: toLsn(1),
    });
    expect(v.safe).toBe(true);
  });
});

describe('sync key storage (Patroni layout: quorum = N − k)', () => {
  it('reads k from the stored quorum, and writes it back the same', () => {
    const state = { leader: 'a', syncStandbys: ['c', 'b', 'd'], quorum: 1, modRevision: '7' };
    const key = syncKeyFromState(state, 'quorum');
    expect(key).toEqual({ leader: 'a', syncStandbys: ['b', 'c', 'd'], quorum: 2 });
    expect(storedSyncFromKey(key as SyncKeyValue)).toEqual({
      leader: 'a',
      syncStandbys: ['b', 'c', 'd'],
      quorum: 1,
    });
  });
  it('on mode: quorum 0 stored, null in memory; a missing quorum means all listed acknowledged', () => {
    expect(storedSyncFromKey({ leader: 'a', syncStandbys: ['b'], quorum: null }).quorum).toBe(0);
    expect(acksPerCommit({ syncStandbys: ['b', 'c'], quorum: null })).toBe(2);
    expect(acksPerCommit({ syncStandbys: ['b', 'c'], quorum: 5 })).toBe(0);
    expect(
      syncKeyFromState({ leader: null, syncStandbys: [], quorum: 0, modRevision: '1' }, 'on'),
    ).toBeNull();
  });
  it('round-trips any key through storage', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'd', 'e'), { maxLength: 5 }),
        fc.nat(6),
        (names, k) => {
          const key: SyncKeyValue = {
            leader: 'x',
            syncStandbys: [...names].sort(),
            quorum: Math.min(k, names.length),
          };
          const back = syncKeyFromState({ ...storedSyncFromKey(key), modRevision: '1' }, 'quorum');
          expect(back).toEqual(key);
        },
      ),
    );
  });
});

describe('ssnForKey', () => {
  const key = (names: string[], quorum: number | null, leader = 'a'): SyncKeyValue => ({
    leader,
    syncStandbys: names,
    quorum,
  });
  it('keeps the promise of a key that names us', () => {
    expect(ssnForKey('on', false, key(['b', 'c'], null), 'a')).toBe('FIRST 2 ("b","c")');
    expect(ssnForKey('quorum', false, key(['b', 'c'], 1), 'a')).toBe('ANY 1 ("b","c")');
  });
  it('promises nothing for a key of another leader, an empty key or quorum 0', () => {
    for (const k of [null, key(['b'], null, 'z'), key([], null), key(['b', 'c'], 0)]) {
      const mode = k?.quorum === 0 ? 'quorum' : 'on';
      expect(ssnForKey(mode, false, k, 'a')).toBe('');
      expect(ssnForKey(mode, true, k, 'a')).toBe('*');
    }
  });
  it('off: always empty', () => {
    expect(ssnForKey('off', true, key(['b'], null), 'a')).toBe('');
  });
});
