import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentNode } from '../cluster.js';
import { TestCluster } from '../cluster.js';
import { sleep, waitFor } from '../proc.js';
import { Prng } from '../sim/prng.js';
import type { Ack, Writer } from '../writer.js';
import { FAULTS, type FaultKind, faultSchedule, type InjectedFault } from './faults.js';

/**
 * A seeded chaos run: a 3-node cluster with 3 etcd members, each its own namespaced host, a
 * writer committing on every node all along (each acknowledged commit recorded with its id and
 * the node that acknowledged it) and a reader on every node; one fault after another from the
 * schedule, each healed after its hold, then convergence (one leader, every replica streaming,
 * every agent reading etcd, data identical on every node) before the next. Checked after every fault:
 * - no write acknowledged by two primaries at once (overlapping reigns);
 * - synchronous mode: no acknowledged commit lost;
 * - asynchronous mode: a lost commit was acknowledged within the design's window — at most
 *   `LAG_MS` before the fault or the old primary's last acknowledgement, or up to
 *   `primary_isolation_timeout` + 1 s after the fault (rule 2);
 * - the cluster converged.
 */
export type SyncMode = 'off' | 'on' | 'quorum';

export interface ChaosOptions {
  readonly faults: number;
  readonly seed: number;
  readonly sync: SyncMode;
  readonly ttlS: number;
  /** `fast_failover` on (docs/fast-failover.md; `on` mode only); off (the lease path) if not set, although the product's default is on */
  readonly fastFailover?: boolean;
  /** `synchronous_mode_strict` */
  readonly strict?: boolean;
  /** restrict the schedule to these kinds (default: all) */
  readonly kinds?: readonly FaultKind[];
  readonly log?: (line: string) => void;
}

export interface FaultResult {
  readonly index: number;
  readonly kind: FaultKind;
  readonly target: string;
  readonly detail: string;
  /** when the fault was injected (ISO), to find it in the agents' logs */
  readonly at: string;
  /** ms from the fault to the first commit acknowledged after the primary's outage; 0: no outage */
  readonly writableAgainMs: number;
  /** ms from the fault to convergence after healing; null: did not converge */
  readonly fullHealthMs: number | null;
  readonly lost: number;
  readonly lostOutsideBound: number;
  readonly overlaps: number;
  readonly leaderChanged: boolean;
  readonly readErrors: number;
  /** the error that began the primary's outage, if any (diagnostics) */
  readonly outage: string | null;
  readonly problems: readonly string[];
}

export interface ChaosReport {
  readonly options: ChaosOptions;
  readonly results: readonly FaultResult[];
  readonly acks: number;
  readonly failures: readonly string[];
}

/** commits a standby may not have received yet when its primary stops (LAN lag, a loop) */
export const LAG_MS = 1000;
const ISOLATION_MS = 1000;
const CONVERGE_TIMEOUT_MS = 180_000;

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const rng = new Prng(opts.seed);
  const schedule = faultSchedule(rng, opts.faults, opts.kinds);
  const ttlMs = opts.ttlS * 1000;
  const cluster = await TestCluster.start({
    nodes: 3,
    etcdMembers: 3,
    network: 'netns',
    ttl: opts.ttlS,
    loopWait: 1,
    retryTimeout: Math.max(1, Math.floor((opts.ttlS - 1) / 2)),
    clockControl: true,
    // Each failover leaves a 16 MB copy of the current WAL segment on every node, one per
    // timeline; with the writer's little WAL the segment number seldom advances, so checkpoints
    // remove none of them. 1 GiB filled at the 59th failover (both runs of 2026-12-03 ended in
    // "No space left on device" during a promotion). tmpfs holds only what is written.
    diskMb: Math.max(1024, 512 + 24 * opts.faults),
    ...(opts.sync === 'off'
      ? {}
      : {
          dcs: {
            synchronous_mode: opts.sync === 'on' ? true : 'quorum',
            ...(opts.strict === true ? { synchronous_mode_strict: true } : {}),
            // explicit both ways: a run says which path it measures whatever the default
            fast_failover: opts.fastFailover === true,
          },
        }),
  });
  const results: FaultResult[] = [];
  const failures: string[] = [];
  let writer: Writer | null = null;
  const reader = new Reader(cluster);
  try {
    const first = await cluster.waitHealthy(180_000);
    await cluster.prepareWriterTable(first);
    writer = cluster.writer({ intervalMs: 20, statementTimeoutMs: 5000 });
    writer.start();
    reader.start();
    const seen: Seen = { lost: new Set(), overlaps: 0 };
    for (const [i, kind] of schedule.entries()) {
      const r = await runOne({
        cluster,
        writer,
        reader,
        kind,
        index: i + 1,
        rng,
        ttlMs,
        sync: opts.sync,
        seen,
      });
      results.push(r);
      log(formatResult(r));
      failures.push(...r.problems.map((p) => `#${r.index} ${r.kind} ${r.target}: ${p}`));
      if (r.fullHealthMs === null) break; // a cluster that did not converge makes later faults meaningless
    }
  } finally {
    reader.stop();
    await writer?.stop();
    if (failures.length > 0 || worthLogs(opts, results).length > 0) await keepLogs(cluster, opts, log);
    await cluster.close();
  }
  return { options: opts, results, acks: writer?.acks.length ?? 0, failures };
}

/** etcd faults a healthy primary rides out: they should never stop its writes */
const ETCD_BLIPS: ReadonlySet<FaultKind> = new Set(['etcd-member-loss', 'etcd-leader-change', 'slow-etcd']);
/** a stall this long in an etcd blip is worth its logs (the writer itself waits up to a second) */
const BLIP_STALL_MS = 2000;

/**
 * Faults whose run passes, yet whose logs are worth keeping: fast failovers that took longer
 * than the lease (strict mode's 15.3 s at seed 107 left none), and etcd blips that stopped
 * writes (9.1 s at seed 103, 13.7 s at its rerun: none either).
 */
function worthLogs(opts: ChaosOptions, results: readonly FaultResult[]): FaultResult[] {
  return results.filter(
    (r) =>
      (opts.fastFailover === true &&
        FAULTS[r.kind].hold === 'failover' &&
        r.writableAgainMs > opts.ttlS * 1000) ||
      (ETCD_BLIPS.has(r.kind) && r.writableAgainMs > BLIP_STALL_MS),
  );
}

/**
 * A failed (or {@link worthLogs}) run's agent logs and what each agent's REST API says, kept past the cluster's removal: a chaos
 * failure is seldom reproduced by its seed alone (timing differs), so its evidence must survive.
 */
async function keepLogs(cluster: TestCluster, opts: ChaosOptions, log: (l: string) => void): Promise<void> {
  const dir = join(tmpdir(), `hapg-chaos-seed${opts.seed}-${new Date().toISOString().replace(/[:.]/g, '')}`);
  try {
    await mkdir(dir, { recursive: true });
    const base = cluster.baseDir;
    for (const f of await readdir(base)) {
      if (f.endsWith('.log') || f.endsWith('.yaml')) await copyFile(join(base, f), join(dir, f));
    }
    const state: Record<string, unknown> = {};
    for (const n of cluster.nodes) {
      // its Postgres log, fence log and agent state (`<node>/data.log`, ...)
      for (const f of ['data.log', 'data.fence.log', 'data.hapg-state.json']) {
        await copyFile(join(base, n.name, f), join(dir, `${n.name}.${f}`)).catch(() => {});
      }
      state[n.name] = {
        patroni: await cluster.api(n, '/patroni'),
        cluster: await cluster.api(n, '/cluster'),
      };
    }
    await writeFile(join(dir, 'rest.json'), `${JSON.stringify(state, null, 2)}\n`);
    // what each etcd member said (warnings: lost peers, slow applies), since its last start
    for (const m of cluster.etcd.members) {
      await writeFile(join(dir, `${m.name}.etcd.log`), m.process()?.output() ?? '(not running)\n');
    }
    log(`chaos: kept the agents' logs and their /patroni and /cluster answers in ${dir}`);
  } catch (e) {
    log(`chaos: could not keep the logs: ${String(e)}`);
  }
}

interface OneFault {
  readonly cluster: TestCluster;
  readonly writer: Writer;
  readonly reader: Reader;
  readonly kind: FaultKind;
  readonly index: number;
  readonly rng: Prng;
  readonly ttlMs: number;
  readonly sync: SyncMode;
  readonly seen: Seen;
}

/** what earlier faults already found (each fault reports only what it added) */
interface Seen {
  readonly lost: Set<number>;
  overlaps: number;
}

async function runOne(f: OneFault): Promise<FaultResult> {
  const { cluster, writer, kind, ttlMs } = f;
  const spec = FAULTS[kind];
  const primary = await healthy(cluster, f.sync);
  const replicas = cluster.nodes.filter((n) => n !== primary);
  await sleep(500 + f.rng.int(0, 1000)); // a random phase against keepalives and loops
  const readErrorsBefore = f.reader.errors;
  const t0 = Date.now();
  const injected = await spec.inject({ cluster, primary, replicas, rng: f.rng, ttlMs });
  const problems: string[] = [];
  try {
    await hold(spec.hold, writer, primary, t0, ttlMs);
  } catch (e) {
    problems.push(`hold: ${String(e)}`);
  }
  await healQuietly(injected, problems);
  let fullHealthMs: number | null = null;
  let now: AgentNode | null = null;
  try {
    now = await converge(cluster, writer, f.sync);
    fullHealthMs = Date.now() - t0;
  } catch (e) {
    problems.push(`did not converge: ${String(e)}`);
  }
  const check = now ? await lostAndOverlaps(cluster, writer, now, f.seen) : null;
  const lost = check?.lost ?? [];
  const outside = f.sync === 'off' ? lost.filter((a) => !withinBound(a, t0, primary, writer.acks)) : lost;
  if (check && check.overlaps > 0)
    problems.push(`${check.overlaps} overlapping reigns: two primaries acknowledged writes`);
  if (f.sync !== 'off' && lost.length > 0)
    problems.push(`${lost.length} acknowledged commits lost in synchronous mode`);
  if (f.sync === 'off' && outside.length > 0)
    problems.push(
      `${outside.length} lost commits outside the design's window, e.g. ${JSON.stringify(outside[0])}`,
    );
  return {
    index: f.index,
    kind,
    target: injected.target,
    detail: injected.detail,
    at: new Date(t0).toISOString(),
    writableAgainMs: writableAgainMs(writer, primary, t0),
    fullHealthMs,
    lost: lost.length,
    lostOutsideBound: outside.length,
    overlaps: check?.overlaps ?? 0,
    leaderChanged: now !== null && now !== primary,
    readErrors: f.reader.errors - readErrorsBefore,
    outage: writer.errorTimes.find((e) => e.atMs >= t0 && e.target === primary.name)?.message ?? null,
    problems,
  };
}

async function healthy(cluster: TestCluster, sync: SyncMode): Promise<AgentNode> {
  const primary = await cluster.waitHealthy(CONVERGE_TIMEOUT_MS);
  if (sync === 'off') return primary;
  return (await cluster.waitSync(sync, sync === 'on' ? 1 : 2, CONVERGE_TIMEOUT_MS)).primary;
}

async function hold(
  rule: 'failover' | 'writable' | 'hold',
  writer: Writer,
  old: AgentNode,
  t0: number,
  ttlMs: number,
) {
  if (rule === 'hold') {
    await sleep(ttlMs + 2000);
    return;
  }
  const limitMs = 3 * ttlMs + 30_000;
  await waitFor(
    () =>
      writer.acks.some(
        (a) => a.atMs > t0 && (rule === 'failover' ? a.target !== old.name : afterOutage(writer, old, t0, a)),
      ),
    {
      timeoutMs: limitMs,
      intervalMs: 50,
      what: rule === 'failover' ? 'a write on a new primary' : 'a write after the outage',
    },
  );
}

async function healQuietly(injected: InjectedFault, problems: string[]): Promise<void> {
  try {
    await injected.heal();
  } catch (e) {
    problems.push(`heal: ${String(e)}`);
  }
}

/** The first error the old primary's writer loop saw after the fault: its outage began. */
function outageStart(writer: Writer, old: AgentNode, t0: number): number | null {
  return writer.errorTimes.find((e) => e.atMs >= t0 && e.target === old.name)?.atMs ?? null;
}

function afterOutage(writer: Writer, old: AgentNode, t0: number, a: Ack): boolean {
  const start = outageStart(writer, old, t0);
  return start !== null && a.atMs > start;
}

function writableAgainMs(writer: Writer, old: AgentNode, t0: number): number {
  const start = outageStart(writer, old, t0);
  if (start === null) return 0;
  const ack = writer.acks.find((a) => a.atMs > start);
  return ack === undefined ? Number.NaN : ack.atMs - t0;
}

/**
 * One leader, every replica streaming (and the sync standbys in place), then the data at rest:
 * the writer paused, every replica replayed up to the primary's flush position, and the
 * writer's table identical (count and sum of ids) on every node.
 */
async function converge(cluster: TestCluster, writer: Writer, sync: SyncMode): Promise<AgentNode> {
  await healthy(cluster, sync);
  // every agent reads etcd again: a fault must not leave a stuck etcd connection to the next
  await waitFor(
    async () => {
      const nowS = Date.now() / 1000;
      for (const n of cluster.nodes) {
        const seen = ((await cluster.patroni(n)) as { dcs_last_seen?: number }).dcs_last_seen ?? 0;
        if (seen < nowS - 3) return false;
      }
      return true;
    },
    { timeoutMs: 60_000, intervalMs: 200, what: 'every agent reading etcd' },
  );
  // etcd whole again: every member linked to both others. A member cut off comes back on its
  // peers' TCP backoff, seconds after the heal; a second etcd fault before then took quorum
  // (seed 111 #41: a member lost 13 s after another healed cost the primary its lease).
  const members = cluster.etcd.members;
  await waitFor(
    async () => {
      for (const m of members) if ((await m.activePeers()) !== members.length - 1) return false;
      return true;
    },
    { timeoutMs: 60_000, intervalMs: 200, what: 'every etcd member linked to every other' },
  );
  // The primary again, now that every agent has a fresh view: a primary that was just cut off
  // can still answer /primary alone for a moment before the new one is promoted (fast failover
  // deposes it while its lease lives); the first look then names a node about to demote.
  const primary = await healthy(cluster, sync);
  await writer.pause();
  try {
    const rows = await cluster.sql<{ lsn: string }>(
      primary,
      'SELECT pg_current_wal_flush_lsn()::text AS lsn',
    );
    const lsn = rows[0]!.lsn;
    for (const n of cluster.nodes) {
      if (n === primary) continue;
      await waitFor(
        async () =>
          (
            await cluster.sql<{ ok: boolean }>(n, 'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [
              lsn,
            ])
          )[0]?.ok === true,
        { timeoutMs: 30_000, intervalMs: 100, what: `${n.name} to replay up to ${lsn}` },
      );
    }
    const digest = async (n: AgentNode) =>
      JSON.stringify(
        (
          await cluster.sql(n, 'SELECT count(*)::text AS n, coalesce(sum(id), 0)::text AS s FROM hapg_writer')
        )[0],
      );
    const want = await digest(primary);
    for (const n of cluster.nodes) {
      const got = await digest(n);
      if (got !== want) throw new Error(`${n.name} has ${got}, the primary ${primary.name} ${want}`);
    }
    return primary;
  } finally {
    writer.resume();
  }
}

async function lostAndOverlaps(
  cluster: TestCluster,
  writer: Writer,
  primary: AgentNode,
  seen: Seen,
): Promise<{ lost: Ack[]; overlaps: number }> {
  const r = await cluster.checkAcks(writer.acks, primary);
  const fresh = r.lost.filter((id) => !seen.lost.has(id));
  for (const id of fresh) seen.lost.add(id);
  const byId = new Map(writer.acks.map((a) => [a.id, a]));
  const overlaps = r.overlaps.length - seen.overlaps;
  seen.overlaps = r.overlaps.length;
  return { lost: fresh.map((id) => byId.get(id)!), overlaps };
}

/** The asynchronous window (see the module comment). */
export function withinBound(
  a: Ack,
  t0: number,
  old: { readonly name: string },
  acks: readonly Ack[],
): boolean {
  if (a.atMs >= t0 - LAG_MS && a.atMs <= t0 + ISOLATION_MS + 1000) return true;
  const lastOld = Math.max(
    ...acks.filter((x) => x.target === old.name && x.timeline === a.timeline).map((x) => x.atMs),
  );
  return a.target === old.name && a.atMs >= lastOld - LAG_MS;
}

function formatResult(r: FaultResult): string {
  const health = r.fullHealthMs === null ? 'NOT CONVERGED' : `healthy at ${r.fullHealthMs} ms`;
  const problems = r.problems.length > 0 ? `  !! ${r.problems.join('; ')}` : '';
  // an outage where the fault should cost none is worth a look: say what the writer saw
  const outage = FAULTS[r.kind].hold === 'hold' && r.outage !== null ? ` (outage: ${r.outage})` : '';
  return `#${r.index} ${r.at} ${r.kind} ${r.target} (${r.detail}): writable again ${r.writableAgainMs} ms, ${health}, lost ${r.lost}, overlaps ${r.overlaps}${r.leaderChanged ? ', new leader' : ''}${outage}${problems}`;
}

/** `SELECT 1` on every node every 250 ms; counts the failures (read availability). */
class Reader {
  errors = 0;
  reads = 0;
  #on = false;
  readonly #cluster: TestCluster;

  constructor(cluster: TestCluster) {
    this.#cluster = cluster;
  }

  start(): void {
    this.#on = true;
    void (async () => {
      while (this.#on) {
        await Promise.all(
          this.#cluster.nodes.map(async (n) => {
            try {
              await this.#cluster.sql(n, 'SELECT count(*) FROM hapg_writer', [], { timeoutMs: 1000 });
              this.reads++;
            } catch {
              this.errors++;
            }
          }),
        );
        await sleep(250);
      }
    })();
  }

  stop(): void {
    this.#on = false;
  }
}

/** The summary table: one row per fault kind. */
export function chaosTable(report: ChaosReport): string {
  const rows: string[][] = [
    [
      'fault',
      'n',
      'writable again ms (min/med/p99/max)',
      'lost',
      'lost outside bound',
      'two primaries',
      'full health ms (med/max)',
      'leader changed',
    ],
  ];
  const kinds = [...new Set(report.results.map((r) => r.kind))];
  for (const k of kinds) {
    const rs = report.results.filter((r) => r.kind === k);
    const w = rs.map((r) => r.writableAgainMs);
    const h = rs.map((r) => r.fullHealthMs ?? Number.NaN);
    rows.push([
      k,
      String(rs.length),
      quantiles(w, [0, 0.5, 0.99, 1]),
      String(sum(rs.map((r) => r.lost))),
      String(sum(rs.map((r) => r.lostOutsideBound))),
      String(sum(rs.map((r) => r.overlaps))),
      quantiles(h, [0.5, 1]),
      String(rs.filter((r) => r.leaderChanged).length),
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r.map((v, c) => v.padEnd(widths[c]!)).join(' | ')} |`;
  return [
    line(rows[0]!),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.slice(1).map(line),
  ].join('\n');
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

function quantiles(xs: readonly number[], qs: readonly number[]): string {
  // NaN: no write after the outage / did not converge — counted apart, never sorted in
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  const missing = xs.length - s.length;
  const text = qs.map((q) => String(s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? '-')).join(' / ');
  return missing > 0 ? `${text} (+${missing} never)` : text;
}
