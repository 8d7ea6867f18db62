import { describe, expect, it } from 'vitest';
import { holdsLeaderKey } from '../src/cluster/leader-key.js';
import { classifyLease } from '../src/decide/lease.js';
import { clusterView, NOW_MS, replicaObs } from './decide-fixtures.js';

const key = (name: string, leaseId: string | null) => ({
  leader: { name, leaseId, modRevision: '5', createRevision: '5' },
});

describe('holdsLeaderKey: our name under our current lease', () => {
  it.each([
    ['our name, our lease', key('a', '7'), '7', true],
    ['our name, an older lease (our previous incarnation)', key('a', '6'), '7', false],
    ['our name bound to no lease (another tool wrote it)', key('a', null), '7', false],
    ['our name, and we hold no lease yet', key('a', '7'), null, false],
    ['neither side has a lease', key('a', null), null, false],
    ['another name under our lease id', key('b', '7'), '7', false],
    ['no leader key', { leader: null }, '7', false],
    ['no view yet', null, '7', false],
  ] as const)('%s → %s', (_case, view, leaseId, expected) => {
    expect(holdsLeaderKey(view, 'a', leaseId)).toBe(expected);
  });

  it("is decide()'s test of the lease (classifyLease)", () => {
    const view = clusterView({ leader: { name: 'a', leaseId: '1', modRevision: '5', createRevision: '5' } });
    const held = replicaObs({ view, dcs: { leaseId: '1' } });
    expect(classifyLease(held, NOW_MS)).toBe('held');
    expect(classifyLease(replicaObs({ view, dcs: { leaseId: '2' } }), NOW_MS)).toBe('not-held');
    expect(classifyLease(replicaObs({ view, dcs: { leaseId: null } }), NOW_MS)).toBe('not-held');
  });
});
