import type { ClusterView } from '@hapg/core';

/**
 * Whether a new view can change a decision now. Member keys change every loop on every node;
 * the loop wakes at once only for the leader key, the leader's timeline (a new leader
 * publishes it after promoting, and replicas re-point on it), and the failover, config and
 * initialize keys.
 */
export function viewChangeWakes(prev: ClusterView | null, view: ClusterView): boolean {
  if (prev === null) return true;
  const leader = view.leader;
  return (
    prev.leader?.name !== leader?.name ||
    prev.leader?.leaseId !== leader?.leaseId ||
    (leader !== null &&
      prev.members.get(leader.name)?.timeline !== view.members.get(leader.name)?.timeline) ||
    prev.failover?.modRevision !== view.failover?.modRevision ||
    prev.config?.modRevision !== view.config?.modRevision ||
    prev.initialize !== view.initialize
  );
}
