import type { Clock } from '@hapg/core';
import type { FastifyPluginAsync } from 'fastify';
import { statusBody } from './bodies.js';
import { type CheckName, evaluateCheck } from './checks.js';
import { parseCheckQuery } from './query.js';
import type { NodeSnapshot } from './snapshot.js';

/** Path → check; several paths are Patroni's aliases of one check. */
export const ROLE_ENDPOINTS: Readonly<Record<string, CheckName>> = {
  '/': 'primary',
  '/primary': 'primary',
  '/read-write': 'primary',
  '/master': 'primary',
  '/leader': 'leader',
  '/standby-leader': 'standby-leader',
  '/standby_leader': 'standby-leader',
  '/replica': 'replica',
  '/read-only': 'read-only',
  '/sync': 'sync',
  '/synchronous': 'sync',
  '/async': 'async',
  '/asynchronous': 'async',
  '/read-only-sync': 'read-only-sync',
  '/quorum': 'quorum',
  '/read-only-quorum': 'read-only-quorum',
  '/health': 'health',
  '/liveness': 'liveness',
  '/readiness': 'readiness',
};

/** Checks that answer with a status line only, even to GET (Kubernetes probes; Patroni does the same). */
const STATUS_ONLY: ReadonlySet<CheckName> = new Set(['liveness', 'readiness']);

/** Header that carries why a check failed, for people reading `curl -i`; load balancers ignore it. */
export const REASON_HEADER = 'x-hapg-reason';

export interface RoleRoutesOptions {
  readonly snapshot: () => NodeSnapshot;
  readonly clock: Clock;
}

/**
 * Health-check endpoints: GET answers the `/patroni` status body with the
 * code, HEAD and OPTIONS (HAProxy's default check) the status line only.
 * Anything but 200 is 503; a malformed filter is 400.
 */
export const roleRoutes: FastifyPluginAsync<RoleRoutesOptions> = async (app, opts) => {
  // A load balancer asks many times per snapshot (it changes once per loop or event): the body
  // is serialised once per snapshot, not per request — less work and garbage per health check,
  // so fewer collector pauses in the answer times (issue 15).
  const bodies = new WeakMap<NodeSnapshot, string>();
  const bodyOf = (snapshot: NodeSnapshot): string => {
    let body = bodies.get(snapshot);
    if (body === undefined) {
      body = JSON.stringify(statusBody(snapshot));
      bodies.set(snapshot, body);
    }
    return body;
  };
  for (const [path, check] of Object.entries(ROLE_ENDPOINTS)) {
    app.route({
      method: ['GET', 'HEAD', 'OPTIONS'],
      url: path,
      handler: async (req, reply) => {
        const parsed = parseCheckQuery(req.query as Record<string, unknown>);
        if (!parsed.ok) return reply.code(400).send({ error: parsed.error });
        const snapshot = opts.snapshot();
        const result = evaluateCheck(check, {
          snapshot,
          query: parsed.query,
          nowMs: opts.clock.monotonicMs(),
        });
        reply.code(result.ok ? 200 : 503);
        if (!result.ok) reply.header(REASON_HEADER, result.reason);
        if (req.method !== 'GET' || STATUS_ONLY.has(check)) return reply.send();
        return reply.type('application/json; charset=utf-8').send(bodyOf(snapshot));
      },
    });
  }
};
