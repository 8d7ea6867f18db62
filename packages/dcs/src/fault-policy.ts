import { GRPCCancelledError, type IOptions, isRecoverableError } from 'etcd3';
import type { HostHealth } from './host-health.js';

/**
 * etcd3's fault handling, tuned (stack-notes #8) without importing cockatiel
 * (not a dependency of ours): etcd3 only ever calls `execute` on a policy and
 * reads `duration`/`next()` of a backoff, so small local objects suffice.
 */
type FaultHandling = NonNullable<IOptions['faultHandling']>;
type HostPolicy = ReturnType<NonNullable<FaultHandling['host']>>;
type Backoff = NonNullable<FaultHandling['watchBackoff']>;

/** Thrown without calling through, so etcd3 moves on to the next host. */
export class CircuitOpenError extends Error {
  constructor(host: string) {
    super(`circuit open for etcd host ${host}`);
    this.name = 'CircuitOpenError';
  }
}

/** Runs every call through: the store does its own retries. */
export function passThroughPolicy(): HostPolicy {
  return { execute: async (fn: (ctx: unknown) => unknown) => fn({}) } as unknown as HostPolicy;
}

/**
 * Per-host breaker over the shared {@link HostHealth}: a member away is skipped while another
 * is not (etcd3 then tries the next), a recoverable failure is recorded, a unary answer marks
 * the member up. A stream that merely opened proves nothing — grpc opens it without a round
 * trip — so it is not counted (it was, and a cut member looked healthy again at every new
 * stream); nor is CANCELLED, which is our own cancel of a stream etcd3 reports back here.
 */
export function hostBreaker(host: string, health: HostHealth): HostPolicy {
  const execute = async (fn: (ctx: unknown) => unknown) => {
    if (health.skip(host)) throw new CircuitOpenError(host);
    try {
      const result = await fn({});
      if (!isStream(result)) health.succeeded(host);
      return result;
    } catch (e) {
      if (e instanceof Error && isRecoverableError(e) && !(e instanceof GRPCCancelledError)) {
        // A refused connection means the member is down, not slow: skip it at once, or
        // etcd3's random host pick keeps spending retries (and their growing backoff) on it.
        health.failed(host, isRefused(e) ? 'hard' : 'soft');
      }
      throw e;
    }
  };
  return { execute } as unknown as HostPolicy;
}

/** A grpc stream (what etcd3's stream calls resolve to) rather than a unary answer. */
function isStream(result: unknown): boolean {
  return (
    typeof result === 'object' &&
    result !== null &&
    typeof (result as { on?: unknown }).on === 'function' &&
    typeof (result as { cancel?: unknown }).cancel === 'function'
  );
}

/** grpc-js reports a connect that failed (ECONNREFUSED etc.) as UNAVAILABLE "No connection established". */
export function isRefused(e: Error): boolean {
  return /No connection established|ECONNREFUSED/.test(e.message);
}

/** Watch reconnect backoff: doubling from `initialMs`, capped at `maxMs` (default reached 30 s). */
export function cappedBackoff(initialMs: number, maxMs: number): Backoff {
  const make = (ms: number): Backoff =>
    ({
      duration: ms,
      next: () => make(Math.min(ms * 2, maxMs)),
    }) as unknown as Backoff;
  return make(initialMs);
}
