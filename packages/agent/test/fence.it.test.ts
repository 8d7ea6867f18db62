import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PgHarness, killAllTracked, sleep, spawnTracked, type TrackedProcess, waitFor } from '@hapg/testkit';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fenceAdapter } from '../src/fence-adapter.js';
import { FenceClient } from '../src/fence/client.js';
import type { Logger } from '../src/logger.js';
import { monoNowNs } from '../src/fence/mono.js';
import { childPids, isDead } from '../src/fence/procfs.js';
import { fakeWatchdog } from './fake-watchdog.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const tsxLoader = pathToFileURL(here('../../../node_modules/tsx/dist/loader.mjs')).href;
const fenceMain = here('../src/fence/main.ts');
const fakePostmaster = here('./fence-postmaster.fixture.mjs');
const fakeAgent = here('./fence-agent.fixture.ts');

const MS = 1_000_000n;
/** generous bound on how late a firing may be observed (2 busy cores) */
const LATE_BOUND_MS = 1500;

let dir: string;
let socketPath: string;
let logPath: string;
/** fences spawned by a client (not tracked by testkit): killed after each test */
const untracked: number[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hapg-fence-'));
  socketPath = join(dir, 'fence.sock');
  logPath = join(dir, 'fence.log');
});

afterEach(() => {
  for (const pid of untracked.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  killAllTracked();
  rmSync(dir, { recursive: true, force: true });
});

afterAll(() => killAllTracked());

async function startFence(extra: string[] = []): Promise<TrackedProcess> {
  const fence = spawnTracked(process.execPath, [
    '--import',
    tsxLoader,
    fenceMain,
    '--socket',
    socketPath,
    '--log',
    logPath,
    ...extra,
  ]);
  await waitFor(() => logLines().some((l) => l.msg === 'fence listening'), {
    timeoutMs: 15_000,
    what: 'fence listening',
  });
  return fence;
}

interface Postmaster {
  proc: TrackedProcess;
  dataDir: string;
  children: number[];
}

async function startPostmaster(children = 2): Promise<Postmaster> {
  const dataDir = mkdtempSync(join(dir, 'data-'));
  const proc = spawnTracked(process.execPath, [fakePostmaster, dataDir, String(children)]);
  const line = await waitFor(() => proc.output().match(/ready([ 0-9]*)\n/), {
    timeoutMs: 10_000,
    what: 'fake postmaster',
  });
  const kids = (line[1] ?? '').trim().split(' ').filter(Boolean).map(Number);
  return { proc, dataDir, children: kids };
}

function logLines(): Array<Record<string, unknown>> {
  try {
    return readFileSync(logPath, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  } catch {
    return [];
  }
}

/** resolves with the monotonic time (ns) at which the process was seen to exit */
function exitTime(pm: Postmaster): Promise<{ atNs: bigint; signal: string | null }> {
  return pm.proc.exited.then((e) => ({ atNs: monoNowNs(), signal: e.signal }));
}

const alive = (pm: Postmaster) => pm.proc.child.exitCode === null && pm.proc.child.signalCode === null;

describe('fence (real processes)', () => {
  it('stops the postmaster and its children shortly after the deadline, not before', async () => {
    await startFence();
    const pm = await startPostmaster(2);
    const client = await FenceClient.connectOrSpawn({ socketPath });
    const deadline = monoNowNs() + 500n * MS;
    const exited = exitTime(pm);
    const reply = await client.arm(deadline, pm.proc.pid, pm.dataDir);
    expect(reply).toMatchObject({ ok: true, armed: true, pid: pm.proc.pid });
    expect(client.status.armed).toBe(true);

    const { atNs, signal } = await exited;
    expect(signal).toBe('SIGKILL');
    expect(atNs).toBeGreaterThanOrEqual(deadline);
    expect(Number((atNs - deadline) / MS)).toBeLessThan(LATE_BOUND_MS);
    for (const child of pm.children)
      await waitFor(() => isDead(child), { timeoutMs: 3000, what: `child ${child} dead` });

    const fired = await waitFor(() => logLines().find((l) => l.msg === 'fence fired: postmaster stopped'), {
      timeoutMs: 3000,
      what: 'fired log line',
    });
    expect(fired.lateMs as number).toBeGreaterThanOrEqual(0);
    expect(fired.childPids).toEqual(expect.arrayContaining(pm.children));
    expect((await client.ping()).ok && (await client.ping())).toMatchObject({ armed: false, fired: 1 });
    client.close();
  });

  it('is not fired while renewals keep coming, and fires after the last deadline once they stop', async () => {
    await startFence();
    const pm = await startPostmaster(1);
    const client = await FenceClient.connectOrSpawn({ socketPath });
    let last = 0n;
    const untilNs = monoNowNs() + 2000n * MS;
    while (monoNowNs() < untilNs) {
      last = monoNowNs() + 400n * MS;
      expect((await client.arm(last, pm.proc.pid, pm.dataDir)).ok).toBe(true);
      await sleep(100);
    }
    expect(alive(pm)).toBe(true);
    const { atNs } = await exitTime(pm);
    expect(atNs).toBeGreaterThanOrEqual(last);
    expect(Number((atNs - last) / MS)).toBeLessThan(LATE_BOUND_MS);
    // renewals of a known postmaster touch no disk: logged "armed" once only
    expect(logLines().filter((l) => l.msg === 'armed')).toHaveLength(1);
    client.close();
  });

  it('never fires after disarm', async () => {
    await startFence();
    const pm = await startPostmaster(0);
    const client = await FenceClient.connectOrSpawn({ socketPath });
    expect((await client.arm(monoNowNs() + 300n * MS, pm.proc.pid, pm.dataDir)).ok).toBe(true);
    expect(await client.disarm()).toMatchObject({ ok: true, armed: false });
    await sleep(1300);
    expect(alive(pm)).toBe(true);
    expect(logLines().some((l) => String(l.msg).startsWith('fence fired'))).toBe(false);
    client.close();
  });

  it('does not kill a process that postmaster.pid no longer names, and refuses to arm on a non-postmaster', async () => {
    await startFence();
    const pm = await startPostmaster(0);
    const other = await startPostmaster(0);
    const client = await FenceClient.connectOrSpawn({ socketPath });

    const wrong = await client.arm(monoNowNs() + 300n * MS, other.proc.pid, pm.dataDir);
    expect(wrong).toMatchObject({ ok: false, error: 'PID_NOT_POSTMASTER' });
    expect(client.status.lastError?.code).toBe('PID_NOT_POSTMASTER');
    expect(await client.arm(monoNowNs() + 300n * MS, 999_999, pm.dataDir)).toMatchObject({
      ok: false,
      error: 'PID_NOT_RUNNING',
    });

    expect((await client.arm(monoNowNs() + 400n * MS, pm.proc.pid, pm.dataDir)).ok).toBe(true);
    // Postgres restarted under another pid (or the file was replaced) before the deadline
    writeFileSync(join(pm.dataDir, 'postmaster.pid'), `${other.proc.pid}\n${pm.dataDir}\n`);
    const skipped = await waitFor(() => logLines().find((l) => l.verdict === 'pidfile-mismatch'), {
      timeoutMs: 3000,
      what: 'pidfile-mismatch log line',
    });
    expect(skipped.pid).toBe(pm.proc.pid);
    await sleep(300);
    expect(alive(pm)).toBe(true);
    expect(alive(other)).toBe(true);
    expect(await client.ping()).toMatchObject({ ok: true, armed: false });
    client.close();
  });

  it('ignores malformed input and stays alive', async () => {
    const fence = await startFence();
    const replies = await rawExchange(
      ['not json', '[1,2]', '{"op":"arm","id":7,"pid":"x"}', '{"op":"nope"}', '{"op":"ping","id":9}'],
      5,
    );
    expect(replies.slice(0, 4).map((r) => r.error)).toEqual([
      'BAD_REQUEST',
      'BAD_REQUEST',
      'BAD_REQUEST',
      'BAD_REQUEST',
    ]);
    expect(replies[2]?.id).toBe(7);
    expect(replies[4]).toMatchObject({ ok: true, id: 9, op: 'ping', armed: false });
    expect(fence.child.exitCode).toBeNull();
    expect(logLines().filter((l) => l.msg === 'ignored a malformed command')).toHaveLength(4);
  });

  it('keeps the deadline when the agent disconnects, and a reconnecting client can re-arm', async () => {
    await startFence();
    const pm = await startPostmaster(0);
    const a = await FenceClient.connectOrSpawn({ socketPath });
    expect((await a.arm(monoNowNs() + 600n * MS, pm.proc.pid, pm.dataDir)).ok).toBe(true);
    a.close();
    const b = await FenceClient.connectOrSpawn({ socketPath });
    expect(b.status.lastState).toMatchObject({ armed: true, pid: pm.proc.pid });
    const later = monoNowNs() + 1500n * MS;
    expect((await b.arm(later, pm.proc.pid, pm.dataDir)).ok).toBe(true);
    b.close();
    const { atNs } = await exitTime(pm);
    expect(atNs).toBeGreaterThanOrEqual(later);
  });

  it('fires at the last deadline when the agent is SIGKILLed (agent spawned the fence itself)', async () => {
    const pm = await startPostmaster(1);
    const agent = spawnTracked(process.execPath, [
      '--import',
      tsxLoader,
      fakeAgent,
      socketPath,
      fenceMain,
      tsxLoader,
      logPath,
      String(pm.proc.pid),
      pm.dataDir,
      '100',
      '700',
    ]);
    const fencePid = Number(
      (
        await waitFor(() => agent.output().match(/fence (\d+)\n/), { timeoutMs: 20_000, what: 'fence pid' })
      )[1],
    );
    untracked.push(fencePid);
    await waitFor(() => (agent.output().match(/armed \d+\n/g) ?? []).length >= 5, {
      timeoutMs: 10_000,
      what: '5 renewals',
    });
    agent.signal('SIGKILL');
    await agent.exited;
    const lastAcked = BigInt([...agent.output().matchAll(/armed (\d+)\n/g)].at(-1)?.[1] ?? '0');
    expect(alive(pm)).toBe(true);
    const { atNs, signal } = await exitTime(pm);
    expect(signal).toBe('SIGKILL');
    expect(atNs).toBeGreaterThanOrEqual(lastAcked);
    expect(Number((atNs - lastAcked) / MS)).toBeLessThan(LATE_BOUND_MS);
    expect(isDead(fencePid)).toBe(false); // the fence lives on, in its own process group
  });

  it('fires when the agent is SIGSTOPped (the fence is in another process group)', async () => {
    await startFence();
    const pm = await startPostmaster(0);
    const agent = spawnTracked(process.execPath, [
      '--import',
      tsxLoader,
      fakeAgent,
      socketPath,
      fenceMain,
      tsxLoader,
      logPath,
      String(pm.proc.pid),
      pm.dataDir,
      '100',
      '700',
    ]);
    await waitFor(() => (agent.output().match(/armed \d+\n/g) ?? []).length >= 3, {
      timeoutMs: 20_000,
      what: 'renewals',
    });
    agent.signal('SIGSTOP');
    const { signal } = await exitTime(pm);
    expect(signal).toBe('SIGKILL');
    agent.signal('SIGCONT');
    // the resumed agent's renewal is refused: its postmaster is gone
    await waitFor(() => agent.output().includes('arm-failed PID_NOT_RUNNING'), {
      timeoutMs: 5000,
      what: 'refused renewal',
    });
  });

  it('fires at once on SIGTERM when armed, and exits', async () => {
    const fence = await startFence();
    const pm = await startPostmaster(0);
    const client = await FenceClient.connectOrSpawn({ socketPath });
    expect((await client.arm(monoNowNs() + 60_000n * MS, pm.proc.pid, pm.dataDir)).ok).toBe(true);
    fence.child.kill('SIGTERM');
    const [{ signal }, fenceExit] = await Promise.all([exitTime(pm), fence.exited]);
    expect(signal).toBe('SIGKILL');
    expect(fenceExit.code).toBe(0);
    expect(logLines().find((l) => l.msg === 'fence fired: postmaster stopped')?.reason).toBe('SIGTERM');
  });

  it('exits on SIGTERM without firing when disarmed; a second fence on the same socket refuses to start', async () => {
    const fence = await startFence();
    const second = spawnTracked(process.execPath, ['--import', tsxLoader, fenceMain, '--socket', socketPath]);
    expect((await second.exited).code).toBe(3);
    const pm = await startPostmaster(0);
    fence.child.kill('SIGTERM');
    expect((await fence.exited).code).toBe(0);
    expect(alive(pm)).toBe(true);
  });

  it('client spawns a fence when none listens, and respawns it after it died', async () => {
    const pm = await startPostmaster(0);
    const client = await FenceClient.connectOrSpawn({
      socketPath,
      spawn: { node: process.execPath, script: fenceMain, execArgv: ['--import', tsxLoader], logPath },
      respawnBackoffMs: 0,
    });
    const first = client.status.lastState?.fencePid;
    expect(first).toBeGreaterThan(0);
    untracked.push(first!);
    expect(client.status.spawnedPid).toBe(first);
    process.kill(first!, 'SIGKILL');
    // not merely a zombie: a SIGKILLed multi-threaded process shows 'Z' before its
    // last thread (and its listening socket) is gone; the client retries that case
    await waitFor(() => isDead(first!), { timeoutMs: 3000, what: 'first fence dead' });
    const reply = await client.arm(monoNowNs() + 60_000n * MS, pm.proc.pid, pm.dataDir);
    expect(reply, JSON.stringify(reply)).toMatchObject({ ok: true, armed: true });
    const second = reply.ok ? reply.fencePid : 0;
    untracked.push(second);
    expect(second).not.toBe(first);
    expect(await client.disarm()).toMatchObject({ ok: true, armed: false });
    expect((await client.shutdownFence()).ok).toBe(true);
    await waitFor(() => isDead(second), { timeoutMs: 5000, what: 'fence exited on request' });
    client.close();
  });

  it('client reports an unreachable fence without throwing', async () => {
    const client = await FenceClient.connectOrSpawn({ socketPath, requestTimeoutMs: 200 });
    expect(client.status).toMatchObject({ connected: false, lastError: { code: 'UNAVAILABLE' } });
    expect(await client.arm(monoNowNs() + 1000n * MS, process.pid, dir)).toMatchObject({
      ok: false,
      error: 'UNAVAILABLE',
    });
  });

  it('pets the watchdog while armed and magic-closes it on disarm', async () => {
    const watchdogPath = join(dir, 'watchdog');
    writeFileSync(watchdogPath, '');
    await startFence(['--watchdog', watchdogPath, '--watchdog-interval-ms', '50']);
    const pm = await startPostmaster(0);
    const client = await FenceClient.connectOrSpawn({ socketPath });
    expect((await client.arm(monoNowNs() + 5000n * MS, pm.proc.pid, pm.dataDir)).ok).toBe(true);
    await sleep(400);
    expect(readFileSync(watchdogPath, 'utf8')).toMatch(/^1{3,}$/);
    await client.disarm();
    await waitFor(() => readFileSync(watchdogPath, 'utf8').endsWith('V'), {
      timeoutMs: 2000,
      what: 'magic close',
    });
    client.close();
  });

  it('watchdog on a FIFO: opened on arm, petted at the interval, V then close on disarm; reported in replies', async () => {
    const { fifo, got, drain, close } = fakeWatchdog(dir);
    try {
      await startFence(['--watchdog', fifo, '--watchdog-interval-ms', '100']);
      const pm = await startPostmaster(0);
      const client = await FenceClient.connectOrSpawn({ socketPath });
      expect(client.status.lastState?.watchdog).toMatchObject({ device: fifo, open: false, healthy: true });
      const reply = await client.arm(monoNowNs() + 60_000n * MS, pm.proc.pid, pm.dataDir, 25_000);
      expect(reply).toMatchObject({ ok: true, watchdog: { open: true, healthy: true } });
      drain();
      got.length = 0;
      const t0 = performance.now();
      await sleep(2000);
      drain();
      const elapsed = performance.now() - t0;
      const pets = got.join('').length;
      // 100 ms interval: about 20 writes in 2 s
      console.log(`watchdog pets: ${pets} in ${Math.round(elapsed)} ms at a 100 ms interval`);
      expect(pets).toBeGreaterThanOrEqual(Math.floor(elapsed / 100) - 4);
      expect(pets).toBeLessThanOrEqual(Math.ceil(elapsed / 100) + 1);
      const renew = await client.arm(monoNowNs() + 60_000n * MS, pm.proc.pid, pm.dataDir, 25_000);
      expect(renew).toMatchObject({ ok: true });
      if (!renew.ok) throw new Error('unreachable');
      expect(renew.watchdog?.pets).toBeGreaterThan(pets);
      expect(await client.disarm()).toMatchObject({ ok: true, armed: false, watchdog: { open: false } });
      await waitFor(() => drain() === 'eof', { timeoutMs: 2000, what: 'the fence closed the FIFO' });
      const all = got.join('');
      expect(all.at(-1)).toBe('V');
      expect(all.slice(0, -1)).toMatch(/^1+$/);
      client.close();
    } finally {
      close();
    }
  });

  it('watchdog after a firing that stopped Postgres: magic-closed', async () => {
    const watchdogPath = join(dir, 'watchdog');
    writeFileSync(watchdogPath, '');
    await startFence(['--watchdog', watchdogPath, '--watchdog-interval-ms', '50']);
    const pm = await startPostmaster(0);
    const client = await FenceClient.connectOrSpawn({ socketPath });
    expect((await client.arm(monoNowNs() + 500n * MS, pm.proc.pid, pm.dataDir)).ok).toBe(true);
    await pm.proc.exited;
    await waitFor(() => readFileSync(watchdogPath, 'utf8').endsWith('V'), {
      timeoutMs: 3000,
      what: 'magic close',
    });
    expect(readFileSync(watchdogPath, 'utf8')).toMatch(/^1+V$/);
    client.close();
  });

  it('watchdog.mode required with a device that cannot be opened: the agent sees a failure (Observation.self.watchdogFailure)', async () => {
    const missing = join(dir, 'no', 'watchdog');
    await startFence(['--watchdog', missing]);
    const pm = await startPostmaster(0);
    const client = await FenceClient.connectOrSpawn({ socketPath });
    const msgs: string[] = [];
    const sink = {
      info: (_o: object, m: string) => msgs.push(m),
      warn: (_o: object, m: string) => msgs.push(m),
      error: (_o: object, m: string) => msgs.push(m),
      child: () => sink,
    };
    const required = { mode: 'required' as const, device: missing, safetyMarginMs: 5000 };
    const adapter = fenceAdapter(client, sink as unknown as Logger, required);
    const timing = { ttlMs: 30_000, loopWaitMs: 10_000 };
    const before = await adapter.watchdogFailure?.(timing);
    expect(before).toContain('watchdog required, but');
    expect(before).toContain('does not exist');
    // arming (as a primary would) tries the open, which fails: still a failure, now 'cannot open'
    expect(await adapter.arm(performance.now() + 60_000, pm.proc.pid, pm.dataDir, 30_000)).toBe(true);
    expect(client.status.lastState?.watchdog).toMatchObject({ open: false, healthy: false });
    expect(client.status.lastState?.watchdog?.error).toContain('cannot open');
    const failure = (await adapter.watchdogFailure?.(timing)) ?? null;
    expect(failure).toContain('cannot open');
    expect(msgs.some((m) => m.includes('this node will not take the leader key'))).toBe(true);
    await waitFor(() => logLines().some((l) => l.msg === 'cannot open watchdog'), {
      timeoutMs: 2000,
      what: "the fence's log of the failed open",
    });
    // decide() turns this text into 'never takes the key' (core test decide-watchdog.test.ts)
    // automatic mode: the same fence is only a warning
    const auto = fenceAdapter(client, sink as unknown as Logger, { ...required, mode: 'automatic' });
    expect(await auto.watchdogFailure?.(timing)).toBeNull();
    expect(msgs.some((m) => m.startsWith('watchdog not used (mode automatic, carrying on)'))).toBe(true);
    await client.disarm();
    client.close();
  });
});

describe('fence with a real PostgreSQL 15', () => {
  it('stops a real primary (postmaster and every backend) at the deadline; no write succeeds afterwards', async () => {
    await startFence();
    const pg = await PgHarness.create({ count: 1, namePrefix: 'fence' });
    try {
      const inst = await pg.startPrimary();
      const pid = inst.node.pid;
      expect(pid).not.toBeNull();
      await pg.sql(inst, 'CREATE TABLE t (x int)');
      const backends = childPids(pid!);
      expect(backends.length).toBeGreaterThan(2); // checkpointer, walwriter, ...
      const client = await FenceClient.connectOrSpawn({ socketPath });
      const deadline = monoNowNs() + 1500n * MS;
      expect(await client.arm(deadline, pid!, inst.dataDir)).toMatchObject({ ok: true, armed: true });

      // a client keeps committing until the server goes away
      let lastAckNs = 0n;
      let writes = 0;
      for (;;) {
        try {
          await pg.sql(inst, 'INSERT INTO t VALUES (1)');
          lastAckNs = monoNowNs();
          writes++;
        } catch {
          break;
        }
      }
      const stoppedSeenNs = monoNowNs();
      expect(writes).toBeGreaterThan(0);
      expect(stoppedSeenNs).toBeGreaterThanOrEqual(deadline);
      // the last acknowledged commit was sent before the deadline (allowing one round trip)
      expect(Number((lastAckNs - deadline) / MS)).toBeLessThan(100);
      await waitFor(() => [pid!, ...backends].every(isDead), {
        timeoutMs: 5000,
        what: 'all postgres processes dead',
      });
      const fired = await waitFor(() => logLines().find((l) => l.msg === 'fence fired: postmaster stopped'), {
        timeoutMs: 3000,
        what: 'fired log line',
      });
      expect(fired.frozen).toBe(true);
      // the set of children churns (a client's backend may exit before the fire), so check that the
      // fence found the auxiliary processes; that every process died is asserted above
      expect((fired.childPids as unknown[]).length).toBeGreaterThan(2);
      client.close();
    } finally {
      await pg.teardown();
    }
  });
});

async function rawExchange(lines: string[], expected: number): Promise<Array<Record<string, unknown>>> {
  const sock = connect(socketPath);
  sock.setEncoding('utf8');
  let buf = '';
  sock.on('data', (c: string) => {
    buf += c;
  });
  await new Promise((r) => sock.once('connect', r));
  sock.write(`${lines.join('\n')}\n`);
  await waitFor(() => buf.split('\n').filter(Boolean).length >= expected, {
    timeoutMs: 5000,
    what: 'replies',
  });
  sock.destroy();
  return buf
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
