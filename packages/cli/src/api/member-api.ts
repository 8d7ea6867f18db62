import { errorText } from '@hapg/core';
import { memberApiBase } from '@hapg/platform';
import type { HttpFn } from './http.js';

/** Basic-auth credentials for the members' unsafe REST methods. */
export interface ApiAuth {
  readonly username: string;
  readonly password: string;
}

/** A member's answer: the status and the body, parsed as JSON when it is JSON. */
export interface ApiReply {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
}

/** The member did not answer at all (as opposed to answering with an error status). */
export class ApiUnreachableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApiUnreachableError';
  }
}

/** Calls to one member's REST API, addressed by its `api_url` from the member key. */
export interface MemberApi {
  request(apiUrl: string, method: string, path: string, body?: unknown): Promise<ApiReply>;
}

export interface MemberApiOptions {
  readonly http: HttpFn;
  readonly auth: ApiAuth | null;
  /** per request; a person is waiting */
  readonly timeoutMs: number;
}

export const DEFAULT_API_TIMEOUT_MS = 5000;

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The REST base of a member (platform's rule): the actions live at the root. */
export const apiBaseUrl = memberApiBase;

export function basicAuthHeader(auth: ApiAuth): string {
  return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
}

export function createMemberApi(opts: MemberApiOptions): MemberApi {
  return {
    async request(apiUrl, method, path, body) {
      let url: string;
      try {
        url = `${apiBaseUrl(apiUrl)}${path}`;
      } catch {
        throw new ApiUnreachableError(`invalid api_url ${JSON.stringify(apiUrl)}`);
      }
      const headers: Record<string, string> = { accept: 'application/json' };
      if (body !== undefined) headers['content-type'] = 'application/json';
      // credentials only where the API asks for them: safe GETs are open
      if (opts.auth !== null && UNSAFE_METHODS.has(method))
        headers.authorization = basicAuthHeader(opts.auth);
      let res: Awaited<ReturnType<HttpFn>>;
      try {
        res = await opts.http({
          method,
          url,
          headers,
          body: body === undefined ? null : JSON.stringify(body),
          timeoutMs: opts.timeoutMs,
        });
      } catch (e) {
        throw new ApiUnreachableError(`${url}: ${errorText(e).split('\n')[0]}`, { cause: e });
      }
      return { status: res.status, body: parseBody(res.body), text: res.body };
    },
  };
}

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * The one-line reason of an error reply: `{"error": ...}`, `{"message": ...}`,
 * or the text itself (Patroni answers plain text for most refusals).
 */
export function replyReason(reply: ApiReply): string {
  const b = reply.body;
  if (typeof b === 'object' && b !== null) {
    const o = b as Record<string, unknown>;
    for (const k of ['error', 'reason', 'message']) if (typeof o[k] === 'string') return o[k] as string;
  }
  const text = reply.text.trim().split('\n')[0] ?? '';
  return text === '' ? `HTTP ${reply.status}` : text;
}
