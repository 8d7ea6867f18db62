import { leaseMarginMs, type MemberName } from '@hapg/core';

/** `POST /failsafe`'s body: Patroni's fields, and hapg's under `hapg` (Patroni ignores it). */
export interface FailsafeRequest {
  readonly name: MemberName;
  readonly conn_url: string;
  readonly api_url: string;
  readonly slots?: Readonly<Record<string, number>>;
  readonly hapg: { readonly to: MemberName; readonly scope: string; readonly ttl: number };
}

/**
 * What a member answered: `accepted` (200, body `Accepted`), `leader` (500 `Running as a
 * leader`: it runs as primary or holds the key), or `failed` (anything else, or nothing in time).
 */
export type FailsafeAnswer = 'accepted' | 'leader' | 'failed';

export interface FailsafeRoundPorts {
  readonly monotonicMs: () => number;
  /** one `POST /failsafe` to `apiUrl`'s host, bounded by `timeoutMs`; never throws */
  readonly post: (apiUrl: string, body: FailsafeRequest, timeoutMs: number) => Promise<FailsafeAnswer>;
}

export interface RoundInput {
  readonly self: MemberName;
  readonly scope: string;
  readonly ttlMs: number;
  /** `failsafe_timeout` */
  readonly timeoutMs: number;
  readonly connUrl: string;
  readonly apiUrl: string;
  /** W = max(lease deadline, F) now: an extension arriving after it came too late (P2) */
  readonly writableUntilMs: () => number | null;
}

export type RoundOutcome =
  | { readonly kind: 'extended'; readonly deadlineMs: number }
  | { readonly kind: 'incomplete'; readonly missing: readonly MemberName[] }
  | { readonly kind: 'refused'; readonly by: MemberName }
  | { readonly kind: 'not-listed' };

/**
 * The primary's side of failsafe mode (docs/failsafe.md P1–P3, K1): the failsafe set FS it
 * must reach, and the failsafe deadline F that rounds of `POST /failsafe` extend. Holds no
 * timer: the agent (and the simulator) decide when a round runs.
 */
export class FailsafeRounds {
  readonly #p: FailsafeRoundPorts;
  /**
   * the newest value etcd is known to hold for the key in this leadership, with its mod
   * revision: our last acknowledged write, or what a view at a revision where we held the
   * leader key showed (only the leader writes the key)
   */
  #acked: { readonly members: ReadonlyMap<MemberName, string>; readonly revision: bigint } | null = null;
  /** members of every write of unknown outcome in this leadership: it may have committed */
  #unknown = new Map<MemberName, string>();
  #deadlineMs: number | null = null;
  #refusedBy: MemberName | null = null;

  constructor(ports: FailsafeRoundPorts) {
    this.#p = ports;
  }

  /** FS: every value etcd may hold for the key since we took the leader key; null: none known. */
  failsafeSet(): ReadonlyMap<MemberName, string> | null {
    if (this.#acked === null && this.#unknown.size === 0) return null;
    return new Map([...this.#unknown, ...(this.#acked?.members ?? [])]);
  }

  /**
   * The key holds `members` at `modRevision`: we wrote it, or a view where we hold the leader
   * key shows it. An older revision than the one known changes nothing (a lagging view).
   */
  keyAt(members: ReadonlyMap<MemberName, string>, modRevision: string): void {
    const revision = BigInt(modRevision);
    if (this.#acked !== null && revision < this.#acked.revision) return;
    this.#acked = { members: new Map(members), revision };
  }

  /** A write of the key whose outcome is unknown: it may have committed, now or later. */
  keyMaybeWritten(members: ReadonlyMap<MemberName, string>): void {
    for (const [n, url] of members) this.#unknown.set(n, url);
  }

  /** F; null: no complete round since the lease was last confirmed. */
  deadlineMs(): number | null {
    return this.#deadlineMs;
  }

  /** The member that answered it leads, as core's `failsafeRefused` text; null: none. */
  refused(): string | null {
    return this.#refusedBy === null
      ? null
      : `failsafe member ${this.#refusedBy} answered that it runs as a leader`;
  }

  /** FS is us alone (P5). */
  alone(self: MemberName): boolean {
    const set = this.failsafeSet();
    return set !== null && set.size === 1 && set.has(self);
  }

  /** etcd confirmed the key under our lease again: the lease alone carries us (P7). */
  leaseConfirmed(): void {
    this.#deadlineMs = null;
    this.#refusedBy = null;
  }

  /** We no longer lead: a new leadership starts from nothing. */
  leadershipEnded(): void {
    this.#acked = null;
    this.#unknown = new Map();
    this.#deadlineMs = null;
    this.#refusedBy = null;
  }

  /**
   * One round (P2, P3): `POST /failsafe` once to every other member of FS, in parallel, each
   * bounded by `failsafe_timeout`. Only a round every member answered extends F, to
   * t0 + ttl − margin, where t0 was read before any request left: each member's promise runs
   * for at least ttl from a later instant on its own clock.
   */
  async round(input: RoundInput): Promise<RoundOutcome> {
    const set = this.failsafeSet();
    if (set === null || !set.has(input.self)) return { kind: 'not-listed' };
    const t0 = this.#p.monotonicMs();
    const others = [...set].filter(([name]) => name !== input.self);
    const answers = await Promise.all(
      others.map(async ([name, apiUrl]) => {
        const body: FailsafeRequest = {
          name: input.self,
          conn_url: input.connUrl,
          api_url: input.apiUrl,
          hapg: { to: name, scope: input.scope, ttl: Math.ceil(input.ttlMs / 1000) },
        };
        return [name, await this.#p.post(apiUrl, body, input.timeoutMs)] as const;
      }),
    );
    const leader = answers.find(([, a]) => a === 'leader');
    if (leader !== undefined) {
      this.#refusedBy = leader[0];
      this.#deadlineMs = null;
      return { kind: 'refused', by: leader[0] };
    }
    const missing = answers.filter(([, a]) => a !== 'accepted').map(([n]) => n);
    if (missing.length > 0) return { kind: 'incomplete', missing };
    // the ttl the members were sent, in whole seconds as sent, never more
    const ttlMs = Math.ceil(input.ttlMs / 1000) * 1000;
    const deadlineMs = t0 + ttlMs - leaseMarginMs(ttlMs);
    const until = input.writableUntilMs();
    if (until === null || this.#p.monotonicMs() >= until) return { kind: 'incomplete', missing: [] }; // too late: we already had to stop (P2)
    this.#deadlineMs = Math.max(this.#deadlineMs ?? deadlineMs, deadlineMs);
    return { kind: 'extended', deadlineMs: this.#deadlineMs };
  }
}
