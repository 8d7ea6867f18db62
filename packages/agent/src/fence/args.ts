/** Command line of the fence program. Pure, so it is unit-tested. */
export interface FenceArgs {
  readonly socketPath: string;
  readonly logPath?: string;
  readonly watchdogPath?: string;
  readonly watchdogIntervalMs: number;
  /** read the device's timeout (seconds) from this file instead of sysfs */
  readonly watchdogTimeoutFile?: string;
  readonly pidFileTimeoutMs: number;
}

export const FENCE_USAGE =
  'usage: hapg-fence --socket <path> [--log <file>] [--watchdog /dev/watchdog] [--watchdog-interval-ms 1000] [--watchdog-timeout-file <file>] [--pidfile-timeout-ms 200]';

export function parseFenceArgs(argv: readonly string[]): FenceArgs | { error: string } {
  const values = new Map<string, string>();
  const known = [
    '--socket',
    '--log',
    '--watchdog',
    '--watchdog-interval-ms',
    '--watchdog-timeout-file',
    '--pidfile-timeout-ms',
  ];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] ?? '';
    const eq = flag.indexOf('=');
    const [name, inline] = eq > 0 ? [flag.slice(0, eq), flag.slice(eq + 1)] : [flag, undefined];
    if (!known.includes(name)) return { error: `unknown argument ${JSON.stringify(flag)}` };
    const value = inline ?? argv[++i];
    if (value === undefined || value === '') return { error: `${name} needs a value` };
    values.set(name, value);
  }
  const socketPath = values.get('--socket');
  if (socketPath === undefined) return { error: '--socket is required' };
  const watchdogIntervalMs = positiveInt(values.get('--watchdog-interval-ms'), 1000);
  const pidFileTimeoutMs = positiveInt(values.get('--pidfile-timeout-ms'), 200);
  if (watchdogIntervalMs === undefined) return { error: '--watchdog-interval-ms must be a positive integer' };
  if (pidFileTimeoutMs === undefined) return { error: '--pidfile-timeout-ms must be a positive integer' };
  const logPath = values.get('--log');
  const watchdogPath = values.get('--watchdog');
  const watchdogTimeoutFile = values.get('--watchdog-timeout-file');
  return {
    socketPath,
    watchdogIntervalMs,
    pidFileTimeoutMs,
    ...(logPath === undefined ? {} : { logPath }),
    ...(watchdogPath === undefined ? {} : { watchdogPath }),
    ...(watchdogTimeoutFile === undefined ? {} : { watchdogTimeoutFile }),
  };
}

function positiveInt(raw: string | undefined, fallback: number): number | undefined {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
