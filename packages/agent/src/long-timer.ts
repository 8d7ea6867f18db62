/**
 * A timer for any delay. Node's setTimeout holds at most 2^31 − 1 ms (about 24.8 days) and
 * fires a longer delay after 1 ms — a restart scheduled for next month would run at once — so
 * a longer wait is a chain of shorter ones. Unref'd: a pending timer never keeps the agent up.
 */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export interface LongTimer {
  cancel(): void;
}

export function setLongTimeout(fn: () => void, delayMs: number, nowMs: () => number = Date.now): LongTimer {
  const dueMs = nowMs() + Math.max(0, delayMs);
  let timer: NodeJS.Timeout;
  const arm = () => {
    const leftMs = dueMs - nowMs();
    timer = setTimeout(leftMs > MAX_TIMEOUT_MS ? arm : fn, Math.min(Math.max(0, leftMs), MAX_TIMEOUT_MS));
    timer.unref();
  };
  arm();
  return { cancel: () => clearTimeout(timer) };
}
