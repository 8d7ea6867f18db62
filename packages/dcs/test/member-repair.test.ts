import type { MemberJson } from '@hapg/core';
import { afterEach, describe, expect, it } from 'vitest';
import { EtcdStore } from '../src/store.js';
import { MemoryEtcd } from './memory-backend.js';
import { until } from './until.js';

/** Issue 11, item 7: a member key another tool deleted or overwrote is written again. */

const stores: EtcdStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

const json = (over: Partial<MemberJson> = {}): MemberJson => ({
  conn_url: 'postgres://10.0.0.1:5432/postgres',
  api_url: 'http://10.0.0.1:8008/patroni',
  state: 'running',
  role: 'replica',
  version: '0.1.0',
  xlog_location: 1000,
  timeline: 1,
  ...over,
});

async function open(etcd: MemoryEtcd, repairMs = 0) {
  const warnings: { obj: object; msg: string }[] = [];
  const logger = {
    debug() {},
    info() {},
    warn: (obj: object, msg: string) => void warnings.push({ obj, msg }),
    error() {},
  };
  const store = await EtcdStore.open({
    hosts: ['memory:2379'],
    scope: 'demo',
    name: 'n1',
    backend: etcd,
    logger,
    resyncIntervalMs: 60_000,
    memberRepairIntervalMs: repairMs,
  });
  stores.push(store);
  await store.startLease();
  return { store, warnings, key: store.keys.member('n1') };
}

const settle = () => new Promise((r) => setTimeout(r, 50));

describe('member key repair (watch-driven)', () => {
  it.each([
    ['deleted', (e: MemoryEtcd, key: string) => e.tool.del(key)],
    [
      'spoofed: stopped, timeline 999, another host, no lease',
      (e: MemoryEtcd, key: string) =>
        e.tool.put(
          key,
          JSON.stringify(json({ state: 'stopped', timeline: 999, conn_url: 'postgres://evil:1/x' })),
        ),
    ],
    ['garbage', (e: MemoryEtcd, key: string) => e.tool.put(key, 'garbage')],
    [
      'our very value, but bound to no lease',
      (e: MemoryEtcd, key: string) => e.tool.put(key, JSON.stringify(json())),
    ],
  ])('%s: written again, under our lease, though our value did not change', async (_name, tamper) => {
    const etcd = new MemoryEtcd();
    const { store, warnings, key } = await open(etcd);
    expect(await store.writeMember(json())).toBe(true);
    await settle();
    const ours = etcd.get(key)!;
    expect(ours.lease).toBe(store.leaseId());
    tamper(etcd, key);
    const back = await until('the member key back', () => {
      const kv = etcd.get(key);
      return kv !== null && kv.modRevision !== ours.modRevision && kv.lease === store.leaseId() && kv;
    });
    expect(JSON.parse(back.value)).toEqual(json());
    expect(warnings.map((w) => w.msg)).toContain(
      'our member key was changed by someone else: writing it again',
    );
    // the loop's next write of the same value is still skipped: the repair recorded it
    expect(await store.writeMember(json())).toBe(false);
  });

  it('our own writes never trigger a repair', async () => {
    const etcd = new MemoryEtcd();
    const { store, warnings, key } = await open(etcd);
    for (let i = 0; i < 20; i++) {
      await store.writeMember(json({ xlog_location: 1000 + i }));
      await new Promise((r) => setImmediate(r));
    }
    await settle();
    expect(etcd.puts.filter((p) => p.key === key)).toHaveLength(20);
    expect(warnings).toEqual([]);
    expect(JSON.parse(etcd.get(key)!.value).xlog_location).toBe(1019);
  });

  it('repairs at most once per interval: two agents with one name do not spin', async () => {
    const etcd = new MemoryEtcd();
    const { store, key } = await open(etcd, 300);
    await store.writeMember(json());
    await settle();
    const before = etcd.puts.filter((p) => p.key === key).length;
    // "the other agent" overwrites every time ours is back
    const started = Date.now();
    while (Date.now() - started < 500) {
      const kv = etcd.get(key);
      if (kv?.lease !== '0') etcd.tool.put(key, JSON.stringify(json({ conn_url: 'postgres://twin:5432/x' })));
      await new Promise((r) => setTimeout(r, 5));
    }
    const repairs = etcd.puts.filter((p) => p.key === key && p.lease !== '0').length - before;
    expect(repairs).toBeGreaterThanOrEqual(1);
    expect(repairs).toBeLessThanOrEqual(3);
  });

  it('removeLeaderAt deletes only the revision it was given', async () => {
    const etcd = new MemoryEtcd();
    const { store } = await open(etcd);
    etcd.tool.put(store.keys.leader, 'ghost');
    const seen = etcd.get(store.keys.leader)!.modRevision;
    etcd.tool.put(store.keys.leader, 'ghost2');
    expect(await store.removeLeaderAt(seen)).toBe(false);
    expect(etcd.get(store.keys.leader)?.value).toBe('ghost2');
    expect(await store.removeLeaderAt(etcd.get(store.keys.leader)!.modRevision)).toBe(true);
    expect(etcd.get(store.keys.leader)).toBeNull();
    expect(await store.acquireLeader()).toBe(true);
  });

  it('removeLeaderAt with a member: only while that member key is as the caller saw it', async () => {
    const etcd = new MemoryEtcd();
    const { store } = await open(etcd);
    etcd.tool.put(store.keys.leader, 'node9');
    const leaderRev = etcd.get(store.keys.leader)!.modRevision;
    // seen absent, but written since (a stalled view): the key stays
    etcd.tool.put(store.keys.member('node9'), JSON.stringify(json()));
    expect(await store.removeLeaderAt(leaderRev, { name: 'node9', modRevision: null })).toBe(false);
    expect(etcd.get(store.keys.leader)?.value).toBe('node9');
    // seen at an older revision: stays; at the current one: removed
    const memberRev = etcd.get(store.keys.member('node9'))!.modRevision;
    etcd.tool.put(store.keys.member('node9'), JSON.stringify(json({ state: 'stopped' })));
    expect(await store.removeLeaderAt(leaderRev, { name: 'node9', modRevision: memberRev })).toBe(false);
    const now = etcd.get(store.keys.member('node9'))!.modRevision;
    expect(await store.removeLeaderAt(leaderRev, { name: 'node9', modRevision: now })).toBe(true);
    expect(etcd.get(store.keys.leader)).toBeNull();
  });
});
