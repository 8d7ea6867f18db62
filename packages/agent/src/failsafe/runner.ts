import { errorText } from '@hapg/core';
import { httpText } from '../http-text.js';
import type { Logger } from '../logger.js';
import type { FailsafeAnswer, FailsafeRequest, FailsafeRounds, RoundInput, RoundOutcome } from './rounds.js';

/** One round every ttl/10 (at least 100 ms) from the previous one's start (P1). */
export function roundIntervalMs(ttlMs: number): number {
  return Math.max(100, Math.floor(ttlMs / 10));
}

export interface RunnerDeps {
  readonly rounds: FailsafeRounds;
  readonly log: Logger;
  /** rounds are spaced on the monotonic clock: a wall-clock step must not delay one */
  readonly monotonicMs: () => number;
  /** the round to run now (P1's conditions hold), or null: none */
  readonly due: () => RoundInput | null;
  readonly ttlMs: () => number;
  /** a round extended F: re-arm the fence, publish */
  readonly onExtended: () => void;
  /** a member answered it leads: demote now */
  readonly onRefused: () => void;
}

/**
 * Runs rounds while they are due, one at a time, on its own timer: beside the loop, whose
 * iteration may hang on etcd for seconds. Logs each change of outcome, not every round.
 */
export class FailsafeRunner {
  readonly #d: RunnerDeps;
  #timer: NodeJS.Timeout | null = null;
  #stopped = true;
  #lastOutcome = '';

  constructor(deps: RunnerDeps) {
    this.#d = deps;
  }

  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#tick(), ms);
  }

  async #tick(): Promise<void> {
    const started = this.#d.monotonicMs();
    const interval = roundIntervalMs(this.#d.ttlMs());
    try {
      const input = this.#d.due();
      if (input === null) {
        this.#note('idle', null);
      } else {
        const outcome = await this.#d.rounds.round(input);
        this.#note(outcome.kind, outcome);
        if (outcome.kind === 'extended') this.#d.onExtended();
        if (outcome.kind === 'refused') this.#d.onRefused();
      }
    } catch (e) {
      this.#d.log.warn({ err: errorText(e) }, 'failsafe round failed');
    }
    this.#schedule(Math.max(0, interval - (this.#d.monotonicMs() - started)));
  }

  #note(kind: string, outcome: RoundOutcome | null): void {
    const key = outcome?.kind === 'incomplete' ? `${kind}:${outcome.missing.join(',')}` : kind;
    if (key === this.#lastOutcome) return;
    this.#lastOutcome = key;
    if (outcome === null) return;
    const log = this.#d.log;
    switch (outcome.kind) {
      case 'extended':
        log.warn(
          { failsafeDeadlineMs: outcome.deadlineMs },
          'failsafe: every member answered; running as primary without etcd',
        );
        break;
      case 'incomplete':
        log.warn(
          { missing: outcome.missing },
          'failsafe: not every member answered; the failsafe deadline does not move',
        );
        break;
      case 'refused':
        log.error({ by: outcome.by }, 'failsafe: a member answered that it runs as a leader; demoting');
        break;
      case 'not-listed':
        log.warn({}, 'failsafe: no failsafe key names us; running on the lease deadline only');
        break;
    }
  }
}

/**
 * `POST /failsafe` over HTTP(S), with the REST credentials (`restapi.authentication`), at
 * `scheme://host:port/failsafe` of the member's `api_url` (Patroni's `get_endpoint_url`).
 * Patroni's primary counts a member only on 200 with the body `Accepted`.
 */
export function httpFailsafePost(
  /** read per request: a reloaded YAML may change the credentials the members check */
  auth: () => { username: string; password: string | null } | null,
) {
  return async (apiUrl: string, body: FailsafeRequest, timeoutMs: number): Promise<FailsafeAnswer> => {
    const credentials = auth();
    const authorization =
      credentials === null
        ? null
        : `Basic ${Buffer.from(`${credentials.username}:${credentials.password ?? ''}`).toString('base64')}`;
    let url: URL;
    try {
      url = new URL('/failsafe', apiUrl);
    } catch {
      return 'failed';
    }
    try {
      const { status, text } = await httpText(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(authorization === null ? {} : { authorization }),
        },
        body: JSON.stringify(body),
        timeoutMs,
      });
      if (status === 200 && text === 'Accepted') return 'accepted';
      if (status === 500 && text === 'Running as a leader') return 'leader';
      return 'failed';
    } catch {
      return 'failed';
    }
  };
}
