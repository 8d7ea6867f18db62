import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EtcdStore } from '@hapg/dcs';
import { type AgentNode, TestCluster, waitFor } from '@hapg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';

const run = promisify(execFile);
const AUTH = { username: 'admin', password: 'adm1n' };
/** every node's YAML spells out Patroni's false boolean tags, as configs/patroni-compat.example.yaml does */
const FALSE_TAGS = { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false };

interface CtlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A row of `patronictl list -f json` (keys are the table's column titles). */
type ListRow = Record<string, unknown> & { Member: string; Role: string; State: string };

/**
 * Issue 14 #7, "Patroni's tools work unchanged": Debian's `patronictl` (3.0.2) drives a real
 * hapg cluster, and each command is checked against the cluster's state (REST API, etcd,
 * Postgres), not only by its exit code — patronictl exits 0 after "Switchover failed, details:
 * 415 ..." too.
 */
describe('patronictl on a real hapg cluster', () => {
  let cluster: TestCluster;
  let store: EtcdStore;
  let ctlConfig: string;
  const log: string[] = [];

  const ctl = async (...args: string[]): Promise<CtlResult> => {
    const started = performance.now();
    let r: CtlResult;
    try {
      const out = await run('patronictl', ['-c', ctlConfig, ...args], {
        timeout: 120_000,
        env: { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' },
      });
      r = { code: 0, stdout: out.stdout, stderr: out.stderr };
    } catch (e) {
      const err = e as { code?: number; stdout?: string; stderr?: string };
      r = {
        code: typeof err.code === 'number' ? err.code : -1,
        stdout: err.stdout ?? '',
        stderr: err.stderr ?? '',
      };
    }
    log.push(`patronictl ${args.join(' ')} → ${r.code} in ${Math.round(performance.now() - started)} ms`);
    return r;
  };
  /** patronictl's output never carries an HTTP refusal (it prints them and exits 0) */
  const expectNoFailure = (r: CtlResult) => {
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout, r.stdout).not.toMatch(
      /(Switchover|Failover) failed|Failed:|Unsupported Media Type|falling back to DCS/,
    );
  };
  const list = async (): Promise<ListRow[]> => {
    const r = await ctl('list', cluster.scope, '-f', 'json');
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as ListRow[];
  };
  const node = (name: string): AgentNode => cluster.nodes.find((n) => n.name === name)!;
  const leaderKey = async () => (await store.readView()).leader?.name ?? null;
  const patroniBody = async (n: AgentNode) =>
    ((await cluster.api(n, '/patroni'))?.body ?? {}) as Record<string, unknown>;
  const restConfig = async (n: AgentNode) =>
    ((await cluster.api(n, '/config'))?.body ?? {}) as Record<string, unknown>;
  /** the leader by every account: REST `/primary`, the etcd leader key, and patronictl's own list */
  const expectLeader = async (name: string) => {
    await waitFor(async () => (await cluster.primary())?.name === name && (await leaderKey()) === name, {
      timeoutMs: 30_000,
      what: `${name} the primary (REST) and the leader key holder (etcd)`,
    });
    await cluster.waitHealthy(60_000);
    const rows = await list();
    expect(rows.filter((r) => r.Role === 'Leader').map((r) => r.Member)).toEqual([name]);
  };
  /** the other members but `not`, in name order */
  const others = (...not: string[]) => cluster.nodes.filter((n) => !not.includes(n.name)).map((n) => n.name);

  beforeAll(async () => {
    cluster = await TestCluster.start({
      nodes: 3,
      ttl: 4,
      loopWait: 1,
      retryTimeout: 1,
      restapiAuth: AUTH,
      tags: { node1: FALSE_TAGS, node2: FALSE_TAGS, node3: FALSE_TAGS },
    });
    await cluster.waitHealthy(120_000);
    store = await EtcdStore.open({ hosts: cluster.etcd.endpoints, scope: cluster.scope, watch: false });
    // what a Patroni operator's patronictl.yaml (or patroni.yml) says: the DCS, the scope, the REST credentials
    ctlConfig = join(cluster.baseDir, 'patronictl.yaml');
    await writeFile(
      ctlConfig,
      stringify({
        scope: cluster.scope,
        namespace: '/service/',
        etcd3: { hosts: [...cluster.etcd.endpoints] },
        // patronictl 3.0 takes the REST credentials from restapi.authentication (as in patroni.yml)
        restapi: { authentication: { ...AUTH } },
      }),
      { mode: 0o600 },
    );
  });
  afterAll(async () => {
    await store?.close();
    await cluster?.close();
    console.log(log.join('\n'));
  });

  it('list: one Leader and two streaming Replicas, no Tags column (false boolean tags are not published)', async () => {
    const rows = await list();
    expect(rows.map((r) => r.Member).sort()).toEqual(['node1', 'node2', 'node3']);
    expect(rows.map((r) => r.Role).sort()).toEqual(['Leader', 'Replica', 'Replica']);
    for (const r of rows) expect(r.State, JSON.stringify(r)).toMatch(/^(running|streaming)$/);
    for (const r of rows) expect(Object.keys(r)).not.toContain('Tags');
    const table = await ctl('list', cluster.scope);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/\| Member\s+\| Host\s+\| Role\s+\| State\s+\| TL\s+\| Lag in MB\s+\|/);
    expect(table.stdout).not.toMatch(/Tags/);
    // the member keys themselves carry no tags, as Patroni's would not
    for (const m of (await store.readView()).members.values()) expect(m.raw).not.toHaveProperty('tags');
  });

  it('topology: the leader first, the replicas under it', async () => {
    const leader = (await cluster.waitHealthy()).name;
    const r = await ctl('topology', cluster.scope);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.split('\n').filter((l) => /^\| /.test(l) && !/\| Member /.test(l));
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(new RegExp(`^\\| ${leader}\\s+\\|.*\\| Leader `));
    for (const replica of rows.slice(1)) expect(replica).toMatch(/^\| \+ node\d\s+\|.*\| Replica /);
  });

  it('switchover --candidate X --force: X leads (REST, etcd, list), and history lists the switchover', async () => {
    const before = (await cluster.waitHealthy()).name;
    const timeline = (await patroniBody(node(before))).timeline as number;
    const candidate = others(before)[0]!;
    const r = await ctl('switchover', cluster.scope, '--candidate', candidate, '--force');
    expectNoFailure(r);
    // patronictl prints the API's answer: hapg's JSON body, the quotes escaped
    expect(r.stdout).toContain(`Successfully switched over to \\"${candidate}\\"`);
    await expectLeader(candidate);
    expect((await patroniBody(node(candidate))).timeline).toBe(timeline + 1);

    const history = await ctl('history', cluster.scope, '-f', 'json');
    expect(history.code, history.stderr).toBe(0);
    const rows = JSON.parse(history.stdout) as Record<string, unknown>[];
    const row = rows.find((h) => h.TL === timeline);
    expect(row, history.stdout).toBeDefined();
    expect(row!['New Leader']).toBe(candidate);
    expect(typeof row!.LSN).toBe('number');
    // the table too: patronictl 3.0.2 fails on a history row longer than Patroni's five elements
    const table = await ctl('history', cluster.scope);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/\| TL\s+\|\s+LSN\s+\| Reason\s+\| Timestamp\s+\| New Leader\s+\|/);
    expect(table.stdout).toMatch(new RegExp(`\\| ${candidate}\\s+\\|`));
  });

  it('failover --candidate Y --force: Y leads (REST, etcd, list)', async () => {
    const before = (await cluster.waitHealthy()).name;
    const candidate = others(before)[0]!;
    const r = await ctl('failover', cluster.scope, '--candidate', candidate, '--force');
    expectNoFailure(r);
    expect(r.stdout).toContain(`Successfully failed over to \\"${candidate}\\"`);
    await expectLeader(candidate);
    const rows = JSON.parse((await ctl('history', cluster.scope, '-f', 'json')).stdout) as Record<
      string,
      unknown
    >[];
    expect(rows.at(-1)?.['New Leader']).toBe(candidate);
  });

  it('restart <cluster> <member> --force: its postmaster restarted (new start time and pid), it streams again', async () => {
    const leader = (await cluster.waitHealthy()).name;
    const target = node(others(leader)[0]!);
    const startedBefore = (await patroniBody(target)).postmaster_start_time;
    const pidBefore = await target.postmasterPid();
    expect(typeof startedBefore).toBe('string');
    const r = await ctl('restart', cluster.scope, target.name, '--force');
    expectNoFailure(r);
    expect(r.stdout).toMatch(new RegExp(`Success: restart on member ${target.name}`));
    const startedAfter = await waitFor(
      async () => {
        const b = await patroniBody(target);
        return b.state === 'running' && b.postmaster_start_time !== startedBefore
          ? b.postmaster_start_time
          : null;
      },
      { timeoutMs: 30_000, what: `${target.name} running with a new postmaster start time` },
    );
    expect(Date.parse(String(startedAfter).replace(' ', 'T'))).toBeGreaterThan(
      Date.parse(String(startedBefore).replace(' ', 'T')),
    );
    expect(await target.postmasterPid()).not.toBe(pidBefore);
    await cluster.waitHealthy(60_000);
    expect((await cluster.primary())?.name).toBe(leader);
  });

  it('reload <cluster> <member> --force: the member re-reads its YAML (a new tag is published, list shows Tags)', async () => {
    const leader = (await cluster.waitHealthy()).name;
    const target = node(others(leader)[0]!);
    const yaml = parse(await readFile(target.configPath, 'utf8')) as Record<string, unknown>;
    await writeFile(target.configPath, stringify({ ...yaml, tags: { ...FALSE_TAGS, zone: 'z1' } }));
    const r = await ctl('reload', cluster.scope, target.name, '--force');
    expectNoFailure(r);
    expect(r.stdout).toMatch(
      new RegExp(`(Reload request received for member|No changes to apply on member) ${target.name}`),
    );
    await waitFor(async () => (await store.readView()).members.get(target.name)?.raw.tags?.zone === 'z1', {
      timeoutMs: 15_000,
      what: `${target.name}'s member key with tags {zone: z1}`,
    });
    // only the tag the user set: the false boolean tags stay unpublished
    expect((await store.readView()).members.get(target.name)?.raw.tags).toEqual({ zone: 'z1' });
    const rows = await list();
    for (const row of rows)
      expect(row.Tags, JSON.stringify(row)).toEqual(row.Member === target.name ? { zone: 'z1' } : undefined);
    expect((await ctl('list', cluster.scope)).stdout).toMatch(/\| Tags\s+\|[\s\S]*zone: z1/);
  });

  it('pause --wait / resume --wait: the pause flag in etcd config, on every member, in list', async () => {
    const leader = (await cluster.waitHealthy()).name;
    const paused = await ctl('pause', cluster.scope, '--wait');
    expectNoFailure(paused);
    expect(paused.stdout).toMatch(/Success: cluster management is paused/);
    expect((await store.readView()).config?.value.pause).toBe(true);
    for (const n of cluster.nodes) {
      await waitFor(async () => (await patroniBody(n)).pause === true, {
        timeoutMs: 10_000,
        what: `${n.name} paused`,
      });
      expect((await store.readView()).members.get(n.name)?.raw.pause).toBe(true);
    }
    expect((await ctl('list', cluster.scope)).stdout).toMatch(/Maintenance mode: on/);

    const resumed = await ctl('resume', cluster.scope, '--wait');
    expectNoFailure(resumed);
    expect(resumed.stdout).toMatch(/Success: cluster management is resumed/);
    expect((await store.readView()).config?.value).not.toHaveProperty('pause');
    for (const n of cluster.nodes) {
      await waitFor(async () => !('pause' in (await patroniBody(n))), {
        timeoutMs: 10_000,
        what: `${n.name} resumed`,
      });
    }
    expect((await ctl('list', cluster.scope)).stdout).not.toMatch(/Maintenance mode/);
    expect((await cluster.primary())?.name).toBe(leader);
  });

  it('edit-config --set ... --pg ... --force: the values in GET /config of every node, the parameter in Postgres', async () => {
    const leader = await cluster.waitHealthy();
    const r = await ctl(
      'edit-config',
      cluster.scope,
      '--set',
      'maximum_lag_on_failover=2097152',
      '--pg',
      'work_mem=9MB',
      '--force',
    );
    expectNoFailure(r);
    expect((await store.readView()).config?.value).toMatchObject({
      maximum_lag_on_failover: 2097152,
      postgresql: { parameters: { work_mem: '9MB' } },
    });
    for (const n of cluster.nodes) {
      await waitFor(
        async () => {
          const c = await restConfig(n);
          return (
            c.maximum_lag_on_failover === 2097152 &&
            (c.postgresql as { parameters?: Record<string, unknown> } | undefined)?.parameters?.work_mem ===
              '9MB'
          );
        },
        { timeoutMs: 10_000, what: `GET /config on ${n.name} with the edit` },
      );
    }
    await waitFor(
      async () =>
        (await cluster.sql<{ w: string }>(leader, "SELECT current_setting('work_mem') AS w"))[0]?.w === '9MB',
      { timeoutMs: 15_000, what: 'work_mem 9MB on the leader' },
    );
    const show = await ctl('show-config', cluster.scope);
    expect(show.code, show.stderr).toBe(0);
    expect(parse(show.stdout)).toMatchObject({ maximum_lag_on_failover: 2097152 });
  });
});
