import type { ClusterView, Member } from '@hapg/core';
import { confirmOrRefuse } from '../../actions/confirm.js';
import type { ActionDeps } from '../../actions/deps.js';
import { admission, candidateProblem, healthyLeader, memberOrFail } from '../../actions/members.js';
import { requestSwitch } from '../../actions/request.js';
import { type WaitLeaderOptions, waitForLeader } from '../../actions/wait-leader.js';
import { CliError } from '../../errors.js';
import { renderList } from '../list/list.js';

export interface FailoverOptions {
  /** null: the best eligible member */
  readonly candidate: string | null;
  /** also: promote a candidate that fails the health checks */
  readonly force: boolean;
  readonly wait: Omit<WaitLeaderOptions, 'from' | 'to'>;
}

export interface FailoverPlan {
  readonly candidate: Member;
  /** the leader key's holder (not running), if any */
  readonly leader: string | null;
  /** why the candidate would normally be refused; only with --force */
  readonly problem: string | null;
}

/** Pure checks of a manual failover; throws the refusal as a CliError. */
export function planFailover(
  view: ClusterView,
  opts: Pick<FailoverOptions, 'candidate' | 'force'>,
): FailoverPlan {
  const leader = healthyLeader(view);
  if (leader !== null) {
    throw new CliError(`cluster ${view.scope} has a healthy leader (${leader.name}): use hactl switchover`);
  }
  let candidate: Member;
  if (opts.candidate !== null) {
    candidate = memberOrFail(view, opts.candidate);
  } else {
    // the best eligible member, by the REST API's and the leader's rule
    const best = admission(view, null);
    if (!best.admitted || best.target === null) {
      throw new CliError(
        `cannot fail over: no member of cluster ${view.scope} is eligible; name one with --candidate and --force`,
      );
    }
    candidate = memberOrFail(view, best.target);
  }
  const problem = candidateProblem(view, candidate);
  if (problem !== null && !opts.force) {
    throw new CliError(`cannot fail over to ${candidate.name}: ${problem} (--force promotes it anyway)`);
  }
  return { candidate, leader: view.leader?.name ?? null, problem };
}

export async function runFailover(deps: ActionDeps, opts: FailoverOptions): Promise<number> {
  const view = await deps.store.readView();
  const plan = planFailover(view, opts);
  if (plan.problem !== null) deps.io.err(`hactl: warning: ${plan.problem}\n`);
  await confirmOrRefuse(
    deps.prompt,
    `Fail over cluster ${view.scope} to ${plan.candidate.name}?`,
    opts.force,
  );
  const body: Record<string, string> = { candidate: plan.candidate.name };
  if (plan.leader !== null) body.leader = plan.leader;
  // without a running leader the candidate's own agent takes the request (contract)
  const delivery = await requestSwitch(
    deps,
    view,
    { what: 'failover', member: plan.candidate, path: '/failover', body },
    { leader: null, member: plan.candidate.name, scheduledAt: null },
  );
  const after = await waitForLeader(deps, { ...opts.wait, from: null, to: plan.candidate.name });
  if (deps.format === 'table') {
    deps.io.out(
      `failed over to ${plan.candidate.name}${delivery.via === 'etcd' ? ' (through the failover key)' : ''}\n`,
    );
  }
  deps.io.out(renderList(after, deps.format).out);
  return 0;
}
