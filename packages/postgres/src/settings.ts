import { basename } from 'node:path';
import { HapgError, type KnownParameters } from '@hapg/core';
import type { QueryRow } from './connection.js';

/** What these helpers need of a session (`SqlSession`; a fake in tests). */
export interface Queryable {
  query<R extends QueryRow = QueryRow>(text: string, values?: readonly unknown[]): Promise<R[]>;
}

/** Names the running server knows (pg_settings), lower case, for validating user parameters. */
export async function knownParameterNames(session: Queryable): Promise<KnownParameters> {
  const rows = await session.query<{ name: string }>('SELECT name FROM pg_settings');
  return { names: new Set(rows.map((r) => r.name.toLowerCase())), source: "the server's pg_settings" };
}

/** `SELECT pg_reload_conf()`: re-reads postgresql.conf and pg_hba.conf (primary_conninfo too, PG 13+). */
export async function reloadConf(session: Queryable): Promise<void> {
  await session.query('SELECT pg_reload_conf()');
}

async function confLoadTime(session: Queryable): Promise<string> {
  const rows = await session.query<{ t: string }>(
    'SELECT extract(epoch FROM pg_conf_load_time())::text AS t',
  );
  return rows[0]!.t;
}

async function waitForLoadTimeChange(
  session: Queryable,
  before: string,
  timeoutMs: number,
  pollMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while ((await confLoadTime(session)) === before) {
    if (performance.now() > deadline)
      throw new HapgError('TIMEOUT', `configuration not reloaded within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** A `pg_file_settings` row with an error: what Postgres finds wrong in the files as they are now. */
export interface FileSettingError {
  readonly sourcefile: string | null;
  readonly sourceline: number | null;
  /** null for errors of the file rather than of one setting (a syntax error) */
  readonly name: string | null;
  readonly error: string;
}

/** What a reload did with the files, from `pg_file_settings` and `pg_settings.pending_restart`. */
export interface ReloadCheck {
  /**
   * `all`: every setting is in force (or waits for a restart); `partly`: Postgres applied the
   * others but not `rejected` ("contains errors; unaffected changes were applied"); `none`:
   * an error of the files made it apply nothing ("contains errors; no changes were applied")
   */
  readonly applied: 'all' | 'partly' | 'none';
  /** settings whose value Postgres could not apply; it keeps the previous value of each */
  readonly rejected: readonly FileSettingError[];
  /** errors not tied to one value: syntax errors, unknown names, includes it cannot read */
  readonly fileErrors: readonly FileSettingError[];
}

const NOT_APPLIED = 'setting could not be applied';
/** a postmaster-context setting that changed, or was removed from the file: a restart applies it */
const NEEDS_RESTART = /cannot be changed without restarting the server/;

/**
 * Classifies the error rows of `pg_file_settings` after a reload. A changed setting that needs
 * a restart shows up there too ("setting could not be applied"): it is no error when
 * `pg_settings` has it pending a restart. Any error other than a value that could not be
 * applied makes Postgres skip the whole reload (guc-file.l bails out before applying).
 */
export function classifyFileSettings(
  rows: readonly FileSettingError[],
  pendingRestart: ReadonlySet<string>,
): ReloadCheck {
  const rejected: FileSettingError[] = [];
  const fileErrors: FileSettingError[] = [];
  for (const r of rows) {
    if (NEEDS_RESTART.test(r.error)) continue;
    if (r.error === NOT_APPLIED && r.name !== null) {
      if (!pendingRestart.has(r.name.toLowerCase())) rejected.push(r);
    } else fileErrors.push(r);
  }
  const applied = fileErrors.length > 0 ? 'none' : rejected.length > 0 ? 'partly' : 'all';
  return { applied, rejected, fileErrors };
}

/** `postgresql.conf:12: work_mem: setting could not be applied` (the file's base name). */
export function describeFileSettingError(e: FileSettingError): string {
  const where =
    e.sourcefile === null
      ? ''
      : `${basename(e.sourcefile)}${e.sourceline === null ? '' : `:${e.sourceline}`}: `;
  return `${where}${e.name === null ? '' : `${e.name}: `}${e.error}`;
}

const FILE_SETTING_ERRORS_SQL = `SELECT sourcefile, sourceline, name, error FROM pg_file_settings
  WHERE error IS NOT NULL ORDER BY seqno`;

async function fileSettingErrors(session: Queryable): Promise<FileSettingError[]> {
  const rows = await session.query<QueryRow>(FILE_SETTING_ERRORS_SQL);
  return rows.map((r) => ({
    sourcefile: typeof r.sourcefile === 'string' ? r.sourcefile : null,
    sourceline: typeof r.sourceline === 'number' ? r.sourceline : null,
    name: typeof r.name === 'string' ? r.name : null,
    error: String(r.error),
  }));
}

async function pendingRestartNames(session: Queryable): Promise<Set<string>> {
  const rows = await session.query<{ name: string }>('SELECT name FROM pg_settings WHERE pending_restart');
  return new Set(rows.map((r) => r.name.toLowerCase()));
}

/**
 * Reloads, then finds out whether Postgres took the files. The reload is asynchronous (SIGHUP
 * via the postmaster): right after pg_reload_conf() our session still sees the old settings
 * and a stale `pending_restart`, as measured in the integration test. `pg_file_settings` parses the files
 * as they are on disk, so an error that makes Postgres apply nothing is known at once (and its
 * load time would never move: no waiting for it then). Otherwise waits until our backend has
 * re-read the files, so that `pending_restart` is current, and classifies the errors.
 */
export async function reloadConfAndCheck(
  session: Queryable,
  timeoutMs: number,
  pollMs = 20,
): Promise<ReloadCheck> {
  const before = await confLoadTime(session);
  await reloadConf(session);
  const errors = await fileSettingErrors(session);
  const first = classifyFileSettings(errors, new Set());
  if (first.applied === 'none') return first;
  await waitForLoadTimeChange(session, before, timeoutMs, pollMs);
  return first.applied === 'all' ? first : classifyFileSettings(errors, await pendingRestartNames(session));
}
