import { type ClientRequest, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';

/*
 * Condition (d) of docs/fast-failover.md: does the primary still answer this standby? Both
 * probes give a yes/no only. A "no" is never proof that P is dead (that is what (c) and (e) add),
 * so they never throw: an error of any kind is simply "did not answer".
 */

/** Where Patroni's member key points: `api_url` is already the `/patroni` endpoint. */
const STATUS_PATH = '/patroni';

/**
 * Settles a probe once: the first of answer, failure and deadline wins, the timer is cleared
 * and the connection destroyed, so no socket outlives the probe (a pooled, kept-alive one
 * could stand for a connection the peer has long lost).
 */
function settleOnce(
  resolve: (answered: boolean) => void,
  timeoutMs: number,
): { done(answered: boolean): void; hold(conn: ClientRequest | Socket): void } {
  let conn: ClientRequest | Socket | null = null;
  let settled = false;
  const done = (answered: boolean) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    conn?.destroy();
    resolve(answered);
  };
  const timer = setTimeout(() => done(false), Math.max(0, timeoutMs));
  return {
    done,
    hold(c) {
      conn = c;
      if (settled) c.destroy();
    },
  };
}

/** The URL to ask: `api_url` as published; a bare `http(s)://host:port` gets `/patroni`. */
function statusUrl(apiUrl: string): URL | null {
  try {
    const url = new URL(apiUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    if (url.pathname === '/' || url.pathname === '') url.pathname = STATUS_PATH;
    return url;
  } catch {
    return null;
  }
}

/**
 * P's REST API answered anything (any HTTP status) within timeoutMs: its agent is alive.
 * GET `apiUrl` (the member key's `api_url`, which is Patroni's `/patroni` endpoint; a bare
 * `http(s)://host:port` gets `/patroni` appended). The whole exchange (lookup, connect, TLS,
 * first response byte) is bounded by timeoutMs; the socket is destroyed afterwards, and the
 * body is never read; never throws.
 *
 * A TCP connect alone would not do: the kernel completes it from the listen backlog even
 * while the agent is frozen. An HTTP status line means its event loop is running.
 *
 * node's own `http`/`https`, not `fetch`: `fetch` loads undici into the agent (see http-text.ts).
 */
export function restAnswers(apiUrl: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = settleOnce(resolve, timeoutMs);
    const url = statusUrl(apiUrl);
    if (url === null) return probe.done(false);
    try {
      const req =
        url.protocol === 'https:'
          ? // Liveness, not trust: a self-signed or mismatched certificate still proves a live
            // agent, and nothing this probe receives is believed or even read.
            httpsRequest(url, { method: 'GET', agent: false, rejectUnauthorized: false })
          : httpRequest(url, { method: 'GET', agent: false });
      probe.hold(req);
      req.on('response', () => probe.done(true));
      req.on('information', () => probe.done(true)); // a 1xx status is an answer too
      req.on('error', () => probe.done(false));
      req.end();
    } catch {
      probe.done(false); // e.g. options node refuses synchronously
    }
  });
}

/**
 * A TCP connect to host:port completed within timeoutMs (node:net); refused, unreachable,
 * dropped or timed out: false. Never throws; the socket is destroyed.
 *
 * For P's Postgres port: a connect that completes says the host is up, which is what tells
 * a dead agent (Postgres still accepts) from a dead host. No startup packet is sent: the
 * connect is all that is asked, and no Postgres role or password is needed.
 */
export function portAnswers(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = settleOnce(resolve, timeoutMs);
    try {
      const socket = connect({ host, port });
      probe.hold(socket);
      socket.on('connect', () => probe.done(true));
      socket.on('error', () => probe.done(false));
    } catch {
      probe.done(false); // e.g. a port out of range
    }
  });
}
