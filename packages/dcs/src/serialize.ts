import type { FailoverRequest, HistoryEntry, LeaderStatus, SyncState } from '@hapg/core';

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
