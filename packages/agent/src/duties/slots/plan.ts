/**
 * Replication slot planning: a pure function from what this server has and
 * what the cluster wants to the slots to create, drop and advance. No I/O, no
 * clock: the caller passes `nowMs` and each member's `lastSeenMs`.
 */
import type { DynamicConfig, IgnoreSlotRule, Lsn, Member, SlotConfig } from '@hapg/core';
import type { ReplicationSlot } from '@hapg/postgres';
import { isIgnored } from './ignore.js';
import { isValidSlotName, slotNameFor } from './names.js';

export type SlotSpec =
  | { readonly name: string; readonly type: 'physical' }
  | { readonly name: string; readonly type: 'logical'; readonly database: string; readonly plugin: string };

/** The part of the dynamic config slots depend on. */
export interface SlotSettings {
  readonly useSlots: boolean;
  /** permanent slots (`slots`) */
  readonly slots: Readonly<Record<string, SlotConfig>>;
  readonly ignoreSlots: readonly IgnoreSlotRule[];
  readonly memberSlotsTtlMs: number;
}

export function slotSettingsFrom(dyn: DynamicConfig): SlotSettings {
  return {
    useSlots: dyn.postgresql.useSlots,
    slots: dyn.slots,
    ignoreSlots: dyn.ignoreSlots,
    memberSlotsTtlMs: dyn.memberSlotsTtlMs,
  };
}

/**
 * A member a slot is kept for: its key is bound to a lease — an agent's always is, and etcd
 * deletes such a key when the lease ends, while another tool's (`etcdctl put
 * …/members/junk4`) is bound to none — and its name gives a valid slot name. Fake member keys
 * used to create a slot on every node, holding WAL back for member_slots_ttl after they were
 * gone (issue 11).
 */
export function isRealMember(m: Pick<Member, 'name' | 'leaseId'>): boolean {
  return m.leaseId !== null && isValidSlotName(slotNameFor(m.name));
}

export interface MemberSighting {
  readonly name: string;
  /** in the current cluster view (its member key exists) */
  readonly inView: boolean;
  /** last time (caller's monotonic clock) it was in the view */
  readonly lastSeenMs: number;
}

export interface SlotPlanInput {
  readonly role: 'primary' | 'replica';
  /** this member's name */
  readonly self: string;
  readonly members: readonly MemberSighting[];
  readonly nowMs: number;
  readonly settings: SlotSettings;
  /** the slots on this server now */
  readonly existing: readonly ReplicationSlot[];
  /** `status.slots`: the leader's slot positions (bytes); replicas advance to them */
  readonly leaderSlots: Readonly<Record<string, number>>;
  /** `status.retain_slots`: member slots the leader keeps; replicas keep them too */
  readonly retainSlots: readonly string[];
  /** replica: its replay position; advances never go past it (Postgres would clamp anyway) */
  readonly replayLsn?: Lsn | null;
  /**
   * whom each member streams from (core's `upstreamOf`; cascading replication), by member
   * name; a member left out streams from the leader. The leader keeps no slot for a member
   * that streams from another; that member's upstream keeps its slot, live.
   */
  readonly upstreams?: Readonly<Record<string, string>>;
}

export type SlotNoteCode =
  | 'INVALID_SLOT_NAME'
  | 'NAME_TAKEN_BY_MEMBER'
  | 'LOGICAL_ON_STANDBY'
  | 'NO_LEADER_POSITION'
  | 'NOT_RESERVED'
  | 'ACTIVE_KEPT'
  | 'MISMATCH_RECREATE';

/** Why something was not done (or done unusually): data, logged by the caller. */
export interface SlotNote {
  readonly code: SlotNoteCode;
  readonly slot: string;
  readonly text: string;
}

export interface SlotAdvance {
  readonly name: string;
  readonly lsn: Lsn;
  /** logical slots: the database to advance from; null for physical */
  readonly database: string | null;
}

export interface SlotPlan {
  /**
   * Effects, in the order they must run: `drop` first (a mismatched slot is
   * dropped and recreated under the same name), then `create`, then `advance`.
   */
  readonly drop: readonly string[];
  readonly create: readonly SlotSpec[];
  readonly advance: readonly SlotAdvance[];
  /** primary: member slots it keeps (for `status.retain_slots`); [] on a replica */
  readonly retainSlots: readonly string[];
  /** every slot this node manages (member and permanent): what the leader publishes */
  readonly managed: readonly string[];
  readonly notes: readonly SlotNote[];
}

export const EMPTY_PLAN: SlotPlan = Object.freeze({
  drop: [],
  create: [],
  advance: [],
  retainSlots: [],
  managed: [],
  notes: [],
});

/**
 * Member slots to keep: every other member in the view, and any seen less
 * than `member_slots_ttl` ago, so a member that is briefly down finds its WAL
 * retained. On a replica, also the leader's `retain_slots`: it alone has
 * watched the members all along (this agent may have just started).
 */
function memberSlots(input: SlotPlanInput): string[] {
  const own = slotNameFor(input.self);
  const out = new Set<string>();
  for (const m of input.members) {
    const fresh = m.inView || input.nowMs - m.lastSeenMs < input.settings.memberSlotsTtlMs;
    // the leader holds no WAL for a cascaded member: its upstream does
    const elsewhere = input.role === 'primary' && streamsFrom(input, m.name) !== input.self;
    if (fresh && !elsewhere) out.add(slotNameFor(m.name));
  }
  if (input.role === 'replica') for (const s of input.retainSlots) out.add(s);
  out.delete(own);
  return [...out].filter(isValidSlotName).sort();
}

/** Whom `member` streams from: its entry in `upstreams`, else the leader (null: unknown here). */
function streamsFrom(input: SlotPlanInput, member: string): string | null {
  const upstream = input.upstreams?.[member];
  if (upstream !== undefined) return upstream;
  return input.role === 'primary' ? input.self : null;
}

/** Slot names of the members that stream from this replica (cascading): live slots of ours. */
function downstreamSlots(input: SlotPlanInput): Set<string> {
  if (input.role !== 'replica') return new Set();
  return new Set(
    Object.entries(input.upstreams ?? {})
      .filter(([member, upstream]) => upstream === input.self && member !== input.self)
      .map(([member]) => slotNameFor(member))
      .filter(isValidSlotName),
  );
}

/** Permanent slots this node wants, member slots winning a name clash. */
function permanentSlots(input: SlotPlanInput, members: ReadonlySet<string>, notes: SlotNote[]): SlotSpec[] {
  const own = slotNameFor(input.self);
  const out: SlotSpec[] = [];
  for (const [name, cfg] of Object.entries(input.settings.slots).sort(([a], [b]) => a.localeCompare(b))) {
    if (!isValidSlotName(name)) {
      notes.push({
        code: 'INVALID_SLOT_NAME',
        slot: name,
        text: `permanent slot "${name}" is not a valid slot name ([a-z0-9_], at most 63)`,
      });
      continue;
    }
    // a physical slot named after this node would only hold WAL on itself for nobody
    if (cfg.type === 'physical' && name === own) continue;
    if (members.has(name)) {
      if (cfg.type === 'logical')
        notes.push({
          code: 'NAME_TAKEN_BY_MEMBER',
          slot: name,
          text: `permanent logical slot "${name}" has a member's slot name; the member's physical slot wins`,
        });
      continue;
    }
    if (cfg.type === 'physical') out.push({ name, type: 'physical' });
    else if (cfg.database !== null && cfg.plugin !== null)
      out.push({ name, type: 'logical', database: cfg.database, plugin: cfg.plugin });
  }
  return out;
}

function matches(slot: ReplicationSlot, spec: SlotSpec): boolean {
  if (slot.type !== spec.type) return false;
  return spec.type === 'physical' || (slot.database === spec.database && slot.plugin === spec.plugin);
}

/** Where a replica moves an existing slot: the leader's position, never past its own replay. */
function advanceTarget(slot: ReplicationSlot, input: SlotPlanInput): Lsn | null {
  const published = input.leaderSlots[slot.name];
  if (published === undefined) return null;
  let target = BigInt(published) as Lsn;
  if (input.replayLsn !== undefined && input.replayLsn !== null && input.replayLsn < target)
    target = input.replayLsn;
  const current = slot.type === 'logical' ? slot.confirmedFlushLsn : slot.restartLsn;
  return current !== null && target > current ? target : null;
}

/**
 * The slot plan for this server. On both roles: member slots (when
 * `use_slots`) and permanent slots exist; slots matching `ignore_slots`,
 * temporary slots and active slots are never dropped; any other slot is
 * dropped (Patroni's rule: list externally managed slots in `ignore_slots`).
 * On a replica: no logical slot can be created (PG 15), physical slots are
 * created only once the leader publishes a position for them (so they never
 * pin WAL unboundedly) and are advanced to it. With `use_slots` off nothing
 * is touched at all.
 */
export function planSlots(input: SlotPlanInput): SlotPlan {
  if (!input.settings.useSlots) return EMPTY_PLAN;
  const notes: SlotNote[] = [];
  const members = memberSlots(input);
  const memberSet = new Set(members);
  const wanted = new Map<string, SlotSpec>();
  for (const name of members) wanted.set(name, { name, type: 'physical' });
  for (const spec of permanentSlots(input, memberSet, notes)) wanted.set(spec.name, spec);

  const existing = new Map(input.existing.map((s) => [s.name, s]));
  const drop: string[] = [];
  const create: SlotSpec[] = [];
  const advance: SlotAdvance[] = [];
  const replica = input.role === 'replica';
  // a cascaded standby streams through its slot here: created at once, moved by its walsender
  const downstream = downstreamSlots(input);
  for (const name of downstream) wanted.set(name, { name, type: 'physical' });

  for (const slot of input.existing) {
    if (slot.temporary || isIgnored(slot, input.settings.ignoreSlots)) continue;
    const spec = wanted.get(slot.name);
    if (spec !== undefined && matches(slot, spec)) {
      if (!replica || downstream.has(slot.name)) continue;
      const lsn = advanceTarget(slot, input);
      if (lsn !== null)
        advance.push({ name: slot.name, lsn, database: slot.type === 'logical' ? slot.database : null });
      else if (slot.type === 'physical' && slot.restartLsn === null)
        notes.push({
          code: 'NOT_RESERVED',
          slot: slot.name,
          text: `slot "${slot.name}" has reserved no WAL; it cannot be advanced`,
        });
      continue;
    }
    if (slot.active) {
      notes.push({
        code: 'ACTIVE_KEPT',
        slot: slot.name,
        text: spec
          ? `slot "${slot.name}" differs from its configuration but is in use; not recreated`
          : `slot "${slot.name}" is not managed but is in use; not dropped`,
      });
      continue;
    }
    drop.push(slot.name);
    if (spec)
      notes.push({
        code: 'MISMATCH_RECREATE',
        slot: slot.name,
        text: `slot "${slot.name}" differs from its configuration; recreating it`,
      });
  }

  for (const spec of wanted.values()) {
    const have = existing.get(spec.name);
    if (have !== undefined && !drop.includes(spec.name)) continue;
    const skip = (note: SlotNote) => {
      notes.push(note);
      // a mismatched slot is only dropped to be recreated; one that cannot be stays as it is
      if (have !== undefined) drop.splice(drop.indexOf(spec.name), 1);
    };
    if (replica && spec.type === 'logical') {
      skip({
        code: 'LOGICAL_ON_STANDBY',
        slot: spec.name,
        text: `logical slot "${spec.name}" cannot be created on a standby (PostgreSQL 15); it is created after promotion`,
      });
      continue;
    }
    if (replica && !downstream.has(spec.name) && input.leaderSlots[spec.name] === undefined) {
      skip({
        code: 'NO_LEADER_POSITION',
        slot: spec.name,
        text: `the leader publishes no position for slot "${spec.name}" yet; not created on this standby`,
      });
      continue;
    }
    create.push(spec);
  }

  return {
    drop,
    create,
    advance,
    retainSlots: replica ? [] : members,
    managed: [...wanted.keys()].sort(),
    notes,
  };
}

/**
 * The leader's slot positions for the `status` key's `slots`: confirmed flush
 * LSN of logical slots, restart LSN of physical ones, in bytes. Temporary
 * slots and slots without a position are left out; `names` narrows it to the
 * slots the leader manages.
 */
export function slotStatus(
  existing: readonly ReplicationSlot[],
  names?: ReadonlySet<string> | readonly string[],
): Record<string, number> {
  const only = names === undefined ? null : new Set(names);
  const out: Record<string, number> = {};
  for (const s of existing) {
    if (s.temporary || (only !== null && !only.has(s.name))) continue;
    const lsn = s.type === 'logical' ? s.confirmedFlushLsn : s.restartLsn;
    if (lsn !== null && lsn <= BigInt(Number.MAX_SAFE_INTEGER)) out[s.name] = Number(lsn);
  }
  return out;
}
