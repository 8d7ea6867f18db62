import type { FastifyPluginAsync } from 'fastify';
import { type EventId, parseEventId, toWireEvent } from './event.js';
import type { EventJournal } from './journal.js';

export interface EventRoutesOptions {
  readonly journal: EventJournal;
}

export const EVENTS_LIMIT_DEFAULT = 100;
export const EVENTS_LIMIT_MAX = 1000;

export interface EventsQuery {
  readonly since: EventId | null;
  readonly limit: number;
}

export type ParsedEventsQuery = { ok: true; query: EventsQuery } | { ok: false; error: string };

/**
 * Validates `?since=` and `?limit=` as `parseCheckQuery` does the health checks':
 * unknown parameters are ignored, a known one with a bad value is an error.
 * A well-formed `since` is never an error, even when the journal no longer holds
 * it or it comes from before a restart: the answer is then every event still held,
 * which a poller can resume from, where a 400 would leave it stuck for good.
 */
export function parseEventsQuery(raw: Readonly<Record<string, unknown>>): ParsedEventsQuery {
  let since: EventId | null = null;
  let limit = EVENTS_LIMIT_DEFAULT;
  for (const [key, value] of Object.entries(raw)) {
    if (key !== 'since' && key !== 'limit') continue;
    if (typeof value !== 'string') return { ok: false, error: `query parameter ${key} given more than once` };
    if (key === 'since') {
      if (parseEventId(value) === null) return { ok: false, error: 'since must be an event id (<boot>-<n>)' };
      since = value;
    } else {
      if (!/^[0-9]{1,4}$/.test(value) || Number(value) < 1 || Number(value) > EVENTS_LIMIT_MAX) {
        return { ok: false, error: `limit must be an integer from 1 to ${EVENTS_LIMIT_MAX}` };
      }
      limit = Number(value);
    }
  }
  return { ok: true, query: { since, limit } };
}

/**
 * `GET /events`: `{ events: [...] }`, oldest first. Without `since`, the most
 * recent `limit` events; with it, the first `limit` events after it, so paging
 * forward with the last id seen skips nothing the journal still holds.
 */
export const eventRoutes: FastifyPluginAsync<EventRoutesOptions> = async (app, opts) => {
  app.route({
    method: ['GET', 'HEAD'],
    url: '/events',
    handler: async (req, reply) => {
      const parsed = parseEventsQuery(req.query as Record<string, unknown>);
      if (!parsed.ok) return reply.code(400).send({ error: parsed.error });
      const { since, limit } = parsed.query;
      const events = opts.journal.recent(since === null ? { limit } : { since, limit }).map(toWireEvent);
      reply.code(200);
      return req.method === 'GET' ? reply.send({ events }) : reply.send();
    },
  });
};
