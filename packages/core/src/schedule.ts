/**
 * Scheduled times (`POST /restart` `schedule`, `POST /switchover` `scheduled_at`, the failover
 * key's `scheduled_at`, hactl's `--scheduled`): the one parser every caller uses.
 *
 * Accepted: ISO-8601 date-time with an explicit offset, as Patroni demands — a time without a
 * zone means a different instant on every node. `T` or a space between date and time; seconds
 * and fractions optional; the offset `Z`, `±hh:mm`, `±hhmm` or `±hh`. The date must be a real
 * calendar day (Date.parse would roll 2026-02-30 over to March). Only a caller that knows whose
 * clock a zoneless time is read on (hactl: the operator's, as patronictl) passes `localTimeMs`.
 */
const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|([+-])(\d{2})(?::?(\d{2}))?)?$/i;

/** The wall-clock fields of a time written without a zone (month 1-12). */
export interface WallTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly ms: number;
}

export interface ScheduleOptions {
  /**
   * Reads a time written without a zone as local time: the epoch ms of these wall-clock fields
   * in the caller's time zone (hactl: `new Date(year, month - 1, day, …)`; core has no zone
   * database). Absent: a zone is required.
   */
  readonly localTimeMs?: (t: WallTime) => number;
}

/**
 * How far ahead a time may be scheduled. A year covers any maintenance window; a time further
 * out is far more likely a typo (2300 for 2030) than a plan.
 */
export const MAX_SCHEDULE_AHEAD_MS = 366 * 24 * 3600 * 1000;

/** Epoch ms of an accepted time, or null when the text is not one (see above). */
export function parseZonedTimeMs(text: string, opts: ScheduleOptions = {}): number | null {
  const m = ISO_TIME.exec(text);
  if (m === null) return null;
  const [, y, mo, d, h, mi, s, frac, zone, sign, oh, om] = m;
  const [year, month, day, hour, minute] = [y, mo, d, h, mi].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const second = Number(s ?? 0);
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return null;
  const utc = Date.UTC(year, month - 1, day, hour, minute, second);
  const date = new Date(utc);
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day)
    return null;
  const fracMs = frac === undefined ? 0 : Math.floor(Number(`0${frac}`) * 1000);
  if (zone === undefined) {
    if (opts.localTimeMs === undefined) return null;
    const local = opts.localTimeMs({ year, month, day, hour, minute, second, ms: fracMs });
    return Number.isFinite(local) ? local : null;
  }
  let offsetMin = 0;
  if (zone.toUpperCase() !== 'Z') {
    const oHours = Number(oh);
    const oMinutes = Number(om ?? 0);
    if (oHours > 23 || oMinutes > 59) return null;
    offsetMin = (sign === '-' ? -1 : 1) * (oHours * 60 + oMinutes);
  }
  return utc + fracMs - offsetMin * 60_000;
}

/**
 * A time a request schedules: accepted (see above), in the future, at most
 * `MAX_SCHEDULE_AHEAD_MS` ahead. Returns the instant and its canonical text (UTC, `…Z`, which
 * every consumer — Patroni's included — reads back), or the reason it is refused, naming `field`.
 */
export function parseScheduledTime(
  field: string,
  text: string,
  wallNowMs: number,
  opts: ScheduleOptions = {},
):
  | { readonly atMs: number; readonly iso: string }
  | { readonly problem: 'malformed' | 'past' | 'too-far'; readonly error: string } {
  const atMs = parseZonedTimeMs(text, opts);
  const shown = JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
  if (atMs === null) {
    const error =
      opts.localTimeMs === undefined
        ? `${field}: not an ISO-8601 time with a zone (e.g. 2030-01-01T02:00:00+01:00): ${shown}`
        : `${field}: not an ISO-8601 time (e.g. 2030-01-01T02:00, local time without a zone): ${shown}`;
    return { problem: 'malformed', error };
  }
  if (atMs <= wallNowMs) return { problem: 'past', error: `${field}: ${shown} is in the past` };
  if (atMs - wallNowMs > MAX_SCHEDULE_AHEAD_MS)
    return { problem: 'too-far', error: `${field}: ${shown} is more than 366 days ahead` };
  return { atMs, iso: new Date(atMs).toISOString() };
}
