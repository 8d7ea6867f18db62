import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { EtcdStore } from '@hapg/dcs';
import { AGENT_MAIN, type AgentNode, sleep, TestCluster, waitFor } from '@hapg/testkit';
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

const TTL_S = 4;

/** One request to a node's REST API from a chosen loopback source address (any 127/8 on Linux). */
function callFrom(from: string, n: AgentNode, method: string, path: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      { host: n.host, port: n.restPort, method, path, localAddress: from, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('REST status codes and bad input on a real cluster', () => {
  let cluster: TestCluster;
  let store: EtcdStore;

  beforeAll(async () => {
    cluster = await TestCluster.start({ nodes: 3, ttl: TTL_S, loopWait: 1, retryTimeout: 1 });
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
  /**
   * Issue 13: an invalid value in etcd's config key (valid JSON, `ttl: -5`). The running agents
   * keep the config they had; an agent that starts meanwhile runs on its own bootstrap.dcs; each
   * logs the reason naming the key. Three ttl values tell the configs apart: the cluster's
   * before the bad write (6), the late node's bootstrap.dcs (7), the built-in default (30) — the
   * lease an agent is granted and `wal_receiver_timeout`/`wal_sender_timeout` (max(5 s, ttl),
   * set by the agent from its dynamic config) show which one each runs with.
   */
  it('an invalid config key value: running agents keep theirs, an agent started meanwhile runs on its bootstrap.dcs; both log the key', async () => {
    const primary = await cluster.waitHealthy();
    const late = cluster.nodes.find((n) => n !== primary)!;
    const others = cluster.nodes.filter((n) => n !== late);
    const setting = async (n: AgentNode, name: string) =>
      (await cluster.sql<{ v: string }>(n, 'SELECT current_setting($1) AS v', [name]))[0]!.v;
    const logSize = async (n: AgentNode) => (await readFile(n.logPath, 'utf8')).length;
    const warningsSince = async (n: AgentNode, offset: number) =>
      (await readFile(n.logPath, 'utf8'))
        .slice(offset)
        .split('\n')
        .filter((l) => l.includes('invalid dynamic config in etcd'))
        .map((l) => JSON.parse(l) as { msg: string; err: string });
    const leaseTtlS = async (n: AgentNode) => {
      const leaseId = await waitFor(async () => (await store.readView()).members.get(n.name)?.leaseId, {
        timeoutMs: 10_000,
        what: `${n.name}'s member key, bound to a lease`,
      });
      const { stdout } = await run('etcdctl', [
        `--endpoints=${cluster.etcd.endpoints.join(',')}`,
        'lease',
        'timetolive',
        BigInt(leaseId).toString(16),
      ]);
      return Number(/granted with TTL\((\d+)s\)/.exec(stdout)?.[1]);
    };

    const original = (await store.readView()).config!;
    const originalYaml = await readFile(late.configPath, 'utf8');
    try {
      // a valid run-time change first, so that "kept the previous one" differs from bootstrap.dcs
      const six = { ...original.value, ttl: 6 };
      let rev = await store.casConfig(six, original.modRevision);
      await waitFor(async () => (await setting(primary, 'wal_sender_timeout')) === '6s', {
        timeoutMs: 15_000,
        what: 'ttl 6 applied on the primary',
      });
      await late.stop();
      const doc = parse(originalYaml) as { bootstrap: { dcs: Record<string, unknown> } };
      doc.bootstrap.dcs.ttl = 7;
      await writeFile(late.configPath, stringify(doc));

      // at run time
      const offsets = new Map(await Promise.all(others.map(async (n) => [n, await logSize(n)] as const)));
      rev = await store.casConfig({ ...six, ttl: -5 }, rev);
      for (const n of others) {
        const [w] = await waitFor(
          async () => {
            const ws = await warningsSince(n, offsets.get(n)!);
            return ws.length > 0 ? ws : null;
          },
          { timeoutMs: 10_000, what: `${n.name} logging the invalid config` },
        );
        expect(w).toMatchObject({
          msg: 'invalid dynamic config in etcd: keeping the previous one',
          err: expect.stringMatching(/^etcd config key: ttl: .*got -5$/),
        });
      }
      await sleep(3000); // a few loops on the bad key
      expect((await cluster.primary())?.name).toBe(primary.name);
      expect(await setting(primary, 'wal_sender_timeout')).toBe('6s');
      // logged once per write of the key, not every loop
      for (const n of others) expect(await warningsSince(n, offsets.get(n)!)).toHaveLength(1);

      // at start
      await late.start();
      await waitFor(
        async () => (await cluster.api(late, '/replica?replication_state=streaming'))?.status === 200,
        {
          timeoutMs: 60_000,
          what: `${late.name} streaming after starting on the invalid config`,
        },
      );
      expect(await cluster.patroni(late)).toMatchObject({ state: 'running', role: 'replica' });
      const [atStart, ...more] = await warningsSince(late, 0);
      expect(more).toEqual([]);
      expect(atStart).toMatchObject({
        msg: 'invalid dynamic config in etcd: running on bootstrap.dcs until it is fixed',
        err: expect.stringMatching(/^etcd config key: ttl: .*got -5$/),
      });
      expect(await leaseTtlS(late)).toBe(7);
      expect(await setting(late, 'wal_receiver_timeout')).toBe('7s');
      // GET /config shows the key as stored, bad value included
      expect((await cluster.api(late, '/config'))?.body).toMatchObject({ ttl: -5 });
      expect((await cluster.primary())?.name).toBe(primary.name);

      // fixed at run time: every agent takes the valid config at once
      await store.casConfig(original.value, rev);
      // each agent applies it on its own next loop: wait for both, in either order
      await waitFor(async () => (await setting(late, 'wal_receiver_timeout')) === '5s', {
        timeoutMs: 15_000,
        what: `${late.name} on the fixed config`,
      });
      await waitFor(async () => (await setting(primary, 'wal_sender_timeout')) === '5s', {
        timeoutMs: 15_000,
        what: `${primary.name} on the fixed config`,
      });
    } catch (e) {
      const now = await store.readView();
      await store.casConfig(original.value, now.config!.modRevision).catch(() => {});
      throw e;
    } finally {
      await writeFile(late.configPath, originalYaml);
    }
    await cluster.waitHealthy(60_000);
  });

  it('restapi.allowlist with allowlist_include_members, and log.dir: a restarted replica enforces the one and writes the other', async () => {
    const primary = await cluster.waitHealthy();
    const n = cluster.nodes.find((x) => x !== primary)!;
    const originalYaml = await readFile(n.configPath, 'utf8');
    const logDir = join(dirname(n.dataDir), 'logs'); // the node's own directory: the agent's user may write there
    const stdoutBefore = (await readFile(n.logPath, 'utf8')).length;
    try {
      await n.stop();
      const doc = parse(originalYaml) as Record<string, Record<string, unknown>>;
      doc.restapi = { ...doc.restapi, allowlist: ['127.0.0.3'], allowlist_include_members: true };
      doc.log = { dir: logDir, file_size: 4096, file_num: 2 };
      await writeFile(n.configPath, stringify(doc));
      await n.start();
      await waitFor(
        async () => (await cluster.api(n, '/replica?replication_state=streaming'))?.status === 200,
        { timeoutMs: 60_000, what: `${n.name} streaming again` },
      );
      // unsafe methods: the list's address and the members' api_url host (127.0.0.1) pass, others 403
      const refused = await callFrom('127.0.0.2', n, 'POST', '/reload');
      expect(refused.status).toBe(403);
      expect(JSON.parse(refused.body).error).toMatch(
        /^127\.0\.0\.2 is not in restapi\.allowlist nor a member's/,
      );
      expect((await callFrom('127.0.0.2', n, 'DELETE', '/switchover')).status).toBe(403);
      expect((await callFrom('127.0.0.2', n, 'GET', '/patroni')).status).toBe(200);
      expect((await callFrom('127.0.0.3', n, 'POST', '/reload')).status).toBe(202);
      expect((await callFrom('127.0.0.1', n, 'POST', '/reload')).status).toBe(202);

      // the log: JSON lines in log.dir, rotated at 4096 bytes, at most file_num + 1 files; none on stdout
      for (let i = 0; i < 40; i++) await callFrom('127.0.0.1', n, 'POST', '/reload'); // a log line each
      const files = await waitFor(
        async () => {
          const names = (await readdir(logDir)).filter((f) => /^hapg\.\d+\.log$/.test(f));
          return names.length >= 2 && names.length <= 3 ? names : null;
        },
        { timeoutMs: 10_000, what: `${n.name}'s rotated log files in ${logDir}` },
      );
      const lines = (await Promise.all(files.map((f) => readFile(join(logDir, f), 'utf8'))))
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { member: string; msg: string });
      expect(lines.every((l) => l.member === n.name)).toBe(true);
      expect(lines.some((l) => l.msg === 'configuration reloaded')).toBe(true);
      const stdout = (await readFile(n.logPath, 'utf8')).slice(stdoutBefore);
      expect(stdout).not.toMatch(/"msg":"hapg started"/);
    } finally {
      await n.stop();
      await writeFile(n.configPath, originalYaml);
      await n.start();
    }
    await cluster.waitHealthy(60_000);
  });
});
