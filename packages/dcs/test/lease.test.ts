import { isHapgError } from '@hapg/core';
import { systemClock } from '@hapg/platform';
import { afterEach, describe, expect, it } from 'vitest';
import { LeaseKeeper } from '../src/lease.js';
import { silentLogger } from '../src/logger.js';
import { withRetry } from '../src/retry.js';
import { fakeLeaseBackend } from './fake-backend.js';

const keepers: LeaseKeeper[] = [];
afterEach(async () => {
  await Promise.all(keepers.splice(0).map((k) => k.stop()));
});

function keeper(backend: ReturnType<typeof fakeLeaseBackend>) {
  const k = new LeaseKeeper({
    backend,
    ttlSeconds: 2,
    callTimeoutMs: 300,
    retryTimeoutMs: 500,
    clock: systemClock,
    logger: silentLogger,
  });
  keepers.push(k);
  return k;
}

const once = <T>(k: LeaseKeeper, ev: 'deadline' | 'renewed' | 'lease-lost' | 'granted') =>
  new Promise<T>((resolve) => k.once(ev, (e: unknown) => resolve(e as T)));

describe('LeaseKeeper (fake etcd)', () => {
  it('uses the granted TTL, renews, and clears renewFailingSince on success', async () => {
    const b = fakeLeaseBackend(3);
    const k = keeper(b);
    const info = await k.start();
    expect(info.grantedTtlMs).toBe(3000);
    expect(info.deadlineMs - info.lastAckSendMs).toBeCloseTo(2000, 6);
    const renewed = await once<{ deadlineMs: number; afterDeadline: boolean }>(k, 'renewed');
    expect(renewed.afterDeadline).toBe(false);
    expect(renewed.deadlineMs).toBeGreaterThan(info.deadlineMs);
    expect(k.renewFailingSinceMs()).toBeNull();
  });

  it('fires the deadline from its own timer while keepalives hang, then reports a late renewal', async () => {
    const b = fakeLeaseBackend(2);
    const k = keeper(b);
    await k.start();
    k.setRenewal({ intervalMs: 200, overdueMs: 200 });
    await once(k, 'renewed');
    b.mode = 'hang';
    const hungAtMs = performance.now();
    const fired = await once<{ deadlineMs: number; lastAckSendMs: number; grantedTtlMs: number }>(
      k,
      'deadline',
    );
    const firedAtMs = performance.now();
    expect(firedAtMs).toBeGreaterThanOrEqual(fired.deadlineMs);
    expect(firedAtMs).toBeLessThan(fired.lastAckSendMs + fired.grantedTtlMs);
    expect(firedAtMs).toBeLessThan(hungAtMs + 2000);
    expect(k.renewFailingSinceMs()).not.toBeNull();
    // the loop keeps trying even though each keepalive never answers
    const before = b.keepalives;
    b.mode = 'ok';
    const late = await once<{ afterDeadline: boolean }>(k, 'renewed');
    expect(late.afterDeadline).toBe(true);
    expect(b.keepalives).toBeGreaterThan(before);
    expect(k.renewFailingSinceMs()).toBeNull();
  });

  it("once a keepalive is unanswered for the plan's overdueMs, reports renewals failing since the last acknowledged one", async () => {
    const b = fakeLeaseBackend(2);
    const k = keeper(b);
    await k.start();
    k.setRenewal({ intervalMs: 200, overdueMs: 200 });
    await once(k, 'renewed');
    b.mode = 'hang';
    const hungAtMs = performance.now();
    // ttl 2 s renews every 200 ms: the next keepalive is sent within 200 ms of the hang
    await new Promise((r) => setTimeout(r, 250));
    expect(k.renewFailingSinceMs()).toBeNull(); // in flight, not yet overdue
    await new Promise((r) => setTimeout(r, 250));
    const since = k.renewFailingSinceMs();
    expect(since).not.toBeNull();
    // the keepalive's own timeout (500 ms) has not run out: the hang is seen before it fails,
    // and the grace runs from the last renewal etcd confirmed, at most one period before the hang
    expect(since).toBe(k.info()!.lastAckSendMs);
    expect(since!).toBeLessThanOrEqual(hungAtMs);
    expect(since!).toBeGreaterThan(hungAtMs - 250);
    b.mode = 'ok';
    await once(k, 'renewed');
    expect(k.renewFailingSinceMs()).toBeNull();
  });

  it('renews every ttl/3 at rest, by the plan it is given, and every ttl/10 after a failure', async () => {
    const b = fakeLeaseBackend(2);
    const k = keeper(b);
    await k.start();
    await once(k, 'renewed');
    const count = async (ms: number) => {
      const before = b.keepalives;
      await new Promise((r) => setTimeout(r, ms));
      return b.keepalives - before;
    };
    const rest = await count(2000); // every 666 ms
    expect(rest).toBeGreaterThanOrEqual(2);
    expect(rest).toBeLessThanOrEqual(4);
    k.setRenewal({ intervalMs: 50, overdueMs: 50 }); // raised to the 100 ms floor
    expect(await count(1000)).toBeGreaterThanOrEqual(8);
    k.setRenewal({ intervalMs: 5000, overdueMs: 200 }); // slower than ttl/3: the plan says so
    expect(await count(1000)).toBeLessThanOrEqual(1);
    k.setRenewal({ intervalMs: 100, overdueMs: 100 });
    b.mode = 'fail';
    await new Promise((r) => setTimeout(r, 300));
    k.setRenewal({ intervalMs: 5000, overdueMs: 200 });
    // failing: retried every ttl/10 (200 ms) whatever the plan
    expect(await count(1000)).toBeGreaterThanOrEqual(3);
  }, 15_000);

  it('a plan that ends a quiet spell renews at once, and the grace counts from failingNotBeforeMs', async () => {
    const b = fakeLeaseBackend(2);
    const k = keeper(b);
    await k.start();
    await once(k, 'renewed');
    k.setRenewal({ intervalMs: 5000, overdueMs: 100 });
    await new Promise((r) => setTimeout(r, 400));
    const before = b.keepalives;
    b.mode = 'hang';
    const quietAtMs = performance.now() - 50;
    k.setRenewal({ intervalMs: 100, overdueMs: 100, failingNotBeforeMs: quietAtMs });
    await new Promise((r) => setTimeout(r, 30));
    expect(b.keepalives).toBe(before + 1); // sent at once: its period since the last had passed
    expect(k.renewFailingSinceMs()).toBeNull(); // in flight, not yet overdue
    await new Promise((r) => setTimeout(r, 120));
    // overdue: failing since the quiet sample, later than the last acknowledged renewal
    expect(k.info()!.lastAckSendMs).toBeLessThan(quietAtMs);
    expect(k.renewFailingSinceMs()).toBe(quietAtMs);
  });

  it('a lease etcd no longer knows is reported lost and replaced by a new grant', async () => {
    const b = fakeLeaseBackend(2);
    const k = keeper(b);
    const first = await k.start();
    const lost = once<{ id: string }>(k, 'lease-lost');
    const granted = once<{ id: string }>(k, 'granted');
    b.mode = 'gone';
    expect((await lost).id).toBe(first.id);
    b.mode = 'ok';
    const second = await granted;
    expect(second.id).not.toBe(first.id);
    expect(k.info()?.id).toBe(second.id);
  });

  it('start() surfaces DCS_UNAVAILABLE after retry_timeout', async () => {
    const b = fakeLeaseBackend(2);
    b.mode = 'hang';
    const k = keeper(b);
    const err = await k.start().catch((e: unknown) => e);
    expect(isHapgError(err, 'DCS_UNAVAILABLE')).toBe(true);
  });
});

describe('withRetry', () => {
  it('retries until success within the budget', async () => {
    let n = 0;
    const v = await withRetry(
      async () => {
        if (++n < 3) throw new Error('flaky');
        return 'ok';
      },
      { retryTimeoutMs: 2000, callTimeoutMs: 100, what: 't' },
    );
    expect(v).toBe('ok');
    expect(n).toBe(3);
  });

  it('gives up with DCS_UNAVAILABLE, carrying the last error', async () => {
    const t0 = performance.now();
    const err = await withRetry(
      async () => {
        throw new Error('down');
      },
      { retryTimeoutMs: 300, callTimeoutMs: 100, what: 't' },
    ).catch((e: unknown) => e);
    expect(isHapgError(err, 'DCS_UNAVAILABLE')).toBe(true);
    expect(String((err as Error).message)).toContain('down');
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('does not retry a HapgError', async () => {
    let n = 0;
    const { HapgError } = await import('@hapg/core');
    const err = await withRetry(
      async () => {
        n++;
        throw new HapgError('DCS_CAS_CONFLICT');
      },
      { retryTimeoutMs: 1000, callTimeoutMs: 100, what: 't' },
    ).catch((e: unknown) => e);
    expect(isHapgError(err, 'DCS_CAS_CONFLICT')).toBe(true);
    expect(n).toBe(1);
  });
});
