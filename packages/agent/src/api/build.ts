import { type Clock, errorText } from '@hapg/core';
import { systemClock } from '@hapg/platform';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { parse as parseQueryString } from 'node:querystring';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { type EventJournal, eventRoutes } from '../events/index.js';
import type { AgentMetrics } from '../metrics.js';
import type { ClusterOps } from '../cluster-ops/cluster-ops.js';
import { type ActionsPluginOptions, actionsPlugin } from './actions.js';
import { AllowList } from './allowlist.js';
import type { BasicAuth } from './auth.js';
import { infoRoutes } from './info-routes.js';
import { acceptJsonWhateverContentType } from './json-body.js';
import type { ApiActions } from './local-actions.js';
import { registerOpenApi } from './openapi.js';
import { roleAnswerer, roleFastPath, roleRoutes } from './role-routes.js';
import { formatSchemaErrors } from './schema-errors.js';
import type { NodeSnapshot } from './snapshot.js';
import type { FailsafeApi } from './failsafe-api.js';
import { type UiRoutesOptions, uiRoutes } from '../ui/routes.js';

export interface ApiOptions {
  /** the last loop iteration's snapshot; called once per request, must not do I/O */
  readonly snapshot: () => NodeSnapshot;
  readonly metrics: AgentMetrics;
  /** pino (or compatible) logger; default: no logging */
  readonly log?: FastifyBaseLogger;
  /** basic auth for unsafe methods, or a getter (a reloaded YAML may change it); default: none */
  readonly auth?: BasicAuth | (() => BasicAuth | null);
  /** node-local actions (reload, restart, reinitialize); missing ones answer 503 */
  readonly actions?: ApiActions;
  /** cluster-level actions over etcd (switchover, failover, config); absent: 503 */
  readonly clusterOps?: ClusterOps;
  /**
   * `restapi.allowlist`: IPs, CIDR blocks or host names allowed to use unsafe methods (403
   * otherwise), or a built list (with the members, see `AllowList`) or a getter of one (a
   * reloaded YAML may change it); default all
   */
  readonly allowlist?: readonly string[] | AllowList | (() => AllowList | null);
  /** serve HTTPS; see `ApiTlsOptions` */
  readonly https?: ApiTlsOptions;
  /** monotonic clock of the snapshot's deadlines (and wall clock of schedules); default the system clock */
  readonly clock?: Clock;
  /** the agent's recent events, for `GET /events`; absent: no such endpoint */
  readonly events?: EventJournal;
  /** failsafe mode (`GET` and `POST /failsafe`); absent: both answer 502, as with the mode off */
  readonly failsafe?: FailsafeApi;
  /** the dashboard (`GET /ui`, `/ui/stream`, ...), read-only and open like `/cluster`; absent: none */
  readonly ui?: UiRoutesOptions;
}

export interface ApiTlsOptions {
  /** PEM */
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  /** CA(s) that sign client certificates */
  readonly ca?: string | Buffer;
  /**
   * `none`: no client certificate asked for. `optional`: asked for; unsafe
   * methods without a verified one answer 403, GETs stay open for load
   * balancers. `required`: the TLS handshake fails without a verified one.
   */
  readonly verifyClient: 'none' | 'optional' | 'required';
}

/**
 * Builds the REST API without listening, so tests drive it with `inject()`
 * and the agent decides where it listens (`app.listen({ host, port })`).
 */
export function buildApi(opts: ApiOptions): FastifyInstance {
  const clock = opts.clock ?? systemClock;
  const answer = roleAnswerer({ snapshot: opts.snapshot, clock });
  const fastPath = roleFastPath(answer, parseQueryString);
  const app = Fastify({
    ...(opts.log === undefined
      ? { logger: false }
      : { loggerInstance: opts.log.child({ component: 'api' }) }),
    // Per-request log lines cost a third of the throughput of health checks (stack notes #15).
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request: pino's child (bindings, redaction) was ~5 % of a health
    // check's CPU (issue 15); the few lines a request logs carry its url instead of a reqId.
    childLoggerFactory: (logger) => logger,
    // HEAD is registered explicitly where it is allowed, so a missing one is a 405, not a silent GET.
    exposeHeadRoutes: false,
    // node's own query parser, for the routes and for the role endpoints' fast path alike
    routerOptions: { ignoreTrailingSlash: true, querystringParser: parseQueryString },
    ...(opts.https === undefined ? {} : { https: tlsServerOptions(opts.https) }),
    // Role endpoints are answered before the router (see `roleFastPath`); the rest as ever.
    serverFactory: (handler, options) => {
      const onRequest = (req: IncomingMessage, res: ServerResponse) => {
        if (!fastPath(req, res)) handler(req, res);
      };
      const server =
        opts.https === undefined
          ? createHttpServer(onRequest)
          : createHttpsServer(tlsServerOptions(opts.https), onRequest);
      // what fastify sets on a server it makes itself (its defaults filled in `options`)
      const o = options as { keepAliveTimeout?: number; requestTimeout?: number; connectionTimeout?: number };
      server.keepAliveTimeout = o.keepAliveTimeout ?? 72_000;
      server.requestTimeout = o.requestTimeout ?? 0;
      server.setTimeout(o.connectionTimeout ?? 0);
      return server;
    },
    // Bodies are checked as sent: no type coercion ("30" is not a number), no silently dropped fields.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    schemaErrorFormatter: (errors, dataVar) => new Error(formatSchemaErrors(errors, dataVar)),
  }) as unknown as FastifyInstance;
  // Parsed before any route so a bad entry fails the build, not the first request.
  const allowlist = Array.isArray(opts.allowlist)
    ? new AllowList(opts.allowlist as readonly string[])
    : (opts.allowlist as AllowList | (() => AllowList | null) | undefined);
  // Patroni's clients (patronictl 3.0) send JSON bodies without a Content-Type (stack notes #21).
  acceptJsonWhateverContentType(app);
  registerOpenApi(app);

  const allowedMethods = collectAllowedMethods(app);
  app.setNotFoundHandler(async (req, reply) => {
    const allowed = allowedMethods.get(normalisePath(req.url));
    if (allowed === undefined)
      return reply.code(404).send({ error: `no such endpoint: ${req.method} ${req.url}` });
    return reply
      .code(405)
      .header('Allow', [...allowed].sort().join(', '))
      .send({ error: `method ${req.method} not allowed` });
  });
  app.setErrorHandler(async (error, req, reply) => {
    const status = (error as { statusCode?: number }).statusCode;
    // Client errors (bad JSON, too large) keep their code; anything else is a 503, like every failed check.
    if (status !== undefined && status >= 400 && status < 500)
      return reply.code(status).send({ error: errorText(error) });
    req.log.error({ err: error, url: req.url }, 'REST API request failed');
    return reply.code(503).send({ error: errorText(error) });
  });

  app.register(roleRoutes, { answer });
  app.register(infoRoutes, {
    snapshot: opts.snapshot,
    metrics: opts.metrics,
    ...(opts.failsafe === undefined ? {} : { failsafe: opts.failsafe }),
  });
  if (opts.events !== undefined) app.register(eventRoutes, { journal: opts.events });
  if (opts.ui !== undefined) app.register(uiRoutes, opts.ui);
  const actionsOptions: ActionsPluginOptions = {
    ...(opts.auth === undefined ? {} : { auth: opts.auth }),
    ...(opts.actions === undefined ? {} : { actions: opts.actions }),
    ...(opts.clusterOps === undefined ? {} : { clusterOps: opts.clusterOps }),
    ...(allowlist === undefined ? {} : { allowlist }),
    requireClientCertForUnsafe: opts.https?.verifyClient === 'optional',
    ...(opts.failsafe === undefined ? {} : { failsafe: opts.failsafe }),
    wallNowMs: () => clock.wallMs(),
  };
  app.register(actionsPlugin, actionsOptions);
  return app;
}

function tlsServerOptions(tls: ApiTlsOptions) {
  return {
    key: tls.key,
    cert: tls.cert,
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    requestCert: tls.verifyClient !== 'none',
    rejectUnauthorized: tls.verifyClient === 'required',
  };
}

/** Path → methods, filled as routes are registered (also inside plugins), for 405 answers. */
function collectAllowedMethods(app: FastifyInstance): Map<string, Set<string>> {
  const allowed = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    const path = normalisePath(route.url ?? route.path);
    const methods = allowed.get(path) ?? new Set<string>();
    for (const m of [route.method].flat()) methods.add(m);
    allowed.set(path, methods);
  });
  return allowed;
}

function normalisePath(url: string): string {
  const path = url.split('?', 1)[0]!;
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}
