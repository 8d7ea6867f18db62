import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_SCHEDULE_AHEAD_MS,
  parseScheduledTime,
  parseZonedTimeMs,
  type ScheduleOptions,
} from '../src/schedule.js';

const NOW_MS = Date.parse('2026-12-01T12:00:00Z');

describe('parseZonedTimeMs', () => {
  it.each([
    ['2026-01-01T01:00:00Z', '2026-01-01T01:00:00Z'],
    ['2026-01-01t01:00:00z', '2026-01-01T01:00:00Z'],
    ['2026-01-01T01:00:00+02:00', '2025-12-31T23:00:00Z'],
    ['2026-01-01 01:00:00.5+0200', '2025-12-31T23:00:00.500Z'],
    ['2026-01-01T01:00+02', '2025-12-31T23:00:00Z'],
    // issue 11: a bare hour offset passed the check, then Date.parse gave NaN
    ['2030-01-01T00:00+01', '2029-12-31T23:00:00Z'],
    ['2030-01-01T00:00:00+00', '2030-01-01T00:00:00Z'],
    ['2030-01-01T00:00:00-05:30', '2030-01-01T05:30:00Z'],
    ['2028-02-29T00:00:00Z', '2028-02-29T00:00:00Z'],
  ])('%s', (text, utc) => expect(parseZonedTimeMs(text)).toBe(Date.parse(utc)));

  it.each([
    '2026-01-01T01:00:00',
    'now',
    '',
    '2026-01-01',
    '2026-02-30T00:00:00Z',
    '2027-02-29T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-01-01T24:00:00Z',
    '2026-01-01T00:60:00Z',
    '2026-01-01T00:00:00+25:00',
    '2026-01-01T00:00:00+01:',
    ' 2026-01-01T00:00:00Z',
  ])('rejects %j', (text) => expect(parseZonedTimeMs(text)).toBeNull());

  it('agrees with Date.parse on every instant it prints (property)', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('2000-01-01T00:00:00Z'),
          max: new Date('2200-01-01T00:00:00Z'),
          noInvalidDate: true,
        }),
        fc.integer({ min: -14 * 60, max: 14 * 60 }),
        (d, offsetMin) => {
          const local = new Date(d.getTime() + offsetMin * 60_000).toISOString().slice(0, 23);
          const sign = offsetMin < 0 ? '-' : '+';
          const abs = Math.abs(offsetMin);
          const zone = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
          expect(parseZonedTimeMs(`${local}${zone}`)).toBe(d.getTime());
        },
      ),
    );
  });

  it('never throws and never returns NaN, whatever the text (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        const ms = parseZonedTimeMs(text);
        expect(ms === null || Number.isFinite(ms)).toBe(true);
      }),
    );
  });
});

describe('parseScheduledTime', () => {
  it('gives the instant and its canonical UTC text', () => {
    expect(parseScheduledTime('schedule', '2027-01-01T00:00+01', NOW_MS)).toEqual({
      atMs: Date.parse('2026-12-31T23:00:00Z'),
      iso: '2026-12-31T23:00:00.000Z',
    });
  });
  it('refuses the past, naming the field', () => {
    const r = parseScheduledTime('scheduled_at', '2020-01-01T00:00:00Z', NOW_MS);
    expect(r).toMatchObject({ problem: 'past' });
    expect('error' in r && r.error).toMatch(/^scheduled_at: .* is in the past$/);
  });
  it('refuses more than 366 days ahead (issue 11: 2030 ran at once)', () => {
    expect(parseScheduledTime('schedule', '2030-01-01T00:00:00Z', NOW_MS)).toMatchObject({
      problem: 'too-far',
    });
    const edge = new Date(NOW_MS + MAX_SCHEDULE_AHEAD_MS).toISOString();
    expect(parseScheduledTime('schedule', edge, NOW_MS)).toMatchObject({ iso: edge });
  });
  it('quotes at most 64 characters of a malformed text', () => {
    const r = parseScheduledTime('schedule', 'x'.repeat(10_000), NOW_MS);
    expect('error' in r && r.error.length).toBeLessThan(200);
  });
});

describe('a zoneless time, for a caller that reads it as local time (hactl)', () => {
  const fields: unknown[] = [];
  const localTimeMs = (t: Parameters<NonNullable<ScheduleOptions['localTimeMs']>>[0]) => {
    fields.push(t);
    // a zone two hours ahead of UTC
    return Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second, t.ms) - 2 * 3600_000;
  };

  it('is refused without a reader of local time: the REST API and the failover key', () => {
    expect(parseZonedTimeMs('2027-01-01T10:00')).toBeNull();
    expect(parseScheduledTime('scheduled_at', '2027-01-01T10:00', NOW_MS)).toMatchObject({
      problem: 'malformed',
    });
  });

  it("is read by the caller's reader, with the same calendar and range checks", () => {
    expect(parseZonedTimeMs('2027-01-01 10:00:05.5', { localTimeMs })).toBe(
      Date.parse('2027-01-01T08:00:05.5Z'),
    );
    expect(fields.at(-1)).toEqual({ year: 2027, month: 1, day: 1, hour: 10, minute: 0, second: 5, ms: 500 });
    expect(parseZonedTimeMs('2027-02-30T10:00', { localTimeMs })).toBeNull();
    expect(parseScheduledTime('--scheduled', '2020-01-01T10:00', NOW_MS, { localTimeMs })).toMatchObject({
      problem: 'past',
    });
    // a time with a zone ignores the reader
    expect(parseZonedTimeMs('2027-01-01T10:00Z', { localTimeMs })).toBe(Date.parse('2027-01-01T10:00Z'));
  });
});
