import { type EtcdCluster, NetLab, sleep, startEtcd } from '@hapg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEtcd3Backend, type Etcd3Backend, type EtcdStore, keepaliveTimeoutMs } from '../src/index.js';
import { defaultCallTimeoutMs } from '../src/retry.js';
import { freshScope, member, openStore } from './helpers.js';

/**
 * One etcd member of three cut off by dropped packets, under a leader's lease renewals and
 * member writes, as production runs them (ttl 10, retry_timeout 10). Before the member health
 * of host-health.ts, etcd3 sent each new keepalive stream to a random member: after a renewal
 * timed out on the cut member the next stream went back to it one time in three, and a
 * renewal spell could fail until the lease deadline (a 9.1 s write stall in the chaos run of
 * 2026-12-03); and its breaker let real calls find out whether the member was back. Each
 * round here cuts the member the keepalive stream is on.
 */
const TTL_S = 10;
const RETRY_TIMEOUT_MS = 10_000;
/** the store's own split of retry_timeout over three members */
const CALL_TIMEOUT_MS = defaultCallTimeoutMs(RETRY_TIMEOUT_MS, 3);
const ACTIVE_RENEWAL_MS = 250; // a leader with writes to protect (primary_isolation_timeout 1 s / 4)
const CUT_MS = 8000;
const ROUNDS = 3;

describe('one etcd member cut off (packets dropped)', () => {
  let lab: NetLab;
  let etcd: EtcdCluster;
  let backend: Etcd3Backend;
  let store: EtcdStore;

  beforeAll(async () => {
    lab = await NetLab.create(['etcd1', 'etcd2', 'etcd3']);
    etcd = await startEtcd({ members: 3, hosts: lab.hosts });
    backend = createEtcd3Backend({ hosts: etcd.endpoints, defaultCallTimeoutMs: CALL_TIMEOUT_MS });
    store = await openStore(etcd.endpoints, {
      scope: freshScope('cut'),
      name: 'L',
      ttlSeconds: TTL_S,
      retryTimeoutMs: RETRY_TIMEOUT_MS,
      backend,
    });
  });
  afterAll(async () => {
    await store?.close();
    await etcd?.close();
    await lab?.close();
  });

  it('renewals move to another member within one keepalive timeout, and calls stop going to the cut one', async () => {
    await store.startLease();
    await store.writeMember(member('L', { role: 'primary' }));
    expect(await store.acquireLeader()).toBe(true);
    store.setRenewal({ intervalMs: ACTIVE_RENEWAL_MS, overdueMs: ACTIVE_RENEWAL_MS });
    const renewedAt: number[] = [];
    let deadlines = 0;
    store.on('renewed', () => renewedAt.push(performance.now()));
    store.on('deadline', () => deadlines++);
    await sleep(1000);

    const byEndpoint = new Map(etcd.members.map((m) => [m.endpoint, m.host!.name]));
    const everyone = [...lab.hosts.map((h) => h.name), 'clients'];
    const keepaliveTimeout = keepaliveTimeoutMs(TTL_S * 1000, CALL_TIMEOUT_MS);
    const rounds: {
      cut: string;
      gapMs: number;
      slowWrites: number;
      writes: number;
      movedTo: string | null;
    }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const carrier = backend.keepAliveHost();
      expect(carrier).not.toBeNull();
      const cut = byEndpoint.get(carrier!)!;
      await lab.cut(
        cut,
        everyone.filter((h) => h !== cut),
      );
      const cutAt = performance.now();
      let writes = 0;
      let slowWrites = 0;
      while (performance.now() - cutAt < CUT_MS) {
        const t0 = performance.now();
        await store.writeMember(member('L', { role: 'primary', xlog_location: round * 1000 + writes }));
        writes++;
        if (performance.now() - t0 > 1000) slowWrites++;
        await sleep(200);
      }
      const during = [cutAt, ...renewedAt.filter((t) => t > cutAt), performance.now()];
      const gapMs = Math.max(...during.slice(1).map((t, i) => t - during[i]!));
      rounds.push({ cut, gapMs: Math.round(gapMs), slowWrites, writes, movedTo: backend.keepAliveHost() });
      await lab.heal(cut);
      await sleep(2000);
    }
    console.log(`member cut rounds: ${JSON.stringify(rounds)}`);

    expect(deadlines).toBe(0);
    for (const r of rounds) {
      // one renewal waits out its timeout on the cut member, the next goes elsewhere and is
      // answered: 2.7–3.6 s measured (before: 1 in 3 went back to the cut member, another full
      // timeout each, 5.2 and 5.9 s in the first two runs)
      expect(r.gapMs).toBeLessThan(keepaliveTimeout + 2000);
      expect(byEndpoint.get(r.movedTo!)).not.toBe(r.cut);
      // one write may meet the cut member before the keepalive shows it gone (the writes run
      // one after another); after that none does until it answers a probe (before: once the
      // breaker half-opened, every third call waited out its deadline there again)
      expect(r.slowWrites).toBeLessThanOrEqual(1);
    }
  });
});
