import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Action, HooksConfig } from '@hapg/core';
import { afterAll, describe, expect, it } from 'vitest';
import { runActions } from '../src/executor/execute.js';
import type { HooksPort } from '../src/executor/ports.js';
import { CallbackRunner, callbackFor, hookArgv, localHooks, startHook } from '../src/hooks/index.js';

const dir = mkdtempSync(join(tmpdir(), 'hapg-hooks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A script that appends its arguments (and, after `sleepS`, "done") to `out`. */
function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}
const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : []);
const until = async (ok: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};
const silent = { info() {}, warn() {} };
const hooks = (over: Partial<HooksConfig> = {}): HooksConfig => ({
  callbacks: {},
  callbackTimeoutMs: 60_000,
  prePromote: null,
  prePromoteTimeoutMs: 30_000,
  beforeStop: null,
  beforeStopTimeoutMs: 30_000,
  ...over,
});

describe('hookArgv: split as Python shlex.split, never a shell', () => {
  it.each([
    ['/bin/cb.sh', ['/bin/cb.sh']],
    ['/bin/cb.sh --vip "10.0.0.1 eth0"', ['/bin/cb.sh', '--vip', '10.0.0.1 eth0']],
    ["sudo -u pg '/opt/x y/cb'", ['sudo', '-u', 'pg', '/opt/x y/cb']],
    ['/bin/cb.sh $HOME; rm -rf /', ['/bin/cb.sh', '$HOME;', 'rm', '-rf', '/']],
  ])('%s', (command, want) => expect(hookArgv(command)).toEqual(want));

  it("appends Patroni's arguments", () => {
    expect(hookArgv('/bin/cb.sh -q', ['on_start', 'replica', 'demo'])).toEqual([
      '/bin/cb.sh',
      '-q',
      'on_start',
      'replica',
      'demo',
    ]);
  });
});

describe('callbackFor: which callback a change calls', () => {
  it.each([
    ['started', 'replica', null, 'on_start'],
    ['started', 'replica', 'replica', 'on_start'],
    ['started', 'replica', 'primary', 'on_role_change'],
    ['restarted', 'primary', 'primary', 'on_restart'],
    ['restarted', 'replica', 'primary', 'on_role_change'],
    ['promoted', 'primary', 'replica', 'on_role_change'],
    ['stopped', 'primary', 'primary', 'on_stop'],
  ] as const)('%s as %s after %s: %s', (change, role, last, want) =>
    expect(callbackFor(change, role, last)).toBe(want),
  );
});

describe('CallbackRunner', () => {
  it('runs `<command> <action> <role> <scope>` in the background; a demotion and a restart as a standby give on_stop then on_role_change', async () => {
    const out = join(dir, 'args.log');
    const cb = script('cb.sh', `echo "$@" >> ${out}`);
    const ended: string[] = [];
    const runner = new CallbackRunner({
      config: () => hooks({ callbacks: { on_start: cb, on_stop: cb, on_role_change: cb } }),
      scope: 'demo',
      log: silent,
      onEnded: (_argv, text) => ended.push(text),
    });
    runner.changed('started', 'primary');
    await until(() => ended.length === 1);
    runner.changed('stopped', 'primary');
    await until(() => ended.length === 2);
    runner.changed('started', 'replica');
    await until(() => ended.length === 3);
    runner.changed('restarted', 'replica'); // no on_restart configured: nothing runs
    await new Promise((r) => setTimeout(r, 200));
    expect(lines(out)).toEqual([
      'on_start primary demo',
      'on_stop primary demo',
      'on_role_change replica demo',
    ]);
    expect(ended.every((t) => t.startsWith('exited with 0'))).toBe(true);
  });

  it('a newer callback kills the running one with its children; on_reload runs beside it', async () => {
    const out = join(dir, 'kill.log');
    const slow = script('slow.sh', `echo "start $1" >> ${out}; sleep 5 & wait; echo "end $1" >> ${out}`);
    const ended: string[] = [];
    const runner = new CallbackRunner({
      config: () => hooks({ callbacks: { on_start: slow, on_role_change: slow, on_reload: slow } }),
      scope: 's',
      log: silent,
      onEnded: (argv, text) => ended.push(`${argv.at(-3)}: ${text}`),
    });
    runner.changed('started', 'replica');
    runner.reloaded('replica');
    await until(() => lines(out).length === 2);
    const t0 = performance.now();
    runner.changed('promoted', 'primary');
    await until(() => ended.some((e) => e.startsWith('on_start: cancelled')));
    expect(performance.now() - t0).toBeLessThan(2000);
    // on_reload was not cancelled by the role change
    expect(ended.some((e) => e.startsWith('on_reload'))).toBe(false);
    runner.close();
    await until(() => ended.length === 3);
    expect(lines(out).filter((l) => l.startsWith('end'))).toEqual([]);
  });

  it('a callback over callback_timeout is killed and logged as such', async () => {
    const hang = script('hang.sh', 'sleep 30');
    const warned: string[] = [];
    const runner = new CallbackRunner({
      config: () => hooks({ callbacks: { on_start: hang }, callbackTimeoutMs: 200 }),
      scope: 's',
      log: { info() {}, warn: (_o, msg) => warned.push(msg) },
    });
    runner.changed('started', 'replica');
    await until(() => warned.length === 1);
    expect(warned[0]).toMatch(/^callback did not finish within its timeout/);
  });
});

describe('startHook', () => {
  it('reports a program that cannot be started, and stderr of one that fails', async () => {
    const missing = await startHook([join(dir, 'nope')], { timeoutMs: 1000 }).done;
    expect(missing.spawnError).toMatch(/ENOENT/);
    const fail = script('fail.sh', 'echo "no route to ipmi" >&2; exit 3');
    const r = await startHook([fail], { timeoutMs: 1000 }).done;
    expect(r.code).toBe(3);
    expect(r.stderrTail).toContain('no route to ipmi');
  });
});

describe('localHooks', () => {
  it('pre_promote: exit 0 goes on; non-zero, a timeout or a missing program aborts', async () => {
    const ok = script('ok.sh', 'exit 0');
    const bad = script('bad.sh', 'echo fenced-failed >&2; exit 1');
    const slow = script('slow-pre.sh', 'sleep 10');
    const run = (h: Partial<HooksConfig>) =>
      localHooks({ config: () => hooks(h), callbacks: {} as CallbackRunner, log: silent }).prePromote();
    expect((await run({})).ok).toBe(true);
    expect((await run({ prePromote: ok })).ok).toBe(true);
    const failed = await run({ prePromote: bad });
    expect(failed).toEqual({ ok: false, text: expect.stringMatching(/exited with 1 .*fenced-failed/) });
    const t0 = performance.now();
    const timedOut = await run({ prePromote: slow, prePromoteTimeoutMs: 300 });
    expect(timedOut.ok).toBe(false);
    expect(timedOut.text).toMatch(/did not finish within its timeout/);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect((await run({ prePromote: join(dir, 'missing') })).ok).toBe(false);
  });

  it('before_stop is waited for, bounded by its timeout', async () => {
    const out = join(dir, 'before.log');
    const s = script('before.sh', `sleep 0.3; echo paused >> ${out}`);
    const h = localHooks({
      config: () => hooks({ beforeStop: s }),
      callbacks: {} as CallbackRunner,
      log: silent,
    });
    await h.beforeStop();
    expect(lines(out)).toEqual(['paused']);
    const hang = script('before-hang.sh', 'sleep 30');
    const t0 = performance.now();
    await localHooks({
      config: () => hooks({ beforeStop: hang, beforeStopTimeoutMs: 300 }),
      callbacks: {} as CallbackRunner,
      log: silent,
    }).beforeStop();
    expect(performance.now() - t0).toBeLessThan(3000);
  });
});

describe('the executor around pre_promote and before_stop', () => {
  /** A context that records what the executor did, with a pre_promote that answers `ok`. */
  function recorder(prePromoteOk: boolean) {
    const calls: string[] = [];
    const record = <T>(call: string, result: T): T => {
      calls.push(call);
      return result;
    };
    const hooksPort: HooksPort = {
      prePromote: async () => {
        calls.push('pre_promote');
        return { ok: prePromoteOk, text: 'exited with 1' };
      },
      beforeStop: async () => {
        calls.push('before_stop');
      },
      changed: (change, role) => calls.push(`${change}:${role}`),
    };
    const ctx = {
      name: 'n1',
      hooks: hooksPort,
      store: {
        acquireLeader: async () => record('acquire', true),
        releaseLeader: async () => record('release', true),
        leaseDeadlineMs: () => Number.MAX_SAFE_INTEGER,
        casSync: async () => record('claim sync', '1'),
        view: () => null,
        casHistory: async () => '1',
      },
      pg: {
        promote: async () => {
          calls.push('pg_promote');
        },
        stop: async (mode: string) => {
          calls.push(`stop ${mode}`);
        },
        lastPositions: () => null,
        setWasPrimary: async () => {},
        probe: async () => ({ timeline: 3, flushLsn: null }),
        timelineFork: async () => null,
        memory: {},
      },
      fence: { arm: async () => calls.push('arm'), disarm: async () => calls.push('disarm') },
      clock: { monotonicMs: () => 0, wallMs: () => 0, sleep: async () => {} },
      log: silent,
      view: null,
      syncMode: 'on',
      onPromoted: () => {},
      onReleased: () => calls.push('onReleased'),
      onPrePromoteFailed: (why: string) => calls.push(`backoff: ${why}`),
    } as unknown as Parameters<typeof runActions>[1];
    return { calls, ctx };
  }
  const promoteRun: Action[] = [
    { kind: 'acquireLeader' },
    { kind: 'claimSyncKey' },
    { kind: 'promote', reason: 'failover' },
  ];

  it('runs pre_promote once, before the sync key is claimed and before the fence and pg_promote', async () => {
    const { calls, ctx } = recorder(true);
    await runActions(promoteRun, ctx);
    expect(calls.slice(0, 3)).toEqual(['acquire', 'pre_promote', 'claim sync']);
    expect(calls.filter((c) => c === 'pre_promote')).toHaveLength(1);
    expect(calls.indexOf('pre_promote')).toBeLessThan(calls.indexOf('arm'));
    expect(calls.indexOf('arm')).toBeLessThan(calls.indexOf('pg_promote'));
    expect(calls).toContain('promoted:primary');
  });

  it('a failing pre_promote: no sync key, no promotion, the key released, the node backs off', async () => {
    const { calls, ctx } = recorder(false);
    await expect(runActions(promoteRun, ctx)).rejects.toThrow(
      /pre_promote failed: exited with 1; released the leader key/,
    );
    expect(calls).toEqual([
      'acquire',
      'pre_promote',
      'backoff: pre_promote failed: exited with 1',
      'release',
      'onReleased',
    ]);
  });

  it('before_stop runs before a planned demotion, never before a safety stop', async () => {
    const planned = recorder(true);
    await runActions([{ kind: 'demote', mode: 'fast', follow: null }], planned.ctx);
    expect(planned.calls.slice(0, 3)).toEqual(['before_stop', 'stop fast', 'stopped:primary']);
    const safety = recorder(true);
    await runActions([{ kind: 'demote', mode: 'immediate', follow: null }], safety.ctx);
    expect(safety.calls).not.toContain('before_stop');
    expect(safety.calls[0]).toBe('stop immediate');
  });
});
