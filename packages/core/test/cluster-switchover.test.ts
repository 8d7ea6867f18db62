import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type SwitchoverRequest, switchoverAdmission } from '../src/cluster/switchover.js';
import { decide } from '../src/decide/decide.js';
import { toLsn } from '../src/lsn.js';
import type { ClusterView, Member } from '../src/types.js';
import { clusterView, member, NOW_MS, primaryObs } from './decide-fixtures.js';

/** Leader a; b, c and d as given (the fixtures' healthy replicas by default). */
function viewWith(...ms: Member[]): ClusterView {
  return clusterView({
    leader: { name: 'a', leaseId: '1', modRevision: '5', createRevision: '5' },
    members: new Map([['a', member('a', { role: 'primary' })], ...ms.map((m) => [m.name, m] as const)]),
    status: { optime: 1000, slots: {}, retainSlots: [] },
  });
}
const config = primaryObs().config;
const req = (candidate: string | null, when: SwitchoverRequest['when'] = 'now'): SwitchoverRequest => ({
  leader: 'a',
  candidate,
  when,
});

describe('switchoverAdmission', () => {
  const healthy = viewWith(member('b'), member('c', { xlogLocation: toLsn(900) }));
  it.each([
    ['the leader itself', healthy, req('a'), 'CANDIDATE_IS_LEADER', 'candidate a is already the leader'],
    ['not a member', healthy, req('x'), 'CANDIDATE_UNKNOWN', 'candidate x is not a member of the cluster'],
    [
      'not running',
      viewWith(member('b', { state: 'stopped' })),
      req('b'),
      'CANDIDATE_NOT_RUNNING',
      'candidate b: Postgres is not running or not reachable',
    ],
    [
      'tagged nofailover (text from YAML/env too)',
      viewWith(member('b', { tags: { nofailover: 'true' } })),
      req('b'),
      'CANDIDATE_NOT_ELIGIBLE',
      'candidate b: tagged nofailover',
    ],
    [
      'lagging',
      viewWith(member('b', { xlogLocation: toLsn(0) })),
      { ...req('b') },
      'CANDIDATE_LAGGING',
      null,
    ],
    [
      'nobody for "any"',
      viewWith(member('b', { state: 'stopped' }), member('c', { tags: { nofailover: true } })),
      req(null),
      'NO_HEALTHY_CANDIDATE',
      'no member is healthy and eligible to take over',
    ],
    ['scheduled: the leader still is no target', healthy, req('a', 'later'), 'CANDIDATE_IS_LEADER', null],
    ['scheduled: nor an unknown name', healthy, req('x', 'later'), 'CANDIDATE_UNKNOWN', null],
  ] as const)('refuses %s', (_name, view, r, code, text) => {
    const lagConfig = { ...config, maximumLagOnFailoverBytes: 100n };
    const a = switchoverAdmission(view, code === 'CANDIDATE_LAGGING' ? lagConfig : config, r);
    expect(a).toMatchObject({ admitted: false, code });
    if (text !== null) expect(a).toMatchObject({ text });
  });

  it('admits a named eligible candidate, and without one picks the best-ranked other than the leader', () => {
    expect(switchoverAdmission(healthy, config, req('c'))).toEqual({ admitted: true, target: 'c' });
    expect(switchoverAdmission(healthy, config, req(null))).toEqual({ admitted: true, target: 'b' });
    // higher failover_priority breaks a tie on WAL position
    const tie = viewWith(member('b'), member('c', { tags: { failover_priority: '3' } }));
    expect(switchoverAdmission(tie, config, req(null))).toEqual({ admitted: true, target: 'c' });
  });

  it('does not ask for streaming (Patroni neither): a replica restoring from the archive is a target', () => {
    const archive = viewWith(member('b', { replicationState: 'in archive recovery' }));
    expect(switchoverAdmission(archive, config, req('b'))).toEqual({ admitted: true, target: 'b' });
  });

  it('scheduled for later: health is vetted when it is due, "any" is chosen then', () => {
    const down = viewWith(member('b', { state: 'stopped' }));
    expect(switchoverAdmission(down, config, req('b', 'later'))).toEqual({ admitted: true, target: 'b' });
    expect(switchoverAdmission(down, config, req(null, 'later'))).toEqual({ admitted: true, target: null });
  });

  it('a manual failover without a leader key considers every member', () => {
    const noKey = { ...viewWith(member('b')), leader: null };
    expect(switchoverAdmission(noKey, config, { leader: null, candidate: null, when: 'now' })).toMatchObject({
      admitted: true,
    });
  });

  it('property: the leader hands over exactly when the request is admitted now (decide uses the same rule)', () => {
    const replica = (name: string) =>
      fc
        .record({
          state: fc.constantFrom('running', 'stopped', 'starting'),
          lsn: fc.integer({ min: 0, max: 3_000_000 }),
          tags: fc.constantFrom(
            {},
            { nofailover: true },
            { nofailover: 'true' },
            { failover_priority: 0 },
            {
              failover_priority: '2',
            },
          ),
        })
        .map((r) => member(name, { state: r.state, xlogLocation: toLsn(r.lsn), tags: r.tags }));
    fc.assert(
      fc.property(replica('b'), replica('c'), fc.constantFrom(null, 'b', 'c', 'x'), (b, c, target) => {
        const view = {
          ...viewWith(b, c),
          status: { optime: 2_000_000, slots: {}, retainSlots: [] },
          failover: { leader: 'a', member: target, scheduledAt: null, modRevision: '3' },
        };
        const d = decide(primaryObs({ view }), NOW_MS);
        const handsOver = d.reason.code === 'SWITCHOVER_DEMOTING';
        expect(handsOver).toBe(switchoverAdmission(view, config, req(target)).admitted);
      }),
    );
  });
});
