import { type EtcdCluster, startEtcd } from '@hapg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEtcd3Backend, type EtcdBackend, type EtcdStore } from '../src/index.js';
import { freshScope, openStore } from './helpers.js';

/** LeaseTimeToLive against a real etcd (fast failover, condition (e); docs/fast-failover.md). */

let etcd: EtcdCluster;
/** the other member: grants and revokes the lease the store then asks about */
let other: EtcdBackend;
let store: EtcdStore;
const limits = { timeoutMs: 2000 };

beforeAll(async () => {
  etcd = await startEtcd({ members: 1 });
  other = createEtcd3Backend({ hosts: etcd.endpoints, defaultCallTimeoutMs: 2000 });
  store = await openStore(etcd.endpoints, { scope: freshScope('lease-ttl'), name: 'n2' });
});

afterAll(async () => {
  await store?.close();
  other?.close();
  await etcd?.close();
});

describe('EtcdStore.leaseTimeToLive on a real etcd', () => {
  it('reports whole seconds left and the granted TTL, counts down without keepalives, null once revoked', async () => {
    const grant = await other.grantLease(5, limits);
    expect(grant.ttlSeconds).toBe(5);

    const fresh = await store.leaseTimeToLive(grant.id);
    expect(fresh).not.toBeNull();
    // whole seconds, rounded down: 4 already a moment after the grant
    expect([4, 5]).toContain(fresh!.remainingS);
    expect(fresh!.grantedS).toBe(5);

    // no keepalive for over a second: at least one whole second is gone
    await new Promise((r) => setTimeout(r, 1200));
    const aged = await store.leaseTimeToLive(grant.id);
    expect(aged).not.toBeNull();
    expect(aged!.remainingS).toBeLessThan(fresh!.remainingS);
    expect(aged!.remainingS).toBeGreaterThanOrEqual(2);
    expect(aged!.grantedS).toBe(5);

    await other.revokeLease(grant.id, limits);
    expect(await store.leaseTimeToLive(grant.id)).toBeNull();
  });

  it('null for a lease id etcd never granted', async () => {
    expect(await store.leaseTimeToLive('7587123456789012345')).toBeNull();
  });
});
