import type {
  Compare,
  EtcdBackend,
  Kv,
  LeaseGrant,
  LeaseRemaining,
  ListResult,
  Op,
  TxnResult,
  WatchEvent,
  WatchHandlers,
} from '../src/backend.js';

function deleted(key: string, rev: string): WatchEvent {
  return { type: 'delete', kv: { key, value: '', createRevision: '0', modRevision: rev, lease: '0' } };
}

/**
 * A whole etcd in memory, as far as the store uses it: revisions, leases (never expiring
 * unless revoked; `leases.setRemaining` makes one look aged to LeaseTimeToLive), txn compares, prefix lists and a watch that fires after each write. `tool`
 * writes as another program would (`etcdctl put`/`del`), bound to no lease unless told.
 */
export class MemoryEtcd implements EtcdBackend {
  readonly #kvs = new Map<string, Kv>();
  /** lease id → its LeaseTimeToLive answer */
  readonly #leases = new Map<string, LeaseRemaining>();
  readonly #watchers = new Set<{ prefix: string; h: WatchHandlers }>();
  #revision = 1;
  #nextLease = 100;
  /** every put, by key, in order: what a test counts */
  readonly puts: { key: string; value: string; lease: string }[] = [];

  get(key: string): Kv | null {
    return this.#kvs.get(key) ?? null;
  }

  readonly tool = {
    put: (key: string, value: string, lease = '0'): void =>
      void this.#apply([{ op: 'put', key, value, lease }]),
    del: (key: string): void => void this.#apply([{ op: 'delete', key }]),
  };

  async grantLease(ttlSeconds: number): Promise<LeaseGrant> {
    const id = String(this.#nextLease++);
    this.#leases.set(id, { remainingS: ttlSeconds, grantedS: ttlSeconds });
    return { id, ttlSeconds };
  }

  async keepAliveOnce(leaseId: string): Promise<{ ttlSeconds: number }> {
    const lease = this.#leases.get(leaseId);
    // a renewal restarts the countdown, as in etcd
    if (lease !== undefined) this.#leases.set(leaseId, { ...lease, remainingS: lease.grantedS });
    return { ttlSeconds: lease !== undefined ? 30 : 0 };
  }

  async leaseTimeToLive(leaseId: string): Promise<LeaseRemaining | null> {
    return this.#leases.get(leaseId) ?? null;
  }

  /** What LeaseTimeToLive reports: a test ages a lease as missed keepalives would. */
  readonly leases = {
    setRemaining: (leaseId: string, remainingS: number): void => {
      const lease = this.#leases.get(leaseId);
      if (lease === undefined) throw new Error(`lease ${leaseId} not found`);
      this.#leases.set(leaseId, { ...lease, remainingS });
    },
  };

  async revokeLease(leaseId: string): Promise<void> {
    this.#leases.delete(leaseId);
    const bound = [...this.#kvs.values()].filter((kv) => kv.lease === leaseId);
    if (bound.length > 0) this.#apply(bound.map((kv) => ({ op: 'delete', key: kv.key }) as const));
  }

  async list(prefix: string): Promise<ListResult> {
    const kvs = [...this.#kvs.values()].filter((kv) => kv.key.startsWith(prefix));
    kvs.sort((a, b) => (a.key < b.key ? -1 : 1));
    return { revision: String(this.#revision), kvs };
  }

  async txn(
    compares: readonly Compare[],
    success: readonly Op[],
    failure: readonly Op[],
  ): Promise<TxnResult> {
    const ok = compares.every((c) => this.#holds(c));
    const gets = this.#apply(ok ? success : failure);
    return { succeeded: ok, revision: String(this.#revision), gets };
  }

  watchPrefix(prefix: string, h: WatchHandlers) {
    const w = { prefix, h };
    this.#watchers.add(w);
    setImmediate(() => h.onConnected());
    return { close: async () => void this.#watchers.delete(w) };
  }

  close(): void {
    this.#watchers.clear();
  }

  /** Every watch breaks (the stream dropped); `reconnect` brings them back. */
  readonly watches = {
    break: (err = new Error('stream dropped')): void => {
      for (const w of this.#watchers) w.h.onBroken(err);
    },
    reconnect: (): void => {
      for (const w of this.#watchers) w.h.onConnected();
    },
    /** a response as a lagging or replayed stream would deliver it */
    deliver: (revision: string, events: WatchEvent[]): void => {
      for (const w of this.#watchers) w.h.onEvents(revision, events);
    },
  };

  #holds(c: Compare): boolean {
    const kv = this.#kvs.get(c.key);
    switch (c.target) {
      case 'create':
        return (kv?.createRevision ?? '0') === c.revision;
      case 'mod':
        return (kv?.modRevision ?? '0') === c.revision;
      case 'value':
        return kv !== undefined && kv.value === c.value;
      case 'lease':
        return (kv?.lease ?? '0') === c.lease;
    }
  }

  #apply(ops: readonly Op[]): (Kv | null)[] {
    const gets: (Kv | null)[] = [];
    const events: WatchEvent[] = [];
    const writes = ops.some((o) => o.op !== 'get');
    if (writes) this.#revision++;
    const rev = String(this.#revision);
    for (const op of ops) {
      if (op.op === 'get') gets.push(this.#kvs.get(op.key) ?? null);
      else if (op.op === 'put') {
        const lease = op.lease ?? '0';
        if (lease !== '0' && !this.#leases.has(lease)) throw new Error(`lease ${lease} not found`);
        const prev = this.#kvs.get(op.key);
        this.#kvs.set(op.key, {
          key: op.key,
          value: op.value,
          createRevision: prev?.createRevision ?? rev,
          modRevision: rev,
          lease,
        });
        this.puts.push({ key: op.key, value: op.value, lease });
        events.push({ type: 'put', kv: this.#kvs.get(op.key)! });
      } else if (op.op === 'delete') {
        if (this.#kvs.delete(op.key)) events.push(deleted(op.key, rev));
      } else {
        for (const key of [...this.#kvs.keys()])
          if (key.startsWith(op.prefix) && this.#kvs.delete(key)) events.push(deleted(key, rev));
      }
    }
    for (const w of this.#watchers) {
      const mine = events.filter((e) => e.kv.key.startsWith(w.prefix));
      if (mine.length > 0) setImmediate(() => w.h.onEvents(rev, mine));
    }
    return gets;
  }
}
