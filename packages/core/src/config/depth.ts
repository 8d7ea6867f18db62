/**
 * The bound on how deeply maps and lists nest in a config document: the
 * dynamic config (etcd key, `PATCH`/`PUT /config`, `bootstrap.dcs`) and the
 * node YAML. Checked first, without recursion, so that nothing recursive
 * after it (the merge, zod, JSON and YAML printers, pino) can run out of
 * stack on a hostile document.
 */
import type { ConfigPath, ConfigProblem } from './problems.js';

/**
 * 32 levels. hapg's own keys nest at most 3 deep in the dynamic config
 * (`slots.<name>.type`) and 5 in the node YAML (`bootstrap.dcs.slots.<name>.type`);
 * 32 leaves room for keys of other tools and later versions (kept in `extra`),
 * and stays two orders of magnitude below the ~4 000 levels where recursive
 * code first overflowed the stack (a 5 000-level `PATCH /config` answered 503).
 */
export const CONFIG_DEPTH_MAX = 32;

/** How many leading path segments a depth problem names: enough to find it, never a long path. */
const PATH_SHOWN_MAX = 3;

/**
 * A problem when `value` nests maps and lists more than `max` levels deep
 * (the root map is level 1), at the first few segments of the path that does;
 * null otherwise. Iterative; a cyclic reference (a YAML alias inside its own
 * anchor) is cut off by the bound itself.
 */
export function depthProblem(
  value: unknown,
  opts: { basePath?: ConfigPath; max?: number } = {},
): ConfigProblem | null {
  const { basePath = [], max = CONFIG_DEPTH_MAX } = opts;
  const stack: { v: unknown; depth: number; head: ConfigPath }[] = [{ v: value, depth: 1, head: [] }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { v, depth, head } = item;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) {
      return {
        path: [...basePath, ...head],
        message: `nested more than ${max} levels deep (maps and lists inside each other)`,
      };
    }
    const entries: [string | number, unknown][] = Array.isArray(v)
      ? v.map((x, i) => [i, x])
      : Object.entries(v as Record<string, unknown>);
    for (const [k, child] of entries) {
      if (child !== null && typeof child === 'object')
        stack.push({ v: child, depth: depth + 1, head: head.length < PATH_SHOWN_MAX ? [...head, k] : head });
    }
  }
  return null;
}
