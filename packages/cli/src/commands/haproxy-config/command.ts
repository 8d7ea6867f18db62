import { parseSize } from '@hapg/core';
import { parseCommandArgs } from '../../args.js';
import { UsageError } from '../../errors.js';
import { type Command, withReader } from '../command.js';
import { runHaproxyConfig } from './haproxy-config.js';
import { DEFAULT_HAPROXY_LAYOUT } from './render.js';

const USAGE = `usage: hactl haproxy-config [-f|--file FILE] [--primary-port [ADDR:]PORT] [--replica-port [ADDR:]PORT]
                            [--stats-port [ADDR:]PORT | --no-stats] [--lag SIZE] [global options]

Writes an HAProxy config from the cluster's member keys, in the shape of
deploy/haproxy/haproxy.cfg: every member is a server at the Postgres host:port
of its conn_url, checked on the REST port of its api_url.
  -f, --file FILE              write FILE (atomically; left alone when unchanged) instead of stdout
  --primary-port [ADDR:]PORT   writes listener, up where /primary answers 200 (default *:5000)
  --replica-port [ADDR:]PORT   reads listener, round robin over /replica (default *:5001)
  --stats-port [ADDR:]PORT     HAProxy's stats page (default 127.0.0.1:7000)
  --no-stats                   no stats page
  --lag SIZE                   check /replica?lag=SIZE (bytes, or 16MB, 1GB, ...): only replicas
                               at most SIZE behind the leader take reads (default: no limit)
-o json|yaml prints the servers and the config as data (for your own template).`;

const BIND_ADDR = /^(\*|\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)$/;

/** `5000` → `*:5000`; `10.0.0.5:5000`, `[::]:5000` and `*:5000` as given. */
export function parseBind(text: string, defaultAddr: string, flag: string): string {
  const m = /^(?:(.*):)?(\d{1,5})$/.exec(text);
  const port = Number(m?.[2]);
  const addr = m?.[1] ?? defaultAddr;
  if (m === null || port < 1 || port > 65535 || !BIND_ADDR.test(addr)) {
    throw new UsageError(
      `${flag} must be PORT or ADDR:PORT (e.g. 5000, 10.0.0.5:5000, [::]:5000), got ${JSON.stringify(text)}`,
      USAGE,
    );
  }
  return `${addr}:${port}`;
}

/** `--lag` in the syntax the agents' `?lag=` accepts, without spaces for the URL. */
export function parseLag(text: string): string {
  try {
    parseSize(text);
  } catch {
    throw new UsageError(
      `--lag must be a size (bytes, or e.g. 16MB, 1GB), got ${JSON.stringify(text)}`,
      USAGE,
    );
  }
  return text.replace(/\s+/g, '');
}

function portOf(bind: string): string {
  return bind.slice(bind.lastIndexOf(':') + 1);
}

export const haproxyConfigCommand: Command = {
  name: 'haproxy-config',
  summary: 'write an HAProxy config (primary and replica ports) from the member keys',
  usage: USAGE,
  async run(args, ctx) {
    const { values } = parseCommandArgs(
      args,
      {
        file: { type: 'string', short: 'f' },
        'primary-port': { type: 'string' },
        'replica-port': { type: 'string' },
        'stats-port': { type: 'string' },
        'no-stats': { type: 'boolean' },
        lag: { type: 'string' },
      },
      USAGE,
    );
    const text = (k: string) => values[k] as string | undefined;
    if (values['no-stats'] === true && text('stats-port') !== undefined)
      throw new UsageError('--stats-port and --no-stats exclude each other', USAGE);
    const d = DEFAULT_HAPROXY_LAYOUT;
    const primaryBind = parseBind(text('primary-port') ?? d.primaryBind, '*', '--primary-port');
    const replicasBind = parseBind(text('replica-port') ?? d.replicasBind, '*', '--replica-port');
    const statsBind =
      values['no-stats'] === true
        ? null
        : parseBind(text('stats-port') ?? d.statsBind!, '127.0.0.1', '--stats-port');
    const ports = [primaryBind, replicasBind, statsBind].filter((b) => b !== null).map(portOf);
    if (new Set(ports).size !== ports.length)
      throw new UsageError(`the listeners need different ports, got ${ports.join(', ')}`, USAGE);
    const lag = text('lag');
    const layout = {
      ...d,
      primaryBind,
      replicasBind,
      statsBind,
      replicaLag: lag === undefined ? null : parseLag(lag),
    };
    const file = text('file') ?? null;
    if (file === '') throw new UsageError('--file needs a file name', USAGE);
    ctx.settings();
    return withReader(ctx, async (reader) =>
      runHaproxyConfig(await reader.readView(), { layout, file }, ctx.io, ctx.format),
    );
  },
};
