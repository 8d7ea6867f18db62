import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseQueryString } from 'node:querystring';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../src/api/build.js';
import { REASON_HEADER, ROLE_ENDPOINTS, roleAnswerer, roleFastPath } from '../src/api/role-routes.js';
import type { NodeSnapshot } from '../src/api/snapshot.js';
import { createMetrics } from '../src/metrics.js';
import { clockAtNow, primaryHealthy, type SnapshotName, snapshots } from './api-fixtures.js';

/**
 * Role endpoints are answered over HTTP by the fast path in front of fastify; `inject()` goes
 * through fastify's route. Both must answer every request alike, and whatever the fast path
 * does not recognise must reach fastify.
 */
describe('role endpoints: the fast path answers as the fastify route does', () => {
  let current: NodeSnapshot = primaryHealthy;
  const clock = clockAtNow();
  const app = buildApi({
    snapshot: () => current,
    metrics: createMetrics({ processMetrics: false, clock }),
    clock,
  });
  let base = '';
  beforeAll(async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(() => app.close());

  const QUERIES = [
    '',
    '?lag=10MB',
    '?lag=abc',
    '?tag_zone=a',
    '?replication_state=streaming',
    '?lag=1&lag=2',
    '?mode=write',
  ];
  const SNAPSHOTS: SnapshotName[] = [
    'primaryHealthy',
    'primaryLeaseExpired',
    'replicaLagging',
    'syncStandby',
    'standbyLeader',
  ];
  const seen = (status: number, headers: Record<string, unknown>, body: string) => ({
    status,
    reason: headers[REASON_HEADER] ?? null,
    type: headers['content-type'] ?? null,
    body,
  });

  it.each(SNAPSHOTS)('every path, method and filter on %s', async (name) => {
    current = snapshots[name];
    for (const path of [...Object.keys(ROLE_ENDPOINTS), '/replica/']) {
      for (const method of ['GET', 'HEAD', 'OPTIONS'] as const) {
        for (const q of QUERIES) {
          const viaRoute = await app.inject({ method, url: `${path}${q}` });
          const res = await fetch(`${base}${path}${q}`, { method });
          const viaHttp = seen(res.status, Object.fromEntries(res.headers), await res.text());
          expect(viaHttp, `${method} ${path}${q}`).toEqual(
            seen(viaRoute.statusCode, viaRoute.headers, viaRoute.body),
          );
        }
      }
    }
  });

  it('leaves other requests to fastify: unknown paths, other methods, bodies, encoded paths', async () => {
    current = primaryHealthy;
    const cases: [string, string, string | undefined][] = [
      ['GET', '/nope', undefined],
      ['POST', '/primary', '{}'],
      ['DELETE', '/replica', undefined],
      ['GET', '/prim%61ry', undefined],
      ['GET', '/patroni', undefined],
      ['GET', '/__proto__', undefined],
      ['GET', '/constructor', undefined],
    ];
    for (const [method, url, body] of cases) {
      const viaRoute = await app.inject({
        method: method as 'GET',
        url,
        ...(body === undefined ? {} : { payload: body }),
      });
      const res = await fetch(`${base}${url}`, { method, ...(body === undefined ? {} : { body }) });
      expect(res.status, `${method} ${url}`).toBe(viaRoute.statusCode);
      expect(await res.text(), `${method} ${url}`).toBe(viaRoute.body);
    }
  });

  it('takes role requests without a body and only those', () => {
    const answer = roleAnswerer({ snapshot: () => primaryHealthy, clock });
    const fast = roleFastPath(answer, parseQueryString);
    const written: unknown[] = [];
    const res = {
      writeHead: (status: number, headers: unknown) => written.push(status, headers),
      end: (body: unknown) => written.push(body),
    } as unknown as ServerResponse;
    const req = (method: string, url: string, headers: Record<string, string> = {}) =>
      ({ method, url, headers }) as unknown as IncomingMessage;
    expect(fast(req('GET', '/primary?lag=1MB'), res)).toBe(true);
    expect(written[0]).toBe(200);
    expect(fast(req('HEAD', '/replica'), res)).toBe(true);
    for (const r of [
      req('POST', '/primary'),
      req('GET', '/patroni'),
      req('GET', '/primary', { 'content-length': '2' }),
      req('GET', '/primary', { 'transfer-encoding': 'chunked' }),
      req('GET', '/hasOwnProperty'),
      req('GET', '//primary'),
    ])
      expect(fast(r, res), `${r.method} ${r.url} ${JSON.stringify(r.headers)}`).toBe(false);
    const throwing = roleFastPath(() => {
      throw new Error('boom');
    }, parseQueryString);
    expect(throwing(req('GET', '/primary'), res)).toBe(false);
  });
});
