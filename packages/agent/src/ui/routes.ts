import type { Clock } from '@hapg/core';
import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { NodeSnapshot } from '../api/snapshot.js';
import type { UiHub } from './hub.js';
import { redactSecrets } from './redact.js';
import { sseComment, sseFrame } from './sse.js';
import type { UiReason } from './state.js';

export interface UiRoutesOptions {
  readonly hub: UiHub;
  readonly snapshot: () => NodeSnapshot;
  readonly ownReason: () => UiReason | null;
  readonly clock: Clock;
  /** open streams at most (each holds a socket and a little buffer); default 64 */
  readonly maxStreams?: number;
}

/** The page and its assets: nothing from elsewhere (no CDN), scripts and styles from files only. */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** Comments on an idle stream: proxies close silent connections after 30–60 s. */
const HEARTBEAT_MS = 15_000;
/** What the browser waits before it reconnects a dropped stream. */
const RECONNECT_MS = 1000;

/**
 * `GET /ui` (the page), `/ui/app.js`, `/ui/app.css`, `/ui/state` (the state as JSON),
 * `/ui/stream` (the state as server-sent events, pushed on change) and `/ui/reason` (what
 * this member tells its peers' dashboards). All read-only GETs, open like `/cluster`: the
 * auth hook of the actions plugin guards the unsafe methods only.
 */
export const uiRoutes: FastifyPluginAsync<UiRoutesOptions> = async (app, opts) => {
  const maxStreams = opts.maxStreams ?? 64;
  const streams = new Set<ServerResponse>();
  // an open stream is an active connection, which server.close() waits for: the agent's
  // shutdown would hang as long as a browser tab stays open
  app.addHook('preClose', async () => {
    for (const res of streams) res.end();
  });
  const asset = (url: string, name: string) =>
    app.route({
      method: ['GET', 'HEAD'],
      url,
      handler: async (req, reply) => {
        // loaded on the first visit: an agent nobody looks at never holds the page in memory
        const { UI_ASSETS } = await import('./assets.generated.js');
        const a = UI_ASSETS[name]!;
        const etag = `"${a.hash}"`;
        reply.headers(SECURITY_HEADERS).header('cache-control', 'no-cache').header('etag', etag);
        if (req.headers['if-none-match'] === etag) return reply.code(304).send();
        reply.code(200).type(a.type);
        return req.method === 'GET' ? reply.send(a.body) : reply.send();
      },
    });
  asset('/ui', 'index.html');
  asset('/ui/app.js', 'app.js');
  asset('/ui/app.css', 'app.css');

  app.get('/ui/state', async (_req, reply) =>
    reply.headers(SECURITY_HEADERS).header('cache-control', 'no-store').send(opts.hub.state()),
  );

  app.get('/ui/reason', async (_req, reply) => {
    const s = opts.snapshot();
    const leaseRemainingMs =
      s.holdsLeaderKey && s.leaseDeadlineMs !== null
        ? Math.max(0, s.leaseDeadlineMs - opts.clock.monotonicMs())
        : null;
    return reply
      .header('cache-control', 'no-store')
      .send(redactSecrets({ name: s.name, reason: opts.ownReason(), lease_remaining_ms: leaseRemainingMs }));
  });

  app.get('/ui/stream', async (req, reply) => {
    if (streams.size >= maxStreams)
      return reply.code(503).send({ error: `too many open dashboard streams (${maxStreams})` });
    streams.add(reply.raw);
    openStream(reply, opts.hub, () => streams.delete(reply.raw));
    req.raw.on('close', () => reply.raw.destroy());
    return reply;
  });
};

/** Writes the current state at once, then every push, until the page goes away. */
function openStream(reply: FastifyReply, hub: UiHub, onClose: () => void): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    // nginx and friends would otherwise buffer the stream
    'x-accel-buffering': 'no',
  });
  // a slow page skips states rather than queueing them: each one is whole, the next replaces it
  let backedUp = false;
  res.on('drain', () => {
    backedUp = false;
  });
  const write = (text: string) => {
    if (backedUp || res.destroyed) return;
    backedUp = !res.write(text);
  };
  write(sseFrame({ event: 'state', retryMs: RECONNECT_MS, data: JSON.stringify(hub.state()) }));
  const unsubscribe = hub.subscribe((_state, json) => write(sseFrame({ event: 'state', data: json })));
  const heartbeat = setInterval(() => write(sseComment('keep-alive')), HEARTBEAT_MS);
  let closed = false;
  res.on('close', () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    unsubscribe();
    onClose();
  });
}
