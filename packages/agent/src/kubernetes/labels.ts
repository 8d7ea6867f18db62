import type { KubernetesConfig } from '@hapg/core';
import type { NodeSnapshot } from '../api/snapshot.js';

/** Label name → value; null removes the label (JSON merge patch). */
export type PodLabels = Readonly<Record<string, string | null>>;

/**
 * The role labels this node's pod should carry, from the loop's snapshot (Patroni's rule,
 * `touch_member`): the primary gets `leader_label_value`, a running replica
 * `follower_label_value`, another running role its own name (`demoted`: a writable server
 * without the key, which no Service selects), and a node whose Postgres is not running no role
 * label at all. `tmp_role_label`, when set, carries the role's default value whatever the
 * configured values are (Patroni 4's aid for migrating label values).
 */
export function podRoleLabels(
  s: Pick<NodeSnapshot, 'role' | 'pgState'>,
  k: Pick<
    KubernetesConfig,
    'roleLabel' | 'leaderLabelValue' | 'followerLabelValue' | 'standbyLeaderLabelValue' | 'tmpRoleLabel'
  >,
): PodLabels {
  let role: string | null;
  let tmpRole: string | null;
  if (s.role === 'primary') {
    role = k.leaderLabelValue;
    tmpRole = 'primary';
  } else if (s.role === 'standby_leader') {
    role = k.standbyLeaderLabelValue;
    tmpRole = 'primary';
  } else if (s.pgState === 'running') {
    role = s.role === 'replica' ? k.followerLabelValue : s.role;
    tmpRole = s.role;
  } else {
    role = null;
    tmpRole = null;
  }
  const labels: Record<string, string | null> = { [k.roleLabel]: role };
  if (k.tmpRoleLabel !== null && k.tmpRoleLabel !== k.roleLabel) labels[k.tmpRoleLabel] = tmpRole;
  return labels;
}

/** A stable text of a label set: equal sets, equal keys (the queue compares these). */
export function labelsKey(labels: PodLabels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
