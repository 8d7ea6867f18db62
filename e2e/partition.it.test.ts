import { readFile } from 'node:fs/promises';
import { sleep, TestCluster, waitFor } from '@hapg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Each agent reaches etcd through its own loopback proxy, so one node can be
 * cut off from etcd while Postgres replication between the nodes goes on.
 */
describe('partitions from etcd', () => {
  let cluster: TestCluster;
  const writerOn = () => cluster.writer();

  beforeAll(async () => {
    cluster = await TestCluster.start({ nodes: 3, ttl: 6, loopWait: 1, retryTimeout: 2, etcdProxy: true });
    const primary = await cluster.waitHealthy(120_000);
    await cluster.prepareWriterTable(primary);
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('an etcd blip shorter than the deadline on a primary with streaming replicas changes nothing', async () => {
    const primary = await cluster.waitHealthy();
    const writer = writerOn();
    writer.start();
    primary.etcdProxy!.cut();
    await sleep(2000);
    primary.etcdProxy!.heal();
    await sleep(2000);
    await writer.stop();
    expect((await cluster.primary())?.name).toBe(primary.name);
    const acks = writer.acks.filter((a) => a.target === primary.name);
    expect(Math.max(...acks.map((a) => a.atMs)) - Math.min(...acks.map((a) => a.atMs))).toBeGreaterThan(3500);
  });

  it('a replica cut from etcd keeps streaming and serving reads', async () => {
    const primary = await cluster.waitHealthy();
    const replica = cluster.nodes.find((n) => n !== primary)!;
    replica.etcdProxy!.cut();
    try {
      await cluster.sql(primary, 'CREATE TABLE IF NOT EXISTS cut_replica (id int)');
      await cluster.sql(primary, 'INSERT INTO cut_replica VALUES (7)');
      await waitFor(
        async () => (await cluster.sql(replica, 'SELECT 1 FROM cut_replica WHERE id = 7')).length === 1,
        {
          timeoutMs: 10_000,
          what: 'the row on the cut-off replica',
        },
      );
      await sleep(7000); // longer than ttl
      expect((await cluster.api(replica, '/health'))?.status).toBe(200);
      expect((await cluster.primary())?.name).toBe(primary.name);
    } finally {
      replica.etcdProxy!.heal();
    }
    await cluster.waitHealthy();
  });

  it('a primary cut from etcd stops writing before another is promoted; no overlap; it rejoins after healing', async () => {
    const old = await cluster.waitHealthy();
    const writer = writerOn();
    writer.start();
    await sleep(500);
    old.etcdProxy!.cut();
    try {
      const next = await cluster.waitForPrimary(30_000, old);
      await waitFor(() => writer.acks.some((a) => a.target === next.name), {
        timeoutMs: 10_000,
        what: 'a write on the new primary',
      });
      await writer.stop();
      const result = await cluster.checkAcks(writer.acks, next);
      expect(result.overlaps).toEqual([]);
      // replicas were streaming from the cut primary, so its commits up to the cut survive
      console.log(`primary cut from etcd: ${writer.acks.length} acks, ${result.lost.length} lost`);
    } finally {
      old.etcdProxy!.heal();
    }
    await cluster.waitHealthy(90_000);
  });

  it('a cut-off primary with no streaming replica stops writing after primary_isolation_timeout (ISOLATED)', async () => {
    const primary = await cluster.waitHealthy();
    const others = cluster.nodes.filter((n) => n !== primary);
    for (const n of others) await cluster.killHost(n);
    await waitFor(async () => ((await cluster.patroni(primary)).replication ?? []).length === 0, {
      timeoutMs: 10_000,
      what: 'no replica streaming',
    });
    primary.etcdProxy!.cut();
    try {
      await waitFor(async () => (await cluster.api(primary, '/primary'))?.status === 503, {
        timeoutMs: 15_000,
        what: 'the isolated primary to stop being primary',
      });
      const log = await readFile(primary.logPath, 'utf8');
      expect(log).toMatch(/"reasonCode":"ISOLATED"/);
    } finally {
      primary.etcdProxy!.heal();
    }
    for (const n of others) await n.start();
    await cluster.waitHealthy(90_000);
  });
});
