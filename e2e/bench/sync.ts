/**
 * Synchronous-mode benchmark (by hand, not CI): `npm run bench:sync [-- --seconds 20 --rounds 3 --runs 5]`.
 * One real 3-node cluster with the default timing (ttl 10, loop_wait 2, retry_timeout 3) and
 * fsync on; for
 * synchronous_mode off, on and quorum in turn (switched at run time, same cluster, same data):
 *   pgbench TPS through the primary (TPC-B-like, 8 clients, 2 threads, scale 10), the three
 *   modes interleaved `--rounds` times on one primary after a warm-up;
 *   failover time: SIGKILL of the primary's agent, fence and postmaster → first write
 *   acknowledged by the new primary (`--runs` times), with the acknowledged-commit check;
 *   in `on` and quorum mode twice: lease-bound, and with `fast_failover` on
 *   (docs/fast-failover.md); `--only-fast` runs the fast rows alone.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findBinDir } from '@hapg/postgres';
import {
  type AgentNode,
  cliArg,
  runMain,
  sleep,
  stats,
  TEST_SUPERUSER,
  TestCluster,
  timeToWrite,
  waitFor,
} from '@hapg/testkit';

const run = promisify(execFile);
const seconds = Number(cliArg('--seconds')) || 20;
const runs = cliArg('--runs') === undefined ? 5 : Number(cliArg('--runs'));
const rounds = Number(cliArg('--rounds')) || 3;
/** `--only-fast`: just the `fast_failover` failovers (no TPS rounds, no lease-bound runs) */
const onlyFast = process.argv.includes('--only-fast');
const user = TEST_SUPERUSER.username;
const password = TEST_SUPERUSER.password;
const MODES = [
  { name: 'off', value: false, standbys: 0, fast: false },
  { name: 'on', value: true, standbys: 1, fast: false },
  { name: 'quorum', value: 'quorum', standbys: 2, fast: false },
] as const;
/** The failover runs: each mode lease-bound, and `on` and quorum with the fast path (same TPS). */
const FAILOVERS = [
  ...MODES,
  { name: 'on', value: true, standbys: 1, fast: true },
  { name: 'quorum', value: 'quorum', standbys: 2, fast: true },
] as const;
const label = (m: (typeof FAILOVERS)[number]) => (m.fast ? `${m.name}, fast_failover` : m.name);

async function pgbench(bin: string, node: AgentNode, args: readonly string[]): Promise<string> {
  const conn = ['-h', '127.0.0.1', '-p', String(node.pgPort), '-U', user];
  const r = await run(join(bin, 'pgbench'), [...conn, ...args, 'postgres'], {
    env: { ...process.env, PGPASSWORD: password },
    maxBuffer: 16 * 1024 * 1024,
  });
  return r.stdout;
}

async function settle(cluster: TestCluster, mode: (typeof FAILOVERS)[number]): Promise<AgentNode> {
  if (mode.name === 'off') {
    return waitFor(
      async () => {
        const p = await cluster.primary();
        return p !== null && (await cluster.ssn(p)) === '' ? p : null;
      },
      { timeoutMs: 60_000, what: 'asynchronous primary' },
    );
  }
  return (await cluster.waitSync(mode.name, mode.standbys, 120_000)).primary;
}

async function main(): Promise<void> {
  const bin = await findBinDir();
  // fsync on (the test clusters turn it off for speed): a synchronous commit then pays for the
  // standby's flush as it would in production, which is what this benchmark is about
  const cluster = await TestCluster.start({
    nodes: 3,
    ttl: 10,
    loopWait: 2,
    retryTimeout: 3,
    parameters: { fsync: 'on' },
  });
  const tps = new Map<string, number[]>(MODES.map((m) => [m.name, []]));
  const failover = new Map<string, string>();
  try {
    const first = await cluster.waitHealthy(180_000);
    await cluster.prepareWriterTable(first);
    await pgbench(bin, first, ['-i', '-s', '10', '-q']);
    await pgbench(bin, first, ['-c', '8', '-j', '2', '-T', '10']); // warm-up: caches, first checkpoint
    // TPS: the modes interleaved, `--rounds` times, on one primary, so drift and checkpoints
    // spread over all of them instead of favouring whichever ran last
    for (let round = 0; round < (onlyFast ? 0 : rounds); round++) {
      for (const mode of MODES) {
        await cluster.patchConfig({ synchronous_mode: mode.value });
        const primary = await settle(cluster, mode);
        const out = await pgbench(bin, primary, ['-c', '8', '-j', '2', '-T', String(seconds)]);
        const value = Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
        tps.get(mode.name)!.push(value);
        console.log(
          `round ${round + 1}: synchronous_mode ${mode.name}: ${value.toFixed(0)} tps (${seconds} s)`,
        );
      }
    }
    for (const mode of FAILOVERS.filter((m) => !onlyFast || m.fast)) {
      await cluster.patchConfig({ synchronous_mode: mode.value, fast_failover: mode.fast });
      const times: number[] = [];
      let lost = 0;
      let acks = 0;
      for (let i = 0; i < runs; i++) {
        const victim = await settle(cluster, mode);
        await cluster.waitHealthy(180_000);
        const writer = cluster.writer({ statementTimeoutMs: 15_000 });
        writer.start();
        await sleep(500 + Math.random() * 1000);
        const t0 = Date.now();
        await cluster.killHost(victim);
        times.push(await timeToWrite(t0, writer, victim));
        await writer.stop();
        const next = await cluster.waitForPrimary(60_000, victim);
        const r = await cluster.checkAcks(writer.acks, next);
        lost += r.lost.length;
        acks += writer.acks.length;
        console.log(
          `  ${label(mode)}: failover #${i + 1}: ${times.at(-1)} ms, ${r.lost.length} of ${writer.acks.length} lost`,
        );
        await victim.start();
        await cluster.waitHealthy(180_000);
      }
      failover.set(label(mode), runs === 0 ? 'not run' : `${stats(times)}; lost ${lost} of ${acks}`);
    }
    console.log(
      '\n| synchronous_mode | pgbench TPS (each round) | median | host death → first write on the new primary |',
    );
    console.log('|---|---|---|---|');
    for (const mode of FAILOVERS.filter((m) => !onlyFast || m.fast)) {
      const xs = tps.get(mode.name)!;
      const median = [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const tpsCells = mode.fast
        ? `as \`${mode.name}\` | as \`${mode.name}\``
        : `${xs.map((x) => x.toFixed(0)).join(', ')} | ${median.toFixed(0)}`;
      console.log(`| ${label(mode)} | ${tpsCells} | ${failover.get(label(mode))} |`);
    }
  } finally {
    await cluster.close();
  }
}

runMain(main);
