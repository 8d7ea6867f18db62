import { type EtcdCluster, startEtcd, waitFor } from '@hapg/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdStore, LeaseInfo } from '../src/index.js';
import { freshScope, member, nextEvent, openStore } from './helpers.js';

let etcd: EtcdCluster;
let store: EtcdStore | null = null;

beforeAll(async () => {
  etcd = await startEtcd({ members: 1 });
});

afterEach(async () => {
  etcd.members[0]!.resume();
  await store?.close();
  store = null;
});

afterAll(async () => {
  await etcd?.close();
});

describe('lease deadline under a frozen etcd (SIGSTOP)', () => {
  // The harness runs etcd with --election-timeout 1000, so its minimum TTL is 2 s.
  it.each([2, 10])(
    'ttl %i s: the local deadline fires before the server could expire the lease; recovers after SIGCONT',
    async (ttlSeconds) => {
      const s = await openStore(etcd.endpoints, {
        scope: freshScope('lease'),
        name: 'n1',
        ttlSeconds,
        retryTimeoutMs: 1500,
      });
      store = s;
      const granted = await s.startLease();
      expect(granted.grantedTtlMs).toBe(ttlSeconds * 1000);
      await s.writeMember(member('n1'));
      expect(await s.acquireLeader()).toBe(true);
      // let a few renewals happen so the deadline comes from a keepalive, not the grant (at
      // rest the lease renews every ttl/3)
      await nextEvent(s, 'renewed', ttlSeconds * 500);
      await nextEvent(s, 'renewed', ttlSeconds * 500);
      expect(s.renewFailingSinceMs()).toBeNull();

      const deadline = nextEvent<LeaseInfo>(s, 'deadline', ttlSeconds * 1000 + 5000);
      const pausedAtMs = performance.now();
      etcd.members[0]!.pause();
      const fired = await deadline;
      const firedAtMs = performance.now();

      // fired by our own timer at the deadline, and before lastAckSend + ttl: the earliest
      // moment etcd could have expired the lease (it counts from when it received the keepalive)
      expect(firedAtMs).toBeGreaterThanOrEqual(fired.deadlineMs);
      expect(firedAtMs).toBeLessThan(fired.lastAckSendMs + fired.grantedTtlMs);
      expect(fired.lastAckSendMs).toBeLessThanOrEqual(pausedAtMs);
      expect(firedAtMs).toBeLessThan(pausedAtMs + fired.grantedTtlMs);
      expect(s.leaseDeadlineMs()).toBe(fired.deadlineMs);
      const failingSince = s.renewFailingSinceMs();
      expect(failingSince).not.toBeNull();
      expect(failingSince!).toBeLessThan(firedAtMs);

      etcd.members[0]!.resume();
      // etcd 3.4 either revokes the expired lease on resume (→ lease-lost + new grant) or
      // keeps it; either way a renewal must come back and the lock must be ours again.
      await waitFor(
        async () => {
          const lease = s.leaseInfo();
          return lease !== null && lease.deadlineMs > performance.now() && s.renewFailingSinceMs() === null;
        },
        { timeoutMs: 10_000, what: 'lease renewed or re-granted after SIGCONT' },
      );
      const held = await waitFor(async () => (await s.verifyLeader()) || (await s.acquireLeader()), {
        timeoutMs: 10_000,
        what: 'leader lock re-acquired',
      });
      expect(held).toBe(true);
      const view = await s.readView();
      expect(view.leader?.name).toBe('n1');
      expect(view.leader?.leaseId).toBe(s.leaseId());
      // the member key follows the (possibly new) lease
      await waitFor(async () => (await s.readView()).members.get('n1')?.leaseId === s.leaseId(), {
        timeoutMs: 5000,
        what: 'member key rewritten under the current lease',
      });
    },
  );

  it('a lease revoked behind our back is reported lost and replaced, and the member key rewritten', async () => {
    const s = await openStore(etcd.endpoints, { scope: freshScope('revoked'), name: 'n1', ttlSeconds: 2 });
    store = s;
    const first = await s.startLease();
    await s.writeMember(member('n1'));
    const lost = nextEvent<{ id: string }>(s, 'lease-lost', 5000);
    const granted = nextEvent<LeaseInfo>(s, 'granted', 5000);
    // revoke through a second client: the server forgets the lease
    const other = await openStore(etcd.endpoints, { scope: s.scope });
    try {
      const { createEtcd3Backend } = await import('../src/index.js');
      const raw = createEtcd3Backend({ hosts: etcd.endpoints, defaultCallTimeoutMs: 2000 });
      await raw.revokeLease(first.id, { timeoutMs: 2000 });
      raw.close();
      expect((await lost).id).toBe(first.id);
      const second = await granted;
      expect(second.id).not.toBe(first.id);
      await waitFor(async () => (await other.readView()).members.get('n1')?.leaseId === second.id, {
        timeoutMs: 5000,
        what: 'member key under the new lease',
      });
    } finally {
      await other.close();
    }
  });
});
