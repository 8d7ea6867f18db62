import { replicaRoleChangeWire } from './events-fixtures.js';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { EventJournal, eventRoutes, parseEventsQuery, type WireEvent } from '../src/events/index.js';

const reason = { code: 'TEST', text: 'a test event' };

async function app(emitted: number, capacity = 200) {
  const journal = new EventJournal({
    member: 'pg1',
    scope: 'demo',
    bootId: 'b0',
    capacity,
    log: { warn: () => {} },
  });
  for (let i = 0; i < emitted; i++) journal.emit({ type: 'role_change', reason, newRole: 'replica' });
  const a = Fastify();
  await a.register(eventRoutes, { journal });
  return { app: a, journal };
}

async function get(emitted: number, url: string, capacity?: number) {
  const { app: a } = await app(emitted, capacity);
  const res = await a.inject({ method: 'GET', url });
  await a.close();
  return res;
}

const idsOf = (body: { events: WireEvent[] }) => body.events.map((e) => e.id);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `b0-${from + i}`);

describe('GET /events', () => {
  it('answers the serialized events, most recent last', async () => {
    const res = await get(3, '/events');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = res.json() as { events: WireEvent[] };
    expect(idsOf(body)).toEqual(['b0-1', 'b0-2', 'b0-3']);
    expect(body.events[2]).toEqual(
      replicaRoleChangeWire({
        id: 'b0-3',
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        reason,
      }),
    );
  });

  it('answers an empty list before any event', async () => {
    const res = await get(0, '/events');
    expect([res.statusCode, res.json()]).toEqual([200, { events: [] }]);
  });

  it('answers the 100 most recent by default', async () => {
    expect(idsOf((await get(150, '/events')).json())).toEqual(range(51, 150));
  });

  it('answers the most recent `limit`', async () => {
    expect(idsOf((await get(10, '/events?limit=3')).json())).toEqual(['b0-8', 'b0-9', 'b0-10']);
    expect(idsOf((await get(10, '/events?limit=1000')).json())).toEqual(range(1, 10));
    expect(idsOf((await get(1200, '/events?limit=1000', 1200)).json())).toEqual(range(201, 1200));
  });

  it('answers the events after `since`, the first `limit` of them', async () => {
    expect(idsOf((await get(10, '/events?since=b0-7')).json())).toEqual(['b0-8', 'b0-9', 'b0-10']);
    expect(idsOf((await get(10, '/events?since=b0-2&limit=2')).json())).toEqual(['b0-3', 'b0-4']);
    expect(idsOf((await get(10, '/events?since=b0-10')).json())).toEqual([]);
  });

  it('pages forward through everything with since = the last id seen', async () => {
    const { app: a } = await app(25);
    const seen: string[] = [];
    // a poller starting from an id it cannot place (here, another process's) gets the oldest held first
    let url = '/events?limit=10&since=x0-1';
    for (let page = 0; page < 5; page++) {
      const ids = idsOf((await a.inject({ method: 'GET', url })).json());
      if (ids.length === 0) break;
      seen.push(...ids);
      url = `/events?limit=10&since=${ids.at(-1)}`;
    }
    await a.close();
    expect(seen).toEqual(range(1, 25));
  });

  it.each([
    ['from before a restart', 'other1-5'],
    ['no longer held', 'b0-2'],
  ])(
    'answers every event held for a well-formed since id %s (the poller resumes, never sticks)',
    async (_what, since) => {
      const res = await get(10, `/events?since=${since}`, 5);
      expect(res.statusCode).toBe(200);
      expect(idsOf(res.json())).toEqual(range(6, 10));
    },
  );

  it.each([
    ['/events?limit=0', /limit/],
    ['/events?limit=1001', /limit/],
    ['/events?limit=abc', /limit/],
    ['/events?limit=-1', /limit/],
    ['/events?limit=1.5', /limit/],
    ['/events?limit=', /limit/],
    ['/events?limit=1&limit=2', /more than once/],
    ['/events?since=', /since/],
    ['/events?since=nonsense', /since/],
    ['/events?since=b0-0', /since/],
    ['/events?since=B0-1', /since/],
  ])('GET %s → 400 with a reason', async (url, reasonPattern) => {
    const res = await get(3, url);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: expect.stringMatching(reasonPattern) });
  });

  it('ignores unknown query parameters', async () => {
    expect(idsOf((await get(2, '/events?format=yaml')).json())).toEqual(['b0-1', 'b0-2']);
  });

  it('answers HEAD with the status and no body', async () => {
    const { app: a } = await app(2);
    const res = await a.inject({ method: 'HEAD', url: '/events' });
    const bad = await a.inject({ method: 'HEAD', url: '/events?limit=0' });
    await a.close();
    expect([res.statusCode, res.body, bad.statusCode]).toEqual([200, '', 400]);
  });

  it('shows events emitted after registration', async () => {
    const { app: a, journal } = await app(0);
    journal.emit({ type: 'fence_fired', reason });
    const res = await a.inject({ method: 'GET', url: '/events' });
    await a.close();
    expect(res.json()).toMatchObject({ events: [{ id: 'b0-1', type: 'fence_fired' }] });
  });
});

describe('parseEventsQuery', () => {
  it('defaults to no since and 100 events', () => {
    expect(parseEventsQuery({})).toEqual({ ok: true, query: { since: null, limit: 100 } });
  });

  it('reads both', () => {
    expect(parseEventsQuery({ since: 'b0-7', limit: '1' })).toEqual({
      ok: true,
      query: { since: 'b0-7', limit: 1 },
    });
  });
});
