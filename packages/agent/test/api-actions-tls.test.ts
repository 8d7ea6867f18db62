import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiTlsOptions, buildApi } from '../src/api/build.js';
import { createMetrics } from '../src/metrics.js';
import { clockAtNow, primaryHealthy } from './api-fixtures.js';

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
interface Pki {
  ca: Buffer;
  serverKey: Buffer;
  serverCert: Buffer;
  clientKey: Buffer;
  clientCert: Buffer;
}

let dir: string;
let pki: Pki;

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function makeCert(name: string, cn: string, extFile: string | null): void {
  openssl([
    'req',
    '-new',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${cn}`,
  ]);
  openssl([
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '1',
    ...(extFile === null ? [] : ['-extfile', extFile]),
  ]);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hapg-tls-'));
  openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=hapg test CA',
  ]);
  execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1\\n" > san.ext'], { cwd: dir });
  makeCert('server', '127.0.0.1', 'san.ext');
  makeCert('client', 'admin', null);
  const read = (f: string) => readFileSync(join(dir, f));
  pki = {
    ca: read('ca.crt'),
    serverKey: read('server.key'),
    serverCert: read('server.crt'),
    clientKey: read('client.key'),
    clientCert: read('client.crt'),
  };
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function listen(
  verifyClient: ApiTlsOptions['verifyClient'],
): Promise<{ app: FastifyInstance; port: number }> {
  const clock = clockAtNow();
  const app = buildApi({
    snapshot: () => primaryHealthy,
    metrics: createMetrics({ processMetrics: false, clock }),
    clock,
    actions: { reload: () => undefined },
    https: { key: pki.serverKey, cert: pki.serverCert, ca: pki.ca, verifyClient },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { app, port: address.port };
}

/** Resolves with the status code, or with the TLS/socket error's code. */
function call(port: number, method: string, path: string, withCert: boolean): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        ca: pki.ca,
        ...(withCert ? { key: pki.clientKey, cert: pki.clientCert } : {}),
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.end();
  });
}

describe('TLS', () => {
  it('verifyClient none: HTTPS without client certificates', async () => {
    const { app, port } = await listen('none');
    try {
      expect(await call(port, 'GET', '/primary', false)).toBe(200);
      expect(await call(port, 'POST', '/reload', false)).toBe(202);
    } finally {
      await app.close();
    }
  });

  it('verifyClient optional: GETs open, unsafe methods need a verified certificate (403)', async () => {
    const { app, port } = await listen('optional');
    try {
      expect(await call(port, 'GET', '/primary', false)).toBe(200);
      expect(await call(port, 'POST', '/reload', false)).toBe(403);
      expect(await call(port, 'POST', '/reload', true)).toBe(202);
    } finally {
      await app.close();
    }
  });

  it('verifyClient required: the handshake refuses a client without a certificate', async () => {
    const { app, port } = await listen('required');
    try {
      const without = await call(port, 'GET', '/primary', false);
      expect(typeof without).toBe('string'); // a TLS/socket error code, not an HTTP status
      expect(await call(port, 'GET', '/primary', true)).toBe(200);
      expect(await call(port, 'POST', '/reload', true)).toBe(202);
    } finally {
      await app.close();
    }
  });
});
