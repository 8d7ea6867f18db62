import { selfSignedCert } from './self-signed.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { portAnswers, restAnswers } from '../src/fast-failover/probes.js';

/** Condition (d) of docs/fast-failover.md: the REST and Postgres-port probes, on 127.0.0.1 only. */

const TIMEOUT_MS = 400;
/** what a timed-out probe may take beyond its timeout on a busy 2-core machine */
const SLACK_MS = 300;

const servers: Server[] = [];
/** every connection any test server accepted: destroyed after each test so close() returns */
const accepted = new Set<Socket>();
afterEach(async () => {
  for (const sock of accepted) sock.destroy();
  accepted.clear();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

async function listen(server: Server): Promise<number> {
  servers.push(server);
  server.on('connection', (sock: Socket) => {
    accepted.add(sock);
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** a port nothing listens on: bound once, then released */
async function closedPort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** accepts connections and never says a word, like a frozen agent's listen backlog; counts them */
async function silentServer(): Promise<{ port: number; accepted: () => number; closed: () => number }> {
  let opened = 0;
  let closed = 0;
  const port = await listen(
    createTcpServer((sock) => {
      opened++;
      sock.resume(); // read, or the peer's FIN is never seen
      sock.on('close', () => closed++);
    }),
  );
  return { port, accepted: () => opened, closed: () => closed };
}

async function timed<T>(p: Promise<T>): Promise<{ value: T; elapsedMs: number }> {
  const t0 = performance.now();
  const value = await p;
  return { value, elapsedMs: performance.now() - t0 };
}

const settle = (ms = 50) => new Promise((r) => setTimeout(r, ms));

describe('restAnswers', () => {
  it('any HTTP status is an answer: 503 → true, and the path is the member key’s /patroni', async () => {
    const paths: string[] = [];
    const port = await listen(
      createHttpServer((req, res) => {
        paths.push(req.url ?? '');
        res.writeHead(503).end('{"state":"stopping"}');
      }),
    );
    expect(await restAnswers(`http://127.0.0.1:${port}/patroni`, TIMEOUT_MS)).toBe(true);
    expect(await restAnswers(`http://127.0.0.1:${port}`, TIMEOUT_MS)).toBe(true);
    expect(paths).toEqual(['/patroni', '/patroni']);
  });

  it('a status line without a body is enough: the probe does not wait for the body', async () => {
    const port = await listen(
      createHttpServer((_req, res) => {
        res.writeHead(200);
        res.write('{"partial":'); // never ends
      }),
    );
    const { value, elapsedMs } = await timed(restAnswers(`http://127.0.0.1:${port}/patroni`, 2000));
    expect(value).toBe(true);
    expect(elapsedMs).toBeLessThan(1000);
  });

  it('a listener that accepts but never answers HTTP → false at the timeout; the socket is destroyed', async () => {
    const silent = await silentServer();
    const { value, elapsedMs } = await timed(
      restAnswers(`http://127.0.0.1:${silent.port}/patroni`, TIMEOUT_MS),
    );
    expect(value).toBe(false);
    expect(elapsedMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(elapsedMs).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    await settle();
    expect(silent.accepted()).toBe(1);
    expect(silent.closed()).toBe(1);
  });

  it('a closed port → false at once', async () => {
    const port = await closedPort();
    const { value, elapsedMs } = await timed(restAnswers(`http://127.0.0.1:${port}/patroni`, 2000));
    expect(value).toBe(false);
    expect(elapsedMs).toBeLessThan(500);
  });

  it.each(['not a url', 'ftp://127.0.0.1/patroni', ''])(
    'a malformed api_url (%j) → false, no throw',
    async (url) => {
      expect(await restAnswers(url, TIMEOUT_MS)).toBe(false);
    },
  );
});

const haveOpenssl = spawnSync('openssl', ['version']).status === 0;

describe.runIf(haveOpenssl)('restAnswers over https', () => {
  it('a self-signed certificate still counts: liveness, not trust', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hapg-probe-tls-'));
    try {
      const { key, cert } = selfSignedCert(dir, { cn: 'somewhere.else' });
      const port = await listen(createHttpsServer({ key, cert }, (_req, res) => res.writeHead(503).end()));
      expect(await restAnswers(`https://127.0.0.1:${port}/patroni`, 2000)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('https to a listener that never does TLS → false at the timeout', async () => {
    const silent = await silentServer();
    const { value, elapsedMs } = await timed(
      restAnswers(`https://127.0.0.1:${silent.port}/patroni`, TIMEOUT_MS),
    );
    expect(value).toBe(false);
    expect(elapsedMs).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  });
});

describe('portAnswers', () => {
  it('a listening port → true at once; the probe closes its socket', async () => {
    const silent = await silentServer();
    const { value, elapsedMs } = await timed(portAnswers('127.0.0.1', silent.port, TIMEOUT_MS));
    expect(value).toBe(true);
    expect(elapsedMs).toBeLessThan(TIMEOUT_MS);
    await settle();
    expect(silent.closed()).toBe(1);
  });

  it('a closed port → false at once', async () => {
    const port = await closedPort();
    const { value, elapsedMs } = await timed(portAnswers('127.0.0.1', port, 2000));
    expect(value).toBe(false);
    expect(elapsedMs).toBeLessThan(500);
  });

  it.each([0, -1, 70000, Number.NaN])('an impossible port (%d) → false, no throw', async (port) => {
    expect(await portAnswers('127.0.0.1', port, TIMEOUT_MS)).toBe(false);
  });
});
