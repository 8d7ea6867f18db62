import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** A peer's answer: status and body text. */
export interface HttpTextAnswer {
  readonly status: number;
  readonly text: string;
}

export interface HttpTextRequest {
  readonly method?: 'GET' | 'POST';
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** the whole exchange, connect to the last byte of the body */
  readonly timeoutMs: number;
}

/** A peer's status body is a few hundred bytes; a larger answer is no agent's. */
const MAX_BODY_BYTES = 1 << 20;

/**
 * One HTTP(S) request to another member's REST API over node's own `http`, resolving with
 * the status and the body text, rejecting on any failure, a body over 1 MiB, or the deadline.
 *
 * Why not the global `fetch`: its first call loads undici (~11 MiB of RSS, a WebAssembly
 * parser among it) into an agent that sends a handful of these requests per election (issue
 * 15). Connections are kept alive by node's global agents, as undici's pool did.
 */
export function httpText(url: string | URL, req: HttpTextRequest): Promise<HttpTextAnswer> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = typeof url === 'string' ? new URL(url) : url;
    } catch (e) {
      reject(e);
      return;
    }
    const send =
      target.protocol === 'https:' ? httpsRequest : target.protocol === 'http:' ? httpRequest : null;
    if (send === null) {
      reject(new Error(`not an http(s) URL: ${target.href}`));
      return;
    }
    const headers: Record<string, string> = { ...req.headers };
    if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
    const out = send(target, { method: req.method ?? 'GET', headers });
    // one timer for the whole exchange: a peer that trickles its answer is as dead as a silent one
    const timer = setTimeout(
      () => out.destroy(new Error(`no answer from ${target.host} within ${req.timeoutMs} ms`)),
      req.timeoutMs,
    );
    const fail = (e: Error) => {
      clearTimeout(timer);
      reject(e);
    };
    out.on('error', fail);
    out.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (bytes > MAX_BODY_BYTES) {
          fail(new Error(`answer from ${target.host} is over ${MAX_BODY_BYTES} bytes`));
          out.destroy();
          return;
        }
        chunks.push(c);
      });
      res.on('error', fail);
      res.on('close', () => {
        if (!res.complete) fail(new Error(`${target.host} closed the connection mid-answer`));
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    out.end(req.body);
  });
}
