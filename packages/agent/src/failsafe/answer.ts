import type { ClusterView, MemberName } from '@hapg/core';
import type { FailsafePromises } from './promises.js';

/** The reply to `POST /failsafe`, in Patroni's words (docs/failsafe.md M1). */
export interface FailsafeReply {
  readonly status: 200 | 400 | 500 | 502;
  readonly body: string;
  /** 200 only: our received/replayed WAL position in bytes (Patroni's `lsn` header) */
  readonly lsn?: string;
}

export interface AnswerDeps {
  readonly self: MemberName;
  readonly scope: string;
  readonly promises: FailsafePromises;
  readonly monotonicMs: () => number;
  /** our dynamic config now */
  readonly failsafeMode: () => boolean;
  readonly ttlMs: () => number;
  /** Postgres runs writable here */
  readonly writable: () => boolean;
  /** etcd's last word, when we can reach it (null otherwise) */
  readonly freshView: () => ClusterView | null;
  /** our WAL position, bytes */
  readonly walPosition: () => bigint | null;
  /** durably records a longer longest promise (M4); rejects if it could not */
  readonly recordLongest: (ms: number) => Promise<void>;
}

/**
 * Answers a primary that cannot reach etcd. Accepting is a promise not to lead for
 * max(our ttl, its ttl), given atomically against our own leadership (`FailsafePromises`).
 */
export async function answerFailsafe(raw: unknown, deps: AnswerDeps): Promise<FailsafeReply> {
  const req = parseRequest(raw);
  if (typeof req === 'string') return { status: 400, body: req };
  if (!deps.failsafeMode()) return { status: 502, body: 'failsafe_mode is off here' };
  if (deps.writable()) return { status: 500, body: 'Running as a leader' };
  if (req.to !== null && req.to !== deps.self)
    return { status: 500, body: `this member is ${deps.self}, not ${req.to}` };
  if (req.scope !== null && req.scope !== deps.scope)
    return { status: 500, body: `this member is in scope ${deps.scope}, not ${req.scope}` };
  const leader = deps.freshView()?.leader ?? null;
  if (leader !== null && leader.leaseId !== null && leader.name !== req.name)
    return { status: 500, body: `etcd says ${leader.name} holds the leader key` };
  const durationMs = Math.max(deps.ttlMs(), req.ttlMs ?? 0);
  if (durationMs > deps.promises.longestPromiseMs) {
    try {
      await deps.recordLongest(durationMs);
      deps.promises.recorded(durationMs);
    } catch (e) {
      return { status: 500, body: `could not record the promise: ${(e as Error).message}` };
    }
  }
  // no await from here to the answer: the promise is given atomically against leadership
  const accepted = deps.promises.accept(req.name, durationMs, deps.monotonicMs());
  if (!accepted.ok) return { status: 500, body: accepted.why };
  const lsn = deps.walPosition();
  return { status: 200, body: 'Accepted', ...(lsn === null ? {} : { lsn: lsn.toString() }) };
}

interface Request {
  readonly name: MemberName;
  readonly to: MemberName | null;
  readonly scope: string | null;
  readonly ttlMs: number | null;
}

/** A request, or why it is not one. */
function parseRequest(raw: unknown): Request | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'the body must be a JSON object';
  const b = raw as Record<string, unknown>;
  if (typeof b.name !== 'string' || b.name === '') return 'name must be a non-empty string';
  const h = b.hapg;
  if (h === undefined || h === null) return { name: b.name, to: null, scope: null, ttlMs: null };
  if (typeof h !== 'object' || Array.isArray(h)) return 'hapg must be an object';
  const { to, scope, ttl } = h as Record<string, unknown>;
  if (typeof to !== 'string' || typeof scope !== 'string') return 'hapg.to and hapg.scope must be strings';
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0 || ttl > 86_400)
    return 'hapg.ttl must be a number of seconds between 0 and 86400';
  return { name: b.name, to, scope, ttlMs: ttl * 1000 };
}
