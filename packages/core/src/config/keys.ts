/**
 * Sorting a raw config's keys into known, not-implemented (Patroni keys hapg
 * accepts and ignores) and unknown (typos), by walking the zod schema's
 * shapes. The schema is the single list of implemented keys (`implementedKeys`
 * lists them) and each document's `*_NOT_IMPLEMENTED` the single list of
 * accepted-but-ignored ones; nothing is repeated.
 */
import type { z } from 'zod';
import { isPlainMap } from './fields.js';
import type { ConfigPath } from './problems.js';

type Shape = Readonly<Record<string, z.ZodType>>;
type Node =
  | { kind: 'object'; shape: Shape; open: boolean }
  | { kind: 'array'; element: z.ZodType }
  /** a free-form map (`slots`, `postgresql.parameters`): any key, each value checked by `element` */
  | { kind: 'record'; element: z.ZodType }
  | null;

interface AnyDef {
  type: string;
  shape?: Shape;
  catchall?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
}

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional']);

function defOf(schema: z.ZodType): AnyDef {
  return (schema as unknown as { _zod: { def: AnyDef } })._zod.def;
}

/** What a schema expects once its wrappers (optional, preprocess, ...) are peeled off. */
export function schemaNode(schema: z.ZodType): Node {
  const def = defOf(schema);
  if (def.type === 'object' && def.shape) {
    const open = def.catchall !== undefined && defOf(def.catchall).type !== 'never';
    return { kind: 'object', shape: def.shape, open };
  }
  if (def.type === 'array' && def.element) return { kind: 'array', element: def.element };
  if (def.type === 'record' && def.valueType) return { kind: 'record', element: def.valueType };
  if (WRAPPERS.has(def.type) && def.innerType) return schemaNode(def.innerType);
  if (def.type === 'pipe' && def.in && def.out) return schemaNode(def.in) ?? schemaNode(def.out);
  return null;
}

/** A key path where `*` matches any one segment. */
export type KeyPattern = readonly string[];

export function patternMatches(pattern: KeyPattern, path: ConfigPath): boolean {
  return pattern.length === path.length && pattern.every((seg, i) => seg === '*' || seg === String(path[i]));
}

/**
 * The keys known at `path`, for did-you-mean suggestions: those the schema names there, then
 * the last segments of the accepted-but-ignored patterns one level below `path` (so that
 * `restapi.allowlst` suggests `allowlist` whether or not hapg implements it).
 */
export function knownKeysAt(
  schema: z.ZodType,
  path: ConfigPath,
  notImplemented: readonly KeyPattern[] = [],
): string[] {
  let node = schemaNode(schema);
  for (const seg of path) {
    if (node?.kind === 'object' && typeof seg === 'string' && Object.hasOwn(node.shape, seg))
      node = schemaNode(node.shape[seg]!);
    else if (node?.kind === 'array' || node?.kind === 'record') node = schemaNode(node.element);
    else {
      node = null;
      break;
    }
  }
  const own = node?.kind === 'object' ? Object.keys(node.shape) : [];
  const ignored = notImplemented
    .filter((p) => p.length === path.length + 1 && patternMatches(p.slice(0, -1), path))
    .map((p) => p[p.length - 1]!)
    .filter((k) => k !== '*');
  return [...new Set([...own, ...ignored])];
}

/**
 * Every key the schema implements, as patterns in schema order: a map's keys, then the keys
 * below them; `*` stands for a free-form map's key or a list's item. A free-form map whose
 * values are not maps (`postgresql.parameters`, `tags.<any>`) is one key.
 */
export function implementedKeys(schema: z.ZodType): KeyPattern[] {
  const out: KeyPattern[] = [];
  const walk = (node: Node, path: readonly string[]): void => {
    if (node?.kind === 'object') {
      for (const [key, child] of Object.entries(node.shape)) {
        out.push([...path, key]);
        walk(schemaNode(child), [...path, key]);
      }
    } else if (node?.kind === 'array' || node?.kind === 'record') {
      const element = schemaNode(node.element);
      if (element?.kind === 'object') walk(element, [...path, '*']);
    }
  };
  walk(schemaNode(schema), []);
  return out;
}

export interface KeySort {
  /** the input with not-implemented and unknown keys removed */
  readonly known: unknown;
  /** full paths of accepted-but-ignored Patroni keys, in document order */
  readonly notImplemented: readonly ConfigPath[];
  /** full paths of keys nobody knows, with their values */
  readonly unknown: readonly { readonly path: ConfigPath; readonly value: unknown }[];
}

/** Own-property assignment that cannot touch a prototype, whatever the key (`__proto__` from JSON). */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

export function sortKeys(
  value: unknown,
  schema: z.ZodType,
  notImplemented: readonly KeyPattern[],
  basePath: ConfigPath = [],
): KeySort {
  const ignored: ConfigPath[] = [];
  const unknown: { path: ConfigPath; value: unknown }[] = [];
  const walk = (v: unknown, node: Node, path: ConfigPath): unknown => {
    if (node?.kind === 'array' && Array.isArray(v)) {
      const element = schemaNode(node.element);
      return v.map((item, i) => walk(item, element, [...path, i]));
    }
    if (node?.kind === 'record' && isPlainMap(v)) {
      const element = schemaNode(node.element);
      // values without keys of their own (`postgresql.parameters`): nothing to sort, and maps that large exist
      if (element === null) return v;
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(v)) setOwn(out, key, walk(child, element, [...path, key]));
      return out;
    }
    if (node?.kind !== 'object' || !isPlainMap(v)) return v;
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(v)) {
      const childPath = [...path, key];
      const childSchema = Object.hasOwn(node.shape, key) ? node.shape[key] : undefined;
      if (notImplemented.some((p) => patternMatches(p, childPath))) ignored.push(childPath);
      else if (childSchema) setOwn(out, key, walk(child, schemaNode(childSchema), childPath));
      else if (node.open) setOwn(out, key, child);
      else unknown.push({ path: childPath, value: child });
    }
    return out;
  };
  const known = walk(value, schemaNode(schema), basePath);
  return { known, notImplemented: ignored, unknown };
}
