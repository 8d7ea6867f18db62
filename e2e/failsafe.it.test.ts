import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import {
  type AgentNode,
  LAG_MS,
  type PatroniStatus,
  sleep,
  TestCluster,
  type Writer,
  waitFor,
} from '@hapg/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

/**
 * Failsafe mode on a real cluster (docs/failsafe.md, "Real cluster"): three nodes and three
 * etcd members, each its own namespaced host; cuts drop packets with nftables. A writer
 * commits on every node all along (acknowledged commits recorded), and a sampler asks every
 * node's `/primary` every 200 ms for the whole file: no sample may show two primaries.
 *
 * "etcd is down" is made by stopping every etcd process (SIGTERM), not by dropping packets to
 * the etcd hosts: that is what an etcd outage is (the hosts answer, connections are refused),
 * the agents see it as errors at once rather than as calls hanging into their deadlines, and a
 * restart exercises the path etcd really takes afterwards (it extends every lease with a fresh
 * TTL, so the primary's old lease comes back: P7's first branch). The dropped-packet path, in
 * which the lease does expire and the primary must re-acquire under a new one, is the case
 * "etcd cut for the primary only".
 */
const TTL_S = 10;
const TTL_MS = TTL_S * 1000;
/** the lease's margin, `max(1 s, ttl/5)` (packages/dcs/src/deadline.ts) */
const MARGIN_MS = Math.max(1000, TTL_MS / 5);
const FAILSAFE_TIMEOUT_S = 2;
const run = promisify(execFile);

type Status = PatroniStatus & { readonly failsafe_mode_is_active?: boolean };

interface Sample {
  readonly atMs: number;
  /** `/primary` status per node name; 0 when the node did not answer */
  readonly codes: Readonly<Record<string, number>>;
  /** the agent's `x-hapg-reason` header of a non-200 answer */
  readonly reasons: Readonly<Record<string, string>>;
}

describe('failsafe mode on namespaced hosts', () => {
  let cluster: TestCluster;
  const etcdHosts = ['etcd1', 'etcd2', 'etcd3'];
  const samples: Sample[] = [];
  let sampling = true;
  let sampler: Promise<void> = Promise.resolve();
  let writer: Writer | null = null;
  /** case 1 hands etcd (still stopped) and its writer to case 2 */
  let outage: {
    primary: AgentNode;
    writer: Writer;
    postmasterStart: string;
    downAt: number;
  } | null = null;

  const net = () => cluster.net!;
  const keys = () => ({
    leader: `/service/${cluster.scope}/leader`,
    failsafe: `/service/${cluster.scope}/failsafe`,
    member: (name: string) => `/service/${cluster.scope}/members/${name}`,
  });

  // ---- etcd as seen from outside (the test runs in the root namespace: never cut) ----------
  const etcdctl = async (args: string[]) =>
    (
      await run(
        'etcdctl',
        [
          `--endpoints=${cluster.etcd.endpoints.join(',')}`,
          '--dial-timeout=1s',
          '--command-timeout=2s',
          ...args,
        ],
        { timeout: 5000 },
      )
    ).stdout;
  /** A key's value and lease (decimal, '0' for none), or null when absent. */
  const getKey = async (key: string): Promise<{ value: string; lease: string } | null> => {
    const out = await etcdctl(['get', key, '-w', 'fields']);
    const value = /^"Value" : (.*)$/m.exec(out)?.[1];
    const lease = /^"Lease" : (\d+)$/m.exec(out)?.[1];
    if (value === undefined || lease === undefined) return null;
    return { value: JSON.parse(value) as string, lease };
  };
  const leaseAlive = async (leaseDec: string) => {
    const out = await etcdctl(['lease', 'timetolive', BigInt(leaseDec).toString(16)]);
    const remaining = /remaining\((-?\d+)s\)/.exec(out)?.[1];
    return !/expired/.test(out) && remaining !== undefined && Number(remaining) > 0;
  };
  /** The leader key holds `node`'s name under `node`'s lease (its member key's), and etcd says that lease lives. */
  const heldBy = async (node: AgentNode): Promise<boolean> => {
    const [leader, member] = await Promise.all([getKey(keys().leader), getKey(keys().member(node.name))]);
    return (
      leader?.value === node.name &&
      leader.lease !== '0' &&
      member?.lease === leader.lease &&
      (await leaseAlive(leader.lease))
    );
  };
  const etcdRunning = () => cluster.etcd.members.every((m) => m.process() !== null);
  const stopEtcd = () => Promise.all(cluster.etcd.members.map((m) => m.stop()));
  /** all at once: a member alone has no quorum and never reports healthy */
  const startEtcd = () =>
    Promise.all(cluster.etcd.members.filter((m) => m.process() === null).map((m) => m.start()));

  // ---- the nodes -------------------------------------------------------------------------
  const status = async (n: AgentNode) => (await cluster.patroni(n)) as Status;
  const postmasterStart = async (n: AgentNode) =>
    (await cluster.sql<{ t: string }>(n, 'SELECT pg_postmaster_start_time()::text AS t'))[0]!.t;
  const writable = async (n: AgentNode) => {
    const rows = await cluster
      .sql<{ r: boolean }>(n, 'SELECT pg_is_in_recovery() AS r', [], { timeoutMs: 1000 })
      .catch(() => null);
    return rows !== null && rows[0]?.r === false;
  };
  const logSize = async (n: AgentNode) => (await readFile(n.logPath, 'utf8')).length;
  const logSince = async (n: AgentNode, offset: number) => (await readFile(n.logPath, 'utf8')).slice(offset);
  const others = (n: AgentNode) => cluster.nodes.filter((m) => m !== n);
  /** the failsafe key's members as `GET /failsafe` or etcd gives them: name → api_url */
  const expectThreeMembers = (body: unknown) => {
    expect(typeof body === 'object' && body !== null).toBe(true);
    const members = body as Record<string, unknown>;
    expect(Object.keys(members).sort()).toEqual(cluster.nodes.map((n) => n.name).sort());
    for (const n of cluster.nodes) expect(String(members[n.name])).toContain(`//${n.host}:${n.restPort}`);
  };

  // ---- what the sampler saw ----------------------------------------------------------------
  const samplesSince = (fromMs: number, toMs = Number.POSITIVE_INFINITY) =>
    samples.filter((s) => s.atMs >= fromMs && s.atMs <= toMs);
  const twoPrimaries = (fromMs: number) =>
    samplesSince(fromMs)
      .filter((s) => Object.values(s.codes).filter((c) => c === 200).length > 1)
      .map((s) => `${new Date(s.atMs).toISOString()} ${JSON.stringify(s.codes)}`);
  /**
   * The runs of samples in [fromMs, toMs] in which `node` did not answer `/primary` with 200:
   * "+from..+to ms: <code> <reason> (n samples)", times from `fromMs`.
   */
  const notPrimary = (node: AgentNode, fromMs: number, toMs: number) => {
    const runs: { from: number; to: number; what: string; n: number }[] = [];
    let inRun = false;
    for (const s of samplesSince(fromMs, toMs)) {
      const code = s.codes[node.name];
      if (code === 200) {
        inRun = false;
        continue;
      }
      const what = `${code} ${s.reasons[node.name] ?? ''}`.trim();
      const last = runs.at(-1);
      if (inRun && last?.what === what) {
        last.to = s.atMs - fromMs;
        last.n++;
      } else runs.push({ from: s.atMs - fromMs, to: s.atMs - fromMs, what, n: 1 });
      inRun = true;
    }
    return runs.map((r) => `${node.name} +${r.from}..+${r.to} ms: ${r.what} (${r.n} samples)`);
  };
  /** largest gap between two of `node`'s acks in [fromMs, toMs], the window's ends included */
  const largestGap = (w: Writer, node: AgentNode, fromMs: number, toMs: number) => {
    const times = [
      fromMs,
      ...w.acks.filter((a) => a.target === node.name && a.atMs > fromMs && a.atMs < toMs).map((a) => a.atMs),
      toMs,
    ];
    return Math.max(...times.slice(1).map((t, i) => t - times[i]!));
  };
  /** `GET /primary`: the status (0: no answer) and the agent's reason header */
  const probePrimary = async (n: AgentNode) => {
    try {
      const res = await fetch(`${n.apiUrl}/primary`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return { status: res.status, reason: res.headers.get('x-hapg-reason') };
    } catch {
      return { status: 0, reason: null };
    }
  };
  const startWriter = () => {
    const w = cluster.writer({ intervalMs: 50 });
    w.start();
    writer = w;
    return w;
  };

  beforeAll(async () => {
    cluster = await TestCluster.start({
      nodes: 3,
      etcdMembers: 3,
      network: 'netns',
      ttl: TTL_S,
      loopWait: 2,
      retryTimeout: 3,
      dcs: { failsafe_mode: true, failsafe_timeout: FAILSAFE_TIMEOUT_S },
    });
    const primary = await cluster.waitHealthy(120_000);
    await cluster.prepareWriterTable(primary);
    const config = (await cluster.api(primary, '/config'))?.body as Record<string, unknown> | undefined;
    expect(config?.failsafe_mode).toBe(true);
    sampler = (async () => {
      while (sampling) {
        const atMs = Date.now();
        const answers = await Promise.all(cluster.nodes.map(probePrimary));
        samples.push({
          atMs,
          codes: Object.fromEntries(cluster.nodes.map((n, i) => [n.name, answers[i]!.status])),
          reasons: Object.fromEntries(
            cluster.nodes.flatMap((n, i) => (answers[i]!.reason ? [[n.name, answers[i]!.reason]] : [])),
          ),
        });
        await sleep(200);
      }
    })();
  });
  afterEach(async () => {
    if (outage !== null) return; // case 1 stopped etcd: case 2 brings it back and times that
    await writer?.stop();
    writer = null;
    await cluster?.net?.heal();
    if (cluster && !etcdRunning()) await startEtcd();
  });
  afterAll(async () => {
    sampling = false;
    await sampler;
    await outage?.writer.stop();
    await writer?.stop();
    await cluster?.close();
  });

  it('every etcd member stopped for 2 × ttl: the primary keeps accepting writes, the same postmaster, /primary 200 throughout', async () => {
    const primary = await cluster.waitHealthy();
    // the leader wrote the failsafe key (no lease) naming every member
    const key = await waitFor(
      async () => {
        const kv = await getKey(keys().failsafe);
        return kv !== null && Object.keys(JSON.parse(kv.value) as object).length === 3 ? kv : null;
      },
      { timeoutMs: 3 * TTL_MS, intervalMs: 500, what: 'the failsafe key naming three members' },
    );
    expect(key.lease).toBe('0');
    expectThreeMembers(JSON.parse(key.value));
    const before = await cluster.api(primary, '/failsafe');
    expect(before?.status).toBe(200);
    expectThreeMembers(before?.body);

    const started = await postmasterStart(primary);
    const w = startWriter();
    await sleep(1000);
    const downAt = Date.now();
    await stopEtcd();
    console.log(`etcd stopped in ${Date.now() - downAt} ms`);
    // from here the next case owns etcd and the writer, whatever fails below
    writer = null;
    outage = { primary, writer: w, postmasterStart: started, downAt };

    // every second: each node's failsafe_mode_is_active, and the primary's GET /failsafe
    const active: { atMs: number; node: string; active: boolean | undefined }[] = [];
    const failsafeReads: { atMs: number; status: number; body: unknown }[] = [];
    while (Date.now() < downAt + 2 * TTL_MS) {
      const atMs = Date.now();
      const st = await Promise.all(cluster.nodes.map(status));
      for (const [i, n] of cluster.nodes.entries())
        active.push({ atMs, node: n.name, active: st[i]!.failsafe_mode_is_active });
      const fs = await cluster.api(primary, '/failsafe');
      failsafeReads.push({ atMs, status: fs?.status ?? 0, body: fs?.body });
      await sleep(1000);
    }
    const endAt = Date.now();

    const mine = w.acks.filter((a) => a.target === primary.name);
    const lastAck = Math.max(...mine.map((a) => a.atMs));
    console.log(
      `etcd down ${endAt - downAt} ms: ${mine.filter((a) => a.atMs > downAt).length} acks on ${primary.name} during it, last +${lastAck - downAt} ms, largest gap ${largestGap(w, primary, downAt, endAt)} ms; failsafe_mode_is_active first seen on the primary at +${(active.find((s) => s.node === primary.name && s.active === true)?.atMs ?? Number.NaN) - downAt} ms`,
    );
    // acks from the same primary all along, far past the lease deadline (ttl − margin)
    expect(w.acks.filter((a) => a.target !== primary.name)).toEqual([]);
    expect(lastAck - downAt).toBeGreaterThan(2 * TTL_MS - 1500);
    expect(largestGap(w, primary, downAt, endAt)).toBeLessThan(2000);
    expect(await postmasterStart(primary)).toBe(started);
    expect.soft(notPrimary(primary, downAt, endAt)).toEqual([]);
    expect(twoPrimaries(downAt)).toEqual([]);
    // past the lease's own deadline the primary runs on the failsafe deadline, and says so (sampled
    // every second for the outage's second ttl)
    const late = active.filter((s) => s.node === primary.name && s.atMs > downAt + TTL_MS);
    expect(late.length).toBeGreaterThan(5);
    expect(late.filter((s) => s.active !== true)).toEqual([]);
    console.log(
      `failsafe_mode_is_active on the replicas past ttl: ${JSON.stringify(
        Object.fromEntries(
          others(primary).map((n) => [
            n.name,
            active.filter((s) => s.node === n.name && s.atMs > downAt + TTL_MS && s.active === true).length,
          ]),
        ),
      )} of ${late.length} samples`,
    );
    // GET /failsafe: the key as last written, the three members
    const lastRead = failsafeReads.at(-1)!;
    expect(lastRead.status).toBe(200);
    expectThreeMembers(lastRead.body);
    expect(failsafeReads.filter((r) => r.status !== 200)).toEqual([]);
    const result = await cluster.checkAcks(w.acks, primary);
    expect(result.lost).toEqual([]);
    expect(result.overlaps).toEqual([]);
  });

  it("etcd back: within ttl the leader key is bound to the primary's lease again, failsafe_mode_is_active false, no demotion", async () => {
    const o = outage;
    outage = null; // from here on afterEach restores whatever is left
    expect(o, 'the previous case stopped etcd and left its writer running').not.toBeNull();
    const { primary, postmasterStart: started, downAt } = o!;
    writer = o!.writer;
    const w = o!.writer;
    await startEtcd();
    const backAt = Date.now();
    const boundAt = await waitFor(async () => ((await heldBy(primary)) ? Date.now() : null), {
      timeoutMs: TTL_MS,
      intervalMs: 200,
      what: `the leader key bound to ${primary.name}'s lease`,
    });
    const inactiveAt = await waitFor(
      async () => {
        const st = await status(primary);
        return st.role !== undefined && st.failsafe_mode_is_active !== true ? Date.now() : null;
      },
      { timeoutMs: Math.max(1, backAt + TTL_MS - Date.now()), intervalMs: 200, what: 'failsafe inactive' },
    );
    console.log(
      `etcd back: key bound to ${primary.name}'s lease after ${boundAt - backAt} ms, failsafe_mode_is_active false after ${inactiveAt - backAt} ms`,
    );
    // and it stays so: still bound, failsafe still off, two loops later
    await sleep(4000);
    expect(await heldBy(primary)).toBe(true);
    expect((await status(primary)).failsafe_mode_is_active).not.toBe(true);
    await w.stop();
    writer = null;
    const endAt = Date.now();
    expect(await postmasterStart(primary)).toBe(started);
    expect(w.acks.filter((a) => a.target !== primary.name)).toEqual([]);
    expect(w.acks.filter((a) => a.target === primary.name && a.atMs > endAt - 1500).length).toBeGreaterThan(
      0,
    );
    expect(largestGap(w, primary, downAt, endAt - 200)).toBeLessThan(2000);
    // (the outage itself is the previous case's to check)
    expect.soft(notPrimary(primary, backAt, endAt)).toEqual([]);
    expect(twoPrimaries(downAt)).toEqual([]);
    const result = await cluster.checkAcks(w.acks, primary);
    expect(result.lost).toEqual([]);
    expect(result.overlaps).toEqual([]);
  });

  // Before the replica-cut case: that one stops the primary, this one must not.
  it('etcd cut for the primary only for 2 × ttl (the key expires for the replicas): the primary keeps writing, no replica is promoted, the same primary holds the key afterwards', async () => {
    const primary = await cluster.waitHealthy(60_000);
    await waitFor(() => heldBy(primary), { timeoutMs: TTL_MS, what: `${primary.name} holding the key` });
    const started = await postmasterStart(primary);
    const w = startWriter();
    await sleep(1000);
    const cutAt = Date.now();
    await net().cut(primary.name, etcdHosts);
    let keyGoneAt: number | null = null;
    const activeSeen: boolean[] = [];
    while (Date.now() < cutAt + 2 * TTL_MS) {
      if (keyGoneAt === null && (await getKey(keys().leader).catch(() => undefined)) === null)
        keyGoneAt = Date.now();
      if (Date.now() > cutAt + TTL_MS)
        activeSeen.push((await status(primary)).failsafe_mode_is_active === true);
      await sleep(500);
    }
    const healAt = Date.now();
    await net().heal();
    const boundAt = await waitFor(async () => ((await heldBy(primary)) ? Date.now() : null), {
      timeoutMs: 2 * TTL_MS,
      intervalMs: 200,
      what: `the leader key bound to ${primary.name}'s lease after healing`,
    });
    await sleep(1000);
    await w.stop();
    writer = null;
    const endAt = Date.now();
    const mine = w.acks.filter((a) => a.target === primary.name);
    console.log(
      `etcd cut for ${primary.name}: leader key gone for the others at +${keyGoneAt === null ? 'never' : keyGoneAt - cutAt} ms, ${mine.filter((a) => a.atMs > cutAt && a.atMs < healAt).length} acks during the cut, largest gap ${largestGap(w, primary, cutAt, endAt)} ms; key re-acquired ${boundAt - healAt} ms after healing`,
    );
    // the scenario happened: the replicas saw no leader key
    expect(keyGoneAt).not.toBeNull();
    // no replica promoted, ever; the primary answered as such throughout
    for (const r of others(primary))
      expect(samplesSince(cutAt).filter((s) => s.codes[r.name] === 200)).toEqual([]);
    expect.soft(notPrimary(primary, cutAt, endAt)).toEqual([]);
    expect(twoPrimaries(cutAt)).toEqual([]);
    expect(activeSeen.length).toBeGreaterThan(5);
    expect(activeSeen.filter((a) => !a)).toEqual([]);
    // it kept writing, past ttl after the cut and through the re-acquisition
    expect(w.acks.filter((a) => a.target !== primary.name)).toEqual([]);
    expect(mine.filter((a) => a.atMs > cutAt + TTL_MS + 5000 && a.atMs < healAt).length).toBeGreaterThan(0);
    expect(largestGap(w, primary, cutAt, endAt - 200)).toBeLessThan(2000);
    expect(await postmasterStart(primary)).toBe(started);
    expect(await heldBy(primary)).toBe(true);
    const result = await cluster.checkAcks(w.acks, primary);
    expect(result.lost).toEqual([]);
    expect(result.overlaps).toEqual([]);
    await cluster.waitHealthy(60_000);
  });

  it('etcd stopped and a replica cut off from the primary: the primary stops accepting writes within ttl − margin + 1.5 s of the cut; after healing one primary, nothing acknowledged lost', async () => {
    const old = await cluster.waitHealthy(60_000);
    await waitFor(() => heldBy(old), { timeoutMs: TTL_MS, what: `${old.name} holding the key` });
    const [cutReplica, other] = others(old) as [AgentNode, AgentNode];
    const offset = await logSize(old);
    const caseAt = Date.now();
    const w = startWriter();
    await sleep(1000);
    const downAt = Date.now();
    await stopEtcd();
    // rounds have begun and completed: the primary runs on F (a round every ttl/10); one more
    // round's worth so that F, not the lease, is what the cut leaves it with
    const activeAt = await waitFor(
      async () => ((await status(old)).failsafe_mode_is_active === true ? Date.now() : null),
      { timeoutMs: TTL_MS + 3000, intervalMs: 200, what: `failsafe_mode_is_active on ${old.name}` },
    );
    await sleep(2000);
    const cutAt = Date.now();
    await net().cut(old.name, [cutReplica.name]);
    const stoppedSeenAt = await waitFor(async () => ((await writable(old)) ? null : Date.now()), {
      timeoutMs: TTL_MS + 5000,
      intervalMs: 200,
      what: `${old.name} no longer writable`,
    });
    // read-only from then on: nobody takes over while etcd is down (the promises, and no key)
    await sleep(3000);
    const restoreAt = Date.now();
    const lastOldAck = Math.max(
      ...w.acks.filter((a) => a.target === old.name && a.atMs < restoreAt).map((a) => a.atMs),
    );
    const stopMs = lastOldAck - cutAt;
    const boundMs = TTL_MS - MARGIN_MS + 1500;
    console.log(
      `replica ${cutReplica.name} cut from ${old.name} (etcd stopped ${cutAt - downAt} ms before, failsafe active at +${activeAt - downAt} ms): last ack +${stopMs} ms after the cut (bound ${boundMs} ms), not writable seen at +${stoppedSeenAt - cutAt} ms`,
    );
    expect(stopMs).toBeLessThanOrEqual(boundMs);
    // P3: a failed round extends nothing but does not demote at once; the primary serves on
    // until the last complete round's F (≥ cut − one round period + ttl − margin)
    expect(stopMs).toBeGreaterThanOrEqual(TTL_MS - MARGIN_MS - 2000);
    expect(w.acks.filter((a) => a.atMs > lastOldAck && a.atMs < restoreAt)).toEqual([]);
    expect(twoPrimaries(caseAt)).toEqual([]);
    const log = await logSince(old, offset);
    const reasons = [...log.matchAll(/"reasonCode":"(FAILSAFE_[A-Z_]+)"/g)].map((m) => m[1]);
    console.log(`failsafe reason codes in ${old.name}'s log: ${[...new Set(reasons)].join(', ') || 'none'}`);
    expect(reasons).toContain('FAILSAFE_DEADLINE_PASSED');

    // everything back: exactly one primary, every replica streaming
    await startEtcd();
    await net().heal();
    const next = await cluster.waitHealthy(90_000);
    await waitFor(() => w.acks.some((a) => a.target === next.name && a.atMs > restoreAt), {
      timeoutMs: 10_000,
      what: `a write on ${next.name}`,
    });
    await w.stop();
    writer = null;
    console.log(`after healing: ${next.name} is the primary (${Date.now() - restoreAt} ms after restoring)`);
    expect(twoPrimaries(caseAt)).toEqual([]);
    const result = await cluster.checkAcks(w.acks, next);
    expect(result.overlaps).toEqual([]);
    if (next === old) expect(result.lost).toEqual([]);
    else {
      // another member took over: at most what the old primary acknowledged in its last
      // moments (LAG_MS before its last ack), not yet received by the member that won
      // (asynchronous replication). Stricter than testkit's withinBound, whose window right
      // after the fault is for primary_isolation_timeout: here the old primary served ~8 s
      // after the cut, streaming to a replica all along, and a loss from then would be real.
      const byId = new Map(w.acks.map((a) => [a.id, a]));
      const lost = result.lost.map((id) => byId.get(id)!);
      console.log(
        `${lost.length} acks lost (old ${old.name}, new ${next.name}, cut ${cutReplica.name}, other ${other.name})`,
      );
      expect(lost.filter((a) => a.target !== old.name || a.atMs < lastOldAck - LAG_MS)).toEqual([]);
    }
  });

  it("etcd stopped and the primary's agent frozen (SIGSTOP): its fence stops Postgres by the last failsafe deadline it was given", async () => {
    const old = await cluster.waitHealthy(60_000);
    await waitFor(() => heldBy(old), { timeoutMs: TTL_MS, what: `${old.name} holding the key` });
    const caseAt = Date.now();
    const w = startWriter();
    await sleep(1000);
    await stopEtcd();
    // past the lease deadline on F: only a fence armed with F keeps Postgres alive until now
    await waitFor(async () => ((await status(old)).failsafe_mode_is_active === true ? true : null), {
      timeoutMs: TTL_MS + 3000,
      intervalMs: 200,
      what: `failsafe_mode_is_active on ${old.name}`,
    });
    await sleep(1000);
    const fenceLogPath = `${old.dataDir}.fence.log`;
    const fenceLogBefore = (await readFile(fenceLogPath, 'utf8').catch(() => '')).length;
    const frozenAt = Date.now();
    old.signalAgent('SIGSTOP');
    try {
      // the agent can neither demote nor extend anything: only the fence stops Postgres
      const stoppedSeenAt = await waitFor(async () => ((await writable(old)) ? null : Date.now()), {
        timeoutMs: TTL_MS + 5000,
        intervalMs: 200,
        what: `${old.name}'s Postgres stopped by its fence`,
      });
      const lastOldAck = Math.max(
        ...w.acks.filter((a) => a.target === old.name && a.atMs < stoppedSeenAt).map((a) => a.atMs),
      );
      console.log(
        `agent of ${old.name} frozen with etcd down: last ack +${lastOldAck - frozenAt} ms, not writable seen at +${stoppedSeenAt - frozenAt} ms`,
      );
      // F is at most the last round's t0 + ttl − margin, and that round started before the freeze
      expect(lastOldAck - frozenAt).toBeLessThanOrEqual(TTL_MS - MARGIN_MS + 1000);
      // and it was the fence (the agent is frozen): its log says so
      // (written once the postmaster and its children are gone: a moment after writes stop)
      await waitFor(
        async () =>
          (await readFile(fenceLogPath, 'utf8').catch(() => ''))
            .slice(fenceLogBefore)
            .includes('fence fired: postmaster stopped'),
        { timeoutMs: 5000, what: `${old.name}'s fence log saying it fired` },
      );
      expect(twoPrimaries(caseAt)).toEqual([]);
    } finally {
      old.signalAgent('SIGCONT');
    }
    await startEtcd();
    const next = await cluster.waitHealthy(90_000);
    await waitFor(() => w.acks.some((a) => a.target === next.name && a.atMs > Date.now() - 2000), {
      timeoutMs: 15_000,
      what: `a write on ${next.name}`,
    });
    await w.stop();
    writer = null;
    expect(twoPrimaries(caseAt)).toEqual([]);
    const result = await cluster.checkAcks(w.acks, next);
    expect(result.overlaps).toEqual([]);
    // asynchronous replication: at most the old primary's last moments may be missing
    const lastOld = Math.max(...w.acks.filter((a) => a.target === old.name).map((a) => a.atMs));
    const byId = new Map(w.acks.map((a) => [a.id, a]));
    const lost = result.lost.map((id) => byId.get(id)!);
    expect(lost.filter((a) => a.target !== old.name || a.atMs < lastOld - LAG_MS)).toEqual([]);
  });
});
