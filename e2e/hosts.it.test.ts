import { TestCluster, waitFor } from '@hapg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Issue 10, on separate hosts (network namespaces, each node with its own address): a
 * Patroni 3.x-style file — `pg_hba` only under `bootstrap.pg_hba` — did not form a cluster,
 * because the node's own connection over its listen address was refused by the pg_hba.conf
 * hapg wrote, and it looped silently. On loopback the same file worked (initdb trusts
 * 127.0.0.1), so this runs where the addresses are real.
 */
describe('a Patroni 3.x-style YAML on three namespaced hosts', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start({
      nodes: 3,
      network: 'netns',
      ttl: 6,
      loopWait: 1,
      retryTimeout: 2,
      nodeYaml: (name, yaml) => {
        const pgc = { ...(yaml.postgresql as Record<string, unknown>) };
        const lines = pgc.pg_hba;
        delete pgc.pg_hba;
        // node2 reaches its own server over TCP on its listen address, as Patroni does by default
        if (name === 'node2') pgc.use_unix_socket = false;
        return { ...yaml, postgresql: pgc, bootstrap: { ...(yaml.bootstrap as object), pg_hba: lines } };
      },
    });
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('bootstraps, clones both replicas and streams, whichever way each agent reaches its own server', async () => {
    const primary = await cluster.waitHealthy(120_000);
    await cluster.sql(primary, 'CREATE TABLE hosts_probe (id int)');
    await cluster.sql(primary, 'INSERT INTO hosts_probe VALUES (1)');
    for (const n of cluster.nodes) {
      await waitFor(async () => (await cluster.sql(n, 'SELECT id FROM hosts_probe')).length === 1, {
        timeoutMs: 15_000,
        what: `the row on ${n.name}`,
      });
      const status = await cluster.patroni(n);
      expect(status.state).toBe('running');
    }
    // every node's agent connected: over the socket (no client address) or over its own address
    const sessions = await cluster.sql<{ addr: string | null }>(
      cluster.nodes.find((n) => n.name === 'node2')!,
      "SELECT host(client_addr) AS addr FROM pg_stat_activity WHERE application_name = 'hapg'",
    );
    expect(sessions.map((s) => s.addr)).toContain(cluster.nodes[1]!.host);
  });
});
