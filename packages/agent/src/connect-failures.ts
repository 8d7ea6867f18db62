import { errorText, isHapgError, type PgConnectFailure } from '@hapg/core';
import type { Logger } from './logger.js';

export interface ConnectBackoff {
  /** wait after the first refusal before the next attempt */
  readonly initialMs: number;
  /** the wait doubles up to this; an operator's fix is noticed within it */
  readonly maxMs: number;
}

export const DEFAULT_CONNECT_BACKOFF: ConnectBackoff = { initialMs: 1_000, maxMs: 16_000 };

/**
 * The agent's own connection attempts to its running Postgres: what the last failure was,
 * and when to try again. A refusal (pg_hba.conf, password, role...) does not pass by itself,
 * so attempts back off (each one costs a FATAL line in the server log) and each is logged as
 * a warning with the server's text and the next retry; a server that merely does not answer
 * yet (starting, stopping) is retried every loop and logged at debug, as before.
 */
export class ConnectFailures {
  readonly #log: Logger;
  readonly #backoff: ConnectBackoff;
  #current: PgConnectFailure | null = null;
  #attempts = 0;
  #nextAttemptMs = 0;

  constructor(log: Logger, backoff: ConnectBackoff = DEFAULT_CONNECT_BACKOFF) {
    this.#log = log;
    this.#backoff = backoff;
  }

  /** the failure of the last attempt on the running postmaster; null after a success */
  get current(): PgConnectFailure | null {
    return this.#current;
  }

  /** Whether to connect now: always, unless a refusal's backoff has not elapsed. */
  due(nowMs: number): boolean {
    return this.#current?.kind !== 'rejected' || nowMs >= this.#nextAttemptMs;
  }

  succeeded(): void {
    if (this.#current?.kind === 'rejected')
      this.#log.info({ attempts: this.#attempts }, 'connected to Postgres again');
    this.#clear();
  }

  /** Records a failed attempt; `serverRole` is what postmaster.pid says (no connection needed). */
  failed(e: unknown, serverRole: PgConnectFailure['serverRole'], nowMs: number): PgConnectFailure {
    const kind = isHapgError(e, 'PG_CONNECTION_REJECTED') ? 'rejected' : 'no-answer';
    const text = errorText(e);
    const prev = this.#current;
    const sinceMs = prev !== null && prev.kind === kind ? prev.sinceMs : nowMs;
    this.#attempts = prev?.kind === kind ? this.#attempts + 1 : 1;
    this.#current = { kind, text, sinceMs, serverRole };
    if (kind === 'rejected') {
      const retryInMs = Math.min(this.#backoff.maxMs, this.#backoff.initialMs * 2 ** (this.#attempts - 1));
      this.#nextAttemptMs = nowMs + retryInMs;
      this.#log.warn(
        { err: text, serverRole, attempts: this.#attempts, failingForMs: nowMs - sinceMs, retryInMs },
        'Postgres runs but refuses our connection',
      );
    } else {
      this.#log.debug({ err: text, serverRole }, 'probe failed');
    }
    return this.#current;
  }

  /** The postmaster is gone: a new one starts with a clean slate. */
  reset(): void {
    this.#clear();
  }

  #clear(): void {
    this.#current = null;
    this.#attempts = 0;
    this.#nextAttemptMs = 0;
  }
}
