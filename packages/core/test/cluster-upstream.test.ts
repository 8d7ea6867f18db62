import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ClusterView, cloneSourceOf, decide, type Member, upstreamOf } from '../src/index.js';
import { clusterView, formatActions, member, NOW_MS, replicaObs } from './decide-fixtures.js';

/** A view with leader `b` and members a..e, each with the given tags and state. */
function view(
  spec: Record<string, { tags?: Record<string, unknown>; state?: string; lease?: boolean; role?: string }>,
) {
  const members = new Map<string, Member>(
    Object.entries(spec).map(([name, s]) => [
      name,
      member(name, {
        tags: s.tags ?? {},
        state: s.state ?? 'running',
        leaseId: s.lease === false ? null : '1',
        role: s.role ?? (name === 'b' ? 'primary' : 'replica'),
      }),
    ]),
  );
  return clusterView({ members });
}

describe('upstreamOf: whom a member streams from (replicatefrom)', () => {
  const rows: [string, ClusterView, string, string][] = [
    ['no tag: the leader', view({ a: {}, b: {}, c: {} }), 'c', 'b'],
    [
      'its replicatefrom member, running',
      view({ a: {}, b: {}, c: { tags: { replicatefrom: 'a' } } }),
      'c',
      'a',
    ],
    [
      'that member stopped: the leader',
      view({ a: { state: 'stopped' }, b: {}, c: { tags: { replicatefrom: 'a' } } }),
      'c',
      'b',
    ],
    ['that member gone: the leader', view({ b: {}, c: { tags: { replicatefrom: 'a' } } }), 'c', 'b'],
    [
      "another tool's key (no lease): the leader",
      view({ a: { lease: false }, b: {}, c: { tags: { replicatefrom: 'a' } } }),
      'c',
      'b',
    ],
    ['itself: the leader', view({ b: {}, c: { tags: { replicatefrom: 'c' } } }), 'c', 'b'],
    ['the leader named: the leader', view({ b: {}, c: { tags: { replicatefrom: 'b' } } }), 'c', 'b'],
    [
      'a chain: the first hop',
      view({ a: {}, b: {}, c: { tags: { replicatefrom: 'a' } }, d: { tags: { replicatefrom: 'c' } } }),
      'd',
      'c',
    ],
    [
      'a cycle streams from nobody: the leader',
      view({ a: { tags: { replicatefrom: 'c' } }, b: {}, c: { tags: { replicatefrom: 'a' } } }),
      'c',
      'b',
    ],
    [
      'a cycle further up: the leader',
      view({
        a: { tags: { replicatefrom: 'd' } },
        b: {},
        c: { tags: { replicatefrom: 'a' } },
        d: { tags: { replicatefrom: 'a' } },
      }),
      'c',
      'b',
    ],
  ];
  it.each(rows)('%s', (_name, v, self, want) => expect(upstreamOf(v, self, 'b')).toBe(want));

  it('property: the answer is the leader or a running member, never itself, and following the answers reaches the leader', () => {
    const names = ['a', 'b', 'c', 'd', 'e'];
    fc.assert(
      fc.property(
        fc.array(fc.option(fc.constantFrom(...names, 'x')), { minLength: 5, maxLength: 5 }),
        fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
        (tags, running) => {
          const v = view(
            Object.fromEntries(
              names.map((n, i) => [
                n,
                {
                  tags: tags[i] === null ? {} : { replicatefrom: tags[i] },
                  state: running[i] || n === 'b' ? 'running' : 'stopped',
                },
              ]),
            ),
          );
          for (const n of names.filter((x) => x !== 'b')) {
            const up = upstreamOf(v, n, 'b');
            expect(up).not.toBe(n);
            if (up !== 'b') expect(v.members.get(up)?.state).toBe('running');
            let at = n;
            const seen = new Set<string>();
            while (at !== 'b') {
              expect(seen.has(at)).toBe(false);
              seen.add(at);
              at = upstreamOf(v, at, 'b');
            }
          }
        },
      ),
    );
  });
});

describe('cloneSourceOf: where a new replica takes its base backup (clonefrom)', () => {
  it('a running clonefrom member, the first by name; else the leader', () => {
    expect(cloneSourceOf(view({ a: {}, b: {}, c: {} }), 'd', 'b')).toBe('b');
    expect(cloneSourceOf(view({ a: {}, b: {}, c: { tags: { clonefrom: true } } }), 'd', 'b')).toBe('c');
    const two = view({ a: { tags: { clonefrom: true } }, b: {}, c: { tags: { clonefrom: true } } });
    expect(cloneSourceOf(two, 'd', 'b')).toBe('a');
    expect(cloneSourceOf(two, 'a', 'b')).toBe('c');
    expect(
      cloneSourceOf(view({ a: {}, b: {}, c: { tags: { clonefrom: true }, state: 'stopped' } }), 'd', 'b'),
    ).toBe('b');
  });
});

describe('decide with replicatefrom and clonefrom', () => {
  const cascade = view({ a: { tags: { replicatefrom: 'c' } }, b: {}, c: {} });
  it('a running replica re-points to its replicatefrom member, and back to the leader when that one stops', () => {
    const d = decide(replicaObs({ view: cascade, pg: { following: 'b' } }), NOW_MS);
    expect(d.reason.code).toBe('REPOINTING');
    expect(formatActions(d.actions)).toBe('followLeader(c)');
    expect(d.reason.text).toBe('following c (replicatefrom; leader b)');
    const stays = decide(replicaObs({ view: cascade, pg: { following: 'c' } }), NOW_MS);
    expect(stays.reason.code).toBe('FOLLOWING');
    const down = view({ a: { tags: { replicatefrom: 'c' } }, b: {}, c: { state: 'stopped' } });
    const back = decide(replicaObs({ view: down, pg: { following: 'c' } }), NOW_MS);
    expect(formatActions(back.actions)).toBe('followLeader(b)');
  });

  it('a stopped replica starts as a standby of its upstream', () => {
    const d = decide(
      replicaObs({ view: cascade, pg: { process: 'stopped', inRecovery: null, following: null } }),
      NOW_MS,
    );
    expect(formatActions(d.actions)).toBe('startPostgres(replica,c)');
  });
});
