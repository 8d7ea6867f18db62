import { SYNC_PROMISE_VERSION, type Observation } from '@hapg/core';
import { describe, expect, it } from 'vitest';
import { gatherTakeoverEvidence, type TakeoverProbes } from '../src/fast-failover/evidence.js';
import { SilenceWatch } from '../src/fast-failover/silence-watch.js';

/** docs/fast-failover.md: the order and cost of the probes a listed sync standby makes. */

const FAST = { enabled: true, streamSilenceMs: 1000, probeTimeoutMs: 500 };

function leader(name: string) {
  return {
    name,
    connUrl: 'postgres://127.0.0.1:5432/postgres',
    apiUrl: 'http://127.0.0.1:8008/patroni',
    state: 'running',
    role: 'primary',
    version: '0.1.0',
    tags: {},
    timeline: 1,
    xlogLocation: 1000n,
    receiveLsn: null,
    replayLsn: null,
    replicationState: null,
    pendingRestart: false,
    statusReason: null,
    leaseId: '2',
    modRevision: '3',
    raw: {
      conn_url: '',
      api_url: '',
      state: 'running',
      role: 'primary',
      version: '0.1.0',
      sync_promise: SYNC_PROMISE_VERSION,
    },
  };
}

/** `a`, a running standby of `b`, listed in b's `on`-mode sync key. */
function standbyObs(over: { fast?: typeof FAST | undefined } = {}): Observation {
  return {
    self: { name: 'a', nofailover: false, nosync: false, failoverPriority: 1 },
    config: {
      ttlMs: 10_000,
      loopWaitMs: 2_000,
      retryTimeoutMs: 3_000,
      primaryStartTimeoutMs: 30_000,
      maximumLagOnFailoverBytes: 1_000_000n,
      primaryIsolationTimeoutMs: 1_000,
      checkTimeline: false,
      pause: false,
      synchronousMode: 'on',
      synchronousModeStrict: false,
      usePgRewind: true,
      ...('fast' in over
        ? over.fast === undefined
          ? {}
          : { fastFailover: over.fast }
        : { fastFailover: FAST }),
    },
    pg: {
      dataDir: 'initialized',
      systemId: 's',
      process: 'running',
      crashedAtMs: null,
      inRecovery: true,
      wasPrimary: false,
      timeline: 1,
      flushLsn: null,
      receiveLsn: 1000n,
      replayLsn: 1000n,
      following: 'b',
      streaming: true,
      streamingReplicas: [],
      rejoinFailure: null,
    },
    dcs: {
      view: {
        scope: 'demo',
        revision: '10',
        initialize: 's',
        leader: { name: 'b', leaseId: '2', modRevision: '5', createRevision: '5' },
        members: new Map([['b', leader('b')]]),
        config: null,
        failover: null,
        sync: { leader: 'b', syncStandbys: ['a'], quorum: 0, modRevision: '7' },
        history: null,
        status: null,
        malformed: [],
      },
      reachable: true,
      leaseId: '1',
      leaseDeadlineMs: 100_000,
      renewFailingSinceMs: null,
    },
    peers: null,
  } as unknown as Observation;
}

function probes(answers: { silenceMs: number | null; rest?: boolean; port?: boolean }) {
  const calls: string[] = [];
  const p: TakeoverProbes = {
    streamSilenceMs: async () => {
      calls.push('silence');
      return answers.silenceMs;
    },
    restAnswers: async () => {
      calls.push('rest');
      return answers.rest ?? false;
    },
    portAnswers: async () => {
      calls.push('port');
      return answers.port ?? false;
    },
    leaseTimeToLive: async (id) => {
      calls.push(`ttl ${id}`);
      return { remainingS: 7, grantedS: 10 };
    },
  };
  return { p, calls };
}

describe('gatherTakeoverEvidence', () => {
  it('asks every probe in order of cost once each earlier one showed the leader silent', async () => {
    const { p, calls } = probes({ silenceMs: 1500 });
    expect(await gatherTakeoverEvidence(p, standbyObs())).toEqual({
      leader: 'b',
      leaderModRevision: '5',
      streamSilenceMs: 1500,
      restAnswered: false,
      portAnswered: false,
      lease: { remainingS: 7, grantedS: 10 },
    });
    expect(calls).toEqual(['silence', 'rest', 'port', 'ttl 2']);
  });

  it('a live stream costs one local query and nothing else', async () => {
    const { p, calls } = probes({ silenceMs: 20 });
    expect(await gatherTakeoverEvidence(p, standbyObs())).toBeNull();
    expect(calls).toEqual(['silence']);
  });

  it('a leader that answers a probe costs no etcd request', async () => {
    const { p, calls } = probes({ silenceMs: null, port: true });
    expect(await gatherTakeoverEvidence(p, standbyObs())).toBeNull();
    expect(calls).not.toContain('ttl 2');
  });

  it('no probe at all while fast failover is off', async () => {
    const { p, calls } = probes({ silenceMs: null });
    expect(await gatherTakeoverEvidence(p, standbyObs({ fast: undefined }))).toBeNull();
    expect(await gatherTakeoverEvidence(p, standbyObs({ fast: { ...FAST, enabled: false } }))).toBeNull();
    expect(calls).toEqual([]);
  });

  it('a probe that fails gives no evidence', async () => {
    const { p } = probes({ silenceMs: null });
    const failing = { ...p, leaseTimeToLive: async () => Promise.reject(new Error('etcd unreachable')) };
    expect(await gatherTakeoverEvidence(failing, standbyObs())).toBeNull();
  });
});

describe('SilenceWatch', () => {
  it('wakes the loop when the stream goes silent, then once a second (every 4th sample) while it stays so', async () => {
    let silenceMs: number | null = 50;
    const wakes: string[] = [];
    const watch = new SilenceWatch({
      lastObservation: () => standbyObs(),
      probes: { streamSilenceMs: async () => silenceMs },
      wake: (why) => wakes.push(why),
    });
    await watch.tick();
    expect(wakes).toEqual([]);
    silenceMs = 1200;
    for (let i = 0; i < 5; i++) await watch.tick();
    expect(wakes).toEqual([
      'our stream from sync leader b is silent',
      'our stream from sync leader b is silent',
    ]);
    silenceMs = 10;
    await watch.tick();
    silenceMs = null;
    await watch.tick();
    expect(wakes).toHaveLength(3);
  });

  it('samples nothing while the takeover preconditions do not hold', async () => {
    let sampled = 0;
    const watch = new SilenceWatch({
      lastObservation: () => standbyObs({ fast: undefined }),
      probes: {
        streamSilenceMs: async () => {
          sampled++;
          return null;
        },
      },
      wake: () => {},
    });
    await watch.tick();
    expect(sampled).toBe(0);
  });
});
