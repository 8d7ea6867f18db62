#!/usr/bin/env node
/**
 * The local demo (README's main command): one etcd, three agents with their
 * Postgres and fences on loopback, as the `postgres` user when run as root.
 * Prints `hactl list` and how to connect, runs until Ctrl-C, then stops
 * everything it started. `--down` cleans up a leftover demo.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { HACTL_MAIN, pidsMatching, TestCluster } from './cluster.js';
import { TEST_SUPERUSER } from './postgres.js';

const DEMO_DIR = resolve(process.env.HAPG_DEMO_DIR ?? '.demo');
const PG_PORT = 55431;
const REST_PORT = 8008;

async function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = createServer();
    s.once('error', () => done(false));
    s.listen(port, '127.0.0.1', () => s.close(() => done(true)));
  });
}

async function down(): Promise<void> {
  const etcdPidFile = resolve(DEMO_DIR, 'etcd.pids');
  const pids = new Set(await pidsMatching(DEMO_DIR));
  if (existsSync(etcdPidFile)) {
    for (const p of (await readFile(etcdPidFile, 'utf8')).split(/\s+/).filter(Boolean)) pids.add(Number(p));
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await rm(DEMO_DIR, { recursive: true, force: true });
  if (pids.size > 0) console.log(`stopped ${pids.size} leftover demo process(es)`);
}

async function main(): Promise<void> {
  if (process.argv.includes('--down')) {
    await down();
    console.log('demo cleaned up');
    return;
  }
  await down();
  const fixed = (
    await Promise.all([0, 1, 2].flatMap((i) => [portFree(PG_PORT + i), portFree(REST_PORT + i)]))
  ).every(Boolean);
  console.log('starting etcd and 3 hapg agents (Postgres 15) on 127.0.0.1 ...');
  const started = performance.now();
  const cluster = await TestCluster.start({
    nodes: 3,
    scope: 'demo',
    baseDir: DEMO_DIR,
    ...(fixed ? { fixedPorts: { pg: PG_PORT, rest: REST_PORT } } : {}),
  });
  await writeFile(
    resolve(DEMO_DIR, 'etcd.pids'),
    cluster.etcd.members.map((m) => m.process()?.pid ?? '').join(' '),
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping the demo ...');
    await Promise.all(cluster.nodes.map((n) => n.stop()));
    await cluster.close();
    await rm(DEMO_DIR, { recursive: true, force: true });
    console.log('demo stopped');
    process.exit(0);
  };
  // Replace the test harness's exit-on-signal hook: the demo stops its agents gracefully
  // (each stops its Postgres and fence), then kills whatever is left under .demo/.
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  try {
    await cluster.waitHealthy(180_000);
  } catch (e) {
    console.error(
      `the cluster did not become healthy: ${String(e)}; agent logs are in ${DEMO_DIR}/*.agent.log`,
    );
    await stop();
    return;
  }
  console.log(`healthy after ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  const hactlConfig = resolve(DEMO_DIR, 'hactl.yaml');
  await writeFile(hactlConfig, `scope: demo\netcd3:\n  hosts: [${cluster.etcd.endpoints.join(', ')}]\n`);
  const hactl = ['npm', 'run', '-s', 'hactl', '--', '-c', '.demo/hactl.yaml'];
  try {
    console.log(
      execFileSync(process.execPath, [HACTL_MAIN, '-c', hactlConfig, 'list'], { encoding: 'utf8' }),
    );
  } catch (e) {
    console.log(`(hactl list failed: ${String(e)})`);
  }
  const pw = encodeURIComponent(TEST_SUPERUSER.password);
  console.log('Connect:');
  for (const n of cluster.nodes) {
    console.log(
      `  ${n.name}: psql "postgres://postgres:${pw}@127.0.0.1:${n.pgPort}/postgres"   REST ${n.apiUrl}/patroni`,
    );
  }
  const hosts = cluster.nodes.map((n) => `127.0.0.1:${n.pgPort}`).join(',');
  console.log(
    `  primary, whichever it is: psql "postgres://postgres:${pw}@${hosts}/postgres?target_session_attrs=read-write"`,
  );
  // every agent serves it; `hactl ui` prints one that answers
  console.log(
    `\nDashboard: ${cluster.nodes[0]!.apiUrl}/ui   (live in the browser; \`${hactl.join(' ')} ui\` prints a reachable one)`,
  );
  console.log(`\nTry:\n  ${hactl.join(' ')} list\n  curl -s ${cluster.nodes[0]!.apiUrl}/cluster | jq`);
  console.log(
    `  kill the primary's agent, fence and Postgres (a host death) and watch another node take over.`,
  );
  console.log(`Logs: ${DEMO_DIR}/node*.agent.log. Press Ctrl-C to stop everything.`);
  if (process.argv.includes('--exit-when-healthy')) await stop();
  // Like systemd's Restart=on-failure: an agent that dies (kill -9 of a "host") is started
  // again after a few seconds, and comes back as a replica by itself (pg_rewind or re-clone).
  const RESTART_AFTER_MS = 5000;
  for (const n of cluster.nodes) {
    const watch = (): void => {
      void n.process()?.exited.then(({ code, signal }) => {
        if (stopping) return;
        console.log(
          `[demo] ${n.name}'s agent exited (${signal ?? `code ${code}`}); restarting it in ${RESTART_AFTER_MS / 1000} s`,
        );
        setTimeout(() => {
          if (stopping) return;
          void n.start().then(() => {
            console.log(`[demo] ${n.name}'s agent restarted`);
            watch();
          });
        }, RESTART_AFTER_MS);
      });
    };
    watch();
  }
}

main().catch((e) => {
  console.error(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
