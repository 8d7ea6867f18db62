import type { ClusterView } from '../types.js';
import { isEligible, memberCandidate } from './candidates.js';
import { deadlinePassed, isIsolated, namesUsUnderOurLease } from './lease.js';
import type { Decision, Observation, PgConnectFailure } from './types.js';

/**
 * Postgres runs but refuses the agent's own connection (pg_hba.conf, a password, a role, the
 * database, connection slots). The agent cannot see the server's role, WAL position or
 * standbys, and nothing it could do would fix the refusal: it says why, with the server's
 * own words, and acts only where safety needs it. The server's role comes from postmaster.pid
 * (`ready` = primary), which needs no connection.
 *
 * A primary it cannot see gets the safety rules with no evidence in its favour: the lease
 * deadline, and renewals failing for `primary_isolation_timeout` (no standby can be proven
 * to stream from it). Under a held key it keeps running — stopping it would not make the
 * refusal go away, and restarting it forever (the fence killing an unconfirmed primary, the
 * agent starting it again) only hides the cause — until `primary_start_timeout` has passed
 * and another member could take over; then it stops and hands the key over. Without the key
 * it is demoted like any primary without one. Pause suspends all but the safety rules.
 */
export function cannotConnect(obs: Observation, failure: PgConnectFailure, nowMs: number): Decision {
  const { dcs, config } = obs;
  const why = `Postgres runs but refuses our connection: ${failure.text}`;
  if (failure.serverRole !== 'primary') {
    const role = failure.serverRole === 'standby' ? 'replica' : 'stopped';
    return { role, actions: [], reason: { code: 'POSTGRES_CONNECTION_REJECTED', text: why } };
  }
  if (deadlinePassed(dcs, nowMs)) {
    return demote('immediate', 'LEASE_DEADLINE_PASSED', `demoting: the leader lease deadline passed; ${why}`);
  }
  // the observation lists no streaming standby: without a connection there is no evidence
  if (isIsolated(obs, nowMs)) {
    return demote(
      'immediate',
      'ISOLATED',
      `demoting: renewals failing and no replica provably streaming; ${why}`,
    );
  }
  const held = namesUsUnderOurLease(obs);
  const view = dcs.view;
  if (config.pause || view === null || !dcs.reachable) return holding(held, why);
  if (!held)
    return demote(
      'fast',
      'POSTGRES_CONNECTION_REJECTED',
      `demoting a primary without the leader key; ${why}`,
    );
  const forMs = nowMs - failure.sinceMs;
  if (forMs >= config.primaryStartTimeoutMs && otherCandidateExists(obs, view)) {
    return {
      role: 'demoted',
      actions: [{ kind: 'demote', mode: 'fast', follow: null }, { kind: 'releaseLeader' }],
      reason: {
        code: 'POSTGRES_CONNECTION_REJECTED',
        text: `unmonitored primary for ${forMs} ms (primary_start_timeout ${config.primaryStartTimeoutMs}): stopping it and releasing the leader key; ${why}`,
      },
    };
  }
  return holding(held, why);
}

function holding(held: boolean, why: string): Decision {
  const text = held ? `${why}; keeping the leader key, retrying` : why;
  return { role: 'primary', actions: [], reason: { code: 'POSTGRES_CONNECTION_REJECTED', text } };
}

function demote(
  mode: 'fast' | 'immediate',
  code: 'LEASE_DEADLINE_PASSED' | 'ISOLATED' | 'POSTGRES_CONNECTION_REJECTED',
  text: string,
): Decision {
  return { role: 'demoted', actions: [{ kind: 'demote', mode, follow: null }], reason: { code, text } };
}

/** Some other member's etcd record makes it eligible to take the key. */
function otherCandidateExists(obs: Observation, view: ClusterView): boolean {
  for (const m of view.members.values()) {
    if (m.name !== obs.self.name && isEligible(memberCandidate(m), obs.config, view).eligible) return true;
  }
  return false;
}
