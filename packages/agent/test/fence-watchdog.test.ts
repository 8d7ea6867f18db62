import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '@hapg/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseFenceArgs } from '../src/fence/args.js';
import type { FenceClientStatus } from '../src/fence/client.js';
import type { FenceLog } from '../src/fence/log.js';
import { monoNowNs } from '../src/fence/mono.js';
import { encodeArm, parseCommand } from '../src/fence/protocol.js';
import { GRACE_MS, sysfsTimeoutFile, Watchdog, type WatchdogTarget } from '../src/fence/watchdog.js';
import { assessWatchdog } from '../src/fence/watchdog-policy.js';
import { fakeWatchdog } from './fake-watchdog.js';

const MS = 1_000_000n;
let dir: string;
let logged: { level: string; msg: string; fields?: object }[];
const log: FenceLog = (level, msg, fields) => {
  logged.push({ level, msg, ...(fields === undefined ? {} : { fields }) });
};
const dogs: Watchdog[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hapg-wd-'));
  logged = [];
});
afterEach(() => {
  for (const d of dogs.splice(0)) d.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function dog(path: string, intervalMs: number, timeoutS?: number): Watchdog {
  let timeoutFile: string | undefined;
  if (timeoutS !== undefined) {
    timeoutFile = join(dir, 'timeout');
    writeFileSync(timeoutFile, `${timeoutS}\n`);
  }
  const d = new Watchdog(path, intervalMs, log, timeoutFile === undefined ? {} : { timeoutFile });
  dogs.push(d);
  return d;
}

/** a fence-like target: armed until `deadlineMs` from now */
function armed(deadlineMs: number, watchdogTimeoutMs?: number): WatchdogTarget {
  const deadlineMonoNs = monoNowNs() + BigInt(deadlineMs) * MS;
  return {
    armed: true,
    failedStop: false,
    deadlineMonoNs,
    watchdogTimeoutMs,
    get leaseValid() {
      return monoNowNs() < deadlineMonoNs;
    },
  };
}
const DISARMED: WatchdogTarget = {
  armed: false,
  leaseValid: false,
  failedStop: false,
  deadlineMonoNs: undefined,
  watchdogTimeoutMs: undefined,
};

describe('Watchdog on a fake device', () => {
  it('FIFO: opened on arm, petted at the interval, magic-closed on disarm (V last, then EOF)', async () => {
    const { fifo, got, drain, close } = fakeWatchdog(dir);
    try {
      const wd = dog(fifo, 50);
      expect(wd.status()).toMatchObject({ device: fifo, open: false, healthy: true, pets: 0 });
      wd.update(armed(60_000));
      expect(wd.status().open).toBe(true);
      drain();
      expect(got.join('')).toBe('1'); // the arm's pet
      const t0 = performance.now();
      await sleep(1000);
      drain();
      const elapsed = performance.now() - t0;
      const pets = got.join('').length - 1;
      // one pet per 50 ms: 20 in 1 s; generous bounds for a loaded 2-core machine
      expect(pets).toBeGreaterThanOrEqual(Math.floor(elapsed / 50) - 6);
      expect(pets).toBeLessThanOrEqual(Math.ceil(elapsed / 50) + 1);
      expect(got.join('')).toMatch(/^1+$/);
      wd.update(DISARMED);
      expect(wd.status().open).toBe(false);
      expect(drain()).toBe('eof'); // the writer closed
      const all = got.join('');
      expect(all.at(-1)).toBe('V');
      expect(all.slice(0, -1)).toMatch(/^1+$/);
      await sleep(150);
      expect(drain()).toBe('eof'); // no pets after the close
      expect(logged.map((l) => l.msg)).toEqual(['watchdog opened', 'watchdog closed (magic close)']);
    } finally {
      close();
    }
  });

  it('FIFO without a reader: the open fails at once (ENXIO), it never blocks the fence', () => {
    const fifo = join(dir, 'watchdog');
    execFileSync('mkfifo', [fifo]);
    const wd = dog(fifo, 50);
    wd.update(armed(60_000));
    const s = wd.status();
    expect(s).toMatchObject({ open: false, healthy: false });
    expect(s.error).toContain('ENXIO');
  });

  it('a device that does not exist: unhealthy before any arm; the open failure is logged once', () => {
    const wd = dog(join(dir, 'missing', 'watchdog'), 50);
    expect(wd.status()).toMatchObject({ healthy: false, open: false });
    expect(wd.status().error).toContain('does not exist');
    wd.update(armed(60_000));
    wd.update(armed(60_000));
    expect(wd.status().error).toContain('cannot open');
    expect(logged.filter((l) => l.msg === 'cannot open watchdog')).toHaveLength(1);
  });

  it('an open failure sticks until an open succeeds', () => {
    const sub = join(dir, 'later');
    const path = join(sub, 'watchdog');
    const wd = dog(path, 50);
    wd.update(armed(60_000));
    expect(wd.status().healthy).toBe(false);
    mkdirSync(sub);
    writeFileSync(path, '');
    wd.update(DISARMED);
    expect(wd.status()).toMatchObject({ healthy: false }); // no new attempt while disarmed
    wd.update(armed(60_000));
    expect(wd.status()).toMatchObject({ healthy: true, open: true });
    expect(wd.status().error).toBeUndefined();
  });

  it('interval pets stop once the device would fire later than 0.5 s past the deadline; the arm still pets', async () => {
    const path = join(dir, 'watchdog');
    writeFileSync(path, '');
    // timeout 2 s (sysfs), deadline in 500 ms: now + 2 s > deadline + 0.5 s, so no interval pet
    const wd = dog(path, 20, 2);
    expect(wd.status().timeoutS).toBe(2);
    wd.update(armed(500));
    await sleep(300);
    expect(readFileSync(path, 'utf8')).toBe('1');
    wd.update(DISARMED);
    expect(readFileSync(path, 'utf8')).toBe('1V');
  });

  it('with a 1 s timeout the pets run until deadline + 0.5 s − timeout (one last pet exactly then), then stop', async () => {
    const path = join(dir, 'watchdog');
    writeFileSync(path, '');
    const wd = dog(path, 100, 1);
    const t0 = monoNowNs();
    const target = armed(850); // last pet at 850 + 500 − 1000 = 350 ms
    wd.update(target);
    const times: number[] = [];
    let seen = 0;
    const poll = setInterval(() => {
      const n = readFileSync(path, 'utf8').length;
      for (; seen < n; seen++) times.push(Number(monoNowNs() - t0) / 1e6);
    }, 5);
    await sleep(800);
    clearInterval(poll);
    // the arm's pet, ticks at ~100, 200, 300 and the final pet at ~350 ms
    expect(times.length).toBeGreaterThanOrEqual(4);
    expect(times.length).toBeLessThanOrEqual(5);
    const last = times.at(-1) ?? 0;
    expect(last).toBeGreaterThanOrEqual(340);
    expect(last).toBeLessThan(450);
    expect(wd.status().open).toBe(true); // left open: it fires at deadline + 0.5 s unless closed
    expect(GRACE_MS).toBe(500);
  });

  it('without a readable timeout the agent’s expected timeout (from the arm) bounds the pets', async () => {
    const path = join(dir, 'watchdog');
    writeFileSync(path, '');
    const wd = dog(path, 20);
    expect(wd.status().timeoutS).toBeNull();
    wd.update(armed(300, 5000)); // now + 5 s > deadline + 1 s: only the arm's pet
    await sleep(200);
    expect(readFileSync(path, 'utf8')).toBe('1');
    wd.update(armed(60_000, 5000)); // a renewal: pets again
    await sleep(200);
    expect(readFileSync(path, 'utf8').length).toBeGreaterThan(3);
  });

  it('after a firing that left processes alive it keeps the device open and stops petting', async () => {
    const path = join(dir, 'watchdog');
    writeFileSync(path, '');
    const wd = dog(path, 20);
    wd.update(armed(60_000));
    wd.update({ ...DISARMED, failedStop: true });
    const n = readFileSync(path, 'utf8').length;
    await sleep(150);
    expect(readFileSync(path, 'utf8').length).toBe(n);
    expect(readFileSync(path, 'utf8')).not.toContain('V');
    expect(wd.status().open).toBe(true);
  });
});

describe('sysfs timeout lookup', () => {
  it('maps device names to /sys/class/watchdog entries', () => {
    expect(sysfsTimeoutFile('/dev/watchdog0', '/sys/x')).toBe('/sys/x/watchdog0/timeout');
    expect(sysfsTimeoutFile('/dev/watchdog3', '/sys/x')).toBe('/sys/x/watchdog3/timeout');
    expect(sysfsTimeoutFile('/dev/watchdog', '/sys/x')).toBe('/sys/x/watchdog0/timeout');
    // a regular file is no device: no entry matches
    const f = join(dir, 'fake');
    writeFileSync(f, '');
    expect(sysfsTimeoutFile(f, join(dir, 'nosys'))).toBeUndefined();
  });
});

describe('protocol and flags', () => {
  it('arm carries the expected watchdog timeout', () => {
    const line = encodeArm(1, 5n, 4242, '/d', 25_000).trim();
    expect(parseCommand(line)).toEqual({
      ok: true,
      command: { op: 'arm', id: 1, deadlineMonoNs: 5n, pid: 4242, dataDir: '/d', watchdogTimeoutMs: 25_000 },
    });
    expect(JSON.parse(encodeArm(1, 5n, 4242, '/d').trim())).not.toHaveProperty('watchdogTimeoutMs');
    const bad = JSON.stringify({
      op: 'arm',
      deadlineMonoNs: '5',
      pid: 4242,
      dataDir: '/d',
      watchdogTimeoutMs: -1,
    });
    expect(parseCommand(bad)).toMatchObject({
      ok: false,
      message: 'arm: watchdogTimeoutMs must be a positive integer',
    });
  });

  it('--watchdog-timeout-file', () => {
    expect(
      parseFenceArgs(['--socket', 's', '--watchdog', '/dev/w', '--watchdog-timeout-file', '/t']),
    ).toMatchObject({
      watchdogPath: '/dev/w',
      watchdogTimeoutFile: '/t',
    });
  });
});

describe('assessWatchdog (the agent’s reading of watchdog.mode)', () => {
  const timing = { ttlMs: 30_000, loopWaitMs: 10_000 };
  const cfg = (mode: 'off' | 'automatic' | 'required') => ({
    mode,
    device: '/dev/watchdog',
    safetyMarginMs: 5000,
  });
  const fence = (watchdog?: object): FenceClientStatus => ({
    connected: true,
    armed: false,
    lastState: {
      fencePid: 1,
      armed: false,
      fired: 0,
      ...(watchdog === undefined
        ? {}
        : {
            watchdog: {
              device: '/dev/watchdog',
              open: false,
              healthy: true,
              timeoutS: 25,
              pets: 0,
              ...watchdog,
            },
          }),
    },
  });

  it('off: nothing, whatever the fence says', () => {
    expect(assessWatchdog(cfg('off'), null, timing)).toEqual({ failure: null, warnings: [] });
  });

  it('a usable device with a timeout of at most ttl − safety_margin: fine', () => {
    expect(assessWatchdog(cfg('required'), fence({}), timing)).toEqual({ failure: null, warnings: [] });
    expect(assessWatchdog(cfg('automatic'), fence({}), timing)).toEqual({ failure: null, warnings: [] });
  });

  it('required: every unusable case is a failure; automatic: a warning, carrying on', () => {
    const cases: [FenceClientStatus | null, string][] = [
      [null, 'fence.enabled is false'],
      [{ connected: false, armed: false }, 'not reachable'],
      [fence(), 'started without --watchdog'],
      [fence({ healthy: false, error: '/dev/watchdog does not exist' }), '/dev/watchdog does not exist'],
      [fence({ timeoutS: 60 }), 'timeout is 60 s, longer than ttl − safety_margin = 25 s'],
    ];
    for (const [status, text] of cases) {
      const req = assessWatchdog(cfg('required'), status, timing);
      expect(req.failure).toContain('watchdog required, but');
      expect(req.failure).toContain(text);
      const auto = assessWatchdog(cfg('automatic'), status, timing);
      expect(auto.failure).toBeNull();
      expect(auto.warnings.join('\n')).toContain(text);
    }
  });

  it('required: ttl − safety_margin shorter than loop_wait (Patroni: watchdog not supported)', () => {
    expect(
      assessWatchdog(cfg('required'), fence({ timeoutS: 5 }), { ttlMs: 10_000, loopWaitMs: 10_000 }).failure,
    ).toContain('shorter than loop_wait');
  });

  it('an unknown timeout is a warning only', () => {
    const a = assessWatchdog(cfg('required'), fence({ timeoutS: null }), timing);
    expect(a.failure).toBeNull();
    expect(a.warnings[0]).toContain('unknown');
  });
});
