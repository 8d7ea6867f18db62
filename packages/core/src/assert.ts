/**
 * A broken invariant: a programmer error, never an operating one. Nothing catches it to carry
 * on; the agent stops (the fence still ends a primary at its lease deadline) and the simulator
 * reports it as a safety violation.
 */
export class InvariantViolation extends Error {
  constructor(message: string) {
    super(`invariant violated: ${message}`);
    this.name = 'InvariantViolation';
  }
}

/** Invariant check for programmer errors (not for operating errors, which are handled). */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantViolation(message);
}

export function unreachable(x: never, what = 'value'): never {
  throw new InvariantViolation(`unreachable ${what}: ${JSON.stringify(x)}`);
}
