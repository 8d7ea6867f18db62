import type { NodeConfig } from '@hapg/core';
import type { FenceClientStatus } from './client.js';

/**
 * The agent's reading of the fence's watchdog against `watchdog.mode` (Patroni's
 * `Watchdog.is_healthy` and `_activate` checks). Pure: the adapter logs and the
 * observer passes `failure` on as `Observation.self.watchdogFailure`.
 *
 * - `off`: nothing (the fence runs without `--watchdog`).
 * - `automatic`: every issue is a warning; the node carries on without the watchdog.
 * - `required`: an issue that leaves no usable watchdog is a `failure`: the node never takes
 *   the leader key, and a holder hands it back (decide()).
 */
export interface WatchdogAssessment {
  /** required mode only: why this node may not lead */
  readonly failure: string | null;
  /** what to log (once per change): the failure, or what automatic mode carries on without */
  readonly warnings: readonly string[];
}

export interface WatchdogTiming {
  readonly ttlMs: number;
  readonly loopWaitMs: number;
}

const FINE: WatchdogAssessment = { failure: null, warnings: [] };

/** ttl − safety_margin: the timeout Patroni would set with WDIOC_SETTIMEOUT */
export function expectedWatchdogTimeoutMs(watchdog: NodeConfig['watchdog'], ttlMs: number): number {
  return ttlMs - watchdog.safetyMarginMs;
}

export function assessWatchdog(
  watchdog: NodeConfig['watchdog'],
  fence: FenceClientStatus | null,
  timing: WatchdogTiming,
): WatchdogAssessment {
  if (watchdog.mode === 'off') return FINE;
  const required = watchdog.mode === 'required';
  const expectedMs = expectedWatchdogTimeoutMs(watchdog, timing.ttlMs);
  const fatal: string[] = [];
  const notes: string[] = [];
  const state = fence?.lastState;
  const wd = state?.watchdog;
  if (fence === null) fatal.push('the watchdog is driven by the fence, and fence.enabled is false');
  else if (state === undefined) fatal.push('the fence (which drives the watchdog) is not reachable');
  else if (wd === undefined)
    fatal.push('the running fence has no watchdog (it was started without --watchdog): restart hapg');
  else {
    if (wd.device !== watchdog.device)
      notes.push(`the running fence uses ${wd.device}, not ${watchdog.device}: restart hapg to change it`);
    if (!wd.healthy) fatal.push(wd.error ?? `${wd.device} cannot be used`);
    if (expectedMs < timing.loopWaitMs)
      fatal.push(
        `ttl − safety_margin (${expectedMs / 1000} s) is shorter than loop_wait (${timing.loopWaitMs / 1000} s)`,
      );
    if (wd.timeoutS !== null && wd.timeoutS * 1000 > expectedMs)
      fatal.push(
        `${wd.device}'s timeout is ${wd.timeoutS} s, longer than ttl − safety_margin = ${expectedMs / 1000} s` +
          ' (hapg cannot set it: no ioctl from Node; set the driver’s timeout, e.g. softdog soft_margin)',
      );
    if (wd.timeoutS === null)
      notes.push(
        `the timeout of ${wd.device} is unknown (sysfs unreadable): it must be at most ttl − safety_margin = ${expectedMs / 1000} s`,
      );
  }
  if (fatal.length === 0) return { failure: null, warnings: notes };
  const text = fatal.join('; ');
  if (required) return { failure: `watchdog required, but ${text}`, warnings: [...notes] };
  return { failure: null, warnings: [`watchdog not used (mode automatic, carrying on): ${text}`, ...notes] };
}
