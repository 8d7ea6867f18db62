import { type DynamicConfig, parseDynamicConfig, toLsn } from '@hapg/core';
import type { ReplicationRow } from '@hapg/postgres';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../src/logger.js';
import { SyncManager } from '../src/duties/sync/sync-manager.js';
import { viewOf } from './cluster-ops-fixtures.js';

/** The executor's order of effects, against fakes of etcd (CAS on the sync key) and Postgres. */
function harness(opts: { failSsn?: boolean; failDelete?: boolean; inForce?: string } = {}) {
  const effects: string[] = [];
  const reads: string[] = [];
  let revision = 10;
  /** what the server runs with: the last value applied (a reload), or what it started with */
  let serverSsn = opts.inForce ?? '';
  const store = {
    casSync: async (v: { syncStandbys: readonly string[]; quorum: number | null }, rev: string | null) => {
      effects.push(`key [${v.syncStandbys.join(',')}] q=${v.quorum} @${rev}`);
      return String(++revision);
    },
    deleteSync: async (rev: string) => {
      if (opts.failDelete) throw new Error('etcd unavailable');
      effects.push(`delete key @${rev}`);
    },
  };
  const pg = {
    flushLsn: async () => toLsn(1000),
    standbyFlush: async () => {
      effects.push('poll');
      return [
        { name: 'node2', flushLsn: toLsn(1000) },
        { name: 'node3', flushLsn: toLsn(1000) },
      ];
    },
    applySsn: async (value: string) => {
      if (opts.failSsn) throw new Error('reload failed');
      effects.push(`ssn '${value}'`);
      serverSsn = value;
    },
    ssnInForce: async () => {
      reads.push(serverSsn);
      return serverSsn;
    },
  };
  const clock = {
    monotonicMs: () => performance.now(),
    sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
  };
  const log = { info: () => {}, warn: () => {} } as unknown as Logger;
  const m = new SyncManager({ name: 'node1', store, pg, clock, log, pollMs: 1 });
  return {
    m,
    effects,
    reads,
    /** ALTER SYSTEM and a reload, outside the manager */
    alterSystem: (value: string) => {
      serverSsn = value;
    },
  };
}

const dyn = (json: Record<string, unknown>): DynamicConfig =>
  parseDynamicConfig({ ttl: 30, loop_wait: 10, ...json }, { source: 'test' }).config;

/** every standby answers (the evidence side is ReplicaEvidence's tests) */
const ALL = ['node2', 'node3'];

const streaming = (name: string): ReplicationRow => ({
  usename: 'replicator',
  applicationName: name,
  clientAddr: '127.0.0.1',
  state: 'streaming',
  syncState: 'async',
  syncPriority: 0,
  sentLsn: toLsn(1000),
  writeLsn: toLsn(1000),
  flushLsn: toLsn(1000),
  replayLsn: toLsn(1000),
  replyTime: null,
});

describe('SyncManager', () => {
  it('on: records an empty key, sets the ssn, waits for the standby, then names it', async () => {
    const { m, effects } = harness();
    await m.tick({
      view: viewOf(),
      dyn: dyn({ synchronous_mode: true }),
      replication: [streaming('node2')],
      retryTimeoutMs: 1000,
      responsive: ALL,
    });
    expect(effects).toEqual(['key [] q=0 @null', `ssn 'FIRST 1 ("node2")'`, 'poll', 'key [node2] q=0 @11']);
    expect(m.desiredSsn(viewOf(), dyn({ synchronous_mode: true }))).toBe('FIRST 1 ("node2")');
  });

  it('after a restart in place, a view lagging our own last key write does not weaken the ssn', async () => {
    const { m } = harness();
    await m.tick({
      view: viewOf(),
      dyn: dyn({ synchronous_mode: true }),
      replication: [streaming('node2')],
      retryTimeoutMs: 1000,
      responsive: ALL,
    });
    m.reset(); // Postgres crashed; it will start again as primary
    // the view still shows no key (the watch has not delivered our write): our write wins
    expect(m.desiredSsn(viewOf(), dyn({ synchronous_mode: true }))).toBe('FIRST 1 ("node2")');
    // a newer key written by someone else (a new leader's claim) wins over ours
    const claimed = viewOf({ sync: { leader: 'node3', syncStandbys: [], quorum: 0, modRevision: '99' } });
    expect(m.desiredSsn(claimed, dyn({ synchronous_mode: true }))).toBe('');
  });

  it('replaces a synchronous standby whose replies stopped, although its walsender row says streaming', async () => {
    const { m, effects } = harness({ inForce: 'FIRST 1 ("node2")' });
    const view = viewOf({ sync: { leader: 'node1', syncStandbys: ['node2'], quorum: 0, modRevision: '7' } });
    await m.tick({
      view,
      dyn: dyn({ synchronous_mode: true }),
      replication: [streaming('node2'), streaming('node3')],
      responsive: ['node3'], // node2's packets are dropped: its row has not noticed yet
      retryTimeoutMs: 1000,
    });
    expect(effects.at(-1)).toMatch(/^key \[node3\]/);
    expect(m.desiredSsn(view, dyn({ synchronous_mode: true }))).toBe('FIRST 1 ("node3")');
  });

  it("another tool's value in the sync key: the leader writes its own key back over it, by CAS (issue 11)", async () => {
    const { m, effects } = harness();
    const tick = (view: ReturnType<typeof viewOf>, on = true) =>
      m.tick({
        view,
        dyn: dyn({ synchronous_mode: on }),
        replication: [streaming('node2')],
        retryTimeoutMs: 1000,
        responsive: ALL,
      });
    await tick(viewOf());
    effects.length = 0;
    const garbage = {
      key: '/service/demo/sync',
      kind: 'sync' as const,
      error: 'invalid JSON',
      modRevision: '50',
    };
    await tick(viewOf({ malformed: [garbage] }));
    // the key we last wrote (it matches the ssn in force), nothing else changes
    expect(effects).toEqual(['key [node2] q=0 @50']);
    // a malformed value older than our last write is a lagging view: nothing to repair
    effects.length = 0;
    await tick(viewOf({ malformed: [{ ...garbage, modRevision: '5' }] }));
    expect(effects).toEqual([]);
    // with synchronous mode off it is simply removed
    await tick(viewOf({ malformed: [{ ...garbage, modRevision: '60' }] }), false);
    expect(effects).toEqual(['delete key @60']);
  });

  it('a failed ssn change stops before the key names the standby', async () => {
    const { m, effects } = harness({ failSsn: true });
    await expect(
      m.tick({
        view: viewOf(),
        dyn: dyn({ synchronous_mode: true }),
        replication: [streaming('node2')],
        retryTimeoutMs: 1000,
        responsive: ALL,
      }),
    ).rejects.toThrow('reload failed');
    expect(effects).toEqual(['key [] q=0 @null']);
  });

  it('no standby, not strict: the key is emptied before the ssn drops to asynchronous', async () => {
    const { m, effects } = harness({ inForce: 'FIRST 1 ("node2")' });
    const view = viewOf({ sync: { leader: 'node1', syncStandbys: ['node2'], quorum: 0, modRevision: '7' } });
    await m.tick({
      view,
      dyn: dyn({ synchronous_mode: true }),
      replication: [],
      retryTimeoutMs: 1000,
      responsive: ALL,
    });
    expect(effects).toEqual(['key [] q=0 @7', "ssn ''"]);
  });

  it('quorum: Patroni layout in the key (quorum = N − k)', async () => {
    const { m, effects } = harness();
    await m.tick({
      view: viewOf(),
      dyn: dyn({ synchronous_mode: 'quorum' }),
      replication: [streaming('node2'), streaming('node3')],
      retryTimeoutMs: 1000,
      responsive: ALL,
    });
    // widened first with k 0 (quorum = 2 − 0), ssn ANY 1, wait, then k 1 (quorum = 2 − 1)
    expect(effects[0]).toBe('key [node2,node3] q=2 @null');
    expect(effects[1]).toBe(`ssn 'ANY 1 ("node2","node3")'`);
    expect(effects.at(-1)).toBe('key [node2,node3] q=1 @11');
  });

  it('off: removes a leftover key', async () => {
    const { m, effects } = harness();
    const view = viewOf({ sync: { leader: 'node1', syncStandbys: ['node2'], quorum: 0, modRevision: '7' } });
    await m.tick({
      view,
      dyn: dyn({}),
      replication: [streaming('node2')],
      retryTimeoutMs: 1000,
      responsive: ALL,
    });
    expect(effects).toEqual(['delete key @7']);
    // not managed any more: the operator's own value (if any) is rendered
    expect(m.desiredSsn(view, dyn({}))).toBeNull();
  });

  const tickOf = (m: SyncManager, view: ReturnType<typeof viewOf>, d: DynamicConfig) =>
    m.tick({ view, dyn: d, replication: [streaming('node2')], retryTimeoutMs: 1000, responsive: ALL });

  it('switched off: the ssn in force stays until the guarded delete of the key has succeeded', async () => {
    const ok = harness();
    const on = dyn({ synchronous_mode: true });
    await tickOf(ok.m, viewOf(), on);
    const ssn = 'FIRST 1 ("node2")';
    expect(ok.m.desiredSsn(viewOf(), on)).toBe(ssn);
    const keyed = viewOf({
      sync: { leader: 'node1', syncStandbys: ['node2'], quorum: 0, modRevision: '12' },
    });
    // the loop renders before the leader duty: with the key still in etcd the value must hold
    expect(ok.m.desiredSsn(keyed, dyn({}))).toBe(ssn);
    await tickOf(ok.m, keyed, dyn({}));
    expect(ok.effects.at(-1)).toBe('delete key @12');
    expect(ok.m.desiredSsn(viewOf(), dyn({}))).toBeNull();

    // etcd refuses or cannot be reached: the value stays, the delete is tried again next loop
    const failing = harness({ failDelete: true });
    await tickOf(failing.m, viewOf(), on);
    await expect(tickOf(failing.m, keyed, dyn({}))).rejects.toThrow(/unavailable/);
    expect(failing.m.desiredSsn(keyed, dyn({}))).toBe(ssn);
  });

  it('a value set outside hapg (ALTER SYSTEM) is read every tick; one that breaks the key empties it first', async () => {
    const on = dyn({ synchronous_mode: true });
    const h = harness();
    await tickOf(h.m, viewOf(), on);
    expect(h.m.desiredSsn(viewOf(), on)).toBe('FIRST 1 ("node2")');
    const keyed = viewOf({
      sync: { leader: 'node1', syncStandbys: ['node2'], quorum: 0, modRevision: '12' },
    });
    // postgresql.auto.conf now says '' and a reload took it: commits no longer wait for node2
    h.alterSystem('');
    const before = h.effects.length;
    await tickOf(h.m, keyed, on);
    // no standby may be promoted on that promise: the key names nobody before anything else
    expect(h.effects.slice(before)).toEqual(['key [] q=0 @12']);
    expect(h.m.desiredSsn(keyed, on)).toBe('');
    // a foreign value that still keeps the key is only planned from
    const k = harness({ inForce: 'FIRST 2 ("node2","node3")' });
    await k.m.adoptInForce(keyed, on);
    const ours = viewOf({ sync: { leader: 'node1', syncStandbys: ['node2'], quorum: 0, modRevision: '12' } });
    await tickOf(k.m, ours, on);
    expect(k.effects.some((e) => e.startsWith('key [] '))).toBe(false);
  });

  it('a writable primary it does not manage yet keeps the value in force unless the key names it', async () => {
    const on = dyn({ synchronous_mode: true });
    const inForce = 'FIRST 1 ("node2")';
    // the agent restarted; the view shows a key of another leader (or none): the fallback ''
    // would loosen the server's value outside a guarded step
    for (const view of [
      viewOf({ sync: { leader: 'node9', syncStandbys: ['node1'], quorum: 0, modRevision: '7' } }),
      viewOf(),
    ]) {
      const { m, reads } = harness({ inForce });
      await m.adoptInForce(view, on);
      expect(reads).toEqual([inForce]);
      expect(m.desiredSsn(view, on)).toBe(inForce);
    }
    // the key names us: its own value keeps its promise, nothing to read
    const ours = viewOf({ sync: { leader: 'node1', syncStandbys: ['node3'], quorum: 0, modRevision: '7' } });
    const named = harness({ inForce });
    await named.m.adoptInForce(ours, on);
    expect(named.reads).toEqual([]);
    expect(named.m.desiredSsn(ours, on)).toBe('FIRST 1 ("node3")');
    // mode off with a key left over (restarted before the delete): keep, until the key is gone
    const leftover = harness({ inForce });
    await leftover.m.adoptInForce(ours, dyn({}));
    expect(leftover.m.desiredSsn(ours, dyn({}))).toBe(inForce);
    // mode off, no key: nothing to keep, the operator's value
    const none = harness({ inForce });
    await none.m.adoptInForce(viewOf(), dyn({}));
    expect(none.reads).toEqual([]);
    expect(none.m.desiredSsn(viewOf(), dyn({}))).toBeNull();
  });

  it('a key of another leader gives a replica the fallback ssn; our own key keeps its promise', () => {
    const { m } = harness();
    const theirs = viewOf({
      sync: { leader: 'node9', syncStandbys: ['node2'], quorum: 0, modRevision: '7' },
    });
    expect(m.desiredSsn(theirs, dyn({ synchronous_mode: true }))).toBe('');
    expect(m.desiredSsn(theirs, dyn({ synchronous_mode: true, synchronous_mode_strict: true }))).toBe('*');
    const ours = viewOf({ sync: { leader: 'node1', syncStandbys: ['node2'], quorum: 0, modRevision: '7' } });
    expect(m.desiredSsn(ours, dyn({ synchronous_mode: true }))).toBe('FIRST 1 ("node2")');
  });
});
