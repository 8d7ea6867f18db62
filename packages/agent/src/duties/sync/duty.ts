import {
  type ClusterView,
  type DynamicConfig,
  errorText,
  InvariantViolation,
  type MemberName,
} from '@hapg/core';
import type { ReplicationRow } from '@hapg/postgres';
import type { ExecLog } from '../../executor/ports.js';
import type { SyncManager } from './sync-manager.js';

export interface SyncDutyInput {
  readonly view: ClusterView | null;
  readonly dyn: DynamicConfig;
  /** Postgres runs and accepts writes */
  readonly runningPrimary: boolean;
  /** the view's leader key names us under our lease */
  readonly holdsLeaderKey: boolean;
  /** the primary's pg_stat_replication, from this loop's probe */
  readonly replication: readonly ReplicationRow[];
  /** the standbys whose replies are fresh (`ReplicaEvidence`) */
  readonly responsive: readonly MemberName[];
}

/**
 * Before the loop renders the parameters: a writable primary keeps the value in force unless
 * the key gives it one (`SyncManager.adoptInForce`). If the server cannot say, this throws and
 * the loop renders nothing, which keeps the value too.
 */
export async function adoptSsnInForce(
  sync: SyncManager,
  input: Pick<SyncDutyInput, 'view' | 'dyn' | 'runningPrimary'>,
): Promise<void> {
  if (input.runningPrimary) await sync.adoptInForce(input.view, input.dyn);
}

/**
 * The synchronous-replication duty of one loop, the same in the agent and the simulator: the
 * managed `synchronous_standby_names` lives as long as Postgres runs writable (it always kept
 * the promise of the key we last wrote, whereas a key read back from a lagging view might be
 * older); while we lead, one `SyncManager` tick. A failed step is retried next loop.
 */
export async function syncDuty(sync: SyncManager, input: SyncDutyInput, log: ExecLog): Promise<void> {
  if (!input.runningPrimary) {
    sync.reset();
    return;
  }
  if (input.view === null || !input.holdsLeaderKey) return;
  try {
    await sync.tick({
      view: input.view,
      dyn: input.dyn,
      replication: input.replication,
      responsive: input.responsive,
      retryTimeoutMs: input.dyn.retryTimeoutMs,
    });
  } catch (e) {
    if (e instanceof InvariantViolation) throw e;
    log.warn({ err: errorText(e) }, 'synchronous replication update incomplete; retrying next loop');
  }
}
