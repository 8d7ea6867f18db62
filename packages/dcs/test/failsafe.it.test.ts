import { isHapgError } from '@hapg/core';
import { type EtcdCluster, startEtcd } from '@hapg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdStore } from '../src/index.js';
import { freshScope, member, openStore } from './helpers.js';

/** docs/failsafe.md K1–K3 and M5 against a real etcd: the guarded writes and the acquire compare. */

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
  const s = await openStore(etcd.endpoints, { scope, name });
  stores.push(s);
  await s.startLease();
  await s.writeMember(member(name));
  return s;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return isHapgError(e) ? e.code : `not a HapgError: ${String(e)}`;
  }
}

const members = new Map([
  ['b', 'http://127.0.0.2:8008/patroni'],
  ['a', 'http://127.0.0.1:8008/patroni'],
]);

describe('failsafe key (real etcd)', () => {
  it('writeFailsafe as the leader: a permanent key the view shows, with the revision it resolved with', async () => {
    const scope = freshScope('fs-write');
    const a = await node(scope, 'a');
    const b = await node(scope, 'b');
    expect(await a.acquireLeader()).toBe(true);
    const rev = await a.writeFailsafe(members);
    const view = await b.readView();
    expect(view.failsafe).toEqual({ members: new Map([...members].sort()), modRevision: rev });
    expect(view.malformed).toEqual([]);
    // no lease: it outlives the leader's, which is what it is for
    await a.close({ revoke: true });
    const after = await b.readView();
    expect(after.leader).toBeNull();
    expect(after.failsafe?.modRevision).toBe(rev);
  });

  it('writeFailsafe and deleteFailsafe when not the leader: DCS_CAS_CONFLICT, the key unchanged', async () => {
    const scope = freshScope('fs-guard');
    const a = await node(scope, 'a');
    const b = await node(scope, 'b');
    // no leader key at all
    expect(await codeOf(b.writeFailsafe(members))).toBe('DCS_CAS_CONFLICT');
    expect((await b.readView()).failsafe).toBeNull();
    // another's leader key
    expect(await a.acquireLeader()).toBe(true);
    const rev = await a.writeFailsafe(members);
    expect(await codeOf(b.writeFailsafe({ b: 'http://127.0.0.2:8008/patroni' }))).toBe('DCS_CAS_CONFLICT');
    expect(await codeOf(b.deleteFailsafe())).toBe('DCS_CAS_CONFLICT');
    expect((await b.readView()).failsafe?.modRevision).toBe(rev);
  });

  it('deleteFailsafe as the leader deletes the key, and succeeds when it is absent', async () => {
    const scope = freshScope('fs-delete');
    const a = await node(scope, 'a');
    expect(await a.acquireLeader()).toBe(true);
    await a.writeFailsafe(members);
    await a.deleteFailsafe();
    expect((await a.readView()).failsafe).toBeNull();
    await a.deleteFailsafe();
    expect((await a.readView()).failsafe).toBeNull();
  });

  it('acquireLeader with the failsafe revision of the view takes the key; a stale revision does not', async () => {
    const scope = freshScope('fs-acquire');
    const a = await node(scope, 'a');
    const b = await node(scope, 'b');
    expect(await a.acquireLeader()).toBe(true);
    const rev1 = await a.writeFailsafe(members);
    const rev2 = await a.writeFailsafe({ a: 'http://127.0.0.1:8008/patroni' });
    expect(await a.releaseLeader()).toBe(true);
    // decided on the view with the first key: the second one (without b) has replaced it
    expect(await b.acquireLeader({ failsafeModRevision: rev1 })).toBe(false);
    expect((await b.readView()).leader).toBeNull();
    expect(await b.acquireLeader({ failsafeModRevision: rev2 })).toBe(true);
    expect((await a.readView()).leader?.name).toBe('b');
  });

  it('acquireLeader with null (no failsafe key in the view) while the key exists: false, no leader key', async () => {
    const scope = freshScope('fs-absent');
    const a = await node(scope, 'a');
    const b = await node(scope, 'b');
    // a stale key left by a leader that is gone (K2)
    expect(await a.acquireLeader()).toBe(true);
    const rev = await a.writeFailsafe(members);
    expect(await a.releaseLeader()).toBe(true);
    expect(await b.acquireLeader({ failsafeModRevision: null })).toBe(false);
    expect((await b.readView()).leader).toBeNull();
    expect(await b.acquireLeader({ failsafeModRevision: rev })).toBe(true);
    // and the other way round: null matches no key
    const scope2 = freshScope('fs-none');
    const c = await node(scope2, 'c');
    expect(await c.acquireLeader({ failsafeModRevision: null })).toBe(true);
  });
});
