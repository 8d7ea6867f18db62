import { parseTags } from '@hapg/core';
import type { CheckQuery } from './query.js';
import type { NodeSnapshot } from './snapshot.js';

/**
 * The health checks behind the role endpoints, as pure functions of the last
 * loop's snapshot, the request's filters and the current monotonic time.
 * Each returns whether the endpoint answers 200 and, when not, why — the
 * reason goes into a response header so `curl -i` shows it.
 */
export type CheckName =
  | 'primary'
  | 'leader'
  | 'standby-leader'
  | 'replica'
  | 'read-only'
  | 'sync'
  | 'async'
  | 'read-only-sync'
  | 'quorum'
  | 'read-only-quorum'
  | 'health'
  | 'liveness'
  | 'readiness';

export type CheckResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const OK: CheckResult = { ok: true };
const fail = (reason: string): CheckResult => ({ ok: false, reason });

export interface CheckInput {
  readonly snapshot: NodeSnapshot;
  readonly query: CheckQuery;
  /** current monotonic time, same clock as the snapshot's `leaseDeadlineMs` and `lastLoopMs` */
  readonly nowMs: number;
}

export function evaluateCheck(name: CheckName, input: CheckInput): CheckResult {
  return CHECKS[name](input);
}

const CHECKS: Readonly<Record<CheckName, (input: CheckInput) => CheckResult>> = {
  primary: ({ snapshot: s, nowMs }) =>
    firstFailure(
      () => leaderKeyCheck(s, nowMs),
      () => (s.isStandbyCluster ? fail('this is a standby cluster') : OK),
      () => roleCheck(s, 'primary'),
      () => runningCheck(s),
      // Postgres still in recovery while the key is held: promotion is not finished, writes would fail.
      () => (s.inRecovery === false ? OK : fail('postgres is not writable (in recovery)')),
    ),
  'standby-leader': ({ snapshot: s, nowMs }) =>
    firstFailure(
      () => leaderKeyCheck(s, nowMs),
      () => (s.isStandbyCluster ? OK : fail('this is not a standby cluster')),
      () => roleCheck(s, 'standby_leader'),
      () => runningCheck(s),
    ),
  leader: (input) =>
    eitherCheck(evaluateCheck('primary', input), () => evaluateCheck('standby-leader', input)),
  replica: ({ snapshot: s, query }) =>
    firstFailure(
      () => roleCheck(s, 'replica'),
      () => runningCheck(s),
      () => (parseTags(s.tags).noloadbalance ? fail('tagged noloadbalance') : OK),
      () => replicationStateCheck(s, query),
      () => (query.lagBytes === null ? OK : lagCheck(s, query.lagBytes, 'apply')),
      () => tagsCheck(s, query.tags),
    ),
  'read-only': (input) => eitherCheck(evaluateCheck('leader', input), () => evaluateCheck('replica', input)),
  sync: (input) =>
    firstFailure(
      () => dcsCheck(input.snapshot),
      () => (input.snapshot.syncStandby ? OK : fail('not a synchronous standby')),
      () => evaluateCheck('replica', input),
    ),
  async: (input) =>
    firstFailure(
      () => dcsCheck(input.snapshot),
      () => (input.snapshot.syncStandby ? fail('this is a synchronous standby') : OK),
      () => (input.snapshot.quorumStandby ? fail('this is a quorum standby') : OK),
      () => evaluateCheck('replica', input),
    ),
  'read-only-sync': (input) =>
    eitherCheck(evaluateCheck('leader', input), () => evaluateCheck('sync', input)),
  quorum: (input) =>
    firstFailure(
      () => dcsCheck(input.snapshot),
      () => (input.snapshot.quorumStandby ? OK : fail('not a quorum standby')),
      () => evaluateCheck('replica', input),
    ),
  'read-only-quorum': (input) =>
    eitherCheck(evaluateCheck('leader', input), () => evaluateCheck('quorum', input)),
  health: ({ snapshot: s }) => runningCheck(s),
  liveness: ({ snapshot: s, nowMs }) => {
    if (s.paused) return OK;
    // A leader's loop must run within ttl or its lease lapses; a replica gets twice that (Patroni's rule).
    const isLeader = s.holdsLeaderKey || s.role === 'primary' || s.role === 'standby_leader';
    const loopAgeMaxMs = isLeader ? s.ttlMs : 2 * s.ttlMs;
    const loopAgeMs = nowMs - s.lastLoopMs;
    return loopAgeMs <= loopAgeMaxMs ? OK : fail(`last loop ran ${Math.round(loopAgeMs)} ms ago`);
  },
  readiness: (input) => {
    const { snapshot: s, query } = input;
    return eitherCheck(evaluateCheck('leader', input), () =>
      firstFailure(
        () => runningCheck(s),
        () => (s.replicationState === 'streaming' ? OK : fail('not streaming')),
        () => lagCheck(s, query.lagBytes ?? s.maximumLagOnFailoverBytes, query.mode),
      ),
    );
  },
};

/** Runs checks in order and returns the first failure. */
function firstFailure(...checks: readonly (() => CheckResult)[]): CheckResult {
  for (const check of checks) {
    const result = check();
    if (!result.ok) return result;
  }
  return OK;
}

/** 200 when either passes; the second check's reason explains a failure of both. */
function eitherCheck(first: CheckResult, second: () => CheckResult): CheckResult {
  return first.ok ? first : second();
}

/** hapg's freshness rule: holding the key is only trusted until the local lease deadline. */
export function leaseValid(s: NodeSnapshot, nowMs: number): boolean {
  return s.holdsLeaderKey && s.leaseDeadlineMs !== null && nowMs < s.leaseDeadlineMs;
}

function leaderKeyCheck(s: NodeSnapshot, nowMs: number): CheckResult {
  // failsafe mode: every member promised not to lead until past F (Patroni keeps is_leader)
  if (s.failsafeDeadlineMs != null && nowMs < s.failsafeDeadlineMs) return OK;
  if (!s.holdsLeaderKey) return fail('does not hold the leader key');
  return leaseValid(s, nowMs) ? OK : fail('leader lease deadline passed');
}

function roleCheck(s: NodeSnapshot, role: NodeSnapshot['role']): CheckResult {
  return s.role === role ? OK : fail(`role is ${s.role}`);
}

function runningCheck(s: NodeSnapshot): CheckResult {
  return s.pgState === 'running' ? OK : fail(`postgres is ${s.pgState}`);
}

function dcsCheck(s: NodeSnapshot): CheckResult {
  return s.dcsReachable ? OK : fail('etcd is not reachable');
}

function replicationStateCheck(s: NodeSnapshot, query: CheckQuery): CheckResult {
  if (query.replicationState === null || s.replicationState === query.replicationState) return OK;
  return fail(`replication state is ${s.replicationState ?? 'unknown'}`);
}

/**
 * The replica is within `lagMaxBytes` of the leader's last optime. When the
 * optime is unknown (no leader has written `status` yet) the bound cannot be
 * checked and passes, as in Patroni; an unknown own position fails.
 */
function lagCheck(s: NodeSnapshot, lagMaxBytes: number, mode: 'apply' | 'write'): CheckResult {
  if (s.leaderOptimeBytes === null) return OK;
  const own = replicaPositionBytes(s, mode);
  if (own === null) return fail(`${mode === 'apply' ? 'replayed' : 'received'} position unknown`);
  const lagBytes = s.leaderOptimeBytes - own;
  return lagBytes <= lagMaxBytes ? OK : fail(`lag ${lagBytes} bytes exceeds ${lagMaxBytes}`);
}

function replicaPositionBytes(s: NodeSnapshot, mode: 'apply' | 'write'): number | null {
  if (s.xlog?.kind !== 'replica') return null;
  return mode === 'apply' ? s.xlog.replayedBytes : s.xlog.receivedBytes;
}

function tagsCheck(s: NodeSnapshot, wanted: ReadonlyMap<string, string>): CheckResult {
  for (const [key, value] of wanted) {
    // own keys only: `in` also finds `__proto__` and `constructor` on every tag object
    if (!Object.hasOwn(s.tags, key)) return fail(`tag ${key} is not set`);
    if (!tagMatches(s.tags[key], value)) return fail(`tag ${key} does not match`);
  }
  return OK;
}

/** Tags come from YAML (booleans, numbers) while the query is text: compare as text, booleans case-insensitively. */
function tagMatches(actual: unknown, wanted: string): boolean {
  if (typeof actual === 'boolean') return String(actual) === wanted.toLowerCase();
  return String(actual) === wanted;
}
