import type { TLSSocket } from 'node:tls';
import { parseDurationMs, parseScheduledTime } from '@hapg/core';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ClusterOps } from '../cluster-ops/cluster-ops.js';
import type { ActionReply } from '../cluster-ops/reply.js';
import { configBody, failoverBody, reinitializeBody, restartBody, switchoverBody } from './action-schemas.js';
import type { AllowList } from './allowlist.js';
import { AUTH_REALM, type BasicAuth, basicAuthMatches, UNSAFE_METHODS } from './auth.js';
import type { FailsafeApi } from './failsafe-api.js';
import type { ApiActions, RestartRequest } from './local-actions.js';

export type { ApiActions, LocalActions, RestartRequest } from './local-actions.js';

export interface ActionsPluginOptions {
  readonly auth?: BasicAuth | (() => BasicAuth | null);
  /** absent: node-local action endpoints answer 503 (e.g. an API built for tests of the role endpoints) */
  readonly actions?: ApiActions;
  /** cluster-level actions (switchover, failover, config); absent: those endpoints answer 503 */
  readonly clusterOps?: ClusterOps;
  /** unsafe methods only from these peers (403), or a getter (a reloaded YAML may change it) */
  readonly allowlist?: AllowList | (() => AllowList | null);
  /** TLS with `verifyClient: 'optional'`: unsafe methods need a verified client certificate (403) */
  readonly requireClientCertForUnsafe?: boolean;
  /** wall clock for `schedule` checks */
  readonly wallNowMs?: () => number;
  /** `POST /failsafe`; absent: 502, as with failsafe mode off */
  readonly failsafe?: Pick<FailsafeApi, 'answer'>;
}

/**
 * The mutating endpoints, in their own encapsulated plugin so that the auth
 * hook guards exactly these routes and never the load-balancer checks.
 * Auth order (contract): allow-list → client certificate → basic auth.
 */
export const actionsPlugin: FastifyPluginAsync<ActionsPluginOptions> = async (app, opts) => {
  const { actions, clusterOps } = opts;
  const wallNowMs = opts.wallNowMs ?? Date.now;
  app.addHook('onRequest', async (req, reply) => {
    if (!UNSAFE_METHODS.has(req.method)) return;
    const refusal = await authRefusal(req, opts);
    if (refusal === null) return;
    if (refusal.status === 401) reply.header('WWW-Authenticate', `Basic realm="${AUTH_REALM}"`);
    return reply.code(refusal.status).send({ error: refusal.error });
  });
  // Bodies are optional on restart/reinitialize: an absent body is an empty object, not a type error.
  // No body at all means "no options" (Patroni's clients send none); a JSON `null` is a body
  // that is not an object, and the schema refuses it — it was once taken as {} and acted on.
  const emptyBodyIsObject = async (req: FastifyRequest) => {
    if (req.body === undefined) req.body = {};
  };

  const send = (reply: FastifyReply, r: ActionReply) => reply.code(r.status).send(r.body);
  const unavailable = (reply: FastifyReply, what: string) =>
    reply.code(503).send({ code: 'NOT_AVAILABLE', error: `${what} is not available on this node` });

  // A primary cut off from etcd asks for a promise (docs/failsafe.md M1); Patroni's answers,
  // plain text: `Accepted` with an `lsn` header, `Running as a leader`, or 502 with the mode off.
  app.post(
    '/failsafe',
    { schema: { summary: 'Failsafe mode: promise a primary cut off from etcd not to lead' } },
    async (req, reply) => {
      if (opts.failsafe === undefined)
        return reply.code(502).type('text/plain').send('failsafe_mode is off here');
      const r = await opts.failsafe.answer(req.body);
      if (r.lsn !== undefined) reply.header('lsn', r.lsn);
      return reply.code(r.status).type('text/plain').send(r.body);
    },
  );

  app.post('/reload', { schema: { summary: 'Re-read the configuration file' } }, async (_req, reply) => {
    if (actions === undefined) return unavailable(reply, 'reload');
    const r = await actions.reload();
    return r ? send(reply, r) : reply.code(202).send({ message: 'reload scheduled' });
  });

  app.post(
    '/switchover',
    { schema: { summary: 'Switch the leader over to another member', body: switchoverBody } },
    async (req, reply) => {
      if (clusterOps === undefined) return unavailable(reply, 'switchover');
      const b = req.body as { leader: string; candidate?: string | null; scheduled_at?: string | null };
      return send(
        reply,
        await clusterOps.switchover({
          kind: 'switchover',
          leader: b.leader,
          candidate: b.candidate ?? null,
          scheduledAt: b.scheduled_at ?? null,
        }),
      );
    },
  );
  app.delete(
    '/switchover',
    { schema: { summary: 'Delete a scheduled (or pending) switchover' } },
    async (_req, reply) => {
      if (clusterOps === undefined) return unavailable(reply, 'switchover');
      return send(reply, await clusterOps.cancelSwitchover());
    },
  );
  app.post(
    '/failover',
    { schema: { summary: 'Promote a named member, with or without a leader', body: failoverBody } },
    async (req, reply) => {
      if (clusterOps === undefined) return unavailable(reply, 'failover');
      const b = req.body as { candidate: string; leader?: string | null; scheduled_at?: string | null };
      return send(
        reply,
        await clusterOps.switchover({
          kind: 'failover',
          leader: b.leader ?? null,
          candidate: b.candidate,
          scheduledAt: b.scheduled_at ?? null,
        }),
      );
    },
  );

  app.post(
    '/restart',
    {
      schema: { summary: 'Restart the local Postgres', body: restartBody },
      preValidation: emptyBodyIsObject,
    },
    async (req, reply) => {
      const parsed = parseRestartBody(req.body as RestartBody, wallNowMs());
      if (typeof parsed === 'string') return reply.code(400).send({ code: 'BAD_REQUEST', error: parsed });
      if (actions?.restart === undefined) return unavailable(reply, 'restart');
      return send(reply, await actions.restart(parsed));
    },
  );
  app.delete('/restart', { schema: { summary: 'Delete a scheduled restart' } }, async (_req, reply) => {
    if (actions?.cancelRestart === undefined) return unavailable(reply, 'restart');
    return send(reply, await actions.cancelRestart());
  });
  app.post(
    '/reinitialize',
    {
      schema: { summary: 'Re-create this replica from the leader', body: reinitializeBody },
      preValidation: emptyBodyIsObject,
    },
    async (req, reply) => {
      if (actions?.reinitialize === undefined) return unavailable(reply, 'reinitialize');
      const force = (req.body as { force?: boolean }).force === true;
      return send(reply, await actions.reinitialize({ force }));
    },
  );

  app.patch(
    '/config',
    { schema: { summary: 'Merge into the dynamic configuration (RFC 7396)', body: configBody } },
    async (req, reply) => {
      if (clusterOps === undefined) return unavailable(reply, 'config');
      return send(reply, await clusterOps.patchConfig(req.body));
    },
  );
  app.put(
    '/config',
    { schema: { summary: 'Replace the dynamic configuration', body: configBody } },
    async (req, reply) => {
      if (clusterOps === undefined) return unavailable(reply, 'config');
      return send(reply, await clusterOps.replaceConfig(req.body));
    },
  );
};

type Refusal = { readonly status: 401 | 403; readonly error: string };

async function authRefusal(req: FastifyRequest, opts: ActionsPluginOptions): Promise<Refusal | null> {
  const allowlist = typeof opts.allowlist === 'function' ? opts.allowlist() : opts.allowlist;
  if (allowlist != null && !(await allowlist.allows(req.socket.remoteAddress))) {
    return {
      status: 403,
      error: `${req.socket.remoteAddress ?? 'this address'} is not in ${allowlist.description}`,
    };
  }
  if (opts.requireClientCertForUnsafe === true && (req.socket as TLSSocket).authorized !== true) {
    return { status: 403, error: 'a verified client certificate is required for this method' };
  }
  const auth = typeof opts.auth === 'function' ? opts.auth() : opts.auth;
  if (auth != null && !basicAuthMatches(req.headers.authorization, auth)) {
    return { status: 401, error: 'authentication required' };
  }
  return null;
}

interface RestartBody {
  restart_pending?: boolean;
  role?: string;
  postgres_version?: string;
  timeout?: number | string;
  schedule?: string;
}

/** Schema-checked body → request; the cross-field/value rules the schema cannot say. */
export function parseRestartBody(b: RestartBody, wallNowMs: number): RestartRequest | string {
  let timeoutMs: number | null = null;
  if (b.timeout !== undefined) {
    try {
      timeoutMs = parseDurationMs(b.timeout);
    } catch {
      return `timeout: not a duration: ${JSON.stringify(b.timeout)}`;
    }
    if (timeoutMs <= 0) return 'timeout: must be positive';
  }
  let scheduleAtMs: number | null = null;
  if (b.schedule !== undefined) {
    const when = parseScheduledTime('schedule', b.schedule, wallNowMs);
    if ('error' in when) return when.error;
    scheduleAtMs = when.atMs;
  }
  const role =
    b.role === undefined
      ? null
      : b.role === 'master'
        ? 'primary'
        : b.role === 'standby-leader'
          ? 'standby_leader'
          : (b.role as RestartRequest['role']);
  return {
    restartPending: b.restart_pending === true,
    role,
    postgresVersion: b.postgres_version ?? null,
    timeoutMs,
    scheduleAtMs,
  };
}
