/**
 * The one home of "which config values are secrets" and of how a value is
 * shown in an error or a warning. Every message that names a value goes
 * through `describeValue`, which knows the value's key path:
 *
 * - a value at a secret path is shown by its kind only (`got a number
 *   (secret, not shown)`), never by its text;
 * - any other value is shown as a short excerpt (strings are cut to
 *   `EXCERPT_CHARS_MAX`), so no message carries a whole file;
 * - passwords inside text (`password=...` in a connection string,
 *   `user:pw@` in a URL) are masked wherever they appear (`redactText`).
 */
import type { ConfigPath } from './problems.js';

/** Longest string excerpt a message quotes, in characters. */
export const EXCERPT_CHARS_MAX = 40;

export const REDACTED = '[redacted]';

/**
 * Key names whose values are secrets wherever they appear: passwords and
 * passphrases (`password`, `sslpassword`, `keyfile_password`,
 * `PGPASSWORD`), tokens, private keys (`key`, `sslkey`, `keyfile`) and
 * connection strings, which may carry a password (`primary_conninfo`).
 */
const SECRET_KEY =
  /passw(or)?d|passphrase|secret|token|credential|private|conninfo|^(ssl)?key$|keyfile|_key$/i;

/** Sections whose every value is a secret or sits next to one (`restapi.authentication`, `ctl.authentication`). */
const SECRET_SECTIONS: ReadonlySet<string> = new Set(['authentication', 'auth']);

/** Whether a key's value is a secret, by the key's name (a config key or an environment variable). */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) || SECRET_SECTIONS.has(key.toLowerCase());
}

/** Whether the value at `path` is a secret: some segment is a secret key, or a section of credentials. */
export function isSecretPath(path: ConfigPath): boolean {
  return path.some((seg) => typeof seg === 'string' && isSecretKey(seg));
}

const PASSWORD_IN_TEXT =
  /((?:passw(?:or)?d|passphrase|secret|token)\w*["']?\s*[=:]\s*)("(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?|[^\s,;&"']+)/gi;
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s@/]*@/gi;

/** The text with every password it visibly carries masked (`password=[redacted]`, `user:[redacted]@host`). */
export function redactText(text: string): string {
  return text.replace(PASSWORD_IN_TEXT, `$1${REDACTED}`).replace(URL_USERINFO, `$1:${REDACTED}@`);
}

/** A short, redacted excerpt of a text that may be long: `"scope: demo\nname…" (14512 characters)`. */
export function excerpt(text: string): string {
  if (text.length <= EXCERPT_CHARS_MAX) return JSON.stringify(redactText(text));
  // cut by code points, so no surrogate pair is split
  const head = redactText([...text.slice(0, EXCERPT_CHARS_MAX + 1)].slice(0, EXCERPT_CHARS_MAX).join(''));
  return `${JSON.stringify(`${head}…`)} (${text.length} characters)`;
}

function kindOf(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return v === '' ? 'an empty string' : 'a string';
  if (typeof v === 'boolean') return 'a boolean';
  if (typeof v === 'number' || typeof v === 'bigint') return 'a number';
  return `a ${typeof v}`;
}

/**
 * How the value found at `path` is shown in a message: strings quoted (an
 * excerpt), numbers and booleans as written, containers by kind; at a
 * secret path, by kind only.
 */
export function describeValue(v: unknown, path: ConfigPath): string {
  if (v === null || v === undefined || typeof v === 'object') return kindOf(v);
  if (isSecretPath(path)) return `${kindOf(v)} (secret, not shown)`;
  if (typeof v === 'string') return excerpt(v);
  return String(v);
}

/**
 * Messages of the `yaml` package that quote the source, with the quoted
 * part dropped: a tag, an escape sequence or a block scalar header may be
 * part of a password.
 */
const YAML_ECHOES: readonly (readonly [RegExp, string])[] = [
  [
    /^(Unresolved tag|Could not resolve tag|Not a valid tag|Block scalar header includes extra characters):.*$/s,
    '$1',
  ],
  [/^Invalid escape sequence.*$/s, 'Invalid escape sequence'],
  [/^The .* tag has no suffix.*$/s, 'A tag has no suffix'],
  [/^Verbatim tags aren't resolved.*$/s, "Verbatim tags aren't resolved"],
  [/^Unresolved alias.*$/s, 'Unresolved alias (the anchor must be set before the alias)'],
  [/^(Unknown directive|Unsupported YAML version) .*$/s, '$1'],
];

/** A `yaml` error message as hapg shows it: its first line, without quoted source, redacted. */
export function yamlErrorText(message: string): string {
  let text = message.split('\n')[0] ?? '';
  for (const [re, replacement] of YAML_ECHOES) text = text.replace(re, replacement);
  return redactText(text.length > 120 ? `${text.slice(0, 120)}…` : text);
}
