import type { ClusterView } from '@hapg/core';

/**
 * Whether a new view can change a decision now. Member keys change every loop on every node;
 * the loop wakes at once only for the leader key, the leader's timeline (a new leader
 * publishes it after promoting, and replicas re-point on it), the failover, config and
 * initialize keys, and the stream release keys.
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
    prev.initialize !== view.initialize ||
    releasesChanged(prev, view)
  );
}

/** A stream release came or went (quorum fast failover): the furthest standby takes over on it at once. */
function releasesChanged(prev: ClusterView, view: ClusterView): boolean {
  const a = prev.releases ?? new Map();
  const b = view.releases ?? new Map();
  if (a.size !== b.size) return true;
  for (const [name, r] of b) if (a.get(name)?.modRevision !== r.modRevision) return true;
  return false;
}
