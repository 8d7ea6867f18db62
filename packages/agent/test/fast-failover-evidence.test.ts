import type { Observation } from '@hapg/core';
import { describe, expect, it } from 'vitest';
import { gatherTakeoverEvidence, type TakeoverProbes } from '../src/fast-failover/evidence.js';
import { SilenceWatch } from '../src/fast-failover/silence-watch.js';
import { FAST_FAILOVER, LEADER_GONE, syncStandbyObs } from '../../core/test/decide-fixtures.js';

/** docs/fast-failover.md: the order and cost of the probes a listed sync standby makes. */

/** `a`, a running standby of `b`, listed in b's `on`-mode sync key (core's fixture). */
function standbyObs(
  over: { fast?: typeof FAST_FAILOVER | { enabled: false } | undefined } = {},
): Observation {
  if (!('fast' in over)) return syncStandbyObs();
  const fast = over.fast === undefined ? undefined : { ...FAST_FAILOVER, ...over.fast };
  return syncStandbyObs({ config: { fastFailover: fast } });
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
    expect(await gatherTakeoverEvidence(p, standbyObs())).toEqual(LEADER_GONE);
    expect(calls).toEqual(['silence', 'rest', 'port', 'ttl 2']);
  });

  it('a live stream costs one local query and nothing else', async () => {
    const { p, calls } = probes({ silenceMs: 20 });
    expect(await gatherTakeoverEvidence(p, standbyObs())).toBeNull();
    expect(calls).toEqual(['silence']);
  });

  it('a leader that answers a probe costs no etcd request, and is evidence that it lives', async () => {
    const { p, calls } = probes({ silenceMs: null, port: true });
    // what a standby that released its stream (quorum mode) takes its release back on
    expect(await gatherTakeoverEvidence(p, standbyObs())).toMatchObject({
      portAnswered: true,
      lease: 'unasked',
    });
    expect(calls).not.toContain('ttl 2');
  });

  it('no probe at all while fast failover is off', async () => {
    const { p, calls } = probes({ silenceMs: null });
    expect(await gatherTakeoverEvidence(p, standbyObs({ fast: undefined }))).toBeNull();
    expect(await gatherTakeoverEvidence(p, standbyObs({ fast: { enabled: false } }))).toBeNull();
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
