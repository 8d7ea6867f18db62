import type { ClusterView, Member, MemberName } from '../types.js';
import { parseTags } from './tags.js';

/** Roles of a member key whose Postgres can feed a standby. */
const FEEDING_ROLES: readonly string[] = ['replica', 'primary', 'master', 'standby_leader', 'sync_standby'];

/** A member another can stream or clone from: an agent's key (leased), Postgres running in a role that serves WAL. */
function canFeed(m: Member | undefined): m is Member {
  return m !== undefined && m.leaseId !== null && m.state === 'running' && FEEDING_ROLES.includes(m.role);
}

/** One member's own choice, looking no further: its tag's member if that one can feed it, else the leader. */
function upstreamStep(view: ClusterView, name: MemberName, leader: MemberName): MemberName {
  const wanted = parseTags(view.members.get(name)?.tags ?? {}).replicatefrom;
  if (wanted === null || wanted === name) return leader;
  return canFeed(view.members.get(wanted)) ? wanted : leader;
}

/**
 * Whom `name` streams from (Patroni's `replicatefrom`, cascading replication): the member its
 * tag names while that member runs a Postgres that can feed it, otherwise the leader — so a
 * cascade falls back to the leader when its upstream is down and returns when it is back. A
 * chain of tags that comes back to a member on it streams from nobody: such a member follows
 * the leader. One rule for everyone, from the view alone: the replica choosing whom to follow,
 * its upstream keeping a slot for it, and the leader not keeping one.
 */
export function upstreamOf(view: ClusterView, name: MemberName, leader: MemberName): MemberName {
  const first = upstreamStep(view, name, leader);
  const path = new Set<MemberName>([name]);
  // each step adds a member to the path or ends: at most one step per member
  for (let current = first; current !== leader; current = upstreamStep(view, current, leader)) {
    if (path.has(current)) return leader;
    path.add(current);
  }
  return first;
}

/**
 * Where a new replica takes its base backup: a running member tagged `clonefrom` (the first by
 * name, so that every run agrees), as in Patroni, otherwise the leader.
 */
export function cloneSourceOf(view: ClusterView, name: MemberName, leader: MemberName): MemberName {
  const tagged = [...view.members.values()]
    .filter((m) => m.name !== name && m.name !== leader && canFeed(m) && parseTags(m.tags).clonefrom)
    .map((m) => m.name)
    .sort();
  return tagged[0] ?? leader;
}
