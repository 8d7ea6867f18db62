import { parseLsn } from '@hapg/core';
import type { PostgresNode } from '@hapg/postgres';
import type { SyncPostgres } from './sync-manager.js';

/** The sync duty's port over the local primary's SQL. */
export function sqlSyncPostgres(
  node: PostgresNode,
  applySsn: (value: string) => Promise<void>,
): SyncPostgres {
  return {
    flushLsn: async () => {
      const rows = await node.query<{ lsn: string }>('SELECT pg_current_wal_flush_lsn()::text AS lsn');
      return parseLsn(String(rows[0]?.lsn));
    },
    standbyFlush: async () => {
      const rows = await node.query<{ name: string; flush: string | null }>(
        "SELECT application_name AS name, flush_lsn::text AS flush FROM pg_stat_replication WHERE state = 'streaming'",
      );
      return rows.map((r) => ({ name: r.name, flushLsn: r.flush === null ? null : parseLsn(r.flush) }));
    },
    applySsn,
    ssnInForce: async () => {
      const rows = await node.query<{ v: string }>(
        "SELECT current_setting('synchronous_standby_names') AS v",
      );
      return String(rows[0]?.v ?? '');
    },
  };
}
