import { describe, expect, it } from 'vitest';
import { buildApi } from '../src/api/build.js';
import type { NodeSnapshot } from '../src/api/snapshot.js';
import { createMetrics } from '../src/metrics.js';
import { clockAtNow, NOW_MS, type SnapshotName, snapshots } from './api-fixtures.js';

const ENDPOINTS = [
  '/',
  '/primary',
  '/read-write',
  '/master',
  '/leader',
  '/standby-leader',
  '/standby_leader',
  '/replica',
  '/read-only',
  '/sync',
  '/synchronous',
  '/async',
  '/asynchronous',
  '/read-only-sync',
  '/quorum',
  '/read-only-quorum',
  '/health',
  '/liveness',
  '/readiness',
] as const;
type Endpoint = (typeof ENDPOINTS)[number];

const PRIMARY: Endpoint[] = ['/', '/primary', '/read-write', '/master'];
const SYNC: Endpoint[] = ['/sync', '/synchronous'];
const ASYNC: Endpoint[] = ['/async', '/asynchronous'];
const PRIMARY_OK: Endpoint[] = [
  ...PRIMARY,
  '/leader',
  '/read-only',
  '/read-only-sync',
  '/read-only-quorum',
  '/health',
  '/liveness',
  '/readiness',
];
const ASYNC_REPLICA_OK: Endpoint[] = [
  '/replica',
  '/read-only',
  ...ASYNC,
  '/health',
  '/liveness',
  '/readiness',
];

/** For each snapshot, the endpoints answering 200; every other endpoint must answer 503. */
const OK_ENDPOINTS: Record<SnapshotName, Endpoint[]> = {
  primaryHealthy: PRIMARY_OK,
  primaryPgStopped: ['/liveness'],
  primaryLeaseExpired: ['/health', '/liveness'],
  primaryNoLeaseDeadline: ['/health', '/liveness'],
  primaryStillInRecovery: ['/health', '/liveness'],
  primaryStaleLoop: PRIMARY_OK.filter((e) => e !== '/liveness'),
  primaryPaused: PRIMARY_OK,
  replicaStreaming: ASYNC_REPLICA_OK,
  replicaLagging: ASYNC_REPLICA_OK.filter((e) => e !== '/readiness'),
  replicaNoLoadBalance: ['/health', '/liveness', '/readiness'],
  replicaTagged: ASYNC_REPLICA_OK,
  replicaArchiveRecovery: ASYNC_REPLICA_OK.filter((e) => e !== '/readiness'),
  replicaUnknownOptime: ASYNC_REPLICA_OK,
  replicaStopped: ['/liveness'],
  replicaLoop40s: ASYNC_REPLICA_OK,
  replicaLoop70s: ASYNC_REPLICA_OK.filter((e) => e !== '/liveness'),
  syncStandby: ['/replica', '/read-only', ...SYNC, '/read-only-sync', '/health', '/liveness', '/readiness'],
  syncStandbyDcsDown: ['/replica', '/read-only', '/health', '/liveness', '/readiness'],
  quorumStandby: [
    '/replica',
    '/read-only',
    '/quorum',
    '/read-only-quorum',
    '/health',
    '/liveness',
    '/readiness',
  ],
  standbyLeader: [
    '/leader',
    '/standby-leader',
    '/standby_leader',
    '/read-only',
    '/read-only-sync',
    '/read-only-quorum',
    '/health',
    '/liveness',
    '/readiness',
  ],
};

interface Case {
  readonly name: SnapshotName;
  readonly url: string;
  readonly code: number;
}

const MATRIX: Case[] = (Object.keys(OK_ENDPOINTS) as SnapshotName[]).flatMap((name) =>
  ENDPOINTS.map((url) => ({ name, url, code: OK_ENDPOINTS[name].includes(url) ? 200 : 503 })),
);

/** Filters (query strings) against particular snapshots. */
const QUERY_CASES: Case[] = [
  { name: 'replicaLagging', url: '/replica?lag=64MB', code: 503 },
  { name: 'replicaLagging', url: '/replica?lag=1GB', code: 200 },
  { name: 'replicaLagging', url: '/replica?lag=104857600', code: 200 }, // exactly the lag
  { name: 'replicaLagging', url: '/replica?lag=104857599', code: 503 },
  { name: 'replicaLagging', url: '/async?lag=64MB', code: 503 },
  { name: 'replicaLagging', url: '/read-only?lag=64MB', code: 503 },
  { name: 'replicaLagging', url: '/readiness?lag=1GB', code: 200 },
  { name: 'replicaLagging', url: '/readiness?lag=2MB', code: 503 },
  { name: 'replicaLagging', url: '/readiness?lag=2MB&mode=write', code: 200 },
  { name: 'replicaLagging', url: '/readiness?lag=2MB&mode=apply', code: 503 },
  { name: 'replicaStreaming', url: '/replica?lag=16kB', code: 200 },
  { name: 'replicaStreaming', url: '/replica?lag=0', code: 503 },
  { name: 'replicaStreaming', url: '/replica?replication_state=streaming', code: 200 },
  { name: 'replicaStreaming', url: '/replica/', code: 200 },
  { name: 'replicaArchiveRecovery', url: '/replica?replication_state=streaming', code: 503 },
  { name: 'replicaArchiveRecovery', url: '/replica?replication_state=in%20archive%20recovery', code: 200 },
  { name: 'replicaUnknownOptime', url: '/replica?lag=0', code: 200 },
  { name: 'replicaTagged', url: '/replica?tag_zone=a', code: 200 },
  { name: 'replicaTagged', url: '/replica?tag_zone=b', code: 503 },
  { name: 'replicaTagged', url: '/replica?tag_rack=1', code: 503 },
  // issue 11: inherited properties are not tags
  { name: 'replicaTagged', url: '/replica?tag___proto__=%5Bobject%20Object%5D', code: 503 },
  { name: 'replicaTagged', url: `/replica?tag_constructor=${encodeURIComponent(String(Object))}`, code: 503 },
  { name: 'replicaTagged', url: '/replica?tag_toString=x', code: 503 },
  { name: 'replicaTagged', url: '/replica?tag_nofailover=false', code: 200 },
  { name: 'replicaTagged', url: '/replica?tag_zone=a&tag_nofailover=FALSE', code: 200 },
  { name: 'replicaTagged', url: '/replica?tag_zone=a&tag_rack=1', code: 503 },
  { name: 'replicaTagged', url: '/read-only?tag_zone=b', code: 503 },
  { name: 'replicaTagged', url: '/async?tag_zone=a', code: 200 },
  { name: 'replicaStreaming', url: '/replica?tag_zone=a', code: 503 },
  { name: 'syncStandby', url: '/sync?lag=0', code: 503 },
  { name: 'primaryHealthy', url: '/primary?lag=0', code: 200 },
  { name: 'primaryHealthy', url: '/read-only?lag=0&tag_zone=b', code: 200 },
  { name: 'primaryHealthy', url: '/replica?lag=1GB', code: 503 },
];

function apiFor(snapshot: NodeSnapshot) {
  const clock = clockAtNow();
  return {
    app: buildApi({ snapshot: () => snapshot, metrics: createMetrics({ processMetrics: false }), clock }),
    clock,
  };
}

describe('role endpoints', () => {
  it.each([...MATRIX, ...QUERY_CASES])('$name GET $url → $code', async ({ name, url, code }) => {
    const { app } = apiFor(snapshots[name]);
    const res = await app.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(code);
    if (url.startsWith('/liveness') || url.startsWith('/readiness')) {
      expect(res.body).toBe('');
    } else {
      expect(res.json()).toMatchObject({
        role: snapshots[name].role,
        patroni: { name: 'node1', scope: 'demo' },
      });
    }
  });

  it.each(MATRIX.filter((_, i) => i % 3 === 0).concat(QUERY_CASES))(
    '$name HEAD and OPTIONS $url → $code without a body',
    async ({ name, url, code }) => {
      const { app } = apiFor(snapshots[name]);
      for (const method of ['HEAD', 'OPTIONS'] as const) {
        const res = await app.inject({ method, url });
        expect(res.statusCode, method).toBe(code);
        expect(res.body, method).toBe('');
      }
    },
  );

  it('says why a check failed in a header', async () => {
    const { app } = apiFor(snapshots.primaryLeaseExpired);
    const res = await app.inject({ method: 'GET', url: '/primary' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['x-hapg-reason']).toBe('leader lease deadline passed');
    const ok = await apiFor(snapshots.primaryHealthy).app.inject({ method: 'GET', url: '/primary' });
    expect(ok.headers['x-hapg-reason']).toBeUndefined();
  });

  it('failsafe: a primary past its lease deadline stays /primary while the failsafe deadline is ahead', async () => {
    const { app, clock } = apiFor({
      ...snapshots.primaryLeaseExpired,
      failsafeDeadlineMs: NOW_MS + 3_000,
    });
    expect((await app.inject({ method: 'GET', url: '/primary' })).statusCode).toBe(200);
    clock.advance(3_000);
    const after = await app.inject({ method: 'GET', url: '/primary' });
    expect(after.statusCode).toBe(503);
    expect(after.headers['x-hapg-reason']).toBe('leader lease deadline passed');
  });

  it('judges the lease deadline at request time, not at snapshot time', async () => {
    // The loop's snapshot says "holds the key"; if the loop is stuck, the deadline still runs out.
    const { app, clock } = apiFor(snapshots.primaryHealthy);
    expect((await app.inject({ method: 'HEAD', url: '/primary' })).statusCode).toBe(200);
    clock.advance(19_999);
    expect((await app.inject({ method: 'HEAD', url: '/primary' })).statusCode).toBe(200);
    clock.advance(1);
    expect((await app.inject({ method: 'HEAD', url: '/primary' })).statusCode).toBe(503);
    expect((await app.inject({ method: 'HEAD', url: '/leader' })).statusCode).toBe(503);
  });

  it('judges liveness from the time since the last loop', async () => {
    const { app, clock } = apiFor(snapshots.replicaStreaming);
    expect((await app.inject({ method: 'GET', url: '/liveness' })).statusCode).toBe(200);
    clock.advance(60_000);
    expect((await app.inject({ method: 'GET', url: '/liveness' })).statusCode).toBe(503);
  });

  it('reads the snapshot anew for each request', async () => {
    let current: NodeSnapshot = snapshots.replicaStreaming;
    const app = buildApi({
      snapshot: () => current,
      metrics: createMetrics({ processMetrics: false }),
      clock: clockAtNow(),
    });
    expect((await app.inject({ method: 'HEAD', url: '/replica' })).statusCode).toBe(200);
    current = snapshots.primaryHealthy;
    expect((await app.inject({ method: 'HEAD', url: '/replica' })).statusCode).toBe(503);
    expect((await app.inject({ method: 'HEAD', url: '/primary' })).statusCode).toBe(200);
  });
});
