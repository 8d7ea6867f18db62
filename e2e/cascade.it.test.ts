import { EtcdStore } from '@hapg/dcs';
import { type AgentNode, TestCluster, waitFor } from '@hapg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Issue 14 #4 on a real cluster: node3 has `replicatefrom: node2` and streams from it (through
 * its slot there); node2 dies → node3 streams from the leader; node2 back → node3 returns to
 * it; a failover of the leader keeps the cascade. node1 and node4 may lead; node2 and node3
 * are `nofailover`, so the cascade always hangs off a replica.
 */
const TTL_S = 4;
const LOOP_WAIT_S = 1;
/** a re-point takes one loop once the member key shows the change: a few loops, with the key's own delay */
const REPOINT_MS = 10 * LOOP_WAIT_S * 1000;

describe('cascading replication (replicatefrom)', () => {
  let cluster: TestCluster;
  let store: EtcdStore;
  const node = (name: string) => cluster.nodes.find((n) => n.name === name)!;

  /** The node whose Postgres `n`'s WAL receiver is connected to, by port; null when not streaming. */
  const senderOf = async (n: AgentNode): Promise<string | null> => {
    const rows = await cluster
      .sql<{ port: number | null; status: string }>(
        n,
        'SELECT sender_port AS port, status FROM pg_stat_wal_receiver',
        [],
        {
          timeoutMs: 1000,
        },
      )
      .catch(() => []);
    const row = rows[0];
    if (row === undefined || row.status !== 'streaming') return null;
    return cluster.nodes.find((m) => m.pgPort === Number(row.port))?.name ?? null;
  };
  const streamsFrom = (n: AgentNode, from: string, timeoutMs = REPOINT_MS) =>
    waitFor(async () => (await senderOf(n)) === from, {
      timeoutMs,
      intervalMs: 200,
      what: `${n.name} streaming from ${from}`,
    });

  beforeAll(async () => {
    cluster = await TestCluster.start({
      nodes: 4,
      ttl: TTL_S,
      loopWait: LOOP_WAIT_S,
      retryTimeout: 1,
      tags: { node2: { nofailover: true }, node3: { nofailover: true, replicatefrom: 'node2' } },
    });
    await cluster.waitHealthy(120_000);
    store = await EtcdStore.open({ hosts: cluster.etcd.endpoints, scope: cluster.scope, watch: false });
  });
  afterAll(async () => {
    await store?.close();
    await cluster?.close();
  });

  it('node3 streams from node2, through its slot on node2; the leader keeps no slot for node3', async () => {
    const leader = await cluster.waitHealthy();
    expect(['node1', 'node4']).toContain(leader.name);
    await streamsFrom(node('node3'), 'node2', 30_000);
    const slot = await cluster.sql<{ active: boolean }>(
      node('node2'),
      "SELECT active FROM pg_replication_slots WHERE slot_name = 'node3'",
    );
    expect(slot).toEqual([{ active: true }]);
    await waitFor(
      async () =>
        (
          await cluster.sql<{ n: number }>(
            leader,
            "SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name = 'node3'",
          )
        )[0]!.n === 0,
      { timeoutMs: 10_000, what: 'no slot for node3 on the leader' },
    );
    // the member key says what streams (hactl topology draws it)
    await waitFor(async () => (await store.readView()).members.get('node3')?.raw.streaming_from === 'node2', {
      timeoutMs: 10_000,
      what: "node3's member key: streaming_from node2",
    });
    expect((await store.readView()).members.get('node2')?.raw.streaming_from).toBe(leader.name);
  });

  it('node2 dies: node3 streams from the leader; node2 back: node3 returns to it', async () => {
    const leader = await cluster.waitHealthy();
    await cluster.killHost(node('node2'));
    await streamsFrom(node('node3'), leader.name);
    await node('node2').start();
    await streamsFrom(node('node2'), leader.name, 60_000);
    await streamsFrom(node('node3'), 'node2');
  });

  it('a failover of the leader keeps the cascade: node2 follows the new leader, node3 stays on node2', async () => {
    const leader = await cluster.waitHealthy();
    const other = leader.name === 'node1' ? 'node4' : 'node1';
    await cluster.killHost(leader);
    const next = await cluster.waitForPrimary(60_000, leader);
    expect(next.name).toBe(other);
    await streamsFrom(node('node2'), other, 30_000);
    await streamsFrom(node('node3'), 'node2');
    // and it still carries the new leader's writes
    await cluster.sql(next, 'CREATE TABLE IF NOT EXISTS cascade_check (v int)');
    await cluster.sql(next, 'INSERT INTO cascade_check VALUES (42)');
    await waitFor(
      async () =>
        (await cluster.sql<{ v: number }>(node('node3'), 'SELECT v FROM cascade_check').catch(() => [])).some(
          (r) => r.v === 42,
        ),
      { timeoutMs: 10_000, what: 'the write replayed on node3' },
    );
  });
});
