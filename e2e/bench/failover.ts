/**
 * Failover benchmark (by hand, not CI): `npm run bench:failover [-- --runs 10]`.
 * For each timing profile, on one real 3-node cluster:
 *   host death     SIGKILL agent + fence + postmaster of the primary → first write acknowledged by the new primary
 *   pg crash       SIGKILL the primary's postmaster only (agent alive) → first write acknowledged again
 * Prints min / median / p90 / max in ms.
 */
import {
  cliArg,
  runMain,
  stats,
  sleep,
  TEST_SUPERUSER,
  TestCluster,
  timeToWrite,
  Writer,
} from '@hapg/testkit';

const arg = cliArg;
const runs = Number(arg('--runs')) || 10;
/** `host`, `crash` or both (default) */
const only = arg('--only');
const profiles = [
  { name: 'defaults (ttl 10, loop_wait 2, retry_timeout 3)', ttl: 10, loopWait: 2, retryTimeout: 3 },
  { name: 'ttl 5 (loop_wait 1, retry_timeout 2)', ttl: 5, loopWait: 1, retryTimeout: 2 },
];
const user = TEST_SUPERUSER.username;
const password = TEST_SUPERUSER.password;

async function main(): Promise<void> {
  for (const p of profiles) {
    const cluster = await TestCluster.start({
      nodes: 3,
      ttl: p.ttl,
      loopWait: p.loopWait,
      retryTimeout: p.retryTimeout,
    });
    try {
      const first = await cluster.waitHealthy(180_000);
      await cluster.prepareWriterTable(first);
      const hostDeath: number[] = [];
      const pgCrash: number[] = [];
      for (let i = 0; i < (only === 'crash' ? 0 : runs); i++) {
        const primary = await cluster.waitHealthy(180_000);
        const writer = cluster.writer({ intervalMs: 10 });
        writer.start();
        await sleep(500 + Math.random() * 1000); // random phase against the keepalive period
        const t0 = Date.now();
        await cluster.killHost(primary);
        hostDeath.push(await timeToWrite(t0, writer, primary));
        await writer.stop();
        process.stdout.write(`  ${p.name}: host death #${i + 1}: ${hostDeath.at(-1)} ms\n`);
        await primary.start();
      }
      for (let i = 0; i < runs; i++) {
        const primary = await cluster.waitHealthy(180_000);
        const writer = new Writer({
          targets: [{ name: primary.name, host: '127.0.0.1', port: primary.pgPort }],
          user,
          password,
        });
        writer.start();
        await sleep(500);
        const pid = await primary.postmasterPid();
        const t0 = Date.now();
        if (pid !== null) process.kill(pid, 'SIGKILL');
        pgCrash.push(await timeToWrite(t0, writer, null));
        await writer.stop();
        process.stdout.write(`  ${p.name}: pg crash #${i + 1}: ${pgCrash.at(-1)} ms\n`);
      }
      console.log(`\n${p.name}`);
      console.log(`  host death → first write on the new primary: ${stats(hostDeath)}`);
      console.log(`  Postgres crash → writable again:             ${stats(pgCrash)}\n`);
    } finally {
      await cluster.close();
    }
  }
}

runMain(main);
