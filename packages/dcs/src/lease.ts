import { EventEmitter } from 'node:events';
import { type Clock, errorText } from '@hapg/core';
import type { EtcdBackend } from './backend.js';
import {
  keepaliveIntervalMs,
  keepaliveTimeoutMs,
  leaseDeadlineMs,
  MIN_KEEPALIVE_INTERVAL_MS,
  msUntil,
  restRenewIntervalMs,
} from './deadline.js';
import type { Logger } from './logger.js';
import { withRetry, withTimeout } from './retry.js';

export interface LeaseInfo {
  readonly id: string;
  readonly grantedTtlMs: number;
  /** monotonic send time of the last acknowledged keepalive (or of the grant) */
  readonly lastAckSendMs: number;
  /** local monotonic deadline: lastAckSendMs + grantedTtlMs − margin */
  readonly deadlineMs: number;
}

export interface LeaseEvents {
  /** a new lease exists (first grant, or a replacement after loss); lease-bound keys must be rewritten */
  granted: [LeaseInfo];
  /** a keepalive was acknowledged; `afterDeadline`: the deadline had already fired (etcd may revive leases: re-verify) */
  renewed: [LeaseInfo & { readonly afterDeadline: boolean }];
  /** a keepalive failed after the last one succeeded (once per failing spell) */
  failing: [{ readonly sinceMs: number }];
  /** the local deadline passed without a renewal: act as if the lease were gone */
  deadline: [LeaseInfo];
  /** etcd says the lease no longer exists; a new one is being granted */
  'lease-lost': [{ readonly id: string; readonly reason: string }];
}

/**
 * How the lease is renewed; without a plan, every ttl/3 with a keepalive overdue after ttl/10
 * (a replica: its member key alone rests on the lease). The leader's plan comes from core's
 * `leaderRenewal`.
 */
export interface RenewalPlan {
  /** the period while renewals succeed (after a failure: at most ttl/10) */
  readonly intervalMs: number;
  /** a keepalive unanswered this long counts as failing (`renewFailingSinceMs`) */
  readonly overdueMs: number;
  /**
   * `renewFailingSinceMs` never reports a time before this: the caller knows nothing it must
   * protect happened before it (see `leaderRenewal`)
   */
  readonly failingNotBeforeMs?: number | null;
}

export interface LeaseKeeperOptions {
  readonly backend: EtcdBackend;
  readonly ttlSeconds: number;
  readonly callTimeoutMs: number;
  readonly retryTimeoutMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * One lease per node, kept alive by our own loop (about every ttl/10) and
 * guarded by our own timer: the `deadline` event fires *at* the local
 * deadline whatever the client library does or fails to do.
 */
export class LeaseKeeper extends EventEmitter<LeaseEvents> {
  readonly #o: LeaseKeeperOptions;
  #lease: LeaseInfo | null = null;
  #failingSinceMs: number | null = null;
  /** send time of the keepalive awaiting its answer */
  #inFlightSinceMs: number | null = null;
  /** the renewal plan in force (`setRenewal`); null: the rest plan */
  #plan: RenewalPlan | null = null;
  /** send time of the last keepalive or grant attempt: the next is due one period later */
  #lastAttemptMs: number | null = null;
  #deadlineFired = false;
  #timer: NodeJS.Timeout | undefined;
  #sleep: { timer: NodeJS.Timeout; wake: () => void } | null = null;
  #running = false;
  #loop: Promise<void> | null = null;

  constructor(opts: LeaseKeeperOptions) {
    super();
    this.#o = opts;
  }

  info(): LeaseInfo | null {
    return this.#lease;
  }

  /**
   * Since when renewals have been failing, or null while they succeed. Once a keepalive has
   * failed — or is still unanswered after the plan's `overdueMs` — this is the send time of the
   * last *acknowledged* renewal: that is the last moment etcd is known to have heard from us,
   * so the isolation grace runs from it (or from the plan's `failingNotBeforeMs`, when later).
   * Counting from the failing keepalive instead started the grace up to one renewal period
   * after the cut, and with dropped packets a keepalive neither succeeds nor fails until its
   * own timeout.
   */
  renewFailingSinceMs(): number | null {
    const sent = this.#inFlightSinceMs;
    const overdue = sent !== null && this.#o.clock.monotonicMs() - sent > this.#overdueMs();
    if (this.#failingSinceMs === null && !overdue) return null;
    const since = this.#lease?.lastAckSendMs ?? this.#failingSinceMs ?? sent;
    const floor = this.#plan?.failingNotBeforeMs ?? null;
    return since === null || floor === null ? since : Math.max(since, floor);
  }

  /**
   * Renews by `plan` from now on (null: the rest plan). A plan that makes a renewal due sooner
   * takes effect at once: the next keepalive goes out when the new period since the last one
   * has passed, now if it already has.
   */
  setRenewal(plan: RenewalPlan | null): void {
    const next =
      plan === null
        ? null
        : {
            ...plan,
            intervalMs: Math.max(MIN_KEEPALIVE_INTERVAL_MS, plan.intervalMs),
            overdueMs: Math.max(MIN_KEEPALIVE_INTERVAL_MS, plan.overdueMs),
          };
    const before = this.#intervalMs();
    this.#plan = next;
    if (this.#intervalMs() < before) this.#wake();
  }

  /** The period in force: the plan's while renewals succeed, at most ttl/10 while they fail. */
  #intervalMs(): number {
    const ttlMs = this.#ttlMs();
    const planned = this.#plan?.intervalMs ?? restRenewIntervalMs(ttlMs);
    const failing = this.#failingSinceMs !== null || this.#lease === null;
    return failing ? Math.min(planned, keepaliveIntervalMs(ttlMs)) : planned;
  }

  #overdueMs(): number {
    return this.#plan?.overdueMs ?? keepaliveIntervalMs(this.#ttlMs());
  }

  #dueInMs(): number {
    const last = this.#lastAttemptMs;
    return last === null ? 0 : Math.max(0, last + this.#intervalMs() - this.#o.clock.monotonicMs());
  }

  /** Grants the first lease (retried for retry_timeout) and starts the keepalive loop. */
  async start(): Promise<LeaseInfo> {
    if (this.#running) throw new Error('lease keeper already started');
    const sendMs = this.#o.clock.monotonicMs();
    const grant = await withRetry((limits) => this.#o.backend.grantLease(this.#o.ttlSeconds, limits), {
      retryTimeoutMs: this.#o.retryTimeoutMs,
      callTimeoutMs: this.#o.callTimeoutMs,
      what: 'lease grant',
    });
    this.#running = true;
    this.#lastAttemptMs = sendMs;
    this.#adopt(grant.id, grant.ttlSeconds, sendMs);
    this.#loop = this.#run();
    return this.#lease!;
  }

  /** Stops the loop; with `revoke`, deletes the lease (and every key bound to it) at once. */
  async stop(opts: { revoke?: boolean } = {}): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#wake();
    await this.#loop;
    const lease = this.#lease;
    this.#lease = null;
    if (opts.revoke && lease !== null) {
      await this.#revoke(lease.id).catch((e: unknown) => {
        this.#o.logger.warn(
          { leaseId: lease.id, err: errorText(e) },
          'could not revoke lease; it will expire',
        );
      });
    }
  }

  #ttlMs(): number {
    return (this.#lease?.grantedTtlMs ?? this.#o.ttlSeconds * 1000) || 1000;
  }

  async #run(): Promise<void> {
    while (this.#running) {
      await this.#sleepFor(this.#dueInMs());
      if (!this.#running) break;
      // woken by a plan change that moved the next renewal, not (yet) to now
      if (this.#dueInMs() > 0) continue;
      this.#lastAttemptMs = this.#o.clock.monotonicMs();
      try {
        await (this.#lease === null ? this.#regrant() : this.#renew(this.#lease));
      } catch (e) {
        // never escape the loop: an unhandled rejection would kill the agent
        this.#o.logger.error({ err: errorText(e) }, 'lease loop error');
      }
    }
  }

  async #renew(lease: LeaseInfo): Promise<void> {
    const sendMs = this.#o.clock.monotonicMs();
    const limits = { timeoutMs: keepaliveTimeoutMs(lease.grantedTtlMs, this.#o.callTimeoutMs) };
    let ttlSeconds: number;
    this.#inFlightSinceMs = sendMs;
    try {
      ({ ttlSeconds } = await withTimeout(
        this.#o.backend.keepAliveOnce(lease.id, limits),
        limits.timeoutMs,
        'keepalive',
      ));
    } catch (e) {
      this.#inFlightSinceMs = null;
      if (this.#failingSinceMs === null) {
        this.#failingSinceMs = sendMs;
        this.#o.logger.warn({ leaseId: lease.id, err: errorText(e) }, 'lease keepalive failed');
        this.emit('failing', { sinceMs: sendMs });
      }
      return;
    }
    this.#inFlightSinceMs = null;
    if (!this.#running || this.#lease !== lease) return;
    if (ttlSeconds <= 0) {
      this.#lease = null;
      clearTimeout(this.#timer);
      this.#failingSinceMs ??= sendMs;
      this.#o.logger.warn({ leaseId: lease.id }, 'lease expired on the server; granting a new one');
      this.emit('lease-lost', { id: lease.id, reason: 'etcd reports the lease does not exist (TTL 0)' });
      await this.#regrant();
      return;
    }
    const afterDeadline = this.#deadlineFired;
    this.#failingSinceMs = null;
    this.#set({
      ...lease,
      grantedTtlMs: ttlSeconds * 1000,
      lastAckSendMs: sendMs,
      deadlineMs: leaseDeadlineMs(sendMs, ttlSeconds * 1000),
    });
    if (afterDeadline)
      this.#o.logger.warn({ leaseId: lease.id }, 'lease renewed after its local deadline had passed');
    this.emit('renewed', { ...this.#lease!, afterDeadline });
  }

  async #regrant(): Promise<void> {
    const sendMs = this.#o.clock.monotonicMs();
    try {
      const timeoutMs = this.#o.callTimeoutMs;
      const grant = await withTimeout(
        this.#o.backend.grantLease(this.#o.ttlSeconds, { timeoutMs }),
        timeoutMs,
        'grant',
      );
      if (!this.#running) {
        await this.#revoke(grant.id).catch(() => undefined);
        return;
      }
      this.#failingSinceMs = null;
      this.#adopt(grant.id, grant.ttlSeconds, sendMs);
    } catch (e) {
      this.#failingSinceMs ??= sendMs;
      this.#o.logger.warn({ err: errorText(e) }, 'lease grant failed');
    }
  }

  #revoke(id: string): Promise<void> {
    const timeoutMs = this.#o.callTimeoutMs;
    return withTimeout(this.#o.backend.revokeLease(id, { timeoutMs }), timeoutMs, 'revoke');
  }

  #adopt(id: string, ttlSeconds: number, sendMs: number): void {
    const grantedTtlMs = ttlSeconds * 1000;
    if (ttlSeconds !== this.#o.ttlSeconds) {
      this.#o.logger.info(
        { requestedTtlS: this.#o.ttlSeconds, grantedTtlS: ttlSeconds },
        'etcd granted another TTL',
      );
    }
    this.#set({ id, grantedTtlMs, lastAckSendMs: sendMs, deadlineMs: leaseDeadlineMs(sendMs, grantedTtlMs) });
    this.emit('granted', this.#lease!);
  }

  #set(lease: LeaseInfo): void {
    this.#lease = lease;
    this.#deadlineFired = false;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => this.#onTimer(lease),
      msUntil(lease.deadlineMs, this.#o.clock.monotonicMs()),
    );
  }

  #onTimer(lease: LeaseInfo): void {
    if (this.#lease !== lease || this.#deadlineFired) return;
    const remainingMs = lease.deadlineMs - this.#o.clock.monotonicMs();
    if (remainingMs > 0) {
      // timers may fire a little early; re-arm rather than report too soon
      this.#timer = setTimeout(() => this.#onTimer(lease), remainingMs);
      return;
    }
    this.#deadlineFired = true;
    this.#o.logger.warn(
      { leaseId: lease.id, lastAckSendMs: lease.lastAckSendMs },
      'lease deadline passed without renewal',
    );
    this.emit('deadline', lease);
  }

  #sleepFor(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleep = null;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleep = { timer, wake };
    });
  }

  #wake(): void {
    this.#sleep?.wake();
  }
}
