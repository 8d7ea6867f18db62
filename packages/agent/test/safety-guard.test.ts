import type { Clock, Decision, MemberName, Observation } from '@hapg/core';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { NOW_MS, primaryObs, replicaObs } from '../../core/test/decide-fixtures.js';
import { SafetyGuard } from '../src/loop/safety-guard.js';

/** A guard over fakes: the clock, the lease state and the sampled standbys are set by the test. */
function rig(obs: Observation | null) {
  const state = {
    nowMs: NOW_MS,
    renewFailingSinceMs: null as number | null,
    leaseDeadlineMs: (NOW_MS + 10_000) as number | null,
    streaming: ['b'] as MemberName[],
    enforced: [] as Decision[],
    samples: 0,
  };
  const clock: Clock = { monotonicMs: () => state.nowMs, wallMs: () => state.nowMs };
  const guard = new SafetyGuard(
    {
      clock,
      log: pino({ level: 'silent' }),
      lastObservation: () => obs,
      lease: () => ({
        leaseId: '1',
        leaseDeadlineMs: state.leaseDeadlineMs,
        renewFailingSinceMs: state.renewFailingSinceMs,
      }),
      sampleReplication: async () => {
        state.samples++;
        return state.streaming;
      },
      enforce: async (d) => {
        state.enforced.push(d);
      },
    },
    250,
  );
  return { guard, state };
}

describe('SafetyGuard', () => {
  it('demotes a primary whose renewals fail once no standby answers, between loop iterations', async () => {
    // the last iteration saw renewals fine and b, c streaming
    const { guard, state } = rig(primaryObs());
    expect(await guard.tick()).toBeNull();
    state.renewFailingSinceMs = NOW_MS;
    state.nowMs = NOW_MS + 1500;
    expect(await guard.tick()).toBeNull(); // b still replies: its receipt protects the writes
    state.streaming = [];
    const d = await guard.tick();
    expect(d?.reason.code).toBe('ISOLATED');
    expect(d?.actions).toEqual([{ kind: 'demote', mode: 'immediate', follow: null }]);
    expect(state.enforced.map((x) => x.reason.code)).toEqual(['ISOLATED']);
  });

  it('waits out primary_isolation_timeout from the last confirmed renewal', async () => {
    const { guard, state } = rig(primaryObs());
    state.streaming = [];
    state.renewFailingSinceMs = NOW_MS;
    state.nowMs = NOW_MS + 999;
    expect(await guard.tick()).toBeNull();
    state.nowMs = NOW_MS + 1000;
    expect((await guard.tick())?.reason.code).toBe('ISOLATED');
  });

  it('checks at the end of the isolation grace, not up to a sampling period after it', async () => {
    vi.useFakeTimers();
    try {
      const { guard, state } = rig(primaryObs());
      state.streaming = [];
      state.renewFailingSinceMs = NOW_MS - 900; // the grace (1 s) ends in 100 ms; the period is 250
      guard.start();
      await vi.advanceTimersByTimeAsync(100);
      expect(state.samples).toBe(0);
      state.nowMs = NOW_MS + 101;
      await vi.advanceTimersByTimeAsync(1);
      expect(state.enforced.map((x) => x.reason.code)).toEqual(['ISOLATED']);
      guard.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('demotes at the lease deadline with standbys streaming, pause or not', async () => {
    const { guard, state } = rig(primaryObs({ config: { pause: true } }));
    state.leaseDeadlineMs = NOW_MS;
    const d = await guard.tick();
    expect(d?.reason.code).toBe('LEASE_DEADLINE_PASSED');
    expect(d?.reason.text).toMatch(/pause does not suspend/);
  });

  it('leaves a replica and a stopped server alone, without sampling', async () => {
    for (const obs of [replicaObs(), primaryObs({ pg: { process: 'stopped' } }), null]) {
      const { guard, state } = rig(obs);
      state.streaming = [];
      state.renewFailingSinceMs = NOW_MS - 60_000;
      state.leaseDeadlineMs = NOW_MS - 1;
      expect(await guard.tick()).toBeNull();
      expect(state.samples).toBe(0);
      expect(state.enforced).toEqual([]);
    }
  });
});
