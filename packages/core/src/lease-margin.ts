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

/**
 * How often a lease is renewed while nothing asks for more (replicas; a leader whose commits
 * nothing could lose, see `leaderRenewal`): a third of the TTL, at least 100 ms. A failed
 * renewal is retried every ttl/10, so a renewal that fails still leaves several tries before
 * the deadline (ttl − ttl/5).
 */
export function restRenewIntervalMs(ttlMs: number): number {
  return Math.max(100, Math.floor(ttlMs / 3));
}
