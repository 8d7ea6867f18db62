import { readFile } from 'node:fs/promises';
import { EtcdStore } from '@hapg/dcs';
import { type AgentNode, sleep, TestCluster, waitFor } from '@hapg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const TTL_S = 4;

/**
 * Dynamic `postgresql.use_slots: false` (issue 13): replicas stream without a replication slot,
 * no slot exists on any node, and that stays so through a failover and the old primary's
 * pg_rewind. A slot created anyway would hold WAL for a member nobody configured it for; a
 * `primary_slot_name` nobody creates keeps a replica from streaming at all.
 */
describe('postgresql.use_slots: false', () => {
  let cluster: TestCluster;
  let store: EtcdStore;

  /** `node: slot` for every slot on every running node */
  const slotsAnywhere = async (nodes: readonly AgentNode[] = cluster.nodes) => {
    const out: string[] = [];
    for (const n of nodes) {
      const rows = await cluster.sql<{ slot_name: string }>(n, 'SELECT slot_name FROM pg_replication_slots');
      for (const r of rows) out.push(`${n.name}: ${r.slot_name}`);
    }
    return out;
  };

  /** What a replica streams with: its `primary_slot_name` and its WAL receiver's row. */
  const receiver = async (n: AgentNode) => {
    const [setting] = await cluster.sql<{ v: string }>(n, "SELECT current_setting('primary_slot_name') AS v");
    const rows = await cluster.sql<{ status: string; slot_name: string | null }>(
      n,
      'SELECT status, slot_name FROM pg_stat_wal_receiver',
    );
    return { primarySlotName: setting?.v, walReceiver: rows };
  };

  /** pg_stat_replication on `primary` shows every other node streaming; each streams with no slot. */
  const expectStreamingWithoutSlots = async (primary: AgentNode) => {
    const replicas = cluster.nodes.filter((n) => n !== primary);
    await waitFor(
      async () => {
        const rows = await cluster.sql<{ application_name: string; state: string }>(
          primary,
          'SELECT application_name, state FROM pg_stat_replication',
        );
        return replicas.every((r) =>
          rows.some((x) => x.application_name === r.name && x.state === 'streaming'),
        );
      },
      { timeoutMs: 30_000, what: `${replicas.map((r) => r.name).join(', ')} streaming from ${primary.name}` },
    );
    for (const r of replicas) {
      expect({ node: r.name, ...(await receiver(r)) }).toEqual({
        node: r.name,
        primarySlotName: '',
        walReceiver: [{ status: 'streaming', slot_name: null }],
      });
    }
  };

  /** No slot on any node, and the leader publishes none in the `status` key. */
  const expectNoSlots = async () => {
    expect(await slotsAnywhere()).toEqual([]);
    await waitFor(async () => (await store.readView()).status !== null, {
      timeoutMs: 10_000,
      what: 'the status key',
    });
    const status = (await store.readView()).status!;
    expect({ slots: status.slots, retainSlots: status.retainSlots }).toEqual({ slots: {}, retainSlots: [] });
  };

  beforeAll(async () => {
    cluster = await TestCluster.start({
      nodes: 3,
      ttl: TTL_S,
      loopWait: 1,
      retryTimeout: 1,
      dcs: { postgresql: { use_slots: false } },
    });
    const primary = await cluster.waitHealthy(120_000);
    await cluster.prepareWriterTable(primary);
    store = await EtcdStore.open({ hosts: cluster.etcd.endpoints, scope: cluster.scope, watch: false });
  });
  afterAll(async () => {
    await store?.close();
    await cluster?.close();
  });

  it('replicas stream without a slot (primary_slot_name empty), and no node has a slot', async () => {
    const primary = await cluster.waitHealthy();
    expect((await store.readView()).config?.value).toMatchObject({ postgresql: { use_slots: false } });
    await expectStreamingWithoutSlots(primary);
    // a few loops: the slot manager runs every iteration on every node
    await sleep(3000);
    await expectNoSlots();
  });

  it('primary killed: a replica is promoted; the old primary rewinds and streams without a slot; still no slot anywhere', async () => {
    const old = await cluster.waitHealthy();
    const writer = cluster.writer();
    writer.start();
    await sleep(700);
    await cluster.killHost(old);
    const next = await cluster.waitForPrimary(30_000, old);
    expect(next).not.toBe(old);
    await waitFor(() => writer.acks.some((a) => a.target === next.name), {
      timeoutMs: 15_000,
      what: 'writes on the new primary',
    });
    await writer.stop();
    // the survivor follows the new primary, still without a slot, and the new primary made none
    await sleep(2000);
    expect(await slotsAnywhere(cluster.nodes.filter((n) => n !== old))).toEqual([]);

    const since = (await readFile(old.logPath, 'utf8')).length;
    await old.start();
    const rejoined = await waitFor(
      async () => {
        const line = (await readFile(old.logPath, 'utf8'))
          .slice(since)
          .split('\n')
          .find((l) => l.includes('"msg":"rejoined"'));
        return line === undefined ? null : (JSON.parse(line) as { method: string; durationMs: number });
      },
      { timeoutMs: 60_000, what: `${old.name} rejoined` },
    );
    expect(rejoined.method).toBe('pg_rewind');
    expect((await cluster.waitHealthy(60_000)).name).toBe(next.name);
    await expectStreamingWithoutSlots(next);
    await sleep(3000);
    await expectNoSlots();
  });
});
