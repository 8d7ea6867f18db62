import { EtcdStore } from '@hapg/dcs';
import { type EtcdCluster, startEtcd, waitFor } from '@hapg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../src/api/build.js';
import { ClusterOps } from '../src/cluster-ops/cluster-ops.js';
import type { ClusterStorePort } from '../src/cluster-ops/store-port.js';
import { createMetrics } from '../src/metrics.js';
import { primaryHealthy } from './api-fixtures.js';

/**
 * The cluster-level REST actions against a real etcd through `EtcdStore`:
 * the failover key is written and deleted with CAS, PATCH /config merges,
 * and a write that lands between our read and our CAS gives 409.
 */
let etcd: EtcdCluster;
const stores: EtcdStore[] = [];
const scope = `api-actions-${process.pid}`;
const SWITCH_WAIT_MS = 300;

async function open(name?: string): Promise<EtcdStore> {
  const store = await EtcdStore.open({
    hosts: etcd.endpoints,
    scope,
    ttlSeconds: 10,
    retryTimeoutMs: 3000,
    resyncIntervalMs: 2000,
    ...(name === undefined ? {} : { name }),
  });
  stores.push(store);
  return store;
}

const member = (role: string) => ({
  conn_url: 'postgres://127.0.0.1:5432/postgres',
  api_url: 'http://127.0.0.1:8008/patroni',
  state: 'running',
  role,
  version: '0.1.0',
  xlog_location: 1000,
});

function apiOver(store: ClusterStorePort) {
  return buildApi({
    snapshot: () => primaryHealthy,
    metrics: createMetrics({ processMetrics: false }),
    actions: { reload: () => undefined },
    clusterOps: new ClusterOps({ store, switchWaitMs: () => SWITCH_WAIT_MS }),
  });
}

const json = (payload: unknown) => ({
  headers: { 'content-type': 'application/json' },
  payload: JSON.stringify(payload),
});

let node1: EtcdStore;
let node2: EtcdStore;
let ops: EtcdStore;

beforeAll(async () => {
  etcd = await startEtcd({ members: 1 });
  node1 = await open('node1');
  node2 = await open('node2');
  await node1.startLease();
  await node2.startLease();
  expect(await node1.acquireLeader()).toBe(true);
  await node1.writeMember(member('primary'));
  await node2.writeMember(member('replica'));
  await node1.casConfig({ ttl: 10, loop_wait: 2, retry_timeout: 2 }, null);
  ops = await open();
  await waitFor(async () => (await ops.readView()).members.size === 2, {
    timeoutMs: 5000,
    what: 'etcd view',
  });
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close({ revoke: true })));
  await etcd?.close();
});

describe('cluster ops over a real etcd', () => {
  it('POST /switchover writes the failover key (CAS, create-only); DELETE removes it; 404 after', async () => {
    const app = apiOver(ops);
    const r = await app.inject({
      method: 'POST',
      url: '/switchover',
      ...json({ leader: 'node1', candidate: 'node2' }),
    });
    // No agent loop runs here, so nobody acts on it: the answer is "in progress" after the wait.
    expect(r.statusCode).toBe(202);
    expect(r.json()).toMatchObject({ status: 'in progress', leader: 'node1', candidate: 'node2' });
    const seen = await node1.readView();
    expect(seen.failover).toMatchObject({ leader: 'node1', member: 'node2', scheduledAt: null });

    const second = await app.inject({ method: 'POST', url: '/switchover', ...json({ leader: 'node1' }) });
    expect(second.statusCode).toBe(412);
    expect(second.json().code).toBe('ALREADY_PENDING');

    expect((await app.inject({ method: 'DELETE', url: '/switchover' })).statusCode).toBe(200);
    expect((await node1.readView()).failover).toBeNull();
    expect((await app.inject({ method: 'DELETE', url: '/switchover' })).statusCode).toBe(404);
  });

  it('POST /switchover answers 200 once the candidate leads as a running primary', async () => {
    const app = apiOver(ops);
    const reply = app.inject({
      method: 'POST',
      url: '/switchover',
      ...json({ leader: 'node1', candidate: 'node2' }),
    });
    // Play the agents: the old leader releases, the candidate takes the key and reports primary.
    await waitFor(async () => (await node1.readView()).failover !== null, {
      timeoutMs: 5000,
      what: 'etcd view',
    });
    expect(await node1.releaseLeader()).toBe(true);
    expect(await node2.acquireLeader()).toBe(true);
    await node2.writeMember(member('primary'));
    const r = await reply;
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toMatchObject({ status: 'done', candidate: 'node2' });
    const v = await node2.readView();
    await node2.deleteFailover(v.failover!.modRevision);
  });

  it('PATCH /config merges into etcd; a write between our read and our CAS gives 409', async () => {
    const app = apiOver(ops);
    const r = await app.inject({
      method: 'PATCH',
      url: '/config',
      ...json({ pause: true, loop_wait: null }),
    });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toEqual({ ttl: 10, retry_timeout: 2, pause: true });
    expect((await node1.readView()).config?.value).toEqual({ ttl: 10, retry_timeout: 2, pause: true });

    // A port that lets another writer in right after our read: the real etcd CAS must catch it.
    const racing: ClusterStorePort = {
      view: () => ops.view(),
      readView: async () => {
        const v = await ops.readView();
        await node1.casConfig({ ...v.config!.value, pause: false }, v.config!.modRevision);
        return v;
      },
      casFailover: (value, rev) => ops.casFailover(value, rev),
      deleteFailover: (rev) => ops.deleteFailover(rev),
      casConfig: (value, rev) => ops.casConfig(value, rev),
      on: (e, l) => ops.on(e, l),
      off: (e, l) => ops.off(e, l),
    };
    const conflict = await apiOver(racing).inject({ method: 'PATCH', url: '/config', ...json({ ttl: 12 }) });
    expect(conflict.statusCode).toBe(409);
    expect((await node1.readView()).config?.value).toEqual({ ttl: 10, retry_timeout: 2, pause: false });
  });

  it('EtcdStore satisfies the port', () => {
    const port: ClusterStorePort = ops;
    expect(port.view()).not.toBeNull();
  });
});
