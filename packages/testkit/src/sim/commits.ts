import type { ParsedSsn } from '@hapg/core';
import type { PgModel } from './node.js';

/**
 * The highest LSN a primary may acknowledge under `ssn`, given the flush positions of the
 * standbys streaming from it (name → flush LSN); null when no commit can be released yet.
 * Postgres semantics (syncrep.c): `''` releases at once; `*` waits for one connected
 * standby (Postgres picks one by walsender order: we take the furthest, one behaviour it
 * can show, the one that acknowledges most); `FIRST n` the n highest-priority *connected*
 * names, all of them (fewer than n connected: wait); `ANY k` the k-th furthest connected name.
 */
export function releasedLsn(ssn: ParsedSsn, flushByName: ReadonlyMap<string, bigint>): bigint | null {
  switch (ssn.kind) {
    case 'none':
      return MAX_LSN;
    case 'anyStandby':
      return flushByName.size === 0 ? null : [...flushByName.values()].reduce(maxOf);
    case 'first': {
      const connected = ssn.names.filter((n) => flushByName.has(n)).slice(0, ssn.count);
      if (connected.length < ssn.count) return null;
      return connected.map((n) => flushByName.get(n)!).reduce(minOf);
    }
    case 'any': {
      const flushes = [...new Set(ssn.names)]
        .filter((n) => flushByName.has(n))
        .map((n) => flushByName.get(n)!)
        .sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
      return flushes.length < ssn.count ? null : flushes[ssn.count - 1]!;
    }
  }
}

const MAX_LSN = 2n ** 64n - 1n;
const maxOf = (a: bigint, b: bigint) => (a > b ? a : b);
const minOf = (a: bigint, b: bigint) => (a < b ? a : b);

/** An acknowledged commit that a newly writable primary does not hold. */
export interface LostAck {
  readonly timeline: number;
  readonly lsn: bigint;
  /** the primary that acknowledged it */
  readonly ackedBy: string;
  /** where the new primary's WAL leaves that timeline (null: never was on it) */
  readonly heldUpTo: bigint | null;
}

/**
 * Every commit a client saw succeed, reduced to the furthest one per timeline (holding the
 * furthest acknowledged LSN of a timeline means holding all earlier ones on it).
 */
export class AckLedger {
  readonly #furthest = new Map<number, { lsn: bigint; node: string }>();
  count = 0;

  record(node: string, timeline: number, lsn: bigint): void {
    this.count++;
    const prev = this.#furthest.get(timeline);
    if (prev === undefined || lsn > prev.lsn) this.#furthest.set(timeline, { lsn, node });
  }

  /**
   * Acknowledged commits missing from `pg`'s WAL: on each timeline, `pg` holds WAL up to its
   * own LSN if it is still on it, up to its switch point if its history left it, and none if
   * it never was on it. A loss is reported once: the timeline is forgotten afterwards.
   */
  missingFrom(pg: PgModel): LostAck[] {
    const lost: LostAck[] = [];
    for (const [timeline, ack] of this.#furthest) {
      const heldUpTo = heldOn(pg, timeline);
      if (heldUpTo !== null && heldUpTo >= ack.lsn) continue;
      lost.push({ timeline, lsn: ack.lsn, ackedBy: ack.node, heldUpTo });
      this.#furthest.delete(timeline);
    }
    return lost;
  }
}

function heldOn(pg: PgModel, timeline: number): bigint | null {
  if (pg.timeline === timeline) return pg.lsn;
  return pg.history.find(([t]) => t === timeline)?.[1] ?? null;
}
