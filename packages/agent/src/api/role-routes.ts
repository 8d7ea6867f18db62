import type { Clock } from '@hapg/core';
import type { FastifyPluginAsync } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
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

/** What a role endpoint answers, whichever path served the request. */
export interface CheckAnswer {
  readonly status: 200 | 400 | 503;
  /** why the check failed (`x-hapg-reason`), or null */
  readonly reason: string | null;
  /** JSON, or null: a status line only (HEAD, OPTIONS, the Kubernetes probes) */
  readonly body: string | null;
}

/**
 * The one rule of every role endpoint: validate the filters, evaluate the check on the
 * current snapshot, answer the `/patroni` status body with the code (GET), or the status
 * line only. Anything but 200 is 503; a malformed filter is 400.
 */
export function roleAnswerer(opts: RoleRoutesOptions) {
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
  return (check: CheckName, method: string, rawQuery: Readonly<Record<string, unknown>>): CheckAnswer => {
    const parsed = parseCheckQuery(rawQuery);
    if (!parsed.ok) return { status: 400, reason: null, body: JSON.stringify({ error: parsed.error }) };
    const snapshot = opts.snapshot();
    const result = evaluateCheck(check, { snapshot, query: parsed.query, nowMs: opts.clock.monotonicMs() });
    return {
      status: result.ok ? 200 : 503,
      reason: result.ok ? null : result.reason,
      body: method !== 'GET' || STATUS_ONLY.has(check) ? null : bodyOf(snapshot),
    };
  };
}

export type RoleAnswerer = ReturnType<typeof roleAnswerer>;

/** Health-check endpoints as fastify routes: GET, HEAD and OPTIONS (HAProxy's default check). */
export const roleRoutes: FastifyPluginAsync<{ readonly answer: RoleAnswerer }> = async (app, opts) => {
  for (const [path, check] of Object.entries(ROLE_ENDPOINTS)) {
    app.route({
      method: ['GET', 'HEAD', 'OPTIONS'],
      url: path,
      handler: async (req, reply) => {
        const a = opts.answer(check, req.method, req.query as Record<string, unknown>);
        reply.code(a.status);
        if (a.reason !== null) reply.header(REASON_HEADER, a.reason);
        if (a.body === null) return reply.send();
        return reply.type(JSON_TYPE).send(a.body);
      },
    });
  }
};

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The same endpoints served before fastify sees the request, for the one request load
 * balancers send thousands of times a second: a bodiless GET, HEAD or OPTIONS of a role path.
 * It answers exactly what the route would (same `roleAnswerer`), without the router, hooks and
 * reply objects — about a fifth of a health check's CPU (issue 15). Whatever it does not
 * recognise (another path or method, a body, an encoded path, a throw) it leaves to fastify,
 * which answers it as before: returning false always is correct, only slower.
 */
export function roleFastPath(answer: RoleAnswerer, parseQuery: (q: string) => Record<string, unknown>) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS') return false;
    const length = req.headers['content-length'];
    if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined)
      return false;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    let path = q === -1 ? url : url.slice(0, q);
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1); // ignoreTrailingSlash, as the router
    const check = Object.hasOwn(ROLE_ENDPOINTS, path) ? ROLE_ENDPOINTS[path] : undefined;
    if (check === undefined) return false;
    let a: CheckAnswer;
    try {
      a = answer(check, method, q === -1 ? {} : parseQuery(url.slice(q + 1)));
    } catch {
      return false; // fastify's error handler answers it
    }
    const headers: Record<string, string | number> = {};
    if (a.reason !== null) headers[REASON_HEADER] = a.reason;
    if (a.body !== null) {
      headers['content-type'] = JSON_TYPE;
      headers['content-length'] = Buffer.byteLength(a.body);
    } else if (method !== 'HEAD') headers['content-length'] = 0;
    res.writeHead(a.status, headers);
    res.end(a.body ?? undefined);
    return true;
  };
}
