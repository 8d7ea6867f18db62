import { type ActionHandlers, HANDLERS } from '@hapg/agent';
import { decide as decideFn } from '@hapg/core';
import { describe, expect, it } from 'vitest';
import { runSimulation, type SimOptions, type SimResult } from '../src/sim/index.js';

/**
 * The simulator runs the agent's own executor (`@hapg/agent` HANDLERS, `runActions`), its
 * sync duty and `SyncManager`, against model ports. These tests break the production
 * executor and check that the simulator notices: proof that what it exercises is the real
 * code, not a model of it.
 */
const SEEDS = Array.from({ length: Number(process.env.SIM_SEEDS ?? 200) }, (_, i) => i + 1);

/** The first seed whose run shows a safety violation, or null. */
async function firstViolation(seeds: readonly number[], opts: SimOptions): Promise<SimResult | null> {
  for (const seed of seeds) {
    const r = await runSimulation(seed, opts);
    if (r.violations.length > 0) return r;
  }
  return null;
}

/** A start or promotion that never arms the fence: the postmaster it starts is not the one fenced. */
const unfencedStart: ActionHandlers = {
  ...HANDLERS,
  startPostgres: (a, ctx, run) =>
    HANDLERS.startPostgres(a, { ...ctx, fence: { ...ctx.fence, arm: async () => {} } }, run),
};

/** A verifyLeader that trusts the cached view instead of asking etcd. */
const verifyFromCache: ActionHandlers = {
  ...HANDLERS,
  verifyLeader: async (_a, ctx, run) => {
    const l = ctx.view?.leader;
    if (l?.name !== ctx.name) throw new Error('not the leader in the cached view');
    run.keyConfirmed = true;
  },
};

describe('the simulator runs the production executor', () => {
  it(`unmutated, with operators' restarts and reinits: safe, and one leader after healing (${SEEDS.length} seeds)`, async () => {
    const codes: Record<string, number> = {};
    for (const seed of SEEDS) {
      const r = await runSimulation(seed, { operatorRequests: true });
      for (const [c, n] of Object.entries(r.stats.codes)) codes[c] = (codes[c] ?? 0) + n;
      if (r.violations.length > 0)
        expect.fail(`seed ${seed}\n${r.violations.join('\n')}\n${r.trace.join('\n')}`);
      expect(r.live, `seed ${seed}: one leader after healing\n${r.trace.join('\n')}`).toBe(true);
    }
  }, 300_000);

  it('has teeth: a restart that does not arm the fence with the new postmaster gives two primaries', async () => {
    const r = await firstViolation(SEEDS, { operatorRequests: true, handlers: unfencedStart });
    expect(r, 'no seed showed the unfenced restart').not.toBeNull();
    expect(r!.violations.join('\n')).toMatch(/two writable primaries|without the leader key/);
  }, 300_000);

  it('has teeth: a verifyLeader that trusts the cached view is caught', async () => {
    const seeds = Array.from({ length: 3000 }, (_, i) => i + 1);
    const r = await firstViolation(seeds, { handlers: verifyFromCache });
    expect(r, 'no seed showed the stale-view promotion').not.toBeNull();
  }, 300_000);

  it('has teeth: a promotion without verifyLeader before it breaks the executor invariant at once', async () => {
    const r = await firstViolation(SEEDS, {
      decide: (obs, nowMs) => {
        const d = decideFn(obs, nowMs);
        return { ...d, actions: d.actions.filter((x) => x.kind !== 'verifyLeader') };
      },
    });
    expect(r).not.toBeNull();
    expect(r!.violations.join('\n')).toMatch(
      /invariant violated: (promote|startPostgres as primary) without/,
    );
  }, 300_000);
});
