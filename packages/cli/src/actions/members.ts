import { type ClusterView, isEligible, type Member, memberCandidate } from '@hapg/core';
import { CliError } from '../errors.js';
import { decideConfigOf } from './cluster-config.js';

export function memberOrFail(view: ClusterView, name: string): Member {
  const m = view.members.get(name);
  if (m === undefined) {
    const known = [...view.members.keys()].sort().join(', ');
    throw new CliError(`${name} is not a member of cluster ${view.scope} (members: ${known || 'none'})`);
  }
  return m;
}

/** The leader's member record when the leader key names a member that is running. */
export function healthyLeader(view: ClusterView): Member | null {
  const name = view.leader?.name;
  if (name === undefined) return null;
  const m = view.members.get(name);
  return m !== undefined && m.state === 'running' ? m : null;
}

/**
 * Why `m` cannot take over now, or null when it can: running, streaming, then
 * the agents' own eligibility rule (nofailover, failover_priority 0, sync key,
 * timeline, lag within maximum_lag_on_failover), so hactl refuses exactly what
 * the leader would refuse.
 */
export function candidateProblem(view: ClusterView, m: Member): string | null {
  if (m.name === view.leader?.name) return `${m.name} is the leader`;
  if (m.state !== 'running') return `${m.name} is not running (state: ${m.state})`;
  if (m.replicationState !== 'streaming') {
    return `${m.name} is not streaming (replication state: ${m.replicationState ?? 'unknown'})`;
  }
  const e = isEligible(memberCandidate(m), decideConfigOf(view), view);
  if (e.eligible) return null;
  // core's texts start with "<name>: "
  const reason = e.text.replace(`${m.name}: `, '');
  // "node5 is tagged nofailover", "node3 is 3145728 bytes behind ...", "node2: WAL position unknown"
  return /^(tagged|\d)/.test(reason) ? `${m.name} is ${reason}` : `${m.name}: ${reason}`;
}

/** Members that could take over, by name. */
export function eligibleMembers(view: ClusterView): Member[] {
  return [...view.members.values()]
    .filter((m) => candidateProblem(view, m) === null)
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}
