import {
  type ClusterView,
  type DecideConfig,
  isEligible,
  type MemberName,
  memberCandidate,
  parseScheduledTime,
  rankCandidates,
} from '@hapg/core';
import type { FailoverValue } from '@hapg/dcs';

/** A `POST /switchover` or `POST /failover` body, already shape-checked by the route's JSON schema. */
export interface SwitchRequest {
  readonly kind: 'switchover' | 'failover';
  readonly leader: MemberName | null;
  /** null: any healthy candidate (switchover only) */
  readonly candidate: MemberName | null;
  /** ISO-8601 with zone, as given; null: now */
  readonly scheduledAt: string | null;
}

export type SwitchRefusalCode =
  | 'LEADER_REQUIRED'
  | 'CANDIDATE_REQUIRED'
  | 'FAILOVER_CANNOT_BE_SCHEDULED'
  | 'BAD_SCHEDULED_AT'
  | 'SCHEDULED_IN_THE_PAST'
  | 'ALREADY_PENDING'
  | 'NOT_THE_LEADER'
  | 'PAUSED_SCHEDULED'
  | 'PAUSED_NEEDS_CANDIDATE'
  | 'CANDIDATE_IS_LEADER'
  | 'CANDIDATE_UNKNOWN'
  | 'CANDIDATE_NOT_RUNNING'
  | 'CANDIDATE_NOT_ELIGIBLE'
  | 'CANDIDATE_LAGGING'
  | 'NO_HEALTHY_CANDIDATE';

export type SwitchCheck =
  | {
      readonly ok: true;
      /** what to write to the `failover` key */
      readonly failoverValue: FailoverValue;
      /** the member that should end up leading; null only for a scheduled switchover to "any" */
      readonly target: MemberName | null;
      /** the leader when the request was accepted (null: manual failover without a leader) */
      readonly fromLeader: MemberName | null;
    }
  | {
      readonly ok: false;
      readonly status: 400 | 412;
      readonly code: SwitchRefusalCode;
      readonly reason: string;
    };

const bad = (code: SwitchRefusalCode, reason: string): SwitchCheck => ({
  ok: false,
  status: 400,
  code,
  reason,
});
const impossible = (code: SwitchRefusalCode, reason: string): SwitchCheck => ({
  ok: false,
  status: 412,
  code,
  reason,
});

/**
 * Whether a switchover/failover request can be accepted now, and the
 * `failover` key value that carries it. Pure: the cluster view, the dynamic
 * config and the wall-clock time come in as values. 400 is a malformed
 * request whatever the cluster's state; 412 is a request the cluster cannot
 * honour now. Eligibility is core's `isEligible` — the same rule the leader
 * applies before it hands over, so we never accept what it would ignore.
 */
export function checkSwitchover(
  view: ClusterView,
  config: DecideConfig,
  req: SwitchRequest,
  wallNowMs: number,
): SwitchCheck {
  const shape = checkShape(req, wallNowMs);
  if ('ok' in shape) return shape;
  const { scheduledAt } = shape;
  const current = view.leader?.name ?? null;
  if (view.failover !== null) {
    const f = view.failover;
    const what = f.scheduledAt === null ? 'pending' : `scheduled at ${f.scheduledAt}`;
    return impossible(
      'ALREADY_PENDING',
      `a switchover is already ${what} (to ${f.member ?? 'any'}); DELETE /switchover first`,
    );
  }
  if (req.leader !== null && req.leader !== current) {
    const actual = current === null ? 'there is no leader' : `the leader is ${current}`;
    return impossible('NOT_THE_LEADER', `${req.leader} is not the leader: ${actual}`);
  }
  if (config.pause && req.scheduledAt !== null) {
    return impossible('PAUSED_SCHEDULED', 'cannot schedule a switchover while the cluster is paused');
  }
  if (config.pause && req.candidate === null) {
    return impossible('PAUSED_NEEDS_CANDIDATE', 'a paused cluster can switch over only to a named candidate');
  }
  const target =
    req.candidate === null ? chooseCandidate(view, config, current, req.scheduledAt) : req.candidate;
  if (typeof target !== 'string' && target !== null) return target;
  if (target !== null) {
    const refusal = checkCandidate(view, config, current, target, req.scheduledAt !== null);
    if (refusal !== null) return refusal;
  }
  return {
    ok: true,
    failoverValue: { leader: current, member: target, scheduledAt },
    target,
    fromLeader: current,
  };
}

/**
 * Rules that hold whatever the cluster looks like (400). Passing, it gives the scheduled time
 * in its canonical form (UTC), the one written to the key.
 */
function checkShape(
  req: SwitchRequest,
  wallNowMs: number,
): SwitchCheck | { readonly scheduledAt: string | null } {
  if (req.kind === 'failover') {
    if (req.candidate === null) return bad('CANDIDATE_REQUIRED', 'failover needs a candidate');
    if (req.scheduledAt !== null) {
      return bad(
        'FAILOVER_CANNOT_BE_SCHEDULED',
        'scheduled_at: a failover cannot be scheduled; use switchover',
      );
    }
    return { scheduledAt: null };
  }
  if (req.leader === null) return bad('LEADER_REQUIRED', 'leader: switchover needs the current leader');
  if (req.scheduledAt === null) return { scheduledAt: null };
  const when = parseScheduledTime('scheduled_at', req.scheduledAt, wallNowMs);
  if ('error' in when) {
    return bad(when.problem === 'past' ? 'SCHEDULED_IN_THE_PAST' : 'BAD_SCHEDULED_AT', when.error);
  }
  return { scheduledAt: when.iso };
}

/** A named candidate must exist and, unless the switch is scheduled for later, be eligible now. */
function checkCandidate(
  view: ClusterView,
  config: DecideConfig,
  current: MemberName | null,
  name: MemberName,
  scheduled: boolean,
): SwitchCheck | null {
  if (name === current) return impossible('CANDIDATE_IS_LEADER', `candidate ${name} is already the leader`);
  const member = view.members.get(name);
  if (member === undefined)
    return impossible('CANDIDATE_UNKNOWN', `candidate ${name} is not a member of the cluster`);
  // A scheduled switch is vetted again by the leader when it is due; health now says little about then.
  if (scheduled) return null;
  const e = isEligible(memberCandidate(member), config, view);
  if (e.eligible) return null;
  const code =
    e.code === 'POSTGRES_NOT_RUNNING'
      ? 'CANDIDATE_NOT_RUNNING'
      : e.code === 'LAG_TOO_HIGH'
        ? 'CANDIDATE_LAGGING'
        : 'CANDIDATE_NOT_ELIGIBLE';
  return impossible(code, `candidate ${e.text}`);
}

/**
 * "Any candidate": the best-ranked eligible member other than the leader, by
 * core's one total order. A scheduled switch leaves the choice to the time it
 * runs (null) — the best member then may not be the best now.
 */
function chooseCandidate(
  view: ClusterView,
  config: DecideConfig,
  current: MemberName | null,
  scheduledAt: string | null,
): MemberName | null | SwitchCheck {
  if (scheduledAt !== null) return null;
  const eligible = [...view.members.values()]
    .filter((m) => m.name !== current)
    .map(memberCandidate)
    .filter((c) => isEligible(c, config, view).eligible);
  const best = rankCandidates(eligible)[0];
  if (best === undefined)
    return impossible('NO_HEALTHY_CANDIDATE', 'no member is healthy and eligible to take over');
  return best.name;
}
