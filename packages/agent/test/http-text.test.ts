import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpText } from '../src/http-text.js';

describe('httpText (peer requests without undici)', () => {
  let server: Server;
  let base: string;
  const seen: { method?: string; body: string; headers: Record<string, unknown> }[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        seen.push({
          ...(req.method === undefined ? {} : { method: req.method }),
          body,
          headers: req.headers,
        });
        if (req.url === '/stall') return; // never answers
        if (req.url === '/trickle') {
          res.writeHead(200);
          res.write('{"partial":');
          return; // never ends
        }
        if (req.url === '/huge') {
          res.writeHead(200);
          res.end(Buffer.alloc(2 << 20, 0x61));
          return;
        }
        res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'text/plain' });
        res.end(req.method === 'POST' ? `got ${body}` : 'hello');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('answers the status and the body of a GET and a POST, with its headers and length', async () => {
    expect(await httpText(`${base}/x`, { timeoutMs: 1000 })).toEqual({ status: 200, text: 'hello' });
    expect(await httpText(`${base}/missing`, { timeoutMs: 1000 })).toEqual({ status: 404, text: 'hello' });
    const posted = await httpText(new URL('/failsafe', base), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic eDp5' },
      body: '{"name":"é"}',
      timeoutMs: 1000,
    });
    expect(posted).toEqual({ status: 200, text: 'got {"name":"é"}' });
    const last = seen.at(-1)!;
    expect(last.method).toBe('POST');
    expect(last.headers.authorization).toBe('Basic eDp5');
    expect(last.headers['content-length']).toBe(String(Buffer.byteLength('{"name":"é"}')));
  });

  it('rejects a peer that does not answer, or trickles, within the deadline', async () => {
    const t0 = Date.now();
    await expect(httpText(`${base}/stall`, { timeoutMs: 150 })).rejects.toThrow(/within 150 ms/);
    await expect(httpText(`${base}/trickle`, { timeoutMs: 150 })).rejects.toThrow(/within 150 ms/);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('rejects an answer over 1 MiB, a refused connection and a URL that is not http(s)', async () => {
    await expect(httpText(`${base}/huge`, { timeoutMs: 2000 })).rejects.toThrow(/over 1048576 bytes/);
    await expect(httpText('http://127.0.0.1:1/', { timeoutMs: 1000 })).rejects.toThrow(/ECONNREFUSED/);
    await expect(httpText('ftp://127.0.0.1/', { timeoutMs: 1000 })).rejects.toThrow(/not an http/);
    await expect(httpText('not a url', { timeoutMs: 1000 })).rejects.toThrow();
  });
});
