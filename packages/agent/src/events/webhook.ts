import { assert, errorText } from '@hapg/core';
import { type HapgEvent, toWireEvent } from './event.js';
import { Ring } from './ring.js';

export interface WebhookLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface WebhookSenderOptions {
  readonly url: string;
  /** sent with every POST, e.g. `Authorization`; never logged */
  readonly headers?: Readonly<Record<string, string>>;
  /** per POST, response headers included; default 2000 */
  readonly timeoutMs?: number;
  /** events waiting behind the one being delivered; default 1000 */
  readonly queueMax?: number;
  /** the wait after the first failed attempt, doubled after each further one; default 500 */
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly log: WebhookLog;
  readonly fetch?: typeof globalThis.fetch;
}

export interface WebhookStats {
  /** waiting events, the one being delivered included */
  readonly queued: number;
  readonly sent: number;
  /** attempts that will be retried: network errors, timeouts, 408, 429, 5xx */
  readonly failedAttempts: number;
  /** events pushed out of a full queue before any attempt */
  readonly dropped: number;
  /** events given up after an answer retrying cannot change (3xx, 4xx but 408 and 429) */
  readonly rejected: number;
}

export const WEBHOOK_DEFAULTS = {
  timeoutMs: 2000,
  queueMax: 1000,
  initialBackoffMs: 500,
  maxBackoffMs: 30_000,
} as const;

type Outcome = 'sent' | 'rejected' | 'retry' | 'closed';

/**
 * Delivers events to one URL as JSON POSTs, in order, one in flight at a time.
 * A failed attempt is retried, after a doubling backoff, until it succeeds or
 * the receiver gives an answer retrying cannot change; events arriving meanwhile
 * wait in a bounded queue that drops its oldest when full, so an unreachable
 * receiver costs bounded memory and never slows the caller of `send`.
 *
 * The event being delivered is held outside the queue: it may already be on the
 * wire, and dropping it would break the receiver's view of the order.
 */
export class WebhookSender {
  readonly #url: string;
  /** for logs: the URL's path or query may carry a token (Slack-style webhooks), its origin does not */
  readonly #origin: string;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #timeoutMs: number;
  readonly #initialBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #log: WebhookLog;
  readonly #fetch: (url: string, init: RequestInit) => Promise<Response>;
  readonly #queue: Ring<HapgEvent>;
  readonly #closing = new AbortController();

  #current: HapgEvent | null = null;
  #busy = false;
  #drained: Promise<void> = Promise.resolve();
  #backoffMs: number;
  #timer: NodeJS.Timeout | null = null;
  #wake: (() => void) | null = null;
  /** events dropped since the queue was last empty; non-zero = a burst is being reported */
  #burstDropped = 0;
  #sent = 0;
  #failedAttempts = 0;
  #dropped = 0;
  #rejected = 0;

  constructor(opts: WebhookSenderOptions) {
    this.#url = opts.url;
    this.#origin = new URL(opts.url).origin;
    this.#headers = { ...opts.headers };
    this.#timeoutMs = positive(opts.timeoutMs ?? WEBHOOK_DEFAULTS.timeoutMs, 'timeoutMs');
    this.#initialBackoffMs = positive(
      opts.initialBackoffMs ?? WEBHOOK_DEFAULTS.initialBackoffMs,
      'initialBackoffMs',
    );
    this.#maxBackoffMs = positive(opts.maxBackoffMs ?? WEBHOOK_DEFAULTS.maxBackoffMs, 'maxBackoffMs');
    this.#backoffMs = this.#initialBackoffMs;
    this.#log = opts.log;
    const fetchFn = opts.fetch ?? globalThis.fetch;
    // called unbound: a fetch implementation may check its receiver (browsers' does)
    this.#fetch = (url, init) => fetchFn(url, init);
    this.#queue = new Ring(positive(opts.queueMax ?? WEBHOOK_DEFAULTS.queueMax, 'queueMax'));
  }

  /** Queues `event` for delivery; returns at once and never throws (it is an EventJournal subscriber). */
  send(event: HapgEvent): void {
    if (this.#closing.signal.aborted) return;
    if (this.#queue.push(event)) this.#countDrop();
    this.#kick();
  }

  stats(): WebhookStats {
    return {
      queued: this.#queue.length + (this.#current === null ? 0 : 1),
      sent: this.#sent,
      failedAttempts: this.#failedAttempts,
      dropped: this.#dropped,
      rejected: this.#rejected,
    };
  }

  /** Stops delivering: aborts the POST in flight, clears the backoff timer; queued events are discarded. */
  async close(): Promise<void> {
    this.#closing.abort();
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#wake?.();
    await this.#drained;
  }

  #countDrop(): void {
    this.#dropped++;
    if (this.#burstDropped++ === 0) {
      this.#warn(
        { webhook: this.#origin, queueMax: this.#queue.capacity },
        'webhook queue full: dropping the oldest events until it drains',
      );
    }
  }

  #kick(): void {
    if (this.#busy) return;
    this.#busy = true;
    this.#drained = this.#drain().catch((e: unknown) => {
      // a bug here must not become an unhandled rejection; the next send() starts a new drain
      this.#busy = false;
      this.#warn({ webhook: this.#origin, err: errorText(e) }, 'webhook sender stopped unexpectedly');
    });
  }

  async #drain(): Promise<void> {
    for (;;) {
      const event = this.#closing.signal.aborted ? undefined : (this.#current ?? this.#queue.shift());
      if (event === undefined) {
        // cleared in the same tick as the emptiness check, so a send() right after starts a new drain
        this.#busy = false;
        this.#endBurst();
        return;
      }
      this.#current = event;
      const outcome = await this.#post(event);
      if (outcome === 'retry') {
        this.#failedAttempts++;
        await this.#sleep(this.#backoffMs);
        this.#backoffMs = Math.min(this.#maxBackoffMs, this.#backoffMs * 2);
        continue;
      }
      if (outcome === 'closed') continue;
      if (outcome === 'sent') this.#sent++;
      else this.#rejected++;
      this.#current = null;
      this.#backoffMs = this.#initialBackoffMs;
    }
  }

  async #post(event: HapgEvent): Promise<Outcome> {
    const log = { webhook: this.#origin, eventId: event.id, eventType: event.type };
    try {
      const res = await this.#fetch(this.#url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...this.#headers },
        body: JSON.stringify(toWireEvent(event)),
        // a redirect is a configuration error; following one would resend the headers elsewhere
        redirect: 'manual',
        signal: AbortSignal.any([this.#closing.signal, AbortSignal.timeout(this.#timeoutMs)]),
      });
      // the body is not read: free the connection instead of waiting on a slow one
      await res.body?.cancel().catch(() => {});
      if (res.status >= 200 && res.status < 300) return 'sent';
      if (isPermanent(res.status)) {
        this.#warn({ ...log, status: res.status }, 'webhook receiver refused the event; it is dropped');
        return 'rejected';
      }
      this.#warn({ ...log, status: res.status, retryInMs: this.#backoffMs }, 'webhook POST failed; retrying');
      return 'retry';
    } catch (e) {
      if (this.#closing.signal.aborted) return 'closed';
      this.#warn({ ...log, err: errorText(e), retryInMs: this.#backoffMs }, 'webhook POST failed; retrying');
      return 'retry';
    }
  }

  #sleep(ms: number): Promise<void> {
    if (this.#closing.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.#wake = null;
        resolve();
      }, ms);
    });
  }

  #endBurst(): void {
    if (this.#burstDropped === 0) return;
    this.#info(
      { webhook: this.#origin, droppedEvents: this.#burstDropped },
      'webhook queue drained; events were dropped while it was full',
    );
    this.#burstDropped = 0;
  }

  #warn(obj: object, msg: string): void {
    try {
      this.#log.warn(obj, msg);
    } catch {
      // a failing logger must not stop delivery
    }
  }

  #info(obj: object, msg: string): void {
    try {
      this.#log.info(obj, msg);
    } catch {
      // as #warn
    }
  }
}

/** Answers retrying cannot change: redirects (not followed) and client errors but timeout and rate limit. */
function isPermanent(status: number): boolean {
  return status >= 300 && status < 500 && status !== 408 && status !== 429;
}

function positive(value: number, name: string): number {
  assert(Number.isFinite(value) && value > 0, `webhook ${name} must be a positive number, got ${value}`);
  return value;
}
