import type { LeaderRecord, MemberName } from '../types.js';

/**
 * Rule 1's identity test: the leader key names `name` *and* is bound to `leaseId`, a lease
 * this node holds now. The name alone is not enough: our name under another lease is our
 * previous incarnation's key (it lapses by itself) or another tool's, and neither makes us the
 * leader. Null lease (none granted yet, or a key bound to none): never held. Takes any value
 * with a `leader` (a ClusterView, the simulator's etcd state).
 */
export function holdsLeaderKey(
  view: { readonly leader: Pick<LeaderRecord, 'name' | 'leaseId'> | null } | null,
  name: MemberName,
  leaseId: string | null,
): boolean {
  const leader = view?.leader ?? null;
  return leader !== null && leaseId !== null && leader.name === name && leader.leaseId === leaseId;
}
