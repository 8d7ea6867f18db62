import { type AgentNode, sleep, TestCluster, waitFor } from '@hapg/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

/**
 * Fast failover (docs/fast-failover.md) on namespaced hosts where a cut *drops* packets: the
 * primary cut off from every other host (clients still reach it, so it keeps taking writes)
 * at the default ttl 10, in `on` mode, `on` + strict and quorum mode. The listed standby takes the
 * key over before the old lease expires (in quorum mode once the other listed standby released
 * its stream, and the furthest of them); the old primary acknowledges nothing from then on (its ssn
 * needs the standby that left), so no commit is acknowledged by two primaries and none is lost.
 */
const TTL_S = 10;

describe('fast failover on namespaced hosts (packets dropped)', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start({
      nodes: 3,
      network: 'netns',
      ttl: TTL_S,
      loopWait: 2,
      retryTimeout: 3,
      dcs: { synchronous_mode: true, fast_failover: true },
    });
    const primary = await cluster.waitHealthy(120_000);
    await cluster.prepareWriterTable(primary);
  });
  afterEach(async () => {
    await cluster?.net?.heal();
  });
  afterAll(async () => {
    await cluster?.close();
  });

  /** Cuts the primary off from every host (not from clients): a listed standby takes over fast. */
  async function cutOffPrimary(mode: 'on' | 'quorum' = 'on'): Promise<void> {
    const count = mode === 'on' ? 1 : 2;
    const { primary: old, sync } = await cluster.waitSync(mode, count, 120_000);
    const writer = cluster.writer({ intervalMs: 50, statementTimeoutMs: 15_000 });
    writer.start();
    await sleep(3000);
    const cutAt = Date.now();
    await cluster.net!.isolate(old.name);
    const next = await cluster.waitForPrimary(TTL_S * 1000 + 20_000, old);
    expect(sync.map((n) => n.name)).toContain(next.name);
    await waitFor(() => writer.acks.some((a) => a.target === next.name), {
      timeoutMs: 15_000,
      what: `a write acknowledged by ${next.name}`,
    });
    // the old primary, still reachable by clients, keeps being written to meanwhile
    await sleep(2000);
    await writer.stop();
    const history = (await cluster.api(next, '/history'))?.body as unknown[][];
    expect(history.at(-1)?.[2]).toBe('failover (fast)');
    const firstNew = Math.min(...writer.acks.filter((a) => a.target === next.name).map((a) => a.atMs));
    const lastOld = Math.max(...writer.acks.filter((a) => a.target === old.name).map((a) => a.atMs));
    const result = await cluster.checkAcks(writer.acks, next);
    console.log(
      `cut off at ${new Date(cutAt).toISOString()}: first write on ${next.name} +${firstNew - cutAt} ms, last on ${old.name} +${lastOld - cutAt} ms; ${writer.acks.length} acknowledged, ${result.lost.length} lost`,
    );
    expect(result.lost).toEqual([]);
    expect(result.overlaps).toEqual([]);
    // nothing acknowledged by the old primary once the new one took writes
    expect(lastOld).toBeLessThan(firstNew);
    await cluster.net!.heal();
    await rejoined(old, mode, count);
  }

  async function rejoined(node: AgentNode, mode: 'on' | 'quorum', count: number): Promise<void> {
    await waitFor(async () => (await cluster.api(node, '/replica'))?.status === 200, {
      timeoutMs: 90_000,
      what: `${node.name} back as a replica`,
    });
    await cluster.waitSync(mode, count, 90_000);
  }

  it('on: the primary cut off from everything, the sync standby takes over before the lease expires, nothing lost', async () => {
    await cutOffPrimary();
  });

  it('on + strict: the same', async () => {
    await cluster.patchConfig({ synchronous_mode_strict: true });
    try {
      await cutOffPrimary();
    } finally {
      await cluster.patchConfig({ synchronous_mode_strict: false });
    }
  });

  it('quorum: the same, once the other standby released its stream (ANY 1 over both)', async () => {
    await cluster.patchConfig({ synchronous_mode: 'quorum' });
    try {
      await cutOffPrimary('quorum');
    } finally {
      await cluster.patchConfig({ synchronous_mode: true });
    }
  });
});
