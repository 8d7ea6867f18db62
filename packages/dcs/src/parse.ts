import {
  type FailoverRequest,
  type FailsafeKey,
  parseZonedTimeMs,
  type HistoryEntry,
  type LeaderStatus,
  type Lsn,
  type Member,
  type MemberJson,
  type MemberName,
  type StreamRelease,
  type SyncState,
  type Timeline,
  toLsn,
  toTimeline,
} from '@hapg/core';

/**
 * Gateway from etcd values to typed records: one function per key kind, each
 * total (never throws) — a bad value becomes `{ error }`, which the view
 * builder records in `malformed` and otherwise ignores.
 */
export type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: string };

/** etcd metadata of the key a value came from. */
export interface KeyMeta {
  readonly modRevision: string;
  /** '0' when not bound to a lease */
  readonly lease: string;
}

class ParseError extends Error {}

function guard<T>(fn: () => T): Parsed<T> {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

function json(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ParseError(`invalid JSON: ${(e as Error).message}`);
  }
}

type Obj = Record<string, unknown>;

function object(v: unknown, what: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ParseError(`${what} is not a JSON object`);
  return v as Obj;
}

function str(o: Obj, field: string): string {
  const v = o[field];
  if (typeof v !== 'string') throw new ParseError(`${field} is not a string`);
  return v;
}

function optStr(o: Obj, field: string): string | null {
  const v = o[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new ParseError(`${field} is not a string`);
  return v;
}

function optLsn(o: Obj, field: string): Lsn | null {
  const v = o[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' && typeof v !== 'string') throw new ParseError(`${field} is not an LSN`);
  try {
    return toLsn(v);
  } catch (e) {
    throw new ParseError(`${field}: ${(e as Error).message}`);
  }
}

function optTimeline(o: Obj, field: string): Timeline | null {
  const v = o[field];
  if (v === undefined || v === null) return null;
  try {
    return toTimeline(v);
  } catch (e) {
    throw new ParseError(`${field}: ${(e as Error).message}`);
  }
}

function optInt(v: unknown, what: string): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new ParseError(`${what} is not an integer`);
  return v;
}

const leaseOrNull = (lease: string): string | null => (lease === '0' || lease === '' ? null : lease);

export function parseMember(name: MemberName, text: string, meta: KeyMeta): Parsed<Member> {
  return guard(() => {
    const o = object(json(text), 'member');
    const tags = o.tags === undefined || o.tags === null ? {} : object(o.tags, 'tags');
    return {
      name,
      connUrl: str(o, 'conn_url'),
      apiUrl: str(o, 'api_url'),
      state: str(o, 'state'),
      role: str(o, 'role'),
      version: optStr(o, 'version') ?? '',
      tags,
      timeline: optTimeline(o, 'timeline'),
      xlogLocation: optLsn(o, 'xlog_location'),
      receiveLsn: optLsn(o, 'receive_lsn'),
      replayLsn: optLsn(o, 'replay_lsn'),
      replicationState: optStr(o, 'replication_state'),
      pendingRestart: o.pending_restart === true,
      statusReason: optStr(o, 'status_reason'),
      leaseId: leaseOrNull(meta.lease),
      modRevision: meta.modRevision,
      raw: o as unknown as MemberJson,
    };
  });
}

/** `config`: any JSON object; its fields are validated by the caller (core's config schema). */
export function parseConfig(text: string): Parsed<Record<string, unknown>> {
  return guard(() => object(json(text), 'config'));
}

export function parseFailover(text: string, meta: KeyMeta): Parsed<FailoverRequest> {
  return guard(() => {
    const o = object(json(text), 'failover');
    const scheduledAt = optStr(o, 'scheduled_at');
    // a time nobody can read would never come due and block every later switchover: malformed
    if (scheduledAt !== null && parseZonedTimeMs(scheduledAt) === null)
      throw new ParseError(
        `scheduled_at is not an ISO-8601 time with a zone: ${JSON.stringify(scheduledAt.slice(0, 64))}`,
      );
    return {
      leader: optStr(o, 'leader'),
      member: optStr(o, 'member'),
      scheduledAt,
      modRevision: meta.modRevision,
    };
  });
}

export function parseSync(text: string, meta: KeyMeta): Parsed<SyncState> {
  return guard(() => {
    const o = object(json(text), 'sync');
    const standbys = optStr(o, 'sync_standby');
    return {
      leader: optStr(o, 'leader'),
      syncStandbys:
        standbys === null
          ? []
          : standbys
              .split(',')
              .map((s) => s.trim())
              .filter((s) => s !== ''),
      quorum: optInt(o.quorum, 'quorum'),
      modRevision: meta.modRevision,
    };
  });
}

export function parseHistory(text: string): Parsed<readonly HistoryEntry[]> {
  return guard(() => {
    const list = json(text);
    if (!Array.isArray(list)) throw new ParseError('history is not a JSON list');
    return list.map((item, i): HistoryEntry => {
      if (!Array.isArray(item) || item.length < 3)
        throw new ParseError(`history[${i}] is not a list of ≥ 3 items`);
      const [timeline, lsn, reason, time, newLeader, oldLeader] = item as unknown[];
      const tl = optInt(timeline, `history[${i}] timeline`);
      const switchLsn = optInt(lsn, `history[${i}] lsn`);
      if (tl === null || switchLsn === null) throw new ParseError(`history[${i}] lacks timeline or lsn`);
      return {
        timeline: tl,
        switchLsn,
        reason: typeof reason === 'string' ? reason : String(reason),
        time: typeof time === 'string' ? time : '',
        newLeader: typeof newLeader === 'string' ? newLeader : null,
        ...(typeof oldLeader === 'string' ? { oldLeader } : {}),
      };
    });
  });
}

export function parseStatus(text: string): Parsed<LeaderStatus> {
  return guard(() => {
    const o = object(json(text), 'status');
    const slotsObj = o.slots === undefined || o.slots === null ? {} : object(o.slots, 'slots');
    const slots: Record<string, number> = {};
    for (const [k, v] of Object.entries(slotsObj)) {
      const n = optInt(v, `slots.${k}`);
      if (n !== null) slots[k] = n;
    }
    const retain = o.retain_slots ?? [];
    if (!Array.isArray(retain) || !retain.every((s) => typeof s === 'string')) {
      throw new ParseError('retain_slots is not a list of strings');
    }
    return { optime: optInt(o.optime, 'optime'), slots, retainSlots: retain as string[] };
  });
}

/**
 * `failsafe`: Patroni's object of member name → `api_url` (`{"node1":"http://10.0.0.1:8008/patroni"}`),
 * the members a primary cut off from etcd must reach (docs/failsafe.md). A value that is not such
 * an object is malformed as a whole: a partial set would let a member missing from it be taken
 * for one the leader left out (M5).
 */
export function parseFailsafe(text: string, meta: KeyMeta): Parsed<FailsafeKey> {
  return guard(() => {
    const o = object(json(text), 'failsafe');
    const members = new Map<MemberName, string>();
    for (const [name, apiUrl] of Object.entries(o)) {
      if (typeof apiUrl !== 'string') throw new ParseError(`failsafe.${name} is not a string (an api_url)`);
      members.set(name, apiUrl);
    }
    return { members, modRevision: meta.modRevision };
  });
}

/**
 * `release/<member>` (hapg only): `{"leader", "leader_revision", "timeline", "flush_lsn"}`, a
 * listed standby's promise not to stream again from `leader` while the leader key stays at
 * `leader_revision` (docs/fast-failover.md, quorum mode). A value without a leader, revision or
 * flush position is malformed: a takeover must never count it.
 */
export function parseRelease(member: MemberName, text: string, meta: KeyMeta): Parsed<StreamRelease> {
  return guard(() => {
    const o = object(json(text), 'release');
    const leaderRevision = str(o, 'leader_revision');
    if (!/^[1-9][0-9]*$/.test(leaderRevision))
      throw new ParseError(
        `leader_revision is not an etcd revision: ${JSON.stringify(leaderRevision.slice(0, 32))}`,
      );
    const flushLsn = optLsn(o, 'flush_lsn');
    if (flushLsn === null) throw new ParseError('flush_lsn is missing');
    return {
      member,
      leader: str(o, 'leader'),
      leaderRevision,
      timeline: optTimeline(o, 'timeline'),
      flushLsn,
      modRevision: meta.modRevision,
    };
  });
}
