import { describe, expect, it } from 'vitest';
import { decide, type Observation, type PgConnectFailure } from '../src/index.js';
import { formatActions, member, NOW_MS, primaryObs, replicaObs } from './decide-fixtures.js';

/**
 * decide() when Postgres runs but refuses the agent's own connection (issue 10: a node whose
 * pg_hba.conf refused its own address looped for minutes, restart-killed, saying nothing).
 */

const HBA_TEXT =
  'connect to 10.0.0.11:5432: no pg_hba.conf entry for host "10.0.0.11", user "postgres", database "postgres", no encryption (28000)';

function refused(over: Partial<PgConnectFailure> = {}): PgConnectFailure {
  return { kind: 'rejected', text: HBA_TEXT, sinceMs: NOW_MS - 1_000, serverRole: 'primary', ...over };
}

/** What the agent observes then: the postmaster runs, the probe failed, so nothing but the failure is known. */
function unprobed(obs: Observation, failure: PgConnectFailure): Observation {
  return {
    ...obs,
    pg: {
      ...obs.pg,
      process: 'starting',
      inRecovery: null,
      flushLsn: null,
      receiveLsn: null,
      replayLsn: null,
      streaming: false,
      streamingReplicas: [],
      connectFailure: failure,
    },
  };
}

const WHY = `Postgres runs but refuses our connection: ${HBA_TEXT}`;
const alone = { members: new Map([['a', member('a', { role: 'primary' })]]) };

type Row = readonly [name: string, obs: Observation, code: string, actions: string, text: string];

const rows: Row[] = [
  [
    'unconfirmed primary under a held key: keeps it running and says why',
    unprobed(primaryObs(), refused()),
    'POSTGRES_CONNECTION_REJECTED',
    '-',
    `${WHY}; keeping the leader key, retrying`,
  ],
  [
    'lease deadline passed: demoted at once (rule 2 holds without a probe)',
    unprobed(primaryObs({ dcs: { leaseDeadlineMs: NOW_MS - 1 } }), refused()),
    'LEASE_DEADLINE_PASSED',
    'demote(immediate,-)',
    `demoting: the leader lease deadline passed; ${WHY}`,
  ],
  [
    'renewals failing: no standby can be proven to stream from it, so isolated after the grace',
    unprobed(primaryObs({ dcs: { renewFailingSinceMs: NOW_MS - 1_000 } }), refused()),
    'ISOLATED',
    'demote(immediate,-)',
    `demoting: renewals failing and no replica provably streaming; ${WHY}`,
  ],
  [
    'renewals failing in pause: still isolated (a safety rule)',
    unprobed(
      primaryObs({ config: { pause: true }, dcs: { renewFailingSinceMs: NOW_MS - 5_000 } }),
      refused(),
    ),
    'ISOLATED',
    'demote(immediate,-)',
    `demoting: renewals failing and no replica provably streaming; ${WHY}`,
  ],
  [
    'renewals failing within the grace: holds',
    unprobed(primaryObs({ dcs: { renewFailingSinceMs: NOW_MS - 500 } }), refused()),
    'POSTGRES_CONNECTION_REJECTED',
    '-',
    `${WHY}; keeping the leader key, retrying`,
  ],
  [
    'a primary without the leader key is demoted',
    unprobed(replicaObs(), refused()),
    'POSTGRES_CONNECTION_REJECTED',
    'demote(fast,-)',
    `demoting a primary without the leader key; ${WHY}`,
  ],
  [
    'a primary without the key, paused: hands off',
    unprobed(replicaObs({ config: { pause: true } }), refused()),
    'POSTGRES_CONNECTION_REJECTED',
    '-',
    WHY,
  ],
  [
    'unmonitored past primary_start_timeout with a candidate: stop, then release the key',
    unprobed(primaryObs(), refused({ sinceMs: NOW_MS - 300_000 })),
    'POSTGRES_CONNECTION_REJECTED',
    'demote(fast,-) releaseLeader',
    `unmonitored primary for 300000 ms (primary_start_timeout 300000): stopping it and releasing the leader key; ${WHY}`,
  ],
  [
    'past the timeout but nobody could take over (single node): keeps running',
    unprobed(primaryObs({ view: alone }), refused({ sinceMs: NOW_MS - 300_000 })),
    'POSTGRES_CONNECTION_REJECTED',
    '-',
    `${WHY}; keeping the leader key, retrying`,
  ],
  [
    'a standby that refuses us: reported, nothing to do',
    unprobed(replicaObs(), refused({ serverRole: 'standby' })),
    'POSTGRES_CONNECTION_REJECTED',
    '-',
    WHY,
  ],
  [
    'role unknown yet (postmaster.pid not ready): reported only',
    unprobed(replicaObs(), refused({ serverRole: null })),
    'POSTGRES_CONNECTION_REJECTED',
    '-',
    WHY,
  ],
  [
    'no answer (still starting): waiting, with the last error in the reason',
    unprobed(
      primaryObs(),
      refused({ kind: 'no-answer', text: 'connect to /run/postgresql/.s.PGSQL.5432: connect ENOENT' }),
    ),
    'POSTGRES_STARTING',
    '-',
    'waiting: Postgres is starting (last connection attempt: connect to /run/postgresql/.s.PGSQL.5432: connect ENOENT)',
  ],
];

describe('decide: Postgres refuses the agent', () => {
  it.each(rows)('%s', (_name, obs, code, actions, text) => {
    const d = decide(obs, NOW_MS);
    expect(d.reason.code).toBe(code);
    expect(formatActions(d.actions)).toBe(actions);
    expect(d.reason.text).toBe(text);
  });

  it('never restarts an unconfirmed primary it holds the key for (the restart-kill loop)', () => {
    for (const sinceAgoMs of [0, 10_000, 299_999]) {
      const d = decide(unprobed(primaryObs(), refused({ sinceMs: NOW_MS - sinceAgoMs })), NOW_MS);
      expect(d.actions.map((a) => a.kind)).not.toContain('startPostgres');
    }
  });
});
