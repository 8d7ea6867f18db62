import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decide,
  deadlinePassed,
  isIsolated,
  type Observation,
  safetyDemotion,
  toLsn,
  writableUntilMs,
} from '../src/index.js';
import { electionObs, formatActions, member, NOW_MS, peer, primaryObs } from './decide-fixtures.js';

/**
 * Failsafe mode (docs/failsafe.md) in the pure core: a primary writes while now < W =
 * max(lease deadline L, failsafe deadline F); a member under a promise, in its startup hold,
 * or left out of the failsafe key never takes the key.
 */
const cutOff = (dcs: Partial<Observation['dcs']>) =>
  primaryObs({
    dcs: { reachable: false, leaseDeadlineMs: NOW_MS - 1, renewFailingSinceMs: NOW_MS - 8_000, ...dcs },
  });

const failsafeKey = (...names: string[]) => ({
  members: new Map(names.map((n) => [n, `http://${n}:8008/patroni`])),
  modRevision: '7',
});

describe('W = max(L, F)', () => {
  it('is the later of the two, either alone when the other is absent', () => {
    const base = { view: null, reachable: false, renewFailingSinceMs: null };
    expect(writableUntilMs({ ...base, leaseId: '1', leaseDeadlineMs: 5, failsafeDeadlineMs: 9 })).toBe(9);
    expect(writableUntilMs({ ...base, leaseId: '1', leaseDeadlineMs: 9, failsafeDeadlineMs: 5 })).toBe(9);
    expect(writableUntilMs({ ...base, leaseId: null, leaseDeadlineMs: 9, failsafeDeadlineMs: 5 })).toBe(5);
    expect(writableUntilMs({ ...base, leaseId: '1', leaseDeadlineMs: 9 })).toBe(9);
    expect(writableUntilMs({ ...base, leaseId: null, leaseDeadlineMs: null })).toBeNull();
  });

  it('property: the deadline passed iff now is at or past both', () => {
    const opt = fc.option(fc.integer({ min: 0, max: 100 }), { nil: null });
    fc.assert(
      fc.property(opt, opt, fc.integer({ min: 0, max: 100 }), (l, f, now) => {
        const dcs = {
          view: null,
          reachable: false,
          leaseId: '1',
          leaseDeadlineMs: l,
          renewFailingSinceMs: null,
          failsafeDeadlineMs: f,
        };
        const ahead = (l !== null && now < l) || (f !== null && now < f);
        expect(deadlinePassed(dcs, now)).toBe(!ahead);
      }),
    );
  });
});

describe('the primary cut off from etcd', () => {
  it('lease deadline passed, failsafe deadline ahead: keeps serving (FAILSAFE_ACTIVE), no safety demotion', () => {
    const obs = cutOff({ failsafeDeadlineMs: NOW_MS + 3_000 });
    expect(safetyDemotion(obs, NOW_MS)).toBeNull();
    const d = decide(obs, NOW_MS);
    expect(d.reason.code).toBe('FAILSAFE_ACTIVE');
    expect(d.actions).toEqual([]);
    expect(d.role).toBe('primary');
  });

  it('both deadlines passed: demotes at once (FAILSAFE_DEADLINE_PASSED)', () => {
    const d = decide(cutOff({ failsafeDeadlineMs: NOW_MS }), NOW_MS);
    expect(d.reason.code).toBe('FAILSAFE_DEADLINE_PASSED');
    expect(formatActions(d.actions)).toBe('demote(immediate,-)');
  });

  it('without failsafe: the lease deadline alone (LEASE_DEADLINE_PASSED)', () => {
    expect(decide(cutOff({}), NOW_MS).reason.code).toBe('LEASE_DEADLINE_PASSED');
  });

  it('a member answered it leads: demotes at once, whatever the deadlines (FAILSAFE_REFUSED)', () => {
    const obs = cutOff({
      leaseDeadlineMs: NOW_MS + 5_000,
      failsafeDeadlineMs: NOW_MS + 5_000,
      failsafeRefused: 'failsafe member b answered that it runs as a leader',
    });
    const d = safetyDemotion(obs, NOW_MS);
    expect(d?.reason.code).toBe('FAILSAFE_REFUSED');
    expect(d?.reason.text).toContain('member b');
  });

  it('the isolation rule still holds with others in the failsafe set, not when it is us alone (P5)', () => {
    const alone = cutOff({ failsafeDeadlineMs: NOW_MS + 3_000, failsafeAlone: true });
    const withOthers = cutOff({ failsafeDeadlineMs: NOW_MS + 3_000, failsafeAlone: false });
    const noStreams = (o: Observation): Observation => ({ ...o, pg: { ...o.pg, streamingReplicas: [] } });
    expect(isIsolated(noStreams(withOthers), NOW_MS)).toBe(true);
    expect(isIsolated(noStreams(alone), NOW_MS)).toBe(false);
  });
});

describe('who may take the key', () => {
  it('a promise holds a member back, whoever is healthiest (FAILSAFE_PROMISED)', () => {
    const d = decide(
      electionObs({ self: { failsafeHold: { code: 'FAILSAFE_PROMISED', text: 'promised b' } } }),
      NOW_MS,
    );
    expect(d.reason.code).toBe('FAILSAFE_PROMISED');
    expect(d.actions).toEqual([]);
  });

  it('the startup hold too, even for the failover target', () => {
    const d = decide(
      electionObs({
        self: { failsafeHold: { code: 'FAILSAFE_STARTUP_HOLD', text: 'started 2 s ago' } },
        view: { failover: { leader: null, member: 'a', scheduledAt: null, modRevision: '3' } },
      }),
      NOW_MS,
    );
    expect(d.reason.code).toBe('FAILSAFE_STARTUP_HOLD');
    expect(d.actions).toEqual([]);
  });

  it('a holder under a promise hands the key back without promoting (M3)', () => {
    const obs = primaryObs({
      pg: { inRecovery: true, flushLsn: null, receiveLsn: toLsn(1000), replayLsn: toLsn(1000) },
      self: { failsafeHold: { code: 'FAILSAFE_PROMISED', text: 'promised b' } },
    });
    const d = decide(obs, NOW_MS);
    expect(d.reason.code).toBe('FAILSAFE_PROMISED');
    expect(formatActions(d.actions)).toBe('releaseLeader');
  });

  it('a member the failsafe key leaves out never takes the key (M5)', () => {
    const d = decide(electionObs({ view: { failsafe: failsafeKey('b', 'c') } }), NOW_MS);
    expect(d.reason.code).toBe('FAILSAFE_NOT_LISTED');
    expect(d.actions).toEqual([]);
  });

  it('a listed member takes it, and does not wait for a better peer the key leaves out', () => {
    const d = decide(
      electionObs({
        view: {
          failsafe: failsafeKey('a', 'c'),
          members: new Map(['a', 'b', 'c'].map((n) => [n, member(n)])),
        },
        peerList: [peer('b', { xlogLocation: toLsn(5000) }), peer('c', { xlogLocation: toLsn(900) })],
      }),
      NOW_MS,
    );
    expect(d.reason.code).toBe('NO_LEADER_TAKING_OVER');
    expect(formatActions(d.actions)).toBe('acquireLeader promote(failover)');
  });

  it('an empty failsafe key names nobody and is ignored, as Patroni ignores it', () => {
    expect(decide(electionObs({ view: { failsafe: failsafeKey() } }), NOW_MS).reason.code).toBe(
      'NO_LEADER_TAKING_OVER',
    );
  });

  it('no failsafe key: the election as before', () => {
    expect(decide(electionObs({ view: { failsafe: null } }), NOW_MS).reason.code).toBe(
      'NO_LEADER_TAKING_OVER',
    );
  });
});
