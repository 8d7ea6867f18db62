import { errorText } from '@hapg/core';
import type { Logger } from '../logger.js';
import type { PatchResponse } from './api.js';
import { labelsKey, type PodLabels } from './labels.js';

/** Sends one patch of the pod's labels; rejects on a connection error or timeout. */
export type PatchLabels = (labels: PodLabels, signal: AbortSignal) => Promise<PatchResponse>;

/** What one attempt came to, as data (the queue decides what to log and whether to retry). */
export type PatchOutcome =
  | { readonly kind: 'applied' }
  /** 401/403: RBAC or the token; an operator must act. Retried slowly: a fixed Role applies. */
  | { readonly kind: 'forbidden'; readonly status: number; readonly message: string }
  /** 404: no pod by this member's name in the namespace */
  | { readonly kind: 'not-found'; readonly message: string }
  /** any other 4xx: the API refuses this body */
  | { readonly kind: 'refused'; readonly status: number; readonly message: string }
  /** no answer, 429 or 5xx: the API is down or busy */
  | { readonly kind: 'unavailable'; readonly message: string };

export function classifyPatch(r: PatchResponse): PatchOutcome {
  if (r.status >= 200 && r.status < 300) return { kind: 'applied' };
  if (r.status === 401 || r.status === 403)
    return { kind: 'forbidden', status: r.status, message: r.message };
  if (r.status === 404) return { kind: 'not-found', message: r.message };
  if (r.status >= 400 && r.status < 500 && r.status !== 429 && r.status !== 408)
    return { kind: 'refused', status: r.status, message: r.message };
  return { kind: 'unavailable', message: `HTTP ${r.status}: ${r.message}` };
}

export interface PodLabelerOptions {
  readonly patch: PatchLabels;
  readonly log: Logger;
  /** `<namespace>/<pod>`, for messages */
  readonly pod: string;
  /** first retry delay, doubled per failed attempt up to `backoffMaxMs` */
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
}

/**
 * Keeps the pod's role labels equal to the latest labels `set` asked for. `set` returns at
 * once and never throws: the HA loop never waits for the Kubernetes API. One request at a
 * time; labels set while one is in flight or waiting replace each other (only the latest
 * matters) and are sent next. A failed attempt is retried with exponential backoff; a new
 * value cuts the wait short. Each failure kind is logged once per wanted value (a 403 as an
 * error naming the missing permission), not once per attempt.
 */
export class PodLabeler {
  readonly #o: PodLabelerOptions;
  readonly #initialMs: number;
  readonly #maxMs: number;
  #wanted: PodLabels | null = null;
  #wantedKey: string | null = null;
  #appliedKey: string | null = null;
  #running = false;
  #closed = false;
  #delayMs: number;
  #failures = 0;
  /** `<wantedKey> <outcome kind>` already logged */
  #reported = '';
  #wake: (() => void) | null = null;
  readonly #abort = new AbortController();
  #idle: Promise<void> = Promise.resolve();

  constructor(o: PodLabelerOptions) {
    this.#o = o;
    this.#initialMs = o.backoffInitialMs ?? 500;
    this.#maxMs = o.backoffMaxMs ?? 30_000;
    this.#delayMs = this.#initialMs;
  }

  set(labels: PodLabels): void {
    if (this.#closed) return;
    const key = labelsKey(labels);
    if (key === this.#wantedKey) return;
    this.#wanted = labels;
    this.#wantedKey = key;
    if (this.#running) {
      this.#wake?.();
      return;
    }
    this.#running = true;
    this.#idle = this.#drain();
  }

  /** Resolves once the queue has nothing left to send (applied, or closed). */
  idle(): Promise<void> {
    return this.#idle;
  }

  /** the labels last confirmed by the API server, as `labelsKey` text; null before the first */
  get appliedKey(): string | null {
    return this.#appliedKey;
  }

  /** Stops: an in-flight request is aborted, nothing more is sent. */
  close(): void {
    this.#closed = true;
    this.#abort.abort();
    this.#wake?.();
  }

  /** `#running` turns false in the same step that finds nothing left to send, so no `set` is missed. */
  async #drain(): Promise<void> {
    try {
      while (!this.#closed && this.#wantedKey !== this.#appliedKey) {
        const key = this.#wantedKey!;
        const labels = this.#wanted!;
        const outcome = await this.#attempt(labels);
        if (this.#closed) return;
        if (outcome.kind === 'applied') {
          this.#appliedKey = key;
          this.#o.log.info(
            { pod: this.#o.pod, labels, failedAttempts: this.#failures },
            'pod labels updated',
          );
          this.#delayMs = this.#initialMs;
          this.#failures = 0;
          this.#reported = '';
          continue;
        }
        this.#failures++;
        this.#report(key, labels, outcome);
        await this.#sleep(this.#delayMs);
        this.#delayMs = Math.min(this.#maxMs, this.#delayMs * 2);
      }
    } finally {
      this.#running = false;
    }
  }

  async #attempt(labels: PodLabels): Promise<PatchOutcome> {
    try {
      return classifyPatch(await this.#o.patch(labels, this.#abort.signal));
    } catch (e) {
      return { kind: 'unavailable', message: errorText(e) };
    }
  }

  /** Once per wanted value and failure kind; later attempts at debug level. */
  #report(key: string, labels: PodLabels, o: Exclude<PatchOutcome, { kind: 'applied' }>): void {
    const { log, pod } = this.#o;
    const fields = { pod, labels, retryInMs: this.#delayMs, attempt: this.#failures };
    const tag = `${key} ${o.kind}`;
    if (tag === this.#reported) {
      log.debug({ ...fields, outcome: o.kind, err: o.message }, 'pod labels not updated yet');
      return;
    }
    this.#reported = tag;
    switch (o.kind) {
      case 'forbidden':
        log.error(
          { ...fields, status: o.status, err: o.message },
          `Kubernetes API refused to patch pod ${pod} (${o.status} ${o.status === 401 ? 'Unauthorized' : 'Forbidden'}): the service account needs "patch" on this pod (a Role like deploy/kubernetes/rbac.yaml); the role label stays stale until then, retrying`,
        );
        return;
      case 'not-found':
        log.error(
          { ...fields, err: o.message },
          `pod ${pod} not found: the member name (name, PATRONI_NAME) must be the pod's name and kubernetes.namespace its namespace; retrying`,
        );
        return;
      case 'refused':
        log.error(
          { ...fields, status: o.status, err: o.message },
          `Kubernetes API refused the label patch of pod ${pod} (${o.status}); retrying`,
        );
        return;
      case 'unavailable':
        log.warn(
          { ...fields, err: o.message },
          'Kubernetes API unavailable; pod labels not updated, retrying',
        );
        return;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.#wake = null;
        resolve();
      };
      const t = setTimeout(done, ms);
      t.unref();
      this.#wake = done;
    });
  }
}
