import { beforeEach, describe, expect, it } from 'vitest';
import { viewOf } from './cluster-ops-fixtures.js';
import { apiRig } from './api-rig.js';

/**
 * Patroni's API reads a body as JSON whatever its Content-Type says; Debian's patronictl
 * 3.0.2 sends none (issue 14 #7, stack notes #21). Every action endpoint, every header.
 */

type Method = 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** header value to send; null: no Content-Type header at all */
const CONTENT_TYPES: (string | null)[] = [
  null,
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'text/plain; charset=utf-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'nonsense', // not even a media type: fastify answered 415 before any parser
  '',
];

function inject(
  app: ReturnType<typeof apiRig>['app'],
  method: Method,
  url: string,
  contentType: string | null,
  payload?: string,
) {
  return app.inject({
    method,
    url,
    headers: contentType === null ? {} : { 'content-type': contentType },
    ...(payload === undefined ? {} : { payload }),
  });
}

const label = (ct: string | null) => (ct === null ? '(no Content-Type)' : JSON.stringify(ct));

describe.each(CONTENT_TYPES.map((ct) => [label(ct), ct] as const))('Content-Type %s', (_label, ct) => {
  // one API per header (building one compiles every schema); the fake etcd and the calls reset
  const rig = apiRig({ reinitializeStatus: 200 });
  beforeEach(() => {
    rig.store.set(viewOf());
    rig.store.writes.length = 0;
    rig.calls.length = 0;
  });
  it('POST /switchover: the body is read, the failover key written', async () => {
    const { app, store } = rig;
    const r = await inject(app, 'POST', '/switchover', ct, '{"leader":"node1","candidate":"node2"}');
    expect(r.statusCode, r.body).toBe(202);
    expect(r.json()).toMatchObject({ status: 'in progress', candidate: 'node2' });
    expect(store.current.failover).toMatchObject({ leader: 'node1', member: 'node2' });
  });

  it('POST /failover: the body is read', async () => {
    const { app, store } = rig;
    const r = await inject(app, 'POST', '/failover', ct, '{"candidate":"node2"}');
    expect(r.statusCode, r.body).toBe(202);
    expect(store.current.failover).toMatchObject({ member: 'node2' });
  });

  it('POST /restart: the body is read (patronictl restart --force sends {"restart_pending": false} etc.)', async () => {
    const { app, calls } = rig;
    const r = await inject(app, 'POST', '/restart', ct, '{"restart_pending":true,"role":"master"}');
    expect(r.statusCode, r.body).toBe(200);
    expect(calls).toEqual([
      { restartPending: true, role: 'primary', postgresVersion: null, timeoutMs: null, scheduleAtMs: null },
    ]);
  });

  it('POST /restart and /reinitialize: an empty body is no options, as in Patroni', async () => {
    const { app, calls } = rig;
    expect((await inject(app, 'POST', '/restart', ct, '')).statusCode).toBe(200);
    expect((await inject(app, 'POST', '/reinitialize', ct, '')).statusCode).toBe(200);
    expect(calls).toEqual([
      { restartPending: false, role: null, postgresVersion: null, timeoutMs: null, scheduleAtMs: null },
      { force: false },
    ]);
  });

  it('POST /reinitialize: the body is read', async () => {
    const { app, calls } = rig;
    const r = await inject(app, 'POST', '/reinitialize', ct, '{"force":true}');
    expect(r.statusCode, r.body).toBe(200);
    expect(calls).toEqual([{ force: true }]);
  });

  it('PATCH and PUT /config: the body is read', async () => {
    const { app, store } = rig;
    const patched = await inject(app, 'PATCH', '/config', ct, '{"pause":true}');
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json()).toEqual({ ttl: 30, loop_wait: 10, pause: true });
    const put = await inject(app, 'PUT', '/config', ct, '{"ttl":20,"loop_wait":5}');
    expect(put.statusCode, put.body).toBe(200);
    expect(store.current.config?.value).toEqual({ ttl: 20, loop_wait: 5 });
  });

  it('POST /reload, DELETE /switchover and /restart: a body (JSON or not) is no reason to refuse', async () => {
    const { app, calls } = rig;
    expect((await inject(app, 'POST', '/reload', ct, '{}')).statusCode).toBe(202);
    expect(calls).toEqual(['reload']);
    expect((await inject(app, 'DELETE', '/switchover', ct, '{}')).statusCode).toBe(404);
    expect((await inject(app, 'DELETE', '/restart', ct, '{}')).statusCode).toBe(404);
  });

  it.each([
    ['POST', '/switchover'],
    ['POST', '/failover'],
    ['POST', '/restart'],
    ['POST', '/reinitialize'],
    ['PATCH', '/config'],
    ['PUT', '/config'],
  ] as [Method, string][])(
    '%s %s: a body that is not JSON is a 400 saying so, and nothing is done',
    async (method, url) => {
      const { app, store, calls } = rig;
      for (const payload of ['leader=node1&candidate=node2', '{"leader": "node1"', 'node1']) {
        const r = await inject(app, method, url, ct, payload);
        expect(r.statusCode, `${payload} → ${r.body}`).toBe(400);
        expect(r.json().error).toMatch(/^body is not JSON: /);
      }
      expect(store.writes).toEqual([]);
      expect(calls).toEqual([]);
    },
  );

  it('a __proto__ key is refused with its reason', async () => {
    const { app, store } = rig;
    const r = await inject(app, 'PATCH', '/config', ct, '{"__proto__":{"pause":true}}');
    expect(r.statusCode).toBe(400);
    expect(r.json().error).toMatch(/__proto__/);
    expect(store.writes).toEqual([]);
  });

  it('an empty body where one is required is a 400 naming the body', async () => {
    const { app, store } = rig;
    for (const [method, url] of [
      ['POST', '/switchover'],
      ['POST', '/failover'],
      ['PATCH', '/config'],
    ] as [Method, string][]) {
      const r = await inject(app, method, url, ct, '');
      expect(r.statusCode, `${method} ${url} → ${r.body}`).toBe(400);
      expect(r.json().error).toMatch(/body/);
    }
    expect(store.writes).toEqual([]);
  });

  it('the size limit stays: a body over 1 MiB is a 413', async () => {
    const { app, store } = rig;
    const big = JSON.stringify({ leader: 'node1', candidate: 'node2', pad: 'x'.repeat(1024 * 1024) });
    const r = await inject(app, 'POST', '/switchover', ct, big);
    expect(r.statusCode).toBe(413);
    expect(typeof r.json().error).toBe('string');
    expect(store.writes).toEqual([]);
  });
});

describe('JSON bodies without Content-Type, as patronictl 3.0.2 sends them', () => {
  it('chunked (no Content-Length) is read too', async () => {
    const { app, store } = apiRig();
    const { Readable } = await import('node:stream');
    const r = await app.inject({
      method: 'POST',
      url: '/switchover',
      headers: { 'transfer-encoding': 'chunked' },
      payload: Readable.from([Buffer.from('{"leader":"node1",'), Buffer.from('"candidate":"node2"}')]),
    });
    expect(r.statusCode, r.body).toBe(202);
    expect(store.current.failover).toMatchObject({ leader: 'node1', member: 'node2' });
  });

  it('no body and no header on an optional-body endpoint acts with no options', async () => {
    const { app, calls } = apiRig();
    expect((await app.inject({ method: 'POST', url: '/restart' })).statusCode).toBe(200);
    expect(calls).toHaveLength(1);
  });
});
