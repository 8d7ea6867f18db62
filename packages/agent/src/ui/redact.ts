/**
 * The dashboard never shows a secret. Its state is built from data that should hold none
 * (member keys, reasons, tags), but tags and reason texts are free text an operator or a
 * failing command may fill with a conninfo; so everything the page receives passes
 * through here once, after shaping: keys that name a secret lose their value, and
 * passwords inside URLs and libpq strings are masked.
 */
export const REDACTED = '***';

/** Object keys whose values are secrets, whatever they hold. */
const SECRET_KEY = /pass(word)?|secret|token|credential|private[_-]?key|^auth(entication|orization)?$/i;

/** `scheme://user:password@host` → `scheme://user:***@host` */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):([^\s@/]*)@/gi;

/** libpq keyword form: `password=secret` or `password='se cret'` */
const LIBPQ_PASSWORD = /\b(password|sslpassword)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s]*)/gi;

export function redactText(s: string): string {
  return s
    .replace(URL_PASSWORD, (_m, head: string) => `${head}:${REDACTED}@`)
    .replace(LIBPQ_PASSWORD, (_m, key: string) => `${key}=${REDACTED}`);
}

/** A deep copy of plain JSON data with secrets masked (see the module comment). */
export function redactSecrets<T>(value: T): T {
  return redact(value, 0) as T;
}

const MAX_DEPTH = 32;

function redact(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  // deeper than any state the dashboard builds: a cycle or hostile data, not worth walking
  if (depth >= MAX_DEPTH) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    // defineProperty: a `__proto__` tag stays a key, never a prototype
    Object.defineProperty(out, k, {
      value: SECRET_KEY.test(k) && v !== null ? REDACTED : redact(v, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
