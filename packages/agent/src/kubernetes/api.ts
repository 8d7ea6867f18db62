/**
 * The one Kubernetes API request the agent makes: a JSON merge patch of its own pod's labels,
 * over plain HTTPS with the pod's service account token and CA (no client library).
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { errorText, type KubernetesConfig } from '@hapg/core';
import type { PodLabels } from './labels.js';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** A response body is read up to this size (a Status object is a few hundred bytes). */
const RESPONSE_BYTES_MAX = 64 * 1024;

/** Where and how to reach the API server. */
export interface ApiTarget {
  /** `https://<KUBERNETES_SERVICE_HOST>:<KUBERNETES_SERVICE_PORT>` (http only in tests) */
  readonly baseUrl: URL;
  /** PEM bundle the server's certificate is checked against; null: Node's default CAs */
  readonly ca: Buffer | null;
  /** the bearer token, read anew for each request (kubelet rotates a projected token) */
  readonly token: () => string;
  readonly requestTimeoutMs: number;
}

export type InCluster =
  | { readonly ok: true; readonly target: ApiTarget; readonly namespace: string }
  | { readonly ok: false; readonly reason: string };

/**
 * The API server, token and CA a pod gets (`KUBERNETES_SERVICE_HOST`/`_PORT`, the service
 * account's files); the namespace is `kubernetes.namespace`, else the pod's own.
 */
export function inClusterTarget(
  env: Readonly<Record<string, string | undefined>>,
  k: Pick<KubernetesConfig, 'namespace' | 'cacert'>,
  opts: { serviceAccountDir?: string; requestTimeoutMs?: number } = {},
): InCluster {
  const dir = opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port)
    return {
      ok: false,
      reason: 'KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set (not in a pod?)',
    };
  const tokenPath = join(dir, 'token');
  const caPath = k.cacert ?? join(dir, 'ca.crt');
  let ca: Buffer;
  let namespace: string;
  try {
    readToken(tokenPath);
    ca = readFileSync(caPath);
    namespace = k.namespace ?? readFileSync(join(dir, 'namespace'), 'utf8').trim();
  } catch (e) {
    return { ok: false, reason: errorText(e) };
  }
  const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return {
    ok: true,
    namespace,
    target: {
      baseUrl: new URL(`https://${hostPart}:${port}`),
      ca,
      token: () => readToken(tokenPath),
      requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
    },
  };
}

function readToken(path: string): string {
  const token = readFileSync(path, 'utf8').trim();
  if (token === '') throw new Error(`${path} is empty`);
  return token;
}

export interface PatchResponse {
  readonly status: number;
  /** the API's `message` (a Status object's), or the start of the body */
  readonly message: string;
}

/**
 * PATCH /api/v1/namespaces/<ns>/pods/<pod> with `{"metadata":{"labels":…}}` as
 * `application/merge-patch+json` (a null value removes the label). Resolves with any HTTP
 * answer; rejects on a connection error, a timeout or an abort.
 */
export function patchPodLabels(
  target: ApiTarget,
  pod: { readonly namespace: string; readonly name: string },
  labels: PodLabels,
  signal: AbortSignal,
): Promise<PatchResponse> {
  const body = JSON.stringify({ metadata: { labels } });
  const url = new URL(
    `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/pods/${encodeURIComponent(pod.name)}`,
    target.baseUrl,
  );
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'PATCH',
        signal,
        ...(target.ca !== null && url.protocol === 'https:' ? { ca: target.ca } : {}),
        headers: {
          authorization: `Bearer ${target.token()}`,
          'content-type': 'application/merge-patch+json',
          accept: 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': 'hapg',
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < RESPONSE_BYTES_MAX) chunks.push(c);
          size += c.length;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            message: statusMessage(Buffer.concat(chunks).toString('utf8')),
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(target.requestTimeoutMs, () =>
      req.destroy(new Error(`no answer within ${target.requestTimeoutMs} ms`)),
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The `message` of a Kubernetes Status object, else the body's first 200 characters. */
export function statusMessage(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed !== null && typeof parsed === 'object' && 'message' in parsed) {
      const m = (parsed as { message: unknown }).message;
      if (typeof m === 'string') return m.slice(0, 500);
    }
  } catch {
    // not JSON: fall through
  }
  return body.slice(0, 200);
}
