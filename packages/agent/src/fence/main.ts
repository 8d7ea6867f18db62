#!/usr/bin/env node
import { parseFenceArgs, FENCE_USAGE } from './args.js';
import { Fence } from './fence.js';
import { openFenceLog } from './log.js';
import { listenFence } from './server.js';
import { Watchdog } from './watchdog.js';

/**
 * hapg-fence: stops the local primary when the agent's lease deadline passes
 * without a renewal, even if the agent is dead or frozen. Node built-ins only;
 * no etcd, no Postgres connection: nothing here can block for long.
 *
 * Signals: SIGTERM/SIGINT fire at once if armed, then exit (whoever stops the
 * fence without the agent disarming it first is taking protection away while a
 * primary runs; failing safe beats a second writer). SIGHUP is ignored (the fence
 * is detached; a lost terminal is no reason to act).
 */
const args = parseFenceArgs(process.argv.slice(2));
if ('error' in args) {
  process.stderr.write(`hapg-fence: ${args.error}\n${FENCE_USAGE}\n`);
  process.exit(2);
}

const { log, close: closeLog } = openFenceLog(args.logPath);
const watchdog =
  args.watchdogPath === undefined
    ? undefined
    : new Watchdog(args.watchdogPath, args.watchdogIntervalMs, log, {
        ...(args.watchdogTimeoutFile === undefined ? {} : { timeoutFile: args.watchdogTimeoutFile }),
      });
const fence = new Fence({
  log,
  pidFileTimeoutMs: args.pidFileTimeoutMs,
  onChange: (f) => watchdog?.update(f),
  ...(watchdog === undefined ? {} : { watchdogStatus: () => watchdog.status() }),
});

process.on('uncaughtException', (e) =>
  log('error', 'uncaught exception (continuing)', { error: String(e?.stack ?? e) }),
);
process.on('unhandledRejection', (e) =>
  log('error', 'unhandled rejection (continuing)', { error: String(e) }),
);
process.on('SIGHUP', () => log('info', 'SIGHUP ignored'));

let exiting = false;
async function exit(code: number, why: string): Promise<void> {
  if (exiting) return;
  exiting = true;
  log('info', 'fence exiting', { why });
  await server?.close();
  fence.dispose();
  watchdog?.dispose();
  await closeLog();
  process.exit(code);
}

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    void (async () => {
      if (fence.armed) {
        log('warn', `${sig} while armed: firing now`);
        await fence.fire(sig, true);
      }
      await exit(0, sig);
    })();
  });
}

let server: Awaited<ReturnType<typeof listenFence>> | undefined;
try {
  server = await listenFence(args.socketPath, fence, log, () => void exit(0, 'exit requested'));
  log('info', 'fence listening', {
    socket: args.socketPath,
    watchdog: watchdog === undefined ? null : watchdog.status(),
  });
} catch (e) {
  log('error', 'cannot listen', { error: String(e) });
  await closeLog();
  process.exit(3);
}
