import type { MemberName } from '@hapg/core';

/**
 * The Patroni-compatible key layout (contract/README.md):
 * `/<namespace>/<scope>/{leader,members/<name>,config,initialize,history,sync,failover,status,failsafe}`,
 * and hapg's own `release/<name>` (quorum fast failover; Patroni ignores keys it does not know).
 */
export interface ClusterKeys {
  /** `/<namespace>/<scope>/`, with the trailing slash: a list of it matches only this scope */
  readonly prefix: string;
  readonly leader: string;
  readonly membersPrefix: string;
  readonly config: string;
  readonly initialize: string;
  readonly history: string;
  readonly sync: string;
  readonly failover: string;
  readonly status: string;
  readonly failsafe: string;
  readonly releasePrefix: string;
  member(name: MemberName): string;
  release(name: MemberName): string;
}

export const DEFAULT_NAMESPACE = '/service';

/** Singleton keys under the scope prefix, by their suffix. */
export type SingletonKind =
  | 'leader'
  | 'config'
  | 'initialize'
  | 'history'
  | 'sync'
  | 'failover'
  | 'status'
  | 'failsafe';

const SINGLETONS: readonly SingletonKind[] = [
  'leader',
  'config',
  'initialize',
  'history',
  'sync',
  'failover',
  'status',
  'failsafe',
];

export type KeyKind =
  | { readonly kind: SingletonKind }
  | { readonly kind: 'member' | 'release'; readonly name: MemberName };

/** `namespace` may be given as `service`, `/service` or `/service/`. */
export function clusterKeys(namespace: string, scope: string): ClusterKeys {
  const ns = namespace.replace(/^\/+|\/+$/g, '');
  if (scope === '' || scope.includes('/')) throw new RangeError(`invalid scope: ${JSON.stringify(scope)}`);
  const prefix = ns === '' ? `/${scope}/` : `/${ns}/${scope}/`;
  const membersPrefix = `${prefix}members/`;
  const releasePrefix = `${prefix}release/`;
  const named = (under: string) => (name: MemberName) => {
    if (name === '' || name.includes('/'))
      throw new RangeError(`invalid member name: ${JSON.stringify(name)}`);
    return `${under}${name}`;
  };
  return {
    prefix,
    membersPrefix,
    leader: `${prefix}leader`,
    config: `${prefix}config`,
    initialize: `${prefix}initialize`,
    history: `${prefix}history`,
    sync: `${prefix}sync`,
    failover: `${prefix}failover`,
    status: `${prefix}status`,
    failsafe: `${prefix}failsafe`,
    releasePrefix,
    member: named(membersPrefix),
    release: named(releasePrefix),
  };
}

/** What a key under the prefix is; null for keys hapg does not know (ignored). */
export function classifyKey(keys: ClusterKeys, key: string): KeyKind | null {
  if (!key.startsWith(keys.prefix)) return null;
  for (const [under, kind] of [
    [keys.membersPrefix, 'member'],
    [keys.releasePrefix, 'release'],
  ] as const) {
    if (!key.startsWith(under)) continue;
    const name = key.slice(under.length);
    return name === '' || name.includes('/') ? null : { kind, name };
  }
  const rest = key.slice(keys.prefix.length);
  return (SINGLETONS as readonly string[]).includes(rest) ? { kind: rest as SingletonKind } : null;
}
