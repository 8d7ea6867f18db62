/**
 * Switchover benchmark (by hand, not CI): `npm run bench:switchover [-- --runs 10]`.
 * A real 3-node cluster with the default timing; a writer inserts every 10 ms on every node;
 * `hactl switchover --force` moves the leader to the next node, `--runs` times.
 * Prints min / median / max of the write gap (last ack on the old primary → first ack on the
 * new one) and of the command's duration, and checks that no acknowledged commit was lost.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cliArg, HACTL_MAIN, sleep, runMain, stats, TestCluster, writeGapMs } from '@hapg/testkit';

const run = promisify(execFile);
const runs = Number(cliArg('--runs')) || 10;

async function main(): Promise<void> {
  const cluster = await TestCluster.start({ nodes: 3 });
  try {
    const first = await cluster.waitHealthy(180_000);
    await cluster.prepareWriterTable(first);
    const gaps: number[] = [];
    const durations: number[] = [];
    let lost = 0;
    for (let r = 0; r < runs; r++) {
      const old = await cluster.waitHealthy(180_000);
      const candidate = cluster.nodes[(cluster.nodes.indexOf(old) + 1) % cluster.nodes.length]!;
      const writer = cluster.writer();
      writer.start();
      await sleep(1000);
      const t0 = performance.now();
      await run(process.execPath, [
        HACTL_MAIN,
        '--etcd',
        cluster.etcd.endpoints.join(','),
        '--scope',
        cluster.scope,
        'switchover',
        '--leader',
        old.name,
        '--candidate',
        candidate.name,
        '--force',
      ]);
      durations.push(Math.round(performance.now() - t0));
      const next = await cluster.waitForPrimary(60_000, old);
      const deadline = Date.now() + 10_000;
      while (!writer.acks.some((a) => a.target === next.name) && Date.now() < deadline) await sleep(10);
      await sleep(500);
      await writer.stop();
      const gapMs = writeGapMs(writer.acks, old.name, next.name);
      gaps.push(gapMs);
      const check = await cluster.checkAcks(writer.acks, next);
      lost += check.lost.length;
      console.log(
        `  #${r + 1} ${old.name} → ${next.name}: gap ${gapMs} ms, command ${durations.at(-1)} ms, lost ${check.lost.length}, overlaps ${check.overlaps.length}`,
      );
    }
    console.log(`\nswitchover (defaults: ttl 10, loop_wait 2, retry_timeout 3), ${runs} runs`);
    console.log(`  write gap:        ${stats(gaps)}`);
    console.log(`  command duration: ${stats(durations)}`);
    console.log(`  acknowledged commits lost: ${lost}`);
  } finally {
    await cluster.close();
  }
}

runMain(main);
