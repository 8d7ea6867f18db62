import { isHapgError } from '@hapg/core';
import { type EtcdCluster, startEtcd, waitFor } from '@hapg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdStore } from '../src/index.js';
import { freshScope, member, openStore } from './helpers.js';

let etcd: EtcdCluster;
const stores: EtcdStore[] = [];

beforeAll(async () => {
  etcd = await startEtcd({ members: 1 });
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await etcd?.close();
});

async function open(scope: string, name?: string) {
  const s = await openStore(etcd.endpoints, name === undefined ? { scope } : { scope, name });
  stores.push(s);
  return s;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return isHapgError(e) ? e.code : `not a HapgError: ${String(e)}`;
  }
}

describe('CAS writes (real etcd)', () => {
  it('sync key: written and deleted only while holding the leader key', async () => {
    const scope = freshScope('sync');
    const leader = await open(scope, 'b');
    const other = await open(scope, 'c');
    await Promise.all([leader.startLease(), other.startLease()]);
    expect(await leader.acquireLeader()).toBe(true);
    const syncRev = await leader.casSync({ leader: 'b', syncStandbys: ['c', 'a'], quorum: 0 }, null);
    expect((await leader.readView()).sync).toEqual({
      leader: 'b',
      syncStandbys: ['a', 'c'],
      quorum: 0,
      modRevision: syncRev,
    });
    // right mod revision, but not the leader: refused, key unchanged
    expect(await codeOf(other.casSync({ leader: 'c', syncStandbys: [], quorum: 0 }, syncRev))).toBe(
      'DCS_CAS_CONFLICT',
    );
    expect(await codeOf(other.deleteSync(syncRev))).toBe('DCS_CAS_CONFLICT');
    expect(await codeOf(leader.deleteSync('1'))).toBe('DCS_CAS_CONFLICT');
    expect((await leader.readView()).sync?.modRevision).toBe(syncRev);
    await leader.deleteSync(syncRev);
    expect((await leader.readView()).sync).toBeNull();
  });

  it('stale mod revision → DCS_CAS_CONFLICT; create-only on an existing key → DCS_KEY_EXISTS', async () => {
    const s = await open(freshScope('cas'));
    const rev1 = await s.casConfig({ ttl: 30 }, null);
    expect(await codeOf(s.casConfig({ ttl: 20 }, null))).toBe('DCS_KEY_EXISTS');
    const rev2 = await s.casConfig({ ttl: 20 }, rev1);
    expect(BigInt(rev2)).toBeGreaterThan(BigInt(rev1));
    expect(await codeOf(s.casConfig({ ttl: 10 }, rev1))).toBe('DCS_CAS_CONFLICT');
    const v = await s.readView();
    expect(v.config).toEqual({ value: { ttl: 20 }, modRevision: rev2 });

    const hist = [
      {
        timeline: 1,
        switchLsn: 50_331_808,
        reason: 'no recovery target specified',
        time: '2026-01-01T00:00:00+00:00',
        newLeader: 'b',
      },
    ];
    const histRev = await s.casHistory(hist, null);
    expect((await s.readView()).history).toEqual({ entries: hist, modRevision: histRev });

    await s.putStatus({ optime: 1234, slots: { b: 1000 }, retainSlots: ['a', 'b'] });
    expect((await s.readView()).status).toEqual({
      optime: 1234,
      slots: { b: 1000 },
      retainSlots: ['a', 'b'],
    });
  });

  it('the bootstrap race has exactly one winner; initialize is set once', async () => {
    const scope = freshScope('init');
    const [a, b] = [await open(scope), await open(scope)];
    const wins = await Promise.all([a.tryInitialize(), b.tryInitialize(), a.tryInitialize()]);
    expect(wins.filter(Boolean)).toHaveLength(1);
    expect((await a.readView()).initialize).toBe('');
    await a.setInitialize('7312345678901234567');
    expect((await b.readView()).initialize).toBe('7312345678901234567');
    expect(await codeOf(b.setInitialize('1111'))).toBe('DCS_CAS_CONFLICT');
  });

  it('garbage member JSON lands in malformed; the view still builds; removeCluster clears the scope', async () => {
    const scope = freshScope('garbage');
    const s = await open(scope, 'good');
    await s.startLease();
    await s.writeMember(member('good'));
    await s.casRaw(s.keys.member('bad'), '{not json', null);
    await s.casRaw(s.keys.failover, '[1,2]', null);
    const v = await waitFor(
      () => {
        const view = s.view();
        return view && view.malformed.length === 2 ? view : null;
      },
      { timeoutMs: 5000, what: 'watch-fed view with the malformed keys' },
    );
    expect([...v.members.keys()]).toEqual(['good']);
    expect(v.malformed.map((m) => m.key).sort()).toEqual([s.keys.failover, s.keys.member('bad')].sort());
    expect(v.failover).toBeNull();

    const other = await open(freshScope('other'));
    await other.casConfig({ keep: true }, null);
    // from a store without a member key: a named one repairs its own key as soon as its watch
    // shows it deleted, which raced the read below (CI, session 12)
    await s.close({ revoke: true });
    const remover = await open(scope);
    await remover.removeCluster();
    const empty = await remover.readView();
    expect(empty.members.size + empty.malformed.length).toBe(0);
    expect((await other.readView()).config?.value).toEqual({ keep: true });
  });
});
