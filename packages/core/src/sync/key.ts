import type { MemberName, SyncState } from '../types.js';
import { renderSsn } from './ssn.js';
import type { SyncKeyValue, SyncMode } from './types.js';

/**
 * The `sync` key as stored: Patroni's layout, where `quorum` is how many *other* listed
 * standbys a candidate must see (N − k for `ANY k` over N names; 0 in `on` mode, where
 * every listed standby has every commit). hapg reasons in k (acknowledgements per commit);
 * these two functions are the only place the two meet, so a Patroni-written key and ours
 * read the same.
 */
export interface StoredSync {
  readonly leader: MemberName | null;
  readonly syncStandbys: readonly MemberName[];
  readonly quorum: number | null;
}

/**
 * The key records synchronous standbys for `leader`. A leader in synchronous mode without
 * them runs degraded (asynchronously, or blocked in strict mode) and alone is promotable.
 */
export function keyHasSyncStandbysFor(
  sync: Pick<SyncState, 'leader' | 'syncStandbys'> | null,
  leader: MemberName,
): boolean {
  return sync !== null && sync.leader === leader && sync.syncStandbys.length > 0;
}

/** k = N − stored quorum, clamped to 0..N (a missing quorum means every listed standby acknowledged). */
export function acksPerCommit(stored: Pick<StoredSync, 'syncStandbys' | 'quorum'>): number {
  const n = stored.syncStandbys.length;
  return Math.max(0, Math.min(n, n - (stored.quorum ?? 0)));
}

/** The key as the planner sees it; null when there is no key or it names no leader. */
export function syncKeyFromState(state: SyncState | null, mode: SyncMode): SyncKeyValue | null {
  if (state === null || state.leader === null) return null;
  const syncStandbys = [...state.syncStandbys].sort();
  return {
    leader: state.leader,
    syncStandbys,
    quorum: mode === 'quorum' ? acksPerCommit(state) : null,
  };
}

/** What to write: `quorum` = N − k in quorum mode, 0 in `on` mode (as Patroni writes it). */
export function storedSyncFromKey(key: SyncKeyValue): StoredSync {
  const n = key.syncStandbys.length;
  return {
    leader: key.leader,
    syncStandbys: [...key.syncStandbys].sort(),
    quorum: key.quorum === null ? 0 : Math.max(0, n - key.quorum),
  };
}

/**
 * The `synchronous_standby_names` that keeps the key's promise, for a Postgres about to run
 * (or already running) as primary without a finished plan: a start in place after a crash,
 * an agent restart beside a running primary, a promotion. `on`: `FIRST n` over all listed
 * names; quorum: `ANY k`. A key that does not name `self` as leader (or lists nobody)
 * promises nothing about our commits: `*` in strict mode (block until a standby answers),
 * else `''` (asynchronous, recorded as degraded by the key's empty list).
 */
export function ssnForKey(
  mode: SyncMode,
  strict: boolean,
  key: SyncKeyValue | null,
  self: MemberName,
): string {
  if (mode === 'off') return '';
  const fallback = strict ? '*' : '';
  if (key === null || key.leader !== self || key.syncStandbys.length === 0) return fallback;
  if (mode === 'on') return renderSsn('on', key.syncStandbys, key.syncStandbys.length);
  const k = key.quorum ?? 0;
  return k < 1 ? fallback : renderSsn('quorum', key.syncStandbys, Math.min(k, key.syncStandbys.length));
}
