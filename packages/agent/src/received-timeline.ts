import type { Timeline } from '@hapg/core';
import type { PgStatus } from '@hapg/postgres';

/**
 * A replica's exact timeline: the one its WAL receiver last reported in this server's run
 * (Patroni's "cached timeline"). Between receiver restarts pg_stat_wal_receiver is empty and
 * only pg_control's timeline is left, which stays on the last restartpoint's and lags a
 * timeline switch; deciding a rewind on it needs a long wait (core `pastForkPoint`).
 */
export class ReceivedTimeline {
  #last: { readonly timeline: Timeline; readonly postmasterStartMs: number } | null = null;

  /** Feeds one probe (null: none answered); returns the exact timeline, or null when unknown. */
  observe(
    status: Pick<PgStatus, 'inRecovery' | 'timeline' | 'postmasterStartTime' | 'walReceiver'> | null,
  ): Timeline | null {
    // no answer: kept, since a restart shows in the next answer as a new postmaster start time
    if (status === null) return null;
    if (!status.inRecovery) {
      this.#last = null;
      return null;
    }
    const startMs = status.postmasterStartTime.getTime();
    const now = status.walReceiver?.receivedTimeline ?? null;
    if (now !== null) this.#last = { timeline: now, postmasterStartMs: startMs };
    else if (this.#last?.postmasterStartMs !== startMs) this.#last = null;
    const t = this.#last?.timeline ?? null;
    // pg_control ahead of it: WAL restored from an archive moved on, and pg_control is the newer
    return t !== null && (status.timeline === null || t >= status.timeline) ? t : null;
  }
}
