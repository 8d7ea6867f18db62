/**
 * Loading the local YAML config: syntax → env overrides → key sorting
 * (known / not implemented / typo) → schema → cross-field rules → defaults.
 * Every problem found on the way is reported at once, each with its file
 * position or the environment variable that set it.
 */
import { type Document, LineCounter, parseDocument } from 'yaml';
import { HapgError } from '../errors.js';
import { CONFIG_DEPTH_MAX, depthProblem } from './depth.js';
import { type DynamicConfig, slotProblems, toDynamicConfig } from './dynamic-schema.js';
import { notImplementedWarning, validateDynamicConfig } from './dynamic.js';
import { nulCharMessage, wideEncodingMessage, wideEncodingOf } from './encoding.js';
import { applyOverrides, type EnvOverride, envOverrides } from './env.js';
import { issueProblems, unknownKeyMessage } from './issues.js';
import { knownKeysAt, setOwn, sortKeys } from './keys.js';
import { duplicateKeys, locate } from './locate.js';
import {
  dynamicNotImplemented,
  NODE_NOT_IMPLEMENTED,
  type NodeConfig,
  nodeConfigSchema,
  parameterWarnings,
  toNodeConfig,
} from './node-schema.js';
import {
  type ConfigPath,
  type ConfigProblem,
  type LocatedProblem,
  pathStartsWith,
  throwIfProblems,
} from './problems.js';
import {
  basebackupProblems,
  customMethodNames,
  methodListProblems,
  parseReplicaMethod,
  type ReplicaMethodConfig,
} from './replica-methods.js';
import { describeValue, yamlErrorText } from './secrets.js';

export interface LoadedNodeConfig {
  readonly config: NodeConfig;
  readonly warnings: readonly string[];
}

export interface ParseNodeConfigOptions {
  /** named in messages: `node.yaml:7:3: ...` */
  readonly fileName: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Places problems: in the environment variable that set the value, else at the YAML node. */
class Placer {
  private readonly problems: LocatedProblem[] = [];

  constructor(
    private readonly fileName: string,
    private readonly doc: Document | null,
    private readonly lc: LineCounter,
    private readonly overrides: readonly EnvOverride[],
  ) {}

  add(p: ConfigProblem, opts: { atKey?: boolean } = {}): void {
    const env = this.envSource(p.path);
    if (env) {
      this.problems.push({ ...p, where: `env ${env.variable}`, order: [Number.POSITIVE_INFINITY, 0] });
      return;
    }
    const pos = this.doc ? locate(this.doc, this.lc, p.path, opts) : null;
    this.problems.push(
      pos
        ? { ...p, where: `${this.fileName}:${pos.line}:${pos.col}`, order: [pos.line, pos.col] }
        : { ...p, where: this.fileName, order: [0, 0] },
    );
  }

  /** a problem with the variable itself (bad name, unparsable value) */
  addFromEnv(variable: string, p: ConfigProblem): void {
    this.problems.push({ ...p, where: `env ${variable}`, order: [Number.POSITIVE_INFINITY, 0] });
  }

  /** the last override (HAPG_ beats PATRONI_) whose path encloses `path` */
  private envSource(path: ConfigPath): EnvOverride | undefined {
    return this.overrides.findLast((o) => o.path.length > 0 && pathStartsWith(path, o.path));
  }

  get all(): readonly LocatedProblem[] {
    return this.problems;
  }
}

/** The `yaml` parser recurses per level and reports running out of stack as an error of the document. */
const TOO_DEEP_FOR_THE_PARSER = `nested too deeply (hapg allows ${CONFIG_DEPTH_MAX} levels of maps and lists)`;

function syntaxProblems(doc: Document, lc: LineCounter, fileName: string): LocatedProblem[] {
  return doc.errors.map((e) => {
    const { line, col } = lc.linePos(e.pos[0]);
    const text = e.message.startsWith('Maximum call stack size exceeded')
      ? TOO_DEEP_FOR_THE_PARSER
      : yamlErrorText(e.message);
    return {
      path: [],
      message: `YAML syntax error: ${text}`,
      where: `${fileName}:${line}:${col}`,
      order: [line, col],
    };
  });
}

/** A key set twice in one map: named with its path and both lines (JS objects keep only one of them). */
function duplicateKeyProblems(doc: Document, lc: LineCounter, fileName: string): LocatedProblem[] {
  return duplicateKeys(doc, lc).map((d) => ({
    path: d.path,
    message: `duplicate key (first set on line ${d.first.line})`,
    where: `${fileName}:${d.at.line}:${d.at.col}`,
    order: [d.at.line, d.at.col],
  }));
}

/**
 * The file as a document and as plain values. Linear in the file's size
 * (`uniqueKeys: false`: duplicates are found by `duplicateKeys` instead).
 * Throws CONFIG_INVALID for a file that is not UTF-8 text, bad syntax,
 * duplicate keys and aliases that do not resolve.
 */
function readDocument(text: string, fileName: string): { doc: Document; lc: LineCounter; value: unknown } {
  const nul = nulCharMessage(text);
  if (nul !== null) throw new HapgError('CONFIG_INVALID', `${fileName}: ${nul}`);
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: false });
  throwIfProblems([...syntaxProblems(doc, lc, fileName), ...duplicateKeyProblems(doc, lc, fileName)]);
  try {
    return { doc, lc, value: doc.toJS() ?? {} };
  } catch (e) {
    const message = `YAML error: ${yamlErrorText(e instanceof Error ? e.message : String(e))}`;
    throw new HapgError('CONFIG_INVALID', `${fileName}: ${message}`);
  }
}

const TOP_LEVEL_KEYS = knownKeysAt(nodeConfigSchema, []);

/** Keys `postgresql` has of its own (known or accepted-but-ignored): no replica method may take one's name. */
const POSTGRESQL_OWN_KEYS = [
  ...knownKeysAt(nodeConfigSchema, ['postgresql']),
  ...NODE_NOT_IMPLEMENTED.filter((p) => p.length === 2 && p[0] === 'postgresql').map((p) => p[1]!),
];

/**
 * Takes the `postgresql.<method>` sections of the listed custom replica
 * methods out of the raw config: the schema cannot name them, so key sorting
 * would call them typos. A method named like a key of `postgresql` keeps
 * that key (the clash is reported by `methodListProblems`).
 */
function takeMethodSections(merged: unknown): { rest: unknown; sections: [string, unknown][] } {
  const root = merged as Record<string, unknown>;
  const pg = root.postgresql;
  if (pg === null || typeof pg !== 'object' || Array.isArray(pg)) return { rest: merged, sections: [] };
  const names = customMethodNames(pg).filter((n) => !POSTGRESQL_OWN_KEYS.includes(n));
  const sections: [string, unknown][] = [];
  const restPg: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(pg)) {
    if (names.includes(k)) sections.push([k, v]);
    else setOwn(restPg, k, v);
  }
  // a listed method without a section still runs (its name is the command)
  for (const n of names) if (!Object.hasOwn(pg, n)) sections.push([n, undefined]);
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(root)) setOwn(rest, k, k === 'postgresql' ? restPg : v);
  return { rest, sections };
}

/** Parses and validates the text of a node's YAML config. Throws CONFIG_INVALID listing every problem. */
export function parseNodeConfig(text: string, opts: ParseNodeConfigOptions): LoadedNodeConfig {
  const { fileName, env = {} } = opts;
  const { doc, lc, value: fromFile } = readDocument(text, fileName);
  const envResult = envOverrides(env, TOP_LEVEL_KEYS);
  const placer = new Placer(fileName, doc, lc, envResult.overrides);
  for (const p of envResult.problems) placer.addFromEnv(p.variable, { path: p.path, message: p.message });
  if (fromFile === null || typeof fromFile !== 'object' || Array.isArray(fromFile)) {
    placer.add({ path: [], message: `expected a map at the top level, got ${describeValue(fromFile, [])}` });
    throwIfProblems(placer.all);
  }

  const merged = applyOverrides(fromFile, envResult.overrides);
  const deep = depthProblem(merged);
  if (deep !== null) {
    placer.add(deep);
    throwIfProblems(placer.all);
  }
  const notImplemented = [...NODE_NOT_IMPLEMENTED, ...dynamicNotImplemented(merged)];
  const methods = takeMethodSections(merged);
  const sorted = sortKeys(methods.rest, nodeConfigSchema, notImplemented);
  for (const u of sorted.unknown) {
    const message = unknownKeyMessage(nodeConfigSchema, u.path, notImplemented);
    placer.add({ path: u.path, message }, { atKey: true });
  }
  const parsed = nodeConfigSchema.safeParse(sorted.known, { reportInput: true });
  if (!parsed.success) {
    for (const p of issueProblems(parsed.error)) placer.add(p);
    throwIfProblems(placer.all);
  }
  const raw = parsed.data!;

  const dcsPath = ['bootstrap', 'dcs'];
  const dcs: DynamicConfig = toDynamicConfig(raw.bootstrap.dcs, {});
  for (const p of [...slotProblems(raw.bootstrap.dcs), ...validateDynamicConfig(dcs)]) {
    placer.add({ path: [...dcsPath, ...p.path], message: p.message });
  }
  const bootstrap = merged.bootstrap as Record<string, unknown> | undefined;
  const dcsJson = (bootstrap?.dcs ?? {}) as Record<string, unknown>;
  const replicaMethods: Record<string, ReplicaMethodConfig> = {};
  for (const p of methodListProblems(raw.postgresql.create_replica_methods, POSTGRESQL_OWN_KEYS))
    placer.add(p);
  for (const p of basebackupProblems(raw.postgresql.basebackup)) placer.add(p);
  for (const [name, section] of methods.sections) {
    const r = parseReplicaMethod(name, section);
    for (const p of r.problems) placer.add(p, { atKey: p.message.startsWith('expected a parameter name') });
    if (r.method) setOwn(replicaMethods, name, r.method);
  }
  const built = toNodeConfig(raw, dcs, dcsJson, replicaMethods);
  for (const p of built.problems) placer.add(p);
  throwIfProblems(placer.all);

  const warnings = [
    ...notImplementedWarning(fileName, sorted.notImplemented),
    ...parameterWarnings(built.config).map((w) => `${fileName}: ${w}`),
  ];
  return { config: built.config, warnings };
}

const UTF8 = new TextDecoder();

/**
 * Parses a node's config file from its bytes (reading them is the caller's: `loadNodeConfigFile`
 * in `@hapg/platform`). A file in UTF-16 or UTF-32 is refused with one line that quotes none of
 * it; anything else is decoded as UTF-8, a byte order mark dropped, and parsed.
 */
export function parseNodeConfigBytes(bytes: Uint8Array, opts: ParseNodeConfigOptions): LoadedNodeConfig {
  const wide = wideEncodingOf(bytes);
  if (wide !== null) throw new HapgError('CONFIG_INVALID', `${opts.fileName}: ${wideEncodingMessage(wide)}`);
  return parseNodeConfig(UTF8.decode(bytes), opts);
}
