import { afterEach, describe, expect, it } from 'vitest';
import { EtcdStore } from '../src/store.js';
import { MemoryEtcd } from './memory-backend.js';
import { until } from './until.js';

/** Issue 15: the view is fed by the watch's events; full lists only at (re)connects and rarely. */

const stores: EtcdStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

async function open(etcd: MemoryEtcd, unwatchedListIntervalMs = 60_000) {
  const store = await EtcdStore.open({
    hosts: ['memory:2379'],
    scope: 'demo',
    name: 'n1',
    backend: etcd,
    resyncIntervalMs: 60_000,
    unwatchedListIntervalMs,
  });
  stores.push(store);
  return store;
}

const settle = (ms = 50) => new Promise((r) => setTimeout(r, ms));

describe('watch-fed view', () => {
  it('applies writes and deletes from the watch without listing again', async () => {
    const etcd = new MemoryEtcd();
    const store = await open(etcd);
    await settle();
    const lists = store.listCount();
    const key = store.keys.leader;
    etcd.tool.put(key, 'n2', '0');
    const v = await until('leader in view', () => store.view()?.leader?.name === 'n2' && store.view());
    expect(v.revision).toBe(etcd.get(key)!.modRevision);
    let deleted = 0;
    store.on('leader-deleted', () => deleted++);
    etcd.tool.del(key);
    await until('leader gone', () => store.view()?.leader === null);
    expect(deleted).toBe(1);
    await store.casConfig({ ttl: 10 }, null);
    await until('config in view', () => store.view()?.config?.value.ttl === 10);
    expect(store.listCount()).toBe(lists);
  });

  it('ignores an event at or below the revision it already has', async () => {
    const etcd = new MemoryEtcd();
    const store = await open(etcd);
    etcd.tool.put(store.keys.leader, 'n2');
    const seen = await until('leader', () => store.view()?.leader);
    // a replayed delete of the key at its own revision (older than what the view holds)
    etcd.watches.deliver(seen.modRevision, [
      {
        type: 'delete',
        kv: {
          key: store.keys.leader,
          value: '',
          createRevision: '0',
          modRevision: seen.modRevision,
          lease: '0',
        },
      },
    ]);
    await settle();
    expect(store.view()?.leader?.name).toBe('n2');
  });

  it('re-lists after a reconnect (and once more later), and about every loop while the watch is down', async () => {
    const etcd = new MemoryEtcd();
    const store = await open(etcd, 100);
    await settle();
    const before = store.listCount();
    etcd.watches.break();
    // writes while the watch is down reach the view through the periodic list
    etcd.watches.deliver('0', []); // a stray empty response changes nothing
    etcd.tool.put(store.keys.config, '{"ttl":20}');
    await until('config via list', () => store.view()?.config?.value.ttl === 20, 1000);
    await settle(350);
    expect(store.listCount() - before).toBeGreaterThanOrEqual(3);
    etcd.watches.reconnect();
    await settle(100);
    const afterReconnect = store.listCount();
    await settle(300);
    // up again: no list every 100 ms any more
    expect(store.listCount() - afterReconnect).toBeLessThanOrEqual(1);
  });
});

describe('status key', () => {
  it('is written only when its value differs from the one in the view', async () => {
    const etcd = new MemoryEtcd();
    const store = await open(etcd);
    const status = { optime: 1234, slots: { n2: 1000 }, retainSlots: [] };
    expect(await store.putStatus(status)).not.toBeNull();
    await until('status in view', () => store.view()?.status?.optime === 1234);
    const puts = etcd.puts.length;
    expect(await store.putStatus({ ...status, slots: { n2: 1000 } })).toBeNull();
    expect(etcd.puts.length).toBe(puts);
    expect(await store.putStatus({ ...status, optime: 2000 })).not.toBeNull();
    expect(etcd.puts.length).toBe(puts + 1);
    // someone deleted it: written again
    await until('status in view', () => store.view()?.status?.optime === 2000);
    etcd.tool.del(store.keys.status);
    await until('status gone', () => store.view()?.status === null);
    expect(await store.putStatus({ ...status, optime: 2000 })).not.toBeNull();
  });
});
