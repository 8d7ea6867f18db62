import { describe, expect, it } from 'vitest';
import { decide } from '@hapg/core';
import { Prng, runSimulation, type SimOptions, type SimResult } from '../src/sim/index.js';

/** `SIM_SEED=123 npx vitest run --project unit packages/testkit/test/sim.test.ts` replays one seed. */
const only = process.env.SIM_SEED === undefined ? null : Number(process.env.SIM_SEED);
const SEEDS = only !== null ? [only] : Array.from({ length: 200 }, (_, i) => i + 1);

/** The seeds whose run satisfies `pred`, in order (runs one at a time: the simulator is deterministic per seed). */
async function seedsWhere(
  seeds: readonly number[],
  pred: (r: SimResult) => boolean,
  opts: SimOptions,
  firstOnly = false,
): Promise<number[]> {
  const out: number[] = [];
  for (const seed of seeds) {
    if (pred(await runSimulation(seed, opts))) out.push(seed);
    if (firstOnly && out.length > 0) break;
  }
  return out;
}

function report(r: SimResult): string {
  return [`seed ${r.seed} (replay: SIM_SEED=${r.seed})`, ...r.violations, '--- trace', ...r.trace].join('\n');
}

describe('seeded simulator', () => {
  it('PRNG is deterministic and spreads values', async () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b.next()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(new Set(xs.map((x) => Math.floor(x * 10))).size).toBe(10);
  });

  it('same seed, same run', async () => {
    expect(await runSimulation(7)).toEqual(await runSimulation(7));
  });

  it(`safety under faults, then one leader after healing (${SEEDS.length} seeds)`, async () => {
    let failovers = 0;
    let fenceStops = 0;
    for (const seed of SEEDS) {
      const r = await runSimulation(seed);
      failovers += r.stats.failovers;
      fenceStops += r.stats.fenceStops;
      if (r.violations.length > 0) expect.fail(`safety violated\n${report(r)}`);
      if (!r.live) expect.fail(`no single leader after healing\n${report(r)}`);
    }
    // Not vacuous: the faults did cause failovers and fence stops.
    if (only === null) {
      expect(failovers).toBeGreaterThan(50);
      expect(fenceStops).toBeGreaterThan(5);
    }
  }, 120_000);

  it('exercises the safety-relevant branches of decide', async () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 50; seed++)
      for (const code of Object.keys((await runSimulation(seed)).stats.codes)) seen.add(code);
    for (const code of [
      'LEASE_DEADLINE_PASSED',
      'ISOLATED',
      'REJOINING',
      'NO_LEADER_TAKING_OVER',
      // a primary's view lagging its own acquire used to show as NO_LEADER_REACQUIRING (a no-op
      // rebind); it decides nothing now (fast failover). NO_LEADER_REACQUIRING: decide tests.
      'VIEW_BEHIND_OWN_WRITE',
      'SWITCHOVER_DEMOTING',
      'NO_LEADER_FAILOVER_TARGET',
      'RESTARTING_CRASHED_PRIMARY',
      'PRIMARY_START_TIMEOUT',
      'PAUSED',
    ]) {
      expect(seen, code).toContain(code);
    }
  }, 60_000);

  it(`another tool's leader and member keys (issue 11): safe, and one leader after healing (${Math.min(SEEDS.length, 150)} seeds)`, async () => {
    const codes: Record<string, number> = {};
    for (const seed of SEEDS.slice(0, 150)) {
      const r = await runSimulation(seed, { hostileKeys: true, faultRate: 0.1 });
      for (const [code, n] of Object.entries(r.stats.codes)) codes[code] = (codes[code] ?? 0) + n;
      if (r.violations.length > 0) expect.fail(`safety violated\n${report(r)}`);
      if (!r.live) expect.fail(`no single leader after healing\n${report(r)}`);
    }
    // not vacuous: flawed keys were seen, and elections followed their removal
    if (only === null) expect(codes.LEADER_KEY_INVALID ?? 0).toBeGreaterThan(100);
  }, 120_000);

  it(`a failing pre_promote (issue 14): safe, another member takes over, one leader after healing (${Math.min(SEEDS.length, 150)} seeds)`, async () => {
    let aborted = 0;
    let failovers = 0;
    for (const seed of SEEDS.slice(0, 150)) {
      const r = await runSimulation(seed, { prePromoteFailRate: 0.3 });
      aborted += r.stats.prePromoteFailures;
      failovers += r.stats.failovers;
      if (r.violations.length > 0) expect.fail(`safety violated\n${report(r)}`);
      if (!r.live) expect.fail(`no single leader after healing\n${report(r)}`);
    }
    // not vacuous: promotions were aborted, and the cluster still failed over
    if (only === null) {
      expect(aborted).toBeGreaterThan(50);
      expect(failovers).toBeGreaterThan(aborted);
    }
  }, 120_000);

  it('has teeth: a flawed leader key never removed leaves the cluster without a leader', async () => {
    const mutant: typeof decide = (obs, nowMs) => {
      const d = decide(obs, nowMs);
      return { ...d, actions: d.actions.filter((a) => a.kind !== 'removeLeaderKey') };
    };
    const stuck = await seedsWhere(SEEDS.slice(0, 60), (r) => !r.live, {
      hostileKeys: true,
      faultRate: 0.1,
      decide: mutant,
    });
    expect(stuck.length).toBeGreaterThan(0);
  }, 60_000);

  it('has teeth: without the fence, paused primaries overlap with their successors', async () => {
    const unsafe = await seedsWhere(SEEDS.slice(0, 100), (r) => r.violations.length > 0, { fence: false });
    expect(unsafe.length).toBeGreaterThan(0);
  }, 60_000);

  it('has teeth: promoting on the cached view without verifyLeader is caught', async () => {
    const mutant: typeof decide = (obs, nowMs) => {
      const d = decide(obs, nowMs);
      return { ...d, actions: d.actions.filter((a) => a.kind !== 'verifyLeader') };
    };
    // A stale cache rarely coincides with a promotion since the isolation grace runs from the
    // last confirmed renewal (about 1 seed in 1 000): search until the first one.
    const caught = await seedsWhere(
      Array.from({ length: 3000 }, (_, i) => i + 1),
      (r) => r.violations.length > 0,
      { decide: mutant },
      true,
    );
    expect(caught.length).toBe(1);
  }, 60_000);
});
