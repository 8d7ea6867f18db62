import type { DynamicConfig } from '../config/dynamic-schema.js';
import type { NodeConfig } from '../config/node-schema.js';
import { replicationTimingParameters } from '../replication/evidence.js';

/**
 * Settings that must agree across the cluster (a standby refuses to run with less than its
 * primary has): when the dynamic config sets one, it wins over the node's YAML, as in Patroni.
 */
export const CLUSTER_WIDE_PARAMETERS: readonly string[] = [
  'max_connections',
  'max_locks_per_transaction',
  'max_worker_processes',
  'max_prepared_transactions',
  'max_wal_senders',
  'max_replication_slots',
  'wal_level',
  'wal_log_hints',
  'track_commit_timestamp',
  'hot_standby',
  'wal_keep_size',
];

export type ParameterValue = string | number | boolean;
type Params = Readonly<Record<string, ParameterValue>>;

/** The node's own parameters override the cluster's, except the cluster-wide ones. */
export function mergeParameters(cluster: Params, local: Params): Record<string, ParameterValue> {
  const merged: Record<string, ParameterValue> = { ...cluster, ...local };
  for (const name of CLUSTER_WIDE_PARAMETERS) {
    const v = cluster[name];
    if (v !== undefined) merged[name] = v;
  }
  return merged;
}

/**
 * The parameters a node runs with, before `synchronous_standby_names`: the replication timing
 * the isolation rule relies on (design rule 2), under the dynamic and the local parameters
 * merged by `mergeParameters` (the operator's values win over the timing).
 */
export function configuredParameters(
  dyn: Pick<DynamicConfig, 'ttlMs' | 'postgresql'>,
  local: Params,
): Record<string, ParameterValue> {
  return { ...replicationTimingParameters(dyn.ttlMs), ...mergeParameters(dyn.postgresql.parameters, local) };
}

/**
 * The `pg_hba.conf` lines that replace the generated file: the node's `postgresql.pg_hba`,
 * else the dynamic one (Patroni's precedence); null: the generated file, with
 * `bootstrap.pg_hba` appended.
 */
export function effectivePgHba(
  config: Pick<NodeConfig, 'postgresql'>,
  dyn: Pick<DynamicConfig, 'postgresql'>,
): readonly string[] | null {
  const local = config.postgresql.pgHba;
  if (local !== null && local.length > 0) return local;
  const cluster = dyn.postgresql.pgHba;
  return cluster !== null && cluster.length > 0 ? cluster : null;
}
