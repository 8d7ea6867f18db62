/**
 * What this client knows of each etcd member's reachability: one home for the per-host
 * breakers (unary calls), the pick of the member that carries the lease keepalive stream, and
 * when a member that went away is probed again.
 *
 * Why it exists: a member cut off by dropped packets answers nothing, and every call sent to it
 * waits out its whole deadline. etcd3 picks a random member per call and per stream, and it
 * counted a stream that merely *opened* as a success, so a keepalive stream that timed out on
 * the cut member went back to it one time in three, and a renewal spell could fail there until
 * the leader's lease deadline (a 9.1 s write stall in the chaos run of 2026-12-03; see
 * packages/dcs/test/member-cut.it.test.ts). Its breaker also let real calls find out whether
 * a member was back, each one waiting out its deadline. Here a member that failed is *away*:
 * no call or new stream goes to it while another member is not away, and it comes back only
 * when a probe (a cheap call of its own, with a short deadline) is answered. Probes come after
 * `awayMs`, doubled each time one fails, up to `maxAwayMs`.
 *
 * A healthy member can look away too: etcd forwards keepalives to its raft leader, so while
 * the leader is lost every member lets them time out. That member is then back at its first
 * probe after the election (1 s), and meanwhile nothing else would have answered either.
 */

export interface HostHealthOptions {
  /** consecutive failed calls that make a member away (a soft failure: a deadline, a reset) */
  readonly failuresToOpen: number;
  /** the first probe of a member gone away comes this long after; doubled after each failed one */
  readonly awayMs: number;
  readonly maxAwayMs: number;
  readonly nowMs: () => number;
  /** told each time a member goes (or stays) away, with when to probe it: `probeInMs` from now */
  readonly onAway?: (host: string, e: { probeInMs: number; how: HostFailure; again: boolean }) => void;
  /** told when a member away answers again, and for how long it was away */
  readonly onBack?: (host: string, e: { awayMs: number }) => void;
}

/**
 * `hard`: the member surely did not answer — a refused connection, a lease keepalive
 * unanswered within its own deadline (a quarter of the ttl), a failed probe. `soft`: one failed
 * call, which a busy member may also cause; `failuresToOpen` of them in a row count.
 */
export type HostFailure = 'soft' | 'hard';

interface HostState {
  failures: number;
  /** null while the member is not away */
  away: { sinceMs: number; probeAtMs: number; nextAwayMs: number } | null;
  /** when it last answered; -Infinity: never */
  lastOkMs: number;
}

export class HostHealth {
  readonly #o: HostHealthOptions;
  readonly #hosts = new Map<string, HostState>();

  constructor(hosts: readonly string[], opts: HostHealthOptions) {
    this.#o = opts;
    for (const h of hosts) this.#hosts.set(h, { failures: 0, away: null, lastOkMs: -Infinity });
  }

  succeeded(host: string): void {
    const s = this.#state(host);
    const now = this.#o.nowMs();
    const away = s.away;
    s.failures = 0;
    s.away = null;
    s.lastOkMs = now;
    if (away !== null) this.#o.onBack?.(host, { awayMs: now - away.sinceMs });
  }

  /** Records a failure; returns true when the member is away after it. */
  failed(host: string, how: HostFailure): boolean {
    const s = this.#state(host);
    const now = this.#o.nowMs();
    if (s.away !== null) {
      // a failed probe, or a call let through because every member was away
      const waitMs = s.away.nextAwayMs;
      s.away = { sinceMs: s.away.sinceMs, probeAtMs: now + waitMs, nextAwayMs: this.#double(waitMs) };
      this.#o.onAway?.(host, { probeInMs: waitMs, how, again: true });
      return true;
    }
    s.failures++;
    if (how === 'soft' && s.failures < this.#o.failuresToOpen) return false;
    s.failures = 0;
    s.away = { sinceMs: now, probeAtMs: now + this.#o.awayMs, nextAwayMs: this.#double(this.#o.awayMs) };
    this.#o.onAway?.(host, { probeInMs: this.#o.awayMs, how, again: false });
    return true;
  }

  isAway(host: string): boolean {
    return this.#state(host).away !== null;
  }

  /**
   * A call must not go to `host`: it is away and some member is not. With every member away a
   * call still goes somewhere (etcd3 tries them in turn), so an etcd-wide outage ends for us
   * with etcd's recovery, not with our next probe.
   */
  skip(host: string): boolean {
    return this.isAway(host) && [...this.#hosts.values()].some((s) => s.away === null);
  }

  /** The away members whose probe is due, and in how many ms the next one is (null: none away). */
  probes(): { due: string[]; nextInMs: number | null } {
    const now = this.#o.nowMs();
    const due: string[] = [];
    let next: number | null = null;
    for (const [h, s] of this.#hosts) {
      if (s.away === null) continue;
      if (s.away.probeAtMs <= now) due.push(h);
      else next = Math.min(next ?? Infinity, s.away.probeAtMs - now);
    }
    return { due, nextInMs: next };
  }

  /**
   * Every member, best first: `prefer` (the member a stream was on) while it is not away, then
   * the members not away, then the away ones — each group the one that answered last first.
   * With every member away a stream still has somewhere to go: the member that answered last
   * is the likeliest to be back (say, one whose keepalives only waited out an etcd election),
   * not the one probed next (which may be the member that was killed).
   */
  ranked(prefer: string | null = null): string[] {
    const entries = [...this.#hosts.entries()];
    const lastOkFirst = (x: HostState, y: HostState) => y.lastOkMs - x.lastOkMs;
    const up = entries.filter(([, s]) => s.away === null);
    const away = entries.filter(([, s]) => s.away !== null);
    up.sort(([a, x], [b, y]) => Number(b === prefer) - Number(a === prefer) || lastOkFirst(x, y));
    away.sort(([, x], [, y]) => lastOkFirst(x, y));
    return [...up, ...away].map(([h]) => h);
  }

  #double(ms: number): number {
    return Math.min(this.#o.maxAwayMs, ms * 2);
  }

  #state(host: string): HostState {
    const s = this.#hosts.get(host);
    if (s === undefined) throw new Error(`unknown etcd host ${host}`);
    return s;
  }
}

/**
 * Probes each away member when its probe is due (`probe` resolves: it answered; rejects: it
 * did not) and records the outcome; `kick` after anything that may have made a probe due
 * sooner. One probe per member at a time; the timer never keeps the process alive.
 */
export function probeAwayHosts(
  health: HostHealth,
  probe: (host: string) => Promise<void>,
): { kick(): void; stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const inFlight = new Set<string>();
  const arm = (ms: number) => {
    clearTimeout(timer);
    timer = setTimeout(run, ms);
    timer.unref();
  };
  const run = () => {
    timer = undefined;
    if (stopped) return;
    const { due, nextInMs } = health.probes();
    for (const h of due) {
      if (inFlight.has(h)) continue;
      inFlight.add(h);
      probe(h)
        .then(
          () => health.succeeded(h),
          () => health.failed(h, 'hard'),
        )
        .finally(() => {
          inFlight.delete(h);
          if (!stopped) arm(0);
        });
    }
    if (nextInMs !== null) arm(nextInMs);
  };
  return {
    kick: () => {
      if (!stopped) arm(0);
    },
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
