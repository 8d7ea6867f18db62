/**
 * Runs a slot plan against the local server. Never throws: each step is tried
 * on its own, failures are logged and counted, and the next loop retries (the
 * plan is recomputed from what exists, so every step is idempotent).
 */
import { errorText, HapgError } from '@hapg/core';
import {
  advanceSlot,
  type ConnectOptions,
  createLogicalSlot,
  createPhysicalSlot,
  dropReplicationSlot,
  type PostgresNode,
  type SlotSql,
  withConnection,
} from '@hapg/postgres';
import type { SlotPlan } from './plan.js';

/** Minimal logger shape (a pino child fits). */
export interface SlotLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * Sessions for slot work: logical slots are created and advanced from a
 * session in their own database, everything else from the default one.
 */
export interface SlotConnector {
  session(database: string | null): SlotSql;
}

/**
 * A connector over the agent's node: the default database through its probe
 * session; another database through a short-lived connection built by
 * `connectIn` (absent: logical slots outside the node's database fail with a
 * clear error, and the rest still runs).
 */
export function nodeSlotConnector(
  node: Pick<PostgresNode, 'query'>,
  connectIn?: ((database: string) => ConnectOptions | readonly ConnectOptions[]) | null,
  defaultDatabase = 'postgres',
): SlotConnector {
  const main: SlotSql = { query: (text, values) => node.query(text, values) };
  return {
    session(database) {
      if (database === null || database === defaultDatabase) return main;
      if (!connectIn)
        return {
          query: () =>
            Promise.reject(
              new HapgError('INTERNAL', `no connection settings for database "${database}" (logical slots)`),
            ),
        };
      const opts = connectIn(database);
      return {
        query: (text, values = []) =>
          withConnection(opts, async (c) => (await c.query(text, values as unknown[])).rows),
      } as SlotSql;
    },
  };
}

export interface SlotFailure {
  readonly slot: string;
  readonly op: 'drop' | 'create' | 'advance';
  readonly error: string;
}

export interface SlotApplyResult {
  readonly dropped: readonly string[];
  readonly created: readonly string[];
  readonly advanced: readonly string[];
  readonly failed: readonly SlotFailure[];
}

export async function applySlotPlan(
  db: SlotConnector,
  plan: SlotPlan,
  log: SlotLog,
): Promise<SlotApplyResult> {
  const dropped: string[] = [];
  const created: string[] = [];
  const advanced: string[] = [];
  const failed: SlotFailure[] = [];
  const attempt = async (slot: string, op: SlotFailure['op'], fn: () => Promise<boolean>, out: string[]) => {
    try {
      if (await fn()) out.push(slot);
    } catch (e) {
      failed.push({ slot, op, error: errorText(e) });
    }
  };

  for (const name of plan.drop) {
    await attempt(name, 'drop', () => dropReplicationSlot(db.session(null), name), dropped);
  }
  // a slot whose drop failed still exists: creating it again would only fail too
  const dropFailed = new Set(failed.map((f) => f.slot));
  for (const spec of plan.create) {
    if (dropFailed.has(spec.name)) continue;
    await attempt(
      spec.name,
      'create',
      () =>
        spec.type === 'physical'
          ? createPhysicalSlot(db.session(null), spec.name)
          : createLogicalSlot(db.session(spec.database), spec.name, spec.plugin),
      created,
    );
  }
  for (const a of plan.advance) {
    await attempt(
      a.name,
      'advance',
      async () => (await advanceSlot(db.session(a.database), a.name, a.lsn)) !== null,
      advanced,
    );
  }

  if (dropped.length > 0) log.info({ slots: dropped }, 'dropped replication slots');
  if (created.length > 0) log.info({ slots: created }, 'created replication slots');
  for (const f of failed)
    log.warn({ slot: f.slot, op: f.op, err: f.error }, `replication slot ${f.op} failed`);
  return { dropped, created, advanced, failed };
}
