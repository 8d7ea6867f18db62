import { type Clock, errorText, formatLsn, type Lsn } from '@hapg/core';
import { randomBytes } from 'node:crypto';
import {
  BOOT_ID_PATTERN,
  type EventId,
  type EventReason,
  formatEventId,
  type HapgEvent,
  type HapgEventType,
  parseEventId,
} from './event.js';
import { Ring } from './ring.js';

/** What a producer knows; the journal adds id, time, member and scope. Unknown values may be left out. */
export interface EventInput {
  readonly type: HapgEventType;
  readonly reason: EventReason;
  readonly oldRole?: string | null;
  readonly newRole?: string | null;
  readonly oldLeader?: string | null;
  readonly newLeader?: string | null;
  readonly timeline?: number | null;
  /** formatted here, so every event carries Postgres' `X/Y` text form */
  readonly lsn?: Lsn | null;
}

export type EventSubscriber = (event: HapgEvent) => void;

export interface JournalLog {
  warn(obj: object, msg: string): void;
}

export interface EventJournalOptions {
  readonly member: string;
  readonly scope: string;
  /** how many of the most recent events `recent()` can answer; default 200 */
  readonly capacity?: number;
  readonly clock?: Pick<Clock, 'wallMs'>;
  /** the id prefix of this process's events (letters and digits); default: drawn at construction */
  readonly bootId?: string;
  readonly log: JournalLog;
}

export interface RecentQuery {
  /**
   * Answer only events after this one, the oldest first (a poller pages forward
   * with the last id it saw and misses nothing the journal still holds). An id the
   * journal cannot place (another process's, or malformed) answers from the oldest
   * event held, as does one older than the oldest held: the poller then sees every
   * event still known rather than being stuck on an id that will never come back.
   */
  readonly since?: EventId;
  /** At most this many events. Without `since`, the most recent ones. Default: all held. */
  readonly limit?: number;
}

export const DEFAULT_JOURNAL_CAPACITY = 200;

const LSN_MAX = (1n << 64n) - 1n;

const systemWall: Pick<Clock, 'wallMs'> = { wallMs: () => Date.now() };

/**
 * The agent's in-memory event record: it fills in what every event shares, keeps
 * the most recent `capacity`, and hands each new one to its subscribers. `emit`
 * is called from the HA loop, so it is synchronous, O(1) in the journal's size,
 * and never throws: losing an event's delivery must never cost a loop cycle.
 */
export class EventJournal {
  readonly bootId: string;
  readonly #member: string;
  readonly #scope: string;
  readonly #clock: Pick<Clock, 'wallMs'>;
  readonly #log: JournalLog;
  readonly #ring: Ring<HapgEvent>;
  #lastSeq = 0;
  // replaced, never mutated, so a subscriber that (un)subscribes during emit does not disturb the loop
  #subscribers: readonly EventSubscriber[] = [];

  constructor(opts: EventJournalOptions) {
    this.bootId = opts.bootId ?? newBootId();
    if (!BOOT_ID_PATTERN.test(this.bootId)) {
      throw new RangeError(`event boot id must match ${BOOT_ID_PATTERN}, got ${JSON.stringify(this.bootId)}`);
    }
    this.#member = opts.member;
    this.#scope = opts.scope;
    this.#clock = opts.clock ?? systemWall;
    this.#log = opts.log;
    this.#ring = new Ring(opts.capacity ?? DEFAULT_JOURNAL_CAPACITY);
  }

  emit(input: EventInput): HapgEvent {
    this.#lastSeq++;
    const event: HapgEvent = Object.freeze({
      id: formatEventId(this.bootId, this.#lastSeq),
      type: input.type,
      member: this.#member,
      scope: this.#scope,
      oldRole: input.oldRole ?? null,
      newRole: input.newRole ?? null,
      oldLeader: input.oldLeader ?? null,
      newLeader: input.newLeader ?? null,
      timeline: input.timeline ?? null,
      lsn: this.#lsnText(input.lsn),
      reason: Object.freeze({ code: input.reason.code, text: input.reason.text }),
      time: this.#isoNow(),
    });
    this.#ring.push(event);
    for (const fn of this.#subscribers) {
      try {
        fn(event);
      } catch (e) {
        this.#warn({ eventId: event.id, err: errorText(e) }, 'an event subscriber threw; the event is kept');
      }
    }
    return event;
  }

  /** Adds a subscriber of every later event; answers the function that removes it. */
  subscribe(fn: EventSubscriber): () => void {
    this.#subscribers = [...this.#subscribers, fn];
    return () => {
      this.#subscribers = this.#subscribers.filter((s) => s !== fn);
    };
  }

  /** The events held, oldest first; see `RecentQuery`. */
  recent(query: RecentQuery = {}): HapgEvent[] {
    const held = this.#ring.length;
    const limit = query.limit === undefined ? held : Math.max(0, Math.floor(query.limit));
    if (query.since === undefined) return this.#ring.slice(held - limit);
    const from = this.#indexAfter(query.since);
    return this.#ring.slice(from, from + limit);
  }

  /** The ring index of the first event after `id`. Held events have consecutive sequence numbers. */
  #indexAfter(id: EventId): number {
    const parsed = parseEventId(id);
    if (parsed === null || parsed.bootId !== this.bootId) return 0;
    const oldestSeq = this.#lastSeq - this.#ring.length + 1;
    return Math.max(0, parsed.seq - oldestSeq + 1);
  }

  #lsnText(lsn: Lsn | null | undefined): string | null {
    if (lsn === null || lsn === undefined) return null;
    if (typeof lsn !== 'bigint' || lsn < 0n || lsn > LSN_MAX) {
      this.#warn({ lsn: String(lsn) }, 'event lsn is not an LSN; recorded as null');
      return null;
    }
    return formatLsn(lsn);
  }

  #isoNow(): string {
    const ms = this.#clock.wallMs();
    // a clock answering NaN must not turn emit into a RangeError
    return new Date(Number.isFinite(ms) ? ms : Date.now()).toISOString();
  }

  #warn(obj: object, msg: string): void {
    try {
      this.#log.warn(obj, msg);
    } catch {
      // nothing left to tell: emit must not throw because logging did
    }
  }
}

/** Base-36 wall-clock milliseconds plus random bits: unique across restarts, even two in the same ms. */
function newBootId(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}
