import { parseScheduledTime, type WallTime } from '@hapg/core';
import { UsageError } from '../errors.js';

/** A zoneless time is the operator's local time, as patronictl reads it (the host's time zone). */
const localTimeMs = (t: WallTime): number =>
  new Date(t.year, t.month - 1, t.day, t.hour, t.minute, t.second, t.ms).getTime();

/**
 * `--scheduled TIME|now`: null for now, else the instant in the canonical form the REST API and
 * the failover key get (UTC). TIME is read by core's one parser of scheduled times
 * (`2026-01-01T10:00`, `2026-01-01 10:00+02:00`, a real calendar day, at most 366 days ahead);
 * without a zone it is local time, as patronictl. A time not in the future is a usage error.
 */
export function parseScheduled(text: string, nowMs: number, usage: string): string | null {
  const t = text.trim();
  if (t === '' || t.toLowerCase() === 'now') return null;
  const when = parseScheduledTime('--scheduled', t, nowMs, { localTimeMs });
  if ('iso' in when) return when.iso;
  const error =
    when.problem === 'malformed'
      ? `--scheduled: not a date and time: ${JSON.stringify(text)} (e.g. 2026-01-01T10:00)`
      : when.error;
  throw new UsageError(error, usage);
}
