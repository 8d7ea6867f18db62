import {
  type ClusterView,
  errorText,
  fastFailoverReadiness,
  formatLsn,
  keyHasSyncStandbysFor,
  type Lsn,
} from '@hapg/core';
import { clusterConfigOf } from '../../actions/cluster-config.js';
import type { Io } from '../../io.js';
import { type Column, type OutputFormat, renderData, renderTable } from '../../output/index.js';
import { type ListRow, lagInMb, listRows, syncModeOf } from './rows.js';

/** What a render produces: the frame for stdout and warnings for stderr. */
export interface Rendered {
  readonly out: string;
  readonly err: string;
}

/** `patronictl list -f json` shape, with snake_case keys. */
export interface ListJsonRow {
  member: string;
  host: string;
  role: string;
  state: string;
  tl: number | null;
  /** null for the leader and when unknown */
  lag_in_mb: number | null;
  pending_restart: boolean;
  tags: Readonly<Record<string, unknown>>;
  reason?: string;
  /** with `-e` only */
  receive_lsn?: string | null;
  receive_lag_in_mb?: number | null;
  replay_lsn?: string | null;
  replay_lag_in_mb?: number | null;
}

/** What `-e/--extended` adds, and `--watch` does not change. */
export interface ListOptions {
  readonly extended: boolean;
}

const NOT_EXTENDED: ListOptions = { extended: false };

const mbOrNull = (bytes: bigint | null): number | null => (bytes === null ? null : lagInMb(bytes));
const lsnOrNull = (lsn: Lsn | null): string | null => (lsn === null ? null : formatLsn(lsn));

export function toJsonRow(r: ListRow, opts: ListOptions = NOT_EXTENDED): ListJsonRow {
  const extended = opts.extended
    ? {
        receive_lsn: lsnOrNull(r.receiveLsn),
        receive_lag_in_mb: mbOrNull(r.receiveLagBytes),
        replay_lsn: lsnOrNull(r.replayLsn),
        replay_lag_in_mb: mbOrNull(r.replayLagBytes),
      }
    : {};
  return {
    member: r.member,
    host: r.host,
    role: r.role,
    state: r.state,
    tl: r.tl,
    lag_in_mb: r.lagBytes === null ? null : lagInMb(r.lagBytes),
    pending_restart: r.pendingRestart,
    tags: r.tags,
    ...(r.reason !== null ? { reason: r.reason } : {}),
    ...extended,
  };
}

/** `nofailover: true, zone: a` — one line per cell keeps the table aligned. */
export function formatTags(tags: Readonly<Record<string, unknown>>): string {
  return Object.keys(tags)
    .sort()
    .map((k) => {
      const v = tags[k];
      return `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`;
    })
    .join(', ');
}

function lagCell(r: ListRow): string {
  if (r.lagBytes !== null) return String(lagInMb(r.lagBytes));
  return r.lagUnknown ? 'unknown' : '';
}

function lagMbCell(bytes: bigint | null, isLeader: boolean): string {
  if (bytes !== null) return String(lagInMb(bytes));
  return isLeader ? '' : 'unknown';
}

/**
 * The table; Pending restart, Tags and Reason appear only when some member has
 * one (as patronictl). `-e` adds Receive LSN/Lag and Replay LSN/Lag (lags in MB).
 */
export function renderListTable(
  view: ClusterView,
  rows: readonly ListRow[],
  opts: ListOptions = NOT_EXTENDED,
): string {
  const columns: Column[] = [
    { header: 'Member' },
    { header: 'Host' },
    { header: 'Role' },
    { header: 'State' },
    { header: 'TL', align: 'right' },
    { header: 'Lag in MB', align: 'right' },
  ];
  const cells = rows.map((r) => [
    r.member,
    r.host,
    r.role,
    r.state,
    r.tl === null ? '' : String(r.tl),
    lagCell(r),
  ]);
  const isLeader = (r: ListRow) => r.member === view.leader?.name;
  const extended = opts.extended;
  const optional: [Column, (r: ListRow) => string, boolean][] = [
    [{ header: 'Receive LSN', align: 'right' }, (r) => lsnOrNull(r.receiveLsn) ?? '', extended],
    [{ header: 'Receive Lag', align: 'right' }, (r) => lagMbCell(r.receiveLagBytes, isLeader(r)), extended],
    [{ header: 'Replay LSN', align: 'right' }, (r) => lsnOrNull(r.replayLsn) ?? '', extended],
    [{ header: 'Replay Lag', align: 'right' }, (r) => lagMbCell(r.replayLagBytes, isLeader(r)), extended],
    [{ header: 'Pending restart' }, (r) => (r.pendingRestart ? '*' : ''), rows.some((r) => r.pendingRestart)],
    [{ header: 'Tags' }, (r) => formatTags(r.tags), rows.some((r) => Object.keys(r.tags).length > 0)],
    [{ header: 'Reason' }, (r) => r.reason ?? '', rows.some((r) => r.reason !== null)],
  ];
  for (const [column, cell, shown] of optional) {
    if (!shown) continue;
    columns.push(column);
    for (const [i, r] of rows.entries()) cells[i]!.push(cell(r));
  }
  const id = view.initialize === null || view.initialize === '' ? 'uninitialized' : view.initialize;
  return renderTable(columns, cells, { title: `Cluster: ${view.scope} (${id})` }) + footer(view);
}

/**
 * Lines under the table: maintenance mode and a scheduled switchover, in patronictl's words,
 * and a leader in synchronous mode that has no synchronous standby (hapg's own line).
 */
export function footer(view: ClusterView): string {
  const lines: string[] = [];
  if (clusterConfigOf(view).pause) lines.push(' Maintenance mode: on');
  const degraded = syncDegradedLine(view);
  if (degraded !== null) lines.push(degraded);
  const fast = fastFailoverLine(view);
  if (fast !== null) lines.push(fast);
  const f = view.failover;
  if (f !== null && f.scheduledAt !== null) {
    lines.push(` Switchover scheduled at: ${f.scheduledAt}`);
    if (f.leader !== null) lines.push(`                    from: ${f.leader}`);
    if (f.member !== null) lines.push(`                      to: ${f.member}`);
  }
  return lines.map((l) => `${l}\n`).join('');
}

function syncDegradedLine(view: ClusterView): string | null {
  const mode = syncModeOf(view);
  const leader = view.leader?.name ?? null;
  if (mode === 'off' || leader === null) return null;
  if (keyHasSyncStandbysFor(view.sync, leader)) return null;
  const strict = clusterConfigOf(view).synchronousModeStrict;
  return strict
    ? ` Synchronous mode: ${mode}, no synchronous standby (strict: commits wait for one)`
    : ` Synchronous mode: ${mode}, no synchronous standby (degraded: commits are asynchronous, only ${leader} can be promoted)`;
}

/** hapg's line while `fast_failover` is on: whether a listed standby could take over now, or why not. */
function fastFailoverLine(view: ClusterView): string | null {
  const r = fastFailoverReadiness(view, clusterConfigOf(view));
  if (r.state === 'off') return null;
  if (r.state === 'unavailable') return ` Fast failover: unavailable (${r.reason})`;
  const after =
    r.releasesNeeded === 0 ? '' : `, once ${r.releasesNeeded} of the others released their stream`;
  return ` Fast failover: ready (${r.standbys.join(', ')} may take over from ${r.leader} before its lease expires${after})`;
}

/** Keys whose JSON could not be parsed, as one stderr line (the table silently lacking a member would mislead). */
export function malformedWarning(view: ClusterView): string {
  if (view.malformed.length === 0) return '';
  const items = view.malformed.map((m) => `${m.key} (${m.error})`).join('; ');
  return `hactl: warning: ignored malformed keys: ${items}\n`;
}

/** Nothing at all under the scope is more often a typo in --scope/--namespace than an empty cluster. */
export function emptyScopeWarning(view: ClusterView): string {
  const empty =
    view.members.size === 0 && view.leader === null && view.initialize === null && view.config === null;
  return empty
    ? `hactl: warning: no keys found for scope ${JSON.stringify(view.scope)}: is the scope or namespace right?\n`
    : '';
}

export function renderList(
  view: ClusterView,
  format: OutputFormat,
  opts: ListOptions = NOT_EXTENDED,
): Rendered {
  const rows = listRows(view);
  const out =
    format === 'table'
      ? renderListTable(view, rows, opts)
      : renderData(
          format,
          rows.map((r) => toJsonRow(r, opts)),
        );
  return { out, err: malformedWarning(view) + emptyScopeWarning(view) };
}

/** ANSI: cursor home, clear screen. */
export const CLEAR_SCREEN = '\x1b[H\x1b[2J';

export interface WatchOptions {
  readonly intervalMs: number;
  /** ends the loop (Ctrl-C) */
  readonly signal: AbortSignal;
  readonly wallMs: () => number;
  /** resolves after `ms` or as soon as `signal` aborts */
  readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface ListDeps {
  readonly readView: () => Promise<ClusterView>;
  readonly io: Io;
  readonly format: OutputFormat;
  readonly options?: ListOptions;
  /** null: print once */
  readonly watch: WatchOptions | null;
}

/**
 * Prints the member list once, or with `watch` every interval until the
 * signal aborts. A failed read ends a one-shot list (the error propagates);
 * while watching it is shown in place of the table and the loop goes on,
 * so an etcd blip does not end the watch.
 */
export async function runList(deps: ListDeps): Promise<number> {
  const { io, format, watch } = deps;
  if (watch === null) {
    const r = renderList(await deps.readView(), format, deps.options);
    io.err(r.err);
    io.out(r.out);
    return 0;
  }
  while (!watch.signal.aborted) {
    let frame: Rendered;
    try {
      frame = renderList(await deps.readView(), format, deps.options);
    } catch (e) {
      frame = { out: '', err: `hactl: ${errorText(e)}\n` };
    }
    if (watch.signal.aborted) break;
    const header = `${new Date(watch.wallMs()).toISOString()} (every ${watch.intervalMs / 1000} s)\n`;
    io.out(`${io.stdoutIsTty ? CLEAR_SCREEN : ''}${format === 'table' ? header : ''}`);
    io.err(frame.err);
    io.out(frame.out);
    if (!io.stdoutIsTty && format === 'table') io.out('\n');
    await watch.sleep(watch.intervalMs, watch.signal);
  }
  return 0;
}
