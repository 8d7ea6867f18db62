import type { CallbackAction, HooksConfig } from '@hapg/core';
import type { CallbackRole, PgChange } from '../executor/ports.js';
import { describeOutcome, hookArgv, type RunningHook, startHook } from './hook-process.js';

export interface CallbackLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * The callback a change calls, Patroni's way: a start, restart or promotion in another role
 * than Postgres last had is `on_role_change` (a demoted primary coming back as a standby, a
 * promotion); otherwise `on_start`, `on_restart`, `on_stop`.
 */
export function callbackFor(
  change: PgChange,
  role: CallbackRole,
  lastRole: CallbackRole | null,
): CallbackAction {
  if (change === 'stopped') return 'on_stop';
  if (change === 'promoted') return 'on_role_change';
  if (lastRole !== null && lastRole !== role) return 'on_role_change';
  return change === 'restarted' ? 'on_restart' : 'on_start';
}

/**
 * Runs `postgresql.callbacks` as Patroni does: `<command> <action> <role> <scope>`, in the
 * background, one at a time — a newer callback kills the one still running, with its
 * children — except `on_reload`, which has a slot of its own. Each run is bounded by
 * `callback_timeout`; its exit code and stderr are logged. Nothing here waits for a script.
 */
export class CallbackRunner {
  #running: RunningHook | null = null;
  #reloading: RunningHook | null = null;
  #lastRole: CallbackRole | null = null;

  constructor(
    private readonly o: {
      readonly config: () => HooksConfig;
      readonly scope: string;
      readonly log: CallbackLog;
      /** tests: every run, with its argv, as it ends */
      readonly onEnded?: (argv: readonly string[], outcome: string) => void;
    },
  ) {}

  /** Postgres changed: run the callback that change calls, if one is configured. */
  changed(change: PgChange, role: CallbackRole): void {
    const action = callbackFor(change, role, this.#lastRole);
    this.#lastRole = role;
    this.run(action, role);
  }

  /** Postgres reloaded its configuration. */
  reloaded(role: CallbackRole): void {
    this.run('on_reload', role);
  }

  run(action: CallbackAction, role: CallbackRole): void {
    const config = this.o.config();
    const command = config.callbacks[action];
    if (command === undefined) return;
    let argv: string[];
    try {
      argv = hookArgv(command, [action, role, this.o.scope]);
    } catch (e) {
      this.o.log.warn({ callback: action, err: String(e) }, 'callback command cannot be parsed');
      return;
    }
    const slot = action === 'on_reload' ? this.#reloading : this.#running;
    slot?.cancel();
    const hook = startHook(argv, { timeoutMs: config.callbackTimeoutMs });
    if (action === 'on_reload') this.#reloading = hook;
    else this.#running = hook;
    this.o.log.info({ callback: action, role, argv }, 'running callback');
    void hook.done.then((outcome) => {
      if (this.#running === hook) this.#running = null;
      if (this.#reloading === hook) this.#reloading = null;
      const text = describeOutcome(outcome);
      const fields = { callback: action, role, argv, exitCode: outcome.code, durationMs: outcome.durationMs };
      if (outcome.code === 0) this.o.log.info(fields, 'callback finished');
      else if (outcome.cancelled) this.o.log.info(fields, `callback ${text}`);
      else this.o.log.warn({ ...fields, stderr: outcome.stderrTail.slice(-500) }, `callback ${text}`);
      this.o.onEnded?.(argv, text);
    });
  }

  /** Kills whatever still runs (agent shutdown). */
  close(): void {
    this.#running?.cancel();
    this.#reloading?.cancel();
  }
}
