import { describe, expect, it } from 'vitest';
import { buildApi } from '../src/api/build.js';
import { createMetrics } from '../src/metrics.js';
import { clockAtNow, primaryHealthy } from './api-fixtures.js';
import { apiRig, sendJson, UNSAFE_ENDPOINTS } from './api-rig.js';

const AUTH = { username: 'admin', password: 'secret' };
const BASIC = `Basic ${Buffer.from('admin:secret').toString('base64')}`;
/** within a year of the fixtures' wall clock (2026-01-01): times further out are refused */
const SOON = '2026-06-01T00:00:00Z';

const api = (extra: Partial<Parameters<typeof buildApi>[0]> = {}) => apiRig({ extra });

const send = sendJson;

const ENDPOINTS = UNSAFE_ENDPOINTS;
type Method = (typeof UNSAFE_ENDPOINTS)[number][0];

describe('auth on every action endpoint', () => {
  it.each(ENDPOINTS)('%s %s: 401 without credentials, not 401 with them', async (method, url, body) => {
    const { app } = api({ auth: AUTH });
    const denied = await send(app, method, url, body);
    expect(denied.statusCode).toBe(401);
    expect(denied.headers['www-authenticate']).toBe('Basic realm="hapg"');
    const ok = await send(app, method, url, body, { authorization: BASIC });
    expect(ok.statusCode).not.toBe(401);
  });

  it('allow-list: 403 from an address outside it, before basic auth', async () => {
    const { app } = api({ auth: AUTH, allowlist: ['10.0.0.0/8'] });
    const r = await send(app, 'POST', '/reload', undefined, { authorization: BASIC });
    expect(r.statusCode).toBe(403);
    expect(r.json().error).toMatch(/allowlist/);
    // GETs stay open for load balancers
    expect((await app.inject({ method: 'GET', url: '/primary' })).statusCode).toBe(200);
  });

  it('allow-list: inject comes from 127.0.0.1, which a /32 or a ::ffff-mapped entry admits', async () => {
    for (const allowlist of [['127.0.0.1'], ['127.0.0.0/8', '::1']]) {
      const { app } = api({ allowlist });
      expect((await send(app, 'POST', '/reload')).statusCode).toBe(202);
    }
  });

  it('a malformed allow-list entry fails the build; a host name is an entry', () => {
    expect(() => api({ allowlist: ['10.0.0.0/33'] })).toThrow(/allowlist/);
    expect(() => api({ allowlist: ['db.example.com/24'] })).toThrow(/allowlist/);
    expect(() => api({ allowlist: ['1:2:3'] })).toThrow(/allowlist/);
    expect(() => api({ allowlist: ['db.example.com'] })).not.toThrow();
  });
});

describe('good bodies', () => {
  it('POST /switchover: 202 in progress when the target does not take over in time, key written', async () => {
    const { app, store } = api();
    const r = await send(app, 'POST', '/switchover', { leader: 'node1', candidate: 'node2' });
    expect(r.statusCode).toBe(202);
    expect(r.json()).toMatchObject({ status: 'in progress', candidate: 'node2' });
    expect(store.current.failover).toMatchObject({ leader: 'node1', member: 'node2' });
  });

  it('POST /switchover scheduled: 202; DELETE: 200 then 404', async () => {
    const { app } = api();
    const r = await send(app, 'POST', '/switchover', {
      leader: 'node1',
      scheduled_at: SOON,
    });
    expect(r.statusCode).toBe(202);
    expect(r.json().status).toBe('scheduled');
    expect((await send(app, 'DELETE', '/switchover')).statusCode).toBe(200);
    expect((await send(app, 'DELETE', '/switchover')).statusCode).toBe(404);
  });

  it('POST /switchover 412 carries the code and reason', async () => {
    const { app } = api();
    const r = await send(app, 'POST', '/switchover', { leader: 'node2', candidate: 'node3' });
    expect(r.statusCode).toBe(412);
    expect(r.json()).toMatchObject({
      code: 'NOT_THE_LEADER',
      error: expect.stringMatching(/leader is node1/),
    });
  });

  it('POST /failover: scheduled is 400', async () => {
    const { app } = api();
    const r = await send(app, 'POST', '/failover', {
      candidate: 'node2',
      scheduled_at: SOON,
    });
    expect(r.statusCode).toBe(400);
    expect(r.json().code).toBe('FAILOVER_CANNOT_BE_SCHEDULED');
  });

  it('POST /restart parses the filters for the agent', async () => {
    const { app, calls } = api();
    const r = await send(app, 'POST', '/restart', {
      restart_pending: true,
      role: 'master',
      postgres_version: '15.4',
      timeout: '2min',
      schedule: '2026-06-01T00:00:00+01:00',
    });
    expect(r.statusCode).toBe(200);
    expect(calls).toEqual([
      {
        restartPending: true,
        role: 'primary',
        postgresVersion: '15.4',
        timeoutMs: 120_000,
        scheduleAtMs: Date.parse('2026-05-31T23:00:00Z'),
      },
    ]);
  });

  it('POST /restart and /reinitialize accept no body at all', async () => {
    const { app, calls } = api();
    expect((await send(app, 'POST', '/restart')).statusCode).toBe(200);
    expect((await send(app, 'POST', '/reinitialize')).statusCode).toBe(503);
    expect(calls).toEqual([
      { restartPending: false, role: null, postgresVersion: null, timeoutMs: null, scheduleAtMs: null },
      { force: false },
    ]);
  });

  it.each(['/restart', '/reinitialize'])(
    'POST %s with a JSON null body is a 400, not an action',
    async (url) => {
      const { app, calls } = api();
      const r = await app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json' },
        payload: 'null',
      });
      expect(r.statusCode).toBe(400);
      expect(r.json().error).toMatch(/object/);
      expect(calls).toEqual([]);
    },
  );

  it('POST /restart: a bare hour offset is read as such; more than 366 days ahead is refused (issue 11)', async () => {
    const { app, calls } = api();
    expect((await send(app, 'POST', '/restart', { schedule: '2026-03-01T00:00+01' })).statusCode).toBe(200);
    expect(calls).toEqual([expect.objectContaining({ scheduleAtMs: Date.parse('2026-02-28T23:00:00Z') })]);
    const far = await send(app, 'POST', '/restart', { schedule: '2030-01-01T00:00:00Z' });
    expect(far.statusCode).toBe(400);
    expect(far.json().error).toMatch(/more than 366 days ahead/);
    expect(calls).toHaveLength(1);
  });

  it('POST /switchover: scheduled_at with a bare hour offset is stored in UTC, so it runs (issue 11)', async () => {
    const { app, store } = api();
    const r = await send(app, 'POST', '/switchover', {
      leader: 'node1',
      scheduled_at: '2026-03-01T00:00+00',
    });
    expect(r.statusCode).toBe(202);
    expect(store.current.failover?.scheduledAt).toBe('2026-03-01T00:00:00.000Z');
  });

  it('POST /reload answers what the reload did; with no answer, 202 "reload scheduled"', async () => {
    const refused = { status: 422, body: { code: 'CONFIG_INVALID', error: 'node.yaml:3:8: scope: …' } };
    const { app } = api({ actions: { reload: () => refused } });
    const r = await send(app, 'POST', '/reload');
    expect(r.statusCode).toBe(422);
    expect(r.json()).toEqual(refused.body);
    const { app: plain } = api({ actions: { reload: () => undefined } });
    expect((await send(plain, 'POST', '/reload')).json()).toEqual({ message: 'reload scheduled' });
  });

  it('DELETE /restart passes the agent answer through', async () => {
    expect((await send(api().app, 'DELETE', '/restart')).statusCode).toBe(404);
  });

  it('PATCH /config returns the merged config; an invalid result is 400', async () => {
    const { app } = api();
    const r = await send(app, 'PATCH', '/config', { pause: true });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ ttl: 30, loop_wait: 10, pause: true });
    const bad = await send(app, 'PATCH', '/config', { loop_wait: 40 });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatch(/ttl/);
  });

  it('endpoints without an implementation answer 503', async () => {
    const clock = clockAtNow();
    const app = buildApi({
      snapshot: () => primaryHealthy,
      metrics: createMetrics({ processMetrics: false, clock }),
      actions: { reload: () => undefined },
    });
    // POST /failsafe without failsafe answers as Patroni does with the mode off: 502
    for (const [method, url, body] of ENDPOINTS.filter(([, u]) => u !== '/reload' && u !== '/failsafe')) {
      expect((await send(app, method, url, body)).statusCode, `${method} ${url}`).toBe(503);
    }
  });
});

describe('malformed bodies → 400 naming the field', () => {
  const rows: [string, Method, string, string | unknown, RegExp][] = [
    ['switchover: empty body', 'POST', '/switchover', '', /empty|body/i],
    ['switchover: not JSON', 'POST', '/switchover', '{leader: node1', /JSON/],
    ['switchover: array', 'POST', '/switchover', [], /body: must be object/],
    ['switchover: missing leader', 'POST', '/switchover', { candidate: 'node2' }, /leader: required/],
    ['switchover: leader a number', 'POST', '/switchover', { leader: 1 }, /leader: must be string/],
    ['switchover: empty leader', 'POST', '/switchover', { leader: '' }, /leader:/],
    [
      'switchover: candidate with a slash',
      'POST',
      '/switchover',
      { leader: 'node1', candidate: 'a/b' },
      /candidate:.*pattern/,
    ],
    [
      'switchover: candidate with a space',
      'POST',
      '/switchover',
      { leader: 'node1', candidate: 'node 2' },
      /candidate:/,
    ],
    [
      'switchover: candidate an object',
      'POST',
      '/switchover',
      { leader: 'node1', candidate: {} },
      /candidate: must be string/,
    ],
    [
      'switchover: misspelt field',
      'POST',
      '/switchover',
      { leader: 'node1', canidate: 'node2' },
      /unknown field "canidate"/,
    ],
    [
      'switchover: bad ISO time',
      'POST',
      '/switchover',
      { leader: 'node1', scheduled_at: '1 Jan 2099' },
      /scheduled_at:/,
    ],
    [
      'switchover: time without zone',
      'POST',
      '/switchover',
      { leader: 'node1', scheduled_at: '2099-01-01T00:00:00' },
      /scheduled_at:/,
    ],
    [
      'switchover: scheduled in the past',
      'POST',
      '/switchover',
      { leader: 'node1', scheduled_at: '2000-01-01T00:00:00Z' },
      /scheduled_at:.*past/,
    ],
    ['failover: missing candidate', 'POST', '/failover', { leader: 'node1' }, /candidate: required/],
    ['failover: candidate a boolean', 'POST', '/failover', { candidate: true }, /candidate: must be string/],
    ['restart: negative timeout', 'POST', '/restart', { timeout: -5 }, /timeout:/],
    ['restart: timeout text', 'POST', '/restart', { timeout: 'soon' }, /timeout:/],
    ['restart: timeout a numeric string is not coerced', 'POST', '/restart', { timeout: '30x' }, /timeout:/],
    ['restart: unknown role', 'POST', '/restart', { role: 'leader' }, /role: must be one of/],
    [
      'restart: restart_pending a string',
      'POST',
      '/restart',
      { restart_pending: 'yes' },
      /restart_pending: must be boolean/,
    ],
    ['restart: bad version', 'POST', '/restart', { postgres_version: 'fifteen' }, /postgres_version:/],
    [
      'restart: schedule in the past',
      'POST',
      '/restart',
      { schedule: '2000-01-01T00:00:00Z' },
      /schedule:.*past/,
    ],
    ['restart: schedule without zone', 'POST', '/restart', { schedule: '2099-01-01 00:00' }, /schedule:/],
    [
      'restart: extra field',
      'POST',
      '/restart',
      { restart_pending: true, force: true },
      /unknown field "force"/,
    ],
    ['reinitialize: force a string', 'POST', '/reinitialize', { force: 'true' }, /force: must be boolean/],
    ['config PATCH: a list', 'PATCH', '/config', [1, 2], /body: must be object/],
    ['config PUT: a string', 'PUT', '/config', '"ttl"', /body: must be object/],
    ['config PATCH: not JSON', 'PATCH', '/config', '{"ttl": 30,', /JSON/],
  ];
  it.each(rows)('%s', async (_name, method, url, body, reason) => {
    const { app, store, calls } = api();
    const r = await send(app, method, url, typeof body === 'string' ? body : JSON.stringify(body));
    expect(r.statusCode).toBe(400);
    expect(r.json().error).toMatch(reason);
    expect(store.writes).toEqual([]);
    expect(calls).toEqual([]);
  });
});

describe('routing', () => {
  it('405 with Allow for a wrong method on an action path, 404 for an unknown path', async () => {
    const { app } = api();
    const r = await app.inject({ method: 'GET', url: '/switchover' });
    expect(r.statusCode).toBe(405);
    expect(r.headers.allow).toBe('DELETE, POST');
    expect((await app.inject({ method: 'POST', url: '/switchoverr' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'PUT', url: '/reload' })).statusCode).toBe(405);
  });
});

describe('GET /openapi.json', () => {
  it('documents every action and role endpoint with the body schemas', async () => {
    const { app } = api({ auth: AUTH });
    const r = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(r.statusCode).toBe(200);
    const doc = r.json();
    expect(doc.openapi).toMatch(/^3\./);
    type Op = {
      requestBody: { content: Record<string, { schema: { required: string[] } }> };
      responses: Record<string, unknown>;
    };
    const paths = doc.paths as Record<string, Record<string, Op>>;
    for (const [method, url] of ENDPOINTS)
      expect(paths[url]?.[method.toLowerCase()], `${method} ${url}`).toBeDefined();
    for (const url of ['/primary', '/replica', '/patroni', '/cluster', '/config', '/metrics'])
      expect(paths[url]).toBeDefined();
    const sw = paths['/switchover']!.post!;
    expect(sw.requestBody.content['application/json']?.schema.required).toEqual(['leader']);
    expect(Object.keys(sw.responses)).toEqual(
      expect.arrayContaining(['200', '202', '400', '401', '403', '412', '503']),
    );
  });
});
