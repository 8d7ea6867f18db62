import { FAULT_KINDS, runChaos } from '@hapg/testkit';
import { describe, expect, it } from 'vitest';

/**
 * The short deterministic chaos run of `npm test`: one of every fault type on namespaced
 * hosts under a writer and readers on every node; the long run is `npm run chaos`
 * (e2e/chaos/RESULTS.md). The seed fixes the order, the targets and the clock steps; the
 * timing of a real cluster still varies from run to run. No extra faults: the README's test
 * command must stay near 20 minutes on 2 cores (each fault costs about 8 s; the failsafe
 * suite took their place), and the long run is where faults pile up.
 */
const FAULTS = FAULT_KINDS.length;

describe('chaos (short run)', () => {
  it(
    `${FAULTS} faults of every type: no write acknowledged by two primaries, no loss outside the design window, always converges`,
    async () => {
      const lines: string[] = [];
      const report = await runChaos({
        faults: FAULTS,
        seed: 20261201,
        sync: 'off',
        ttlS: 4,
        log: (l) => {
          lines.push(l);
          console.log(l);
        },
      });
      expect(new Set(report.results.map((r) => r.kind))).toEqual(new Set(FAULT_KINDS));
      expect(report.results).toHaveLength(FAULTS);
      expect(report.failures).toEqual([]);
      expect(report.results.every((r) => r.overlaps === 0 && r.fullHealthMs !== null)).toBe(true);
      // faults that must not cost the primary its lease
      for (const r of report.results) {
        if (
          [
            'replica-cut',
            'etcd-member-loss',
            'clock-step',
            'replica-disk-full',
            'etcd-leader-change',
          ].includes(r.kind)
        )
          expect({ fault: `#${r.index} ${r.kind}`, leaderChanged: r.leaderChanged }).toEqual({
            fault: `#${r.index} ${r.kind}`,
            leaderChanged: false,
          });
      }
    },
    15 * 60_000,
  );
});
