import type { ClusterView } from '@hapg/core';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../src/api/build.js';
import type { LocalActions, RestartRequest } from '../src/api/local-actions.js';
import { ClusterOps } from '../src/cluster-ops/cluster-ops.js';
import { createMetrics } from '../src/metrics.js';
import type { NodeSnapshot } from '../src/api/snapshot.js';
import { clockAtNow, primaryHealthy } from './api-fixtures.js';
import { FakeStore, viewOf } from './cluster-ops-fixtures.js';

/** Local actions that record what they were asked; reinitialize answers `reinitializeStatus`. */
export function fakeLocalActions(reinitializeStatus: 200 | 503 = 503) {
  const calls: unknown[] = [];
  const local: LocalActions = {
    reload: () => {
      calls.push('reload');
      return undefined;
    },
    restart: async (req: RestartRequest) => {
      calls.push(req);
      return { status: 200, body: { message: 'restarted' } };
    },
    cancelRestart: async () => ({ status: 404, body: { error: 'no restart is scheduled' } }),
    reinitialize: async (req) => {
      calls.push(req);
      return reinitializeStatus === 200
        ? { status: 200, body: { message: 'reinitialize started' } }
        : { status: 503, body: { error: 'refused: this node is the leader' } };
    },
  };
  return { local, calls };
}

export interface ApiRigOptions {
  readonly view?: ClusterView;
  readonly snapshot?: () => NodeSnapshot;
  readonly reinitializeStatus?: 200 | 503;
  /** ClusterOps options beyond store and clock */
  readonly clusterOps?: Partial<ConstructorParameters<typeof ClusterOps>[0]>;
  /** buildApi options that override the rig's */
  readonly extra?: Partial<Parameters<typeof buildApi>[0]>;
}

/** The REST API over a fake etcd (FakeStore) and fake local actions, at the fixtures' clock. */
export function apiRig(o: ApiRigOptions = {}) {
  const clock = clockAtNow();
  const store = new FakeStore(o.view ?? viewOf());
  const { local, calls } = fakeLocalActions(o.reinitializeStatus);
  const app = buildApi({
    snapshot: o.snapshot ?? (() => primaryHealthy),
    metrics: createMetrics({ processMetrics: false, clock }),
    clock,
    actions: local,
    clusterOps: new ClusterOps({ store, clock, switchWaitMs: () => 20, ...o.clusterOps }),
    ...o.extra,
  });
  return { app, store, calls, clock };
}

/** One request with a JSON body (or none; a string is sent as it is, JSON or not). */
export function sendJson(
  app: FastifyInstance,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  return app.inject({
    method,
    url,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
}

/** Every unsafe (state-changing) endpoint with a body it accepts: auth and allowlist apply to each. */
export const UNSAFE_ENDPOINTS: readonly ['POST' | 'PUT' | 'PATCH' | 'DELETE', string, unknown][] = [
  ['POST', '/switchover', { leader: 'node1', candidate: 'node2' }],
  ['DELETE', '/switchover', undefined],
  ['POST', '/failover', { candidate: 'node2' }],
  ['POST', '/restart', {}],
  ['DELETE', '/restart', undefined],
  ['POST', '/reload', undefined],
  ['POST', '/reinitialize', { force: true }],
  ['PATCH', '/config', { pause: true }],
  ['PUT', '/config', { ttl: 30, loop_wait: 10 }],
  ['POST', '/failsafe', { name: 'node2' }],
];
