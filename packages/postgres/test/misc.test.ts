import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HapgError, isHapgError } from '@hapg/core';
import {
  basebackupArgs,
  classifyConnectError,
  classifyPgError,
  connectFirst,
  endpointText,
  execProgram,
  findBinDir,
  initdbArgs,
  isPostmasterOf,
  newestFirst,
  parsePidFile,
  parseStatusRow,
  primaryConninfo,
  quoteIdent,
  quoteLiteral,
  rewindArgs,
  SqlSession,
  streamingReplicas,
} from '@hapg/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'hapg-pg-unit-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('binaries', () => {
  it('orders versions numerically, newest first', () => {
    expect(newestFirst(['9.6', '15', '10', '16', 'x'])).toEqual(['16', '15', '10', '9.6', 'x']);
  });

  it('prefers the newest dir with a postgres, then PATH; names where it looked', async () => {
    const root = join(tmp, 'lib');
    for (const v of ['14', '16']) await mkdir(join(root, v, 'bin'), { recursive: true });
    await writeFile(join(root, '14', 'bin', 'postgres'), '');
    await chmod(join(root, '14', 'bin', 'postgres'), 0o755);
    // 16 has no postgres binary: skipped
    expect(await findBinDir({ searchRoot: root, pathEnv: '' })).toBe(join(root, '14', 'bin'));
    const err = await findBinDir({ searchRoot: join(tmp, 'none'), pathEnv: '/nonexistent-a' }).catch(
      (e) => e,
    );
    expect(isHapgError(err, 'PG_BINARIES_NOT_FOUND')).toBe(true);
    expect(String(err.message)).toContain('/nonexistent-a');
    await expect(findBinDir({ configured: join(root, '16', 'bin') })).rejects.toThrow(/bin_dir/);
  });
});

describe('exec', () => {
  it('returns output, reports exit code and stderr tail, times out', async () => {
    expect(
      (await execProgram(process.execPath, ['-e', 'console.log("hi")'], { as: null, timeoutMs: 10_000 }))
        .stdout,
    ).toBe('hi\n');
    const failed = await execProgram(process.execPath, ['-e', 'console.error("boom"); process.exit(3)'], {
      as: null,
      timeoutMs: 10_000,
    }).catch((e) => e);
    expect(isHapgError(failed, 'PG_COMMAND_FAILED')).toBe(true);
    expect(failed.message).toMatch(/exited with code 3: boom/);
    const slow = await execProgram(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], {
      as: null,
      timeoutMs: 200,
    }).catch((e) => e);
    expect(isHapgError(slow, 'TIMEOUT')).toBe(true);
    const missing = await execProgram('/nonexistent/prog', [], { as: null, timeoutMs: 1000 }).catch((e) => e);
    expect(isHapgError(missing, 'PG_COMMAND_FAILED')).toBe(true);
  });

  it('passes arguments without a shell', async () => {
    const { stdout } = await execProgram(
      process.execPath,
      ['-e', 'console.log(process.argv[1])', '$(echo hi); ls'],
      {
        as: null,
        timeoutMs: 10_000,
      },
    );
    expect(stdout).toBe('$(echo hi); ls\n');
  });
});

describe('postmaster.pid', () => {
  it('parses the lines Postgres writes', () => {
    const pf = parsePidFile(
      '4242\n/var/lib/pg/data\n1700000000\n5432\n/tmp\n127.0.0.1\n  1234   5678\nready   \n',
    );
    expect(pf).toEqual({
      pid: 4242,
      dataDir: '/var/lib/pg/data',
      startEpochS: 1700000000,
      port: 5432,
      socketDir: '/tmp',
      listenAddress: '127.0.0.1',
      status: 'ready',
    });
    expect(parsePidFile('4242\n/d\n')?.status).toBeNull();
    expect(parsePidFile('garbage')).toBeNull();
  });

  it('a live pid that is not a postgres is not a postmaster (recycled pid)', async () => {
    expect(await isPostmasterOf(process.pid, tmp)).toBe(false);
    expect(await isPostmasterOf(2 ** 22 + 7, tmp)).toBe(false);
  });
});

describe('program arguments', () => {
  it('initdb always enables checksums and never trusts', () => {
    const args = initdbArgs('/d', 'postgres', '/s/pw', ['--locale=en_US.UTF-8']);
    expect(args).toContain('--data-checksums');
    expect(args).toContain('--pwfile=/s/pw');
    expect(args.join(' ')).not.toMatch(/trust/);
    expect(args.at(-1)).toBe('--locale=en_US.UTF-8');
  });

  it('pg_basebackup streams WAL, with checkpoint and rate options', () => {
    expect(
      basebackupArgs({ dataDir: '/d', sourceConninfo: 'host=p', checkpoint: 'spread', maxRate: '32M' }),
    ).toEqual([
      '--pgdata',
      '/d',
      '--dbname',
      'host=p',
      '--wal-method=stream',
      '--checkpoint=spread',
      '--no-password',
      '--max-rate=32M',
    ]);
  });

  it('pg_rewind targets the data dir from a source server', () => {
    expect(rewindArgs('/d', 'host=p user=su')).toEqual([
      '--target-pgdata=/d',
      '--source-server=host=p user=su',
    ]);
  });

  it('primary_conninfo names the member and uses the passfile, never a password', () => {
    const ci = primaryConninfo(
      { host: 'p', port: 5433, appName: 'node 2' },
      { user: 'repl', passfile: '/r/pgpass' },
    );
    expect(ci).toContain("application_name='node 2'");
    expect(ci).toContain('passfile=/r/pgpass');
    expect(ci).toContain('host=p port=5433 user=repl');
    expect(ci).not.toContain('password');
  });
});

describe('sql quoting', () => {
  it('quotes identifiers and literals', () => {
    expect(quoteIdent('we"ird')).toBe('"we""ird"');
    expect(quoteLiteral("o'k\\")).toBe("E'o''k\\\\'");
  });
});

describe('probe row parsing', () => {
  it('parses a replica row', () => {
    const st = parseStatusRow({
      in_recovery: true,
      write_lsn: null,
      flush_lsn: null,
      receive_lsn: '0/3000148',
      replay_lsn: '0/3000110',
      replayed_at: null,
      replay_paused: false,
      timeline: 2,
      system_id: '7710788132817806923',
      server_version: 150018,
      postmaster_start_time: new Date(0),
      wal_receiver: {
        status: 'streaming',
        sender_host: '127.0.0.1',
        sender_port: 5432,
        received_tli: 2,
        slot_name: 'n1',
      },
      replication: [],
      pending_restart: [{ name: 'max_connections', old_value: '20', new_value: '30' }],
    });
    expect(st).toMatchObject({
      inRecovery: true,
      flushLsn: null,
      receiveLsn: 0x3000148n,
      replayLsn: 0x3000110n,
      timeline: 2,
      walReceiver: { status: 'streaming', senderPort: 5432, receivedTimeline: 2, slotName: 'n1' },
      pendingRestart: { max_connections: { oldValue: '20', newValue: '30' } },
    });
  });

  it('lists streaming replicas by application_name', () => {
    const st = parseStatusRow({
      in_recovery: false,
      flush_lsn: '0/5000000',
      timeline: 1,
      system_id: '1',
      server_version: 150018,
      replication: [
        { application_name: 'b', state: 'streaming', flush_lsn: '0/5000000' },
        { application_name: 'c', state: 'catchup' },
      ],
    });
    expect(streamingReplicas(st)).toEqual(['b']);
    expect(st.replication[0]?.flushLsn).toBe(0x5000000n);
  });
});

describe('connection errors', () => {
  it('a refused connection is PG_NOT_RUNNING and nothing is left unhandled', async () => {
    const s = new SqlSession({
      host: '127.0.0.1',
      port: 1,
      user: 'x',
      password: 'y',
      connectTimeoutMs: 1000,
      queryTimeoutMs: 1000,
    });
    const err = await s.query('SELECT 1').catch((e) => e);
    expect(isHapgError(err, 'PG_NOT_RUNNING')).toBe(true);
    s.close();
  });

  it('classifies SQLSTATEs', () => {
    expect(classifyPgError({ code: '57P03', message: 'the database system is starting up' }, 'q').code).toBe(
      'PG_NOT_RUNNING',
    );
    expect(classifyPgError({ code: '42P01', message: 'relation does not exist' }, 'q').code).toBe(
      'PG_QUERY_FAILED',
    );
    expect(classifyPgError(new Error('Connection terminated unexpectedly'), 'q').code).toBe('PG_NOT_RUNNING');
  });

  // [error, code] — at connect time a server that answered and refused us is not "not running"
  it.each([
    [
      {
        code: '28000',
        message:
          'no pg_hba.conf entry for host "10.0.0.11", user "postgres", database "postgres", no encryption',
      },
      'PG_CONNECTION_REJECTED',
    ],
    [
      { code: '28000', message: 'pg_hba.conf rejects connection for host "[local]", user "postgres"' },
      'PG_CONNECTION_REJECTED',
    ],
    [
      { code: '28P01', message: 'password authentication failed for user "postgres"' },
      'PG_CONNECTION_REJECTED',
    ],
    [{ code: '3D000', message: 'database "postgres" does not exist' }, 'PG_CONNECTION_REJECTED'],
    [{ code: '53300', message: 'sorry, too many clients already' }, 'PG_CONNECTION_REJECTED'],
    [{ code: 'EACCES', message: 'connect EACCES /run/postgresql/.s.PGSQL.5432' }, 'PG_CONNECTION_REJECTED'],
    [
      new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string'),
      'PG_CONNECTION_REJECTED',
    ],
    [{ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 10.0.0.11:5432' }, 'PG_NOT_RUNNING'],
    [{ code: 'ENOENT', message: 'connect ENOENT /run/postgresql/.s.PGSQL.5432' }, 'PG_NOT_RUNNING'],
    [{ code: '57P03', message: 'the database system is starting up' }, 'PG_NOT_RUNNING'],
    [new Error('timeout expired'), 'PG_NOT_RUNNING'],
  ] as const)('connect error %# → %s', (err, code) => {
    const e = classifyConnectError(err, 'connect to 10.0.0.11:5432');
    expect(e.code).toBe(code);
    expect(e.message).toContain(err.message);
  });

  it('keeps the server text and SQLSTATE in the message', () => {
    const e = classifyConnectError(
      { code: '28000', message: 'no pg_hba.conf entry for host "10.0.0.11", user "postgres"' },
      'connect to 10.0.0.11:5432',
    );
    expect(e.message).toBe(
      'connect to 10.0.0.11:5432: no pg_hba.conf entry for host "10.0.0.11", user "postgres" (28000)',
    );
  });

  it('names a Unix socket by its file', () => {
    expect(endpointText('/var/run/postgresql', 5432)).toBe('/var/run/postgresql/.s.PGSQL.5432');
    expect(endpointText('/tmp/', 5433)).toBe('/tmp/.s.PGSQL.5433');
    expect(endpointText('10.0.0.11', 5432)).toBe('10.0.0.11:5432');
  });

  it('tries each candidate and names every failure', async () => {
    const base = { port: 1, user: 'u', password: null, connectTimeoutMs: 500, queryTimeoutMs: 500 };
    const err = await connectFirst([
      { ...base, host: '/nonexistent-hapg-dir' },
      { ...base, host: '127.0.0.1' },
    ]).catch((e: unknown) => e as HapgError);
    expect(err).toBeInstanceOf(HapgError);
    expect((err as HapgError).code).toBe('PG_NOT_RUNNING');
    expect((err as HapgError).message).toMatch(
      /^connect to \/nonexistent-hapg-dir\/\.s\.PGSQL\.1: .*ENOENT.*; connect to 127\.0\.0\.1:1: .*ECONNREFUSED/,
    );
  });
});
