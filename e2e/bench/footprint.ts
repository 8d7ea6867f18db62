/**
 * What an agent costs its host, and how fast it answers health checks (by hand, not CI):
 *   npm run bench:footprint -- [--minutes 1] [--ttl 10] [--wrk-runs 3]
 * A 3-node cluster with 3 etcd members on namespaced hosts. After the run-in period, per node:
 * the agent's and the fence's RSS and PSS, the pair's resident set with every page counted once
 * (node's own text, ~31 MiB, is the same physical pages in both: summing their RSS counts it
 * twice), the agent's V8 heap; then `wrk -c50 -d10s` on the primary's `GET /primary`
 * while the cluster's loop runs, with the agent's event-loop delay over exactly that window
 * (`hapg_nodejs_eventloop_lag_*`, reset by each scrape).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import {
  type AgentNode,
  cliArg,
  residentUnionKiB,
  runMain,
  sleep,
  startIdleBenchCluster,
} from '@hapg/testkit';

const run = promisify(execFile);

interface Mem {
  rssKiB: number;
  pssKiB: number;
  pids: number[];
}

/** RSS and PSS of a node's agent and fence processes (not Postgres, not shims). */
async function memory(node: AgentNode): Promise<{ agent: Mem; fence: Mem }> {
  const out = {
    agent: { rssKiB: 0, pssKiB: 0, pids: [] as number[] },
    fence: { rssKiB: 0, pssKiB: 0, pids: [] as number[] },
  };
  for (const pid of (await node.netHost?.pids()) ?? []) {
    try {
      const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ');
      const which = /fence\/main\.js/.test(cmd)
        ? 'fence'
        : /agent\/dist\/main\.js/.test(cmd)
          ? 'agent'
          : null;
      if (which === null) continue;
      const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
      out[which].rssKiB += Number(/^Rss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
      out[which].pssKiB += Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
      out[which].pids.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

async function metrics(node: AgentNode): Promise<Map<string, number>> {
  const text = await (await fetch(`${node.apiUrl}/metrics`)).text();
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const i = line.lastIndexOf(' ');
    // the agent labels every series with its scope and name: keyed by the bare metric name
    m.set(line.slice(0, i).replace(/\{.*\}$/, ''), Number(line.slice(i + 1)));
  }
  return m;
}

const mib = (kib: number) => (kib / 1024).toFixed(1);

async function printMemory(nodes: readonly AgentNode[], title: string): Promise<void> {
  console.log(`\n${title} (KiB → MiB):`);
  for (const n of nodes) {
    const m = await memory(n);
    const union = await residentUnionKiB([...m.agent.pids, ...m.fence.pids]);
    const heap = await metrics(n);
    const used = heap.get('hapg_nodejs_heap_size_used_bytes') ?? Number.NaN;
    const total = heap.get('hapg_nodejs_heap_size_total_bytes') ?? Number.NaN;
    console.log(
      `  ${n.name}: agent RSS ${mib(m.agent.rssKiB)} PSS ${mib(m.agent.pssKiB)}, fence RSS ${mib(m.fence.rssKiB)} PSS ${mib(m.fence.pssKiB)}; together RSS ${mib(m.agent.rssKiB + m.fence.rssKiB)} (each page once ${mib(union)}) PSS ${mib(m.agent.pssKiB + m.fence.pssKiB)}; V8 heap used ${(used / 1048576).toFixed(1)} of ${(total / 1048576).toFixed(1)} MiB`,
    );
  }
}

async function main(): Promise<void> {
  const minutes = Number(cliArg('--minutes')) || 1;
  const ttl = Number(cliArg('--ttl')) || 10;
  const { cluster, primary } = await startIdleBenchCluster(ttl);
  try {
    console.log(`cluster healthy; running for ${minutes} min before measuring…`);
    await sleep(minutes * 60_000);
    await printMemory(cluster.nodes, 'memory per node');
    const wrkRuns = Number(cliArg('--wrk-runs')) || 3;
    for (let i = 1; i <= wrkRuns; i++) {
      await metrics(primary); // resets the event-loop histogram: the next scrape covers wrk only
      const { stdout } = await run('wrk', ['-t2', '-c50', '-d10s', '--latency', `${primary.apiUrl}/primary`]);
      const lag = await metrics(primary);
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1];
      const p = (q: string) => new RegExp(`\\s${q}%\\s+([\\d.]+\\w+)`).exec(stdout)?.[1];
      const ms = (k: string) =>
        ((lag.get(`hapg_nodejs_eventloop_lag_${k}_seconds`) ?? Number.NaN) * 1000).toFixed(1);
      console.log(
        `\nGET /primary on ${primary.name}, wrk -t2 -c50 -d10s, run ${i}/${wrkRuns}: ${rps} req/s, p50 ${p('50')}, p99 ${p('99')}; agent event-loop delay meanwhile: p50 ${ms('p50')} ms, p99 ${ms('p99')} ms, max ${ms('max')} ms`,
      );
    }
    await printMemory(cluster.nodes, 'memory per node after the health-check bursts');
  } finally {
    await cluster.close();
  }
}

runMain(main);
