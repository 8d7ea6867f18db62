import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  freePorts,
  HACTL_MAIN,
  type HaproxyHandle,
  runHaproxy,
  sleep,
  startHaproxy,
  TEST_SUPERUSER,
  TestCluster,
  waitFor,
} from '@hapg/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

async function insertVia(port: number, id: number): Promise<string | null> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port,
    user: TEST_SUPERUSER.username,
    password: TEST_SUPERUSER.password,
    database: 'postgres',
    connectionTimeoutMillis: 1000,
    query_timeout: 2000,
  });
  c.on('error', () => {});
  try {
    await c.connect();
    await c.query('CREATE TABLE IF NOT EXISTS via_haproxy (id int primary key)');
    await c.query('INSERT INTO via_haproxy VALUES ($1)', [id]);
    return (await c.query<{ port: string }>("SELECT current_setting('port') AS port")).rows[0]!.port;
  } catch {
    return null;
  } finally {
    await c.end().catch(() => {});
  }
}

describe('HAProxy in front of the cluster', () => {
  let cluster: TestCluster;
  let haproxy: HaproxyHandle;

  beforeAll(async () => {
    cluster = await TestCluster.start({ nodes: 3, ttl: 4, loopWait: 1, retryTimeout: 1 });
    await cluster.waitHealthy(120_000);
    haproxy = await startHaproxy(cluster.nodes, cluster.baseDir);
  });
  afterAll(async () => {
    await haproxy?.close();
    await cluster?.close();
  });

  it('hactl haproxy-config writes, from the live member keys, a config HAProxy loads and routes writes with', async () => {
    const primary = await cluster.waitForPrimary();
    const [primaryPort, replicasPort] = (await freePorts(2)) as [number, number];
    const file = join(cluster.baseDir, 'hactl-haproxy.cfg');
    const run = promisify(execFile);
    const args = ['--etcd', cluster.etcd.endpoints.join(','), '--scope', cluster.scope, 'haproxy-config'];
    const ports = [
      '--primary-port',
      `127.0.0.1:${primaryPort}`,
      '--replica-port',
      `127.0.0.1:${replicasPort}`,
    ];
    const { stdout } = await run(process.execPath, [HACTL_MAIN, ...args, ...ports, '--no-stats', '-f', file]);
    expect(stdout).toBe(`wrote ${file} (3 servers: node1, node2, node3)\n`);
    const cfg = await readFile(file, 'utf8');
    for (const n of cluster.nodes)
      expect(cfg).toContain(
        `    server ${n.name} ${n.host}:${n.pgPort} maxconn 100 check port ${n.restPort}\n`,
      );
    await run('haproxy', ['-c', '-f', file]);
    const fromHactl = await runHaproxy(file, { primaryPort, replicasPort });
    try {
      const servedBy = await waitFor(() => insertVia(primaryPort, 1000), {
        timeoutMs: 10_000,
        what: "a write via hactl's haproxy config",
      });
      expect(Number(servedBy)).toBe(primary.pgPort);
    } finally {
      await fromHactl.close();
    }
  });

  it('routes writes to the primary, and to the new primary after the old one dies', async () => {
    const primary = await cluster.waitForPrimary();
    const servedBy = await waitFor(() => insertVia(haproxy.primaryPort, 1), {
      timeoutMs: 10_000,
      what: 'a write via haproxy',
    });
    expect(Number(servedBy)).toBe(primary.pgPort);
    await cluster.killHost(primary);
    let id = 2;
    const after = await waitFor(() => insertVia(haproxy.primaryPort, id++), {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: 'a write via haproxy after the primary died',
    });
    const next = await cluster.waitForPrimary(10_000, primary);
    expect(Number(after)).toBe(next.pgPort);
  });

  it('routes reads on the replicas port to replicas only, once the checks have seen the new roles', async () => {
    const primary = await cluster.waitForPrimary();
    const readVia = async () => {
      const c = new pg.Client({
        host: '127.0.0.1',
        port: haproxy.replicasPort,
        user: TEST_SUPERUSER.username,
        password: TEST_SUPERUSER.password,
        database: 'postgres',
        connectionTimeoutMillis: 2000,
      });
      c.on('error', () => {});
      try {
        await c.connect();
        const r = await c.query<{ rec: boolean; port: string }>(
          "SELECT pg_is_in_recovery() AS rec, current_setting('port') AS port",
        );
        return r.rows[0]!;
      } catch {
        return null;
      } finally {
        await c.end().catch(() => {});
      }
    };
    // the old replica just became primary: its /replica answers 503 and haproxy marks it down
    // after `fall` (2) failed checks at `inter` (500 ms); give it twice that
    await waitFor(async () => (await cluster.api(primary, '/replica'))?.status === 503, {
      timeoutMs: 10_000,
      what: '/replica 503 on the primary',
    });
    await sleep(2500);
    // every read that is served is served by a replica, never by the primary
    let served = 0;
    for (let i = 0; i < 10; i++) {
      const row = await readVia();
      if (row === null) continue;
      served++;
      expect(row.rec).toBe(true);
      expect(Number(row.port)).not.toBe(primary.pgPort);
    }
    expect(served).toBeGreaterThan(0);
  });
});
