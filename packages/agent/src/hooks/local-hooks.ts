import type { HooksConfig } from '@hapg/core';
import type { HooksPort } from '../executor/ports.js';
import type { CallbackLog, CallbackRunner } from './callbacks.js';
import { describeOutcome, hookArgv, startHook } from './hook-process.js';

/**
 * The executor's hooks over real processes: `pre_promote` and `before_stop` are waited for
 * (each bounded by its timeout), the callbacks go to the runner.
 */
export function localHooks(o: {
  readonly config: () => HooksConfig;
  readonly callbacks: CallbackRunner;
  readonly log: CallbackLog;
}): HooksPort {
  return {
    async prePromote() {
      const { prePromote, prePromoteTimeoutMs } = o.config();
      if (prePromote === null) return { ok: true, text: 'no pre_promote configured' };
      let argv: string[];
      try {
        argv = hookArgv(prePromote);
      } catch (e) {
        return { ok: false, text: `pre_promote cannot be parsed: ${String(e)}` };
      }
      o.log.info({ argv }, 'running pre_promote');
      const outcome = await startHook(argv, { timeoutMs: prePromoteTimeoutMs }).done;
      const text = `${argv[0]} ${describeOutcome(outcome)}`;
      const ok = outcome.code === 0 && !outcome.timedOut;
      if (ok) o.log.info({ argv, durationMs: outcome.durationMs }, 'pre_promote succeeded');
      return { ok, text };
    },
    async beforeStop() {
      const { beforeStop, beforeStopTimeoutMs } = o.config();
      if (beforeStop === null) return;
      let argv: string[];
      try {
        argv = hookArgv(beforeStop);
      } catch (e) {
        o.log.warn({ err: String(e) }, 'before_stop cannot be parsed: stopping without it');
        return;
      }
      const outcome = await startHook(argv, { timeoutMs: beforeStopTimeoutMs }).done;
      const fields = { argv, exitCode: outcome.code, durationMs: outcome.durationMs };
      // Patroni ignores its exit code too: the stop goes on whatever it says
      if (outcome.code === 0) o.log.info(fields, 'before_stop finished');
      else
        o.log.warn(
          { ...fields, stderr: outcome.stderrTail.slice(-500) },
          `before_stop ${describeOutcome(outcome)}`,
        );
    },
    changed: (change, role) => o.callbacks.changed(change, role),
  };
}
