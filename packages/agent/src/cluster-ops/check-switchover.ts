import {
  type ClusterView,
  type DecideConfig,
  type MemberName,
  parseScheduledTime,
  type SwitchoverRefusalCode,
  switchoverAdmission,
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
  | SwitchoverRefusalCode;

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
 * honour now. The candidate is judged by core's `switchoverAdmission` — the
 * same rule the leader applies before it hands over, and hactl before it
 * asks, so we never accept what it would ignore.
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
  const admission = switchoverAdmission(view, config, {
    leader: current,
    candidate: req.candidate,
    when: req.scheduledAt === null ? 'now' : 'later',
  });
  if (!admission.admitted) return impossible(admission.code, admission.text);
  const target = admission.target;
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
