import { HapgError, type Lsn, maxLsn, parseLsn } from '@hapg/core';
import type { QueryRow } from './connection.js';
import type { Queryable } from './settings.js';

/**
 * What a standby has received once its walreceiver is gone for good (quorum fast failover's
 * release, docs/fast-failover.md): `pg_last_wal_receive_lsn()` is the last position a
 * walreceiver of this postmaster flushed, and it stays after the walreceiver exits. A
 * walreceiver starts streaming where the local WAL ends, so while it is known the position is
 * at least every flush this standby ever confirmed. Null (no walreceiver ran since the server
 * started): unknown, and no release may be made on it.
 */
export const FINAL_RECEIVE_SQL = `SELECT
  (SELECT count(*) FROM pg_stat_wal_receiver)::int AS receivers,
  pg_last_wal_receive_lsn()::text AS receive_lsn,
  pg_last_wal_replay_lsn()::text AS replay_lsn`;

export interface FinalReceive {
  /** a walreceiver still runs (the reload has not stopped it yet) */
  readonly receiving: boolean;
  /** the larger of the last received and the last replayed position; null: no walreceiver ran */
  readonly flushLsn: Lsn | null;
}

/** The probe's row; exported for unit tests. */
export function parseFinalReceive(rows: readonly QueryRow[]): FinalReceive {
  const row = rows[0];
  const lsn = (v: unknown) => (typeof v === 'string' ? parseLsn(v) : null);
  const received = lsn(row?.receive_lsn);
  return {
    receiving: Number(row?.receivers ?? 0) > 0,
    flushLsn: received === null ? null : maxLsn(received, lsn(row?.replay_lsn)),
  };
}

/**
 * Waits until no walreceiver runs (the caller has just reloaded a config without
 * `primary_conninfo`), polling every `pollMs` for at most `timeoutMs`; then the final position.
 */
export async function awaitReceiverGone(
  session: Queryable,
  o: { readonly timeoutMs: number; readonly pollMs?: number },
): Promise<Lsn> {
  const pollMs = o.pollMs ?? 50;
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const r = parseFinalReceive(await session.query(FINAL_RECEIVE_SQL));
    if (!r.receiving) {
      if (r.flushLsn === null)
        throw new HapgError(
          'PG_QUERY_FAILED',
          'no walreceiver ran since Postgres started: the final received position is unknown',
          { retryable: false },
        );
      return r.flushLsn;
    }
    if (Date.now() >= deadline)
      throw new HapgError('TIMEOUT', `the walreceiver still runs ${o.timeoutMs} ms after the reload`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
