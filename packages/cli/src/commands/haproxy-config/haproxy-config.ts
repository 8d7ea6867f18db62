import { chmod, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { type ClusterView, errorText, type Member } from '@hapg/core';
import { CliError } from '../../errors.js';
import type { Io } from '../../io.js';
import { hostPortOf } from '../../member-host.js';
import { type OutputFormat, renderData } from '../../output/index.js';
import {
  haproxyAddress,
  haproxyServerNames,
  type HaproxyLayout,
  type HaproxyServer,
  isHaproxyHost,
  renderHaproxyConfig,
} from './render.js';

/** A member left out of the config, and why (printed as a warning). */
export interface SkippedMember {
  readonly member: string;
  readonly reason: string;
}

const DEFAULT_API_PORTS: Readonly<Record<string, number>> = { 'http:': 80, 'https:': 443 };

/** `[::1]` → `::1`: URL keeps the brackets, HAProxy's `addr` wants none. */
function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** A member key as an HAProxy server, or the reason it cannot be one. */
export function haproxyServerOf(m: Member): HaproxyServer | SkippedMember {
  const pg = hostPortOf(m.connUrl);
  if (pg === null) return { member: m.name, reason: `conn_url ${JSON.stringify(m.connUrl)} is not a URL` };
  let api: URL;
  try {
    api = new URL(m.apiUrl);
  } catch {
    return { member: m.name, reason: `api_url ${JSON.stringify(m.apiUrl)} is not a URL` };
  }
  const defaultApiPort = DEFAULT_API_PORTS[api.protocol];
  if (defaultApiPort === undefined)
    return { member: m.name, reason: `api_url ${JSON.stringify(m.apiUrl)} is not http or https` };
  const host = unbracket(pg.host);
  const checkHost = unbracket(api.hostname);
  for (const h of [host, checkHost]) {
    if (!isHaproxyHost(h))
      return { member: m.name, reason: `host ${JSON.stringify(h)} is not usable by HAProxy` };
  }
  return {
    member: m.name,
    host,
    port: pg.port,
    checkHost,
    checkPort: api.port === '' ? defaultApiPort : Number(api.port),
    checkTls: api.protocol === 'https:',
  };
}

/**
 * Every member of the view that has a usable conn_url and api_url, by name
 * (not leader first: a failover must not change the config, or every
 * regeneration would reload HAProxy).
 */
export function haproxyServers(view: ClusterView): { servers: HaproxyServer[]; skipped: SkippedMember[] } {
  const servers: HaproxyServer[] = [];
  const skipped: SkippedMember[] = [];
  const members = [...view.members.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const m of members) {
    const s = haproxyServerOf(m);
    if ('reason' in s) skipped.push(s);
    else servers.push(s);
  }
  return { servers, skipped };
}

export interface HaproxyConfigResult {
  readonly config: string;
  readonly servers: readonly HaproxyServer[];
  readonly skipped: readonly SkippedMember[];
}

/** The config for the view's members; CliError (exit 1) when no member can be a server. */
export function buildHaproxyConfig(
  view: ClusterView,
  layout: Omit<HaproxyLayout, 'header'>,
): HaproxyConfigResult {
  const { servers, skipped } = haproxyServers(view);
  if (servers.length === 0) {
    const why =
      view.members.size === 0
        ? 'has no members (is the scope or namespace right?)'
        : `has no member HAProxy can use (${skipped.map((s) => `${s.member}: ${s.reason}`).join('; ')})`;
    throw new CliError(`cluster ${JSON.stringify(view.scope)} ${why}`);
  }
  const header = [
    `HAProxy in front of hapg cluster ${JSON.stringify(view.scope)}, written by \`hactl haproxy-config\` from its member keys:`,
    '  server <member> <Postgres host:port of conn_url> check port <REST port of api_url>',
    'Write it again when members come or go; a failover changes nothing here.',
  ];
  return { config: renderHaproxyConfig(servers, { ...layout, header }), servers, skipped };
}

/** `-o json|yaml`: the servers as data (for your own template), and the config text. */
export function toHaproxyJson(result: HaproxyConfigResult, file: string | null, changed: boolean) {
  const names = haproxyServerNames(result.servers.map((s) => s.member));
  return {
    file,
    changed,
    servers: result.servers.map((s, i) => ({
      member: s.member,
      server: names[i],
      address: haproxyAddress(s.host, s.port),
      check: haproxyAddress(s.checkHost, s.checkPort),
      check_tls: s.checkTls,
    })),
    skipped: result.skipped,
    config: result.config,
  };
}

const NEW_FILE_MODE = 0o644;

/**
 * Writes `text` to `file` by rename, so HAProxy never reads half a file, with
 * the old file's mode (0644 for a new one); an unchanged file is left alone.
 * Resolves with whether it was written.
 */
export async function writeConfigFile(file: string, text: string): Promise<boolean> {
  const old = await readFile(file, 'utf8').catch(() => null);
  if (old === text) return false;
  const tmp = `${file}.hactl-${process.pid}.tmp`;
  try {
    const mode = old === null ? NEW_FILE_MODE : (await stat(file)).mode & 0o7777;
    await writeFile(tmp, text);
    await chmod(tmp, mode);
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw new CliError(`cannot write ${file}: ${errorText(e)}`, { cause: e });
  }
  return true;
}

export interface HaproxyConfigOptions {
  readonly layout: Omit<HaproxyLayout, 'header'>;
  /** null: stdout */
  readonly file: string | null;
}

/** The verb: render, warn about skipped members, print or write. */
export async function runHaproxyConfig(
  view: ClusterView,
  opts: HaproxyConfigOptions,
  io: Io,
  format: OutputFormat,
): Promise<number> {
  const result = buildHaproxyConfig(view, opts.layout);
  for (const s of result.skipped)
    io.err(`hactl: warning: member ${JSON.stringify(s.member)} left out: ${s.reason}\n`);
  const changed = opts.file === null ? true : await writeConfigFile(opts.file, result.config);
  if (format !== 'table') {
    io.out(renderData(format, toHaproxyJson(result, opts.file, changed)));
  } else if (opts.file === null) {
    io.out(result.config);
  } else {
    const names = result.servers.map((s) => s.member).join(', ');
    io.out(`${changed ? 'wrote' : 'unchanged:'} ${opts.file} (${result.servers.length} servers: ${names})\n`);
  }
  return 0;
}
