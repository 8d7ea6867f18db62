import { readFileSync } from 'node:fs';
import { errorText, formatHostPort, isHapgError, parseHostPort } from '@hapg/core';
import { loadNodeConfigFile } from '@hapg/platform';
import { parse } from 'yaml';
import { UsageError } from './errors.js';

/** What hactl takes from a config file: where the cluster's keys are. Absent keys are null. */
export interface HactlFileSettings {
  readonly scope: string | null;
  readonly namespace: string | null;
  /** `host:port` */
  readonly hosts: readonly string[] | null;
}

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads `-c FILE`: a node's YAML (the full validated loader, so env overrides
 * and defaults apply exactly as for the agent), or, when that loader rejects
 * it, a small hactl YAML with just `scope`, `namespace` and `etcd3.hosts`
 * (no `name`, no `postgresql.data_dir`, which the node loader requires).
 */
export function loadHactlConfigFile(path: string, env: Env = process.env): HactlFileSettings {
  let nodeError: unknown;
  try {
    const { config } = loadNodeConfigFile(path, env);
    return {
      scope: config.scope,
      namespace: config.namespace,
      hosts: config.etcd3.hosts.map(formatHostPort),
    };
  } catch (e) {
    if (isHapgError(e, 'CONFIG_UNREADABLE')) throw new UsageError(`cannot read config file ${errorText(e)}`);
    if (!isHapgError(e, 'CONFIG_INVALID')) throw e;
    nodeError = e;
  }
  const small = parseSmallConfig(readFileSync(path, 'utf8'), path);
  // a file naming none of the three keys is a broken node config: its own problems say more
  if (small === null) throw new UsageError(`invalid config file: ${errorText(nodeError)}`);
  return small;
}

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The hactl YAML; null when it has none of the keys hactl reads. Pure, for tests. */
export function parseSmallConfig(text: string, fileName: string): HactlFileSettings | null {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new UsageError(`${fileName}: YAML syntax error: ${errorText(e).split('\n')[0]}`);
  }
  if (!isObject(doc)) return null;
  // `etcd3` is what hapg writes; Patroni's older `etcd` section means the same to a reader
  const etcd = doc.etcd3 ?? doc.etcd;
  if (doc.scope === undefined && doc.namespace === undefined && etcd === undefined) return null;
  return {
    scope: optText(doc.scope, 'scope', fileName),
    namespace: optText(doc.namespace, 'namespace', fileName),
    hosts: etcd === undefined || etcd === null ? null : etcdHosts(etcd, fileName),
  };
}

function optText(v: unknown, key: string, fileName: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v.trim() === '')
    throw new UsageError(`${fileName}: ${key} must be a non-empty string`);
  return v.trim();
}

function etcdHosts(etcd: unknown, fileName: string): readonly string[] | null {
  if (!isObject(etcd)) throw new UsageError(`${fileName}: etcd3 must be a map with hosts`);
  const raw = etcd.hosts ?? etcd.host;
  if (raw === undefined || raw === null) return null;
  const list = typeof raw === 'string' ? raw.split(',') : raw;
  if (!Array.isArray(list) || !list.every((h) => typeof h === 'string')) {
    throw new UsageError(`${fileName}: etcd3.hosts must be a list of host:port or a comma-separated string`);
  }
  return parseHostList(list as string[], `${fileName}: etcd3.hosts`);
}

export const DEFAULT_ETCD_PORT = 2379;

/** `host[:port]` items (default port 2379) as `host:port`; a usage error names the bad one. */
export function parseHostList(items: readonly string[], where: string): readonly string[] {
  const hosts = items.map((h) => h.trim()).filter((h) => h !== '');
  if (hosts.length === 0) throw new UsageError(`${where}: no etcd host given`);
  return hosts.map((h) => {
    const hp = parseHostPort(h, DEFAULT_ETCD_PORT);
    if (hp === null) throw new UsageError(`${where}: not a host:port: ${JSON.stringify(h)}`);
    return formatHostPort(hp);
  });
}
