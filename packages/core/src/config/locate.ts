/**
 * Maps a key path to a line:column in the YAML source, through the
 * document's nodes. Keys point at the key, values at the value, and a
 * missing key at the nearest enclosing key that exists.
 */
import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  type LineCounter,
  type Node,
  type Pair,
  type YAMLMap,
} from 'yaml';
import type { ConfigPath } from './problems.js';

export interface SourcePosition {
  readonly line: number;
  readonly col: number;
}

interface Found {
  readonly key: Node | null;
  readonly value: Node | null;
  /** how many path segments were found */
  readonly depth: number;
}

/** A map's first pair per scalar key, built on the first lookup: locating N problems in a map of N keys stays linear. */
const pairIndex = new WeakMap<YAMLMap, Map<string, Pair>>();

function pairsByKey(map: YAMLMap): Map<string, Pair> {
  let index = pairIndex.get(map);
  if (index === undefined) {
    index = new Map();
    for (const pair of map.items) {
      if (!isPair(pair) || !isScalar(pair.key)) continue;
      const key = String(pair.key.value);
      if (!index.has(key)) index.set(key, pair);
    }
    pairIndex.set(map, index);
  }
  return index;
}

function child(
  doc: Document,
  node: unknown,
  seg: string | number,
): { key: Node | null; value: Node | null } | null {
  const n = isAlias(node) ? node.resolve(doc) : node;
  if (isMap(n)) {
    const pair = pairsByKey(n).get(String(seg));
    return pair ? { key: pair.key as Node, value: (pair.value as Node | null) ?? null } : null;
  }
  if (isSeq(n) && typeof seg === 'number') {
    const item = n.items[seg] as Node | undefined;
    return item ? { key: null, value: item } : null;
  }
  return null;
}

function find(doc: Document, path: ConfigPath): Found {
  let found: Found = { key: null, value: (doc.contents as Node | null) ?? null, depth: 0 };
  for (const seg of path) {
    const next = child(doc, found.value, seg);
    if (!next) return found;
    found = { ...next, depth: found.depth + 1 };
  }
  return found;
}

function startOf(node: Node | null, lc: LineCounter): SourcePosition | null {
  const offset = node?.range?.[0];
  if (offset === undefined) return null;
  const { line, col } = lc.linePos(offset);
  return { line, col };
}

/**
 * Where the problem at `path` is in the file. `atKey` points at the key
 * itself (unknown keys). Null when nothing on the path exists (the file is empty).
 */
export function locate(
  doc: Document,
  lc: LineCounter,
  path: ConfigPath,
  opts: { atKey?: boolean } = {},
): SourcePosition | null {
  const found = find(doc, path);
  if (found.depth === 0) return null;
  const complete = found.depth === path.length;
  // A value written as nothing (`name:`) has no range of its own: use its key.
  const value = complete && !opts.atKey ? startOf(found.value, lc) : null;
  return value ?? startOf(found.key, lc) ?? startOf(found.value, lc);
}

export interface DuplicateKey {
  readonly path: ConfigPath;
  /** the repeated key */
  readonly at: SourcePosition;
  /** where the key was first set in the same map */
  readonly first: SourcePosition;
}

/**
 * Every key set twice in the same map (JS objects keep only one of them), in
 * one pass over the document: the `yaml` package's own check (`uniqueKeys`)
 * compares each key with every other and took 13 s for 40 000 keys.
 * Iterative, so nesting depth cannot exhaust the stack; aliases are not
 * followed (their target is checked where it is written).
 */
export function duplicateKeys(doc: Document, lc: LineCounter): DuplicateKey[] {
  const out: DuplicateKey[] = [];
  const stack: { node: unknown; path: ConfigPath }[] = [{ node: doc.contents, path: [] }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { node, path } = item;
    if (isSeq(node)) {
      node.items.forEach((v, i) => {
        stack.push({ node: v, path: [...path, i] });
      });
    } else if (isMap(node)) {
      const seen = new Map<string, Node>();
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = isScalar(pair.key) ? String(pair.key.value) : null;
        const keyPath = key === null ? path : [...path, key];
        const first = key === null ? undefined : seen.get(key);
        if (key !== null && first === undefined) seen.set(key, pair.key as Node);
        const at = first === undefined ? null : startOf(pair.key as Node, lc);
        const firstAt = first === undefined ? null : startOf(first, lc);
        if (at !== null && firstAt !== null) out.push({ path: keyPath, at, first: firstAt });
        stack.push({ node: pair.value, path: keyPath });
      }
    }
  }
  return out.sort((a, b) => a.at.line - b.at.line || a.at.col - b.at.col);
}
