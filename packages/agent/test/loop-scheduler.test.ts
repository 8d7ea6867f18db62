import { InvariantViolation } from '@hapg/core';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LoopScheduler } from '../src/loop/scheduler.js';

const LOOP_WAIT_MS = 1000;

interface Rig {
  readonly scheduler: LoopScheduler;
  /** what ran, in order: 'it' for an iteration, anything else an operator request's label */
  readonly ran: string[];
  readonly halted: InvariantViolation[];
  /** what the next iterations do, one entry each; then nothing */
  readonly script: ((s: LoopScheduler) => Promise<void> | void)[];
}

function rig(): Rig {
  const ran: string[] = [];
  const halted: InvariantViolation[] = [];
  const script: Rig['script'] = [];
  const scheduler: LoopScheduler = new LoopScheduler({
    iteration: async () => {
      ran.push('it');
      await script.shift()?.(scheduler);
    },
    loopWaitMs: () => LOOP_WAIT_MS,
    monotonicMs: () => Date.now(),
    log: pino({ level: 'silent' }),
    onRunSeconds: () => {},
    onInvariantViolation: (e) => halted.push(e),
  });
  return { scheduler, ran, halted, script };
}

describe('LoopScheduler', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs an iteration on a wake-up, then every loop_wait', async () => {
    const r = rig();
    r.scheduler.wake('start');
    await vi.advanceTimersByTimeAsync(0);
    expect(r.ran).toEqual(['it']);
    await vi.advanceTimersByTimeAsync(LOOP_WAIT_MS - 1);
    expect(r.ran).toEqual(['it']);
    await vi.advanceTimersByTimeAsync(1);
    expect(r.ran).toEqual(['it', 'it']);
    await r.scheduler.stop();
  });

  it('a wake-up during an iteration runs one more right after it, never two at once', async () => {
    const r = rig();
    let inside = 0;
    let most = 0;
    const slow = async (s: LoopScheduler) => {
      inside++;
      most = Math.max(most, inside);
      s.wake('during');
      s.wake('during again');
      await new Promise((res) => setTimeout(res, 10));
      inside--;
    };
    r.script.push(slow, slow);
    r.scheduler.wake('start');
    await vi.advanceTimersByTimeAsync(100);
    // the first wakes a second; the second's wakes a third; the third wakes nobody
    expect(r.ran).toEqual(['it', 'it', 'it']);
    expect(most).toBe(1);
    await r.scheduler.stop();
  });

  it('follow-ups after actions are bounded, so a decision cannot spin', async () => {
    const r = rig();
    for (let i = 0; i < 10; i++) r.script.push((s) => s.followUp());
    r.scheduler.wake('start');
    await vi.advanceTimersByTimeAsync(0);
    // one iteration and three follow-ups, then loop_wait
    expect(r.ran).toHaveLength(4);
    await r.scheduler.stop();
  });

  it('an iteration with nothing to do fills the follow-up budget again', async () => {
    const r = rig();
    const follow = (s: LoopScheduler) => s.followUp();
    r.script.push(follow, follow, (s) => s.settled(), follow, follow, follow, follow);
    r.scheduler.wake('start');
    await vi.advanceTimersByTimeAsync(0);
    // 2 follow-ups, a settled iteration (no rerun), loop_wait
    expect(r.ran).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(LOOP_WAIT_MS);
    // the budget is full again: 1 + 3 follow-ups
    expect(r.ran).toHaveLength(7);
    await r.scheduler.stop();
  });

  it('operator requests run between iterations, before the next one observes', async () => {
    const r = rig();
    let release: () => void = () => {};
    r.script.push(() => new Promise<void>((res) => (release = res)));
    r.scheduler.wake('start');
    await vi.advanceTimersByTimeAsync(0);
    const answer = r.scheduler.runExclusive(async () => {
      r.ran.push('restart');
      return 42;
    });
    await vi.advanceTimersByTimeAsync(0);
    // not beside the running iteration
    expect(r.ran).toEqual(['it']);
    release();
    await expect(answer).resolves.toBe(42);
    expect(r.ran).toEqual(['it', 'restart', 'it']);
    await r.scheduler.stop();
  });

  it('a failed operator request is answered with its error and the loop goes on', async () => {
    const r = rig();
    const answer = r.scheduler.runExclusive(async () => {
      throw new Error('pg_ctl failed');
    });
    await expect(answer).rejects.toThrow('pg_ctl failed');
    await vi.advanceTimersByTimeAsync(0);
    expect(r.ran).toEqual(['it']);
    await r.scheduler.stop();
  });

  it('a broken invariant halts: no iteration runs again, and the caller is told', async () => {
    const r = rig();
    r.script.push(() => {
      throw new InvariantViolation('promote without etcd confirming the key');
    });
    r.scheduler.wake('start');
    await vi.advanceTimersByTimeAsync(0);
    expect(r.halted).toHaveLength(1);
    expect(r.scheduler.stopped).toBe(true);
    r.scheduler.wake('anything');
    await vi.advanceTimersByTimeAsync(10 * LOOP_WAIT_MS);
    expect(r.ran).toEqual(['it']);
  });

  it('any other error is logged and the loop runs again after loop_wait', async () => {
    const r = rig();
    r.script.push(() => {
      throw new Error('a bug');
    });
    r.scheduler.wake('start');
    await vi.advanceTimersByTimeAsync(LOOP_WAIT_MS);
    expect(r.ran).toEqual(['it', 'it']);
    expect(r.halted).toHaveLength(0);
    await r.scheduler.stop();
  });

  it('stop waits for the running iteration and starts none after it', async () => {
    const r = rig();
    let release: () => void = () => {};
    r.script.push(() => new Promise<void>((res) => (release = res)));
    r.scheduler.wake('start');
    await vi.advanceTimersByTimeAsync(0);
    let stopped = false;
    const done = r.scheduler.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    release();
    await done;
    await vi.advanceTimersByTimeAsync(10 * LOOP_WAIT_MS);
    expect(r.ran).toEqual(['it']);
  });
});
