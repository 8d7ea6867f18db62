import { type Eligibility, isEligible, memberCandidate, rankCandidates } from '../decide/candidates.js';
import type { DecideConfig } from '../decide/types.js';
import type { ClusterView, Member, MemberName } from '../types.js';

/** Why a switchover or failover to a candidate is refused (the REST API's codes). */
export type SwitchoverRefusalCode =
  | 'CANDIDATE_IS_LEADER'
  | 'CANDIDATE_UNKNOWN'
  | 'CANDIDATE_NOT_RUNNING'
  | 'CANDIDATE_NOT_ELIGIBLE'
  | 'CANDIDATE_LAGGING'
  | 'NO_HEALTHY_CANDIDATE';

export interface SwitchoverRequest {
  /** the leader key's holder, who hands over; null: no leader key (a manual failover) */
  readonly leader: MemberName | null;
  /** the member to take over; null: the best eligible one */
  readonly candidate: MemberName | null;
  /**
   * `now`: vetted as the leader vets it when it acts. `later` (a scheduled switchover): only
   * what cannot change by then — health now says little about then, and the leader vets the
   * request again when it is due (with `now`).
   */
  readonly when: 'now' | 'later';
}

export type SwitchoverAdmission =
  | {
      readonly admitted: true;
      /** who should take over; null only for a switchover to "any" scheduled for later */
      readonly target: MemberName | null;
    }
  | {
      readonly admitted: false;
      readonly code: SwitchoverRefusalCode;
      /** the REST API's reason, e.g. `candidate node2: Postgres is not running or not reachable` */
      readonly text: string;
      /** the refused candidate's record, when it is a member */
      readonly member: Member | null;
      /** the eligibility rule's verdict, when that refused it */
      readonly eligibility: Extract<Eligibility, { eligible: false }> | null;
    };

const refuse = (
  code: SwitchoverRefusalCode,
  text: string,
  member: Member | null = null,
  eligibility: Extract<Eligibility, { eligible: false }> | null = null,
): SwitchoverAdmission => ({ admitted: false, code, text, member, eligibility });

/**
 * May `req.candidate` (or, without one, anybody) take over from `req.leader`, judged from the
 * members' etcd records? The one rule of the REST API (`POST /switchover`, `/failover`), hactl
 * and the leader's own loop before it hands over (decide), so none accepts what another would
 * ignore. A named candidate must be a member other than the leader and, `now`, pass
 * `isEligible` (running, not nofailover, failover_priority > 0, the sync key, the timeline,
 * the lag limit). Without one, the best-ranked eligible member other than the leader
 * (`rankCandidates`), none being `NO_HEALTHY_CANDIDATE`; `later`, the choice is left to the
 * time it runs. Like Patroni, it does not ask for `streaming`: a replica within the lag limit
 * restoring from the archive is as good a target.
 */
export function switchoverAdmission(
  view: ClusterView,
  config: DecideConfig,
  req: SwitchoverRequest,
): SwitchoverAdmission {
  const { leader, candidate, when } = req;
  if (candidate === null) {
    if (when === 'later') return { admitted: true, target: null };
    const eligible = [...view.members.values()]
      .filter((m) => m.name !== leader)
      .map(memberCandidate)
      .filter((c) => isEligible(c, config, view).eligible);
    const best = rankCandidates(eligible)[0];
    if (best === undefined)
      return refuse('NO_HEALTHY_CANDIDATE', 'no member is healthy and eligible to take over');
    return { admitted: true, target: best.name };
  }
  if (candidate === leader)
    return refuse('CANDIDATE_IS_LEADER', `candidate ${candidate} is already the leader`);
  const member = view.members.get(candidate);
  if (member === undefined)
    return refuse('CANDIDATE_UNKNOWN', `candidate ${candidate} is not a member of the cluster`);
  if (when === 'later') return { admitted: true, target: candidate };
  const e = isEligible(memberCandidate(member), config, view);
  if (e.eligible) return { admitted: true, target: candidate };
  const code =
    e.code === 'POSTGRES_NOT_RUNNING'
      ? 'CANDIDATE_NOT_RUNNING'
      : e.code === 'LAG_TOO_HIGH'
        ? 'CANDIDATE_LAGGING'
        : 'CANDIDATE_NOT_ELIGIBLE';
  return refuse(code, `candidate ${e.text}`, member, e);
}
