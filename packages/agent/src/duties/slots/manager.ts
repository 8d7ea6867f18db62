/**
 * The one call the HA loop makes for slots: remember when each member was
 * last seen, read this server's slots, plan, apply, and say what the leader
 * publishes in the `status` key.
 */
import { type ClusterView, type DynamicConfig, errorText, type Lsn, upstreamOf } from '@hapg/core';
import {
  type ConnectOptions,
  listReplicationSlots,
  type PostgresNode,
  type ReplicationSlot,
} from '@hapg/postgres';
import { applySlotPlan, nodeSlotConnector, type SlotFailure, type SlotLog } from './apply.js';
import { slotNameFor } from './names.js';
import { isRealMember, type MemberSighting, planSlots, slotSettingsFrom, slotStatus } from './plan.js';

export interface SlotManagerOptions {
  /** this member's name */
  readonly name: string;
  readonly log: SlotLog;
  /** connection settings for a database other than the node's (logical slots live in their database) */
  readonly connectIn?: ((database: string) => ConnectOptions | readonly ConnectOptions[]) | null;
}

export interface SlotTickInput {
  /** primary: Postgres runs writable and we hold the leader key; replica: it runs in recovery */
  readonly role: 'primary' | 'replica';
  readonly view: ClusterView;
  readonly dyn: DynamicConfig;
  /** monotonic ms */
  readonly nowMs: number;
  readonly node: Pick<PostgresNode, 'query'>;
  /** primary: its flush LSN, published under its own slot name so replicas can keep a slot for it */
  readonly flushLsn?: Lsn | null;
  /** replica: its replay LSN (advances stop there) */
  readonly replayLsn?: Lsn | null;
}

export interface SlotTickResult {
  readonly created: readonly string[];
  readonly dropped: readonly string[];
  readonly advanced: readonly string[];
  readonly failed: readonly SlotFailure[];
  /** what the leader puts in the `status` key (empty on a replica) */
  readonly status: { readonly slots: Record<string, number>; readonly retainSlots: readonly string[] };
}

const NOTHING: SlotTickResult = Object.freeze({
  created: [],
  dropped: [],
  advanced: [],
  failed: [],
  status: { slots: {}, retainSlots: [] },
});

export class SlotManager {
  readonly #opts: SlotManagerOptions;
  /** member name → monotonic ms it was last in the view */
  readonly #lastSeenMs = new Map<string, number>();
  /** notes logged last tick, so a standing condition is logged once, not every loop */
  #notes = new Set<string>();
  /** the role of the last tick: `retain_slots` seeds sightings only on the first tick in a role */
  #role: 'primary' | 'replica' | null = null;

  constructor(opts: SlotManagerOptions) {
    this.#opts = opts;
  }

  /** Never throws: a failure is logged and reported in `failed`; the next tick retries. */
  async tick(input: SlotTickInput): Promise<SlotTickResult> {
    const members = this.#sightings(
      input.view,
      input.nowMs,
      input.dyn.memberSlotsTtlMs,
      input.role !== this.#role,
    );
    this.#role = input.role;
    let existing: ReplicationSlot[];
    try {
      existing = await listReplicationSlots({ query: (t, v) => input.node.query(t, v) });
    } catch (e) {
      this.#opts.log.warn({ err: errorText(e) }, 'could not list replication slots');
      return { ...NOTHING, failed: [{ slot: '*', op: 'create', error: errorText(e) }] };
    }
    const status = input.view.status;
    const plan = planSlots({
      role: input.role,
      self: this.#opts.name,
      members,
      nowMs: input.nowMs,
      settings: slotSettingsFrom(input.dyn),
      existing,
      leaderSlots: status?.slots ?? {},
      retainSlots: status?.retainSlots ?? [],
      replayLsn: input.replayLsn ?? null,
      upstreams: upstreamsIn(input.view),
    });
    this.#logNotes(plan.notes);
    const connector = nodeSlotConnector(input.node, this.#opts.connectIn);
    const applied = await applySlotPlan(connector, plan, this.#opts.log);
    if (input.role !== 'primary') return { ...applied, status: { slots: {}, retainSlots: [] } };

    const changed = applied.created.length + applied.dropped.length > 0;
    const after = changed
      ? await listReplicationSlots(connector.session(null)).catch(() => existing)
      : existing;
    const slots = slotStatus(after, plan.managed);
    if (input.flushLsn !== undefined && input.flushLsn !== null && input.dyn.postgresql.useSlots)
      slots[slotNameFor(this.#opts.name)] = Number(input.flushLsn);
    return { ...applied, status: { slots, retainSlots: plan.retainSlots } };
  }

  /**
   * Updates last-seen times and returns every member we know of: real members only
   * (`isRealMember`). On the first tick in a role (this agent just started, or just became
   * leader), member slots named in the `status` key's retain_slots but never seen by this
   * agent count as seen now: the previous leader vouched for them, and dropping their WAL on
   * a restart would defeat member_slots_ttl. Not on later ticks: then the key is our own
   * leader's (or ours), and a value another tool wrote there must not plant slots.
   */
  #sightings(view: ClusterView, nowMs: number, ttlMs: number, seed: boolean): MemberSighting[] {
    const retained = new Set(view.status?.retainSlots ?? []);
    const real = new Set([...view.members.values()].filter(isRealMember).map((m) => m.name));
    for (const name of real) this.#lastSeenMs.set(name, nowMs);
    for (const [name, seenMs] of this.#lastSeenMs) {
      // forget expired members, unless the status key still vouches for them (it would re-seed them)
      if (nowMs - seenMs >= ttlMs && !real.has(name) && !retained.has(slotNameFor(name)))
        this.#lastSeenMs.delete(name);
    }
    if (seed) {
      const known = new Set([...this.#lastSeenMs.keys()].map(slotNameFor));
      for (const slot of retained) {
        if (!known.has(slot)) this.#lastSeenMs.set(slot, nowMs);
      }
    }
    return [...this.#lastSeenMs].map(([name, lastSeenMs]) => ({ name, inView: real.has(name), lastSeenMs }));
  }

  #logNotes(notes: readonly { code: string; slot: string; text: string }[]): void {
    const now = new Set<string>();
    for (const n of notes) {
      const key = `${n.code}:${n.slot}`;
      now.add(key);
      if (!this.#notes.has(key)) this.#opts.log.warn({ slot: n.slot, code: n.code }, n.text);
    }
    this.#notes = now;
  }
}

/** Whom each real member streams from (core's `upstreamOf`), while there is a leader. */
function upstreamsIn(view: ClusterView): Record<string, string> {
  const leader = view.leader?.name;
  if (leader === undefined) return {};
  const out: Record<string, string> = {};
  for (const m of view.members.values()) if (isRealMember(m)) out[m.name] = upstreamOf(view, m.name, leader);
  return out;
}
