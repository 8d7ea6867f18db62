import { isHapgError } from '@hapg/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { LeaseRemaining } from '../src/backend.js';
import { EtcdStore } from '../src/store.js';
import { MemoryEtcd } from './memory-backend.js';

/** `EtcdStore.leaseTimeToLive` (fast failover, condition (e)) over the in-memory etcd. */

const stores: EtcdStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

async function open(etcd: MemoryEtcd, retryTimeoutMs = 1000): Promise<EtcdStore> {
  const store = await EtcdStore.open({
    hosts: ['memory:2379'],
    scope: 'demo',
    name: 'n2',
    backend: etcd,
    watch: false,
    retryTimeoutMs,
    callTimeoutMs: 200,
  });
  stores.push(store);
  return store;
}

/** fails its first `failures` LeaseTimeToLive calls as an unreachable member would */
class FlakyEtcd extends MemoryEtcd {
  calls = 0;
  constructor(readonly failures: number) {
    super();
  }
  override async leaseTimeToLive(leaseId: string): Promise<LeaseRemaining | null> {
    if (++this.calls <= this.failures) throw new Error('unavailable');
    return super.leaseTimeToLive(leaseId);
  }
}

describe('EtcdStore.leaseTimeToLive', () => {
  it("reports another member's lease: granted, aged, renewed, revoked", async () => {
    const etcd = new MemoryEtcd();
    const store = await open(etcd);
    const { id } = await etcd.grantLease(10);
    expect(await store.leaseTimeToLive(id)).toEqual({ remainingS: 10, grantedS: 10 });
    etcd.leases.setRemaining(id, 7);
    expect(await store.leaseTimeToLive(id)).toEqual({ remainingS: 7, grantedS: 10 });
    await etcd.keepAliveOnce(id);
    expect(await store.leaseTimeToLive(id)).toEqual({ remainingS: 10, grantedS: 10 });
    await etcd.revokeLease(id);
    expect(await store.leaseTimeToLive(id)).toBeNull();
    expect(await store.leaseTimeToLive('12345')).toBeNull();
  });

  it('retries a failing call within retry_timeout', async () => {
    const etcd = new FlakyEtcd(2);
    const store = await open(etcd);
    const { id } = await etcd.grantLease(5);
    expect(await store.leaseTimeToLive(id)).toEqual({ remainingS: 5, grantedS: 5 });
    expect(etcd.calls).toBe(3);
  });

  it('rejects with DCS_UNAVAILABLE once retry_timeout is spent', async () => {
    const etcd = new FlakyEtcd(Number.POSITIVE_INFINITY);
    const store = await open(etcd, 300);
    const err = await store.leaseTimeToLive('100').catch((e: unknown) => e);
    expect(isHapgError(err) && err.code).toBe('DCS_UNAVAILABLE');
  });
});
