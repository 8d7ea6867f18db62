import {
  type ClusterView,
  type Member,
  type SwitchoverAdmission,
  type SwitchoverRequest,
  switchoverAdmission,
} from '@hapg/core';
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
 * Whether a switchover/failover from the current leader to `candidate` (null: the best member)
 * is admissible, by core's `switchoverAdmission` — the rule the REST API and the leader apply,
 * with the config the agents decide with — so hactl refuses exactly what they would refuse.
 */
export function admission(
  view: ClusterView,
  candidate: string | null,
  when: SwitchoverRequest['when'] = 'now',
): SwitchoverAdmission {
  return switchoverAdmission(view, decideConfigOf(view), {
    leader: view.leader?.name ?? null,
    candidate,
    when,
  });
}

/** hactl's words for a refusal: `node4 is not running (state: stopped)`, `node5 is tagged nofailover`. */
export function refusalText(
  refusal: Extract<SwitchoverAdmission, { admitted: false }>,
  name: string,
): string {
  const { code, member, eligibility } = refusal;
  if (code === 'CANDIDATE_IS_LEADER') return `${name} is the leader`;
  if (code === 'CANDIDATE_NOT_RUNNING' && member !== null)
    return `${name} is not running (state: ${member.state})`;
  if (eligibility === null) return refusal.text;
  // core's texts start with "<name>: "
  const reason = eligibility.text.replace(`${name}: `, '');
  // "node5 is tagged nofailover", "node3 is 3145728 bytes behind ...", "node2: WAL position unknown"
  return /^(tagged|\d)/.test(reason) ? `${name} is ${reason}` : `${name}: ${reason}`;
}

/** Why `m` cannot take over now, in hactl's words, or null when it can (see `admission`). */
export function candidateProblem(view: ClusterView, m: Member): string | null {
  const a = admission(view, m.name);
  return a.admitted ? null : refusalText(a, m.name);
}
