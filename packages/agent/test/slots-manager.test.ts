import { type ClusterView, type DynamicConfig, formatLsn, type Lsn, type Member, parseLsn } from '@hapg/core';
import { describe, expect, it } from 'vitest';
import { SlotManager } from '../src/duties/slots/manager.js';

const MIN = 60_000;

/** An in-memory pg_replication_slots answering exactly the statements @hapg/postgres sends. */
class FakeSlots {
  rows = new Map<
    string,
    { type: string; database: string | null; plugin: string | null; active: boolean; lsn: Lsn }
  >();
  statements: string[] = [];
  failCreate = false;

  query = async <R>(text: string, values: readonly unknown[] = []): Promise<R[]> => {
    this.statements.push(text);
    const name = values[0] as string;
    if (text.includes('ORDER BY slot_name')) {
      return [...this.rows]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([n, r]) => ({
          slot_name: n,
          slot_type: r.type,
          database: r.database,
          plugin: r.plugin,
          active: r.active,
          temporary: false,
          restart_lsn: formatLsn(r.lsn),
          confirmed_flush_lsn: r.type === 'logical' ? formatLsn(r.lsn) : null,
        })) as R[];
    }
    if (text.includes('pg_create_physical_replication_slot')) {
      if (this.failCreate) throw new Error('out of replication slots');
      if (this.rows.has(name)) return [];
      this.rows.set(name, {
        type: 'physical',
        database: null,
        plugin: null,
        active: false,
        lsn: 100n as Lsn,
      });
      return [{ created: true }] as R[];
    }
    if (text.includes('pg_drop_replication_slot')) return (this.rows.delete(name) ? [{}] : []) as R[];
    if (text.includes('pg_replication_slot_advance')) {
      const r = this.rows.get(name);
      if (!r) return [];
      r.lsn = parseLsn(values[1] as string);
      return [{ end_lsn: values[1] }] as R[];
    }
    throw new Error(`unexpected statement: ${text}`);
  };
}

/** an agent's member key is bound to its lease; `leaseId: null` is another tool's */
const member = (name: string, leaseId: string | null = '7'): Member =>
  ({
    name,
    connUrl: '',
    apiUrl: '',
    state: 'running',
    role: 'replica',
    tags: {},
    leaseId,
  }) as unknown as Member;

function view(names: string[], status: ClusterView['status'] = null, fakes: string[] = []): ClusterView {
  return {
    scope: 's',
    revision: '1',
    initialize: '1',
    leader: null,
    members: new Map([
      ...names.map((n) => [n, member(n)] as const),
      ...fakes.map((n) => [n, member(n, null)] as const),
    ]),
    config: null,
    failover: null,
    sync: null,
    history: null,
    status,
    malformed: [],
  };
}

const dyn = (over: Partial<DynamicConfig> = {}): DynamicConfig =>
  ({
    memberSlotsTtlMs: 30 * MIN,
    slots: {},
    ignoreSlots: [],
    postgresql: { useSlots: true },
    ...over,
  }) as unknown as DynamicConfig;

const logs: string[] = [];
const log = { info: (_o: object, m: string) => logs.push(m), warn: (_o: object, m: string) => logs.push(m) };

describe('SlotManager.tick', () => {
  it('on the primary: creates member slots, publishes positions with its own flush LSN and retain_slots', async () => {
    const pg = new FakeSlots();
    const m = new SlotManager({ name: 'a', log });
    const res = await m.tick({
      role: 'primary',
      view: view(['a', 'b', 'c']),
      dyn: dyn(),
      nowMs: 0,
      node: pg,
      flushLsn: 4242n as Lsn,
    });
    expect(res.created).toEqual(['b', 'c']);
    expect(res.failed).toEqual([]);
    expect(res.status).toEqual({ slots: { a: 4242, b: 100, c: 100 }, retainSlots: ['b', 'c'] });
  });

  it('keeps a vanished member slot for member_slots_ttl, then drops it', async () => {
    const pg = new FakeSlots();
    const m = new SlotManager({ name: 'a', log });
    await m.tick({ role: 'primary', view: view(['a', 'b']), dyn: dyn(), nowMs: 0, node: pg });
    const during = await m.tick({
      role: 'primary',
      view: view(['a']),
      dyn: dyn(),
      nowMs: 29 * MIN,
      node: pg,
    });
    expect(during.dropped).toEqual([]);
    expect(during.status.retainSlots).toEqual(['b']);
    const after = await m.tick({ role: 'primary', view: view(['a']), dyn: dyn(), nowMs: 30 * MIN, node: pg });
    expect(after.dropped).toEqual(['b']);
    expect(after.status.retainSlots).toEqual([]);
    expect([...pg.rows.keys()]).toEqual([]);
  });

  it('a freshly started leader keeps the slots the previous status key retained', async () => {
    const pg = new FakeSlots();
    pg.rows.set('gone', { type: 'physical', database: null, plugin: null, active: false, lsn: 100n as Lsn });
    const m = new SlotManager({ name: 'a', log });
    const status = { optime: 1, slots: {}, retainSlots: ['gone'] };
    const first = await m.tick({
      role: 'primary',
      view: view(['a'], status),
      dyn: dyn(),
      nowMs: 10 * MIN,
      node: pg,
    });
    expect(first.dropped).toEqual([]);
    expect(first.status.retainSlots).toEqual(['gone']);
    // the clock starts at the first sighting, not at the old leader's
    const later = await m.tick({
      role: 'primary',
      view: view(['a'], status),
      dyn: dyn(),
      nowMs: 40 * MIN,
      node: pg,
    });
    expect(later.dropped).toEqual(['gone']);
  });

  it('on a replica: creates slots the leader publishes, advances them, publishes nothing', async () => {
    const pg = new FakeSlots();
    const m = new SlotManager({ name: 'b', log });
    const status = { optime: 900, slots: { a: 900, b: 800, c: 700 }, retainSlots: ['b', 'c'] };
    const first = await m.tick({
      role: 'replica',
      view: view(['a', 'b', 'c'], status),
      dyn: dyn(),
      nowMs: 0,
      node: pg,
      replayLsn: 850n as Lsn,
    });
    expect(first.created).toEqual(['a', 'c']);
    expect(first.status).toEqual({ slots: {}, retainSlots: [] });
    const second = await m.tick({
      role: 'replica',
      view: view(['a', 'b', 'c'], status),
      dyn: dyn(),
      nowMs: 1000,
      node: pg,
      replayLsn: 850n as Lsn,
    });
    expect(second.advanced).toEqual(['a', 'c']);
    expect(pg.rows.get('a')!.lsn).toBe(850n);
    expect(pg.rows.get('c')!.lsn).toBe(700n);
  });

  it('fake member keys (no lease, or a name no slot can have) get no slot, on the primary or a replica (issue 11)', async () => {
    const long = `x${'y'.repeat(70)}`;
    const pg = new FakeSlots();
    const m = new SlotManager({ name: 'a', log });
    const fakes = ['junk4', 'bad name', 'BAD_NAME'];
    const onPrimary = await m.tick({
      role: 'primary',
      view: {
        ...view(['a', 'b'], null, fakes),
        members: new Map([...view(['a', 'b'], null, fakes).members, [long, member(long)]]),
      },
      dyn: dyn(),
      nowMs: 0,
      node: pg,
    });
    expect(onPrimary.created).toEqual(['b']);
    expect(onPrimary.status.retainSlots).toEqual(['b']);
    const rpg = new FakeSlots();
    const r = new SlotManager({ name: 'b', log });
    const status = { optime: 900, slots: { a: 900, junk4: 900 }, retainSlots: [] };
    const onReplica = await r.tick({
      role: 'replica',
      view: view(['a', 'b'], status, fakes),
      dyn: dyn(),
      nowMs: 0,
      node: rpg,
    });
    expect(onReplica.created).toEqual(['a']);
  });

  it('a status key another tool wrote while we lead plants no slot; the first tick as leader still trusts it', async () => {
    const pg = new FakeSlots();
    const m = new SlotManager({ name: 'a', log });
    await m.tick({ role: 'primary', view: view(['a', 'b']), dyn: dyn(), nowMs: 0, node: pg });
    const hostile = { optime: 1, slots: { junk: 1 }, retainSlots: ['junk', 'b'] };
    const later = await m.tick({
      role: 'primary',
      view: view(['a', 'b'], hostile),
      dyn: dyn(),
      nowMs: 1000,
      node: pg,
    });
    expect(later.created).toEqual([]);
    expect([...pg.rows.keys()]).toEqual(['b']);
    // after a failover (role change), the previous leader's retain_slots are honoured
    await m.tick({ role: 'replica', view: view(['a', 'b']), dyn: dyn(), nowMs: 2000, node: pg });
    const promoted = await m.tick({
      role: 'primary',
      view: view(['a', 'b'], hostile),
      dyn: dyn(),
      nowMs: 3000,
      node: pg,
    });
    expect(promoted.created).toEqual(['junk']);
  });

  it('never throws: a failing Postgres is reported in failed and logged once per condition', async () => {
    const pg = new FakeSlots();
    pg.failCreate = true;
    const m = new SlotManager({ name: 'a', log });
    const res = await m.tick({ role: 'primary', view: view(['a', 'b']), dyn: dyn(), nowMs: 0, node: pg });
    expect(res.failed).toEqual([
      { slot: 'b', op: 'create', error: expect.stringContaining('out of replication slots') },
    ]);
    const down = { query: () => Promise.reject(new Error('connection refused')) };
    const res2 = await m.tick({ role: 'primary', view: view(['a', 'b']), dyn: dyn(), nowMs: 0, node: down });
    expect(res2.failed).toHaveLength(1);
    expect(res2.status).toEqual({ slots: {}, retainSlots: [] });
  });
});
