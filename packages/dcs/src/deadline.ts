/**
 * Pure lease timing. The local deadline is what makes leadership safe: etcd
 * expires the lease TTL after the *server* received the last keepalive, which
 * is after we sent it, so `send time + TTL` is an upper bound of the server's
 * expiry on our clock; the margin absorbs clock-rate differences and the time
 * needed to act (demote) before the bound.
 */
import { leaseMarginMs } from '@hapg/core';

export { leaseMarginMs, MIN_MARGIN_MS, restRenewIntervalMs } from '@hapg/core';

/** `sendMs + grantedTtlMs − margin`; `sendMs` is when the acked keepalive (or grant) was sent. */
export function leaseDeadlineMs(sendMs: number, grantedTtlMs: number): number {
  return sendMs + grantedTtlMs - leaseMarginMs(grantedTtlMs);
}

export const MIN_KEEPALIVE_INTERVAL_MS = 100;

/** About ttl/10: the retry period after a failed renewal, so several fit inside even the smallest margin. */
export function keepaliveIntervalMs(ttlMs: number): number {
  return Math.max(MIN_KEEPALIVE_INTERVAL_MS, Math.floor(ttlMs / 10));
}

/**
 * One keepalive may wait this long: a quarter of the TTL, at least 500 ms, at
 * most the call timeout — a hung request must not hold the loop past the margin.
 */
export function keepaliveTimeoutMs(ttlMs: number, callTimeoutMs: number): number {
  return Math.min(callTimeoutMs, Math.max(500, Math.floor(ttlMs / 4)));
}

/** Delay before the deadline timer must fire; 0 when already passed. */
export function msUntil(deadlineMs: number, nowMs: number): number {
  return Math.max(0, deadlineMs - nowMs);
}
