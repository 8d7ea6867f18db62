import { describe, expect, it } from 'vitest';
import { CircuitOpenError, hostBreaker } from '../src/fault-policy.js';
import { HostHealth } from '../src/host-health.js';
import { defaultCallTimeoutMs } from '../src/retry.js';

describe('defaultCallTimeoutMs', () => {
  it('splits the retry budget across the hosts, at least two attempts', () => {
    expect(defaultCallTimeoutMs(3000, 3)).toBe(1000);
    expect(defaultCallTimeoutMs(4000, 3)).toBe(1333);
    expect(defaultCallTimeoutMs(3000, 1)).toBe(1500);
    expect(defaultCallTimeoutMs(3000, 2)).toBe(1500);
  });

  it('stays within [500, 5000] ms', () => {
    expect(defaultCallTimeoutMs(600, 3)).toBe(500);
    expect(defaultCallTimeoutMs(60_000, 3)).toBe(5000);
  });
});

/** an error etcd3 treats as recoverable (it only checks for its symbol) */
async function recoverable(message: string): Promise<Error> {
  const { RecoverableError } = await import('etcd3');
  return Object.assign(new Error(message), { [RecoverableError]: true });
}

describe('hostBreaker', () => {
  const opts = (clock: { t: number }) =>
    // a second member that stays up: with every member away, calls are not skipped
    new HostHealth(['h:1', 'h:2'], {
      failuresToOpen: 3,
      awayMs: 1000,
      maxAwayMs: 8000,
      nowMs: () => clock.t,
    });
  const run = (b: ReturnType<typeof hostBreaker>, fn: () => unknown) =>
    (b as unknown as { execute: (f: () => unknown) => Promise<unknown> }).execute(fn);

  it('skips a member at once after a refused connection, until it answers a probe (time alone does not bring it back)', async () => {
    const clock = { t: 0 };
    const health = opts(clock);
    const b = hostBreaker('h:1', health);
    const refused = await recoverable(
      '14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1',
    );
    await expect(
      run(b, () => {
        throw refused;
      }),
    ).rejects.toBe(refused);
    await expect(run(b, () => 'ok')).rejects.toBeInstanceOf(CircuitOpenError);
    clock.t = 60_000;
    await expect(run(b, () => 'ok')).rejects.toBeInstanceOf(CircuitOpenError);
    health.succeeded('h:1'); // the probe's answer
    await expect(run(b, () => 'ok')).resolves.toBe('ok');
  });

  it('needs failuresToOpen consecutive timeouts from a live member', async () => {
    const clock = { t: 0 };
    const b = hostBreaker('h:1', opts(clock));
    const slow = await recoverable('4 DEADLINE_EXCEEDED: Deadline exceeded after 1.5s');
    for (let i = 0; i < 2; i++)
      await expect(
        run(b, () => {
          throw slow;
        }),
      ).rejects.toBe(slow);
    await expect(run(b, () => 'ok')).resolves.toBe('ok');
  });

  it('a stream that opened is no answer, and our own cancel no failure', async () => {
    const clock = { t: 0 };
    const b = hostBreaker('h:1', opts(clock));
    const slow = await recoverable('4 DEADLINE_EXCEEDED: Deadline exceeded after 1.5s');
    const { GRPCCancelledError } = await import('etcd3');
    const stream = { on: () => undefined, cancel: () => undefined };
    const fail = (e: Error) =>
      expect(
        run(b, () => {
          throw e;
        }),
      ).rejects.toBe(e);
    await fail(slow);
    await fail(new GRPCCancelledError('1 CANCELLED: Cancelled on client'));
    await expect(run(b, () => stream)).resolves.toBe(stream);
    await fail(slow);
    // two timeouts with a stream opened and a cancel between them: still consecutive
    await fail(slow);
    await expect(run(b, () => 'ok')).rejects.toBeInstanceOf(CircuitOpenError);
  });
});
