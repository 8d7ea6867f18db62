import { ManualClock, parseLsn } from '@hapg/core';
import { describe, expect, it } from 'vitest';
import {
  EventJournal,
  type EventJournalOptions,
  HAPG_EVENT_TYPES,
  type HapgEvent,
  parseEventId,
  toWireEvent,
} from '../src/events/index.js';
import { Ring } from '../src/events/ring.js';

const reason = { code: 'LEASE_ACQUIRED', text: 'promoted: acquired the leader lease' };

function journal(extra: Partial<EventJournalOptions> = {}) {
  const warnings: { obj: object; msg: string }[] = [];
  const j = new EventJournal({
    member: 'pg1',
    scope: 'demo',
    bootId: 'boot1',
    clock: new ManualClock(0, Date.UTC(2026, 0, 2, 3, 4, 5, 678)),
    log: { warn: (obj, msg) => warnings.push({ obj, msg }) },
    ...extra,
  });
  return { j, warnings };
}

const ids = (events: readonly HapgEvent[]) => events.map((e) => e.id);

describe('EventJournal.emit', () => {
  it('fills in id, time, member and scope, and null for what the producer left out', () => {
    const { j } = journal();
    const e = j.emit({ type: 'paused', reason: { code: 'PAUSED', text: 'maintenance mode on' } });
    expect(e).toEqual({
      id: 'boot1-1',
      type: 'paused',
      member: 'pg1',
      scope: 'demo',
      oldRole: null,
      newRole: null,
      oldLeader: null,
      newLeader: null,
      timeline: null,
      lsn: null,
      reason: { code: 'PAUSED', text: 'maintenance mode on' },
      time: '2026-01-02T03:04:05.678Z',
    });
  });

  it('numbers events from 1 in this process and formats the LSN as Postgres does', () => {
    const { j } = journal();
    j.emit({ type: 'rejoin', reason });
    const e = j.emit({
      type: 'failover',
      reason,
      oldRole: 'replica',
      newRole: 'primary',
      oldLeader: 'pg0',
      newLeader: 'pg1',
      timeline: 3,
      lsn: parseLsn('0/3000060'),
    });
    expect(e).toMatchObject({ id: 'boot1-2', timeline: 3, lsn: '0/3000060', newLeader: 'pg1' });
  });

  it('draws a different id prefix in each journal, so ids stay unique across restarts', () => {
    const opts = { member: 'pg1', scope: 'demo', log: { warn: () => {} } };
    const a = new EventJournal(opts);
    const b = new EventJournal(opts);
    expect(a.bootId).toMatch(/^[0-9a-z]+$/);
    expect(a.bootId).not.toBe(b.bootId);
    expect(parseEventId(a.emit({ type: 'resumed', reason }).id)).toEqual({ bootId: a.bootId, seq: 1 });
  });

  it('refuses a boot id that would make ids ambiguous', () => {
    expect(() => journal({ bootId: 'a-b' })).toThrow(RangeError);
    expect(() => journal({ bootId: '' })).toThrow(RangeError);
  });

  it('hands each event to every subscriber, until it unsubscribes', () => {
    const { j } = journal();
    const a: HapgEvent[] = [];
    const b: HapgEvent[] = [];
    const offA = j.subscribe((e) => a.push(e));
    j.subscribe((e) => b.push(e));
    j.emit({ type: 'paused', reason });
    offA();
    j.emit({ type: 'resumed', reason });
    expect(ids(a)).toEqual(['boot1-1']);
    expect(ids(b)).toEqual(['boot1-1', 'boot1-2']);
  });

  it('never throws into the caller: a throwing subscriber is logged and the others still run', () => {
    const { j, warnings } = journal();
    const seen: string[] = [];
    j.subscribe(() => {
      throw new Error('receiver bug');
    });
    j.subscribe((e) => seen.push(e.id));
    expect(() => j.emit({ type: 'postgres_crash', reason })).not.toThrow();
    expect(seen).toEqual(['boot1-1']);
    expect(ids(j.recent())).toEqual(['boot1-1']);
    expect(warnings).toEqual([
      { obj: { eventId: 'boot1-1', err: 'receiver bug' }, msg: expect.stringContaining('subscriber threw') },
    ]);
  });

  it('never throws for a bad LSN, a broken clock or a broken logger', () => {
    const { j } = journal({
      clock: { wallMs: () => Number.NaN },
      log: {
        warn: () => {
          throw new Error('log down');
        },
      },
    });
    // a JavaScript caller can pass anything
    const e = j.emit({ type: 'rejoin', reason, lsn: -1n as never });
    expect(e.lsn).toBeNull();
    expect(Number.isNaN(Date.parse(e.time))).toBe(false);
  });

  it('hands out frozen events: one subscriber cannot change what the others and GET /events see', () => {
    const { j } = journal();
    const e = j.emit({ type: 'paused', reason });
    expect(Object.isFrozen(e)).toBe(true);
    expect(Object.isFrozen(e.reason)).toBe(true);
  });
});

describe('EventJournal.recent', () => {
  function filled(n: number, capacity = 200) {
    const { j } = journal({ capacity });
    for (let i = 0; i < n; i++) j.emit({ type: 'role_change', reason });
    return j;
  }

  it('keeps the most recent `capacity` events, oldest first', () => {
    const j = filled(7, 5);
    expect(ids(j.recent())).toEqual(['boot1-3', 'boot1-4', 'boot1-5', 'boot1-6', 'boot1-7']);
  });

  it('defaults to 200 events', () => {
    const j = filled(250);
    const held = j.recent();
    expect(held).toHaveLength(200);
    expect(held[0]?.id).toBe('boot1-51');
    expect(held.at(-1)?.id).toBe('boot1-250');
  });

  it('without since, answers the most recent `limit`', () => {
    expect(ids(filled(5).recent({ limit: 2 }))).toEqual(['boot1-4', 'boot1-5']);
    expect(filled(5).recent({ limit: 0 })).toEqual([]);
    expect(filled(5).recent({ limit: 50 })).toHaveLength(5);
  });

  it('with since, answers the first `limit` events after it, so a poller pages forward', () => {
    const j = filled(10);
    expect(ids(j.recent({ since: 'boot1-7' }))).toEqual(['boot1-8', 'boot1-9', 'boot1-10']);
    expect(ids(j.recent({ since: 'boot1-2', limit: 3 }))).toEqual(['boot1-3', 'boot1-4', 'boot1-5']);
    expect(j.recent({ since: 'boot1-10' })).toEqual([]);
    expect(j.recent({ since: 'boot1-99' })).toEqual([]);
  });

  it.each([
    ['another process', 'other9-3'],
    ['no longer held', 'boot1-2'],
    ['malformed', 'nonsense'],
  ])('answers every event held for a since id from %s', (_what, since) => {
    const j = filled(10, 5);
    expect(ids(j.recent({ since }))).toEqual(['boot1-6', 'boot1-7', 'boot1-8', 'boot1-9', 'boot1-10']);
    expect(ids(j.recent({ since, limit: 2 }))).toEqual(['boot1-6', 'boot1-7']);
  });

  it('places a since id at the edge of what is held', () => {
    // boot1-5 is the last one pushed out: every event after it is still held
    expect(ids(filled(10, 5).recent({ since: 'boot1-6', limit: 1 }))).toEqual(['boot1-7']);
    expect(ids(filled(10, 5).recent({ since: 'boot1-5', limit: 1 }))).toEqual(['boot1-6']);
  });
});

describe('wire layout', () => {
  it('is snake_case with every field present and the reason nested', () => {
    const { j } = journal();
    const e = j.emit({
      type: 'switchover',
      reason: { code: 'SWITCHOVER_REQUESTED', text: 'demoting: switchover to pg2 requested' },
      oldRole: 'primary',
      newRole: 'replica',
      oldLeader: 'pg1',
      newLeader: 'pg2',
      timeline: 4,
      lsn: parseLsn('0/3000060'),
    });
    const wire = toWireEvent(e);
    expect(wire).toEqual({
      id: 'boot1-1',
      type: 'switchover',
      time: '2026-01-02T03:04:05.678Z',
      scope: 'demo',
      member: 'pg1',
      old_role: 'primary',
      new_role: 'replica',
      old_leader: 'pg1',
      new_leader: 'pg2',
      timeline: 4,
      lsn: '0/3000060',
      reason: { code: 'SWITCHOVER_REQUESTED', text: 'demoting: switchover to pg2 requested' },
    });
    expect(JSON.parse(JSON.stringify(wire))).toEqual(wire);
  });

  it('lists every event type', () => {
    expect(HAPG_EVENT_TYPES).toEqual([
      'role_change',
      'failover',
      'switchover',
      'fence_fired',
      'postgres_crash',
      'rejoin',
      'sync_standby_changed',
      'paused',
      'resumed',
    ]);
  });
});

describe('parseEventId', () => {
  it.each([
    ['abc-1', { bootId: 'abc', seq: 1 }],
    ['m1x2y3ab12cd-4711', { bootId: 'm1x2y3ab12cd', seq: 4711 }],
  ])('%s', (text, parts) => {
    expect(parseEventId(text)).toEqual(parts);
  });

  it.each([
    '',
    '-1',
    'abc',
    'abc-',
    'abc-0',
    'abc-01',
    'ABC-1',
    'a-b-1',
    'abc-1.5',
    'abc--1',
    'abc-99999999999999999',
  ])('rejects %j', (text) => {
    expect(parseEventId(text)).toBeNull();
  });
});

describe('Ring', () => {
  it('is a FIFO that overwrites its oldest item when full', () => {
    const r = new Ring<number>(3);
    expect([r.push(1), r.push(2), r.push(3), r.push(4)]).toEqual([false, false, false, true]);
    expect(r.slice(0)).toEqual([2, 3, 4]);
    expect([r.shift(), r.length, r.at(0), r.at(1), r.at(2)]).toEqual([2, 2, 3, 4, undefined]);
    r.push(5);
    r.push(6);
    expect(r.slice(0)).toEqual([4, 5, 6]);
    expect([r.shift(), r.shift(), r.shift(), r.shift()]).toEqual([4, 5, 6, undefined]);
  });

  it('refuses a capacity below 1', () => {
    expect(() => new Ring(0)).toThrow(/capacity/);
  });
});
