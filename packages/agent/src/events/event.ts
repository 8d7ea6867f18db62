/**
 * The agent's typed events: what changed on this member and why, for a webhook
 * receiver and for `GET /events`. One event is a fact already decided and done;
 * producing one never changes what the agent does.
 */

export const HAPG_EVENT_TYPES = [
  'role_change',
  'failover',
  'switchover',
  'fence_fired',
  'postgres_crash',
  'rejoin',
  'sync_standby_changed',
  'paused',
  'resumed',
] as const;

export type HapgEventType = (typeof HAPG_EVENT_TYPES)[number];

/** As everywhere in hapg: tests and alert rules match `code`, people read `text`. */
export interface EventReason {
  readonly code: string;
  readonly text: string;
}

/**
 * `<bootId>-<seq>`: `seq` counts from 1 in each process, and `bootId` is drawn at
 * process start, so an id seen before a restart never names a later event.
 */
export type EventId = string;

export interface HapgEvent {
  readonly id: EventId;
  readonly type: HapgEventType;
  readonly member: string;
  readonly scope: string;
  readonly oldRole: string | null;
  readonly newRole: string | null;
  readonly oldLeader: string | null;
  readonly newLeader: string | null;
  readonly timeline: number | null;
  /** Postgres' text form, `0/3000060` */
  readonly lsn: string | null;
  readonly reason: EventReason;
  /** ISO-8601 wall clock, UTC (`2026-01-01T00:00:00.000Z`) */
  readonly time: string;
}

/**
 * The serialized event, the same document in a webhook POST and in `GET /events`.
 * Field names are snake_case, as in Patroni's REST API and etcd keys that ops
 * tooling already reads (`old_role`, not `oldRole`). The reason stays one
 * nested `{ code, text }` object, as hapg writes reasons everywhere. Every field
 * is always present; unknown values are `null`, never omitted, so a receiver's
 * schema need not treat absence and null differently.
 */
export interface WireEvent {
  readonly id: string;
  readonly type: HapgEventType;
  readonly time: string;
  readonly scope: string;
  readonly member: string;
  readonly old_role: string | null;
  readonly new_role: string | null;
  readonly old_leader: string | null;
  readonly new_leader: string | null;
  readonly timeline: number | null;
  readonly lsn: string | null;
  readonly reason: { readonly code: string; readonly text: string };
}

export function toWireEvent(e: HapgEvent): WireEvent {
  return {
    id: e.id,
    type: e.type,
    time: e.time,
    scope: e.scope,
    member: e.member,
    old_role: e.oldRole,
    new_role: e.newRole,
    old_leader: e.oldLeader,
    new_leader: e.newLeader,
    timeline: e.timeline,
    lsn: e.lsn,
    reason: { code: e.reason.code, text: e.reason.text },
  };
}

/** A boot id is lower-case letters and digits, so the last `-` of an id separates the sequence. */
export const BOOT_ID_PATTERN = /^[0-9a-z]{1,32}$/;

export function formatEventId(bootId: string, seq: number): EventId {
  return `${bootId}-${seq}`;
}

/** The parts of `<bootId>-<seq>`, or null when `text` is not an event id at all. */
export function parseEventId(text: string): { bootId: string; seq: number } | null {
  const dash = text.lastIndexOf('-');
  if (dash <= 0) return null;
  const bootId = text.slice(0, dash);
  const seqText = text.slice(dash + 1);
  if (!BOOT_ID_PATTERN.test(bootId) || !/^[1-9][0-9]{0,15}$/.test(seqText)) return null;
  const seq = Number(seqText);
  return Number.isSafeInteger(seq) ? { bootId, seq } : null;
}
