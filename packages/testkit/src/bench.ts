import { closeSync, openSync, readSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { type AgentNode, TestCluster } from './cluster.js';
import { waitFor } from './proc.js';
import type { Writer } from './writer.js';

/** The value below which a share `p` of `xs` lies (nearest rank); NaN for none. */
export function quantile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}

/** `n=… min … / median … / p90 … / max … ms` of a list of durations. */
export function stats(xs: readonly number[]): string {
  if (xs.length === 0) return 'not run';
  const q = (p: number) => quantile(xs, p);
  return `n=${xs.length} min ${Math.min(...xs)} / median ${q(0.5)} / p90 ${q(0.9)} / max ${Math.max(...xs)} ms`;
}

/**
 * ms from the fault (`t0`) until a node other than `exclude` (any, if null) acknowledges a write
 * that was sent after the writer first saw the outage (an insert in flight at the kill can
 * still be acknowledged just after `t0`: that is not recovery).
 */
export async function timeToWrite(t0: number, writer: Writer, exclude: AgentNode | null): Promise<number> {
  const outage = await waitFor(() => writer.errorTimes.find((e) => e.atMs >= t0), {
    timeoutMs: 60_000,
    intervalMs: 5,
    what: 'the writer to see the outage',
  });
  const ack = await waitFor(
    () => writer.acks.find((a) => a.atMs > outage.atMs && (exclude === null || a.target !== exclude.name)),
    { timeoutMs: 120_000, intervalMs: 5, what: 'a write after the fault' },
  );
  return ack.atMs - t0;
}

/** Reads `--name value` from the command line. */
export function cliArg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
}

/** Runs a script's main and exits 0/1 (open handles of a failed cluster must not keep it alive). */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}

/**
 * The cluster of the issue 15 figures, measured beside Patroni's: 3 nodes and 3 etcd members on
 * namespaced hosts, loop_wait 2, retry_timeout 3, healthy; resolves with it and its primary.
 */
export async function startIdleBenchCluster(
  ttl: number,
): Promise<{ cluster: TestCluster; primary: AgentNode }> {
  const cluster = await TestCluster.start({
    nodes: 3,
    etcdMembers: 3,
    network: 'netns',
    ttl,
    loopWait: 2,
    retryTimeout: 3,
  });
  try {
    return { cluster, primary: await cluster.waitHealthy(240_000) };
  } catch (e) {
    await cluster.close();
    throw e;
  }
}

/** etcd's `grpc_server_msg_received_total` (unary requests and stream messages), summed over `endpoints`. */
export async function etcdMessagesReceived(endpoints: readonly string[]): Promise<number> {
  let sum = 0;
  for (const e of endpoints) {
    const text = await (await fetch(`http://${e}/metrics`)).text();
    for (const line of text.split('\n'))
      if (line.startsWith('grpc_server_msg_received_total')) sum += Number(line.split(' ').at(-1));
  }
  return sum;
}

const PAGE_KIB = 4;
const PFN_MASK = (1n << 55n) - 1n;

/**
 * KiB resident for any of `pids`, each physical page once (node's own text, ~31 MiB, is the same
 * physical pages in every node process: summing RSS counts it once per process): the page frames behind every
 * resident mapping, from /proc/PID/pagemap (root only: others read frame numbers as 0).
 */
export async function residentUnionKiB(pids: readonly number[]): Promise<number> {
  const frames = new Set<bigint>();
  for (const pid of pids) {
    const smaps = await readFile(`/proc/${pid}/smaps`, 'utf8').catch(() => '');
    const fd = openSync(`/proc/${pid}/pagemap`, 'r');
    try {
      let range: [number, number] | null = null;
      for (const line of smaps.split('\n')) {
        const head = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
        if (head) {
          range = [Number.parseInt(head[1]!, 16), Number.parseInt(head[2]!, 16)];
          continue;
        }
        const rss = /^Rss:\s+(\d+)/.exec(line);
        if (rss === null || range === null || Number(rss[1]) === 0) continue;
        const pages = (range[1] - range[0]) / (PAGE_KIB * 1024);
        const buf = Buffer.alloc(pages * 8);
        readSync(fd, buf, 0, buf.length, (range[0] / (PAGE_KIB * 1024)) * 8);
        for (let i = 0; i < pages; i++) {
          const entry = buf.readBigUInt64LE(i * 8);
          if (entry >> 63n === 1n) frames.add(entry & PFN_MASK);
        }
      }
    } finally {
      closeSync(fd);
    }
  }
  return frames.size * PAGE_KIB;
}
