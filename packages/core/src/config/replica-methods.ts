/**
 * `postgresql.create_replica_methods` and the sections they name (Patroni):
 * each method `X` other than `basebackup` is configured under
 * `postgresql.X: { command, keep_data, no_params, <extra keys> }`. These
 * sections are named by values, so the schema cannot list them: they are
 * taken out of the raw config before key sorting and parsed here.
 */
import { splitCommand } from './command-words.js';
import { booleanWord, isPlainMap } from './fields.js';
import type { ConfigProblem } from './problems.js';
import { describeValue } from './secrets.js';

export const BASEBACKUP_METHOD = 'basebackup';

/** A custom replica creation method, ready to run. */
export interface ReplicaMethodConfig {
  /** program and its arguments (split without a shell); Patroni's default is the method name */
  readonly command: readonly string[];
  /** true: leave the data directory as it is before running the command (e.g. a delta restore) */
  readonly keepData: boolean;
  /** true: append nothing; false: `--scope= --datadir= --role=replica --connstring=` and `params` */
  readonly noParams: boolean;
  /** every other key of the section, appended as `--key=value` unless `noParams` */
  readonly params: Readonly<Record<string, string>>;
}

/** Parameters hapg passes itself (Patroni overwrites them; hapg says so instead). */
export const RESERVED_METHOD_PARAMS = ['scope', 'datadir', 'role', 'connstring'] as const;

/** Keys of a method section that configure hapg rather than become `--key=value`. */
const DIRECTIVES = new Set(['command', 'keep_data', 'no_params']);

const NAME_CHARS = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/** `__proto__` is excluded: it would be a prototype, not a key, in too many places */
const NAME = { test: (s: string) => NAME_CHARS.test(s) && s !== '__proto__' };

/**
 * pg_basebackup options hapg sets itself (Patroni's list: it drops these
 * with an error log; hapg refuses them at load).
 */
export const BASEBACKUP_RESERVED_OPTIONS = [
  'pgdata',
  'format',
  'wal-method',
  'xlog-method',
  'gzip',
  'version',
  'compress',
  'dbname',
  'host',
  'port',
  'username',
  'password',
] as const;

function flag(v: unknown): boolean | null {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  return typeof v === 'string' ? (booleanWord(v) ?? null) : null;
}

/** The custom method names in `create_replica_methods` (the part of the list the sections belong to). */
export function customMethodNames(rawPostgresql: unknown): string[] {
  const pg = isPlainMap(rawPostgresql) ? rawPostgresql : {};
  const list = Array.isArray(pg.create_replica_methods) ? pg.create_replica_methods : [];
  const names = list.filter((m): m is string => typeof m === 'string' && m !== BASEBACKUP_METHOD);
  return [...new Set(names)];
}

/**
 * Checks the method list itself; the schema already made sure it is a list
 * of strings. `postgresqlKeys` are the keys `postgresql` has of its own: a
 * method must not be named like one, its section would be that key.
 */
export function methodListProblems(
  methods: readonly string[] | undefined,
  postgresqlKeys: readonly string[],
): ConfigProblem[] {
  if (methods === undefined) return [];
  const path = ['postgresql', 'create_replica_methods'];
  if (methods.length === 0)
    return [{ path, message: 'expected at least one method (the default is [basebackup])' }];
  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();
  methods.forEach((m, i) => {
    const at = [...path, i];
    if (seen.has(m)) problems.push({ path: at, message: `method "${m}" is listed twice` });
    else if (!NAME.test(m))
      problems.push({
        path: at,
        message: `expected a method name (letters, digits, _ . -), got ${describeValue(m, at)}`,
      });
    else if (m !== BASEBACKUP_METHOD && postgresqlKeys.includes(m))
      problems.push({ path: at, message: `"${m}" is the key postgresql.${m}, not a replica method` });
    seen.add(m);
  });
  return problems;
}

/** Parses one method's section (absent: Patroni runs the method name as the command). */
export function parseReplicaMethod(
  name: string,
  section: unknown,
): { method: ReplicaMethodConfig | null; problems: ConfigProblem[] } {
  const base = ['postgresql', name];
  if (section === undefined || section === null) {
    return { method: { command: [name], keepData: false, noParams: false, params: {} }, problems: [] };
  }
  if (!isPlainMap(section))
    return {
      method: null,
      problems: [{ path: base, message: `expected a map, got ${describeValue(section, base)}` }],
    };
  const problems: ConfigProblem[] = [];
  let command: readonly string[] = [name];
  if (section.command !== undefined && section.command !== null) {
    if (typeof section.command !== 'string') {
      problems.push({
        path: [...base, 'command'],
        message: `expected a string, got ${describeValue(section.command, [...base, 'command'])}`,
      });
    } else {
      const split = splitCommand(section.command);
      if (split.ok) command = split.words;
      else problems.push({ path: [...base, 'command'], message: `the command ${split.message}` });
    }
  }
  const keepData = flag(section.keep_data);
  const noParams = flag(section.no_params);
  for (const [key, v] of [
    ['keep_data', keepData],
    ['no_params', noParams],
  ] as const) {
    if (v === null)
      problems.push({
        path: [...base, key],
        message: `expected a boolean, got ${describeValue(section[key], [...base, key])}`,
      });
  }
  const params: Record<string, string> = {};
  for (const [key, v] of Object.entries(section)) {
    if (DIRECTIVES.has(key)) continue;
    const at = [...base, key];
    if (!NAME.test(key))
      problems.push({ path: at, message: 'expected a parameter name (letters, digits, _ . -)' });
    else if (!noParams && (RESERVED_METHOD_PARAMS as readonly string[]).includes(key))
      problems.push({
        path: at,
        message: `hapg passes --${key} itself; set no_params: true to pass your own`,
      });
    else if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)))
      Object.defineProperty(params, key, {
        value: String(v),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else
      problems.push({
        path: at,
        message: `expected a string, number or boolean, got ${describeValue(v, at)}`,
      });
  }
  if (problems.length > 0) return { method: null, problems };
  return { method: { command, keepData: keepData!, noParams: noParams!, params }, problems };
}

/** pg_basebackup options hapg sets itself, found in `postgresql.basebackup` (as `--name[=value]`). */
export function basebackupProblems(args: readonly string[] | undefined): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const arg of args ?? []) {
    const name = arg.replace(/^--/, '').split('=')[0]!;
    if ((BASEBACKUP_RESERVED_OPTIONS as readonly string[]).includes(name))
      problems.push({
        path: ['postgresql', 'basebackup'],
        message: `option "${name}" is set by hapg and cannot be configured`,
      });
  }
  return problems;
}
