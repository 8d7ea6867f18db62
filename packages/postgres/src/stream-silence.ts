import type { QueryRow, SqlSession } from './connection.js';

/** How long a standby has heard nothing from its upstream (fast failover, condition (c)). */
export interface StreamSilence {
  /**
   * ms since the walreceiver last got a message (WAL or keepalive) from its upstream, on the
   * server's own clock; null when there is no walreceiver, or it has not heard anything yet
   * (either way: nothing heard, so silent)
   */
  readonly silenceMs: number | null;
  /** `pg_stat_wal_receiver.status` (`streaming`, `starting`, `waiting`, ...); null: no walreceiver */
  readonly status: string | null;
}

/*
 * Both times in one statement on the server: subtracting the receipt time from our own clock
 * would mix two clocks. clock_timestamp(), not now(): now() is the transaction's start, and a
 * probe on a reused session must not be able to read a stale "now".
 */
export const STREAM_SILENCE_SQL = `SELECT status,
  (extract(epoch FROM clock_timestamp() - last_msg_receipt_time) * 1000)::float8 AS silence_ms
  FROM pg_stat_wal_receiver`;

/** The probe's rows (none, or the walreceiver's one); exported for unit tests. */
export function parseStreamSilenceRows(rows: readonly QueryRow[]): StreamSilence {
  const row = rows[0];
  if (row === undefined) return { silenceMs: null, status: null };
  const raw = row.silence_ms;
  const ms = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : Number.NaN;
  return {
    // both stamps come from one clock, but a clock step between them could make it negative
    silenceMs: Number.isFinite(ms) ? Math.max(0, ms) : null,
    status: typeof row.status === 'string' ? row.status : null,
  };
}

/** ms since this standby's walreceiver last got a message from its upstream, on the server's own clock (clock_timestamp() − last_msg_receipt_time in one statement); null when there is no walreceiver (not streaming at all); `status` is pg_stat_wal_receiver.status */
export async function probeStreamSilence(session: Pick<SqlSession, 'query'>): Promise<StreamSilence> {
  return parseStreamSilenceRows(await session.query(STREAM_SILENCE_SQL));
}
