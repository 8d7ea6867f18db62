import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { primaryHealthy, snapshots } from './api-fixtures.js';
import { viewOf } from './cluster-ops-fixtures.js';
import { apiRig } from './api-rig.js';

/**
 * Hostile and careless input at the REST gateway (issue 11), generated: every request gets
 * a 2xx it deserved or a 4xx that says why — never a 5xx, never a crash — and a refused
 * request changes nothing: no etcd write, no local action.
 */

const RUNS = Number(process.env.HAPG_FUZZ_RUNS ?? 250);

/** How many requests each property sent: the note quotes these. */
const sent: Record<string, number> = {};

function rig() {
  let snapshot = primaryHealthy;
  const { app, store, calls } = apiRig({
    snapshot: () => snapshot,
    reinitializeStatus: 200,
    clusterOps: { switchWaitMs: () => 5 },
  });
  return {
    app,
    store,
    calls,
    reset() {
      store.set(viewOf());
      calls.length = 0;
    },
    asReplica() {
      snapshot = snapshots.replicaStreaming;
    },
  };
}

/** JSON values of every shape, strings with control characters and lookalikes included. */
const nasty = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom(
    '',
    ' ',
    '\n',
    'null',
    '__proto__',
    'constructor',
    '8MB\nfsync = off',
    '2030-01-01T00:00+01',
    '2026-01-01T01:00:00',
    '2026-02-30T00:00:00Z',
    '1e309',
    '-1',
    'x'.repeat(5000),
  ),
  fc.integer(),
  fc.double(),
  fc.constant(null),
  fc.boolean(),
);

/** Bodies that look like what the endpoint expects, with each field's value drawn from `nasty`. */
const shaped = (fields: readonly string[]) =>
  fc.dictionary(fc.constantFrom(...fields, 'extra', '__proto__'), nasty, { maxKeys: fields.length + 1 });

const times = fc.oneof(
  fc
    .date({
      min: new Date('2025-01-01T00:00:00Z'),
      max: new Date('2031-01-01T00:00:00Z'),
      noInvalidDate: true,
    })
    .map((d) => d.toISOString()),
  fc.constantFrom(
    '2026-03-01T00:00+01',
    '2026-03-01 00:00:00+0100',
    '2026-03-01T00:00:00',
    '2026-06-31T00:00:00Z',
  ),
);

interface Case {
  readonly method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly url: string;
  /** a JSON value to send, or raw text (not necessarily JSON) */
  readonly body: { readonly json: unknown } | { readonly raw: string } | null;
}

/**
 * The Content-Type a body goes with, in turn: bodies are read as JSON whatever it says
 * (Patroni's clients send none, issue 14 #7), so the same rules hold under each.
 */
const CONTENT_TYPES: readonly (string | null)[] = [
  'application/json',
  null,
  'text/plain',
  'application/x-www-form-urlencoded',
];

async function check(r: ReturnType<typeof rig>, c: Case, key: string) {
  sent[key] = (sent[key] ?? 0) + 1;
  r.reset();
  const before = JSON.stringify(r.store.current);
  const contentType = c.body === null ? null : CONTENT_TYPES[sent[key] % CONTENT_TYPES.length]!;
  const res = await r.app.inject({
    method: c.method,
    url: c.url,
    headers: contentType === null ? {} : { 'content-type': contentType },
    ...(c.body === null ? {} : { payload: 'raw' in c.body ? c.body.raw : JSON.stringify(c.body.json) }),
  });
  const what = `${c.method} ${c.url} [${contentType ?? 'no Content-Type'}] ${JSON.stringify(c.body)?.slice(0, 300)} → ${res.statusCode} ${res.body.slice(0, 300)}`;
  expect(res.statusCode, what).toBeLessThan(500);
  if (res.statusCode >= 400) {
    const body = res.json() as { error?: unknown };
    expect(typeof body.error === 'string' && body.error.length > 0, `a 4xx says why: ${what}`).toBe(true);
    expect(JSON.stringify(r.store.current), `a refusal changes nothing in etcd: ${what}`).toBe(before);
    expect(r.calls, `a refusal runs nothing: ${what}`).toEqual([]);
  }
}

describe('REST gateway under generated hostile input', () => {
  let r: ReturnType<typeof rig>;
  beforeAll(() => {
    r = rig();
  });
  afterAll(async () => {
    await r.app.close();
    console.log(`hostile REST inputs tried: ${JSON.stringify(sent)}`);
  });

  it('switchover and failover bodies', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/switchover', '/failover'),
        fc.oneof(
          shaped(['leader', 'candidate', 'scheduled_at']),
          fc.record({ leader: fc.constantFrom('node1', 'node2'), scheduled_at: times }),
          nasty,
        ),
        async (url, json) => check(r, { method: 'POST', url, body: { json } }, 'switchover/failover'),
      ),
      { numRuns: RUNS },
    );
  });

  it('restart and reinitialize bodies', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/restart', '/reinitialize'),
        fc.oneof(
          shaped(['restart_pending', 'role', 'postgres_version', 'timeout', 'schedule', 'force']),
          fc.record({ schedule: times }),
          nasty,
        ),
        async (url, json) => check(r, { method: 'POST', url, body: { json } }, 'restart/reinitialize'),
      ),
      { numRuns: RUNS },
    );
  });

  it('dynamic config documents (PATCH and PUT /config)', async () => {
    const sections = fc.dictionary(
      fc.constantFrom(
        'ttl',
        'loop_wait',
        'retry_timeout',
        'maximum_lag_on_failover',
        'synchronous_mode',
        'synchronous_node_count',
        'primary_isolation_timeout',
        'pause',
        'postgresql',
        'slots',
        'failsafe_mode',
        'unknown_key',
      ),
      fc.oneof(nasty, fc.dictionary(fc.constantFrom('parameters', 'use_slots', 'pg_hba', 'x'), nasty)),
      { maxKeys: 4 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('PATCH', 'PUT') as fc.Arbitrary<'PATCH' | 'PUT'>,
        fc.oneof(sections, nasty),
        async (method, json) => check(r, { method, url: '/config', body: { json } }, 'config'),
      ),
      { numRuns: RUNS },
    );
  });

  it('a parameter value with a control character is refused, never stored (issue 11 #1)', async () => {
    const control = fc
      .tuple(fc.string({ maxLength: 8 }), fc.integer({ min: 0, max: 31 }), fc.string({ maxLength: 8 }))
      .map(([a, c, b]) => `${a}${String.fromCharCode(c)}${b}`);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('PATCH', 'PUT') as fc.Arbitrary<'PATCH' | 'PUT'>,
        control,
        async (method, value) => {
          sent['control characters'] = (sent['control characters'] ?? 0) + 1;
          r.reset();
          const before = JSON.stringify(r.store.current);
          const res = await r.app.inject({
            method,
            url: '/config',
            headers: { 'content-type': 'application/json' },
            payload: JSON.stringify({ ttl: 30, postgresql: { parameters: { work_mem: value } } }),
          });
          expect(res.statusCode).toBe(400);
          expect(res.json().error).toMatch(/work_mem/);
          expect(JSON.stringify(r.store.current)).toBe(before);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('raw payloads that are not JSON, or JSON of the wrong kind', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          ['POST', '/switchover'],
          ['POST', '/restart'],
          ['POST', '/reinitialize'],
          ['PATCH', '/config'],
          ['PUT', '/config'],
        ) as fc.Arbitrary<[Case['method'], string]>,
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.constantFrom(
            '{',
            '{"a":',
            '[]',
            'null',
            '"x"',
            '1',
            'true',
            `${'['.repeat(2000)}${']'.repeat(2000)}`,
            // issue 11: 5 000 levels gave 503 "Maximum call stack size exceeded"
            `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`,
            `{"postgresql":{"parameters":${'{"a":'.repeat(100)}1${'}'.repeat(100)}}}`,
          ),
        ),
        async ([method, url], raw) => check(r, { method, url, body: { raw } }, 'raw payloads'),
      ),
      { numRuns: RUNS },
    );
  });

  it('role endpoints and their query strings', async () => {
    const query = fc.array(
      fc.tuple(
        fc.oneof(
          fc.constantFrom(
            'lag',
            'mode',
            'tag_zone',
            'tag___proto__',
            'tag_constructor',
            'tag_',
            'replication_state',
          ),
          fc.string({ maxLength: 12 }),
        ),
        fc.oneof(
          fc.string({ maxLength: 20 }),
          fc.constantFrom('1MB', '-1', '1e999', 'NaN', 'apply', 'write'),
        ),
      ),
      { maxLength: 4 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          '/primary',
          '/replica',
          '/read-only',
          '/health',
          '/liveness',
          '/readiness',
          '/sync',
          '/async',
          '/standby-leader',
          '/patroni',
          '/cluster',
          '/history',
        ),
        query,
        async (path, pairs) => {
          sent['role endpoints'] = (sent['role endpoints'] ?? 0) + 1;
          const qs = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
          const url = qs === '' ? path : `${path}?${qs}`;
          const res = await r.app.inject({ method: 'GET', url });
          // role endpoints answer 503 for "not this role" by contract; a crash is a 500
          expect(res.statusCode, `${url} → ${res.body.slice(0, 200)}`).not.toBe(500);
          expect([200, 400, 404, 503]).toContain(res.statusCode);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('on a replica too (another snapshot, the same rules)', async () => {
    r.asReplica();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/restart', '/reinitialize', '/switchover'),
        nasty,
        async (url, json) => check(r, { method: 'POST', url, body: { json } }, 'replica actions'),
      ),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });
});
