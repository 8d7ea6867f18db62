import { errorText, type LoadedNodeConfig, type NodeConfig } from '@hapg/core';
import { loadNodeConfigFile } from '@hapg/platform';

/**
 * Reloading the node's YAML (SIGHUP, `POST /reload`, `systemctl reload hapg@<name>`).
 *
 * Only what can change under a running agent is taken over; every other change is reported as
 * needing a restart and left as it was, so the agent never runs half on the old file and half
 * on the new (a new `data_dir` adopted by the loop while Postgres runs in the old one).
 */

/** Key paths (internal names) that take effect on reload, and where each one is read. */
const LIVE: readonly string[] = [
  'log.level', // the root logger's level; pino's children follow it
  'tags', // the member key and the election rules read them each loop
  'postgresql.parameters', // rendered and reloaded by the loop when they differ
  'postgresql.skippedParameters',
  'postgresql.pgHba', // rewritten and reloaded by the loop
  'postgresql.usePgRewind', // read when a rejoin needs it
  'postgresql.createReplicaMethods', // read when a replica is (re)created
  'postgresql.basebackupArgs',
  'postgresql.replicaMethods',
  'restapi.authentication', // read by each unsafe request
  'restapi.allowlist', // rebuilt on reload, read by each unsafe request
  'restapi.allowlistIncludeMembers',
];

/** Read only when a cluster is bootstrapped: a change waits for the next bootstrap, never a restart. */
const BOOTSTRAP_ONLY: readonly string[] = ['bootstrap'];

export interface ReloadPlan {
  /** the config the agent runs with from now on: the old one with the live keys of the new */
  readonly config: NodeConfig;
  readonly applied: readonly string[];
  readonly needRestart: readonly string[];
  readonly bootstrapOnly: readonly string[];
}

export type ReloadOutcome =
  | ({ readonly ok: true; readonly warnings: readonly string[] } & ReloadPlan)
  | { readonly ok: false; readonly error: string };

/** Reads and validates the file; a bad file changes nothing and says why (file:line:col). */
export function reloadNodeConfig(
  path: string,
  current: NodeConfig,
  load: (path: string) => LoadedNodeConfig = loadNodeConfigFile,
): ReloadOutcome {
  let loaded: LoadedNodeConfig;
  try {
    loaded = load(path);
  } catch (e) {
    return { ok: false, error: errorText(e) };
  }
  return { ok: true, warnings: loaded.warnings, ...planReload(current, loaded.config) };
}

/** Pure: which changed keys are taken over, which wait for a restart or a bootstrap. */
export function planReload(current: NodeConfig, next: NodeConfig): ReloadPlan {
  const changed = changedPaths(current, next);
  const under = (roots: readonly string[]) => (p: string) =>
    roots.some((r) => p === r || p.startsWith(`${r}.`));
  const applied = changed.filter(under(LIVE));
  const bootstrapOnly = changed.filter(under(BOOTSTRAP_ONLY));
  const needRestart = changed.filter((p) => !applied.includes(p) && !bootstrapOnly.includes(p));
  const config: NodeConfig = {
    ...current,
    log: { ...current.log, level: next.log.level },
    tags: next.tags,
    restapi: {
      ...current.restapi,
      authentication: next.restapi.authentication,
      allowlist: next.restapi.allowlist,
      allowlistIncludeMembers: next.restapi.allowlistIncludeMembers,
    },
    postgresql: {
      ...current.postgresql,
      parameters: next.postgresql.parameters,
      skippedParameters: next.postgresql.skippedParameters,
      pgHba: next.postgresql.pgHba,
      usePgRewind: next.postgresql.usePgRewind,
      createReplicaMethods: next.postgresql.createReplicaMethods,
      basebackupArgs: next.postgresql.basebackupArgs,
      replicaMethods: next.postgresql.replicaMethods,
    },
  };
  return { config, applied, needRestart, bootstrapOnly };
}

/**
 * The paths, two levels deep (`postgresql.dataDir`, `tags.nofailover`), whose values differ.
 * Deeper maps (parameters, replica methods) are reported as one key.
 */
function changedPaths(a: unknown, b: unknown, prefix = '', depth = 0): string[] {
  if (same(a, b)) return [];
  if (depth >= 2 || !isMap(a) || !isMap(b)) return [prefix];
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.flatMap((k) => changedPaths(a[k], b[k], prefix === '' ? k : `${prefix}.${k}`, depth + 1));
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function same(a: unknown, b: unknown): boolean {
  // log.file_size is a bigint, which JSON cannot carry as such
  const text = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x));
  return text(a) === text(b);
}
