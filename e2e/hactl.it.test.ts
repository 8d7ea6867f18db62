import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type AgentNode, HACTL_MAIN, sleep, TestCluster, waitFor } from '@hapg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const AUTH = { username: 'admin', password: 'adm1n' };

/** The operator's view: hactl against a real cluster whose REST API requires credentials. */
describe('hactl on a real cluster', () => {
  let cluster: TestCluster;
  const hactl = async (...args: string[]) => {
    const base = [
      '--etcd',
      cluster.etcd.endpoints.join(','),
      '--scope',
      cluster.scope,
      '--auth',
      `${AUTH.username}:${AUTH.password}`,
    ];
    try {
      const r = await run(process.execPath, [HACTL_MAIN, ...base, ...args], { timeout: 120_000 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const err = e as { code?: number; stdout?: string; stderr?: string };
      return { code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
    }
  };
  const other = (...not: AgentNode[]) => cluster.nodes.find((n) => !not.includes(n) && n.name !== 'node3')!;

  beforeAll(async () => {
    cluster = await TestCluster.start({
      nodes: 3,
      ttl: 4,
      loopWait: 1,
      retryTimeout: 1,
      restapiAuth: AUTH,
      tags: { node3: { nofailover: true } },
    });
    const primary = await cluster.waitHealthy(120_000);
    await cluster.prepareWriterTable(primary);
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('list shows one leader and two streaming replicas, as a table and as JSON', async () => {
    await cluster.waitHealthy();
    const table = await hactl('list');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/\| Leader /);
    const rows = JSON.parse((await hactl('list', '-o', 'json')).stdout) as { role: string }[];
    expect(rows.map((r) => r.role).sort()).toEqual(['Leader', 'Replica', 'Replica']);
  });

  it('switchover to a named candidate: no acknowledged commit lost, history records it', async () => {
    const old = await cluster.waitHealthy();
    const candidate = cluster.nodes.find((n) => n !== old && n.name !== 'node3')!;
    const w = cluster.writer();
    w.start();
    await sleep(500);
    const r = await hactl('switchover', '--leader', old.name, '--candidate', candidate.name, '--force');
    expect(r.code, r.stderr).toBe(0);
    expect((await cluster.waitForPrimary(30_000, old)).name).toBe(candidate.name);
    await waitFor(() => w.acks.some((a) => a.target === candidate.name), {
      timeoutMs: 10_000,
      what: 'writes on the new leader',
    });
    await w.stop();
    const check = await cluster.checkAcks(w.acks, candidate);
    expect(check.lost).toEqual([]);
    expect(check.overlaps).toEqual([]);
    await cluster.waitHealthy(60_000);
    const history = JSON.parse((await hactl('history', '-o', 'json')).stdout) as Record<string, unknown>[];
    expect(JSON.stringify(history.at(-1))).toMatch(/switchover/);
  });

  it('switchover is refused for a nofailover candidate and for a stopped one, with a clear message', async () => {
    const leader = await cluster.waitHealthy();
    const nofail = await hactl('switchover', '--leader', leader.name, '--candidate', 'node3', '--force');
    expect(nofail.code).toBe(1);
    expect(nofail.stderr).toMatch(/nofailover/);
    const unknown = await hactl('switchover', '--leader', leader.name, '--candidate', 'nosuch', '--force');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    expect((await cluster.primary())?.name).toBe(leader.name);
  });

  it('a scheduled switchover is listed and can be cancelled', async () => {
    const leader = await cluster.waitHealthy();
    const candidate = other(leader);
    const at = new Date(Date.now() + 60_000).toISOString();
    const r = await hactl(
      'switchover',
      '--leader',
      leader.name,
      '--candidate',
      candidate.name,
      '--scheduled',
      at,
      '--force',
    );
    expect(r.code, r.stderr).toBe(0);
    expect((await hactl('list')).stdout).toMatch(/[Ss]witchover scheduled/);
    const flush = await hactl('flush', '--switchover');
    expect(flush.code, flush.stderr).toBe(0);
    expect((await hactl('list')).stdout).not.toMatch(/[Ss]witchover scheduled/);
    expect((await cluster.primary())?.name).toBe(leader.name);
  });

  it('edit-config: a reloadable parameter applies everywhere; a restart-only one is pending until restart --pending', async () => {
    const leader = await cluster.waitHealthy();
    expect((await hactl('edit-config', '-p', 'work_mem=7MB', '--force')).code).toBe(0);
    for (const n of cluster.nodes) {
      await waitFor(
        async () =>
          (await cluster.sql<{ w: string }>(n, "SELECT current_setting('work_mem') AS w"))[0]?.w === '7MB',
        {
          timeoutMs: 15_000,
          what: `work_mem on ${n.name}`,
        },
      );
    }
    expect((await hactl('edit-config', '-p', 'max_connections=31', '--force')).code).toBe(0);
    await waitFor(async () => (await cluster.patroni(leader)).pending_restart === true, {
      timeoutMs: 15_000,
      what: 'pending restart',
    });
    expect((await hactl('list')).stdout).toMatch(/Pending restart/);
    const restart = await hactl('restart', '--pending', '--force');
    expect(restart.code, restart.stderr).toBe(0);
    for (const n of cluster.nodes) {
      await waitFor(
        async () =>
          (await cluster.sql<{ m: string }>(n, "SELECT current_setting('max_connections') AS m"))[0]?.m ===
          '31',
        {
          timeoutMs: 30_000,
          what: `max_connections on ${n.name}`,
        },
      );
    }
    await waitFor(async () => !(await cluster.patroni(leader)).pending_restart, {
      timeoutMs: 15_000,
      what: 'no pending restart',
    });
    expect((await cluster.primary())?.name).toBe(leader.name);
  });

  it('pause: a dead primary is not replaced; resume: it is', async () => {
    const leader = await cluster.waitHealthy();
    expect((await hactl('pause', '--wait')).code).toBe(0);
    expect((await hactl('list')).stdout).toMatch(/Maintenance mode/);
    await cluster.killHost(leader);
    await sleep(4000 + 3000); // longer than ttl: the leader key expires, nobody takes over
    const primaries = await Promise.all(
      cluster.nodes.filter((n) => n !== leader).map(async (n) => (await cluster.api(n, '/primary'))?.status),
    );
    expect(primaries.filter((c) => c === 200)).toEqual([]);
    expect((await hactl('resume', '--wait')).code).toBe(0);
    const next = await cluster.waitForPrimary(30_000, leader);
    expect(next).not.toBe(leader);
    await leader.start();
    await cluster.waitHealthy(90_000);
  });

  it('401 on every unsafe endpoint without credentials', async () => {
    const n = cluster.nodes[0]!;
    for (const [method, path] of [
      ['POST', '/switchover'],
      ['POST', '/failover'],
      ['DELETE', '/switchover'],
      ['POST', '/restart'],
      ['DELETE', '/restart'],
      ['POST', '/reload'],
      ['POST', '/reinitialize'],
      ['PATCH', '/config'],
      ['PUT', '/config'],
    ] as const) {
      const res = await fetch(`${n.apiUrl}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status, `${method} ${path}`).toBe(401);
    }
    const ok = await fetch(`${n.apiUrl}/reload`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${AUTH.username}:${AUTH.password}`).toString('base64')}`,
      },
    });
    expect(ok.status).toBe(202);
  });
});
