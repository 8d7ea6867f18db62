import { type ClusterView, type DynamicConfig, errorText, type PgObservation } from '@hapg/core';
import type { EtcdStore } from '@hapg/dcs';
import type { PgStatus, PostgresNode } from '@hapg/postgres';
import type { Logger } from '../logger.js';
import type { SlotManager } from './slots/index.js';
import { syncDuty } from './sync/duty.js';
import type { SyncManager } from './sync/sync-manager.js';

export interface LeaderDutyDeps {
  readonly slots: SlotManager;
  readonly sync: SyncManager;
  readonly store: Pick<EtcdStore, 'putStatus'>;
  readonly node: PostgresNode;
  readonly log: Logger;
}

export interface LeaderDutyInput {
  readonly view: ClusterView | null;
  readonly dyn: DynamicConfig;
  readonly pg: PgObservation;
  /** the last probe (pg_stat_replication of a primary) */
  readonly status: PgStatus | null;
  readonly holdsLeaderKey: boolean;
  readonly nowMs: number;
  /**
   * failsafe mode, writable on the failsafe deadline only: `synchronous_standby_names` and the
   * `sync` key stay as they are (docs/failsafe.md P6; rule 4 needs etcd around every change)
   */
  readonly syncFrozen?: boolean;
}

/**
 * Replication slots on every running node (a slot per member and the permanent ones on the
 * leader; copies advanced on replicas so they survive a failover), and, while leading, the
 * sync duty and the `status` key with our optime and slot positions.
 */
export async function runLeaderDuties(deps: LeaderDutyDeps, input: LeaderDutyInput): Promise<void> {
  const { view, dyn, pg } = input;
  const runningPrimary = pg.process === 'running' && pg.inRecovery === false;
  const syncInput = {
    view,
    dyn,
    runningPrimary,
    holdsLeaderKey: input.holdsLeaderKey,
    replication: input.status?.replication ?? [],
    responsive: pg.streamingReplicas,
  };
  if (!runningPrimary) await syncDuty(deps.sync, syncInput, deps.log);
  if (view === null || pg.process !== 'running' || pg.inRecovery === null) return;
  const leading = input.holdsLeaderKey && runningPrimary;
  if (!leading && runningPrimary) return; // a demoted primary waits for its rejoin
  const r = await deps.slots.tick({
    role: leading ? 'primary' : 'replica',
    view,
    dyn,
    nowMs: input.nowMs,
    node: deps.node,
    flushLsn: pg.flushLsn,
    replayLsn: pg.replayLsn,
  });
  if (r.created.length > 0 || r.dropped.length > 0) {
    deps.log.info({ created: r.created, dropped: r.dropped }, 'replication slots changed');
  }
  if (!leading) return;
  if (input.syncFrozen !== true) await syncDuty(deps.sync, syncInput, deps.log);
  if (pg.flushLsn === null) return;
  try {
    await deps.store.putStatus({
      optime: Number(pg.flushLsn),
      slots: r.status.slots,
      retainSlots: r.status.retainSlots,
    });
  } catch (e) {
    deps.log.warn({ err: errorText(e) }, 'could not write the status key');
  }
}
