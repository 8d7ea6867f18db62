import { parseTags } from '../cluster/tags.js';
import type { Lsn } from '../lsn.js';
import type { Member, MemberName } from '../types.js';
import type { ReplicationRow, SyncMode } from './types.js';

export interface ChooseSyncInput {
  readonly mode: SyncMode;
  /** `synchronous_node_count` */
  readonly nodeCount: number;
  readonly members: ReadonlyMap<MemberName, Member>;
  /** the primary's `pg_stat_replication` */
  readonly replication: readonly ReplicationRow[];
  readonly selfName: MemberName;
  /** the standbys the sync key lists now */
  readonly current: readonly MemberName[];
}

interface Eligible {
  readonly name: MemberName;
  readonly flushLsn: Lsn | null;
  readonly current: boolean;
}

/**
 * Which standbys should be synchronous: streaming replicas that are registered members,
 * running, not tagged `nosync`, and not this node. `on` mode takes the best `nodeCount`;
 * `quorum` mode lists all of them (Postgres needs only `ANY k` of the list to answer, so a
 * longer list costs nothing and lets more members become promotable).
 *
 * Order: current sync standbys that still qualify first (an unchanged cluster produces an
 * unchanged answer), then lowest lag (highest flush LSN), then name.
 */
export function chooseSyncStandbys(input: ChooseSyncInput): MemberName[] {
  if (input.mode === 'off') return [];
  const ranked = eligibleStandbys(input).sort(compareEligible);
  const names = ranked.map((e) => e.name);
  return input.mode === 'on' ? names.slice(0, Math.max(0, input.nodeCount)) : names;
}

function eligibleStandbys(input: ChooseSyncInput): Eligible[] {
  const best = new Map<MemberName, Eligible>();
  for (const row of input.replication) {
    const name = row.applicationName;
    const member = input.members.get(name);
    if (row.state !== 'streaming' || name === input.selfName || member === undefined) continue;
    if (member.state !== 'running' || parseTags(member.tags).nosync) continue;
    const seen = best.get(name);
    // two walsenders with one name (a reconnect in progress): the further one counts
    if (
      seen !== undefined &&
      (row.flushLsn === null || (seen.flushLsn !== null && seen.flushLsn >= row.flushLsn))
    )
      continue;
    best.set(name, { name, flushLsn: row.flushLsn, current: input.current.includes(name) });
  }
  return [...best.values()];
}

function compareEligible(a: Eligible, b: Eligible): number {
  // A current standby that still streams stays: swapping it for one a few bytes ahead
  // would narrow the key (nobody promotable) for a catch-up wait and gain nothing.
  // (Measured: flush positions of caught-up standbys differ from probe to probe, and
  // ranking by lag alone swapped the sync standby on every rejoin.)
  if (a.current !== b.current) return a.current ? -1 : 1;
  if (a.flushLsn !== b.flushLsn) {
    if (a.flushLsn === null) return 1;
    if (b.flushLsn === null) return -1;
    return a.flushLsn > b.flushLsn ? -1 : 1;
  }
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
