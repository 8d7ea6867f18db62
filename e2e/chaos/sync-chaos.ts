/**
 * Synchronous-mode chaos (by hand, not CI): `npm run chaos:sync [-- --runs 50 --mode on|quorum]`.
 * One real 3-node cluster (ttl 4 s) in synchronous mode and a writer committing on every node
 * all along. Each round waits for a primary with its synchronous standby(s), then fails the
 * primary — even rounds `kill -9` of the whole host (agent, fence, Postgres), odd rounds a
 * freeze (SIGSTOP of agent and Postgres, the fence alive, as a partition or a stalled VM) —
 * waits for the new primary, checks that it holds every commit acknowledged so far and that
 * in `on` mode it was a synchronous standby, then brings the old host back (it rejoins by
 * itself). Exits 1 on any lost commit, overlap or promotion of a non-synchronous member.
 */
import { cliArg, runMain, sleep, stats, TestCluster, timeToWrite } from '@hapg/testkit';

const runs = Number(cliArg('--runs')) || 50;
const mode = cliArg('--mode') === 'quorum' ? 'quorum' : 'on';
const TTL_S = 4;

async function main(): Promise<void> {
  const cluster = await TestCluster.start({
    nodes: 3,
    ttl: TTL_S,
    loopWait: 1,
    retryTimeout: 1,
    dcs: { synchronous_mode: mode === 'on' ? true : 'quorum' },
  });
  const standbys = mode === 'on' ? 1 : 2;
  const failures: string[] = [];
  const times: number[] = [];
  try {
    const first = await cluster.waitHealthy(180_000);
    await cluster.prepareWriterTable(first);
    const writer = cluster.writer({ statementTimeoutMs: 10_000 });
    writer.start();
    for (let i = 0; i < runs; i++) {
      const { primary, sync } = await cluster.waitSync(mode, standbys, 180_000);
      await sleep(1000 + Math.random() * 1000); // random phase against keepalives and loops
      const fault = i % 2 === 0 ? 'kill -9' : 'freeze';
      const t0 = Date.now();
      let frozen: number[] = [];
      if (fault === 'kill -9') await cluster.killHost(primary);
      else frozen = await cluster.freezeHost(primary);
      const next = await cluster.waitForPrimary(120_000, primary);
      times.push(await timeToWrite(t0, writer, primary));
      const result = await cluster.checkAcks(writer.acks, next);
      const wasSync = sync.some((n) => n.name === next.name);
      const line = `#${i + 1} ${fault} ${primary.name} → ${next.name}${wasSync ? ' (sync)' : ' (NOT sync)'}: ${times.at(-1)} ms, ${writer.acks.length} acks so far, ${result.lost.length} lost, ${result.overlaps.length} overlaps`;
      console.log(line);
      for (const id of result.lost.slice(0, 5))
        console.log(`    lost: ${JSON.stringify(writer.acks.find((a) => a.id === id))}`);
      if (result.lost.length > 0 || result.overlaps.length > 0 || (mode === 'on' && !wasSync))
        failures.push(line);
      if (fault === 'kill -9') await primary.start();
      else cluster.thawHost(primary, frozen);
      await cluster.waitHealthy(180_000);
    }
    await writer.stop();
    const primary = await cluster.waitForPrimary();
    const final = await cluster.checkAcks(writer.acks, primary);
    console.log(
      `\nsynchronous_mode ${mode}: ${runs} consecutive failovers (${Math.ceil(runs / 2)} kill -9, ${Math.floor(runs / 2)} freeze)`,
    );
    console.log(
      `  acknowledged commits: ${writer.acks.length}, lost: ${final.lost.length}, overlaps: ${final.overlaps.length}`,
    );
    console.log(
      `  committed locally without confirmation (sync wait cancelled, not acknowledged): ${writer.unconfirmed.length}`,
    );
    console.log(`  fault → first write on the new primary: ${stats(times)}`);
    if (final.lost.length > 0) failures.push(`final check: ${final.lost.length} lost`);
  } finally {
    await cluster.close();
  }
  if (failures.length > 0) throw new Error(`failed rounds:\n${failures.join('\n')}`);
}

runMain(main);
