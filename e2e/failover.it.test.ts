import { LAG_MS, sleep, TestCluster, waitFor, withinBound } from '@hapg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * One cluster for a sequence of faults; each test leaves it healthy for the next.
 * ttl 4 s keeps the suite short; the rules are the same at any ttl.
 */
describe('automatic failover', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start({
      nodes: 3,
      ttl: 4,
      loopWait: 1,
      retryTimeout: 1,
      primaryStartTimeout: 10,
    });
    const primary = await cluster.waitHealthy(120_000);
    await cluster.prepareWriterTable(primary);
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('host death: exactly one new primary, writes resume, history records it', async () => {
    const old = await cluster.waitForPrimary();
    const writer = cluster.writer();
    writer.start();
    await sleep(1000);
    const killedAt = Date.now();
    await cluster.killHost(old);
    const next = await cluster.waitForPrimary(30_000, old);
    expect(next).not.toBe(old);
    // writes succeed on the new primary
    const acksBefore = writer.acks.filter((a) => a.target === next.name).length;
    await waitFor(() => writer.acks.filter((a) => a.target === next.name).length > acksBefore + 5, {
      timeoutMs: 10_000,
      what: 'writes on the new primary',
    });
    await writer.stop();
    const result = await cluster.checkAcks(writer.acks, next);
    expect(result.overlaps).toEqual([]);
    // asynchronous mode may lose the last commits of a dead host, only those of its last
    // moments: acknowledged by it at most LAG_MS before its death or its last acknowledgement
    // (the chaos runner's design window); every earlier commit had reached the replicas
    const byId = new Map(writer.acks.map((a) => [a.id, a]));
    const lost = result.lost.map((id) => byId.get(id)!);
    console.log(`host death: ${writer.acks.length} acks, ${lost.length} lost (async mode)`);
    expect(writer.acks.filter((a) => a.target === old.name).length).toBeGreaterThan(20);
    expect(
      lost.filter((a) => a.target !== old.name || !withinBound(a, killedAt, old, writer.acks)),
      `lost commits outside the last ${LAG_MS} ms of ${old.name}`,
    ).toEqual([]);
    const history = (await cluster.api(next, '/history'))?.body as unknown[][];
    expect(history.at(-1)?.[2]).toBe('failover');
    expect(history.at(-1)?.[4]).toBe(next.name);
    // the survivors: one primary, the other streams from it
    const other = cluster.nodes.find((n) => n !== old && n !== next)!;
    await waitFor(
      async () => (await cluster.api(other, '/replica?replication_state=streaming'))?.status === 200,
      {
        timeoutMs: 20_000,
        what: `${other.name} streaming from the new primary`,
      },
    );
    // the dead host comes back and rejoins as a replica
    await old.start();
    await cluster.waitHealthy(60_000);
    expect((await cluster.primary())?.name).toBe(next.name);
  });
});
