import { replicaRoleChangeWire } from './events-fixtures.js';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  EventJournal,
  type HapgEvent,
  WebhookSender,
  type WebhookSenderOptions,
  type WireEvent,
} from '../src/events/index.js';
import type { Logger } from '../src/logger.js';

/** What the receiver does with one request: answer with a status, or hold it until released. */
type Answer = number | 'hang' | 'hold';

interface Attempt {
  readonly body: WireEvent;
  readonly headers: IncomingHttpHeaders;
  readonly method: string;
  readonly path: string;
  readonly atMs: number;
}

/** A real HTTP receiver on 127.0.0.1: `answer(n)` decides the n-th request's fate (0-based). */
async function receiver(answer: (n: number) => Answer = () => 200) {
  const attempts: Attempt[] = [];
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const a = answer(attempts.length);
      attempts.push({
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as WireEvent,
        headers: req.headers,
        method: req.method ?? '',
        path: req.url ?? '',
        atMs: performance.now(),
      });
      if (a === 'hold') held.push(res);
      else if (a !== 'hang') res.writeHead(a, { 'content-type': 'text/plain' }).end('answer');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const r = {
    base,
    url: `${base}/hook`,
    attempts,
    /** answers every held request with `status` */
    release: (status = 200) => {
      for (const res of held.splice(0)) res.writeHead(status).end();
    },
    ids: () => attempts.map((a) => a.body.id),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  receivers.push(r);
  return r;
}

const receivers: { close(): Promise<void> }[] = [];
const senders: WebhookSender[] = [];
afterEach(async () => {
  await Promise.all(senders.splice(0).map((s) => s.close()));
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

function recordingLog() {
  const lines: { level: 'warn' | 'info'; obj: object; msg: string }[] = [];
  return {
    lines,
    log: {
      warn: (obj: object, msg: string) => lines.push({ level: 'warn', obj, msg }),
      info: (obj: object, msg: string) => lines.push({ level: 'info', obj, msg }),
    },
  };
}

function sender(url: string, extra: Partial<WebhookSenderOptions> = {}) {
  const { lines, log } = recordingLog();
  const s = new WebhookSender({
    url,
    initialBackoffMs: 20,
    maxBackoffMs: 40,
    timeoutMs: 1000,
    log,
    ...extra,
  });
  senders.push(s);
  return { s, lines };
}

function events(n: number): HapgEvent[] {
  const j = new EventJournal({ member: 'pg1', scope: 'demo', bootId: 'b0', log: { warn: () => {} } });
  return Array.from({ length: n }, (_, i) =>
    j.emit({ type: 'role_change', reason: { code: 'TEST', text: `event ${i + 1}` }, newRole: 'replica' }),
  );
}

const until = (check: () => void, timeout = 5000) => vi.waitFor(check, { timeout, interval: 5 });
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('WebhookSender delivery', () => {
  it('POSTs every event as one JSON document, in order, one at a time', async () => {
    const rx = await receiver();
    const { s } = sender(rx.url);
    const evs = events(25);
    for (const e of evs) s.send(e);
    await until(() => expect(s.stats().sent).toBe(25));
    expect(rx.ids()).toEqual(evs.map((e) => e.id));
    expect(rx.attempts[0]).toMatchObject({
      method: 'POST',
      path: '/hook',
      headers: { 'content-type': 'application/json' },
      body: replicaRoleChangeWire({
        id: 'b0-1',
        time: expect.any(String),
        reason: { code: 'TEST', text: 'event 1' },
      }),
    });
    expect(s.stats()).toEqual({ queued: 0, sent: 25, failedAttempts: 0, dropped: 0, rejected: 0 });
  });

  it('sends the configured headers, and logs neither them nor the URL path', async () => {
    const rx = await receiver((n) => (n === 0 ? 503 : 200));
    const { s, lines } = sender(`${rx.base}/hook/T0KEN-in-path`, {
      headers: { Authorization: 'Bearer s3cret', 'X-Hapg-Cluster': 'demo' },
    });
    s.send(events(1)[0]!);
    await until(() => expect(s.stats().sent).toBe(1));
    expect(rx.attempts.map((a) => [a.headers.authorization, a.headers['x-hapg-cluster']])).toEqual([
      ['Bearer s3cret', 'demo'],
      ['Bearer s3cret', 'demo'],
    ]);
    expect(lines.length).toBeGreaterThan(0);
    const logged = JSON.stringify(lines);
    expect(logged).not.toContain('s3cret');
    expect(logged).not.toContain('T0KEN');
    expect(logged).toContain(rx.base);
  });

  it('resumes after a drain: an event sent once the queue went idle is delivered too', async () => {
    const rx = await receiver();
    const { s } = sender(rx.url);
    const [a, b] = events(2);
    s.send(a!);
    await until(() => expect(s.stats().sent).toBe(1));
    s.send(b!);
    await until(() => expect(s.stats().sent).toBe(2));
    expect(rx.ids()).toEqual(['b0-1', 'b0-2']);
  });
});

describe('WebhookSender retries', () => {
  it('retries after a 500 and delivers exactly once after the 200, order kept', async () => {
    const rx = await receiver((n) => (n < 2 ? 500 : 200));
    const { s, lines } = sender(rx.url);
    const evs = events(3);
    for (const e of evs) s.send(e);
    await until(() => expect(s.stats().sent).toBe(3));
    await pause(100); // several backoffs long: no late duplicate
    expect(rx.ids()).toEqual(['b0-1', 'b0-1', 'b0-1', 'b0-2', 'b0-3']);
    expect(s.stats()).toEqual({ queued: 0, sent: 3, failedAttempts: 2, dropped: 0, rejected: 0 });
    expect(lines.filter((l) => l.level === 'warn')).toEqual([
      {
        level: 'warn',
        obj: expect.objectContaining({ status: 500, eventId: 'b0-1' }),
        msg: expect.any(String),
      },
      {
        level: 'warn',
        obj: expect.objectContaining({ status: 500, eventId: 'b0-1' }),
        msg: expect.any(String),
      },
    ]);
  });

  it('doubles the backoff up to maxBackoffMs', async () => {
    // 20, 40, 80, 160, 320 ms uncapped; 20, 30, 30, 30, 30 ms with the cap
    const rx = await receiver((n) => (n < 5 ? 500 : 200));
    const { s } = sender(rx.url, { initialBackoffMs: 20, maxBackoffMs: 30 });
    s.send(events(1)[0]!);
    await until(() => expect(s.stats().sent).toBe(1));
    const gaps = rx.attempts.slice(1).map((a, i) => a.atMs - rx.attempts[i]!.atMs);
    expect(gaps).toHaveLength(5);
    // timers may fire a millisecond early; the upper bound only tells 30 from 320
    expect(gaps[0]).toBeGreaterThanOrEqual(18);
    for (const gap of gaps.slice(1)) {
      expect(gap).toBeGreaterThanOrEqual(28);
      expect(gap).toBeLessThan(250);
    }
  });

  it('times out a receiver that never answers, then retries', async () => {
    const rx = await receiver((n) => (n === 0 ? 'hang' : 200));
    const { s, lines } = sender(rx.url, { timeoutMs: 150 });
    s.send(events(1)[0]!);
    await until(() => expect(s.stats().sent).toBe(1));
    expect(rx.ids()).toEqual(['b0-1', 'b0-1']);
    expect(rx.attempts[1]!.atMs - rx.attempts[0]!.atMs).toBeGreaterThanOrEqual(150);
    expect(s.stats()).toMatchObject({ sent: 1, failedAttempts: 1 });
    expect(lines).toEqual([
      {
        level: 'warn',
        obj: expect.objectContaining({ err: expect.stringMatching(/timeout/i) }),
        msg: expect.any(String),
      },
    ]);
  });

  it('retries a connection refused', async () => {
    const rx = await receiver();
    const url = rx.url;
    await rx.close();
    const { s } = sender(url);
    s.send(events(1)[0]!);
    await until(() => expect(s.stats().failedAttempts).toBeGreaterThanOrEqual(2));
    expect(s.stats()).toMatchObject({ queued: 1, sent: 0, rejected: 0 });
  });

  it.each([408, 429, 502, 503])('retries a %d', async (status) => {
    const rx = await receiver((n) => (n === 0 ? status : 200));
    const { s } = sender(rx.url);
    s.send(events(1)[0]!);
    await until(() => expect(s.stats().sent).toBe(1));
    expect(rx.ids()).toEqual(['b0-1', 'b0-1']);
  });

  it.each([400, 401, 404, 413, 302])(
    'drops the event after a %d, without retrying, and goes on',
    async (status) => {
      const rx = await receiver((n) => (n === 0 ? status : 200));
      const { s, lines } = sender(rx.url);
      const [a, b] = events(2);
      s.send(a!);
      s.send(b!);
      await until(() => expect(s.stats().sent).toBe(1));
      await pause(100);
      expect(rx.ids()).toEqual(['b0-1', 'b0-2']);
      expect(s.stats()).toEqual({ queued: 0, sent: 1, failedAttempts: 0, dropped: 0, rejected: 1 });
      expect(lines).toEqual([
        {
          level: 'warn',
          obj: expect.objectContaining({ status, eventId: 'b0-1' }),
          msg: expect.stringContaining('dropped'),
        },
      ]);
    },
  );
});

describe('WebhookSender queue bound', () => {
  it('drops the oldest queued events when full, counts them and warns once per burst', async () => {
    const rx = await receiver((n) => (n === 0 || n === 4 ? 'hold' : 200));
    const { s, lines } = sender(rx.url, { queueMax: 3, timeoutMs: 5000 });
    const evs = events(16);
    s.send(evs[0]!);
    await until(() => expect(rx.attempts).toHaveLength(1)); // b0-1 is on the wire
    for (const e of evs.slice(1, 10)) s.send(e);
    // b0-2..b0-10 behind it in a queue of 3: the six oldest pushed out
    expect(s.stats()).toEqual({ queued: 4, sent: 0, failedAttempts: 0, dropped: 6, rejected: 0 });
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1);

    rx.release();
    await until(() => expect(s.stats().sent).toBe(4));
    expect(rx.ids()).toEqual(['b0-1', 'b0-8', 'b0-9', 'b0-10']);
    expect(lines.at(-1)).toEqual({
      level: 'info',
      obj: expect.objectContaining({ droppedEvents: 6 }),
      msg: expect.any(String),
    });

    // a second burst warns again, and reports only its own drops
    s.send(evs[10]!);
    await until(() => expect(rx.attempts).toHaveLength(5));
    for (const e of evs.slice(11, 16)) s.send(e);
    expect(s.stats().dropped).toBe(8);
    rx.release();
    await until(() => expect(s.stats().sent).toBe(8));
    expect(rx.ids().slice(4)).toEqual(['b0-11', 'b0-14', 'b0-15', 'b0-16']);
    expect(lines.map((l) => [l.level, (l.obj as { droppedEvents?: number }).droppedEvents])).toEqual([
      ['warn', undefined],
      ['info', 6],
      ['warn', undefined],
      ['info', 2],
    ]);
  });

  it('never blocks or throws into send, even with a broken logger', () => {
    const s = new WebhookSender({
      url: 'http://127.0.0.1:9/hook',
      queueMax: 2,
      initialBackoffMs: 20,
      log: {
        warn: () => {
          throw new Error('log down');
        },
        info: () => {},
      },
    });
    senders.push(s);
    const t0 = performance.now();
    expect(() => {
      for (const e of events(1000)) s.send(e);
    }).not.toThrow();
    expect(performance.now() - t0).toBeLessThan(500);
    expect(s.stats()).toMatchObject({ queued: 3, dropped: 997 });
  });
});

describe('WebhookSender.close', () => {
  it('stops during a backoff: no further attempt, no timer left', async () => {
    const rx = await receiver(() => 500);
    const { s } = sender(rx.url, { initialBackoffMs: 60_000, maxBackoffMs: 60_000 });
    const timersBefore = activeTimers();
    s.send(events(1)[0]!);
    await until(() => expect(s.stats().failedAttempts).toBe(1));
    expect(activeTimers()).toBe(timersBefore + 1); // the backoff
    const t0 = performance.now();
    await s.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(activeTimers()).toBe(timersBefore);
    s.send(events(2)[1]!); // ignored after close
    await pause(50);
    expect(rx.attempts).toHaveLength(1);
  });

  it('aborts the POST in flight', async () => {
    const rx = await receiver(() => 'hang');
    const { s, lines } = sender(rx.url, { timeoutMs: 60_000 });
    s.send(events(1)[0]!);
    await until(() => expect(rx.attempts).toHaveLength(1));
    const t0 = performance.now();
    await s.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(s.stats()).toMatchObject({ sent: 0, failedAttempts: 0 });
    expect(lines).toEqual([]); // closing is not a failure
  });

  it('lets the process exit: nothing it started keeps Node alive after close()', async () => {
    const rx = await receiver((n) => (n === 0 ? 500 : 'hang'));
    const dir = mkdtempSync(join(tmpdir(), 'hapg-webhook-'));
    try {
      const script = join(dir, 'child.ts');
      // one failed attempt (a backoff timer), then a POST left hanging, then close()
      writeFileSync(
        script,
        [
          `import { EventJournal, WebhookSender } from ${JSON.stringify(eventsModule)};`,
          `const log = { warn: () => {}, info: () => {} };`,
          `const s = new WebhookSender({ url: ${JSON.stringify(rx.url)}, initialBackoffMs: 20, timeoutMs: 60000, log });`,
          `const j = new EventJournal({ member: 'pg1', scope: 'demo', log });`,
          `j.subscribe((e) => s.send(e));`,
          `j.emit({ type: 'paused', reason: { code: 'T', text: 't' } });`,
          `j.emit({ type: 'resumed', reason: { code: 'T', text: 't' } });`,
          `const poll = setInterval(() => {`,
          `  if (s.stats().failedAttempts < 1) return;`,
          `  clearInterval(poll);`,
          `  setTimeout(() => void s.close().then(() => console.log('closed')), 100);`,
          `}, 5);`,
        ].join('\n'),
      );
      const child = spawn(process.execPath, ['--conditions=source', '--import', tsxLoader, script], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => {
        output += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        output += c.toString();
      });
      const code = await new Promise<number | null>((resolve, reject) => {
        const killer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`child did not exit after close(): ${output}`));
        }, 15_000);
        child.on('exit', (c) => {
          clearTimeout(killer);
          resolve(c);
        });
      });
      expect({ code, output: output.trim() }).toEqual({ code: 0, output: 'closed' });
      // the 500, then the retry left hanging: the second event never went out
      expect(rx.attempts.map((a) => a.body.type)).toEqual(['paused', 'paused']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 20_000);
});

describe('WebhookSender options', () => {
  it('refuses a bad URL or a non-positive bound at construction', () => {
    const log = recordingLog().log;
    expect(() => new WebhookSender({ url: 'not a url', log })).toThrow();
    expect(() => new WebhookSender({ url: 'http://x/', queueMax: 0, log })).toThrow(/queueMax/);
    expect(() => new WebhookSender({ url: 'http://x/', timeoutMs: -1, log })).toThrow(/timeoutMs/);
  });

  it('takes a pino logger', () => {
    // type-level: the agent's Logger fits WebhookLog
    const fits = (log: Logger): WebhookSenderOptions => ({ url: 'http://x/', log });
    expect(typeof fits).toBe('function');
  });
});

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const tsxLoader = pathToFileURL(here('../../../node_modules/tsx/dist/loader.mjs')).href;
const eventsModule = pathToFileURL(here('../src/events/index.ts')).href;

/** Ref'd timers (unref'd ones, as AbortSignal.timeout's, do not keep the process alive). */
function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}
