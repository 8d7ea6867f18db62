import { formatLsn, isHapgError } from '@hapg/core';
import { type PostmasterExit, slotNameFor } from '@hapg/postgres';
import { PgHarness, type PgInstance, waitFor } from '@hapg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let h: PgHarness;

beforeAll(async () => {
  h = await PgHarness.create({ count: 3 });
});

afterAll(async () => {
  await h?.teardown();
});

const nextExit = (inst: PgInstance) =>
  new Promise<PostmasterExit>((resolve) => inst.node.once('exit', (e) => resolve(e)));

describe('single server: child process, exit events, stop modes, adopt', () => {
  let s: PgInstance;

  beforeAll(async () => {
    s = h.instances[2]!;
    await s.node.initdb();
  });

  it('initdb makes a checksummed cluster with hapg layout', async () => {
    const cd = await s.node.controldata();
    expect(cd.dataChecksums).toBe(true);
    expect(cd.state).toBe('shut down');
    expect(cd.timeline).toBe(1);
    expect(cd.systemId).toMatch(/^\d+$/);
  });

  it('starts as a child and reports a SIGKILL as an unexpected exit; probe then fails without crashing', async () => {
    await s.node.start({ role: 'primary' });
    const st = await s.node.probe();
    expect(st.inRecovery).toBe(false);
    expect(st.timeline).toBe(1);
    expect(st.flushLsn).not.toBeNull();
    expect(st.systemId).toBe((await s.node.controldata()).systemId);
    const exit = nextExit(s);
    // a query in flight on the probe session when the server dies
    const inFlight = s.node.query('SELECT pg_sleep(30)').catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    process.kill(s.node.pid!, 'SIGKILL');
    expect(await exit).toEqual({ code: null, signal: 'SIGKILL', expected: false });
    const inFlightErr = await inFlight;
    expect(isHapgError(inFlightErr, 'PG_NOT_RUNNING')).toBe(true);
    expect(s.node.running).toBe(false);
    const err = await s.node.probe().catch((e: unknown) => e);
    expect(isHapgError(err, 'PG_NOT_RUNNING')).toBe(true);
    // pg_control still says "in production": the server crashed
    expect((await s.node.controldata()).state).toBe('in production');
  });

  it('restarts in the same data dir right after the crash (leftover backends waited out)', async () => {
    await s.node.start({ role: 'primary' });
    await h.sql(s, 'CREATE TABLE t (v int)');
    await h.sql(s, 'INSERT INTO t VALUES (1)');
    expect((await s.node.probe()).inRecovery).toBe(false);
  });

  it('stop modes: smart and fast shut down cleanly, immediate leaves a crashed cluster', async () => {
    for (const [mode, state] of [
      ['smart', 'shut down'],
      ['fast', 'shut down'],
      ['immediate', 'in production'],
    ] as const) {
      if (!s.node.running) await s.node.start({ role: 'primary' });
      const pid = s.node.pid!;
      const exit = nextExit(s);
      const res = await s.node.stop(mode);
      expect(res?.expected).toBe(true);
      expect((await exit).expected).toBe(true);
      expect(() => process.kill(pid, 0)).toThrow();
      expect((await s.node.controldata()).state).toBe(state);
    }
    expect(await s.node.stop('fast')).toBeNull();
  });

  it('a server that dies during startup rejects start with the log tail', async () => {
    const good = s.node.parameters;
    await s.node.setParameters({ ...good, shared_buffers: 'lots' });
    const err = await s.node.start({ role: 'primary' }).catch((e: unknown) => e);
    expect(isHapgError(err, 'PG_START_FAILED')).toBe(true);
    expect(String((err as Error).message)).toMatch(/shared_buffers/);
    expect(s.node.running).toBe(false);
    await s.node.setParameters(good);
  });

  it('a new PostgresNode adopts a running postmaster from postmaster.pid and can stop it', async () => {
    await s.node.start({ role: 'primary' });
    const pid = s.node.pid!;
    const other = h.newNode(s);
    expect(other.running).toBe(false);
    expect(await other.adopt()).toBe(true);
    expect(other.pid).toBe(pid);
    expect((await other.probe()).inRecovery).toBe(false);
    const adoptedExit = new Promise<PostmasterExit>((r) => other.once('exit', r));
    const childExit = nextExit(s);
    await other.stop('fast');
    expect((await adoptedExit).expected).toBe(true);
    // the original owner sees its child exit, not asked by it: unexpected from its point of view
    expect((await childExit).expected).toBe(false);
    expect(await h.newNode(s).adopt()).toBe(false);
    other.close();
  });
});

describe('replication: clone, promote, rewind', () => {
  let p: PgInstance;
  let r: PgInstance;

  beforeAll(async () => {
    p = h.instances[0]!;
    r = h.instances[1]!;
    await h.startPrimary(p);
  });

  it('clones a standby with pg_basebackup over a slot and streams writes', async () => {
    await h.cloneReplica(p, r, { slot: true });
    await h.sql(p, 'CREATE TABLE items (id int PRIMARY KEY, v text)');
    const before = (await r.node.probe()).replayLsn!;
    await h.sql(p, "INSERT INTO items SELECT g, 'a' FROM generate_series(1, 100) g");
    const primary = await p.node.probe();
    await waitFor(async () => (await r.node.probe()).replayLsn! >= primary.flushLsn!, {
      timeoutMs: 20_000,
      what: `replay to ${formatLsn(primary.flushLsn!)}`,
    });
    const st = await r.node.probe();
    expect(st.inRecovery).toBe(true);
    expect(st.replayLsn! > before).toBe(true);
    expect(st.receiveLsn! >= primary.flushLsn!).toBe(true);
    expect(st.walReceiver).toMatchObject({ status: 'streaming', senderPort: p.port, slotName: r.name });
    expect(st.timeline).toBe(1);
    expect((await h.sql(r, 'SELECT count(*)::int AS n FROM items'))[0]!.n).toBe(100);
    const rows = (await p.node.probe()).replication;
    expect(rows).toEqual([
      expect.objectContaining({
        applicationName: r.name,
        state: 'streaming',
        syncState: 'async',
        usename: 'replicator',
      }),
    ]);
    expect((await p.node.listSlots()).map((x) => [x.name, x.active])).toEqual([[slotNameFor(r.name), true]]);
    expect(await p.node.ensureSlots([r.name])).toEqual([]);
  });

  it('promotes the standby to timeline 2', async () => {
    await r.node.promote();
    const st = await r.node.probe();
    expect(st.inRecovery).toBe(false);
    expect(st.timeline).toBe(2);
    await h.sql(r, "INSERT INTO items VALUES (101, 'after promote')");
  });

  it('rewinds the crashed, diverged old primary and follows the new one', async () => {
    // the old primary keeps writing on timeline 1 (a split brain the rewind must undo)
    await h.sql(p, "INSERT INTO items SELECT g, 'diverged' FROM generate_series(1000, 1100) g");
    await p.node.stop('immediate');
    expect((await p.node.controldata()).state).toBe('in production');
    await r.node.ensureSlots([p.name]);
    const follow = { host: '127.0.0.1', port: r.port, slotName: p.name };
    const out = await p.node.rewindFrom(follow);
    expect(out).toMatch(/Done!/);
    expect(out).not.toMatch(/no rewind required/);
    await p.node.start({ role: 'replica', follow });
    await waitFor(async () => (await p.node.probe()).walReceiver?.status === 'streaming', {
      timeoutMs: 30_000,
      what: 'old primary streaming from the new one',
    });
    await h.sql(r, "INSERT INTO items VALUES (102, 'seen by the rewound node')");
    await waitFor(async () => (await h.sql(p, 'SELECT 1 FROM items WHERE id = 102')).length === 1, {
      timeoutMs: 20_000,
      what: 'row 102 on the rewound node',
    });
    const st = await p.node.probe();
    expect(st.inRecovery).toBe(true);
    expect(st.timeline).toBe(2);
    expect((await h.sql(p, "SELECT count(*)::int AS n FROM items WHERE v = 'diverged'"))[0]!.n).toBe(0);
    expect((await r.node.probe()).replication.map((x) => x.applicationName)).toEqual([p.name]);
  });

  it('reports settings that need a restart after a reload', async () => {
    await r.node.setParameters({ ...r.node.parameters, max_connections: 30 });
    const reloaded = await r.node.reload('primary', null);
    expect(reloaded.pendingRestart.max_connections).toEqual({ oldValue: '20', newValue: '30' });
    // a restart-only change is pending, not refused
    expect(reloaded).toMatchObject({ applied: 'all', rejected: [], fileErrors: [] });
    expect(await r.node.setParameters({ ...r.node.parameters, no_such_setting: 1 })).toEqual([
      expect.objectContaining({ name: 'no_such_setting', code: 'UNKNOWN' }),
    ]);
    expect(r.node.parameters).not.toHaveProperty('no_such_setting');
  });

  it('reports a value Postgres refuses on reload (pg_file_settings), and keeps the rest', async () => {
    const before = r.node.parameters;
    await r.node.setParameters({ ...before, work_mem: 'banana', statement_timeout: '7s' });
    const reloaded = await r.node.reload('primary', null);
    expect(reloaded.applied).toBe('partly');
    expect(reloaded.rejected.map((e) => e.name)).toEqual(['work_mem']);
    expect((await h.sql(r, "SELECT current_setting('statement_timeout') AS v"))[0]!.v).toBe('7s');
    await r.node.setParameters(before);
    expect((await r.node.reload('primary', null)).applied).toBe('all');
  });

  it('a primary reports where synchronous_commit lets a commit skip the standby (docs/fast-failover.md)', async () => {
    expect((await r.node.probe()).commitsSkipStandby).toEqual([]);
    expect((await p.node.probe()).commitsSkipStandby).toBeNull();
    await h.sql(r, 'CREATE ROLE app');
    await h.sql(r, "ALTER ROLE app SET synchronous_commit = 'local'");
    await h.sql(r, 'ALTER DATABASE postgres SET synchronous_commit TO OFF');
    // remote_apply and remote_write wait for the standby: not listed
    await h.sql(r, 'ALTER ROLE app IN DATABASE template1 SET synchronous_commit = remote_apply');
    await h.sql(r, 'ALTER SYSTEM SET synchronous_commit = local');
    await h.sql(r, 'SELECT pg_reload_conf()');
    await waitFor(async () => ((await r.node.probe()).commitsSkipStandby?.length ?? 0) === 3, {
      timeoutMs: 10_000,
      what: 'three places that skip the standby',
    });
    expect((await r.node.probe()).commitsSkipStandby).toEqual([
      'synchronous_commit=local (configuration file)',
      'synchronous_commit=local for role app',
      'synchronous_commit=off in database postgres',
    ]);
    await h.sql(r, 'ALTER SYSTEM RESET synchronous_commit');
    await h.sql(r, 'SELECT pg_reload_conf()');
    await h.sql(r, 'ALTER DATABASE postgres RESET synchronous_commit');
    await h.sql(r, 'DROP ROLE app');
    await waitFor(async () => (await r.node.probe()).commitsSkipStandby?.length === 0, {
      timeoutMs: 10_000,
      what: 'nothing that skips the standby',
    });
  });
});
