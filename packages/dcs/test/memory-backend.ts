import type {
  Compare,
  EtcdBackend,
  Kv,
  LeaseGrant,
  ListResult,
  Op,
  TxnResult,
  WatchHandlers,
} from '../src/backend.js';

/**
 * A whole etcd in memory, as far as the store uses it: revisions, leases (never expiring
 * unless revoked), txn compares, prefix lists and a watch that fires after each write. `tool`
 * writes as another program would (`etcdctl put`/`del`), bound to no lease unless told.
 */
export class MemoryEtcd implements EtcdBackend {
  readonly #kvs = new Map<string, Kv>();
  readonly #leases = new Set<string>();
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
    this.#leases.add(id);
    return { id, ttlSeconds };
  }

  async keepAliveOnce(leaseId: string): Promise<{ ttlSeconds: number }> {
    return { ttlSeconds: this.#leases.has(leaseId) ? 30 : 0 };
  }

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
    const events: ['put' | 'delete', string][] = [];
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
        events.push(['put', op.key]);
      } else if (op.op === 'delete') {
        if (this.#kvs.delete(op.key)) events.push(['delete', op.key]);
      } else {
        for (const key of [...this.#kvs.keys()])
          if (key.startsWith(op.prefix) && this.#kvs.delete(key)) events.push(['delete', key]);
      }
    }
    for (const [type, key] of events)
      for (const w of this.#watchers)
        if (key.startsWith(w.prefix)) setImmediate(() => w.h.onEvent(type, key));
    return gets;
  }
}
