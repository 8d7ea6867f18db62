import { isHapgError, malformedKey } from '@hapg/core';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { Compare, Kv, Op, TxnResult } from '../src/backend.js';
import { clusterKeys } from '../src/keys.js';
import { parseFailsafe } from '../src/parse.js';
import { serializeFailsafe } from '../src/serialize.js';
import { EtcdStore } from '../src/store.js';
import { buildView } from '../src/view.js';
import { MemoryEtcd } from './memory-backend.js';

/** docs/failsafe.md: the `failsafe` key (K1–K3) and the acquire compare (M5), without a real etcd. */

const meta = { modRevision: '42', lease: '0' };
const keys = clusterKeys('/service', 'demo');
const kv = (suffix: string, value: string, extra: Partial<Kv> = {}): Kv => ({
  key: `/service/demo/${suffix}`,
  value,
  createRevision: '5',
  modRevision: '9',
  lease: '0',
  ...extra,
});

describe('parseFailsafe', () => {
  it("parses Patroni's object of member name → api_url, with the key's mod revision", () => {
    const p = parseFailsafe(
      '{"node1":"http://10.0.0.1:8008/patroni","node2":"http://10.0.0.2:8008/patroni"}',
      meta,
    );
    expect(p).toEqual({
      ok: true,
      value: {
        members: new Map([
          ['node1', 'http://10.0.0.1:8008/patroni'],
          ['node2', 'http://10.0.0.2:8008/patroni'],
        ]),
        modRevision: '42',
      },
    });
    expect(parseFailsafe('{}', meta)).toEqual({ ok: true, value: { members: new Map(), modRevision: '42' } });
  });

  it.each([
    ['not JSON', '{"node1":'],
    ['a list', '["node1"]'],
    ['a string', '"node1"'],
    ['null', 'null'],
    ['a number as api_url', '{"node1":"http://10.0.0.1:8008/patroni","node2":8008}'],
    ['null as api_url', '{"node1":null}'],
    ['an object as api_url', '{"node1":{"api_url":"http://10.0.0.1:8008/patroni"}}'],
  ])('rejects a value that is %s, without throwing', (_why, text) => {
    const p = parseFailsafe(text, meta);
    expect(p.ok).toBe(false);
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        expect(typeof parseFailsafe(text, meta).ok).toBe('boolean');
      }),
    );
  });

  it('round-trips through serializeFailsafe: compact, names sorted, the same bytes for a map or an object', () => {
    const members = { node2: 'http://10.0.0.2:8008/patroni', '10': 'http://x/patroni', node1: 'http://y' };
    const text = serializeFailsafe(members);
    // sorted as strings: a JS object would have put the integer-like name first whatever the order
    expect(text).toBe('{"10":"http://x/patroni","node1":"http://y","node2":"http://10.0.0.2:8008/patroni"}');
    expect(serializeFailsafe(new Map(Object.entries(members).reverse()))).toBe(text);
    const p = parseFailsafe(text, meta);
    expect(p.ok && Object.fromEntries(p.value.members)).toEqual(members);
    // a member called __proto__ is a name like any other
    const proto = serializeFailsafe(new Map([['__proto__', 'http://p']]));
    expect(proto).toBe('{"__proto__":"http://p"}');
    const q = parseFailsafe(proto, meta);
    expect(q.ok && [...q.value.members]).toEqual([['__proto__', 'http://p']]);
  });
});

describe('buildView: the failsafe key', () => {
  it('is null without the key, and the parsed key with it', () => {
    expect(buildView(keys, 'demo', '12', [kv('leader', 'n1', { lease: '77' })]).failsafe).toBeNull();
    const v = buildView(keys, 'demo', '12', [
      kv('failsafe', '{"n1":"http://n1/patroni"}', { modRevision: '11' }),
    ]);
    expect(v.failsafe).toEqual({ members: new Map([['n1', 'http://n1/patroni']]), modRevision: '11' });
    expect(v.malformed).toEqual([]);
  });

  it.each([
    ['not an object', '[1,2]'],
    ['a non-string value', '{"n1":1}'],
    ['malformed JSON', '{"n1":"http://n1'],
  ])('records a key that is %s in malformed, kind failsafe, and shows none', (_why, text) => {
    const v = buildView(keys, 'demo', '12', [kv('failsafe', text, { modRevision: '20' })]);
    expect(v.failsafe).toBeNull();
    expect(v.malformed).toHaveLength(1);
    expect(v.malformed[0]).toMatchObject({
      key: '/service/demo/failsafe',
      kind: 'failsafe',
      modRevision: '20',
    });
    expect(malformedKey(v, 'failsafe')?.modRevision).toBe('20');
  });
});

// ---- store over an in-memory etcd: the paths a real etcd cannot be made to take on demand ----

interface TxnCall {
  readonly compares: readonly Compare[];
  readonly success: readonly Op[];
  readonly failure: readonly Op[];
}

/** Records every txn; `afterCommit` can make one lose its answer after etcd applied it. */
class SpyEtcd extends MemoryEtcd {
  readonly txns: TxnCall[] = [];
  afterCommit: ((res: TxnResult) => void) | null = null;

  override async txn(
    compares: readonly Compare[],
    success: readonly Op[],
    failure: readonly Op[],
  ): Promise<TxnResult> {
    this.txns.push({ compares, success, failure });
    const res = await super.txn(compares, success, failure);
    const hook = this.afterCommit;
    this.afterCommit = null;
    hook?.(res);
    return res;
  }
}

const stores: EtcdStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

async function open(etcd: MemoryEtcd, name: string) {
  const infos: { obj: object; msg: string }[] = [];
  const logger = {
    debug() {},
    info: (obj: object, msg: string) => void infos.push({ obj, msg }),
    warn() {},
    error() {},
  };
  const store = await EtcdStore.open({
    hosts: ['memory:2379'],
    scope: 'demo',
    name,
    backend: etcd,
    logger,
    watch: false,
    retryTimeoutMs: 2000,
  });
  stores.push(store);
  await store.startLease();
  return { store, infos };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return isHapgError(e) ? e.code : `not a HapgError: ${String(e)}`;
  }
}

const lostAnswer = () => {
  throw new Error('answer lost');
};

describe('EtcdStore failsafe writes (in-memory etcd)', () => {
  it('writeFailsafe puts a permanent key, guarded by the leader key under our lease', async () => {
    const etcd = new SpyEtcd();
    const { store } = await open(etcd, 'n1');
    expect(await store.acquireLeader()).toBe(true);
    const rev = await store.writeFailsafe({ n2: 'http://n2/patroni', n1: 'http://n1/patroni' });
    const key = etcd.get(keys.failsafe);
    expect(key).toMatchObject({ value: '{"n1":"http://n1/patroni","n2":"http://n2/patroni"}', lease: '0' });
    expect(key?.modRevision).toBe(rev);
    expect(etcd.txns.at(-1)?.compares).toEqual([
      { key: keys.leader, target: 'value', value: 'n1' },
      { key: keys.leader, target: 'lease', lease: store.leaseId() },
    ]);
  });

  it('writeFailsafe retried after an attempt that committed and lost its answer resolves with the new revision', async () => {
    const etcd = new SpyEtcd();
    const { store } = await open(etcd, 'n1');
    expect(await store.acquireLeader()).toBe(true);
    etcd.afterCommit = lostAnswer;
    const rev = await store.writeFailsafe({ n1: 'http://n1/patroni' });
    expect(etcd.get(keys.failsafe)?.modRevision).toBe(rev);
  });

  it('writeFailsafe whose lost attempt committed before the leader key went: outcome unknown, not a conflict', async () => {
    const etcd = new SpyEtcd();
    const { store } = await open(etcd, 'n1');
    expect(await store.acquireLeader()).toBe(true);
    etcd.afterCommit = () => {
      etcd.tool.del(keys.leader); // the lease expired meanwhile
      throw new Error('answer lost');
    };
    // the key holds our value, perhaps by our hand: the caller must count it as written
    expect(await codeOf(store.writeFailsafe({ n1: 'http://n1/patroni' }))).toBe('DCS_UNAVAILABLE');
    // without an earlier attempt, the same refusal is a plain conflict
    expect(await codeOf(store.writeFailsafe({ n1: 'http://n1/patroni' }))).toBe('DCS_CAS_CONFLICT');
  });

  it('deleteFailsafe: deleted under the guard, silent when absent, a conflict when another leads and it exists', async () => {
    const etcd = new SpyEtcd();
    const { store } = await open(etcd, 'n1');
    const { store: other } = await open(etcd, 'n2');
    expect(await store.acquireLeader()).toBe(true);
    await store.writeFailsafe({ n1: 'http://n1/patroni' });
    expect(await codeOf(other.deleteFailsafe())).toBe('DCS_CAS_CONFLICT');
    expect(etcd.get(keys.failsafe)).not.toBeNull();
    await store.deleteFailsafe();
    expect(etcd.get(keys.failsafe)).toBeNull();
    await store.deleteFailsafe();
    await other.deleteFailsafe();
  });

  it('acquireLeader without options sends exactly the create-only txn of before', async () => {
    const etcd = new SpyEtcd();
    const { store } = await open(etcd, 'n1');
    expect(await store.acquireLeader()).toBe(true);
    expect(await store.acquireLeader({})).toBe(true);
    for (const t of etcd.txns.slice(-2)) {
      expect(t.compares).toEqual([{ key: keys.leader, target: 'create', revision: '0' }]);
      expect(t.failure).toEqual([{ op: 'get', key: keys.leader }]);
    }
  });

  it('acquireLeader compares the failsafe key: its mod revision, or its absence for null', async () => {
    const etcd = new SpyEtcd();
    const { store, infos } = await open(etcd, 'n2');
    etcd.tool.put(keys.failsafe, '{"n1":"http://n1/patroni"}');
    const rev = etcd.get(keys.failsafe)!.modRevision;
    expect(await store.acquireLeader({ failsafeModRevision: null })).toBe(false);
    expect(etcd.txns.at(-1)?.compares).toContainEqual({
      key: keys.failsafe,
      target: 'create',
      revision: '0',
    });
    expect(etcd.txns.at(-1)?.failure).toEqual([
      { op: 'get', key: keys.leader },
      { op: 'get', key: keys.failsafe },
    ]);
    expect(infos.at(-1)).toEqual({
      obj: { expectedModRevisions: { [keys.failsafe]: null }, foundModRevisions: { [keys.failsafe]: rev } },
      msg: 'a key the decision rested on (failsafe, sync, config) changed since its view: not taking the leader key',
    });
    expect(await store.acquireLeader({ failsafeModRevision: String(BigInt(rev) - 1n) })).toBe(false);
    expect(etcd.get(keys.leader)).toBeNull();
    expect(await store.acquireLeader({ failsafeModRevision: rev })).toBe(true);
    expect(etcd.txns.at(-1)?.compares).toContainEqual({ key: keys.failsafe, target: 'mod', revision: rev });
  });

  it('acquireLeader with a failsafe compare, retried after its commit lost the answer, still holds the key', async () => {
    const etcd = new SpyEtcd();
    const { store } = await open(etcd, 'n1');
    etcd.afterCommit = lostAnswer;
    expect(await store.acquireLeader({ failsafeModRevision: null })).toBe(true);
    expect(etcd.get(keys.leader)).toMatchObject({ value: 'n1', lease: store.leaseId() });
  });
});

/** docs/fast-failover.md: the takeover transaction, and the sync compare of the acquire. */
describe('EtcdStore fast takeover and the sync compare (in-memory etcd)', () => {
  async function withSyncKey() {
    const etcd = new SpyEtcd();
    const p = await open(etcd, 'p');
    const s = await open(etcd, 's');
    expect(await p.store.acquireLeader()).toBe(true);
    const syncRev = await p.store.casSync({ leader: 'p', syncStandbys: ['s'], quorum: 0 }, null);
    const leader = etcd.get(keys.leader)!;
    const takeover = {
      leader: 'p',
      leaderModRevision: leader.modRevision,
      syncModRevision: syncRev,
      configModRevision: null,
      failsafeModRevision: null,
    };
    return { etcd, p: p.store, s: s.store, leader, takeover };
  }

  it('puts the key over the live one in one txn: our name and lease, its create revision kept', async () => {
    const { etcd, p, s, leader, takeover } = await withSyncKey();
    expect(await s.takeOverLeader(takeover)).toBe(true);
    const now = etcd.get(keys.leader)!;
    expect(now).toMatchObject({ value: 's', lease: s.leaseId(), createRevision: leader.createRevision });
    expect(s.ownLeaderCreateRevision()).toBe(leader.createRevision);
    expect(s.ownLeaderWriteRevision()).toBe(now.modRevision);
    expect(etcd.txns.at(-1)?.compares).toEqual([
      { key: keys.leader, target: 'mod', revision: leader.modRevision },
      { key: keys.leader, target: 'value', value: 'p' },
      { key: keys.sync, target: 'mod', revision: takeover.syncModRevision },
      { key: keys.config, target: 'create', revision: '0' },
      { key: keys.failsafe, target: 'create', revision: '0' },
    ]);
    // the old leader's guarded writes fail from now on
    await expect(
      p.casSync({ leader: 'p', syncStandbys: [], quorum: 0 }, takeover.syncModRevision),
    ).rejects.toThrow();
  });

  it('fails when the old leader rewrote the sync key first (the race, in that order)', async () => {
    const { etcd, p, s, takeover } = await withSyncKey();
    await p.casSync({ leader: 'p', syncStandbys: ['t'], quorum: 0 }, takeover.syncModRevision);
    expect(await s.takeOverLeader(takeover)).toBe(false);
    expect(etcd.get(keys.leader)?.value).toBe('p');
  });

  it.each([
    ['the leader key was rewritten', { leaderModRevision: '1' }],
    ['the key names someone else', { leader: 'x' }],
    ['the config key appeared', { configModRevision: '1' }],
    ['a failsafe key is expected that is not there', { failsafeModRevision: '1' }],
  ])('fails when %s', async (_why, over) => {
    const { etcd, s, takeover } = await withSyncKey();
    expect(await s.takeOverLeader({ ...takeover, ...over })).toBe(false);
    expect(etcd.get(keys.leader)?.value).toBe('p');
  });

  it('a retry after its commit lost the answer still holds the key', async () => {
    const { etcd, s, takeover } = await withSyncKey();
    etcd.afterCommit = lostAnswer;
    expect(await s.takeOverLeader(takeover)).toBe(true);
    expect(etcd.get(keys.leader)?.value).toBe('s');
  });

  it('acquireLeader compares the sync key the decision saw: a newer one (degraded, not listing us) refuses', async () => {
    const { etcd, p, s, takeover } = await withSyncKey();
    const newer = await p.casSync({ leader: 'p', syncStandbys: [], quorum: 0 }, takeover.syncModRevision);
    expect(await p.releaseLeader()).toBe(true);
    expect(await s.acquireLeader({ syncModRevision: takeover.syncModRevision })).toBe(false);
    expect(etcd.txns.at(-1)?.compares).toContainEqual({
      key: keys.sync,
      target: 'mod',
      revision: takeover.syncModRevision,
    });
    expect(await s.acquireLeader({ syncModRevision: newer })).toBe(true);
  });
});

/** docs/fast-failover.md, quorum mode: `release/<member>` keys and the takeover that counts them. */
describe('EtcdStore stream releases (in-memory etcd)', () => {
  async function quorum() {
    const etcd = new SpyEtcd();
    const p = await open(etcd, 'p');
    const s = await open(etcd, 's');
    const t = await open(etcd, 't');
    expect(await p.store.acquireLeader()).toBe(true);
    const syncRev = await p.store.casSync({ leader: 'p', syncStandbys: ['s', 't'], quorum: 1 }, null);
    const leader = etcd.get(keys.leader)!;
    const bound = { leader: 'p', leaderRevision: leader.modRevision };
    const release = { ...bound, timeline: 3 as never, flushLsn: 0x3000060n as never };
    /** s's takeover from p, counting t's release at its current revision */
    const takeover = () => ({
      leader: 'p',
      leaderModRevision: leader.modRevision,
      syncModRevision: syncRev,
      configModRevision: null,
      failsafeModRevision: null,
      releases: [{ member: 't', modRevision: etcd.get(keys.release('t'))!.modRevision }],
    });
    return { etcd, p: p.store, s: s.store, t: t.store, leader, bound, release, takeover };
  }

  it('putRelease writes the key under our lease, guarded by the released leader key, and parses back', async () => {
    const { etcd, t, leader, release } = await quorum();
    expect(await t.putRelease(release)).toBe(true);
    const kv = etcd.get(keys.release('t'))!;
    expect(kv.lease).toBe(t.leaseId());
    expect(etcd.txns.at(-1)?.compares).toEqual([
      { key: keys.leader, target: 'mod', revision: leader.modRevision },
      { key: keys.leader, target: 'value', value: 'p' },
    ]);
    const view = buildView(keys, 'demo', '99', [kv]);
    expect(view.releases?.get('t')).toEqual({
      member: 't',
      leader: 'p',
      leaderRevision: leader.modRevision,
      timeline: 3,
      flushLsn: 0x3000060n,
      modRevision: kv.modRevision,
    });
  });

  it('a release for a leader key that moved is refused (a promise nobody could count)', async () => {
    const { t, release } = await quorum();
    expect(await t.putRelease({ ...release, leaderRevision: '1' })).toBe(false);
  });

  it('the takeover compares each counted release: a withdrawn one fails it', async () => {
    const { etcd, s, t, bound, release, takeover } = await quorum();
    await t.putRelease(release);
    const counted = takeover();
    expect(await t.withdrawRelease(bound)).toBe(true);
    expect(etcd.get(keys.release('t'))).toBeNull();
    expect(await s.takeOverLeader(counted)).toBe(false);
    // released again: a new revision, which a takeover must have read
    await t.putRelease(release);
    expect(await s.takeOverLeader(counted)).toBe(false);
    const again = takeover();
    expect(await s.takeOverLeader(again)).toBe(true);
    expect(etcd.txns.at(-1)?.compares).toContainEqual({
      key: keys.release('t'),
      target: 'mod',
      revision: again.releases[0]!.modRevision,
    });
  });

  it('after a takeover the withdrawal fails (the release was counted), and the void one can be deleted', async () => {
    const { etcd, s, t, bound, release, takeover } = await quorum();
    await t.putRelease(release);
    expect(await s.takeOverLeader(takeover())).toBe(true);
    expect(await t.withdrawRelease(bound)).toBe(false);
    expect(etcd.get(keys.release('t'))).not.toBeNull();
    await t.deleteRelease();
    expect(etcd.get(keys.release('t'))).toBeNull();
  });

  it('a malformed release is recorded, never counted', () => {
    const view = buildView(keys, 'demo', '99', [
      kv('release/t', '{"leader":"p","leader_revision":"7"}'),
      kv('release/u', '{"leader":"p","leader_revision":"x7","flush_lsn":5}'),
    ]);
    expect(view.releases?.size).toBe(0);
    expect(view.malformed.map((m) => [m.kind, m.error])).toEqual([
      ['release', 'flush_lsn is missing'],
      ['release', 'leader_revision is not an etcd revision: "x7"'],
    ]);
  });
});
