import { describe, expect, it, vi } from 'vitest';
import { buildApi } from '../src/api/build.js';
import type { NodeSnapshot } from '../src/api/snapshot.js';
import { createMetrics } from '../src/metrics.js';
import { clockAtNow, primaryHealthy, snapshots } from './api-fixtures.js';

function api(snapshot: NodeSnapshot = primaryHealthy, extra: Partial<Parameters<typeof buildApi>[0]> = {}) {
  // One clock for both: the lease gauge and the role checks read the same monotonic deadline.
  const clock = clockAtNow();
  return buildApi({
    snapshot: () => snapshot,
    metrics: createMetrics({ processMetrics: false, clock }),
    clock,
    ...extra,
  });
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('bad requests', () => {
  it.each([
    '/replica?lag=abc',
    '/readiness?mode=x',
    '/readiness?lag=1.5GB',
    '/async?lag=-1',
    '/replica?replication_state=bogus',
    '/replica?lag=1&lag=2',
    '/primary?lag=abc',
  ])('GET %s → 400 with a reason', async (url) => {
    const res = await api().inject({ method: 'GET', url });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: expect.any(String) });
  });

  it('answers 400 to HEAD and OPTIONS too', async () => {
    for (const method of ['HEAD', 'OPTIONS'] as const) {
      expect((await api().inject({ method, url: '/replica?lag=abc' })).statusCode).toBe(400);
    }
  });

  it.each(['/nope', '/replica/extra', '/patroni2', '/metricsx'])('unknown path %s → 404', async (url) => {
    const res = await api().inject({ method: 'GET', url });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: expect.stringContaining(url) });
  });

  it.each([
    ['POST', '/primary', 'GET, HEAD, OPTIONS'],
    ['DELETE', '/replica', 'GET, HEAD, OPTIONS'],
    ['PUT', '/health?lag=1', 'GET, HEAD, OPTIONS'],
    ['POST', '/patroni', 'GET, HEAD'],
    ['POST', '/metrics', 'GET, HEAD'],
    ['GET', '/reload', 'POST'],
    ['HEAD', '/reload', 'POST'],
  ] as const)('%s %s → 405 with Allow: %s', async (method, url, allow) => {
    const res = await api().inject({ method, url });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe(allow);
  });
});

describe('information endpoints', () => {
  it('GET /patroni on a primary has the Patroni status fields', async () => {
    const res = await api().inject({ method: 'GET', url: '/patroni' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      state: 'running',
      postmaster_start_time: '2026-01-01 00:00:00.000000+00:00',
      role: 'primary',
      server_version: 150013,
      xlog: { location: 50_000 },
      timeline: 3,
      replication: [
        {
          usename: 'replicator',
          application_name: 'node2',
          client_addr: '127.0.0.1',
          state: 'streaming',
          sync_state: 'async',
          sync_priority: 0,
        },
      ],
      dcs_last_seen: 1_767_225_600,
      // no tags: Patroni leaves `tags` out then
      database_system_identifier: '7268616322854375442',
      patroni: { version: '0.1.0', scope: 'demo', name: 'node1' },
    });
  });

  it('GET /patroni answers 200 whatever the state, with replica fields and true-only flags', async () => {
    const snapshot: NodeSnapshot = {
      ...snapshots.syncStandby,
      pgState: 'stopped',
      paused: true,
      clusterUnlocked: true,
      pendingRestart: true,
      pendingRestartReason: { max_connections: { old_value: '100', new_value: '200' } },
    };
    const body = (await api(snapshot).inject({ method: 'GET', url: '/patroni' })).json();
    expect(body).toMatchObject({
      state: 'stopped',
      role: 'replica',
      xlog: { received_location: 50_000, replayed_location: 49_990, replayed_timestamp: null, paused: false },
      replication_state: 'streaming',
      sync_standby: true,
      pause: true,
      cluster_unlocked: true,
      pending_restart: true,
      pending_restart_reason: { max_connections: { old_value: '100', new_value: '200' } },
    });
    expect(body).not.toHaveProperty('replication');
    const healthy = (await api(snapshots.replicaStreaming).inject({ method: 'GET', url: '/patroni' })).json();
    for (const flag of ['sync_standby', 'pause', 'cluster_unlocked', 'pending_restart', 'quorum_standby']) {
      expect(healthy).not.toHaveProperty(flag);
    }
  });

  it('GET /cluster says whether a fast failover could happen now, only while the switch is on', async () => {
    const off = await api(snapshots.primaryHealthy).inject({ method: 'GET', url: '/cluster' });
    expect(off.json()).not.toHaveProperty('fast_failover');
    const ready = await api({
      ...snapshots.primaryHealthy,
      fastFailover: { state: 'ready', leader: 'node1', standbys: ['node2'], releasesNeeded: 0 },
    }).inject({ method: 'GET', url: '/cluster' });
    expect(ready.json().fast_failover).toEqual({
      state: 'ready',
      leader: 'node1',
      standbys: ['node2'],
      releases_needed: 0,
    });
    const unavailable = await api({
      ...snapshots.primaryHealthy,
      fastFailover: { state: 'unavailable', reason: 'no synchronous standby' },
    }).inject({ method: 'GET', url: '/cluster' });
    expect(unavailable.json().fast_failover).toEqual({
      state: 'unavailable',
      reason: 'no synchronous standby',
    });
  });

  it('GET /cluster lists members with lag and failover eligibility', async () => {
    const snapshot: NodeSnapshot = {
      ...primaryHealthy,
      paused: true,
      scheduledSwitchover: { at: '2026-01-01T01:00:00+00:00', from: 'node1', to: 'node2' },
      members: [
        {
          name: 'node1',
          role: 'leader',
          state: 'running',
          apiUrl: 'http://127.0.0.1:8008/patroni',
          host: '127.0.0.1',
          port: 5432,
          timeline: 3,
          tags: {},
          pendingRestart: false,
          lagBytes: null,
          lsnBytes: 50_000,
          receiveLagBytes: null,
          receiveLsnBytes: null,
          replayLagBytes: null,
          replayLsnBytes: null,
          failoverEligible: false,
          failoverReasonCode: 'IS_LEADER',
          failoverReason: 'is the leader',
        },
        {
          name: 'node2',
          role: 'sync_standby',
          state: 'streaming',
          apiUrl: 'http://127.0.0.2:8008/patroni',
          host: '127.0.0.2',
          port: 5432,
          timeline: 3,
          tags: { zone: 'b' },
          pendingRestart: true,
          lagBytes: 10,
          lsnBytes: 49_990,
          receiveLagBytes: 0,
          receiveLsnBytes: 50_000,
          replayLagBytes: null,
          replayLsnBytes: 49_990,
          failoverEligible: true,
          failoverReasonCode: null,
          failoverReason: 'eligible',
        },
      ],
    };
    const res = await api(snapshot).inject({ method: 'GET', url: '/cluster' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      scope: 'demo',
      pause: true,
      scheduled_switchover: { at: '2026-01-01T01:00:00+00:00', from: 'node1', to: 'node2' },
      members: [
        {
          name: 'node1',
          role: 'leader',
          state: 'running',
          api_url: 'http://127.0.0.1:8008/patroni',
          host: '127.0.0.1',
          port: 5432,
          timeline: 3,
          // a member key without tags: no `tags`, as Patroni's /cluster
          failover_eligible: false,
          failover_reason_code: 'IS_LEADER',
          failover_reason: 'is the leader',
        },
        {
          name: 'node2',
          role: 'sync_standby',
          state: 'streaming',
          api_url: 'http://127.0.0.2:8008/patroni',
          host: '127.0.0.2',
          port: 5432,
          timeline: 3,
          tags: { zone: 'b' },
          pending_restart: true,
          lag: 10,
          lsn: 49_990,
          receive_lag: 0,
          receive_lsn: 50_000,
          replay_lag: 'unknown',
          replay_lsn: 49_990,
          failover_eligible: true,
          failover_reason_code: null,
          failover_reason: 'eligible',
        },
      ],
    });
  });

  it('GET /history is the list of switches', async () => {
    const snapshot: NodeSnapshot = {
      ...primaryHealthy,
      history: [
        {
          timeline: 1,
          switchLsn: 25_623_960,
          reason: 'no recovery target specified',
          time: '2026-01-01T00:00:00+00:00',
          newLeader: null,
        },
        {
          timeline: 2,
          switchLsn: 25_624_344,
          reason: 'switchover',
          time: '2026-01-01T00:10:00+00:00',
          newLeader: 'node1',
        },
      ],
    };
    const res = await api(snapshot).inject({ method: 'GET', url: '/history' });
    expect(res.json()).toEqual([
      [1, 25_623_960, 'no recovery target specified', '2026-01-01T00:00:00+00:00'],
      [2, 25_624_344, 'switchover', '2026-01-01T00:10:00+00:00', 'node1'],
    ]);
  });

  it('GET /config is the dynamic config, 503 before it was read', async () => {
    expect((await api().inject({ method: 'GET', url: '/config' })).json()).toEqual({
      ttl: 30,
      loop_wait: 10,
    });
    const none = await api({ ...primaryHealthy, dynamicConfig: null }).inject({
      method: 'GET',
      url: '/config',
    });
    expect(none.statusCode).toBe(503);
    expect(none.json()).toHaveProperty('error');
  });

  it('GET /metrics is Prometheus text with the hapg metrics', async () => {
    const res = await api().inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    for (const name of ['hapg_role', 'hapg_is_leader', 'hapg_timeline', 'hapg_lease_remaining_seconds']) {
      expect(res.body).toContain(`# TYPE ${name} gauge`);
    }
    // taken from the snapshot at scrape time, labelled as Patroni labels its metrics
    expect(res.body).toContain('hapg_role{role="primary",scope="demo",name="node1"} 1');
    expect(res.body).toContain('hapg_lease_remaining_seconds{scope="demo",name="node1"} 20');
    expect(res.body).toContain('patroni_primary{scope="demo",name="node1"} 1');
    expect(res.body).toContain('patroni_xlog_location{scope="demo",name="node1"} 50000');
  });

  it('an exception while answering is a 503 with the error', async () => {
    const app = buildApi({
      snapshot: () => {
        throw new Error('no snapshot yet');
      },
      metrics: createMetrics({ processMetrics: false }),
    });
    const res = await app.inject({ method: 'GET', url: '/replica' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ error: 'no snapshot yet' });
  });
});

describe('action endpoints and auth', () => {
  const auth = { username: 'admin', password: 's3cr:et' };

  it('401 with a Basic challenge without credentials or with wrong ones', async () => {
    const reload = vi.fn();
    const app = api(primaryHealthy, { auth, actions: { reload } });
    for (const authorization of [
      undefined,
      basic('admin', 'wrong'),
      basic('other', 's3cr:et'),
      'Bearer x',
      'Basic !!!',
    ]) {
      const res = await app.inject({
        method: 'POST',
        url: '/reload',
        headers: authorization === undefined ? {} : { authorization },
      });
      expect(res.statusCode, String(authorization)).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="hapg"');
    }
    expect(reload).not.toHaveBeenCalled();
  });

  it('202 and the action runs with the right credentials', async () => {
    const reload = vi.fn();
    const app = api(primaryHealthy, { auth, actions: { reload } });
    const res = await app.inject({
      method: 'POST',
      url: '/reload',
      headers: { authorization: basic('admin', 's3cr:et') },
    });
    expect(res.statusCode).toBe(202);
    expect(reload).toHaveBeenCalledTimes(1);
  });

  it('GETs stay open when auth is configured', async () => {
    const app = api(primaryHealthy, { auth, actions: { reload: vi.fn() } });
    for (const url of ['/primary', '/patroni', '/cluster', '/metrics', '/config']) {
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
    }
  });

  it('no auth configured: POST /reload is open', async () => {
    const reload = vi.fn();
    const res = await api(primaryHealthy, { actions: { reload } }).inject({ method: 'POST', url: '/reload' });
    expect(res.statusCode).toBe(202);
    expect(reload).toHaveBeenCalledTimes(1);
  });

  it('without actions wired, POST /reload is 503', async () => {
    expect((await api().inject({ method: 'POST', url: '/reload' })).statusCode).toBe(503);
  });
});
