import { EventEmitter } from 'node:events';
import { type Clock, errorText } from '@hapg/core';
import type { EtcdBackend } from './backend.js';
import {
  keepaliveIntervalMs,
  keepaliveTimeoutMs,
  leaseDeadlineMs,
  MIN_KEEPALIVE_INTERVAL_MS,
  msUntil,
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
  /** a shorter renewal period while this node leads (`setRenewIntervalMs`) */
  #renewIntervalMs: number | null = null;
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
   * failed — or is still unanswered after a whole renewal period — this is the send time of the
   * last *acknowledged* renewal: that is the last moment etcd is known to have heard from us,
   * so the isolation grace runs from it. Counting from the failing keepalive instead started
   * the grace up to one renewal period after the cut, and with dropped packets a keepalive
   * neither succeeds nor fails until its own timeout.
   */
  renewFailingSinceMs(): number | null {
    const sent = this.#inFlightSinceMs;
    const overdue = sent !== null && this.#o.clock.monotonicMs() - sent > this.#intervalMs();
    if (this.#failingSinceMs === null && !overdue) return null;
    return this.#lease?.lastAckSendMs ?? this.#failingSinceMs ?? sent;
  }

  /**
   * Renew every `ms` instead of about ttl/10 (null: back to that). The leader renews faster:
   * how soon it notices etcd is gone bounds how many writes an isolated primary acknowledges.
   * Never slower than ttl/10, so the deadline keeps several renewals of margin.
   */
  setRenewIntervalMs(ms: number | null): void {
    const next = ms === null ? null : Math.max(MIN_KEEPALIVE_INTERVAL_MS, ms);
    if (next === this.#renewIntervalMs) return;
    const shorter = next !== null && next < this.#intervalMs();
    this.#renewIntervalMs = next;
    if (shorter) this.#wake();
  }

  #intervalMs(): number {
    const base = keepaliveIntervalMs(this.#ttlMs());
    return this.#renewIntervalMs === null ? base : Math.min(base, this.#renewIntervalMs);
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
      await this.#sleepFor(this.#intervalMs());
      if (!this.#running) break;
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
