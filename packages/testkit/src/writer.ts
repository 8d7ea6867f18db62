import pg from 'pg';

/**
 * A writer that records every acknowledged commit, and a checker that finds
 * acknowledged commits missing on the surviving primary and any time two
 * nodes accepted writes at once. Used by the scenario tests and benchmarks.
 */
export interface WriteTarget {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

export interface Ack {
  readonly id: number;
  readonly target: string;
  /** timeline of the server that acknowledged (from pg_control_checkpoint is stale; we use the WAL file name) */
  readonly timeline: number;
  readonly lsn: string;
  readonly atMs: number;
}

export interface WriterOptions {
  readonly targets: readonly WriteTarget[];
  readonly user: string;
  readonly password?: string;
  readonly database?: string;
  /** pause between two inserts on one target */
  readonly intervalMs?: number;
  readonly connectTimeoutMs?: number;
  readonly statementTimeoutMs?: number;
  readonly table?: string;
  /** first id to insert; default: derived from the wall clock, so successive writers never collide */
  readonly firstId?: number;
}

const DEFAULT_TABLE = 'hapg_writer';

/** Creates the table on a primary (idempotent). */
export async function prepareWriterTable(
  target: WriteTarget,
  user: string,
  password?: string,
  table = DEFAULT_TABLE,
) {
  const c = new pg.Client({ host: target.host, port: target.port, user, password, database: 'postgres' });
  c.on('error', () => {});
  await c.connect();
  try {
    await c.query(
      `CREATE TABLE IF NOT EXISTS ${table} (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`,
    );
  } finally {
    await c.end().catch(() => {});
  }
}

/**
 * Writes to every target in parallel (as a client that does not know who the
 * primary is would), each insert carrying a fresh id from one sequence.
 * Every insert that returned success is an acknowledged commit.
 */
export class Writer {
  readonly acks: Ack[] = [];
  /**
   * ids whose INSERT returned success with Postgres's warning "canceling wait for synchronous
   * replication": committed locally but never confirmed by a standby. Not acknowledged in the
   * synchronous-mode sense (a client must treat that warning as a failure), so not in `acks`.
   */
  readonly unconfirmed: number[] = [];
  readonly errors = new Map<string, number>();
  /** wall-clock ms of every failed attempt, per target (when the writer first saw an outage) */
  readonly errorTimes: { readonly target: string; readonly atMs: number; readonly message: string }[] = [];
  /** ids unique across writers on one table (a later writer must not collide with an earlier one's rows) */
  #nextId: number;
  #stopped = false;
  #paused = false;
  /** loops between sending an INSERT and recording its outcome */
  #inFlight = 0;
  #loops: Promise<void>[] = [];
  readonly #opts: Required<Omit<WriterOptions, 'password' | 'firstId'>> & { password?: string };

  constructor(opts: WriterOptions) {
    this.#nextId = opts.firstId ?? Date.now() * 1000;
    this.#opts = {
      intervalMs: 10,
      connectTimeoutMs: 1000,
      statementTimeoutMs: 2000,
      database: 'postgres',
      table: DEFAULT_TABLE,
      ...opts,
    };
  }

  start(): void {
    this.#loops = this.#opts.targets.map((t) => this.#loop(t));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#loops);
  }

  /**
   * Holds every loop before its next INSERT and resolves once none is in flight (bounded by
   * the statement timeout), so a check can compare the nodes' data at rest.
   */
  async pause(): Promise<void> {
    this.#paused = true;
    while (this.#inFlight > 0) await new Promise((r) => setTimeout(r, 10));
  }

  resume(): void {
    this.#paused = false;
  }

  /** acks per target, for diagnostics */
  countsByTarget(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const a of this.acks) out[a.target] = (out[a.target] ?? 0) + 1;
    return out;
  }

  async #loop(target: WriteTarget): Promise<void> {
    const o = this.#opts;
    let client: pg.Client | null = null;
    let syncWaitCancelled = false;
    while (!this.#stopped) {
      if (this.#paused) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      this.#inFlight++;
      try {
        if (client === null) {
          client = new pg.Client({
            host: target.host,
            port: target.port,
            user: o.user,
            password: o.password,
            database: o.database,
            connectionTimeoutMillis: o.connectTimeoutMs,
            statement_timeout: o.statementTimeoutMs,
            query_timeout: o.statementTimeoutMs + 500,
          });
          client.on('error', () => {});
          client.on('notice', (n) => {
            if (/wait for synchronous replication/.test(n.message ?? '')) syncWaitCancelled = true;
          });
          await client.connect();
        }
        const id = this.#nextId++;
        syncWaitCancelled = false;
        const r = await client.query(
          `INSERT INTO ${o.table} (id) VALUES ($1)
           RETURNING pg_current_wal_flush_lsn()::text AS lsn,
                     ('x' || substr(pg_walfile_name(pg_current_wal_flush_lsn()), 1, 8))::bit(32)::int AS tl`,
          [id],
        );
        const row = r.rows[0] as { lsn: string; tl: number };
        if (syncWaitCancelled) {
          this.unconfirmed.push(id);
          continue;
        }
        this.acks.push({ id, target: target.name, timeline: row.tl, lsn: row.lsn, atMs: Date.now() });
      } catch (e) {
        this.errors.set(target.name, (this.errors.get(target.name) ?? 0) + 1);
        this.errorTimes.push({
          target: target.name,
          atMs: Date.now(),
          message: String((e as Error).message ?? e),
        });
        const c = client;
        client = null;
        if (c) await c.end().catch(() => {});
      } finally {
        this.#inFlight--;
      }
      await new Promise((r) => setTimeout(r, o.intervalMs));
    }
    if (client) await client.end().catch(() => {});
  }
}

export interface CheckResult {
  /** acknowledged ids not present on the checked primary */
  readonly lost: number[];
  /** pairs of (target, timeline) reigns whose acknowledgement intervals overlap in time */
  readonly overlaps: { a: string; b: string; fromMs: number; toMs: number }[];
}

/** Reigns: the [first, last] ack time of each (target, timeline). Two reigns that overlap = two writable primaries. */
export function findOverlaps(acks: readonly Ack[]): CheckResult['overlaps'] {
  const reigns = new Map<string, { first: number; last: number }>();
  for (const a of acks) {
    const key = `${a.target}@tl${a.timeline}`;
    const r = reigns.get(key);
    if (r) {
      r.first = Math.min(r.first, a.atMs);
      r.last = Math.max(r.last, a.atMs);
    } else reigns.set(key, { first: a.atMs, last: a.atMs });
  }
  const list = [...reigns.entries()];
  const out: CheckResult['overlaps'] = [];
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; j++) {
      const [ka, ra] = list[i]!;
      const [kb, rb] = list[j]!;
      const from = Math.max(ra.first, rb.first);
      const to = Math.min(ra.last, rb.last);
      if (from <= to) out.push({ a: ka, b: kb, fromMs: from, toMs: to });
    }
  }
  return out;
}

/** Reads the ids on `primary` and reports acknowledged ones that are missing, plus overlapping reigns. */
export async function checkAcks(
  acks: readonly Ack[],
  primary: WriteTarget,
  user: string,
  password?: string,
  table = DEFAULT_TABLE,
): Promise<CheckResult> {
  // Only acks recorded before the SELECT must be visible to it: a writer still running adds
  // acks meanwhile (the chaos run found that race reported as "1 lost").
  const before = acks.slice();
  const c = new pg.Client({ host: primary.host, port: primary.port, user, password, database: 'postgres' });
  c.on('error', () => {});
  await c.connect();
  try {
    const r = await c.query(`SELECT id FROM ${table}`);
    const present = new Set<number>(r.rows.map((row: { id: string }) => Number(row.id)));
    const lost = before.filter((a) => !present.has(a.id)).map((a) => a.id);
    return { lost, overlaps: findOverlaps(before) };
  } finally {
    await c.end().catch(() => {});
  }
}

/**
 * The write gap of a leader change: ms from the last commit acknowledged by `from` to the
 * first acknowledged by `to` (negative would mean both accepted writes at the same time).
 */
export function writeGapMs(acks: readonly Ack[], from: string, to: string): number {
  const lastFrom = Math.max(...acks.filter((a) => a.target === from).map((a) => a.atMs));
  const firstTo = Math.min(...acks.filter((a) => a.target === to).map((a) => a.atMs));
  return firstTo - lastFrom;
}
