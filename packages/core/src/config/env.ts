/**
 * Environment overrides of the local config. Two spellings:
 * - Patroni's well-known variables (`PATRONI_NAME`, `PATRONI_POSTGRESQL_DATA_DIR`, ...), taken as plain strings;
 * - `HAPG_` + the key path in upper case with `__` between levels
 *   (`HAPG_POSTGRESQL__DATA_DIR`), its value parsed as YAML (so `10` is a number, `'10'` a string).
 * HAPG_ wins over PATRONI_ for the same key; both win over the file.
 */
import { parse as parseYaml } from 'yaml';
import { isPlainMap } from './fields.js';
import { setOwn } from './keys.js';
import type { ConfigPath, ConfigProblem } from './problems.js';
import { yamlErrorText } from './secrets.js';

export interface EnvOverride {
  readonly variable: string;
  readonly path: ConfigPath;
  readonly value: unknown;
}

/** Patroni's variables hapg reads, and the key each sets. */
export const PATRONI_ENV: Readonly<Record<string, string>> = {
  PATRONI_SCOPE: 'scope',
  PATRONI_NAME: 'name',
  PATRONI_NAMESPACE: 'namespace',
  PATRONI_RESTAPI_LISTEN: 'restapi.listen',
  PATRONI_RESTAPI_CONNECT_ADDRESS: 'restapi.connect_address',
  PATRONI_RESTAPI_USERNAME: 'restapi.authentication.username',
  PATRONI_RESTAPI_PASSWORD: 'restapi.authentication.password',
  PATRONI_RESTAPI_CERTFILE: 'restapi.certfile',
  PATRONI_RESTAPI_KEYFILE: 'restapi.keyfile',
  PATRONI_RESTAPI_CAFILE: 'restapi.cafile',
  PATRONI_RESTAPI_VERIFY_CLIENT: 'restapi.verify_client',
  PATRONI_ETCD3_HOST: 'etcd3.host',
  PATRONI_ETCD3_HOSTS: 'etcd3.hosts',
  PATRONI_ETCD3_PROTOCOL: 'etcd3.protocol',
  PATRONI_ETCD3_USERNAME: 'etcd3.username',
  PATRONI_ETCD3_PASSWORD: 'etcd3.password',
  PATRONI_ETCD3_CACERT: 'etcd3.cacert',
  PATRONI_ETCD3_CERT: 'etcd3.cert',
  PATRONI_ETCD3_KEY: 'etcd3.key',
  PATRONI_POSTGRESQL_LISTEN: 'postgresql.listen',
  PATRONI_POSTGRESQL_CONNECT_ADDRESS: 'postgresql.connect_address',
  PATRONI_POSTGRESQL_DATA_DIR: 'postgresql.data_dir',
  PATRONI_POSTGRESQL_BIN_DIR: 'postgresql.bin_dir',
  PATRONI_POSTGRESQL_PGPASS: 'postgresql.pgpass',
  PATRONI_SUPERUSER_USERNAME: 'postgresql.authentication.superuser.username',
  PATRONI_SUPERUSER_PASSWORD: 'postgresql.authentication.superuser.password',
  PATRONI_REPLICATION_USERNAME: 'postgresql.authentication.replication.username',
  PATRONI_REPLICATION_PASSWORD: 'postgresql.authentication.replication.password',
  PATRONI_REWIND_USERNAME: 'postgresql.authentication.rewind.username',
  PATRONI_REWIND_PASSWORD: 'postgresql.authentication.rewind.password',
  PATRONI_LOG_LEVEL: 'log.level',
  PATRONI_LOG_DIR: 'log.dir',
  PATRONI_KUBERNETES_NAMESPACE: 'kubernetes.namespace',
  PATRONI_KUBERNETES_ROLE_LABEL: 'kubernetes.role_label',
  PATRONI_KUBERNETES_LEADER_LABEL_VALUE: 'kubernetes.leader_label_value',
  PATRONI_KUBERNETES_FOLLOWER_LABEL_VALUE: 'kubernetes.follower_label_value',
  PATRONI_KUBERNETES_STANDBY_LEADER_LABEL_VALUE: 'kubernetes.standby_leader_label_value',
  PATRONI_KUBERNETES_TMP_ROLE_LABEL: 'kubernetes.tmp_role_label',
  PATRONI_KUBERNETES_CACERT: 'kubernetes.cacert',
};

export const HAPG_ENV_PREFIX = 'HAPG_';

/**
 * The overrides present in `env`, PATRONI_ ones first so that applying them
 * in order lets HAPG_ win. A `HAPG_` variable counts as a config override
 * when its first segment is a top-level key or it contains `__`; others
 * (`HAPG_CONFIG_FILE`) are left to whoever reads them.
 */
export function envOverrides(
  env: Readonly<Record<string, string | undefined>>,
  topLevelKeys: readonly string[],
): { overrides: EnvOverride[]; problems: (ConfigProblem & { variable: string })[] } {
  const overrides: EnvOverride[] = [];
  const problems: (ConfigProblem & { variable: string })[] = [];
  for (const [variable, key] of Object.entries(PATRONI_ENV)) {
    const text = env[variable];
    if (text === undefined) continue;
    // Patroni reads a list here when the value looks like one.
    const list = variable === 'PATRONI_ETCD3_HOSTS' && text.trim().startsWith('[') ? tryYaml(text) : null;
    overrides.push({ variable, path: key.split('.'), value: list?.ok ? list.value : text });
  }
  for (const variable of Object.keys(env).sort()) {
    if (!variable.startsWith(HAPG_ENV_PREFIX)) continue;
    const path = variable.slice(HAPG_ENV_PREFIX.length).toLowerCase().split('__');
    if (!variable.includes('__') && !topLevelKeys.includes(path[0]!)) continue;
    if (path.some((seg) => seg === '')) {
      problems.push({ variable, path: [], message: 'empty key segment in variable name' });
      continue;
    }
    const parsed = tryYaml(env[variable] ?? '');
    if (parsed.ok) overrides.push({ variable, path, value: parsed.value });
    else problems.push({ variable, path, message: `not a valid YAML value: ${parsed.error}` });
  }
  return { overrides, problems };
}

function tryYaml(
  text: string,
): { ok: true; value: unknown } | { ok: false; error: string; value?: undefined } {
  try {
    // logLevel error: the parser must not print warnings itself (they may quote a secret)
    return { ok: true, value: parseYaml(text, { prettyErrors: false, logLevel: 'error' }) };
  } catch (e) {
    return { ok: false, error: yamlErrorText(e instanceof Error ? e.message : String(e)) };
  }
}

/** A copy of `root` with the overrides set, creating maps along each path. */
export function applyOverrides(root: unknown, overrides: readonly EnvOverride[]): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(isPlainMap(root) ? root : {});
  for (const o of overrides) {
    let node = out;
    for (const seg of o.path.slice(0, -1)) {
      const key = String(seg);
      if (!isPlainMap(node[key])) setOwn(node, key, {});
      node = node[key] as Record<string, unknown>;
    }
    setOwn(node, String(o.path[o.path.length - 1]), o.value);
  }
  return out;
}
