import { spawn } from 'node:child_process';
import { errorText } from '@hapg/core';
import { split } from 'shlex';

/** How one run of an operator's script ended. */
export interface HookOutcome {
  /** exit code; null when it ended on a signal or never started */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** killed by us: its timeout passed */
  readonly timedOut: boolean;
  /** killed by us: a newer run of the same callback replaced it (Patroni's rule) */
  readonly cancelled: boolean;
  /** it could not be started (not found, not executable): why */
  readonly spawnError: string | null;
  /** the last bytes of its stderr, for the log */
  readonly stderrTail: string;
  readonly durationMs: number;
}

export interface RunningHook {
  readonly done: Promise<HookOutcome>;
  /** kills it and its children (its process group) */
  cancel(): void;
}

const STDERR_TAIL_BYTES = 2048;

/**
 * The argument vector of a configured command: split as Patroni splits it (Python's
 * `shlex.split`, which `shlex` ports), then `extra` appended. Never run through a shell.
 */
export function hookArgv(command: string, extra: readonly string[] = []): string[] {
  return [...split(command), ...extra];
}

/** One-line account of an outcome, for logs and reasons. */
export function describeOutcome(o: HookOutcome): string {
  const err = o.stderrTail.trim() === '' ? '' : `: ${o.stderrTail.trim().split('\n').slice(-3).join(' | ')}`;
  if (o.spawnError !== null) return `could not be started: ${o.spawnError}`;
  if (o.timedOut) return `did not finish within its timeout (killed after ${o.durationMs} ms)${err}`;
  if (o.cancelled) return `cancelled by a newer run after ${o.durationMs} ms`;
  if (o.signal !== null) return `ended on ${o.signal}${err}`;
  return `exited with ${o.code} after ${o.durationMs} ms${err}`;
}

/**
 * Starts `argv` without a shell, in its own process group (so that a timeout or a newer run
 * kills the children a script started too, as Patroni does), stdin closed, stdout dropped.
 * Never rejects: every ending is an outcome.
 */
export function startHook(
  argv: readonly string[],
  opts: { readonly timeoutMs: number; readonly env?: NodeJS.ProcessEnv },
): RunningHook {
  const started = performance.now();
  const [program, ...args] = argv;
  let timedOut = false;
  let cancelled = false;
  let stderr = '';
  let killGroup = () => {};
  const done = new Promise<HookOutcome>((resolve) => {
    const end = (o: Partial<HookOutcome>) =>
      resolve({
        code: null,
        signal: null,
        timedOut,
        cancelled,
        spawnError: null,
        stderrTail: stderr,
        durationMs: Math.round(performance.now() - started),
        ...o,
      });
    if (program === undefined || program === '') {
      end({ spawnError: 'empty command' });
      return;
    }
    const child = spawn(program, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
      env: opts.env ?? process.env,
    });
    killGroup = () => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    child.stderr.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString()).slice(-STDERR_TAIL_BYTES);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, opts.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      end({ spawnError: errorText(e) });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      end({ code, signal });
    });
  });
  return {
    done,
    cancel: () => {
      cancelled = true;
      killGroup();
    },
  };
}
