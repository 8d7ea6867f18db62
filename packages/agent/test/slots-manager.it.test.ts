import {
  type ClusterView,
  type DynamicConfig,
  type LeaderStatus,
  type Lsn,
  type Member,
  parseLsn,
} from '@hapg/core';
import { listReplicationSlots } from '@hapg/postgres';
import { PgHarness, type PgInstance, TEST_SUPERUSER, waitFor } from '@hapg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlotManager } from '../src/duties/slots/manager.js';

let h: PgHarness;
let p: PgInstance;
let r: PgInstance;

const log = { info: () => {}, warn: () => {} };

function view(names: string[], status: LeaderStatus | null): ClusterView {
  return {
    scope: 's',
    revision: '1',
    initialize: '1',
    leader: null,
    members: new Map(names.map((n) => [n, { name: n } as unknown as Member])),
    config: null,
    failover: null,
    sync: null,
    history: null,
    status,
    malformed: [],
  };
}

const dyn = {
  memberSlotsTtlMs: 60_000,
  slots: {
    cdc: { type: 'logical', database: 'app', plugin: 'pgoutput' },
    perm_phys: { type: 'physical', database: null, plugin: null },
  },
  ignoreSlots: [{ name: 'external', type: null, database: null, plugin: null }],
  postgresql: { useSlots: true },
} as unknown as DynamicConfig;

const lsnOf = async (inst: PgInstance, expr: string): Promise<Lsn> =>
  parseLsn((await h.sql<{ l: string }>(inst, `SELECT ${expr}::text AS l`))[0]!.l);

const connectIn = (inst: PgInstance) => (database: string) => ({
  host: '127.0.0.1',
  port: inst.port,
  user: TEST_SUPERUSER.username,
  password: TEST_SUPERUSER.password,
  database,
  connectTimeoutMs: 3000,
  queryTimeoutMs: 15_000,
});

beforeAll(async () => {
  h = await PgHarness.create({ count: 2, namePrefix: 'sm', parameters: { wal_level: 'logical' } });
  [p, r] = h.instances as [PgInstance, PgInstance];
  await h.startPrimary(p);
  await h.sql(p, 'CREATE DATABASE app');
});

afterAll(async () => {
  await h?.teardown();
});

describe('SlotManager against real servers', () => {
  let status: LeaderStatus;

  it('on the primary: member, permanent physical and logical (in its own database) slots; strays dropped, ignored kept', async () => {
    await h.sql(p, "SELECT pg_create_physical_replication_slot('stray')");
    await h.sql(p, "SELECT pg_create_physical_replication_slot('external')");
    const m = new SlotManager({ name: p.name, log, connectIn: connectIn(p) });
    const flush = await lsnOf(p, 'pg_current_wal_flush_lsn()');
    const res = await m.tick({
      role: 'primary',
      view: view([p.name, r.name], null),
      dyn,
      nowMs: 0,
      node: p.node,
      flushLsn: flush,
    });
    expect(res.failed).toEqual([]);
    expect([...res.created].sort()).toEqual(['cdc', 'perm_phys', r.name].sort());
    expect(res.dropped).toEqual(['stray']);
    const slots = await listReplicationSlots(p.node);
    expect(slots.map((s) => [s.name, s.type, s.database])).toEqual([
      ['cdc', 'logical', 'app'],
      ['external', 'physical', null],
      ['perm_phys', 'physical', null],
      [r.name, 'physical', null],
    ]);
    expect(Object.keys(res.status.slots).sort()).toEqual(['cdc', 'perm_phys', p.name, r.name].sort());
    expect(res.status.retainSlots).toEqual([r.name]);

    // idempotent: nothing more to do
    const again = await m.tick({
      role: 'primary',
      view: view([p.name, r.name], null),
      dyn,
      nowMs: 1,
      node: p.node,
      flushLsn: flush,
    });
    expect(again).toMatchObject({ created: [], dropped: [], advanced: [], failed: [] });
    status = { optime: Number(flush), slots: again.status.slots, retainSlots: again.status.retainSlots };
  });

  it('on a standby: copies the physical slots and advances them to the leader positions', async () => {
    await h.cloneReplica(p, r, { slot: true });
    const m = new SlotManager({ name: r.name, log, connectIn: connectIn(r) });
    const tick = async (st: LeaderStatus, nowMs: number) =>
      m.tick({
        role: 'replica',
        view: view([p.name, r.name], st),
        dyn,
        nowMs,
        node: r.node,
        replayLsn: await lsnOf(r, 'pg_last_wal_replay_lsn()'),
      });
    const first = await tick(status, 0);
    expect(first.failed).toEqual([]);
    expect([...first.created].sort()).toEqual(['perm_phys', p.name].sort());
    // the logical permanent slot cannot be created on a PG 15 standby (pg_basebackup copies no slots)
    expect((await listReplicationSlots(r.node)).map((s) => s.name)).toEqual(['perm_phys', p.name]);

    await h.sql(p, 'CREATE TABLE w AS SELECT generate_series(1, 20000) AS v');
    const flush = await lsnOf(p, 'pg_current_wal_flush_lsn()');
    await waitFor(async () => (await lsnOf(r, 'pg_last_wal_replay_lsn()')) >= flush, {
      timeoutMs: 30_000,
      what: 'standby replayed',
    });
    const before = new Map((await listReplicationSlots(r.node)).map((s) => [s.name, s.restartLsn]));
    const moved = await tick({ ...status, slots: { ...status.slots, [p.name]: Number(flush) } }, 1000);
    expect(moved.failed).toEqual([]);
    expect(moved.advanced).toEqual([p.name]);
    const after = new Map((await listReplicationSlots(r.node)).map((s) => [s.name, s.restartLsn]));
    expect(after.get(p.name)! > before.get(p.name)!).toBe(true);
    expect(after.get(p.name)!).toBe(flush);
    expect(after.get('perm_phys')).toBe(before.get('perm_phys'));
  });
});
