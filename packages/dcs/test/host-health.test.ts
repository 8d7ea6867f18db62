import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HostHealth, type HostHealthOptions, probeAwayHosts } from '../src/host-health.js';

const HOSTS = ['a', 'b', 'c'];
const make = (clock: { t: number }, extra: Partial<HostHealthOptions> = {}) =>
  new HostHealth(HOSTS, { failuresToOpen: 3, awayMs: 1000, maxAwayMs: 8000, nowMs: () => clock.t, ...extra });

describe('HostHealth', () => {
  it('a member away stays away until it answers; its probes come at doubling intervals up to the cap', () => {
    const clock = { t: 0 };
    const h = make(clock);
    expect(h.failed('a', 'hard')).toBe(true);
    const intervals: number[] = [];
    for (let i = 0; i < 6; i++) {
      const from = clock.t;
      while (h.probes().due.length === 0) clock.t += 100;
      intervals.push(clock.t - from);
      expect(h.isAway('a')).toBe(true); // time alone never brings it back
      h.failed('a', 'hard'); // the probe failed
    }
    expect(intervals).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    const backs: number[] = [];
    const told = make(clock, { onBack: (_h, e) => backs.push(e.awayMs) });
    told.failed('a', 'hard');
    clock.t += 2500;
    told.failed('a', 'hard');
    told.succeeded('a');
    told.succeeded('a'); // already back: said once
    expect(backs).toEqual([2500]);
    h.succeeded('a');
    expect(h.isAway('a')).toBe(false);
    expect(h.probes()).toEqual({ due: [], nextInMs: null });
    expect(h.failed('a', 'soft')).toBe(false); // answered since: back to failuresToOpen
    h.failed('a', 'soft');
    expect(h.failed('a', 'soft')).toBe(true);
  });

  it('a call skips a member away only while another member is not away', () => {
    const clock = { t: 0 };
    const h = make(clock);
    h.failed('a', 'hard');
    h.failed('b', 'hard');
    expect([h.skip('a'), h.skip('b'), h.skip('c')]).toEqual([true, true, false]);
    h.failed('c', 'hard');
    expect([h.skip('a'), h.skip('b'), h.skip('c')]).toEqual([false, false, false]);
  });

  it('the keepalive stream stays where it was while that member is up, and never goes back to one away while another is not', () => {
    const clock = { t: 0 };
    const h = make(clock);
    h.succeeded('b');
    clock.t = 10;
    h.succeeded('c');
    expect(h.ranked('a')[0]).toBe('a');
    expect(h.ranked(null)).toEqual(['c', 'b', 'a']);
    h.failed('a', 'hard');
    expect(h.ranked('a')).toEqual(['c', 'b', 'a']);
    h.failed('c', 'hard');
    clock.t = 20;
    h.failed('b', 'hard');
    // all away: the one that answered last, whatever its probe time
    expect(h.ranked('b')).toEqual(['c', 'b', 'a']);
  });

  it('property: a member away is never ranked before one that is not, and every member is ranked', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            host: fc.constantFrom(...HOSTS),
            ok: fc.boolean(),
            how: fc.constantFrom('soft' as const, 'hard' as const),
            stepMs: fc.integer({ min: 0, max: 3000 }),
          }),
          { maxLength: 60 },
        ),
        fc.option(fc.constantFrom(...HOSTS), { nil: null }),
        (events, prefer) => {
          const clock = { t: 0 };
          const h = make(clock);
          for (const e of events) {
            clock.t += e.stepMs;
            if (e.ok) h.succeeded(e.host);
            else h.failed(e.host, e.how);
          }
          const ranked = h.ranked(prefer);
          expect([...ranked].sort()).toEqual(HOSTS);
          const away = ranked.map((x) => h.isAway(x));
          const first = away.indexOf(true);
          expect(first === -1 || !away.slice(first).includes(false)).toBe(true);
          if (prefer !== null && !h.isAway(prefer)) expect(ranked[0]).toBe(prefer);
        },
      ),
    );
  });
});

describe('probeAwayHosts', () => {
  it('probes a member away when due, brings it back when the probe is answered, doubles when not', async () => {
    let answers = false;
    const probed: string[] = [];
    const h = make({ t: 0 }, { awayMs: 20, maxAwayMs: 80, nowMs: () => performance.now() });
    const p = probeAwayHosts(h, async (host) => {
      probed.push(host);
      if (!answers) throw new Error('no answer');
    });
    h.failed('b', 'hard');
    p.kick();
    await new Promise((r) => setTimeout(r, 100));
    expect(h.isAway('b')).toBe(true);
    const failedProbes = probed.length;
    expect(failedProbes).toBeGreaterThanOrEqual(2); // at 20 and 60 ms
    expect(failedProbes).toBeLessThanOrEqual(3);
    answers = true;
    await new Promise((r) => setTimeout(r, 200));
    expect(h.isAway('b')).toBe(false);
    expect(new Set(probed)).toEqual(new Set(['b']));
    const total = probed.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(probed.length).toBe(total); // nobody away: no probes
    p.stop();
  });
});
