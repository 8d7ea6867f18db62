import type { Lsn } from '@hapg/core';
import type { EventReason } from './event.js';
import type { EventInput } from './journal.js';

/** What one published status says that events are made of. */
export interface EventState {
  /** the node's role as `/patroni` says it (`primary`, `replica`, `demoted`, `uninitialized`, ...) */
  readonly role: string;
  /** who holds the leader key in the view; null: nobody */
  readonly leader: string | null;
  readonly paused: boolean;
  /** the sync key's standbys; null: no sync key */
  readonly syncStandbys: readonly string[] | null;
  /** this node holds the leader key: it reports the cluster-wide changes, once for the cluster */
  readonly isLeader: boolean;
  readonly timeline: number | null;
  readonly lsn: Lsn | null;
  /** why the loop decided what it did */
  readonly reason: EventReason;
}

/**
 * The events between two published states. Each node reports its own role changes; changes
 * of the cluster (pause, the synchronous standbys) are reported by the leader alone, so that
 * a webhook hears each of them once. The first state after a start is no change.
 */
export function transitions(prev: EventState | null, next: EventState): EventInput[] {
  if (prev === null) return [];
  const at = { timeline: next.timeline, lsn: next.lsn, reason: next.reason };
  const out: EventInput[] = [];
  if (prev.role !== next.role)
    out.push({
      type: 'role_change',
      oldRole: prev.role,
      newRole: next.role,
      oldLeader: prev.leader,
      newLeader: next.leader,
      ...at,
    });
  if (next.isLeader && prev.paused !== next.paused)
    out.push({ type: next.paused ? 'paused' : 'resumed', ...at });
  const syncOf = (s: EventState) => (s.syncStandbys === null ? null : [...s.syncStandbys].sort().join(','));
  if (next.isLeader && next.syncStandbys !== null && syncOf(prev) !== syncOf(next))
    out.push({
      type: 'sync_standby_changed',
      ...at,
      reason: { code: next.reason.code, text: `synchronous standbys: ${syncOf(next) || '(none)'}` },
    });
  return out;
}
