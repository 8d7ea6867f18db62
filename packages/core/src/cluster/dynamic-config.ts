import { parseDynamicConfig } from '../config/dynamic.js';
import type { DynamicConfig } from '../config/dynamic-schema.js';
import { errorText } from '../errors.js';
import { type ClusterView, malformedKey } from '../types.js';

/** Where the effective dynamic config came from. */
export type DynamicConfigSource = 'key' | 'previous' | 'bootstrap';

export interface EffectiveDynamicConfig {
  readonly config: DynamicConfig;
  readonly source: DynamicConfigSource;
  /**
   * Why the stored key was not used: `malformed`, its value is not JSON (the view lists it in
   * `malformed`); `invalid`, its JSON fails the schema or `validateDynamicConfig`. Null when the
   * key was used or there is none.
   */
  readonly problem: { readonly kind: 'malformed' | 'invalid'; readonly error: string } | null;
  /** the used key's warnings (unknown or not implemented keys); empty otherwise */
  readonly warnings: readonly string[];
  /** mod revision of the stored key read (valid or not); null: no key */
  readonly modRevision: string | null;
}

/**
 * The dynamic config a node runs with, from a view of the cluster. One rule for the agent's
 * loop, its REST API and hactl:
 * 1. a `config` key that parses and validates: its config;
 * 2. no `config` key (a new cluster, or deleted): `bootstrap` — the node's `bootstrap.dcs`;
 *    hactl, which has none, passes the defaults;
 * 3. a `config` key that does not parse or validate, or no view at all (etcd not read yet):
 *    `previous`, the config the caller ran with until now, else `bootstrap`. A running agent
 *    never changes its timing because someone stored a bad value, and one started meanwhile
 *    runs on its bootstrap.dcs (it had no previous), as a fresh agent would; a fix is taken at
 *    once. hactl and the REST API of a node without a loop have no previous: they answer with
 *    what a freshly started agent would run on.
 * Pure: problems are returned, logging them (once per write of the key) is the caller's.
 */
export function effectiveDynamicConfig(
  view: ClusterView | null,
  previous: DynamicConfig | null,
  bootstrap: DynamicConfig,
): EffectiveDynamicConfig {
  const fallback = (problem: EffectiveDynamicConfig['problem'], modRevision: string | null) => ({
    config: previous ?? bootstrap,
    source: previous === null ? ('bootstrap' as const) : ('previous' as const),
    problem,
    warnings: [],
    modRevision,
  });
  if (view === null) return fallback(null, null);
  const key = view.config;
  if (key === null) {
    // by kind: a member named "config" has a key ending in /config too
    const bad = malformedKey(view, 'config');
    if (bad !== null) return fallback({ kind: 'malformed', error: bad.error }, bad.modRevision);
    return { config: bootstrap, source: 'bootstrap', problem: null, warnings: [], modRevision: null };
  }
  try {
    const parsed = parseDynamicConfig(key.value, { source: 'etcd config key' });
    return { ...parsed, source: 'key', problem: null, modRevision: key.modRevision };
  } catch (e) {
    return fallback({ kind: 'invalid', error: errorText(e) }, key.modRevision);
  }
}
