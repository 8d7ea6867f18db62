import { type EtcdCluster, startEtcd, waitFor } from '@hapg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdStore } from '../src/index.js';
import { freshScope, member, nextEvent, openStore } from './helpers.js';

let etcd: EtcdCluster;
const stores: EtcdStore[] = [];

beforeAll(async () => {
  etcd = await startEtcd({ members: 1 });
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await etcd?.close();
});

async function node(scope: string, name: string): Promise<EtcdStore> {
  const s = await openStore(etcd.endpoints, { scope, name, ttlSeconds: 10 });
  stores.push(s);
  await s.startLease();
  await s.writeMember(member(name));
  return s;
}

describe('leader lock (real etcd)', () => {
  it('exactly one of two contenders wins; the loser learns of the release via the watch and takes over', async () => {
    const scope = freshScope('lock');
    const a = await node(scope, 'a');
    const b = await node(scope, 'b');
    const [wonA, wonB] = await Promise.all([a.acquireLeader(), b.acquireLeader()]);
    expect([wonA, wonB].filter(Boolean)).toHaveLength(1);
    const [winner, loser] = wonA ? [a, b] : [b, a];

    // the loser's watch-fed view shows the winner, bound to the winner's lease
    const view = await waitFor(() => (loser.view()?.leader?.name === winner.name ? loser.view() : null), {
      timeoutMs: 5000,
      what: 'loser sees the winner',
    });
    expect(view.leader?.leaseId).toBe(winner.leaseId());
    expect(await loser.acquireLeader()).toBe(false);
    expect(await winner.verifyLeader()).toBe(true);
    expect(await loser.verifyLeader()).toBe(false);

    const deleted = nextEvent<{ previous: { name: string } | null }>(loser, 'leader-deleted', 5000);
    const releasedAtMs = performance.now();
    expect(await winner.releaseLeader()).toBe(true);
    const event = await deleted;
    // watch-driven: well inside a resync interval (2 s) or the TTL
    expect(performance.now() - releasedAtMs).toBeLessThan(1000);
    expect(event.previous?.name).toBe(winner.name);
    expect(await loser.acquireLeader()).toBe(true);
    expect((await winner.readView()).leader?.name).toBe(loser.name);
    // releasing a lock one does not hold changes nothing
    expect(await winner.releaseLeader()).toBe(false);
    expect((await winner.readView()).leader?.name).toBe(loser.name);
  });

  it('member keys are bound to the lease, skipped when unchanged, and vanish with a revoked lease', async () => {
    const scope = freshScope('member');
    const a = await node(scope, 'a');
    const observer = await openStore(etcd.endpoints, { scope });
    stores.push(observer);
    expect(await a.writeMember(member('a'))).toBe(false);
    expect(await a.writeMember(member('a', { role: 'primary' }))).toBe(true);
    const seen = await observer.readView();
    expect(seen.members.get('a')?.role).toBe('primary');
    expect(seen.members.get('a')?.leaseId).toBe(a.leaseId());
    expect(await a.acquireLeader()).toBe(true);

    await a.close({ revoke: true });
    const after = await waitFor(
      () => {
        const v = observer.view();
        return v && v.leader === null && v.members.size === 0 ? v : null;
      },
      { timeoutMs: 5000, what: 'keys of the revoked lease gone from the watch-fed view' },
    );
    expect(after.members.has('a')).toBe(false);
  });

  it('verifyLeader rebinds the key when it names us under another lease (the agent restarted)', async () => {
    const scope = freshScope('rebind');
    const before = await node(scope, 'a');
    expect(await before.acquireLeader()).toBe(true);
    const a = await node(scope, 'a');
    expect(a.leaseId()).not.toBe(before.leaseId());
    expect(await a.verifyLeader()).toBe(true);
    const v = await a.readView();
    expect(v.leader?.name).toBe('a');
    expect(v.leader?.leaseId).toBe(a.leaseId());
  });

  it('a key with our name bound to no lease (another tool wrote it) is not ours to take', async () => {
    const scope = freshScope('rebind-nolease');
    const a = await node(scope, 'a');
    const tool = await node(scope, 'tool');
    await tool.casRaw(a.keys.leader, 'a', null);
    expect(await a.acquireLeader()).toBe(false);
    expect(await a.verifyLeader()).toBe(false);
    const v = await a.readView();
    expect(v.leader?.name).toBe('a');
    expect(v.leader?.leaseId).toBeNull();
  });

  it('our own key overwritten with our name and no lease (its create revision kept) is bound back', async () => {
    const scope = freshScope('rebind-own');
    const a = await node(scope, 'a');
    const tool = await node(scope, 'tool');
    expect(await a.acquireLeader()).toBe(true);
    const before = await a.readView();
    await tool.casRaw(a.keys.leader, 'a', before.leader!.modRevision);
    expect((await a.readView()).leader?.leaseId).toBeNull();
    expect(await a.verifyLeader()).toBe(true);
    expect((await a.readView()).leader?.leaseId).toBe(a.leaseId());
  });
});
