import { selfSignedCert } from './self-signed.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { buildApi } from '../src/api/build.js';
import { createMetrics } from '../src/metrics.js';
import { describe, expect, it } from 'vitest';
import type { ClusterMemberSnapshot, NodeSnapshot } from '../src/api/snapshot.js';
import { EventJournal } from '../src/events/index.js';
import {
  buildUiState,
  LagClock,
  parsePeerReport,
  REDACTED,
  redactSecrets,
  redactText,
  sseComment,
  sseFrame,
  UiHub,
  type UiState,
  uiUrlOf,
} from '../src/ui/index.js';
import { clockAtNow, NOW_MS, primaryHealthy } from './api-fixtures.js';
import { apiRig } from './api-rig.js';
import { viewOf } from './cluster-ops-fixtures.js';

const member = (name: string, o: Partial<ClusterMemberSnapshot> = {}): ClusterMemberSnapshot => ({
  name,
  role: 'replica',
  state: 'streaming',
  apiUrl: `http://127.0.0.1:80${name.slice(-1)}/patroni`,
  host: '127.0.0.1',
  port: 5432,
  timeline: 3,
  tags: {},
  pendingRestart: false,
  lagBytes: 0,
  lsnBytes: 50_000,
  receiveLagBytes: 0,
  receiveLsnBytes: 50_000,
  replayLagBytes: 0,
  replayLsnBytes: 50_000,
  failoverEligible: true,
  failoverReasonCode: null,
  failoverReason: 'eligible',
  ...o,
});

const snapshot: NodeSnapshot = {
  ...primaryHealthy,
  syncStandbys: ['node2'],
  members: [
    member('node1', { role: 'leader', state: 'running', lagBytes: null }),
    member('node2', { role: 'sync_standby', lsnBytes: 40_000, lagBytes: 10_000 }),
    member('node3', {
      tags: { nofailover: true, password: 'hunter2' },
      failoverEligible: false,
      failoverReasonCode: 'NOFAILOVER',
      failoverReason: 'tagged nofailover',
    }),
  ],
  history: [
    { timeline: 2, switchLsn: 1000, reason: 'failover', time: '2026-01-01T00:00:00Z', newLeader: 'node1' },
  ],
};

describe('SSE framing', () => {
  it('one data line per payload line, then a blank line', () => {
    expect(sseFrame({ event: 'state', data: '{"a":1}' })).toBe('event: state\ndata: {"a":1}\n\n');
    expect(sseFrame({ data: 'a\nb\r\nc\rd' })).toBe('data: a\ndata: b\ndata: c\ndata: d\n\n');
    expect(sseFrame({ id: '7', retryMs: 1500.7, data: '' })).toBe('id: 7\nretry: 1500\ndata: \n\n');
  });
  it('a newline in a field cannot start another field', () => {
    expect(sseFrame({ event: 'x\ndata: evil', data: 'ok' })).toBe('event: x data: evil\ndata: ok\n\n');
    expect(sseComment('keep\nalive')).toBe(': keep alive\n\n');
  });
});

describe('secret redaction', () => {
  it('masks passwords in URLs and libpq strings, and values of secret-named keys', () => {
    expect(redactText('postgres://rep:s3cret@h:5432/db')).toBe(`postgres://rep:${REDACTED}@h:5432/db`);
    expect(redactText("host=h password='a b' user=u")).toBe(`host=h password=${REDACTED} user=u`);
    expect(redactText('password=abc sslpassword=x')).toBe(`password=${REDACTED} sslpassword=${REDACTED}`);
    expect(redactText('http://h:8008/patroni')).toBe('http://h:8008/patroni');
    const out = redactSecrets({
      tags: { zone: 'a', password: 'x', api_token: 'y', nested: [{ secret: 1, conn: 'u:p@h' }] },
      authentication: { username: 'u', password: 'p' },
      reason: 'primary_conninfo=host=h password=pw',
    });
    expect(out).toEqual({
      tags: {
        zone: 'a',
        password: REDACTED,
        api_token: REDACTED,
        nested: [{ secret: REDACTED, conn: 'u:p@h' }],
      },
      authentication: REDACTED,
      reason: `primary_conninfo=host=h password=${REDACTED}`,
    });
  });
  it('keeps a __proto__ key as data', () => {
    const hostile = JSON.parse('{"__proto__": {"polluted": true}}');
    const out = redactSecrets(hostile) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('lag in seconds from the leader positions seen', () => {
  it('is the time since the leader first passed the replica position', () => {
    const lag = new LagClock();
    lag.record({ wallMs: 1000, lsnBytes: 100 });
    lag.record({ wallMs: 2000, lsnBytes: 200 });
    lag.record({ wallMs: 2500, lsnBytes: 200 }); // a repeat: the position was reached at 2000
    lag.record({ wallMs: 3000, lsnBytes: 300 });
    expect(lag.lagSeconds(300, 4000)).toBe(0);
    expect(lag.lagSeconds(250, 4000)).toBe(1);
    expect(lag.lagSeconds(150, 4000)).toBe(2);
    expect(lag.lagSeconds(50, 4000)).toBeNull(); // before anything seen
    expect(lag.lagSeconds(null, 4000)).toBeNull();
    lag.record({ wallMs: 5000, lsnBytes: 10 }); // another leader, behind: start over
    expect(lag.lagSeconds(5, 6000)).toBeNull();
  });
});

describe('dashboard state', () => {
  const lag = new LagClock();
  const view = viewOf();
  const input = {
    snapshot,
    view,
    events: [] as const,
    wallNowMs: 1_767_225_601_000,
    monotonicNowMs: NOW_MS,
    ownReason: { code: 'LEADER_RENEWED', text: 'renewed the leader lease' },
    peers: new Map([
      ['node2', { reason: { code: 'FOLLOWING', text: 'following node1' }, leaseRemainingMs: null }],
    ]),
    lag,
  };

  it('members with roles, lag, eligibility and their decision reasons; the lease holder and time left', () => {
    const s = buildUiState(input);
    expect(s.members.map((m) => [m.name, m.role, m.decision?.code ?? null])).toEqual([
      ['node1', 'leader', 'LEADER_RENEWED'],
      ['node2', 'sync_standby', 'FOLLOWING'],
      ['node3', 'replica', null],
    ]);
    expect(s.leader).toEqual({ name: 'node1', leaseRemainingMs: 20_000, ttlMs: 30_000 });
    expect(s.syncStandbys).toEqual(['node2']);
    expect(s.fastFailover).toEqual({ state: 'off' });
    const ready = { state: 'ready', leader: 'node1', standbys: ['node2'], releasesNeeded: 0 } as const;
    expect(buildUiState({ ...input, snapshot: { ...snapshot, fastFailover: ready } }).fastFailover).toEqual(
      ready,
    );
    expect(s.members[1]!.lagBytes).toBe(10_000);
    expect(s.members[2]!.failoverReason).toBe('tagged nofailover');
    expect(s.members[0]!.uiUrl).toBe('http://127.0.0.1:801/ui');
    expect(s.history[0]).toMatchObject({ reason: 'failover', newLeader: 'node1' });
    expect(s.dcs).toEqual({ reachable: true, lastSeenMs: 1_767_225_600_000 });
  });

  it('never carries a secret (a tag named password is masked)', () => {
    const s = buildUiState(input);
    expect(s.members[2]!.tags).toEqual({ nofailover: true, password: REDACTED });
    expect(JSON.stringify(s)).not.toContain('hunter2');
  });

  it("a replica's page shows the holder's lease from its own report", () => {
    const s = buildUiState({
      ...input,
      snapshot: { ...snapshot, name: 'node2', holdsLeaderKey: false, leaseDeadlineMs: null },
      peers: new Map([['node1', { reason: null, leaseRemainingMs: 7000 }]]),
    });
    expect(s.leader.leaseRemainingMs).toBe(7000);
  });

  it('the api_url of a member gives its dashboard URL, without credentials', () => {
    expect(uiUrlOf('https://u:p@h:8008/patroni')).toBe('https://h:8008/ui');
    expect(uiUrlOf('not a url')).toBeNull();
  });

  it('a peer report is parsed defensively', () => {
    expect(parsePeerReport({ reason: { code: 'A', text: 'b' }, lease_remaining_ms: 5 })).toEqual({
      reason: { code: 'A', text: 'b' },
      leaseRemainingMs: 5,
    });
    expect(parsePeerReport({ reason: 'x', lease_remaining_ms: -1 })).toEqual({
      reason: null,
      leaseRemainingMs: null,
    });
    expect(parsePeerReport('nope')).toBeNull();
  });
});

describe('hub', () => {
  it('coalesces a burst of changes into one push and stops its timers with the last page', async () => {
    const clock = clockAtNow();
    let changed: (() => void) | null = null;
    const journal = new EventJournal({
      member: 'node1',
      scope: 'demo',
      bootId: 'b0',
      log: { warn: () => {} },
    });
    const hub = new UiHub({
      snapshot: () => snapshot,
      view: () => null,
      onViewChange: (fn) => {
        changed = fn;
        return () => {
          changed = null;
        };
      },
      journal,
      ownReason: () => null,
      clock,
      timing: { minPushIntervalMs: 50, tickMs: 60_000 },
    });
    const pushes: UiState[] = [];
    const unsubscribe = hub.subscribe((s) => pushes.push(s));
    expect(changed).not.toBeNull();
    for (let i = 0; i < 10; i++) changed!();
    journal.emit({ type: 'role_change', reason: { code: 'X', text: 'x' }, newRole: 'primary' });
    await new Promise((r) => setTimeout(r, 30));
    expect(pushes.length).toBe(1);
    expect(pushes[0]!.events.map((e) => e.type)).toEqual(['role_change']);
    unsubscribe();
    expect(changed).toBeNull();
    expect(hub.listeners).toBe(0);
  });
});

describe('routes', () => {
  const auth = { username: 'admin', password: 'topsecret' };
  const rig = () =>
    apiRig({
      snapshot: () => snapshot,
      extra: {
        auth,
        ui: {
          hub: new UiHub({
            snapshot: () => snapshot,
            view: () => null,
            onViewChange: () => () => {},
            ownReason: () => null,
            clock: clockAtNow(),
          }),
          snapshot: () => snapshot,
          ownReason: () => ({ code: 'LEADER_RENEWED', text: 'renewed' }),
          clock: clockAtNow(),
        },
      },
    });

  it('serves the page and its assets with auth configured, like other GETs, with a strict CSP', async () => {
    const { app } = rig();
    const page = await app.inject({ method: 'GET', url: '/ui' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.body).toContain('/ui/app.js');
    expect(page.body).not.toMatch(/https?:\/\//); // nothing from a CDN
    const js = await app.inject({ method: 'GET', url: '/ui/app.js' });
    expect(js.statusCode).toBe(200);
    expect(js.body).toContain("new EventSource('/ui/stream')");
    const again = await app.inject({
      method: 'GET',
      url: '/ui/app.css',
      headers: { 'if-none-match': String((await app.inject({ url: '/ui/app.css' })).headers.etag) },
    });
    expect(again.statusCode).toBe(304);
    expect((await app.inject({ method: 'POST', url: '/ui' })).statusCode).toBe(405);
  });

  it('/ui/state and /ui/reason answer JSON without a secret', async () => {
    const { app } = rig();
    const state = await app.inject({ method: 'GET', url: '/ui/state' });
    expect(state.statusCode).toBe(200);
    expect(state.json().members).toHaveLength(3);
    expect(state.body).not.toContain('hunter2');
    expect(state.body).not.toContain('topsecret');
    const reason = await app.inject({ method: 'GET', url: '/ui/reason' });
    expect(reason.json()).toEqual({
      name: 'node1',
      reason: { code: 'LEADER_RENEWED', text: 'renewed' },
      lease_remaining_ms: 20_000,
    });
  });

  it("closing the API ends open streams (an open tab must not hold up the agent's shutdown)", async () => {
    const { app } = rig();
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as AddressInfo).port;
    const ended = new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/ui/stream' }, (res) => {
        res.resume();
        res.on('end', () => resolve());
        res.on('error', () => resolve());
        void app.close();
      });
      req.on('error', reject);
      req.end();
    });
    await ended;
  });

  it('/ui/stream sends the state at once as an SSE frame', async () => {
    const { app } = rig();
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const port = (app.server.address() as AddressInfo).port;
      const first = await new Promise<{ type: string; text: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/ui/stream' }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => {
            text += c.toString();
            if (text.includes('\n\n')) {
              resolve({ type: String(res.headers['content-type']), text });
              req.destroy();
            }
          });
        });
        req.on('error', reject);
        req.end();
      });
      expect(first.type).toContain('text/event-stream');
      expect(first.text).toMatch(/^event: state\nretry: 1000\ndata: \{/);
      const data = JSON.parse(first.text.split('\n')[2]!.slice('data: '.length)) as UiState;
      expect(data.leader.name).toBe('node1');
    } finally {
      await app.close();
    }
  });
});

describe('over TLS, client certificates optional (GETs stay open without one)', () => {
  it('serves the page and the stream', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hapg-ui-tls-'));
    try {
      const { key, cert } = selfSignedCert(dir, { cn: '127.0.0.1', ip: '127.0.0.1' });
      const clock = clockAtNow();
      const hub = new UiHub({
        snapshot: () => snapshot,
        view: () => null,
        onViewChange: () => () => {},
        ownReason: () => null,
        clock,
      });
      const app = buildApi({
        snapshot: () => snapshot,
        metrics: createMetrics({ processMetrics: false, clock }),
        clock,
        https: { key, cert, verifyClient: 'optional' },
        ui: { hub, snapshot: () => snapshot, ownReason: () => null, clock },
      });
      await app.listen({ host: '127.0.0.1', port: 0 });
      const port = (app.server.address() as AddressInfo).port;
      const firstChunk = (path: string) =>
        new Promise<{ status: number; text: string }>((resolve, reject) => {
          const req = httpsRequest({ host: '127.0.0.1', port, path, ca: cert }, (res) => {
            res.once('data', (c: Buffer) => {
              resolve({ status: res.statusCode ?? 0, text: c.toString() });
              req.destroy();
            });
          });
          req.on('error', reject);
          req.end();
        });
      try {
        expect((await firstChunk('/ui')).status).toBe(200);
        const stream = await firstChunk('/ui/stream');
        expect(stream.status).toBe(200);
        expect(stream.text).toMatch(/^event: state\n/);
      } finally {
        await app.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

it('the embedded assets are up to date with src/ui/client', () => {
  const script = fileURLToPath(new URL('../scripts/embed-ui.mjs', import.meta.url));
  expect(() => execFileSync(process.execPath, [script, '--check'], { stdio: 'pipe' })).not.toThrow();
});
