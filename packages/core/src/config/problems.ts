import { HapgError } from '../errors.js';
import { redactText } from './secrets.js';

export type ConfigPath = readonly (string | number)[];

/** One thing wrong with a config value, before it is placed in a file. */
export interface ConfigProblem {
  readonly path: ConfigPath;
  readonly message: string;
}

/** A problem with where it came from: `node.yaml:7:3`, `env HAPG_X`, or just the source name. */
export interface LocatedProblem extends ConfigProblem {
  readonly where: string;
  /** for ordering: position in the source, or Infinity for env/unplaced problems */
  readonly order: readonly [number, number];
}

/** `postgresql.pg_hba[2]`, `bootstrap.dcs.ttl` */
export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out === '' ? '(root)' : out;
}

/** Longest key a message names in full, in characters: a longer one is cut (a key can be a whole file). */
const KEY_SHOWN_CHARS_MAX = 60;

/** `formatPath` for messages: keys longer than `KEY_SHOWN_CHARS_MAX` are cut with `…`. */
export function showPath(path: ConfigPath): string {
  const cut = (seg: string | number) =>
    typeof seg === 'string' && seg.length > KEY_SHOWN_CHARS_MAX
      ? `${seg.slice(0, KEY_SHOWN_CHARS_MAX)}…`
      : seg;
  return formatPath(path.map(cut));
}

/**
 * `where: path: message`; the path is left out for problems of the whole
 * source (syntax, root not a map). The message is redacted once more here
 * (`redactText`): no password written into a connection string reaches a message.
 */
export function formatProblem(p: LocatedProblem): string {
  const message = redactText(p.message);
  return p.path.length === 0 ? `${p.where}: ${message}` : `${p.where}: ${showPath(p.path)}: ${message}`;
}

/** Sorted by position so messages read top to bottom like the file; stable for equal positions. */
export function sortProblems(problems: readonly LocatedProblem[]): LocatedProblem[] {
  return [...problems].sort((a, b) => a.order[0] - b.order[0] || a.order[1] - b.order[1]);
}

/** Most problems one error lists: a file with 40 000 bad keys gets a page, not 40 000 lines. */
export const PROBLEMS_SHOWN_MAX = 100;

/**
 * Throws CONFIG_INVALID listing the problems, one per line, top to bottom
 * (the first `PROBLEMS_SHOWN_MAX`, then how many more); does nothing when there are none.
 */
export function throwIfProblems(problems: readonly LocatedProblem[]): void {
  if (problems.length === 0) return;
  const lines = sortProblems(problems).slice(0, PROBLEMS_SHOWN_MAX).map(formatProblem);
  const more = problems.length - lines.length;
  if (more > 0) lines.push(`… and ${more} more problem${more === 1 ? '' : 's'}`);
  throw new HapgError('CONFIG_INVALID', lines.join('\n'));
}

export function pathStartsWith(path: ConfigPath, prefix: ConfigPath): boolean {
  return prefix.length <= path.length && prefix.every((seg, i) => String(seg) === String(path[i]));
}
