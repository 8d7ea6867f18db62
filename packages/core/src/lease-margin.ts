/**
 * The safety margin of every local deadline: the lease's (`dcs/deadline.ts`) and the failsafe
 * deadline (docs/failsafe.md). It absorbs clock-rate differences between hosts and the time
 * needed to stop writes (demote, the fence's kill) before etcd, or a member's promise, can
 * let another member lead.
 */
export const MIN_MARGIN_MS = 1000;

/** max(1000 ms, ttl/5). */
export function leaseMarginMs(ttlMs: number): number {
  return Math.max(MIN_MARGIN_MS, Math.floor(ttlMs / 5));
}
