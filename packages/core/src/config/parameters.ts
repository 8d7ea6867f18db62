/**
 * The one validator of Postgres parameters (`postgresql.parameters` of the dynamic config and
 * of a node's YAML). Checked before anything is stored or rendered:
 *
 * - the name is a GUC name the config-file lexer reads (`work_mem`, `pg_stat_statements.max`);
 * - the value is text postgresql.conf can hold: no control character (a newline would end the
 *   quoted value and start a line of its own), well-formed Unicode, bounded length;
 * - the name is not one hapg sets itself (`port`, `primary_conninfo`, ...);
 * - the name is known to the server (its `pg_settings`) or, where no server can be asked, to
 *   PostgreSQL 15; dotted names are extension placeholders and always pass.
 *
 * Names are case-insensitive in Postgres: the typed maps hold them in lower case.
 */
import type { PgParameterValue } from './fields.js';
import { didYouMean } from './did-you-mean.js';
import { isPlainMap } from './fields.js';
import { PG15_PARAMETER_NAMES } from './pg15-parameters.js';
import { type ConfigProblem, throwIfProblems } from './problems.js';

export type ParameterProblemCode = 'BAD_NAME' | 'BAD_VALUE' | 'MANAGED' | 'DUPLICATE' | 'UNKNOWN';

/** Why one parameter is refused (at a gateway) or skipped (when rendering). Never carries the value. */
export interface ParameterProblem {
  /** as given (not lower-cased) */
  readonly name: string;
  readonly code: ParameterProblemCode;
  readonly text: string;
}

/** Names a server accepts, lower case, and where the list comes from (named in messages). */
export interface KnownParameters {
  readonly names: ReadonlySet<string>;
  /** e.g. `the server's pg_settings`, `PostgreSQL 15` */
  readonly source: string;
}

export const PG15_PARAMETERS: KnownParameters = { names: PG15_PARAMETER_NAMES, source: 'PostgreSQL 15' };

/** Longer values are refused: nothing legitimate comes near (shared_preload_libraries, ssl_ciphers). */
export const PARAMETER_VALUE_MAX_CHARS = 16_384;
/** Postgres itself has no bound; the longest PG 15 name has 37 characters. */
export const PARAMETER_NAME_MAX_CHARS = 128;

/** The config-file lexer's ID or ID.ID (guc-file.l), ASCII only. */
const GUC_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;
/** C0, DEL and C1 (Unicode category Cc) */
const CONTROL_CHARACTER = /\p{Cc}/u;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const RECOVERY_TARGET = 'a recovery target ends recovery, or promotes, without the leader key';
const LISTEN = 'set postgresql.listen instead';

/**
 * Parameters hapg renders itself (postgresql.conf's "managed by hapg" block, the command line)
 * or that would let Postgres leave recovery behind its back, with what to do instead.
 * `synchronous_standby_names` is not here: it is the operator's while synchronous mode is off.
 */
export const MANAGED_PARAMETERS: ReadonlyMap<string, string> = new Map([
  ['listen_addresses', LISTEN],
  ['port', LISTEN],
  ['data_directory', 'set postgresql.data_dir instead'],
  ['config_file', 'hapg starts Postgres with the postgresql.conf it writes in the data directory'],
  ['hba_file', 'hapg writes pg_hba.conf in the data directory; set postgresql.pg_hba instead'],
  ['primary_conninfo', 'hapg points each replica at the current leader'],
  ['primary_slot_name', 'hapg streams each replica through its own slot (postgresql.use_slots)'],
  ['recovery_target_timeline', "hapg sets 'latest' so that replicas follow each promotion"],
  ['promote_trigger_file', 'only hapg promotes, and only on the holder of the leader key'],
  ['recovery_target', RECOVERY_TARGET],
  ['recovery_target_action', RECOVERY_TARGET],
  ['recovery_target_inclusive', RECOVERY_TARGET],
  ['recovery_target_lsn', RECOVERY_TARGET],
  ['recovery_target_name', RECOVERY_TARGET],
  ['recovery_target_time', RECOVERY_TARGET],
  ['recovery_target_xid', RECOVERY_TARGET],
]);

function shortName(name: string): string {
  return JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);
}

const problem = (name: string, code: ParameterProblemCode, text: string): ParameterProblem => ({
  name,
  code,
  text,
});

/** A malformed name, or one hapg manages; null when the name may be set. */
export function checkParameterName(name: string): ParameterProblem | null {
  if (name.length > PARAMETER_NAME_MAX_CHARS || !GUC_NAME.test(name)) {
    return problem(
      name,
      'BAD_NAME',
      `${shortName(name)} is not a parameter name (letters, digits and underscores, not starting with a digit; ext.name for an extension's)`,
    );
  }
  const managed = MANAGED_PARAMETERS.get(name.toLowerCase());
  return managed === undefined ? null : problem(name, 'MANAGED', `managed by hapg; ${managed}`);
}

function codePoint(text: string, index: number): string {
  return `U+${text.codePointAt(index)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * A value postgresql.conf cannot hold as given; null when it can. Only strings can fail (the
 * schema admits strings, finite numbers and booleans). The message names the offending
 * character and its position, never the value (it may be a secret).
 */
export function checkParameterValue(name: string, value: unknown): ParameterProblem | null {
  if (typeof value !== 'string') return null;
  if (value.length > PARAMETER_VALUE_MAX_CHARS) {
    return problem(
      name,
      'BAD_VALUE',
      `value has ${value.length} characters; at most ${PARAMETER_VALUE_MAX_CHARS} are accepted`,
    );
  }
  const control = CONTROL_CHARACTER.exec(value);
  if (control !== null) {
    return problem(
      name,
      'BAD_VALUE',
      `value contains the control character ${codePoint(value, control.index)} at offset ${control.index}; postgresql.conf cannot hold newlines, tabs or other control characters in a value`,
    );
  }
  const lone = LONE_SURROGATE.exec(value);
  if (lone !== null) {
    return problem(
      name,
      'BAD_VALUE',
      `value is not valid Unicode text (a lone surrogate at offset ${lone.index})`,
    );
  }
  return null;
}

/** Names the server would not recognise; dotted names (extension placeholders) are never unknown. */
export function checkParameterKnown(name: string, known: KnownParameters): ParameterProblem | null {
  const lower = name.toLowerCase();
  if (lower.includes('.') || known.names.has(lower)) return null;
  const hint = didYouMean(lower, [...known.names]);
  return problem(
    name,
    'UNKNOWN',
    `unknown parameter (not in ${known.source})${hint === null ? '' : `; did you mean "${hint}"?`}`,
  );
}

export interface ParameterSplit {
  /** the parameters that may be rendered, names in lower case */
  readonly valid: Readonly<Record<string, PgParameterValue>>;
  /** the others, in the order given */
  readonly problems: readonly ParameterProblem[];
}

/**
 * Sorts parameters into those that may be rendered and those that may not. `known`: check
 * names against this list too (null: leave that to whoever can ask the server). Of two names
 * that differ only in case, the first given wins.
 */
export function splitParameters(
  params: Readonly<Record<string, unknown>>,
  opts: { readonly known: KnownParameters | null },
): ParameterSplit {
  const valid: Record<string, PgParameterValue> = {};
  const firstName = new Map<string, string>();
  const problems: ParameterProblem[] = [];
  for (const [name, value] of Object.entries(params)) {
    const lower = name.toLowerCase();
    const first = firstName.get(lower);
    const found =
      checkParameterName(name) ??
      checkParameterValue(name, value) ??
      (first === undefined
        ? null
        : problem(
            name,
            'DUPLICATE',
            `also given as ${JSON.stringify(first)} (parameter names ignore case)`,
          )) ??
      (opts.known === null ? null : checkParameterKnown(name, opts.known));
    if (found !== null) {
      problems.push(found);
      continue;
    }
    firstName.set(lower, name);
    valid[lower] = value as PgParameterValue;
  }
  return { valid, problems };
}

/** `postgresql.parameters.work_mem: value contains ...`, as config problems. */
export function parameterConfigProblems(
  problems: readonly ParameterProblem[],
  prefix: readonly string[] = ['postgresql', 'parameters'],
): ConfigProblem[] {
  return problems.map((p) => ({ path: [...prefix, p.name], message: p.text }));
}

/** `port (managed by hapg; set postgresql.listen instead)`, for one log line or status text. */
export function describeParameterProblems(problems: readonly ParameterProblem[]): string {
  return problems.map((p) => `${p.name} (${p.text})`).join('; ');
}

function parametersOf(config: unknown): Readonly<Record<string, unknown>> {
  const pg = isPlainMap(config) ? config.postgresql : undefined;
  const params = isPlainMap(pg) ? pg.parameters : undefined;
  return isPlainMap(params) ? params : {};
}

/**
 * What a write of the dynamic config (`PATCH`/`PUT /config`, `hactl edit-config`) must refuse:
 * every parameter of `next` that is new or changed against `base` (the stored config) and
 * fails `splitParameters`. A parameter stored before, unchanged, is not held against the write
 * (the agents skip it with a warning), so a bad key written by another tool never blocks an
 * unrelated change; removing it (`null`) always works. Values of the wrong type are the
 * schema's to report. Empty: the write may go ahead.
 */
export function parameterWriteProblems(
  next: unknown,
  base: unknown,
  known: KnownParameters | null,
): ConfigProblem[] {
  const before = parametersOf(base);
  const after = parametersOf(next);
  const { problems } = splitParameters(after, { known });
  return parameterConfigProblems(
    problems.filter((p) => !Object.hasOwn(before, p.name) || before[p.name] !== after[p.name]),
  );
}

/** Throws CONFIG_INVALID listing every `parameterWriteProblems`, placed at `where` (`PATCH /config`). */
export function assertParameterWrite(
  next: unknown,
  base: unknown,
  known: KnownParameters | null,
  where: string,
): void {
  throwIfProblems(
    parameterWriteProblems(next, base, known).map((p) => ({ ...p, where, order: [0, 0] as const })),
  );
}
