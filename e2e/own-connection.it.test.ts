import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { EtcdStore } from '@hapg/dcs';
import { agentsRunAsPostgres, HACTL_MAIN, sleep, TestCluster, waitFor } from '@hapg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * Issue 10: a Patroni 3.x-style file (pg_hba only under `bootstrap.pg_hba`) did not form a
 * cluster off loopback — the node's own connection over its listen address was refused by
 * the pg_hba.conf hapg wrote, and it looped silently, its unconfirmed primary killed by the
 * fence every few seconds. Here on loopback without namespaces: a node on 127.0.0.2.
 */

const run = promisify(execFile);

/** Patroni 3.x puts pg_hba under bootstrap; none of these lines covers the superuser. */
const BOOTSTRAP_HBA = [
  'host replication replicator 127.0.0.0/8 scram-sha-256',
  'host all hapg_app 127.0.0.0/8 scram-sha-256',
];

async function hactlJson(cluster: TestCluster, ...args: string[]): Promise<unknown> {
  const base = ['--etcd', cluster.etcd.endpoints.join(','), '--scope', cluster.scope];
  const r = await run(process.execPath, [HACTL_MAIN, ...base, ...args, '-o', 'json'], { timeout: 60_000 });
  return JSON.parse(r.stdout);
}

/** The member key's JSON as stored in etcd. */
async function memberKey(cluster: TestCluster, name: string): Promise<Record<string, unknown>> {
  const store = await EtcdStore.open({ hosts: cluster.etcd.endpoints, scope: cluster.scope, watch: false });
  try {
    return { ...((await store.readView()).members.get(name)?.raw ?? {}) };
  } finally {
    await store.close();
  }
}

describe('a Patroni 3.x-style node listening on 127.0.0.2 with only bootstrap.pg_hba', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start({
      nodes: 1,
      scope: 'hba-bootstrap',
      ttl: 4,
      loopWait: 1,
      retryTimeout: 1,
      loopbackHost: '127.0.0.2',
      nodeYaml: (_name, yaml) => ({
        ...yaml,
        bootstrap: { ...(yaml.bootstrap as Record<string, unknown>), pg_hba: BOOTSTRAP_HBA },
      }),
    });
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('bootstraps and becomes a healthy primary, its agent connected over the Unix socket', async () => {
    const node = cluster.nodes[0]!;
    expect(node.host).toBe('127.0.0.2');
    const yaml = parse(await readFile(node.configPath, 'utf8')) as Record<string, Record<string, unknown>>;
    expect(yaml.bootstrap?.pg_hba).toEqual(BOOTSTRAP_HBA);
    expect(yaml.postgresql?.pg_hba).toBeUndefined();
    await cluster.waitForPrimary(60_000);
    const status = await cluster.patroni(node);
    expect(status).toMatchObject({ state: 'running', role: 'primary' });
    expect((status as Record<string, unknown>).status_reason).toBeUndefined();
    // the agent's own session: no client address means the Unix socket, not a pg_hba host rule.
    // An agent running as root (a checkout the postgres user cannot enter) fails `peer` on the
    // socket and falls back to TCP on its own address, which the generated rule admits.
    const sessions = await cluster.sql<{ client_addr: string | null }>(
      node,
      "SELECT host(client_addr) AS client_addr FROM pg_stat_activity WHERE application_name = 'hapg'",
    );
    expect(sessions.length).toBeGreaterThan(0);
    const overSocket = sessions.map((s) => s.client_addr === null);
    expect(overSocket).toEqual(sessions.map(() => agentsRunAsPostgres()));
  });

  it('wrote bootstrap.pg_hba after its own rules, and a rule for its own address', async () => {
    const rules = await cluster.sql<{
      type: string;
      database: string[];
      user_name: string[];
      address: string;
    }>(
      cluster.nodes[0]!,
      'SELECT type, database, user_name, address FROM pg_hba_file_rules ORDER BY line_number',
    );
    const text = rules.map(
      (r) => `${r.type} ${r.database.join(',')} ${r.user_name.join(',')} ${r.address ?? ''}`,
    );
    expect(text).toContain('host all postgres 127.0.0.2');
    const own = text.indexOf('host all postgres 127.0.0.2');
    const appended = text.indexOf('host replication replicator 127.0.0.0');
    expect(appended).toBeGreaterThan(own);
    expect(text).toContain('host all hapg_app 127.0.0.0');
  });
});

describe('a node whose pg_hba rejects its own superuser on the socket and over TCP', () => {
  let cluster: TestCluster;
  const REJECT = [
    'local all postgres reject',
    'host all postgres 0.0.0.0/0 reject',
    'host all postgres ::/0 reject',
    'local all all peer',
  ];

  beforeAll(async () => {
    cluster = await TestCluster.start({
      nodes: 1,
      scope: 'hba-refused',
      ttl: 4,
      loopWait: 1,
      retryTimeout: 1,
      nodeYaml: (_name, yaml) => ({
        ...yaml,
        postgresql: { ...(yaml.postgresql as Record<string, unknown>), pg_hba: REJECT },
      }),
    });
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it("says so — the server's words in /patroni, the member key, hactl list and the log — and is not restart-killed", async () => {
    const node = cluster.nodes[0]!;
    const status = await waitFor(
      async () => {
        const s = (await cluster.patroni(node)) as Record<string, unknown>;
        return s.state === 'unreachable' ? s : null;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: 'state unreachable in /patroni' },
    );
    const reason = String(status.status_reason);
    expect(reason).toMatch(/^Postgres runs as a primary but refuses the agent's connection: /);
    expect(reason).toContain('pg_hba.conf rejects connection for host "[local]", user "postgres"');
    expect(reason).toContain('pg_hba.conf rejects connection for host "127.0.0.1", user "postgres"');
    expect(reason).toContain('(28000)');
    expect(status.role).toBe('primary');

    const key = await waitFor(
      async () => {
        const m = await memberKey(cluster, node.name);
        return m.state === 'unreachable' ? m : null;
      },
      { timeoutMs: 10_000, intervalMs: 200, what: 'member key' },
    );
    expect(key.status_reason).toBe(reason);

    const rows = (await hactlJson(cluster, 'list')) as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ member: node.name, state: 'unreachable', reason });

    // the unconfirmed primary keeps running under its key: no fence kill and restart every ttl
    const pid = await node.postmasterPid();
    expect(pid).not.toBeNull();
    await sleep(3 * 4_000);
    expect(await node.postmasterPid()).toBe(pid);
    expect((await cluster.patroni(node)).state).toBe('unreachable');

    const log = await readFile(node.logPath, 'utf8');
    expect(log).toContain('POSTGRES_CONNECTION_REJECTED');
    expect(log).toContain('Postgres runs but refuses our connection');
    expect(log).toContain('retryInMs');
  });
});
