import { chmod, copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type CreateReplicaOptions,
  createReplica,
  findBinDir,
  type ReplicaMethod,
  renderConninfo,
  switchIdentity,
} from '@hapg/postgres';
import { PgHarness, type PgInstance, TEST_REPLICATION, waitFor } from '@hapg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The fixture scripts run as `postgres`, which may not be able to enter the checkout (a clone
 * under /root or any 0700 home): they run from a copy in a directory of their own.
 */
let fixtureDir = '';
const fixture = (name: string) => join(fixtureDir, name);

async function copyFixtures(): Promise<void> {
  fixtureDir = await mkdtemp(join(tmpdir(), 'hapg-fixtures-'));
  await chmod(fixtureDir, 0o755);
  const src = fileURLToPath(new URL('./fixtures/', import.meta.url));
  for (const name of await readdir(src)) {
    await copyFile(join(src, name), join(fixtureDir, name));
    await chmod(join(fixtureDir, name), 0o755);
  }
}

let h: PgHarness;
let p: PgInstance;
let r: PgInstance;
let base: Omit<CreateReplicaOptions, 'methods'>;

beforeAll(async () => {
  await copyFixtures();
  h = await PgHarness.create({ count: 2, namePrefix: 'rm' });
  [p, r] = h.instances as [PgInstance, PgInstance];
  await h.startPrimary(p);
  await h.sql(p, 'CREATE TABLE t (v int); INSERT INTO t VALUES (42)');
  await r.node.writePassfile();
  base = {
    binDir: await findBinDir({ configured: null }),
    dataDir: r.dataDir,
    as: await switchIdentity('postgres'),
    scope: 'demo',
    sourceConninfo: renderConninfo({ host: '127.0.0.1', port: p.port, user: TEST_REPLICATION.username }),
    passfile: r.node.passfile,
    timeoutMs: 120_000,
    env: { PATH: '/usr/bin:/bin', HAPG_SECRET: 'must not leak' },
  };
}, 120_000);

afterAll(async () => {
  await h?.teardown();
  if (fixtureDir) await rm(fixtureDir, { recursive: true, force: true });
});

async function resetReplica(): Promise<void> {
  if (r.node.running) await r.node.stop('immediate');
  await rm(r.dataDir, { recursive: true, force: true });
}

type CommandMethod = Extract<ReplicaMethod, { kind: 'command' }>;
const custom = (name: string, command: string[], over: Partial<CommandMethod> = {}): ReplicaMethod => ({
  kind: 'command',
  name,
  command,
  keepData: false,
  noParams: false,
  params: {},
  ...over,
});

describe('createReplica against a real primary', () => {
  it("runs a custom method with Patroni's parameters as the postgres user, then streams", async () => {
    await resetReplica();
    const log = join(r.dir, 'method-args.txt');
    const result = await createReplica({
      ...base,
      methods: [
        custom('script', [fixture('patroni-basebackup.sh')], { params: { bindir: base.binDir, log } }),
      ],
    });
    expect(result).toEqual({ method: 'script', failures: [] });
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    expect(lines).toEqual([
      '--scope=demo',
      `--datadir=${r.dataDir}`,
      '--role=replica',
      `--connstring=${base.sourceConninfo}`,
      `--bindir=${base.binDir}`,
      `--log=${log}`,
      'user=postgres',
      `PGPASSFILE=${r.node.passfile}`,
      'HAPG_SECRET=',
    ]);
    expect(base.sourceConninfo).not.toContain('password');

    const follow = { host: '127.0.0.1', port: p.port, slotName: null };
    await r.node.writeConfig('replica', follow);
    await r.node.start({ role: 'replica', follow });
    await waitFor(async () => (await r.node.probe()).walReceiver?.status === 'streaming', {
      timeoutMs: 30_000,
      what: 'replica made by the custom method streaming',
    });
    expect(await h.sql(r, 'SELECT v FROM t')).toEqual([{ v: 42 }]);
  }, 120_000);

  it('refuses to create over the cluster it just made', async () => {
    await expect(createReplica({ ...base, methods: [custom('noop', ['/bin/true'])] })).rejects.toThrow(
      'already holds a cluster',
    );
    expect(r.node.running).toBe(true);
  });

  it('falls back to basebackup (with its options) after failing methods, wiping what they left', async () => {
    await resetReplica();
    const result = await createReplica({
      ...base,
      methods: [
        custom('fails', [fixture('partial-then-fail.sh')]),
        custom('empty', ['/bin/true'], { noParams: true }),
        {
          kind: 'basebackup',
          name: 'basebackup',
          args: ['--max-rate=100M', '--checkpoint=fast', '--verbose'],
        },
      ],
    });
    expect(result.method).toBe('basebackup');
    expect(result.failures).toEqual([
      {
        method: 'fails',
        error: expect.stringContaining('exited with code 3: restore failed: no backup found'),
      },
      { method: 'empty', error: 'exited 0 but left no PG_VERSION in the data directory' },
    ]);
    const entries = await readdir(r.dataDir);
    expect(entries).toContain('PG_VERSION');
    expect(entries).toContain('backup_label');
  }, 120_000);

  it('fails with every reason and an empty data directory when no method works', async () => {
    await resetReplica();
    const err = await createReplica({
      ...base,
      methods: [
        custom('fails', [fixture('partial-then-fail.sh')]),
        { kind: 'basebackup', name: 'basebackup', args: ['--label=x', '--no-such-option'] },
      ],
    }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(
      /^no replica method succeeded: fails: .*restore failed: no backup found; basebackup: .*pg_basebackup exited with code 1: .*no-such-option/s,
    );
    expect(await readdir(r.dataDir)).toEqual([]);
  }, 120_000);
});
