/**
 * Sorting a raw config's keys into known, not-implemented (Patroni keys hapg
 * accepts and ignores) and unknown (typos), by walking the zod schema's
 * shapes. The schema is the single list of known keys; nothing is repeated.
 */
import type { z } from 'zod';
import { isPlainMap } from './fields.js';
import type { ConfigPath } from './problems.js';

type Shape = Readonly<Record<string, z.ZodType>>;
type Node = { kind: 'object'; shape: Shape; open: boolean } | { kind: 'array'; element: z.ZodType } | null;

interface AnyDef {
  type: string;
  shape?: Shape;
  catchall?: z.ZodType;
  element?: z.ZodType;
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
  if (WRAPPERS.has(def.type) && def.innerType) return schemaNode(def.innerType);
  if (def.type === 'pipe' && def.in && def.out) return schemaNode(def.in) ?? schemaNode(def.out);
  return null;
}

/** The keys a schema names at `path`, for did-you-mean suggestions. */
export function knownKeysAt(schema: z.ZodType, path: ConfigPath): string[] {
  let node = schemaNode(schema);
  for (const seg of path) {
    if (node?.kind === 'object' && typeof seg === 'string' && node.shape[seg])
      node = schemaNode(node.shape[seg]);
    else if (node?.kind === 'array') node = schemaNode(node.element);
    else return [];
  }
  return node?.kind === 'object' ? Object.keys(node.shape) : [];
}

/** A key path where `*` matches any one segment. */
export type KeyPattern = readonly string[];

export function patternMatches(pattern: KeyPattern, path: ConfigPath): boolean {
  return pattern.length === path.length && pattern.every((seg, i) => seg === '*' || seg === String(path[i]));
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
