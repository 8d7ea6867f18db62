import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { EtcdStore } from '@hapg/dcs';
import { type AgentNode, sleep, TestCluster, waitFor } from '@hapg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Former primaries come back by themselves: pg_rewind, or a re-clone when allowed. */
describe('rejoin', () => {
  let cluster: TestCluster;
  let store: EtcdStore;

  const checksum = async (n: AgentNode) =>
    (
      await cluster.sql<{ c: string }>(
        n,
        "SELECT count(*) || ':' || md5(coalesce(string_agg(id::text, ',' ORDER BY id), '')) AS c FROM hapg_writer",
      )
    )[0]!.c;

  /** Every node has the same rows as the primary (after replication caught up). */
  const expectIdentical = async () => {
    const primary = await cluster.waitHealthy(90_000);
    const want = await checksum(primary);
    for (const n of cluster.nodes) {
      await waitFor(async () => (await checksum(n)) === want, {
        timeoutMs: 20_000,
        what: `${n.name} identical to the primary`,
      });
    }
  };

  /** Kill the primary's host while writing, so that the old primary holds commits the new one lacks. */
  const failoverUnderLoad = async (): Promise<{ old: AgentNode; next: AgentNode }> => {
    const old = await cluster.waitHealthy(90_000);
    const w = cluster.writer();
    w.start();
    await sleep(700);
    await cluster.killHost(old);
    const next = await cluster.waitForPrimary(30_000, old);
    await waitFor(() => w.acks.some((a) => a.target === next.name), {
      timeoutMs: 15_000,
      what: 'writes on the new primary',
    });
    await sleep(300);
    await w.stop();
    return { old, next };
  };

  const setConfig = async (patch: Record<string, unknown>) => {
    const view = await store.readView();
    const value = view.config!.value as Record<string, unknown>;
    const pg = {
      ...(value.postgresql as Record<string, unknown> | undefined),
      ...(patch.postgresql as Record<string, unknown>),
    };
    await store.casConfig({ ...value, ...patch, postgresql: pg }, view.config!.modRevision);
  };

  const rejoinMethod = async (n: AgentNode, since: number) => {
    const lines = (await readFile(n.logPath, 'utf8')).split('\n').slice(since);
    const line = lines.find((l) => l.includes('"msg":"rejoined"'));
    return line === undefined ? null : (JSON.parse(line) as { method: string; durationMs: number });
  };
  const logLength = async (n: AgentNode) => (await readFile(n.logPath, 'utf8')).split('\n').length;

  beforeAll(async () => {
    cluster = await TestCluster.start({ nodes: 3, ttl: 4, loopWait: 1, retryTimeout: 1 });
    const primary = await cluster.waitHealthy(120_000);
    await cluster.prepareWriterTable(primary);
    store = await EtcdStore.open({ hosts: cluster.etcd.endpoints, scope: cluster.scope, watch: false });
  });
  afterAll(async () => {
    await store?.close();
    await cluster?.close();
  });

  it('three successive failovers: each old primary rewinds and streams again, data identical everywhere', async () => {
    for (let round = 1; round <= 3; round++) {
      const { old } = await failoverUnderLoad();
      const since = await logLength(old);
      await old.start();
      await waitFor(() => rejoinMethod(old, since), { timeoutMs: 60_000, what: `${old.name} rejoined` });
      const how = (await rejoinMethod(old, since))!;
      console.log(`round ${round}: ${old.name} rejoined by ${how.method} in ${how.durationMs} ms`);
      expect(how.method).toBe('pg_rewind');
      await expectIdentical();
    }
    const history = (await cluster.api(cluster.nodes[0]!, '/history'))?.body as unknown[][];
    expect(history.length).toBeGreaterThanOrEqual(3);
  });

  it('with use_pg_rewind off, the old primary is re-cloned', async () => {
    await setConfig({ postgresql: { use_pg_rewind: false } });
    try {
      const { old } = await failoverUnderLoad();
      const since = await logLength(old);
      await old.start();
      await waitFor(() => rejoinMethod(old, since), { timeoutMs: 90_000, what: `${old.name} rejoined` });
      const how = (await rejoinMethod(old, since))!;
      console.log(`use_pg_rewind off: ${old.name} re-cloned in ${how.durationMs} ms`);
      expect(how.method).toBe('basebackup');
      await expectIdentical();
    } finally {
      await setConfig({ postgresql: { use_pg_rewind: true } });
    }
  });

  /** Remove the old primary's WAL so that pg_rewind cannot find the divergence point. */
  const breakRewind = async (n: AgentNode) => {
    const walDir = join(n.dataDir, 'pg_wal');
    for (const f of await readdir(walDir)) if (/^[0-9A-F]{24}$/.test(f)) await rm(join(walDir, f));
  };

  it('rewind impossible and re-clone not allowed: stays stopped, says why; hactl reinit brings it back', async () => {
    const { old } = await failoverUnderLoad();
    await breakRewind(old);
    await old.start();
    await waitFor(
      async () =>
        /pg_rewind from .* failed/.test((await cluster.patroni(old)).state ?? '') ||
        /pg_rewind/.test(JSON.stringify((await store.readView()).members.get(old.name)?.raw ?? {})),
      {
        timeoutMs: 60_000,
        what: 'the rewind failure reported in the member key',
      },
    );
    const reason = (await store.readView()).members.get(old.name)?.statusReason ?? '';
    expect(reason).toMatch(/pg_rewind from .* failed/);
    expect((await cluster.api(old, '/health'))?.status).toBe(503);
    const res = await fetch(`${old.apiUrl}/reinitialize`, { method: 'POST' });
    expect(res.status).toBe(200);
    await expectIdentical();
  });

  it('rewind impossible and remove_data_directory_on_rewind_failure on: re-cloned by itself', async () => {
    await setConfig({ postgresql: { remove_data_directory_on_rewind_failure: true } });
    try {
      const { old } = await failoverUnderLoad();
      await breakRewind(old);
      const since = await logLength(old);
      await old.start();
      await waitFor(() => rejoinMethod(old, since), { timeoutMs: 90_000, what: `${old.name} rejoined` });
      expect((await rejoinMethod(old, since))!.method).toBe('basebackup');
      await expectIdentical();
    } finally {
      await setConfig({ postgresql: { remove_data_directory_on_rewind_failure: false } });
    }
  });
});
