import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clusterRows, leaderOptime } from '../src/cluster/rows.js';
import { toLsn } from '../src/lsn.js';
import type { ClusterView, Member } from '../src/types.js';
import { clusterView, member, primaryObs } from './decide-fixtures.js';

const config = primaryObs().config;
const viewOf = (ms: Member[], over: Partial<ClusterView> = {}): ClusterView =>
  clusterView({
    leader: { name: 'b', leaseId: '2', modRevision: '5', createRevision: '5' },
    members: new Map(ms.map((m) => [m.name, m])),
    ...over,
  });

describe('clusterRows: the rows of GET /cluster and hactl list', () => {
  it('leader first, then by name in code point order (not the locale: "B" before "a")', () => {
    const view = viewOf([member('a'), member('b', { role: 'primary' }), member('B'), member('c')]);
    expect(clusterRows(view, config).map((r) => r.name)).toEqual(['b', 'B', 'a', 'c']);
  });

  it('sync and quorum standbys only in synchronous mode (a left-over sync key names nobody)', () => {
    const view = viewOf([member('a'), member('b', { role: 'primary' }), member('c')], {
      sync: { leader: 'b', syncStandbys: ['a'], quorum: null, modRevision: '7' },
    });
    const roles = (synchronousMode: typeof config.synchronousMode) =>
      clusterRows(view, { ...config, synchronousMode }).map((r) => [r.name, r.role]);
    expect(roles('off')).toEqual([
      ['b', 'leader'],
      ['a', 'replica'],
      ['c', 'replica'],
    ]);
    expect(roles('on')[1]).toEqual(['a', 'sync_standby']);
    expect(roles('quorum')[1]).toEqual(['a', 'quorum_standby']);
  });

  it("a standby cluster's leader is standby_leader; a running replica shows how it replicates", () => {
    const view = viewOf([
      member('b', { role: 'standby_leader', replicationState: 'streaming' }),
      member('a', { replicationState: 'in archive recovery' }),
      member('c', { state: 'starting', replicationState: 'streaming' }),
    ]);
    expect(clusterRows(view, config).map((r) => [r.role, r.state])).toEqual([
      ['standby_leader', 'running'],
      ['replica', 'in archive recovery'],
      ['replica', 'starting'],
    ]);
  });

  it('lag against the status optime, else the leader member xlog_location; never negative; none for the leader', () => {
    const ms = [
      member('b', { role: 'primary', xlogLocation: toLsn(5000) }),
      member('a', { xlogLocation: toLsn(1000) }),
    ];
    const rows = (status: ClusterView['status']) => clusterRows(viewOf(ms, { status }), config);
    expect(rows({ optime: 9000, slots: {}, retainSlots: [] }).map((r) => r.lagBytes)).toEqual([null, 8000n]);
    expect(rows(null).map((r) => r.lagBytes)).toEqual([null, 4000n]);
    expect(rows({ optime: 500, slots: {}, retainSlots: [] })[1]!.lagBytes).toBe(0n);
    // another tool's negative optime is no position
    expect(leaderOptime(viewOf(ms, { status: { optime: -1, slots: {}, retainSlots: [] } }))).toBe(5000n);
    expect(rows(null)[0]).toMatchObject({ isLeader: true, eligibility: null, receiveLagBytes: null });
  });

  it("eligibility is core's isEligible on the member record", () => {
    const view = viewOf([
      member('b', { role: 'primary' }),
      member('a', { tags: { nofailover: 'yes' } }),
      member('c'),
    ]);
    const [, a, c] = clusterRows(view, config);
    expect(a!.eligibility).toMatchObject({
      eligible: false,
      code: 'NO_LEADER_NOT_ELIGIBLE',
      text: 'a: tagged nofailover',
    });
    expect(c!.eligibility).toEqual({ eligible: true });
  });

  it('property: one row per member, the leader (when a member) first, lags never negative', () => {
    const names = fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'd', 'B', 'node-1'), {
      minLength: 1,
      maxLength: 5,
    });
    fc.assert(
      fc.property(
        names,
        fc.integer({ min: 0, max: 10_000 }),
        fc.option(fc.integer({ min: 0, max: 10_000 })),
        (ns, lsn, optime) => {
          const view = viewOf(
            ns.map((n, i) => member(n, { xlogLocation: toLsn((lsn * (i + 1)) % 10_001) })),
            { status: optime === null ? null : { optime, slots: {}, retainSlots: [] } },
          );
          const rows = clusterRows(view, config);
          expect(rows.map((r) => r.name).sort()).toEqual([...ns].sort());
          if (ns.includes('b')) expect(rows[0]!.name).toBe('b');
          for (const r of rows) if (r.lagBytes !== null) expect(r.lagBytes >= 0n).toBe(true);
        },
      ),
    );
  });
});
