import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Candidate,
  classifyLease,
  compareCandidates,
  isEligible,
  lastKnownTimeline,
  rankCandidates,
  toLsn,
  toTimeline,
} from '../src/index.js';
import { clusterView, NOW_MS, primaryObs, replicaObs } from './decide-fixtures.js';

const cand = (name: string, over: Partial<Candidate> = {}): Candidate => ({
  name,
  healthy: true,
  lsn: toLsn(100),
  timeline: toTimeline(1),
  nofailover: false,
  failoverPriority: 1,
  ...over,
});

describe('rankCandidates', () => {
  it('orders unhealthy last, then LSN desc, then priority desc, then name asc', () => {
    const ranked = rankCandidates([
      cand('sick', { healthy: false, lsn: toLsn(999) }),
      cand('z-low', { lsn: toLsn(50) }),
      cand('b', { failoverPriority: 1 }),
      cand('a', { failoverPriority: 1 }),
      cand('prio', { failoverPriority: 5 }),
      cand('ahead', { lsn: toLsn(200) }),
      cand('nolsn', { lsn: null }),
    ]);
    expect(ranked.map((c) => c.name)).toEqual(['ahead', 'prio', 'a', 'b', 'z-low', 'nolsn', 'sick']);
  });

  it('is a total order: antisymmetric and transitive over random candidates', () => {
    const arb = fc.record({
      name: fc.constantFrom('a', 'b', 'c', 'd'),
      healthy: fc.boolean(),
      lsn: fc.option(fc.bigInt({ min: 0n, max: 5n }).map((n) => toLsn(n))),
      timeline: fc.constant(toTimeline(1)),
      nofailover: fc.boolean(),
      failoverPriority: fc.integer({ min: 0, max: 2 }),
    });
    fc.assert(
      fc.property(arb, arb, arb, (x, y, z) => {
        expect(Math.sign(compareCandidates(x, y))).toBe(-Math.sign(compareCandidates(y, x)) || 0);
        if (compareCandidates(x, y) <= 0 && compareCandidates(y, z) <= 0) {
          expect(compareCandidates(x, z)).toBeLessThanOrEqual(0);
        }
      }),
    );
  });
});

describe('isEligible', () => {
  const config = replicaObs().config;
  const view = clusterView({ status: { optime: 3_000_100, slots: {}, retainSlots: [] } });
  const cases: [string, Candidate, string][] = [
    ['healthy and close', cand('a', { lsn: toLsn(3_000_000) }), 'eligible'],
    ['not running', cand('a', { healthy: false }), 'POSTGRES_NOT_RUNNING'],
    ['nofailover', cand('a', { nofailover: true }), 'NO_LEADER_NOT_ELIGIBLE'],
    ['priority 0', cand('a', { failoverPriority: 0 }), 'NO_LEADER_NOT_ELIGIBLE'],
    ['lag above the limit', cand('a', { lsn: toLsn(3_000_100 - 1_048_577) }), 'LAG_TOO_HIGH'],
    ['unknown position with a known optime', cand('a', { lsn: null }), 'LAG_TOO_HIGH'],
  ];
  it.each(cases)('%s', (_n, c, want) => {
    const r = isEligible(c, config, view);
    expect(r.eligible ? 'eligible' : r.code).toBe(want);
  });

  it('without a known optime there is no lag check', () => {
    expect(isEligible(cand('a', { lsn: null }), config, clusterView({ status: null })).eligible).toBe(true);
  });

  it('sync mode: only the sync key members (or its leader)', () => {
    const v = clusterView({ sync: { leader: 'b', syncStandbys: ['c'], quorum: null, modRevision: '1' } });
    const on = { ...config, synchronousMode: 'on' as const };
    expect(isEligible(cand('c'), on, v).eligible).toBe(true);
    expect(isEligible(cand('b'), on, v).eligible).toBe(true);
    expect(isEligible(cand('a'), on, v).eligible).toBe(false);
    // no key yet (mode just switched on): nothing was promised synchronously, async rules
    expect(isEligible(cand('a'), on, clusterView({ sync: null })).eligible).toBe(true);
    // a key listing nobody: only its leader
    const degraded = clusterView({ sync: { leader: 'b', syncStandbys: [], quorum: 0, modRevision: '2' } });
    expect(isEligible(cand('a'), on, degraded).eligible).toBe(false);
    expect(isEligible(cand('b'), on, degraded).eligible).toBe(true);
    // quorum key with k = 0 (stored quorum = N): its standbys can never take over
    const k0 = clusterView({ sync: { leader: 'b', syncStandbys: ['a', 'c'], quorum: 2, modRevision: '3' } });
    expect(isEligible(cand('a'), { ...config, synchronousMode: 'quorum' }, k0).eligible).toBe(false);
  });

  it('lastKnownTimeline is the newest history timeline + 1', () => {
    const entry = (timeline: number) => ({ timeline, switchLsn: 0, reason: 'x', time: '', newLeader: null });
    expect(lastKnownTimeline(clusterView({ history: null }))).toBeNull();
    expect(
      lastKnownTimeline(clusterView({ history: { entries: [entry(1), entry(3)], modRevision: '1' } })),
    ).toBe(4);
  });
});

describe('classifyLease', () => {
  const cases: [string, ReturnType<typeof primaryObs>, string][] = [
    ['held', primaryObs(), 'held'],
    ['deadline passed', primaryObs({ dcs: { leaseDeadlineMs: NOW_MS } }), 'deadline-passed'],
    ['no lease id', primaryObs({ dcs: { leaseId: null } }), 'not-held'],
    [
      'isolated',
      primaryObs({ pg: { streamingReplicas: [] }, dcs: { renewFailingSinceMs: NOW_MS - 5_000 } }),
      'isolated',
    ],
    ['failing but replicas stream', primaryObs({ dcs: { renewFailingSinceMs: NOW_MS - 5_000 } }), 'held'],
    ['someone else', replicaObs(), 'not-held'],
    ['no key', primaryObs({ view: { leader: null } }), 'not-held'],
    [
      'our name, another lease',
      primaryObs({ view: { leader: { name: 'a', leaseId: '7', modRevision: '1', createRevision: '1' } } }),
      'not-held',
    ],
    ['no view', replicaObs({ view: null }), 'not-held'],
  ];
  it.each(cases)('%s', (_n, obs, want) => {
    expect(classifyLease(obs, NOW_MS)).toBe(want);
  });
});
