import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EtcdStore } from '@hapg/dcs';
import { AGENT_MAIN, type AgentNode, TestCluster, waitFor } from '@hapg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';

const run = promisify(execFile);

const ROLE_ENDPOINTS = [
  '/primary',
  '/leader',
  '/replica',
  '/read-only',
  '/health',
  '/liveness',
  '/readiness',
] as const;

describe('REST status codes and bad input on a real cluster', () => {
  let cluster: TestCluster;
  let store: EtcdStore;

  beforeAll(async () => {
    cluster = await TestCluster.start({ nodes: 3, ttl: 4, loopWait: 1, retryTimeout: 1 });
    await cluster.waitHealthy(120_000);
    store = await EtcdStore.open({ hosts: cluster.etcd.endpoints, scope: cluster.scope, watch: false });
  });
  afterAll(async () => {
    await store?.close();
    await cluster?.close();
  });

  const codes = async (n: AgentNode) => {
    const out: Record<string, number> = {};
    for (const path of ROLE_ENDPOINTS) out[path] = (await cluster.api(n, path))?.status ?? 0;
    return out;
  };

  it('primary vs replica vs stopped Postgres', async () => {
    const primary = await cluster.waitHealthy();
    const [replica, stopped] = cluster.nodes.filter((n) => n !== primary) as [AgentNode, AgentNode];
    // maintenance mode, so that the agent leaves a stopped Postgres stopped
    const cfg = await store.readView();
    await store.casConfig({ ...cfg.config!.value, pause: true }, cfg.config!.modRevision);
    await waitFor(async () => (await cluster.patroni(stopped)).pause === true, {
      timeoutMs: 10_000,
      what: 'pause seen by the agent',
    });
    process.kill((await stopped.postmasterPid())!, 'SIGKILL');
    await waitFor(async () => (await cluster.api(stopped, '/health'))?.status === 503, {
      timeoutMs: 10_000,
      what: 'the stopped node reported unhealthy',
    });
    expect(await codes(primary)).toEqual({
      '/primary': 200,
      '/leader': 200,
      '/replica': 503,
      '/read-only': 200,
      '/health': 200,
      '/liveness': 200,
      '/readiness': 200,
    });
    expect(await codes(replica)).toEqual({
      '/primary': 503,
      '/leader': 503,
      '/replica': 200,
      '/read-only': 200,
      '/health': 200,
      '/liveness': 200,
      '/readiness': 200,
    });
    expect(await codes(stopped)).toEqual({
      '/primary': 503,
      '/leader': 503,
      '/replica': 503,
      '/read-only': 503,
      '/health': 503,
      '/liveness': 200,
      '/readiness': 503,
    });
    // resume: the agent starts its Postgres again
    const now = await store.readView();
    const { pause: _, ...rest } = now.config!.value;
    await store.casConfig(rest, now.config!.modRevision);
    await cluster.waitHealthy(60_000);
  });

  it('a bad query gets 400 with a reason; unknown paths 404; wrong methods 405', async () => {
    const n = cluster.nodes[0]!;
    const bad = await cluster.api(n, '/replica?lag=abc');
    expect(bad?.status).toBe(400);
    expect(JSON.stringify(bad?.body)).toMatch(/lag/);
    expect((await cluster.api(n, '/no-such-thing'))?.status).toBe(404);
    const res = await fetch(`${n.apiUrl}/primary`, { method: 'DELETE' });
    expect(res.status).toBe(405);
  });

  it('garbage JSON in a member key and in the config key is ignored; the loops go on', async () => {
    const primary = await cluster.waitHealthy();
    const view = await store.readView();
    await store.casRaw(`${store.keys.membersPrefix}ghost`, '{not json', null);
    const garbageRev = await store.casRaw(store.keys.config, 'garbage', view.config!.modRevision);
    try {
      const before = (await cluster.patroni(primary)).xlog?.location ?? 0;
      await cluster.sql(primary, 'CREATE TABLE IF NOT EXISTS after_garbage (id int)');
      await waitFor(async () => ((await cluster.patroni(primary)).xlog?.location ?? 0) > before, {
        timeoutMs: 10_000,
        what: 'the primary loop still publishing its position',
      });
      for (const n of cluster.nodes) expect((await cluster.api(n, '/liveness'))?.status).toBe(200);
      expect((await cluster.primary())?.name).toBe(primary.name);
    } finally {
      await store.casRaw(store.keys.config, JSON.stringify(view.config!.value), garbageRev);
      await store.deleteMember('ghost');
    }
  });

  it('a malformed config file: clear error naming key and line, exit code 2, nothing started', async () => {
    const path = join(cluster.baseDir, 'bad.yaml');
    await writeFile(path, 'scope: x\nname: n\npostgresql:\n  data_dri: /tmp/x\n');
    const err = await run(process.execPath, [AGENT_MAIN, '--config', path]).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/bad\.yaml:4:3: postgresql\.data_dri: unknown key; did you mean "data_dir"\?/);
    const v = await run(process.execPath, [AGENT_MAIN, '--validate-config', path]).catch((e) => e);
    expect(v.code).toBe(2);
  });

  it('SIGHUP and POST /reload re-read the YAML: tags and log level take effect; a malformed file changes nothing', async () => {
    const primary = await cluster.waitHealthy();
    const n = cluster.nodes.find((x) => x !== primary)!;
    const original = await readFile(n.configPath, 'utf8');
    const doc = parse(original) as Record<string, unknown>;
    try {
      const edited = { ...doc, log: { level: 'DEBUG' }, tags: { ...(doc.tags as object), zone: 'reloaded' } };
      await writeFile(n.configPath, stringify(edited));
      const logOffset = (await readFile(n.logPath, 'utf8')).length;
      n.signalAgent('SIGHUP');
      await waitFor(async () => (await cluster.patroni(n)).tags?.zone === 'reloaded', {
        timeoutMs: 10_000,
        what: 'the reloaded tag in /patroni',
      });
      // debug lines (each wake of the loop) appear only at the new level
      await waitFor(
        async () => (await readFile(n.logPath, 'utf8')).slice(logOffset).includes('"level":"debug"'),
        {
          timeoutMs: 10_000,
          what: 'a debug line after the reload',
        },
      );
      expect((await readFile(n.logPath, 'utf8')).slice(logOffset)).toMatch(/"msg":"configuration reloaded"/);

      await writeFile(n.configPath, original.replace(/^scope: (.*)$/m, 'scope: [$1'));
      const refused = await fetch(`http://${n.host}:${n.restPort}/reload`, { method: 'POST' });
      expect(refused.status).toBe(422);
      expect(((await refused.json()) as { error: string }).error).toMatch(/\.yaml:\d+:\d+/);
      expect((await cluster.patroni(n)).tags?.zone).toBe('reloaded');
    } finally {
      await writeFile(n.configPath, original);
    }
    const back = await fetch(`http://${n.host}:${n.restPort}/reload`, { method: 'POST' });
    expect(back.status).toBe(202);
    expect(await back.json()).toMatchObject({ applied: expect.arrayContaining(['log.level']) });
    await waitFor(async () => (await cluster.patroni(n)).tags?.zone === undefined, {
      timeoutMs: 10_000,
      what: 'the tag gone again',
    });
  });
});
