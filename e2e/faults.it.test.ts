import { type AgentNode, LAG_MS, sleep, TestCluster, waitFor, withinBound, writeGapMs } from '@hapg/testkit';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const TTL_S = 4;
const PRIMARY_START_TIMEOUT_S = 10;

/**
 * Faults on one shared cluster, each test leaving it healthy for the next
 * (ttl 4 s: the rules are the same at any ttl, the suite is shorter).
 */
describe('faults', () => {
  let cluster: TestCluster;

  /** Can `node` commit a write right now? */
  const writable = async (node: AgentNode): Promise<boolean> => {
    try {
      await cluster.sql(node, 'CREATE TABLE IF NOT EXISTS probe (id serial primary key)', [], {
        timeoutMs: 1000,
      });
      await cluster.sql(node, 'INSERT INTO probe DEFAULT VALUES', [], { timeoutMs: 1000 });
      return true;
    } catch {
      return false;
    }
  };

  beforeAll(async () => {
    cluster = await TestCluster.start({
      nodes: 3,
      ttl: TTL_S,
      loopWait: 1,
      retryTimeout: 1,
      primaryStartTimeout: PRIMARY_START_TIMEOUT_S,
    });
    const primary = await cluster.waitHealthy(120_000);
    await cluster.prepareWriterTable(primary);
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('Postgres crash on the primary (agent alive): restarted in place, same primary', async () => {
    const primary = await cluster.waitHealthy();
    const pid = await primary.postmasterPid();
    expect(pid).not.toBeNull();
    process.kill(pid!, 'SIGKILL');
    await waitFor(async () => (await primary.postmasterPid()) !== pid && (await writable(primary)), {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: 'the primary writable again after its Postgres crashed',
    });
    // the REST snapshot follows at the next loop iteration
    expect((await cluster.waitForPrimary(10_000)).name).toBe(primary.name);
    await cluster.waitHealthy();
  });

  it('a primary whose Postgres cannot restart releases the lease after primary_start_timeout; a replica takes over', async () => {
    const old = await cluster.waitHealthy();
    // Hold the primary's port so that its restarts fail (agent paused for a moment, well within the deadline).
    old.signalAgent('SIGSTOP');
    // connections to the blocker (the agent's own probe) are dropped so that close() completes
    const blocker = createServer((socket) => socket.destroy());
    let thawedMs = 0;
    try {
      process.kill((await old.postmasterPid())!, 'SIGKILL');
      await waitFor(
        () =>
          new Promise<boolean>((done) => {
            blocker.once('error', () => done(false));
            blocker.listen(old.pgPort, '127.0.0.1', () => done(true));
          }),
        { timeoutMs: 5000, intervalMs: 20, what: 'the dead primary port' },
      );
    } finally {
      // before the thaw: the agent cannot have seen its Postgres down any earlier
      thawedMs = performance.now();
      old.signalAgent('SIGCONT');
    }
    try {
      const startedMs = thawedMs;
      const next = await cluster.waitForPrimary(60_000, old);
      const tookMs = performance.now() - startedMs;
      console.log(
        `primary_start_timeout ${PRIMARY_START_TIMEOUT_S} s: ${next.name} took over after ${Math.round(tookMs)} ms`,
      );
      expect(next).not.toBe(old);
      // the agent saw its Postgres down only once it was thawed: it holds the key
      // for the whole primary_start_timeout, then releases it and a replica is promoted at once
      // (no wait for the ttl: the key is deleted) — a few loops of slack on a loaded machine
      expect(tookMs).toBeGreaterThanOrEqual(PRIMARY_START_TIMEOUT_S * 1000);
      expect(tookMs).toBeLessThan((PRIMARY_START_TIMEOUT_S + TTL_S + 4) * 1000);
      // /primary answers 200 as soon as the promotion is published; the history entry reaches
      // the REST snapshot through the etcd watch a moment later
      await waitFor(
        async () =>
          (((await cluster.api(next, '/history'))?.body ?? []) as unknown[][]).at(-1)?.[4] === next.name,
        { timeoutMs: 10_000, what: 'the history entry naming the new leader' },
      );
    } finally {
      await new Promise((r) => blocker.close(r));
    }
    // the port is free again: the old primary starts, rejoins and streams
    await cluster.waitHealthy(90_000);
  });

  it('a killed replica comes back and streams again', async () => {
    const primary = await cluster.waitHealthy();
    const replica = cluster.nodes.find((n) => n !== primary)!;
    await cluster.killHost(replica);
    await replica.start();
    await cluster.waitHealthy(60_000);
    await cluster.sql(primary, 'CREATE TABLE IF NOT EXISTS back (id int)');
    await cluster.sql(primary, 'INSERT INTO back VALUES (42)');
    await waitFor(async () => (await cluster.sql(replica, 'SELECT 1 FROM back WHERE id = 42')).length === 1, {
      timeoutMs: 10_000,
      what: 'the row on the returned replica',
    });
    expect((await cluster.primary())?.name).toBe(primary.name);
  });

  it('etcd unreachable: the primary stops accepting writes before the TTL, and the cluster recovers', async () => {
    const primary = await cluster.waitHealthy();
    expect(await writable(primary)).toBe(true);
    const etcd = cluster.etcd.members[0]!;
    const pausedAt = performance.now();
    etcd.pause();
    try {
      await waitFor(async () => !(await writable(primary)), {
        timeoutMs: TTL_S * 1000 + 5000,
        intervalMs: 50,
        what: 'the primary to refuse writes',
      });
      const refusedAfterMs = performance.now() - pausedAt;
      console.log(
        `etcd paused: primary refused writes after ${Math.round(refusedAfterMs)} ms (ttl ${TTL_S * 1000} ms)`,
      );
      // the lease was last renewed at most ~ttl/10 before the pause; the server cannot expire it before ttl
      expect(refusedAfterMs).toBeLessThan(TTL_S * 1000);
    } finally {
      etcd.resume();
    }
    await cluster.waitHealthy(60_000);
  });

  /**
   * Freezes `old`'s agent (not its fence) under `writer` and checks the takeover: another node
   * becomes primary, the fence stopped `old`'s Postgres first (no overlapping reigns, a gap
   * between the last write on `old` and the first on the new primary), and `old` rejoins.
   */
  const freezeAgentAndCheckTakeover = async (old: AgentNode, writer: ReturnType<TestCluster['writer']>) => {
    const frozenAt = Date.now();
    old.signalAgent('SIGSTOP');
    try {
      const next = await cluster.waitForPrimary(TTL_S * 1000 + 20_000, old);
      await waitFor(() => writer.acks.some((a) => a.target === next.name), {
        timeoutMs: 10_000,
        what: 'a write on the new primary',
      });
      await writer.stop();
      const result = await cluster.checkAcks(writer.acks, next);
      const gapMs = writeGapMs(writer.acks, old.name, next.name);
      const byId = new Map(writer.acks.map((a) => [a.id, a]));
      const lost = result.lost.map((id) => byId.get(id)!);
      const lastOldMs = Math.max(...writer.acks.filter((a) => a.target === old.name).map((a) => a.atMs));
      const span = (ms: number[]) =>
        ms.length === 0 ? '' : ` (acknowledged +${Math.min(...ms)}..+${Math.max(...ms)} ms after the freeze)`;
      console.log(
        `agent frozen: last ack on ${old.name} +${lastOldMs - frozenAt} ms after the freeze, ${gapMs} ms before the first on ${next.name}; lost ${lost.length}${span(lost.map((a) => a.atMs - frozenAt))}`,
      );
      expect(result.overlaps).toEqual([]);
      expect(gapMs).toBeGreaterThan(0);
      // asynchronous: only the frozen primary's last moments may be lost (the chaos runner's
      // design window: from LAG_MS before the freeze to primary_isolation_timeout + 1 s after
      // it, or within LAG_MS of its last acknowledgement)
      expect(
        lost.filter((a) => a.target !== old.name || !withinBound(a, frozenAt, old, writer.acks)),
        `lost commits outside the design window of ${old.name}'s freeze (LAG_MS ${LAG_MS})`,
      ).toEqual([]);
      // the frozen node's Postgres was stopped by the fence
      expect(await writable(old)).toBe(false);
    } finally {
      old.signalAgent('SIGCONT');
    }
    // once thawed, it rejoins as a replica of the new primary
    await cluster.waitHealthy(90_000);
  };

  it('agent frozen (SIGSTOP): the fence stops its Postgres before another node is promoted; no overlap', async () => {
    const old = await cluster.waitHealthy();
    const writer = cluster.writer();
    writer.start();
    await sleep(500);
    await freezeAgentAndCheckTakeover(old, writer);
  });

  it('a restart of the primary on request, then its agent frozen: the fence stops the *new* postmaster; no overlap', async () => {
    const old = await cluster.waitHealthy();
    const before = await old.postmasterPid();
    const writer = cluster.writer();
    writer.start();
    await sleep(300);
    const r = await fetch(`http://${old.host}:${old.restPort}/restart`, { method: 'POST' });
    expect(r.status).toBe(200);
    const after = await old.postmasterPid();
    expect(after).not.toBe(before);
    // at once: the agent can do nothing more; only a fence armed with the new postmaster helps
    await freezeAgentAndCheckTakeover(old, writer);
  });
});
