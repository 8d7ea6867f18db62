import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  classifyLease,
  decide,
  type FailoverRequest,
  type Observation,
  type PeerStatus,
  toLsn,
  toTimeline,
} from '../src/index.js';
import { clusterView, member, NOW_MS, replicaObs } from './decide-fixtures.js';

const NAMES = ['m0', 'm1', 'm2', 'm3', 'm4'] as const;

const nodeArb = fc.record({
  lsn: fc.integer({ min: 0, max: 6 }).map((n) => n * 100),
  nofailover: fc.boolean(),
  failoverPriority: fc.integer({ min: 0, max: 2 }),
  reachable: fc.boolean(),
  running: fc.boolean(),
  timeline: fc.integer({ min: 1, max: 3 }),
});
type NodeSpec = typeof nodeArb extends fc.Arbitrary<infer T> ? T : never;

const electionArb = fc.record({
  nodes: fc.array(nodeArb, { minLength: 1, maxLength: 5 }),
  primaryIndex: fc.option(fc.integer({ min: 0, max: 4 })),
  optime: fc.option(fc.integer({ min: 0, max: 800 })),
  maxLagBytes: fc.constantFrom(0n, 150n, 1_000_000n),
  failoverTarget: fc.option(fc.integer({ min: 0, max: 5 })),
  checkTimeline: fc.boolean(),
  historyTimeline: fc.option(fc.integer({ min: 1, max: 2 })),
  syncMode: fc.constantFrom('off' as const, 'on' as const),
  syncStandbys: fc.subarray([...NAMES]),
});
type ElectionSpec = typeof electionArb extends fc.Arbitrary<infer T> ? T : never;

/** Member i's observation of a leaderless cluster; peers' statuses come from the same specs. */
function electionObsFor(spec: ElectionSpec, i: number): Observation {
  const isPrimary = (j: number) => spec.primaryIndex === j && spec.nodes[j]!.running;
  const status = (j: number, n: NodeSpec): PeerStatus => ({
    name: NAMES[j]!,
    reachable: n.reachable,
    xlogLocation: toLsn(n.lsn),
    timeline: toTimeline(n.timeline),
    role: isPrimary(j) ? 'primary' : 'replica',
    state: n.running ? 'running' : 'stopped',
    nofailover: n.nofailover,
    failoverPriority: n.failoverPriority,
  });
  const me = spec.nodes[i]!;
  const target = spec.failoverTarget === null ? null : (NAMES[spec.failoverTarget] ?? null);
  const failover: FailoverRequest | null =
    target === null ? null : { leader: null, member: target, scheduledAt: null, modRevision: '1' };
  const entries =
    spec.historyTimeline === null
      ? []
      : [{ timeline: spec.historyTimeline, switchLsn: 0, reason: 'x', time: '', newLeader: null }];
  return replicaObs({
    self: { name: NAMES[i]!, nofailover: me.nofailover, failoverPriority: me.failoverPriority },
    config: {
      maximumLagOnFailoverBytes: spec.maxLagBytes,
      checkTimeline: spec.checkTimeline,
      synchronousMode: spec.syncMode,
    },
    pg: {
      process: me.running ? 'running' : 'stopped',
      inRecovery: me.running ? !isPrimary(i) : null,
      wasPrimary: isPrimary(i),
      timeline: toTimeline(me.timeline),
      flushLsn: isPrimary(i) ? toLsn(me.lsn) : null,
      receiveLsn: isPrimary(i) ? null : toLsn(me.lsn),
      replayLsn: isPrimary(i) ? null : toLsn(me.lsn),
      following: null,
      streaming: false,
      streamingReplicas: [],
    },
    view: {
      leader: null,
      members: new Map(
        spec.nodes.map((n, j) => [
          NAMES[j]!,
          member(NAMES[j]!, { state: n.running ? 'running' : 'stopped' }),
        ]),
      ),
      status: spec.optime === null ? null : { optime: spec.optime, slots: {}, retainSlots: [] },
      failover,
      history: { entries, modRevision: '1' },
      sync: { leader: null, syncStandbys: spec.syncStandbys, quorum: null, modRevision: '1' },
    },
    peers: new Map(
      spec.nodes.map((n, j) => [NAMES[j]!, status(j, n)] as const).filter(([, p]) => p.name !== NAMES[i]),
    ),
  });
}

const takesOver = (obs: Observation) =>
  decide(obs, NOW_MS).actions.some((a) => a.kind === 'acquireLeader' || a.kind === 'promote');

// An arbitrary observation: every field random within its type, consistency not guaranteed.
const anyObsArb: fc.Arbitrary<{ obs: Observation; nowMs: number }> = fc
  .record({
    self: fc.constantFrom(...NAMES),
    pause: fc.boolean(),
    dataDir: fc.constantFrom('empty' as const, 'initialized' as const),
    process: fc.constantFrom(
      'running' as const,
      'starting' as const,
      'stopping' as const,
      'stopped' as const,
      'crashed' as const,
    ),
    inRecovery: fc.option(fc.boolean()),
    wasPrimary: fc.boolean(),
    crashedAtMs: fc.option(fc.integer({ min: 0, max: 100_000 })),
    rejoinFailure: fc.option(fc.constant('rewind failed')),
    systemId: fc.option(fc.constantFrom('sys1', 'sys2')),
    streamingReplicas: fc.subarray([...NAMES]),
    lsn: fc.option(fc.integer({ min: 0, max: 1000 })),
    hasView: fc.boolean(),
    reachable: fc.boolean(),
    leaseId: fc.option(fc.constantFrom('1', '2')),
    deadline: fc.option(fc.integer({ min: 0, max: 100_000 })),
    failingSince: fc.option(fc.integer({ min: 0, max: 100_000 })),
    leader: fc.option(
      fc.record({ name: fc.constantFrom(...NAMES), leaseId: fc.option(fc.constantFrom('1', '2')) }),
    ),
    initialize: fc.option(fc.constantFrom('', 'sys1')),
    failover: fc.option(
      fc.record({
        leader: fc.option(fc.constantFrom(...NAMES)),
        member: fc.option(fc.constantFrom(...NAMES)),
      }),
    ),
    memberStates: fc.array(fc.constantFrom('running', 'stopped'), { minLength: 5, maxLength: 5 }),
    peers: fc.option(fc.array(nodeArb, { minLength: 0, maxLength: 4 })),
    nowMs: fc.integer({ min: 0, max: 100_000 }),
  })
  .map((r) => {
    const lsn = r.lsn === null ? null : toLsn(r.lsn);
    const obs = replicaObs({
      self: { name: r.self },
      config: { pause: r.pause },
      pg: {
        dataDir: r.dataDir,
        process: r.process,
        inRecovery: r.inRecovery,
        wasPrimary: r.wasPrimary,
        crashedAtMs: r.crashedAtMs,
        rejoinFailure: r.rejoinFailure,
        systemId: r.systemId,
        streamingReplicas: r.streamingReplicas,
        flushLsn: lsn,
        receiveLsn: lsn,
        replayLsn: lsn,
      },
      dcs: {
        reachable: r.reachable,
        leaseId: r.leaseId,
        leaseDeadlineMs: r.deadline,
        renewFailingSinceMs: r.failingSince,
      },
      view: r.hasView
        ? {
            initialize: r.initialize,
            leader: r.leader === null ? null : { ...r.leader, modRevision: '1', createRevision: '1' },
            failover: r.failover === null ? null : { ...r.failover, scheduledAt: null, modRevision: '1' },
            members: new Map(NAMES.map((n, j) => [n, member(n, { state: r.memberStates[j]! })])),
          }
        : null,
      peers:
        r.peers === null
          ? null
          : new Map(
              r.peers.map((p, j) => [
                NAMES[j]!,
                {
                  name: NAMES[j]!,
                  reachable: p.reachable,
                  xlogLocation: toLsn(p.lsn),
                  timeline: toTimeline(p.timeline),
                  role: 'replica',
                  state: p.running ? 'running' : 'stopped',
                  nofailover: p.nofailover,
                  failoverPriority: p.failoverPriority,
                },
              ]),
            ),
    });
    return { obs, nowMs: r.nowMs };
  });

const runningPrimary = (o: Observation) => o.pg.process === 'running' && o.pg.inRecovery === false;

describe('decide properties', () => {
  it('at most one member takes over when all reachable members see the same view', () => {
    fc.assert(
      fc.property(electionArb, (spec) => {
        const deciders = spec.nodes.map((_, i) => i).filter((i) => spec.nodes[i]!.reachable);
        const winners = deciders.filter((i) => takesOver(electionObsFor(spec, i)));
        expect(winners.length).toBeLessThanOrEqual(1);
      }),
      { numRuns: 2000 },
    );
  }, 30_000);

  it('the election is not vacuous: someone wins when everyone is healthy and eligible', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 5 }), (lsns) => {
        const spec: ElectionSpec = {
          nodes: lsns.map((l) => ({
            lsn: l * 100,
            nofailover: false,
            failoverPriority: 1,
            reachable: true,
            running: true,
            timeline: 1,
          })),
          primaryIndex: null,
          optime: null,
          maxLagBytes: 0n,
          failoverTarget: null,
          checkTimeline: false,
          historyTimeline: null,
          syncMode: 'off',
          syncStandbys: [],
        };
        const winners = lsns.map((_, i) => i).filter((i) => takesOver(electionObsFor(spec, i)));
        expect(winners.length).toBe(1);
        expect(lsns[winners[0]!]).toBe(Math.max(...lsns));
      }),
    );
  });

  it('a running primary whose lease deadline passed always demotes, pause or not', () => {
    // Built directly (not filtered with fc.pre) so every run counts.
    const arb = fc
      .tuple(anyObsArb, fc.integer({ min: 0, max: 5_000 }), fc.boolean())
      .map(([{ obs, nowMs }, past, noLease]) => ({
        obs: {
          ...obs,
          pg: { ...obs.pg, process: 'running' as const, inRecovery: false },
          dcs: { ...obs.dcs, leaseId: noLease ? null : obs.dcs.leaseId, leaseDeadlineMs: nowMs - past },
        },
        nowMs,
      }));
    fc.assert(
      fc.property(arb, ({ obs, nowMs }) => {
        expect(runningPrimary(obs)).toBe(true);
        expect(decide(obs, nowMs).actions.map((a) => a.kind)).toContain('demote');
      }),
      { numRuns: 2000 },
    );
  }, 30_000);

  it('never throws, always explains, and never promotes on a lease it does not hold', () => {
    fc.assert(
      fc.property(anyObsArb, ({ obs, nowMs }) => {
        const d = decide(obs, nowMs);
        expect(d.reason.text.length).toBeGreaterThan(0);
        const kinds = d.actions.map((a) => a.kind);
        const promoteAt = kinds.indexOf('promote');
        if (promoteAt >= 0 && !kinds.slice(0, promoteAt).includes('acquireLeader')) {
          expect(classifyLease(obs, nowMs)).toBe('held');
        }
        if (
          kinds.includes('startPostgres') &&
          d.actions.some((a) => a.kind === 'startPostgres' && a.as === 'primary')
        ) {
          expect(classifyLease(obs, nowMs)).toBe('held');
        }
        if (obs.config.pause) {
          // only safety demotions, and a running primary rebinding its own key to its lease
          const ownKey = obs.dcs.view?.leader?.name === obs.self.name;
          const mayAcquire = obs.pg.process === 'running' && obs.pg.inRecovery === false && ownKey;
          expect(kinds.filter((k) => k !== 'demote' && !(mayAcquire && k === 'acquireLeader'))).toEqual([]);
        }
      }),
      { numRuns: 3000 },
    );
  }, 30_000);

  it('uses the shared fixture view', () => {
    expect(clusterView().members.size).toBe(3);
  });
});
