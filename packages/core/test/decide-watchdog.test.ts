import { describe, expect, it } from 'vitest';
import { decide, isEligible, type Observation, peerCandidate, selfCandidate, toLsn } from '../src/index.js';
import { electionObs, formatActions, NOW_MS, peer, primaryObs, replicaObs } from './decide-fixtures.js';

/**
 * `watchdog.mode: required` (Patroni's `Watchdog.is_healthy`): a node whose watchdog cannot be
 * used never takes the leader key (election, failover key, bootstrap), a holder hands it back
 * (Patroni's enforce_primary_role), and a peer reporting `watchdog_failed` is no candidate.
 */
const FAILURE = 'watchdog required, but cannot open /dev/watchdog: ENOENT';

type Row = readonly [name: string, obs: Observation, code: string, actions: string];

const rows: Row[] = [
  [
    'election: watchdog fine, healthiest: takes over',
    electionObs(),
    'NO_LEADER_TAKING_OVER',
    'acquireLeader promote(failover)',
  ],
  [
    'election: required watchdog unusable: never takes the key',
    electionObs({ self: { watchdogFailure: FAILURE } }),
    'NO_LEADER_NOT_ELIGIBLE',
    '-',
  ],
  [
    'election: null watchdogFailure is fine',
    electionObs({ self: { watchdogFailure: null } }),
    'NO_LEADER_TAKING_OVER',
    'acquireLeader promote(failover)',
  ],
  [
    'failover key names us, watchdog unusable: not taking over',
    electionObs({
      self: { watchdogFailure: FAILURE },
      view: { failover: { leader: null, member: 'a', scheduledAt: null, modRevision: '3' } },
    }),
    'NO_LEADER_NOT_ELIGIBLE',
    '-',
  ],
  [
    'a peer ahead whose watchdog failed does not block us',
    electionObs({ peerList: [peer('b', { xlogLocation: toLsn(5000), watchdogFailed: true })] }),
    'NO_LEADER_TAKING_OVER',
    'acquireLeader promote(failover)',
  ],
  [
    'a peer ahead with a working watchdog blocks us',
    electionObs({ peerList: [peer('b', { xlogLocation: toLsn(5000), watchdogFailed: false })] }),
    'NO_LEADER_NOT_HEALTHIEST',
    '-',
  ],
  [
    'empty data dir, no cluster, watchdog unusable: never bootstraps',
    replicaObs({
      self: { watchdogFailure: FAILURE },
      pg: { dataDir: 'empty', process: 'stopped', inRecovery: null },
      view: { initialize: null, leader: null },
    }),
    'WAITING_FOR_INITIALIZE',
    '-',
  ],
  [
    'holder, running primary, watchdog failed to open: demote at once, release the key',
    primaryObs({ self: { watchdogFailure: FAILURE } }),
    'WATCHDOG_UNAVAILABLE',
    'demote(immediate,-) releaseLeader',
  ],
  [
    'holder over a replica (not promoted yet), watchdog unusable: release without promoting',
    replicaObs({
      self: { watchdogFailure: FAILURE },
      view: { leader: { name: 'a', leaseId: '1', modRevision: '5', createRevision: '5' } },
    }),
    'WATCHDOG_UNAVAILABLE',
    'releaseLeader',
  ],
  [
    'paused: the holder keeps the key whatever the watchdog (Patroni skips it in pause)',
    primaryObs({ self: { watchdogFailure: FAILURE }, config: { pause: true } }),
    'PAUSED',
    '-',
  ],
  [
    'replica following a leader: the watchdog is irrelevant',
    replicaObs({ self: { watchdogFailure: FAILURE } }),
    'FOLLOWING',
    '-',
  ],
  [
    'safety first: a primary past its deadline demotes (watchdog or not)',
    primaryObs({ self: { watchdogFailure: FAILURE }, dcs: { leaseDeadlineMs: NOW_MS - 1 } }),
    'LEASE_DEADLINE_PASSED',
    'demote(immediate,-)',
  ],
];

describe('decide with watchdog.mode required', () => {
  it.each(rows)('%s', (_name, obs, code, actions) => {
    const d = decide(obs, NOW_MS);
    expect(d.reason.code).toBe(code);
    expect(formatActions(d.actions)).toBe(actions);
  });

  it('the reason names the watchdog problem', () => {
    expect(decide(electionObs({ self: { watchdogFailure: FAILURE } }), NOW_MS).reason.text).toBe(
      `a: ${FAILURE}`,
    );
    expect(decide(primaryObs({ self: { watchdogFailure: FAILURE } }), NOW_MS).reason.text).toContain(FAILURE);
  });

  it('eligibility: self by its failure text, a peer by watchdog_failed', () => {
    const obs = electionObs({ self: { watchdogFailure: FAILURE } });
    expect(isEligible(selfCandidate(obs), obs.config, obs.dcs.view)).toMatchObject({
      eligible: false,
      code: 'NO_LEADER_NOT_ELIGIBLE',
    });
    const failed = peerCandidate(peer('b', { watchdogFailed: true }));
    expect(isEligible(failed, obs.config, obs.dcs.view)).toEqual({
      eligible: false,
      code: 'NO_LEADER_NOT_ELIGIBLE',
      text: 'b: not watchdog capable',
    });
    expect(isEligible(peerCandidate(peer('b')), obs.config, obs.dcs.view).eligible).toBe(true);
  });
});
