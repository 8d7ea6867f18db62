import type { EtcdBackend, LeaseGrant } from '../src/backend.js';

/** A backend whose lease calls the test scripts; every other call fails. */
export interface FakeLeaseBackend extends EtcdBackend {
  mode: 'ok' | 'hang' | 'fail' | 'gone';
  grants: number;
  keepalives: number;
}

export function fakeLeaseBackend(grantTtlSeconds: number): FakeLeaseBackend {
  let nextId = 100;
  const never = new Promise<never>(() => undefined);
  const b: FakeLeaseBackend = {
    mode: 'ok',
    grants: 0,
    keepalives: 0,
    async grantLease(): Promise<LeaseGrant> {
      if (b.mode === 'hang') return never;
      if (b.mode === 'fail') throw new Error('unavailable');
      b.grants++;
      return { id: String(nextId++), ttlSeconds: grantTtlSeconds };
    },
    async keepAliveOnce() {
      b.keepalives++;
      if (b.mode === 'hang') return never; // ignores its deadline: the keeper must not care
      if (b.mode === 'fail') throw new Error('unavailable');
      return { ttlSeconds: b.mode === 'gone' ? 0 : grantTtlSeconds };
    },
    async revokeLease() {},
    async leaseTimeToLive() {
      throw new Error('not in this fake');
    },
    async list() {
      throw new Error('not in this fake');
    },
    async txn() {
      throw new Error('not in this fake');
    },
    watchPrefix() {
      return { close: async () => undefined };
    },
    close() {},
  };
  return b;
}
