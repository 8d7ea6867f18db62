import { errorText, InvariantViolation } from '@hapg/core';
import type { Logger } from '../logger.js';

/** Immediate follow-up iterations after successful actions, bounded so a decision cannot spin. */
const MAX_FOLLOW_UPS = 3;

export interface SchedulerOptions {
  /** one iteration; throws only on an invariant violation (or a bug, which is logged) */
  readonly iteration: () => Promise<void>;
  /** the pause between two iterations when nothing wakes the loop (`loop_wait`, may change) */
  readonly loopWaitMs: () => number;
  readonly monotonicMs: () => number;
  readonly log: Logger;
  /** how long one run of iterations took, for the loop-duration metric */
  readonly onRunSeconds: (seconds: number) => void;
  /** a broken invariant: the scheduler has stopped; the caller ends the process */
  readonly onInvariantViolation: (e: InvariantViolation) => void;
}

/**
 * When iterations run: every `loop_wait`, at once on a wake-up, never two at a time. A wake-up
 * during an iteration runs another right after it. Operator requests (restart, reinitialize)
 * run between iterations, before the next one observes, so they never race a decision about
 * the same Postgres.
 */
export class LoopScheduler {
  readonly #o: SchedulerOptions;
  #running = false;
  #rerun = false;
  #stopped = false;
  #timer: NodeJS.Timeout | null = null;
  #runDone: Promise<void> = Promise.resolve();
  #followUps = 0;
  readonly #exclusive: (() => Promise<void>)[] = [];

  constructor(o: SchedulerOptions) {
    this.#o = o;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Runs an iteration now (or right after the current one). */
  wake(why: string): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#rerun = true;
      return;
    }
    this.#o.log.debug({ why }, 'wake');
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#runDone = this.#run();
  }

  /** Runs `fn` between two iterations; resolves with its result once it ran. */
  runExclusive<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#exclusive.push(() => fn().then(resolve, reject));
      this.wake('operator request');
    });
  }

  /**
   * Actions ran and changed the state: look again at once rather than after `loop_wait` (a
   * demoted primary comes back as a standby, a promoted one publishes its role) — a few times.
   */
  followUp(): void {
    if (this.#followUps >= MAX_FOLLOW_UPS) return;
    this.#followUps++;
    this.#rerun = true;
  }

  /** An iteration decided nothing to do: the follow-up budget is full again. */
  settled(): void {
    this.#followUps = 0;
  }

  /** No iteration starts from now on; resolves when the running one ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#runDone;
  }

  /** A broken invariant, found here or by a caller: nothing runs any more. */
  halt(e: InvariantViolation): void {
    this.#o.log.fatal({ err: e.message, stack: e.stack }, 'invariant violated: the agent stops');
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#o.onInvariantViolation(e);
  }

  async #run(): Promise<void> {
    this.#running = true;
    const started = this.#o.monotonicMs();
    try {
      do {
        this.#rerun = false;
        await this.#runOperatorRequests();
        await this.#o.iteration();
      } while (this.#rerun && !this.#stopped);
    } catch (e) {
      if (e instanceof InvariantViolation) this.halt(e);
      else this.#o.log.error({ err: errorText(e), stack: (e as Error).stack }, 'loop iteration failed');
    } finally {
      this.#o.onRunSeconds((this.#o.monotonicMs() - started) / 1000);
      this.#running = false;
      if (!this.#stopped) this.#timer = setTimeout(() => this.wake('loop_wait'), this.#o.loopWaitMs());
    }
  }

  async #runOperatorRequests(): Promise<void> {
    for (let op = this.#exclusive.shift(); op !== undefined; op = this.#exclusive.shift()) {
      await op().catch((e) => {
        if (e instanceof InvariantViolation) throw e;
        this.#o.log.warn({ err: errorText(e) }, 'operator request failed');
      });
    }
  }
}
