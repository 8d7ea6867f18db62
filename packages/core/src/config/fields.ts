/**
 * Zod building blocks whose error messages are ours, exact and stable:
 * `expected <what>, got <value>`. Every leaf goes through `optionalLeaf` or
 * `requiredLeaf`, so the wording lives here and nowhere else. An issue says
 * only `expected <what>` and carries the value as its `input`: the `got`
 * part is added by `issueProblems`, where the key path is known and the
 * secret rule (secrets.ts) can apply. Absent and `null` both mean "not set"
 * (YAML writes an empty value as null).
 */
import { z } from 'zod';
import { type HostPort, parseDurationMs, parseHostPort, parseSize } from './units.js';

export const MISSING = 'required key is missing';

type Check<T> = { ok: true; value: T } | { ok: false; expected: string };
const ok = <T>(value: T): Check<T> => ({ ok: true, value });
const bad = <T>(expected: string): Check<T> => ({ ok: false, expected });

/** A leaf that may be absent: the parser sees only set values. */
function optionalLeaf<T>(parse: (v: unknown) => Check<T>) {
  return z
    .unknown()
    .transform((v, ctx): T | undefined => {
      if (v === undefined || v === null) return undefined;
      const r = parse(v);
      if (r.ok) return r.value;
      ctx.issues.push({ code: 'custom', message: `expected ${r.expected}`, input: v });
      return z.NEVER;
    })
    .optional();
}

/** A leaf that must be set. */
function requiredLeaf<T>(parse: (v: unknown) => Check<T>) {
  return z.unknown().transform((v, ctx): T => {
    if (v === undefined) {
      ctx.issues.push({ code: 'custom', message: MISSING, input: undefined });
      return z.NEVER;
    }
    const r = parse(v);
    if (r.ok) return r.value;
    ctx.issues.push({ code: 'custom', message: `expected ${r.expected}`, input: v });
    return z.NEVER;
  });
}

// ---- parsers -------------------------------------------------------------

function parseText(opts: { nonEmpty: boolean }) {
  const what = opts.nonEmpty ? 'a non-empty string' : 'a string';
  return (v: unknown): Check<string> =>
    typeof v === 'string' && (!opts.nonEmpty || v.trim() !== '') ? ok(v) : bad(what);
}

/** A JSON/YAML map (not null, not a list). */
export function isPlainMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const BOOLEAN_WORDS: Readonly<Record<string, boolean>> = {
  true: true,
  false: false,
  on: true,
  off: false,
  yes: true,
  no: false,
};

/** Patroni's boolean words (`on`, `yes`, `false`, ...), any case; undefined for anything else. */
export function booleanWord(v: string): boolean | undefined {
  return BOOLEAN_WORDS[v.toLowerCase()];
}

function parseFlag(v: unknown): Check<boolean> {
  if (typeof v === 'boolean') return ok(v);
  const word = typeof v === 'string' ? booleanWord(v) : undefined;
  return word === undefined ? bad('a boolean') : ok(word);
}

export interface IntRange {
  readonly min: number;
  readonly max: number;
}

function rangeText(r: IntRange): string {
  return r.max === Number.MAX_SAFE_INTEGER ? `>= ${r.min}` : `${r.min}-${r.max}`;
}

function parseInteger(range: IntRange, noun = 'an integer') {
  return (v: unknown): Check<number> =>
    typeof v === 'number' && Number.isSafeInteger(v) && v >= range.min && v <= range.max
      ? ok(v)
      : bad(`${noun} ${rangeText(range)}`);
}

function parseNumber(range: IntRange, noun: string) {
  return (v: unknown): Check<number> =>
    typeof v === 'number' && Number.isFinite(v) && v >= range.min && v <= range.max
      ? ok(v)
      : bad(`${noun} ${rangeText(range)}`);
}

function parseSizeValue(v: unknown): Check<bigint> {
  if (typeof v !== 'number' && typeof v !== 'string')
    return bad('a size in bytes or with a unit (kB, MB, GB, TB)');
  try {
    return ok(parseSize(v));
  } catch {
    return bad('a size in bytes or with a unit (kB, MB, GB, TB)');
  }
}

function parseDurationValue(v: unknown): Check<number> {
  if (typeof v !== 'number' && typeof v !== 'string')
    return bad('a duration (seconds, or with a unit ms, s, min, h, d)');
  try {
    return ok(parseDurationMs(v));
  } catch {
    return bad('a duration (seconds, or with a unit ms, s, min, h, d)');
  }
}

function parseAddress(defaultPort?: number) {
  return (v: unknown): Check<HostPort> => {
    const hp = typeof v === 'string' ? parseHostPort(v, defaultPort) : null;
    return hp ? ok(hp) : bad('host:port with a port 1-65535');
  };
}

export interface ListenAddress {
  /** one or more hosts (Patroni allows `127.0.0.1,10.0.0.5:5432`); the first is used for local connections */
  readonly hosts: readonly string[];
  readonly port: number;
}

function parseListen(v: unknown): Check<ListenAddress> {
  const expected = 'host[,host...]:port with a port 1-65535';
  if (typeof v !== 'string') return bad(expected);
  const colon = v.lastIndexOf(':');
  const last = parseHostPort(v.slice(v.lastIndexOf(',') + 1));
  if (!last || colon === -1) return bad(expected);
  const hosts = v
    .slice(0, colon)
    .split(',')
    .map((h) => h.trim().replace(/^\[(.*)\]$/, '$1'));
  return hosts.some((h) => h === '') ? bad(expected) : ok({ hosts, port: last.port });
}

/** `etcd3.hosts`: a YAML list or a comma-separated string; a host without a port gets 2379. */
function parseHostList(v: unknown): Check<HostPort[]> {
  const expected = 'a list of host:port or a comma-separated string';
  const items = typeof v === 'string' ? v.split(',').map((s) => s.trim()) : Array.isArray(v) ? v : null;
  if (!items || items.length === 0) return bad(expected);
  const hosts: HostPort[] = [];
  for (const item of items) {
    const hp = typeof item === 'string' ? parseHostPort(item, 2379) : null;
    if (!hp) return bad(expected);
    hosts.push(hp);
  }
  return ok(hosts);
}

/** A Kubernetes label value (not empty here): 1-63 of `[A-Za-z0-9._-]`, alphanumeric at both ends. */
const LABEL_VALUE_RE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** The prefix of a label name: a DNS subdomain (lower case, at most 253 characters). */
const DNS_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function parseLabelValue(v: unknown): Check<string> {
  return typeof v === 'string' && LABEL_VALUE_RE.test(v)
    ? ok(v)
    : bad('a Kubernetes label value (1-63 letters, digits, "-", "_" or ".", alphanumeric at both ends)');
}

/** `[prefix/]name`, as Kubernetes checks label keys. */
function parseLabelName(v: unknown): Check<string> {
  const expected =
    'a Kubernetes label name ([prefix/]name: a DNS subdomain, then 1-63 letters, digits, "-", "_" or ".")';
  if (typeof v !== 'string') return bad(expected);
  const slash = v.indexOf('/');
  const prefix = slash === -1 ? null : v.slice(0, slash);
  const name = slash === -1 ? v : v.slice(slash + 1);
  const prefixOk = prefix === null || (prefix.length <= 253 && DNS_SUBDOMAIN_RE.test(prefix));
  return prefixOk && LABEL_VALUE_RE.test(name) ? ok(v) : bad(expected);
}

function parseStringList(v: unknown): Check<string[]> {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? ok([...v]) : bad('a list of strings');
}

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** IPv6 text as node:net's `isIP` takes it (no zone): hex groups, one `::` at most, an IPv4 tail. */
function isIpv6(s: string): boolean {
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const groups = halves.map((h) => (h === '' ? [] : h.split(':')));
  const all = groups.flat();
  const last = all[all.length - 1];
  const v4Tail = last !== undefined && IPV4_RE.test(last);
  const hex = v4Tail ? all.slice(0, -1) : all;
  if (!hex.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return false;
  const width = hex.length + (v4Tail ? 2 : 0);
  return halves.length === 2 ? width <= 7 : width === 8;
}
const HOST_NAME_RE =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9_]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9_]{0,61}[a-z0-9])?)*\.?$/i;

/**
 * `restapi.allowlist`: a list of IP addresses, CIDR blocks (`10.0.0.0/8`, `fd00::/8`) and host
 * names, as Patroni takes them. The agent checks IPv6 text exactly (node:net) when it builds the list.
 */
function parseAllowList(v: unknown): Check<string[]> {
  const expected = 'a list of IP addresses, CIDR blocks or host names';
  if (!Array.isArray(v)) return bad(expected);
  const out: string[] = [];
  for (const item of v) {
    const entry = typeof item === 'string' ? item.trim() : null;
    if (entry === null || !allowListEntryOk(entry)) return bad(expected);
    out.push(entry);
  }
  return ok(out);
}

function allowListEntryOk(entry: string): boolean {
  const [address = '', prefix, ...rest] = entry.split('/');
  if (rest.length > 0) return false;
  const v4 = IPV4_RE.test(address);
  const v6 = !v4 && isIpv6(address);
  if (prefix !== undefined) {
    if (!/^\d{1,3}$/.test(prefix)) return false;
    return (v4 && Number(prefix) <= 32) || (v6 && Number(prefix) <= 128);
  }
  return v4 || v6 || (!/^[\d.]+$/.test(address) && HOST_NAME_RE.test(address));
}

function parseEnum<T extends string>(values: Readonly<Record<string, T>>, expected: string) {
  return (v: unknown): Check<T> => {
    const key = typeof v === 'boolean' ? String(v) : typeof v === 'string' ? v.toLowerCase() : null;
    const hit = key === null ? undefined : values[key];
    return hit === undefined ? bad(expected) : ok(hit);
  };
}

/**
 * Patroni's option lists for initdb and pg_basebackup: a list of `flag` or
 * `{name: value}` items, or a map. Converted once to command-line arguments.
 */
function parseOptionList(v: unknown): Check<string[]> {
  const expected = 'a list of options (name or {name: value}) or a map';
  const isScalar = (x: unknown) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean';
  const pairArg = (k: string, val: unknown) => `--${k}=${String(val)}`;
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const entries = Object.entries(v);
    return entries.every(([, val]) => isScalar(val))
      ? ok(entries.map(([k, val]) => pairArg(k, val)))
      : bad(expected);
  }
  if (!Array.isArray(v)) return bad(expected);
  const args: string[] = [];
  for (const item of v) {
    if (typeof item === 'string' && item !== '') args.push(`--${item}`);
    else if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
      const entries = Object.entries(item);
      if (entries.length !== 1 || !isScalar(entries[0]![1])) return bad(expected);
      args.push(pairArg(entries[0]![0], entries[0]![1]));
    } else return bad(expected);
  }
  return ok(args);
}

export type PgParameterValue = string | number | boolean;

function parsePgValue(v: unknown): Check<PgParameterValue> {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))
    ? ok(v)
    : bad('a string, number or boolean');
}

// ---- the builders the schemas use -----------------------------------------

export const f = {
  text: (opts: { nonEmpty?: boolean } = {}) => optionalLeaf(parseText({ nonEmpty: opts.nonEmpty ?? false })),
  requiredText: () => requiredLeaf(parseText({ nonEmpty: true })),
  flag: () => optionalLeaf(parseFlag),
  int: (range: IntRange) => optionalLeaf(parseInteger(range)),
  seconds: (range: IntRange) => optionalLeaf(parseInteger(range, 'an integer number of seconds')),
  fractionalSeconds: (range: IntRange) => optionalLeaf(parseNumber(range, 'a number of seconds')),
  size: () => optionalLeaf(parseSizeValue),
  duration: () => optionalLeaf(parseDurationValue),
  address: (defaultPort?: number) => optionalLeaf(parseAddress(defaultPort)),
  listen: () => optionalLeaf(parseListen),
  hostList: () => optionalLeaf(parseHostList),
  stringList: () => optionalLeaf(parseStringList),
  allowList: () => optionalLeaf(parseAllowList),
  optionList: () => optionalLeaf(parseOptionList),
  oneOf: <T extends string>(values: Readonly<Record<string, T>>, expected: string) =>
    optionalLeaf(parseEnum(values, expected)),
  pgValue: () => requiredLeaf(parsePgValue),
  labelName: () => optionalLeaf(parseLabelName),
  labelValue: () => optionalLeaf(parseLabelValue),
  any: () => z.unknown(),
};

/** A map section: absent or null reads as `{}` so that missing keys inside it are reported by their full path. */
export function section<S extends z.core.$ZodLooseShape>(shape: S) {
  return z.preprocess(
    (v) => (v === null || v === undefined ? {} : v),
    z.object(shape, { error: 'expected a map' }),
  );
}

/**
 * A section whose presence means something (`kubernetes:` turns a module on): absent reads as
 * undefined, while an empty value (`kubernetes:`, YAML null) reads as `{}`.
 */
export function optionalSection<S extends z.core.$ZodLooseShape>(shape: S) {
  return z.preprocess((v) => (v === null ? {} : v), z.object(shape, { error: 'expected a map' }).optional());
}

/** A section that also accepts keys it does not name (user tags). */
export function openSection<S extends z.core.$ZodLooseShape>(shape: S) {
  return z.preprocess(
    (v) => (v === null || v === undefined ? {} : v),
    z.looseObject(shape, { error: 'expected a map' }),
  );
}

/** A free-form map (`postgresql.parameters`): any key, values checked by `value`. */
export function freeMap<V extends z.ZodType>(value: V) {
  return z.preprocess(
    (v) => (v === null || v === undefined ? {} : v),
    z.record(z.string(), value, { error: 'expected a map' }),
  );
}

/** A list whose items are checked by `item`; absent or null reads as undefined. */
export function listOf<I extends z.ZodType>(item: I) {
  return z.preprocess(
    (v) => (v === null ? undefined : v),
    z.array(item, { error: 'expected a list' }).optional(),
  );
}
