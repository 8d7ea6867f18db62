import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { type Clock, didYouMean, errorText } from '@hapg/core';
import { systemClock } from '@hapg/platform';
import { resolveApiAccess } from './api/access.js';
import { type HttpFn, nodeHttp } from './api/http.js';
import { createMemberApi, DEFAULT_API_TIMEOUT_MS, type MemberApi } from './api/member-api.js';
import type { Logger } from '@hapg/dcs';
import { type GlobalOptions, splitGlobalArgs } from './args.js';
import { COMMANDS, type CommandContext, findCommand } from './commands/index.js';
import type { Env } from './config-file.js';
import { CliError, EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError } from './errors.js';
import type { Io } from './io.js';
import { type Prompt, processPrompt } from './prompt.js';
import { type ClusterStore, openEtcdReader } from './reader.js';
import { type ConnectionSettings, type LoadConfigFile, resolveSettings } from './settings.js';
import { VERSION } from './version.js';

const GLOBAL_OPTIONS = `global options:
  -c, --config FILE      node or hactl YAML (scope, namespace, etcd3.hosts); env HACTL_CONFIG
  --scope NAME           cluster name; env HACTL_SCOPE
  --etcd HOST:PORT[,..]  etcd endpoints (default 127.0.0.1:2379); env HACTL_ETCD
  --namespace NS         key namespace (default /service); env HACTL_NAMESPACE
  -o, --output FORMAT    table (default), json or yaml
  --auth USER:PASSWORD   credentials for the members' REST API; env HACTL_AUTH
                         (default: ctl.authentication or restapi.authentication of -c)
  --cacert FILE          CA bundle for https api_urls (default: ctl.cacert of -c)
  --debug                log etcd calls and print stack traces
  -h, --help             this help, or a command's with 'hactl <command> --help'
  --version              print the version`;

function commandList(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length), 'version'.length);
  const lines = [...COMMANDS.map((c) => [c.name, c.summary]), ['version', 'print the version']].map(
    ([name, summary]) => `  ${name!.padEnd(width)}  ${summary}`,
  );
  return `commands:\n${lines.join('\n')}`;
}

export function mainUsage(): string {
  return `usage: hactl [global options] <command> [command options]\n\n${commandList()}\n\n${GLOBAL_OPTIONS}`;
}

/** Everything runCli needs from the outside world; tests replace each piece. */
export interface CliDeps {
  readonly io: Io;
  readonly env: Env;
  /** defaults to the real etcd reader */
  readonly openReader?: (settings: ConnectionSettings, opts: { debug: boolean }) => Promise<ClusterStore>;
  /** defaults to node's http/https with `--cacert` */
  readonly http?: HttpFn;
  /** reads `--cacert` and the config file for API credentials; defaults to fs */
  readonly readFile?: (path: string) => string;
  readonly prompt?: Prompt;
  readonly clock?: Clock;
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly loadConfigFile?: LoadConfigFile;
  /** Ctrl-C; defaults to a SIGINT handler installed when a command asks for it */
  readonly interrupted?: () => AbortSignal;
  readonly wallMs?: () => number;
}

/** Runs one hactl invocation and resolves with its exit code; never throws. */
export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  const { io } = deps;
  let debug = argv.includes('--debug');
  try {
    const { globals, verb, rest } = splitGlobalArgs(argv, mainUsage());
    debug = globals.debug;
    if (globals.version || verb === 'version') {
      io.out(`hactl ${VERSION}\n`);
      return EXIT_OK;
    }
    if (verb === null) {
      if (globals.help) {
        io.out(`${mainUsage()}\n`);
        return EXIT_OK;
      }
      throw new UsageError('no command given', mainUsage());
    }
    const command = findCommand(verb);
    if (command === undefined) {
      const guess = didYouMean(
        verb,
        COMMANDS.map((c) => c.name),
      );
      throw new UsageError(
        `unknown command ${JSON.stringify(verb)}${guess === null ? '' : ` (did you mean ${guess}?)`}`,
        mainUsage(),
      );
    }
    if (globals.help) {
      io.out(`${command.usage}\n\n${GLOBAL_OPTIONS}\n`);
      return EXIT_OK;
    }
    return await command.run(rest, makeContext(globals, command.usage, deps));
  } catch (e) {
    return reportError(e, io, debug);
  }
}

function makeContext(globals: GlobalOptions, usage: string, deps: CliDeps): CommandContext {
  let settings: ConnectionSettings | null = null;
  const resolve = () => {
    settings ??= resolveSettings(globals, deps.env, usage, deps.loadConfigFile);
    return settings;
  };
  const openReader =
    deps.openReader ?? ((s, o) => openEtcdReader(s, o.debug ? { logger: stderrLogger(deps.io) } : {}));
  return {
    io: deps.io,
    format: globals.output,
    settings: resolve,
    openReader: () => openReader(resolve(), { debug: globals.debug }),
    interrupted: deps.interrupted ?? onSigint,
    wallMs: deps.wallMs ?? Date.now,
    api: () => makeApi(globals, deps),
    prompt: deps.prompt ?? processPrompt(),
    clock: deps.clock ?? systemClock,
    sleep: deps.sleep ?? ((ms, signal) => delay(ms, undefined, { signal }).catch(() => undefined)),
  };
}

function makeApi(globals: GlobalOptions, deps: CliDeps): MemberApi {
  const env = (k: string) => (deps.env[k] === undefined || deps.env[k] === '' ? null : deps.env[k]!);
  const access = resolveApiAccess(
    {
      authOption: globals.auth,
      cacertOption: globals.cacert,
      authEnv: env('HACTL_AUTH'),
      configPath: globals.config ?? env('HACTL_CONFIG'),
    },
    deps.readFile,
  );
  const caPem = access.cacert === null ? null : (deps.readFile ?? readCa)(access.cacert);
  return createMemberApi({
    http: deps.http ?? nodeHttp({ caPem }),
    auth: access.auth,
    timeoutMs: DEFAULT_API_TIMEOUT_MS,
  });
}

function readCa(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read --cacert ${path}: ${errorText(e)}`);
  }
}

/** The first call installs a SIGINT handler that aborts instead of killing the process. */
let sigint: AbortController | null = null;
function onSigint(): AbortSignal {
  if (sigint === null) {
    const controller = new AbortController();
    sigint = controller;
    process.once('SIGINT', () => controller.abort());
  }
  return sigint.signal;
}

function reportError(e: unknown, io: Io, debug: boolean): number {
  if (e instanceof UsageError) {
    io.err(`hactl: ${e.message}\n`);
    if (e.usage !== null) io.err(`\n${e.usage}\n`);
    return EXIT_USAGE;
  }
  const known = e instanceof CliError;
  io.err(`hactl: ${known ? e.message : errorText(e)}\n`);
  if (debug && e instanceof Error && e.stack !== undefined) io.err(`${e.stack}\n`);
  return EXIT_FAILED;
}

function stderrLogger(io: Io): Logger {
  const line = (level: string) => (obj: object, msg: string) =>
    io.err(`hactl: ${level}: ${msg} ${JSON.stringify(obj)}\n`);
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}
