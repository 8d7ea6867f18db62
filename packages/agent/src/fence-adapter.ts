import { errorText, type NodeConfig } from '@hapg/core';
import type { FenceClient } from './fence/client.js';
import { perfMsToMonoNs } from './fence/mono.js';
import { assessWatchdog, expectedWatchdogTimeoutMs } from './fence/watchdog-policy.js';
import type { Fence } from './loop/fence-arming.js';
import type { Logger } from './logger.js';

/** The HA loop's view of the fence: deadlines in the loop's monotonic ms, failures logged, never thrown. */
export function fenceAdapter(
  client: FenceClient | null,
  log: Logger,
  watchdog: NodeConfig['watchdog'] = { mode: 'off', device: '/dev/watchdog', safetyMarginMs: 5000 },
): Fence {
  let warned = false;
  let logged = new Set<string>();
  return {
    async arm(deadlineMs, pid, dataDir, ttlMs) {
      if (client === null) return false;
      const wdMs =
        watchdog.mode === 'off' || ttlMs === undefined ? 0 : expectedWatchdogTimeoutMs(watchdog, ttlMs);
      const reply = await client.arm(perfMsToMonoNs(deadlineMs), pid, dataDir, wdMs > 0 ? wdMs : undefined);
      if (!reply.ok && !warned) {
        warned = true;
        log.error({ reply }, 'fence did not arm: a frozen agent would not be fenced');
      } else if (reply.ok) warned = false;
      return reply.ok;
    },
    async watchdogFailure(timing) {
      if (watchdog.mode === 'off') return null;
      // an armed fence reports with every renewal; a disarmed one is asked (required mode), so
      // a device that went away (or came back) shows before the next election
      if (client !== null && watchdog.mode === 'required' && !client.status.armed) await client.ping();
      const a = assessWatchdog(watchdog, client?.status ?? null, timing);
      const now = new Set([...(a.failure === null ? [] : [a.failure]), ...a.warnings]);
      for (const text of now) {
        if (logged.has(text)) continue;
        if (text === a.failure) log.error({ watchdog }, `${text}: this node will not take the leader key`);
        else log.warn({ watchdog }, text);
      }
      if (a.failure === null && [...logged].some((t) => t.startsWith('watchdog required')))
        log.info({ watchdog }, 'watchdog usable again');
      logged = now;
      return a.failure;
    },
    async disarm() {
      if (client === null) return;
      try {
        await client.disarm();
      } catch (e) {
        log.warn({ err: errorText(e) }, 'fence disarm failed');
      }
    },
  };
}
