import type { AgentNode } from './cluster.js';
import { waitFor } from './proc.js';
import type { Writer } from './writer.js';

/** `n=… min … / median … / p90 … / max … ms` of a list of durations. */
export function stats(xs: readonly number[]): string {
  if (xs.length === 0) return 'not run';
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return `n=${s.length} min ${s[0]} / median ${q(0.5)} / p90 ${q(0.9)} / max ${s.at(-1)} ms`;
}

/**
 * ms from the fault (`t0`) until a node other than `exclude` (any, if null) acknowledges a write
 * that was sent after the writer first saw the outage (an insert in flight at the kill can
 * still be acknowledged just after `t0`: that is not recovery).
 */
export async function timeToWrite(t0: number, writer: Writer, exclude: AgentNode | null): Promise<number> {
  const outage = await waitFor(() => writer.errorTimes.find((e) => e.atMs >= t0), {
    timeoutMs: 60_000,
    intervalMs: 5,
    what: 'the writer to see the outage',
  });
  const ack = await waitFor(
    () => writer.acks.find((a) => a.atMs > outage.atMs && (exclude === null || a.target !== exclude.name)),
    { timeoutMs: 120_000, intervalMs: 5, what: 'a write after the fault' },
  );
  return ack.atMs - t0;
}

/** Reads `--name value` from the command line. */
export function cliArg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
}

/** Runs a script's main and exits 0/1 (open handles of a failed cluster must not keep it alive). */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
