import { parseDurationMs } from '../config/units.js';
import { restRenewIntervalMs } from '../lease-margin.js';
import { type Lsn, maxLsn } from '../lsn.js';
import type { MemberName } from '../types.js';

/**
 * Whether a standby is really streaming from us, judged from evidence that ages when packets
 * are silently dropped (design rule 2). `pg_stat_replication` keeps a row in state
 * `streaming` until `wal_sender_timeout` ends the connection — a minute by default — so the
 * row alone proves nothing. What ages is the standby's *reply*: its `reply_time` changes
 * with every status message it sends, which it does
 * - at least every `wal_receiver_status_interval` while idle, and
 * - at once whenever it writes WAL we sent it.
 *
 * So a standby counts as streaming while its `reply_time` last changed
 * - within `idleBoundMs` (status interval + sampling slack), and
 * - within `ackBoundMs` when we have sent WAL it has not reported written: under write load a
 *   connected standby answers within a round trip, so a cut shows in well under a second.
 *
 * Time is our monotonic clock at the sample that saw the change, never `reply_time` itself:
 * that is the standby's wall clock, which may be stepped (a value that differs is all we use).
 */
export interface ReplicationSample {
  readonly applicationName: MemberName;
  readonly state: string | null;
  /** `reply_time` exactly as Postgres printed it; compared only for equality */
  readonly replyTime: string | null;
  readonly sentLsn: Lsn | null;
  readonly writeLsn: Lsn | null;
}

export interface EvidenceBounds {
  /** no reply for this long while nothing is outstanding: the standby is gone */
  readonly idleBoundMs: number;
  /** no reply for this long while WAL we sent is unacknowledged: the standby is gone */
  readonly ackBoundMs: number;
}

interface Seen {
  replyTime: string | null;
  /** monotonic ms of the first sample that showed the current `replyTime` */
  changedAtMs: number;
  /** the last sample: WAL sent but not reported written */
  outstanding: boolean;
  state: string | null;
}

export class ReplicaEvidence {
  readonly #seen = new Map<MemberName, Seen>();
  /** the highest `sent_lsn` of the last sample, and whether it moved since the one before */
  #sentMax: Lsn | null = null;
  #sentMoved = false;
  #lastSampleMs: number | null = null;

  /** Records one look at `pg_stat_replication`; standbys absent from it are forgotten. */
  update(rows: readonly ReplicationSample[], nowMs: number): void {
    const sentMax = maxLsn(...rows.map((r) => r.sentLsn));
    this.#sentMoved = sentMax !== this.#sentMax;
    this.#sentMax = sentMax;
    this.#lastSampleMs = nowMs;
    const present = new Set<MemberName>();
    for (const r of rows) {
      present.add(r.applicationName);
      const outstanding = r.sentLsn !== null && (r.writeLsn === null || r.writeLsn < r.sentLsn);
      const prev = this.#seen.get(r.applicationName);
      if (prev === undefined || prev.replyTime !== r.replyTime) {
        // A standby first seen now (a new connection) has not proven anything yet, except by a
        // reply: a fresh row with no reply at all counts from now only if it has replied.
        this.#seen.set(r.applicationName, {
          replyTime: r.replyTime,
          changedAtMs: prev === undefined && r.replyTime === null ? Number.NEGATIVE_INFINITY : nowMs,
          outstanding,
          state: r.state,
        });
      } else {
        prev.outstanding = outstanding;
        prev.state = r.state;
      }
    }
    for (const name of [...this.#seen.keys()]) if (!present.has(name)) this.#seen.delete(name);
  }

  /** Standbys in state `streaming` whose replies are fresh at `nowMs`, sorted by name. */
  streaming(nowMs: number, bounds: EvidenceBounds): MemberName[] {
    const out: MemberName[] = [];
    for (const [name, s] of this.#seen) {
      if (s.state !== 'streaming') continue;
      const boundMs = s.outstanding ? Math.min(bounds.ackBoundMs, bounds.idleBoundMs) : bounds.idleBoundMs;
      if (nowMs - s.changedAtMs <= boundMs) out.push(name);
    }
    return out.sort();
  }

  /**
   * The time of the last sample if it was quiet — nothing we had acknowledged by then could be
   * lost: at least one standby provably streamed, none had WAL we sent outstanding, and the WAL
   * sent had not moved since the sample before (a commit would have moved it: the walsender
   * sends it at once, even into a connection whose packets are dropped) — else null.
   */
  quietSampleMs(bounds: EvidenceBounds): number | null {
    const at = this.#lastSampleMs;
    if (at === null || this.#sentMoved || this.streaming(at, bounds).length === 0) return null;
    for (const s of this.#seen.values()) if (s.outstanding) return null;
    return at;
  }

  /** Milliseconds since each standby's last reply change (diagnostics, metrics). */
  replyAgesMs(nowMs: number): Record<MemberName, number> {
    const out: Record<MemberName, number> = {};
    for (const [name, s] of this.#seen) out[name] = nowMs - s.changedAtMs;
    return out;
  }
}

/**
 * The bounds from the replication timing in force. `statusIntervalS` is the standbys'
 * `wal_receiver_status_interval` (0 disables periodic replies: then only the walsender's
 * keepalive at half of `wal_sender_timeout` makes them answer); `sampleMs` is how often the
 * agent looks at `pg_stat_replication`. An unbounded setting gives an infinite bound: the row
 * then counts as before, and docs/configuration.md says so.
 */
export function evidenceBounds(p: {
  readonly statusIntervalS: number;
  readonly senderTimeoutS: number;
  readonly sampleMs: number;
  readonly ackBoundMs: number;
}): EvidenceBounds {
  const periodMs =
    p.statusIntervalS > 0
      ? p.statusIntervalS * 1000
      : p.senderTimeoutS > 0
        ? (p.senderTimeoutS * 1000) / 2
        : Number.POSITIVE_INFINITY;
  // two samples of slack: the change is seen up to one sample late, and replies jitter
  const idleBoundMs = periodMs + 2 * p.sampleMs;
  return { idleBoundMs, ackBoundMs: p.ackBoundMs + p.sampleMs };
}

/** How often a primary looks at `pg_stat_replication`: a quarter of the isolation grace, 50–250 ms. */
export function replicationSampleMs(primaryIsolationTimeoutMs: number): number {
  return Math.min(250, Math.max(50, Math.floor(primaryIsolationTimeoutMs / 4)));
}

/**
 * The replication timing hapg sets unless the operator's `parameters` say otherwise: standbys
 * report every second, and a connection that stays silent for a lease TTL (at least 5 s) is
 * closed from both ends, so a stale walsender row or a receiver stuck on a dead socket does not
 * outlive a failover by a minute (Postgres's defaults are 10 s, 60 s and 60 s). A standby whose
 * upstream refused it (restarting, just promoted) tries again after 1 s, not 5 s: after a
 * restart of the primary the replicas otherwise missed every commit of the first seconds,
 * and an asynchronous failover in that time lost them all (the faults test measured 253–256).
 */
export function replicationTimingParameters(ttlMs: number): Record<string, string> {
  const silentS = Math.max(5, Math.ceil(ttlMs / 1000));
  return {
    wal_receiver_status_interval: '1s',
    wal_sender_timeout: `${silentS}s`,
    wal_receiver_timeout: `${silentS}s`,
    wal_retrieve_retry_interval: '1s',
  };
}

/** A GUC duration as Postgres reads it: a bare number is in the GUC's own unit. */
function gucDurationMs(
  value: string | number | boolean | undefined,
  unitMs: number,
  fallbackMs: number,
): number {
  if (value === undefined || typeof value === 'boolean') return fallbackMs;
  const text = String(value).trim();
  try {
    return /^\d+(\.\d+)?$/.test(text) ? Math.round(Number(text) * unitMs) : parseDurationMs(text);
  } catch {
    return fallbackMs; // Postgres refuses such a value too; the reload reports it
  }
}

/** The bounds for the parameters this node renders (its standbys get the same dynamic ones). */
export function evidenceBoundsFor(
  parameters: Readonly<Record<string, string | number | boolean>>,
  primaryIsolationTimeoutMs: number,
): EvidenceBounds {
  return evidenceBounds({
    statusIntervalS: gucDurationMs(parameters.wal_receiver_status_interval, 1000, 10_000) / 1000,
    senderTimeoutS: gucDurationMs(parameters.wal_sender_timeout, 1, 60_000) / 1000,
    sampleMs: replicationSampleMs(primaryIsolationTimeoutMs),
    // half the isolation grace: evidence of a cut must be in before the grace runs out
    ackBoundMs: Math.floor(primaryIsolationTimeoutMs / 2),
  });
}

/**
 * How the leader renews its lease. The renewals are what shows it a cut from etcd, and the
 * isolation rule (rule 2) stops writes once they have failed for `primaryIsolationTimeoutMs`
 * with no standby provably streaming — so how often it renews bounds how many writes a cut-off
 * primary acknowledges. That bound only matters while there are writes to lose:
 *
 * - **active** (WAL moving, WAL outstanding, or no standby provably streaming): every quarter
 *   of the grace (at least 100 ms), and a keepalive unanswered that long counts as failing, so
 *   a cut shows within a quarter of the grace (as before issue 15);
 * - **quiet** (`ReplicaEvidence.quietSampleMs`: a standby streams and has every byte we sent, and no
 *   new WAL): every ttl/3, like a replica. A commit ends the quiet at the next sample (a
 *   quarter of the grace at most), the renewal then goes out at once, and the grace counts
 *   from the later of the last acknowledged renewal and `lastQuietAtMs`, the last sample that
 *   was quiet: before it there was nothing a cut could lose (a standby had it all). So a
 *   cut-off primary stops writing as soon after its first commit as it did with renewals
 *   every quarter of the grace, while an idle one costs etcd a keepalive per ttl/3.
 */
export function leaderRenewal(p: {
  readonly ttlMs: number;
  readonly primaryIsolationTimeoutMs: number;
  readonly quiet: boolean;
  /** monotonic ms of the last sample that was quiet; null: none since we lead */
  readonly lastQuietAtMs: number | null;
}): { intervalMs: number; overdueMs: number; failingNotBeforeMs: number | null } {
  const activeMs = Math.max(100, Math.floor(p.primaryIsolationTimeoutMs / 4));
  return p.quiet
    ? {
        intervalMs: Math.max(activeMs, restRenewIntervalMs(p.ttlMs)),
        overdueMs: activeMs,
        failingNotBeforeMs: null,
      }
    : { intervalMs: activeMs, overdueMs: activeMs, failingNotBeforeMs: p.lastQuietAtMs };
}
