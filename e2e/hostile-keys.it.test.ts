import { type CallLimits, createEtcd3Backend, type EtcdBackend, EtcdStore } from '@hapg/dcs';
import { type AgentNode, sleep, TestCluster, waitFor } from '@hapg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Issue 11: garbage and hostile values another tool writes into the cluster's keys (as
 * `etcdctl put` does: bound to no lease). After each, within 2 × ttl there must be exactly one
 * primary, every replica must stream, and no slot may exist for a fake member. A former primary
 * that had to stop (its key was taken) rejoins through pg_rewind, which gets a further
 * allowance; the safety property — never two writable servers — is sampled throughout.
 */
const TTL_S = 5;
const WITHIN_MS = 2 * TTL_S * 1000;
const REJOIN_MS = 30_000;
const LIMITS: CallLimits = { timeoutMs: 3000 };
const FAKES = ['junk4', 'bad name', 'BAD_NAME', 'garbage'];
const fakeSlotNames = ['junk4', 'bad_name', 'garbage'];

describe('keys another tool wrote (issue 11)', () => {
  let cluster: TestCluster;
  let store: EtcdStore;
  let raw: EtcdBackend;
  let sampling = true;
  let sampler: Promise<void> = Promise.resolve();
  const overlaps: string[] = [];

  const keys = () => store.keys;
  const put = (key: string, value: string, lease?: string) =>
    raw.txn([], [{ op: 'put', key, value, ...(lease === undefined ? {} : { lease }) }], [], LIMITS);
  const del = (key: string) => raw.txn([], [{ op: 'delete', key }], [], LIMITS);
  const get = async (key: string) => (await raw.txn([], [{ op: 'get', key }], [], LIMITS)).gets[0] ?? null;

  const writable = async (n: AgentNode) => {
    const rows = await cluster
      .sql<{ r: boolean }>(n, 'SELECT pg_is_in_recovery() AS r', [], { timeoutMs: 500 })
      .catch(() => null);
    return rows !== null && rows[0]?.r === false;
  };
  const slotsOn = async (n: AgentNode) =>
    (await cluster.sql<{ s: string }>(n, 'SELECT slot_name AS s FROM pg_replication_slots')).map((r) => r.s);
  const streaming = async (n: AgentNode) =>
    (await cluster.api(n, '/replica?replication_state=streaming'))?.status === 200;
  const rest = (n: AgentNode, method: string, path: string, body?: unknown) =>
    fetch(`http://${n.host}:${n.restPort}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });

  /** The node whose `/primary` is 200 and which holds the leader key under a lease. */
  const realPrimary = async (): Promise<AgentNode | null> => {
    const p = await cluster.primary();
    const leader = await get(keys().leader);
    return p !== null && leader?.value === p.name && leader.lease !== '0' ? p : null;
  };

  beforeAll(async () => {
    cluster = await TestCluster.start({ nodes: 3, ttl: TTL_S, loopWait: 1, retryTimeout: 1 });
    await cluster.waitHealthy(120_000);
    store = await EtcdStore.open({ hosts: cluster.etcd.endpoints, scope: cluster.scope, watch: false });
    raw = createEtcd3Backend({ hosts: cluster.etcd.endpoints, defaultCallTimeoutMs: 3000 });
    sampler = (async () => {
      while (sampling) {
        const w = await Promise.all(cluster.nodes.map(writable));
        const names = cluster.nodes.filter((_, i) => w[i]).map((n) => n.name);
        if (names.length > 1) overlaps.push(`${new Date().toISOString()} writable: ${names.join(', ')}`);
        await sleep(200);
      }
    })();
  });
  afterAll(async () => {
    sampling = false;
    await sampler;
    raw?.close();
    await store?.close();
    await cluster?.close();
  });

  it('garbage in failover, sync, history, config, status and fake member keys: nothing breaks, and the API clears what blocks', async () => {
    const primary = await cluster.waitHealthy();
    const before = await store.readView();
    const k = keys();
    const member = (host: string) =>
      JSON.stringify({
        conn_url: `postgres://${host}:5432/postgres`,
        api_url: `http://${host}:8008/patroni`,
        state: 'running',
        role: 'replica',
        version: '9.9.9',
        xlog_location: 1 << 30,
      });
    await put(k.failover, '{"leader":');
    await put(k.sync, 'garbage');
    await put(k.history, '{"not": "a list"}');
    await put(k.config, '[1, 2');
    // parses: the leader must not adopt the fake slot (it rewrites the key after its next renewal)
    await put(k.status, '{"optime": 1, "slots": {"junk4": 1}, "retain_slots": ["junk4", "bad_name"]}');
    for (const name of FAKES) await put(k.member(name), name === 'garbage' ? '{nope' : member('10.9.9.9'));
    const t0 = performance.now();

    // the cluster carries on: the same primary, every replica streaming
    await sleep(3000); // three loops: time for anything to go wrong
    expect(await realPrimary()).toBe(primary);
    await waitFor(
      async () =>
        (await Promise.all(cluster.nodes.filter((n) => n !== primary).map(streaming))).every(Boolean),
      {
        timeoutMs: Math.max(1, WITHIN_MS - (performance.now() - t0)),
        what: 'every replica streaming',
      },
    );
    for (const n of cluster.nodes) {
      const slots = await slotsOn(n);
      expect(
        slots.filter((s) => fakeSlotNames.includes(s)),
        `slots on ${n.name}`,
      ).toEqual([]);
    }
    // the leader repairs what it owns: sync (asynchronous mode: removed) and status
    await waitFor(async () => (await get(k.sync)) === null, {
      timeoutMs: WITHIN_MS,
      what: 'the sync key removed',
    });
    await waitFor(async () => !(await store.readView()).status?.retainSlots.includes('junk4'), {
      timeoutMs: WITHIN_MS,
      what: 'the status key rewritten by the leader',
    });

    // a malformed failover key is named and cleared through the API
    const refused = await rest(primary, 'POST', '/switchover', { leader: primary.name });
    expect(refused.status).toBe(412);
    expect(((await refused.json()) as { code: string }).code).toBe('FAILOVER_KEY_MALFORMED');
    expect((await rest(primary, 'DELETE', '/switchover')).status).toBe(200);
    expect(await get(k.failover)).toBeNull();
    // a malformed config is replaced with PUT (PATCH has nothing to merge into)
    expect((await rest(primary, 'PATCH', '/config', { loop_wait: 1 })).status).toBe(412);
    expect((await rest(primary, 'PUT', '/config', before.config?.value ?? {})).status).toBe(200);
    expect((await store.readView()).config?.value).toEqual(before.config?.value);

    for (const name of FAKES) await del(k.member(name));
    // the fake keys are gone and never had a slot; nothing appears later either
    await sleep(2000);
    for (const n of cluster.nodes)
      expect((await slotsOn(n)).filter((s) => fakeSlotNames.includes(s))).toEqual([]);
    expect(overlaps).toEqual([]);
  });

  /** Within WITHIN_MS of `t0`: one real primary, and every node but it and `old` streaming. */
  const healed = async (old: AgentNode, t0: number): Promise<AgentNode> => {
    const next = await waitFor(realPrimary, {
      timeoutMs: WITHIN_MS,
      intervalMs: 100,
      what: 'a real primary again',
    });
    await waitFor(
      async () =>
        (await Promise.all(cluster.nodes.filter((n) => n !== next && n !== old).map(streaming))).every(
          Boolean,
        ),
      { timeoutMs: Math.max(1, WITHIN_MS - (performance.now() - t0)), what: 'the other replicas streaming' },
    );
    return next;
  };

  it.each(['ghost', ''])(
    'the leader key overwritten with %j, bound to no lease: one primary within 2 × ttl, replicas streaming',
    async (value) => {
      const old = await cluster.waitHealthy(REJOIN_MS);
      const t0 = performance.now();
      await put(keys().leader, value);
      const next = await healed(old, t0);
      console.log(
        `leader key ${JSON.stringify(value)}: ${next.name} primary after ${Math.round(performance.now() - t0)} ms`,
      );
      // the former primary stopped (it no longer held the key) and rejoins through pg_rewind
      await cluster.waitHealthy(REJOIN_MS);
      // the promotion replaced the malformed history of the first test with one that parses
      await waitFor(async () => (await store.readView()).malformed.length === 0, {
        timeoutMs: 5000,
        what: 'no malformed key left',
      });
      expect(overlaps).toEqual([]);
    },
  );

  it('a leader key bound to a live lease but naming no member: removed after ttl, one primary within 2 × ttl', async () => {
    const old = await cluster.waitHealthy(REJOIN_MS);
    const lease = await raw.grantLease(120, LIMITS);
    try {
      const t0 = performance.now();
      await put(keys().leader, 'ghost', lease.id);
      await healed(old, t0);
      await cluster.waitHealthy(REJOIN_MS);
    } finally {
      await raw.revokeLease(lease.id, LIMITS).catch(() => {});
    }
    expect(overlaps).toEqual([]);
  });

  it("the primary's own name without a lease: bound back to its lease at once, no failover", async () => {
    const primary = await cluster.waitHealthy(REJOIN_MS);
    const timeline = (await cluster.patroni(primary)).timeline;
    const startedAt = async () =>
      (await cluster.sql<{ t: string }>(primary, 'SELECT pg_postmaster_start_time()::text AS t'))[0]!.t;
    const postmasterStart = await startedAt();
    await put(keys().leader, primary.name);
    await waitFor(
      async () => {
        const kv = await get(keys().leader);
        return kv?.value === primary.name && kv.lease !== '0';
      },
      { timeoutMs: 3000, what: 'the leader key bound to a lease again' },
    );
    // the agent publishes its status right after the rebind, a few ms after etcd has it
    await waitFor(async () => (await realPrimary()) === primary, {
      timeoutMs: 1000,
      intervalMs: 50,
      what: `${primary.name} the primary under its key`,
    });
    // never demoted: the same postmaster, still writable, on the same timeline
    expect(await startedAt()).toBe(postmasterStart);
    expect(await writable(primary)).toBe(true);
    expect((await cluster.patroni(primary)).timeline).toBe(timeline);
    expect(overlaps).toEqual([]);
  });

  it('member keys deleted or spoofed are written again at once, bound to their lease; no failover', async () => {
    const primary = await cluster.waitHealthy(REJOIN_MS);
    const replica = cluster.nodes.find((n) => n !== primary)!;
    const restored = (n: AgentNode) => async () => {
      const kv = await get(keys().member(n.name));
      if (kv === null || kv.lease === '0') return false;
      const m = JSON.parse(kv.value) as { conn_url: string; state: string; timeline?: number };
      return m.conn_url.includes(`:${n.pgPort}/`) && m.state === 'running' && m.timeline !== 999;
    };
    await del(keys().member(primary.name));
    await waitFor(restored(primary), { timeoutMs: 3000, what: `${primary.name}'s member key back` });
    const spoof = {
      conn_url: 'postgres://10.6.6.6:5432/postgres',
      api_url: 'http://10.6.6.6:8008/patroni',
      state: 'stopped',
      role: 'replica',
      version: '0.0.0',
      timeline: 999,
    };
    await put(keys().member(replica.name), JSON.stringify(spoof));
    await waitFor(restored(replica), { timeoutMs: 3000, what: `${replica.name}'s member key repaired` });
    expect(await realPrimary()).toBe(primary);
    await cluster.waitHealthy(WITHIN_MS);
    expect(overlaps).toEqual([]);
  });
});
