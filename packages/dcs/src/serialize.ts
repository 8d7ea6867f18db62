import {
  type FailoverRequest,
  type HistoryEntry,
  type LeaderStatus,
  lsnToJson,
  type MemberName,
  type StreamRelease,
  type SyncState,
} from '@hapg/core';

/** The inverse of parse.ts: domain records to the JSON other tools (Patroni's) read. */

export type FailoverValue = Pick<FailoverRequest, 'leader' | 'member' | 'scheduledAt'>;
export type SyncValue = Pick<SyncState, 'leader' | 'syncStandbys' | 'quorum'>;

/** Any subset: null fields are omitted. */
export function serializeFailover(v: FailoverValue): string {
  const o: Record<string, string> = {};
  if (v.leader !== null) o.leader = v.leader;
  if (v.member !== null) o.member = v.member;
  if (v.scheduledAt !== null) o.scheduled_at = v.scheduledAt;
  return JSON.stringify(o);
}

/** `sync_standby` is the sorted, comma-joined list, or null when empty. */
export function serializeSync(v: SyncValue): string {
  const standbys = [...v.syncStandbys].sort();
  const o: Record<string, unknown> = {
    leader: v.leader,
    sync_standby: standbys.length === 0 ? null : standbys.join(','),
  };
  if (v.quorum !== null) o.quorum = v.quorum;
  return JSON.stringify(o);
}

/**
 * Patroni's five elements, `[timeline, switch_lsn, reason, time, new_leader]`, and never a
 * 6th: `patronictl history` (3.0.2) fails on a longer row ("Row has incorrect number of values,
 * 6!=5"), and Patroni rewrites a history whose last row is not five long. An `oldLeader` read
 * from a key an older hapg wrote is dropped when the list is written again.
 */
export function serializeHistory(entries: readonly HistoryEntry[]): string {
  return JSON.stringify(entries.map((e) => [e.timeline, e.switchLsn, e.reason, e.time, e.newLeader]));
}

/** Null fields omitted. */
export function serializeStatus(v: LeaderStatus): string {
  const o: Record<string, unknown> = {};
  if (v.optime !== null) o.optime = v.optime;
  o.slots = v.slots;
  if (v.retainSlots.length > 0) o.retain_slots = v.retainSlots;
  return JSON.stringify(o);
}

export type ReleaseValue = Pick<StreamRelease, 'leader' | 'leaderRevision' | 'timeline' | 'flushLsn'>;

/** `release/<member>`: the LSN as an integer, as member keys carry theirs. */
export function serializeRelease(v: ReleaseValue): string {
  return JSON.stringify({
    leader: v.leader,
    leader_revision: v.leaderRevision,
    timeline: v.timeline,
    flush_lsn: lsnToJson(v.flushLsn),
  });
}

/** The failsafe key's members, as a map or a plain object of member name → `api_url`. */
export type FailsafeMembers = ReadonlyMap<MemberName, string> | Readonly<Record<string, string>>;

/**
 * Patroni's compact JSON object, names sorted: the same set always gives the same bytes, so a
 * reader (or a test) can compare values. Written by hand: a JS object would put names that look
 * like integers first and turn a member called `__proto__` into a prototype.
 */
export function serializeFailsafe(members: FailsafeMembers): string {
  const entries: [string, string][] =
    members instanceof Map ? [...members.entries()] : Object.entries(members as Record<string, string>);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([name, apiUrl]) => `${JSON.stringify(name)}:${JSON.stringify(apiUrl)}`).join(',')}}`;
}
