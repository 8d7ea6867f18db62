import { type Lsn, parseLsn, type Timeline, toTimeline } from '@hapg/core';
import type { SqlSession } from './connection.js';

/** One line of a timeline history file: `parent` ended at `switchLsn`, where the next began. */
export interface TimelineSwitch {
  readonly parent: Timeline;
  readonly switchLsn: Lsn;
  readonly reason: string;
}

/**
 * Parses `pg_wal/<TLI>.history` (`<parent TLI>\t<switch LSN>\t<reason>` per line; blank lines
 * and `#` comments ignored). The file is Postgres's own record of where each timeline forked:
 * the only exact source (the flush LSN read after a promotion is already past it).
 */
export function parseTimelineHistory(text: string): TimelineSwitch[] {
  const out: TimelineSwitch[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [tli, lsn, ...reason] = line.split(/\s+/);
    if (tli === undefined || lsn === undefined || !/^\d+$/.test(tli)) {
      throw new SyntaxError(`malformed timeline history line ${JSON.stringify(raw)}`);
    }
    out.push({ parent: toTimeline(Number(tli)), switchLsn: parseLsn(lsn), reason: reason.join(' ') });
  }
  return out;
}

/** The history file name of a timeline: 8 upper-case hex digits + `.history`. */
export function timelineHistoryFile(timeline: Timeline): string {
  return `${Number(timeline).toString(16).toUpperCase().padStart(8, '0')}.history`;
}

/** Reads and parses `timeline`'s history file from the server's pg_wal (superuser). */
export async function readTimelineHistory(
  session: SqlSession,
  timeline: Timeline,
): Promise<TimelineSwitch[]> {
  const rows = await session.query<{ text: string }>('SELECT pg_read_file($1) AS text', [
    `pg_wal/${timelineHistoryFile(timeline)}`,
  ]);
  return parseTimelineHistory(rows[0]?.text ?? '');
}
