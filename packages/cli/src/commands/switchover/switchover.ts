import type { ClusterView, Member } from '@hapg/core';
import { confirmOrRefuse } from '../../actions/confirm.js';
import type { ActionDeps } from '../../actions/deps.js';
import { admission, memberOrFail, refusalText } from '../../actions/members.js';
import { requestSwitch } from '../../actions/request.js';
import { type WaitLeaderOptions, waitForLeader } from '../../actions/wait-leader.js';
import { CliError } from '../../errors.js';
import { renderData } from '../../output/index.js';
import { renderList } from '../list/list.js';

export interface SwitchoverOptions {
  /** `--leader`: must be the current leader when given */
  readonly leader: string | null;
  /** `--candidate`: null lets the leader pick the best replica */
  readonly candidate: string | null;
  /** ISO-8601 instant, null for now */
  readonly scheduledAt: string | null;
  readonly force: boolean;
  readonly wait: Omit<WaitLeaderOptions, 'from' | 'to'>;
}

export interface SwitchoverPlan {
  readonly leader: Member;
  readonly candidate: string | null;
}

/**
 * Checks made before anything is asked or sent, from the etcd view: the leader is the one
 * named, and the candidate (or, without one, some member) could take over by the rule the
 * REST API and the leader apply (core's `switchoverAdmission`: running, within
 * maximum_lag_on_failover, not nofailover, ...). A scheduled switchover is vetted now only for
 * what cannot change by then, as the REST API does; the leader vets it again when it is due.
 * Pure; throws the refusal as a CliError.
 */
export function planSwitchover(
  view: ClusterView,
  opts: Pick<SwitchoverOptions, 'leader' | 'candidate'> & { readonly scheduledAt?: string | null },
): SwitchoverPlan {
  const current = view.leader?.name ?? null;
  if (current === null) throw new CliError(`cluster ${view.scope} has no leader: use hactl failover`);
  if (opts.leader !== null && opts.leader !== current) {
    throw new CliError(
      `${opts.leader} is not the leader of cluster ${view.scope} (the leader is ${current})`,
    );
  }
  const leader = memberOrFail(view, current);
  if (opts.candidate === current) throw new CliError(`${current} is already the leader`);
  if (opts.candidate !== null) memberOrFail(view, opts.candidate);
  const a = admission(view, opts.candidate, (opts.scheduledAt ?? null) === null ? 'now' : 'later');
  if (!a.admitted) {
    if (opts.candidate === null) {
      throw new CliError(
        `cannot switch over: no member of cluster ${view.scope} is eligible to become leader`,
      );
    }
    throw new CliError(`cannot switch over to ${opts.candidate}: ${refusalText(a, opts.candidate)}`);
  }
  return { leader, candidate: opts.candidate };
}

export function switchoverQuestion(scope: string, plan: SwitchoverPlan, scheduledAt: string | null): string {
  const to = plan.candidate === null ? 'the best replica' : plan.candidate;
  const when = scheduledAt === null ? 'now' : `at ${scheduledAt}`;
  return `Switch over cluster ${scope} from ${plan.leader.name} to ${to} ${when}?`;
}

export async function runSwitchover(deps: ActionDeps, opts: SwitchoverOptions): Promise<number> {
  const view = await deps.store.readView();
  const plan = planSwitchover(view, opts);
  await confirmOrRefuse(deps.prompt, switchoverQuestion(view.scope, plan, opts.scheduledAt), opts.force);
  const body: Record<string, string> = { leader: plan.leader.name };
  if (plan.candidate !== null) body.candidate = plan.candidate;
  if (opts.scheduledAt !== null) body.scheduled_at = opts.scheduledAt;
  const delivery = await requestSwitch(
    deps,
    view,
    { what: 'switchover', member: plan.leader, path: '/switchover', body },
    { leader: plan.leader.name, member: plan.candidate, scheduledAt: opts.scheduledAt },
  );
  if (opts.scheduledAt !== null) {
    const result = {
      result: 'scheduled',
      scheduled_at: opts.scheduledAt,
      from: plan.leader.name,
      to: plan.candidate,
    };
    deps.io.out(
      deps.format === 'table'
        ? `switchover scheduled at ${opts.scheduledAt}\n`
        : renderData(deps.format, result),
    );
    return 0;
  }
  // a 200 means the agent already saw the switch through; anything else is still on its way
  const after = await waitForLeader(deps, { ...opts.wait, from: plan.leader.name, to: plan.candidate });
  const now = after.leader?.name ?? '?';
  if (deps.format === 'table') {
    deps.io.out(
      `switched over from ${plan.leader.name} to ${now}${delivery.via === 'etcd' ? ' (through the failover key)' : ''}\n`,
    );
  }
  deps.io.out(renderList(after, deps.format).out);
  return 0;
}
