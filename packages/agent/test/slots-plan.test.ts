import type { IgnoreSlotRule, Lsn } from '@hapg/core';
import type { ReplicationSlot } from '@hapg/postgres';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isIgnored } from '../src/duties/slots/ignore.js';
import {
  isRealMember,
  type MemberSighting,
  planSlots,
  type SlotPlanInput,
  type SlotSettings,
  slotStatus,
} from '../src/duties/slots/plan.js';
import { slotNameFor } from '../src/duties/slots/names.js';

const MIN = 60_000;
const NOW = 100 * MIN;
const TTL = 30 * MIN;

const settings = (over: Partial<SlotSettings> = {}): SlotSettings => ({
  useSlots: true,
  slots: {},
  ignoreSlots: [],
  memberSlotsTtlMs: TTL,
  ...over,
});

const present = (name: string): MemberSighting => ({ name, inView: true, lastSeenMs: NOW });
const goneFor = (name: string, ms: number): MemberSighting => ({ name, inView: false, lastSeenMs: NOW - ms });

const phys = (name: string, over: Partial<ReplicationSlot> = {}): ReplicationSlot => ({
  name,
  type: 'physical',
  database: null,
  plugin: null,
  active: false,
  temporary: false,
  restartLsn: 1000n as Lsn,
  confirmedFlushLsn: null,
  ...over,
});

const logical = (
  name: string,
  database: string,
  plugin: string,
  over: Partial<ReplicationSlot> = {},
): ReplicationSlot => ({
  name,
  type: 'logical',
  database,
  plugin,
  active: false,
  temporary: false,
  restartLsn: 900n as Lsn,
  confirmedFlushLsn: 1000n as Lsn,
  ...over,
});

const input = (over: Partial<SlotPlanInput> = {}): SlotPlanInput => ({
  role: 'primary',
  self: 'node1',
  members: [present('node1'), present('node2'), present('node3')],
  nowMs: NOW,
  settings: settings(),
  existing: [],
  leaderSlots: {},
  retainSlots: [],
  ...over,
});

const rule = (r: Partial<IgnoreSlotRule>): IgnoreSlotRule => ({
  name: null,
  type: null,
  database: null,
  plugin: null,
  ...r,
});

const names = (specs: readonly { name: string }[]) => specs.map((s) => s.name).sort();

describe('planSlots on the primary: member slots', () => {
  it('creates one physical slot per other member, none for itself', () => {
    const plan = planSlots(input());
    expect(plan.create).toEqual([
      { name: 'node2', type: 'physical' },
      { name: 'node3', type: 'physical' },
    ]);
    expect(plan.drop).toEqual([]);
    expect(plan.advance).toEqual([]);
    expect(plan.retainSlots).toEqual(['node2', 'node3']);
  });

  it('uses Patroni slot names for member names with upper case and dashes', () => {
    const plan = planSlots(input({ members: [present('node1'), present('Node-2.b')] }));
    expect(plan.create).toEqual([{ name: 'node_2_b', type: 'physical' }]);
  });

  it('does nothing when the member slots exist', () => {
    const plan = planSlots(input({ existing: [phys('node2', { active: true }), phys('node3')] }));
    expect(plan).toMatchObject({ create: [], drop: [], advance: [] });
  });

  it('keeps the slot of a member gone for less than member_slots_ttl, and says so in retain_slots', () => {
    const plan = planSlots(
      input({ members: [present('node1'), goneFor('node2', TTL - 1)], existing: [phys('node2')] }),
    );
    expect(plan.drop).toEqual([]);
    expect(plan.retainSlots).toEqual(['node2']);
  });

  it('recreates the slot of a briefly absent member if it was lost', () => {
    const plan = planSlots(input({ members: [present('node1'), goneFor('node2', 5_000)] }));
    expect(plan.create).toEqual([{ name: 'node2', type: 'physical' }]);
  });

  it('drops the slot of a member gone for member_slots_ttl or longer', () => {
    const plan = planSlots(
      input({ members: [present('node1'), goneFor('node2', TTL)], existing: [phys('node2')] }),
    );
    expect(plan.drop).toEqual(['node2']);
    expect(plan.retainSlots).toEqual([]);
  });

  it('keeps an expired member slot that is still active (a walsender holds it)', () => {
    const plan = planSlots(
      input({
        members: [present('node1'), goneFor('node2', 2 * TTL)],
        existing: [phys('node2', { active: true })],
      }),
    );
    expect(plan.drop).toEqual([]);
    expect(plan.notes.map((n) => n.code)).toEqual(['ACTIVE_KEPT']);
  });

  it('with use_slots off touches nothing: no member slots, no drops, no permanent slots', () => {
    const plan = planSlots(
      input({
        settings: settings({
          useSlots: false,
          slots: { perm: { type: 'physical', database: null, plugin: null } },
        }),
        existing: [phys('stray')],
      }),
    );
    expect(plan).toMatchObject({ create: [], drop: [], advance: [], retainSlots: [] });
  });
});

describe('planSlots on the primary: permanent and unknown slots', () => {
  const permanent = {
    perm_phys: { type: 'physical', database: null, plugin: null },
    perm_logi: { type: 'logical', database: 'app', plugin: 'pgoutput' },
  } as const;

  it('creates permanent physical and logical slots', () => {
    const plan = planSlots(input({ members: [present('node1')], settings: settings({ slots: permanent }) }));
    expect(plan.create).toEqual([
      { name: 'perm_logi', type: 'logical', database: 'app', plugin: 'pgoutput' },
      { name: 'perm_phys', type: 'physical' },
    ]);
    expect(plan.managed).toEqual(['perm_logi', 'perm_phys']);
  });

  it('never drops a configured permanent slot, active or not', () => {
    const plan = planSlots(
      input({
        members: [present('node1')],
        settings: settings({ slots: permanent }),
        existing: [phys('perm_phys'), logical('perm_logi', 'app', 'pgoutput')],
      }),
    );
    expect(plan).toMatchObject({ create: [], drop: [] });
  });

  it('drops and recreates an inactive permanent slot whose type, database or plugin changed', () => {
    const plan = planSlots(
      input({
        members: [present('node1')],
        settings: settings({ slots: permanent }),
        existing: [phys('perm_phys'), logical('perm_logi', 'app', 'test_decoding')],
      }),
    );
    expect(plan.drop).toEqual(['perm_logi']);
    expect(plan.create).toEqual([
      { name: 'perm_logi', type: 'logical', database: 'app', plugin: 'pgoutput' },
    ]);
    expect(plan.notes.map((n) => n.code)).toEqual(['MISMATCH_RECREATE']);
  });

  it('leaves a mismatched permanent slot alone while it is active', () => {
    const plan = planSlots(
      input({
        members: [present('node1')],
        settings: settings({ slots: permanent }),
        existing: [phys('perm_phys'), logical('perm_logi', 'other', 'pgoutput', { active: true })],
      }),
    );
    expect(plan).toMatchObject({ create: [], drop: [] });
  });

  it('skips a permanent physical slot named after this node, and lets a member slot win a name clash', () => {
    const plan = planSlots(
      input({
        settings: settings({
          slots: {
            node1: { type: 'physical', database: null, plugin: null },
            node2: { type: 'logical', database: 'app', plugin: 'pgoutput' },
          },
        }),
      }),
    );
    expect(plan.create).toEqual([
      { name: 'node2', type: 'physical' },
      { name: 'node3', type: 'physical' },
    ]);
    expect(plan.notes.map((n) => [n.code, n.slot])).toEqual([['NAME_TAKEN_BY_MEMBER', 'node2']]);
  });

  it('skips a permanent slot whose name Postgres would reject', () => {
    const plan = planSlots(
      input({
        members: [present('node1')],
        settings: settings({ slots: { 'Bad-Name': { type: 'physical', database: null, plugin: null } } }),
      }),
    );
    expect(plan.create).toEqual([]);
    expect(plan.notes.map((n) => n.code)).toEqual(['INVALID_SLOT_NAME']);
  });

  it('drops unknown inactive slots of both types (Patroni), but never active or temporary ones', () => {
    const plan = planSlots(
      input({
        members: [present('node1')],
        existing: [
          phys('stray_phys'),
          logical('stray_logi', 'app', 'pgoutput'),
          phys('busy', { active: true }),
          phys('pg_basebackup_123', { temporary: true, active: true }),
          phys('tmp_idle', { temporary: true }),
        ],
      }),
    );
    expect([...plan.drop].sort()).toEqual(['stray_logi', 'stray_phys']);
  });
});

describe('ignore_slots', () => {
  const cases: [string, IgnoreSlotRule, ReplicationSlot, boolean][] = [
    ['name only matches a physical slot', rule({ name: 'x' }), phys('x'), true],
    ['name only matches a logical slot', rule({ name: 'x' }), logical('x', 'db', 'pgoutput'), true],
    ['other name', rule({ name: 'x' }), phys('y'), false],
    ['type logical does not match physical', rule({ name: 'x', type: 'logical' }), phys('x'), false],
    ['database never matches a physical slot', rule({ name: 'x', database: 'db' }), phys('x'), false],
    [
      'database + plugin, any name',
      rule({ database: 'db', plugin: 'wal2json' }),
      logical('z', 'db', 'wal2json'),
      true,
    ],
    ['plugin differs', rule({ database: 'db', plugin: 'wal2json' }), logical('z', 'db', 'pgoutput'), false],
    ['type physical matches every physical slot', rule({ type: 'physical' }), phys('any'), true],
    ['the empty rule matches everything (Patroni)', rule({}), logical('z', 'db', 'p'), true],
  ];
  it.each(cases)('%s', (_label, r, slot, expected) => {
    expect(isIgnored(slot, [r])).toBe(expected);
  });

  it('an ignored slot is neither dropped nor recreated, even when unknown or mismatched', () => {
    const plan = planSlots(
      input({
        members: [present('node1')],
        settings: settings({
          slots: { cdc: { type: 'logical', database: 'app', plugin: 'pgoutput' } },
          ignoreSlots: [rule({ name: 'debezium' }), rule({ name: 'cdc' })],
        }),
        existing: [logical('debezium', 'app', 'pgoutput'), logical('cdc', 'app', 'wal2json')],
      }),
    );
    expect(plan).toMatchObject({ create: [], drop: [] });
  });
});

describe('planSlots on a replica', () => {
  const perm = { perm_phys: { type: 'physical', database: null, plugin: null } } as const;
  const replica = (over: Partial<SlotPlanInput> = {}) => input({ role: 'replica', self: 'node2', ...over });

  it('creates member and permanent physical slots the leader publishes positions for, not its own', () => {
    const plan = planSlots(
      replica({
        settings: settings({ slots: perm }),
        leaderSlots: { node1: 5000, node2: 5000, node3: 4000, perm_phys: 3000 },
      }),
    );
    expect(names(plan.create)).toEqual(['node1', 'node3', 'perm_phys']);
    expect(plan.retainSlots).toEqual([]);
  });

  it('does not create a slot the leader publishes no position for (it would pin WAL forever)', () => {
    const plan = planSlots(replica({ settings: settings({ slots: perm }), leaderSlots: { node1: 5000 } }));
    expect(names(plan.create)).toEqual(['node1']);
    expect(plan.notes.map((n) => [n.code, n.slot])).toEqual([
      ['NO_LEADER_POSITION', 'node3'],
      ['NO_LEADER_POSITION', 'perm_phys'],
    ]);
  });

  it('keeps the slots named in the leader status retain_slots, even for members it never saw', () => {
    const plan = planSlots(
      replica({
        members: [present('node1'), present('node2')],
        retainSlots: ['node4'],
        existing: [phys('node4'), phys('stray')],
        leaderSlots: { node1: 10, node4: 10 },
      }),
    );
    expect(plan.drop).toEqual(['stray']);
    expect(names(plan.create)).toEqual(['node1']);
  });

  it('advances physical slots to the leader position, capped at its own replay position', () => {
    const plan = planSlots(
      replica({
        members: [present('node1'), present('node2'), present('node3')],
        settings: settings({ slots: perm }),
        existing: [
          phys('node1', { restartLsn: 1000n as Lsn }),
          phys('node3', { restartLsn: 5000n as Lsn }),
          phys('perm_phys', { restartLsn: 1000n as Lsn }),
        ],
        leaderSlots: { node1: 4000, node3: 4500, perm_phys: 9000 },
        replayLsn: 6000n as Lsn,
      }),
    );
    expect(plan.advance).toEqual([
      { name: 'node1', lsn: 4000n, database: null },
      { name: 'perm_phys', lsn: 6000n, database: null },
    ]);
    expect(plan.create).toEqual([]);
  });

  it('never creates a logical slot on a standby, but advances one that exists', () => {
    const logi = { cdc: { type: 'logical', database: 'app', plugin: 'pgoutput' } } as const;
    const missing = planSlots(
      replica({ members: [present('node2')], settings: settings({ slots: logi }), leaderSlots: { cdc: 10 } }),
    );
    expect(missing.create).toEqual([]);
    expect(missing.notes.map((n) => n.code)).toEqual(['LOGICAL_ON_STANDBY']);

    const present2 = planSlots(
      replica({
        members: [present('node2')],
        settings: settings({ slots: logi }),
        existing: [logical('cdc', 'app', 'pgoutput', { confirmedFlushLsn: 100n as Lsn })],
        leaderSlots: { cdc: 700 },
      }),
    );
    expect(present2.advance).toEqual([{ name: 'cdc', lsn: 700n, database: 'app' }]);
  });

  it('reports a slot that reserved no WAL instead of advancing it', () => {
    const plan = planSlots(
      replica({
        members: [present('node1'), present('node2')],
        existing: [phys('node1', { restartLsn: null })],
        leaderSlots: { node1: 10 },
      }),
    );
    expect(plan.advance).toEqual([]);
    expect(plan.notes.map((n) => n.code)).toEqual(['NOT_RESERVED']);
  });
});

describe('slotStatus', () => {
  it('publishes restart LSN of physical, confirmed flush of logical slots, skipping temporary and unreserved', () => {
    const existing = [
      phys('a', { restartLsn: 111n as Lsn }),
      logical('b', 'db', 'p', { restartLsn: 50n as Lsn, confirmedFlushLsn: 222n as Lsn }),
      phys('tmp', { temporary: true }),
      phys('none', { restartLsn: null }),
      phys('ignored'),
    ];
    expect(slotStatus(existing)).toEqual({ a: 111, b: 222, ignored: 1000 });
    expect(slotStatus(existing, ['a', 'b'])).toEqual({ a: 111, b: 222 });
  });
});

// ---- properties ----

const slotName = fc.constantFrom(
  'node1',
  'node2',
  'node3',
  'node4',
  'perm_a',
  'perm_b',
  'cdc',
  'stray',
  'tmp',
);
const arbSlot: fc.Arbitrary<ReplicationSlot> = fc
  .record({
    name: slotName,
    logical: fc.boolean(),
    db: fc.constantFrom('app', 'postgres'),
    plugin: fc.constantFrom('pgoutput', 'test_decoding'),
    active: fc.boolean(),
    temporary: fc.boolean(),
    lsn: fc.option(fc.bigInt({ min: 0n, max: 10_000n }), { nil: null }),
  })
  .map((r) =>
    r.logical
      ? logical(r.name, r.db, r.plugin, {
          active: r.active,
          temporary: r.temporary,
          confirmedFlushLsn: r.lsn as Lsn | null,
        })
      : phys(r.name, { active: r.active, temporary: r.temporary, restartLsn: r.lsn as Lsn | null }),
  );
const arbInput: fc.Arbitrary<SlotPlanInput> = fc
  .record({
    role: fc.constantFrom('primary' as const, 'replica' as const),
    self: fc.constantFrom('node1', 'node2'),
    members: fc.uniqueArray(
      fc.record({
        name: fc.constantFrom('node1', 'node2', 'node3', 'node4'),
        inView: fc.boolean(),
        agoMs: fc.nat(2 * TTL),
      }),
      { selector: (m) => m.name },
    ),
    permanent: fc.dictionary(
      fc.constantFrom('perm_a', 'perm_b', 'cdc', 'node3'),
      fc.oneof(
        fc.constant({ type: 'physical' as const, database: null, plugin: null }),
        fc.constant({ type: 'logical' as const, database: 'app', plugin: 'pgoutput' }),
      ),
    ),
    ignore: fc.array(
      fc.record({
        name: fc.option(slotName, { nil: null }),
        type: fc.constantFrom(null, 'physical' as const, 'logical' as const),
        database: fc.constantFrom(null, 'app'),
        plugin: fc.constant(null),
      }),
      { maxLength: 2 },
    ),
    existing: fc.uniqueArray(arbSlot, { selector: (s) => s.name }),
    leaderSlots: fc.dictionary(slotName, fc.nat(20_000)),
    retain: fc.array(slotName, { maxLength: 3 }),
  })
  .map((r) => ({
    role: r.role,
    self: r.self,
    members: r.members.map((m) => ({
      name: m.name,
      inView: m.inView,
      lastSeenMs: m.inView ? NOW : NOW - m.agoMs,
    })),
    nowMs: NOW,
    settings: settings({ slots: r.permanent, ignoreSlots: r.ignore }),
    existing: r.existing,
    leaderSlots: r.leaderSlots,
    retainSlots: r.retain,
    replayLsn: null,
  }));

describe('planSlots properties', () => {
  it('never drops a permanent, ignored, active or temporary slot', () => {
    fc.assert(
      fc.property(arbInput, (inp) => {
        const plan = planSlots(inp);
        const byName = new Map(inp.existing.map((s) => [s.name, s]));
        for (const name of plan.drop) {
          const s = byName.get(name)!;
          expect(s).toBeDefined();
          expect(s.active).toBe(false);
          expect(s.temporary).toBe(false);
          expect(isIgnored(s, inp.settings.ignoreSlots)).toBe(false);
          // a managed slot (member or permanent) is only ever dropped to be recreated in its wanted shape
          if (inp.settings.slots[name]) expect(plan.managed).toContain(name);
          if (plan.managed.includes(name)) expect(plan.create.map((c) => c.name)).toContain(name);
        }
      }),
    );
  });

  it('on a primary with use_slots, every other present member ends up with a slot', () => {
    fc.assert(
      fc.property(arbInput, (base) => {
        const inp = { ...base, role: 'primary' as const };
        const plan = planSlots(inp);
        const dropped = new Set(plan.drop);
        const created = new Set(plan.create.map((c) => c.name));
        for (const m of inp.members) {
          if (!m.inView || m.name === inp.self) continue;
          const slot = slotNameFor(m.name);
          const have = inp.existing.find((s) => s.name === slot);
          const kept = have !== undefined && !dropped.has(slot);
          // an existing slot of the wrong shape that is active or ignored is left as it is
          expect(created.has(slot) || kept).toBe(true);
        }
      }),
    );
  });

  it('never creates a logical slot on a replica, and never advances on a primary or backwards', () => {
    fc.assert(
      fc.property(arbInput, (inp) => {
        const plan = planSlots(inp);
        if (inp.role === 'replica') expect(plan.create.every((c) => c.type === 'physical')).toBe(true);
        else expect(plan.advance).toEqual([]);
        for (const a of plan.advance) {
          const s = inp.existing.find((e) => e.name === a.name)!;
          const current = s.type === 'logical' ? s.confirmedFlushLsn : s.restartLsn;
          expect(current !== null && a.lsn > current).toBe(true);
        }
      }),
    );
  });
});

describe('isRealMember (issue 11: slots only for real members)', () => {
  it.each([
    ['an agent: key bound to its lease', 'node1', '7587', true],
    ['a name Patroni maps to a slot (node-1 → node_1)', 'node-1', '7587', true],
    ['another tool: no lease', 'junk4', null, false],
    ['no lease, however plausible the name', 'node2', null, false],
    ['a name no slot can have (over 63 characters)', 'n'.repeat(64), '7587', false],
    ['63 characters is fine', 'n'.repeat(63), '7587', true],
  ])('%s', (_what, name, leaseId, real) => {
    expect(isRealMember({ name, leaseId })).toBe(real);
  });
});

describe('planSlots with cascading replicas (replicatefrom)', () => {
  // n1 leads; n3 streams from n2
  const upstreams = { n1: 'n1', n2: 'n1', n3: 'n2' };
  const members = [present('n1'), present('n2'), present('n3')];

  it('the leader keeps no slot for a member that streams from another: an old one is dropped', () => {
    const plan = planSlots(
      input({ role: 'primary', self: 'n1', members, upstreams, existing: [phys('n3')] }),
    );
    expect(plan.create.map((s) => s.name)).toEqual(['n2']);
    expect(plan.drop).toEqual(['n3']);
    expect(plan.retainSlots).toEqual(['n2']);
  });

  it('its upstream creates its slot at once (no leader position needed) and never moves it', () => {
    const created = planSlots(
      input({ role: 'replica', self: 'n2', members, upstreams, leaderSlots: {}, existing: [] }),
    );
    expect(created.create.map((s) => s.name)).toEqual(['n3']);
    const live = planSlots(
      input({
        role: 'replica',
        self: 'n2',
        members,
        upstreams,
        leaderSlots: { n3: 5000 },
        existing: [phys('n3', { active: true, restartLsn: 2000n as Lsn })],
        replayLsn: 9000n as Lsn,
      }),
    );
    expect(live.advance).toEqual([]);
    expect(live.drop).toEqual([]);
  });

  it('another replica is untouched by the cascade: copies wait for the leader position', () => {
    const plan = planSlots(
      input({ role: 'replica', self: 'n3', members, upstreams, leaderSlots: { n2: 3000 } }),
    );
    expect(plan.create.map((s) => s.name)).toEqual(['n2']);
  });
});
