import { fenceMoves } from '@hapg/agent';
import { type ActionHandlers, FailsafePromises, FailsafeRounds, HANDLERS } from '@hapg/agent';
import { decide, leaseMarginMs } from '@hapg/core';
import { describe, expect, it } from 'vitest';
import {
  runSimulation,
  type ScheduledFault,
  type SimOptions,
  type SimResult,
  type SimStep,
} from '../src/sim/index.js';

/**
 * Failsafe mode (docs/failsafe.md) in the seeded simulator: the agent's own `FailsafePromises`,
 * `FailsafeRounds`, `answerFailsafe`, `failsafeKeyDuty`, core's `decide` and the executor's
 * `beginLeadership` port, over a modelled etcd (the failsafe key, the compare in the acquire),
 * network (`POST /failsafe` with latency, timeouts, node↔node cuts) and clocks (rates within ρ).
 * `SIM_SEED=123 npx vitest run --project unit packages/testkit/test/sim-failsafe.test.ts` replays
 * one seed of the random run; `SIM_SEEDS=3000` runs more.
 */
const only = process.env.SIM_SEED === undefined ? null : Number(process.env.SIM_SEED);
const SEEDS =
  only !== null ? [only] : Array.from({ length: Number(process.env.SIM_SEEDS ?? 150) }, (_, i) => i + 1);

const TTL_MS = 3_000;
/** the failsafe deadline's distance from a round's start: ttl − margin (the production margin) */
const F_MS = TTL_MS - leaseMarginMs(TTL_MS);
const RHO = 0.05;
const STEP_MS = 100;
/** a cut's effect is due by F on the primary's clock (rate ≥ 1 − ρ), plus the fence's step */
const STOP_BOUND_MS = F_MS / (1 - RHO) + STEP_MS;

function report(r: SimResult): string {
  return [`seed ${r.seed} (replay: SIM_SEED=${r.seed})`, ...r.violations, '--- trace', ...r.trace].join('\n');
}

/** A directed run: no random faults, only `schedule`, messages taking 20 ms, key writes answered; every step recorded. */
async function scenario(
  schedule: readonly ScheduledFault[],
  opts: SimOptions = {},
): Promise<{ r: SimResult; steps: SimStep[] }> {
  const steps: SimStep[] = [];
  const r = await runSimulation(1, {
    failsafe: true,
    nodes: 3,
    faultRate: 0,
    faultSteps: 300,
    healSteps: 150,
    traceLines: 300,
    ...opts,
    failsafeOptions: { latencyMs: () => 20, lostAnswerRate: 0, ...opts.failsafeOptions },
    schedule,
    onStep: (s) => steps.push(s),
  });
  return { r, steps };
}

const within = (steps: readonly SimStep[], fromMs: number, toMs: number) =>
  steps.filter((s) => s.nowMs >= fromMs && s.nowMs < toMs);

/** The first instant at or after `fromMs` when `node` is not writable (Infinity: never). */
function stoppedAt(steps: readonly SimStep[], node: string, fromMs: number): number {
  return (
    steps.find((s) => s.nowMs >= fromMs && !s.writable.includes(node))?.nowMs ?? Number.POSITIVE_INFINITY
  );
}

/** The first instant at or after `fromMs` when a node other than `node` holds the leader key or is writable. */
function firstRival(steps: readonly SimStep[], node: string, fromMs: number): number {
  return (
    steps.find(
      (s) =>
        s.nowMs >= fromMs &&
        ((s.leader !== null && s.leader.name !== node) || s.writable.some((w) => w !== node)),
    )?.nowMs ?? Number.POSITIVE_INFINITY
  );
}

function safe(r: SimResult): void {
  if (r.violations.length > 0) expect.fail(`safety violated\n${report(r)}`);
}

/**
 * Why a cluster may legitimately have no leader after healing: a failsafe key left by the
 * last leader leaves out every member that could take over (M5 blocks non-members with
 * failsafe mode on or off; docs/failsafe.md K2: `etcdctl del` clears it) — the others are
 * nofailover or too far behind.
 */
function staleKeyStall(r: SimResult): boolean {
  const codes = Object.values(r.final.lastCodes);
  return (
    codes.includes('FAILSAFE_NOT_LISTED') &&
    codes.every((c) =>
      ['FAILSAFE_NOT_LISTED', 'NO_LEADER_NOT_ELIGIBLE', 'LAG_TOO_HIGH', 'NO_LEADER_NOT_HEALTHIEST'].includes(
        c,
      ),
    )
  );
}

// ---- mutants ---------------------------------------------------------------------------

/** P2 broken: a member that did not answer counts as answered, so a partial round extends F. */
const partialRounds = (p: ConstructorParameters<typeof FailsafeRounds>[0]) =>
  new FailsafeRounds({
    ...p,
    post: async (url, body, timeoutMs) => {
      const a = await p.post(url, body, timeoutMs);
      return a === 'failed' ? 'accepted' : a;
    },
  });

/** P2 broken: F = the round's end + ttl − margin instead of its start t0. */
class FromEndRounds extends FailsafeRounds {
  readonly #p: ConstructorParameters<typeof FailsafeRounds>[0];
  #f: number | null = null;
  constructor(p: ConstructorParameters<typeof FailsafeRounds>[0]) {
    super(p);
    this.#p = p;
  }
  override async round(input: Parameters<FailsafeRounds['round']>[0]) {
    const out = await super.round(input);
    if (out.kind === 'extended') {
      const ttl = Math.ceil(input.ttlMs / 1000) * 1000;
      const f = this.#p.monotonicMs() + ttl - leaseMarginMs(ttl);
      this.#f = Math.max(this.#f ?? f, f);
      return { ...out, deadlineMs: this.#f };
    }
    if (out.kind === 'refused') this.#f = null;
    return out;
  }
  override deadlineMs(): number | null {
    return this.#f;
  }
  override leaseConfirmed(): void {
    super.leaseConfirmed();
    this.#f = null;
  }
  override leadershipEnded(): void {
    super.leadershipEnded();
    this.#f = null;
  }
}

/** M2/M3 broken: a member ignores its promises (the executor's `beginLeadership` always lets it lead, and `decide` never sees a hold). */
const promiseIgnored: Pick<SimOptions, 'decide' | 'handlers'> = {
  decide: (obs, nowMs) => decide({ ...obs, self: { ...obs.self, failsafeHold: null } }, nowMs),
  handlers: Object.fromEntries(
    Object.entries(HANDLERS).map(([kind, h]) => [
      kind,
      (a: never, ctx: Parameters<ActionHandlers['acquireLeader']>[1], run: never) =>
        (h as (a: never, c: typeof ctx, r: never) => Promise<void>)(
          a,
          { ...ctx, failsafe: { beginLeadership: () => null } },
          run,
        ),
    ]),
  ) as unknown as ActionHandlers,
};

/** M5 broken: the acquire does not compare the failsafe key with the view decided on. */
const noFailsafeCompare: ActionHandlers = {
  ...HANDLERS,
  acquireLeader: (a, ctx, run) =>
    HANDLERS.acquireLeader(
      a,
      { ...ctx, store: { ...ctx.store, acquireLeader: () => ctx.store.acquireLeader() } },
      run,
    ),
};

/** M4 broken: a restarted agent forgets the promises of its earlier run (no startup hold). */
const noStartupHold = (o: { startedAtMs: number; longestPromiseMs: number }) =>
  new FailsafePromises({ ...o, longestPromiseMs: 0 });

// ---- schedules -------------------------------------------------------------------------

/** Scenario 2: etcd cut off from the primary n0 only, 5–20 s (replicas see its key expire at ~8 s). */
const primaryEtcdCut: ScheduledFault[] = [
  { atMs: 5_000, fault: { kind: 'etcd-cut', node: 'n0', forMs: 15_000 } },
];

/** etcd cut for the primary, then at `cut` n1 (the slow answerer) loses n0 one way and n2 both ways */
const slowMemberCut = (cut: number): ScheduledFault[] => [
  ...primaryEtcdCut,
  { atMs: cut, fault: { kind: 'node-cut', from: 'n0', to: 'n1', forMs: 10_000, oneWay: true } },
  { atMs: cut, fault: { kind: 'node-cut', from: 'n1', to: 'n2', forMs: 10_000 } },
];

/**
 * Scenario 3b: as 2, and the replica n1 cut off from n0 (and from n2, which still streams from
 * n0: n0 is not isolated) at 10 s; n1 still sees etcd.
 */
const CUT_MS = 10_000;
const cutOff = (node: string, atMs: number, forMs: number): ScheduledFault[] =>
  ['n0', 'n2']
    .filter((n) => n !== node)
    .map((n) => ({ atMs, fault: { kind: 'node-cut', from: node, to: n, forMs } }) as ScheduledFault);
const replicaCut: ScheduledFault[] = [...primaryEtcdCut, ...cutOff('n1', CUT_MS, 15_000)];

/** Scenario 4b: as 2, n1's agent restarts at 12 s (up at 12.3 s), cut off from n0 and n2. */
const RESTART_MS = 12_000;
const replicaRestart: ScheduledFault[] = [
  ...primaryEtcdCut,
  { atMs: RESTART_MS, fault: { kind: 'agent-restart', node: 'n1', downMs: 300 } },
  ...cutOff('n1', RESTART_MS, 13_000),
];

/** As 2, and n0's agent frozen at 12 s for 5 s: its REST API answers nobody, its Postgres runs on. */
const primaryFrozen: ScheduledFault[] = [
  ...primaryEtcdCut,
  { atMs: 12_000, fault: { kind: 'agent-pause', node: 'n0', forMs: 5_000 } },
];

describe('failsafe mode in the simulator (docs/failsafe.md)', () => {
  it('scenario 1: etcd down for everyone for 5 × ttl: the primary keeps acknowledging writes, no election; after healing it holds the key under a lease', async () => {
    // etcd down (its leases survive and are refreshed when it returns), and etcd cut off from
    // everyone (the leases expire: the primary re-acquires the key, P7)
    for (const kind of ['etcd-down', 'etcd-cut-all'] as const) {
      const { r, steps } = await scenario([{ atMs: 5_000, fault: { kind, forMs: 5 * TTL_MS } }]);
      safe(r);
      const outage = within(steps, 5_000, 20_000);
      expect(
        outage.every((s) => s.writable.length === 1 && s.writable[0] === 'n0'),
        kind,
      ).toBe(true);
      expect(outage.at(-1)!.lsn.n0! > outage[0]!.lsn.n0!, `${kind}: n0 kept taking writes`).toBe(true);
      expect(r.stats.failovers, kind).toBe(0);
      expect(r.stats.codes.FAILSAFE_ACTIVE ?? 0, kind).toBeGreaterThan(0);
      if (kind === 'etcd-cut-all')
        expect(
          outage.some((s) => s.leader === null),
          'the key expired',
        ).toBe(true);
      const healed = steps.find((s) => s.nowMs === 22_000)!;
      expect(healed.leader?.name).toBe('n0');
      expect(healed.leader?.leaseId).not.toBeNull();
      expect(r.live).toBe(true);
    }
  });

  it('scenario 2: etcd cut off from the primary only, replicas see its key expire: no replica takes the key; the primary writes throughout and re-acquires after healing', async () => {
    const { r, steps } = await scenario(primaryEtcdCut);
    safe(r);
    const outage = within(steps, 5_000, 20_000);
    expect(
      outage.some((s) => s.leader === null),
      'the key expired',
    ).toBe(true);
    expect(outage.every((s) => s.writable.join() === 'n0')).toBe(true);
    expect(firstRival(steps, 'n0', 0)).toBe(Number.POSITIVE_INFINITY);
    expect(steps.find((s) => s.nowMs === 22_000)!.leader?.name).toBe('n0');
    expect(r.live).toBe(true);
  });

  it('scenario 3: one replica unreachable: the primary stops within ttl − margin of the cut; the replica leads only after that, when it reaches etcd', async () => {
    // a: etcd down for everyone, n1 cut off from n0: nobody can lead until etcd returns
    const a = await scenario([
      { atMs: 5_000, fault: { kind: 'etcd-down', forMs: 15_000 } },
      { atMs: CUT_MS, fault: { kind: 'node-cut', from: 'n0', to: 'n1', forMs: 15_000 } },
    ]);
    safe(a.r);
    expect(stoppedAt(a.steps, 'n0', CUT_MS)).toBeLessThanOrEqual(CUT_MS + STOP_BOUND_MS);
    expect(firstRival(a.steps, 'n0', 0)).toBeGreaterThanOrEqual(20_000);
    // b: etcd cut off from n0 only, n1 cut off from n0 but not from etcd
    const b = await scenario(replicaCut);
    safe(b.r);
    const stop = stoppedAt(b.steps, 'n0', CUT_MS);
    expect(stop).toBeLessThanOrEqual(CUT_MS + STOP_BOUND_MS);
    const rival = firstRival(b.steps, 'n0', 0);
    expect(rival).toBeGreaterThan(stop);
    expect(rival, 'a replica took over during the outage').toBeLessThan(20_000);
    expect(b.r.live).toBe(true);
  });

  it('scenario 4: a member joining during an outage never takes the key', async () => {
    // n3's agent starts at 10 s, after n0 wrote the key and lost etcd; it cannot reach n0
    const { r, steps } = await scenario(
      [
        { atMs: 0, fault: { kind: 'agent-restart', node: 'n3', downMs: 10_000 } },
        ...primaryEtcdCut,
        { atMs: 10_000, fault: { kind: 'node-cut', from: 'n0', to: 'n3', forMs: 15_000 } },
      ],
      { nodes: 4 },
    );
    safe(r);
    expect(within(steps, 5_000, 20_000).every((s) => s.failsafeKey?.join() === 'n0,n1,n2')).toBe(true);
    expect(steps.filter((s) => s.nowMs < 30_000).some((s) => s.leader?.name === 'n3')).toBe(false);
    expect(within(steps, 10_000, 20_000).some((s) => s.codes.n3 === 'FAILSAFE_NOT_LISTED')).toBe(true);
    expect(r.live).toBe(true);
  });

  it("scenario 4: a replica's agent restarted during an outage waits out the startup hold", async () => {
    const { r, steps } = await scenario(replicaRestart);
    safe(r);
    const up = RESTART_MS + 300;
    expect(within(steps, up, up + TTL_MS).some((s) => s.codes.n1 === 'FAILSAFE_STARTUP_HOLD')).toBe(true);
    const stop = stoppedAt(steps, 'n0', RESTART_MS);
    expect(stop).toBeLessThanOrEqual(RESTART_MS + STOP_BOUND_MS);
    // the hold: the longest promise it gave (max(ttl, hapg.ttl)) on its own clock
    const rival = firstRival(steps, 'n0', 0);
    expect(rival).toBeGreaterThanOrEqual(up + TTL_MS / (1 + RHO));
    expect(rival).toBeLessThan(20_000);
  });

  it("scenario 4: the primary's agent frozen while etcd is down for everyone is stopped by the fence at W", async () => {
    const { r, steps } = await scenario([
      { atMs: 5_000, fault: { kind: 'etcd-down', forMs: 15_000 } },
      { atMs: 10_000, fault: { kind: 'agent-pause', node: 'n0', forMs: 5_000 } },
    ]);
    safe(r);
    expect(stoppedAt(steps, 'n0', 10_000)).toBeLessThanOrEqual(10_000 + STOP_BOUND_MS);
    expect(r.trace.some((l) => /n0 fence: deadline .* passed/.test(l))).toBe(true);
    expect(firstRival(steps, 'n0', 0)).toBeGreaterThanOrEqual(20_000);
  });

  it('scenario 4: the primary frozen while cut off from etcd: the replicas keep their promises until the fence stopped it', async () => {
    const { r, steps } = await scenario(primaryFrozen);
    safe(r);
    const stop = stoppedAt(steps, 'n0', 12_000);
    expect(stop).toBeLessThanOrEqual(12_000 + STOP_BOUND_MS);
    expect(r.stats.codes.FAILSAFE_PROMISED ?? 0).toBeGreaterThan(0);
    const rival = firstRival(steps, 'n0', 0);
    expect(rival).toBeGreaterThan(stop);
    expect(rival).toBeLessThan(20_000);
  });

  it('scenario 4: failsafe_mode turned off during an outage of the primary stops it at W', async () => {
    const { r, steps } = await scenario([
      ...primaryEtcdCut,
      { atMs: 10_000, fault: { kind: 'failsafe-mode', on: false } },
    ]);
    safe(r);
    // the replicas read the config within a loop and a watch delay, then answer 502
    expect(stoppedAt(steps, 'n0', 10_000)).toBeLessThanOrEqual(10_000 + 800 + STOP_BOUND_MS);
  });

  it(`random faults with failsafe mode: etcd down or cut off for all, node↔node cuts, agent restarts, reboots, members cut off from their peers, stalled watches, failsafe_mode toggled, with the other faults: safe, one leader after healing (${SEEDS.length} seeds)`, async () => {
    const codes: Record<string, number> = {};
    let extended = 0;
    let stepsOnF = 0;
    let failovers = 0;
    for (const seed of SEEDS) {
      const r = await runSimulation(seed, { failsafe: true });
      for (const [c, n] of Object.entries(r.stats.codes)) codes[c] = (codes[c] ?? 0) + n;
      extended += r.stats.failsafe!.extended;
      stepsOnF += r.stats.failsafe!.stepsOnF;
      failovers += r.stats.failovers;
      safe(r);
      if (!r.live && !staleKeyStall(r)) expect.fail(`no single leader after healing\n${report(r)}`);
    }
    if (only === null) {
      // not vacuous: primaries ran on F, members promised, restarted and unlisted members held back
      expect(extended).toBeGreaterThan(500);
      expect(stepsOnF).toBeGreaterThan(1_000);
      expect(failovers).toBeGreaterThan(30);
      for (const code of [
        'FAILSAFE_ACTIVE',
        'FAILSAFE_PROMISED',
        'FAILSAFE_STARTUP_HOLD',
        'FAILSAFE_NOT_LISTED',
      ])
        expect(codes[code] ?? 0, code).toBeGreaterThan(0);
    }
  }, 60_000);

  it('random faults with failsafe and synchronous mode: safe, no acknowledged commit lost (50 seeds)', async () => {
    for (const seed of SEEDS.slice(0, 50)) {
      const r = await runSimulation(seed, {
        failsafe: true,
        sync: { mode: 'on', strict: false, nodeCount: 1 },
      });
      safe(r);
      expect(r.stats.lostAcks).toBe(0);
    }
  }, 60_000);
});

describe('failsafe mutants: the simulator finds each', () => {
  it('has teeth: a partial round that extends F keeps a primary writing while the cut replica leads', async () => {
    const { r } = await scenario(replicaCut, { failsafeOptions: { rounds: partialRounds } });
    expect(r.violations.join('\n')).toMatch(/two writable primaries/);
  });

  it("has teeth: F from the round's end instead of its start outlasts a slow member's promise", async () => {
    // clocks at 1 ∓ 0.1 (within the margin: the unmutated code is safe), n1's answers slow but
    // in time; at `cut` n0's requests stop reaching n1 (the answer in flight still arrives, so
    // the round n1 answered last completes), and n1 is cut off from n2
    const opts: SimOptions = {
      failsafeOptions: {
        clockRates: { n0: 0.9, n1: 1.1, n2: 1 },
        latencyMs: (from) => (from === 'n1' ? 900 : 5),
      },
    };
    let caught = 0;
    for (let cut = 12_000; cut < 13_000; cut += 100) {
      const schedule = slowMemberCut(cut);
      safe((await scenario(schedule, opts)).r);
      const m = await scenario(schedule, {
        ...opts,
        failsafeOptions: { ...opts.failsafeOptions, rounds: (p) => new FromEndRounds(p) },
      });
      if (m.r.violations.length > 0) caught++;
    }
    expect(caught).toBeGreaterThan(0);
  });

  it("has teeth: clock rates outside the margin's assumption (1 ∓ 0.25: 2ρ·ttl > margin) let a promise end before F", async () => {
    // not a mutant of the code: the model's clocks break the safety argument's assumption, and
    // the unmutated code then gives two primaries (the simulator's clocks matter)
    let caught = 0;
    for (let cut = 12_000; cut < 13_000; cut += 100) {
      const schedule = slowMemberCut(cut);
      const { r } = await scenario(schedule, {
        failsafeOptions: { clockRates: { n0: 0.75, n1: 1.25, n2: 1 } },
      });
      if (r.violations.length > 0) caught++;
    }
    expect(caught).toBeGreaterThan(0);
  });

  it('has teeth: a replica that ignores its promise takes the key while the frozen primary still writes', async () => {
    const { r } = await scenario(primaryFrozen, promiseIgnored);
    expect(r.violations.join('\n')).toMatch(/two writable primaries/);
  });

  it('has teeth: a restarted agent without the startup hold leads while the primary it promised still writes', async () => {
    const { r } = await scenario(replicaRestart, { failsafeOptions: { promises: noStartupHold } });
    expect(r.violations.join('\n')).toMatch(/two writable primaries/);
  });

  it('has teeth: an acquire without the failsafe compare lets a member the key left out lead on a stalled watch', async () => {
    // n2's watch stalls right after the switchover n0 → n1 released the key (its view: no
    // leader, the key naming n2); n2 loses etcd for longer than its lease, so the new leader n1
    // rewrites the key without it, then loses etcd itself and runs on F with FS = {n0, n1};
    // n2, back on etcd at 12 s (n1's key gone) but cut off from both, decides on its stalled view
    const schedule: ScheduledFault[] = [
      { atMs: 1_900, fault: { kind: 'watch-stall', node: 'n2', forMs: 30_000, atNoLeader: true } },
      { atMs: 2_000, fault: { kind: 'switchover', to: 'n1' } },
      { atMs: 4_000, fault: { kind: 'etcd-cut', node: 'n2', forMs: 8_000 } },
      { atMs: 4_000, fault: { kind: 'node-cut', from: 'n2', to: 'n1', forMs: 25_000 } },
      { atMs: 4_000, fault: { kind: 'node-cut', from: 'n2', to: 'n0', forMs: 25_000 } },
      { atMs: 9_000, fault: { kind: 'etcd-cut', node: 'n1', forMs: 16_000 } },
    ];
    const prod = await scenario(schedule);
    safe(prod.r);
    const { r } = await scenario(schedule, { handlers: noFailsafeCompare });
    expect(r.violations.join('\n'), report(r)).toMatch(/two writable primaries/);
  });
});

/**
 * P7 (docs/failsafe.md, G1 in its history): a primary on F whose lease expired in the outage
 * gets a new lease when etcd returns; until the key is bound to it, that lease keeps nobody
 * out, so it must neither keep the primary writable nor move its fence. The simulator found
 * the hole (a paused cluster: the primary regains etcd, does not re-acquire its key, and its
 * fence moved with every renewal; a member that could not see it took the key once the
 * promises ended: two writable primaries) as the agent fixed it (`AgentFailsafe.leaseLost`).
 */
describe('failsafe: a lease the key is not bound to never moves the fence (P7)', () => {
  const paused: ScheduledFault[] = [
    { atMs: 2_000, fault: { kind: 'pause', on: true } },
    { atMs: 5_000, fault: { kind: 'etcd-cut', node: 'n0', forMs: 10_000 } },
    { atMs: 17_500, fault: { kind: 'pause', on: false } },
    { atMs: 17_500, fault: { kind: 'agent-pause', node: 'n0', forMs: 5_000 } },
  ];

  it('a paused cluster, the primary back on etcd without its key, then frozen: it stops at F, nobody leads before', async () => {
    const { r, steps } = await scenario(paused);
    safe(r);
    const stop = stoppedAt(steps, 'n0', 15_000);
    expect(stop, 'stopped at F, not carried by the new lease').toBeLessThan(17_500);
    expect(firstRival(steps, 'n0', 0)).toBeGreaterThan(stop);
  });

  it('random seed 709 (etcd cut off from everyone in a paused cluster, then a one-way cut): safe', async () => {
    safe(await runSimulation(709, { failsafe: true }));
  });

  it('has teeth: with the unbound lease counted and the fence moved without the key, two writable primaries', async () => {
    // Two fixes close this hole, each alone: the failsafe glue does not count a lease the key
    // is not bound to (`AgentFailsafe.leaseLost`), and a renewal moves the fence only while the
    // view shows the key ours (`fenceMoves`, fast failover's review item 3). Random seed 709
    // found it first; since a view older than the agent's own leader key write decides nothing
    // (VIEW_BEHIND_OWN_WRITE) that seed no longer reaches it, and the directed scenario carries
    // the teeth.
    const unbound: SimOptions = { failsafeOptions: { unboundLeaseCounts: true } };
    const blindFence: SimOptions = { fenceMoves: (last, _holds, running) => fenceMoves(last, true, running) };
    safe((await scenario(paused, unbound)).r);
    safe((await scenario(paused, blindFence)).r);
    const both = await scenario(paused, { ...unbound, ...blindFence });
    expect(both.r.violations.join('\n')).toMatch(/two writable primaries/);
  });
});
