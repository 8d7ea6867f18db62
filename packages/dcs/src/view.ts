import type {
  ClusterView,
  LeaderRecord,
  MalformedKey,
  MalformedKind,
  Member,
  MemberName,
  StreamRelease,
} from '@hapg/core';
import type { Kv } from './backend.js';
import { type ClusterKeys, classifyKey } from './keys.js';
import {
  parseConfig,
  parseFailover,
  parseFailsafe,
  parseHistory,
  parseMember,
  parseRelease,
  parseStatus,
  parseSync,
} from './parse.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Builds the immutable cluster view from one consistent list of the scope
 * prefix. Pure and total: a malformed value is recorded and skipped.
 */
export function buildView(
  keys: ClusterKeys,
  scope: string,
  revision: string,
  kvs: readonly Kv[],
): ClusterView {
  const members = new Map<MemberName, Member>();
  const releases = new Map<MemberName, StreamRelease>();
  const malformed: MalformedKey[] = [];
  const view: Mutable<ClusterView> = {
    scope,
    revision,
    initialize: null,
    leader: null,
    members,
    config: null,
    failover: null,
    sync: null,
    history: null,
    status: null,
    failsafe: null,
    releases,
    malformed,
  };
  const bad = (kv: Kv, kind: MalformedKind, error: string) =>
    malformed.push({ key: kv.key, kind, error, modRevision: kv.modRevision });
  for (const kv of kvs) {
    const kind = classifyKey(keys, kv.key);
    if (kind === null) continue;
    const meta = { modRevision: kv.modRevision, lease: kv.lease };
    switch (kind.kind) {
      case 'member': {
        const p = parseMember(kind.name, kv.value, meta);
        if (p.ok) members.set(kind.name, p.value);
        else bad(kv, 'member', p.error);
        break;
      }
      case 'release': {
        const p = parseRelease(kind.name, kv.value, meta);
        if (p.ok) releases.set(kind.name, p.value);
        else bad(kv, 'release', p.error);
        break;
      }
      case 'leader':
        view.leader = leaderRecord(kv);
        break;
      case 'initialize':
        view.initialize = kv.value;
        break;
      case 'config': {
        const p = parseConfig(kv.value);
        if (p.ok) view.config = { value: p.value, modRevision: kv.modRevision };
        else bad(kv, 'config', p.error);
        break;
      }
      case 'failover': {
        const p = parseFailover(kv.value, meta);
        if (p.ok) view.failover = p.value;
        else bad(kv, 'failover', p.error);
        break;
      }
      case 'sync': {
        const p = parseSync(kv.value, meta);
        if (p.ok) view.sync = p.value;
        else bad(kv, 'sync', p.error);
        break;
      }
      case 'history': {
        const p = parseHistory(kv.value);
        if (p.ok) view.history = { entries: p.value, modRevision: kv.modRevision };
        else bad(kv, 'history', p.error);
        break;
      }
      case 'status': {
        const p = parseStatus(kv.value);
        if (p.ok) view.status = p.value;
        else bad(kv, 'status', p.error);
        break;
      }
      case 'failsafe': {
        // malformed: recorded, and the view says there is none (M5: ignored with a warning, as Patroni does)
        const p = parseFailsafe(kv.value, meta);
        if (p.ok) view.failsafe = p.value;
        else bad(kv, 'failsafe', p.error);
        break;
      }
    }
  }
  Object.freeze(malformed);
  return Object.freeze(view);
}

/**
 * The leader key as it is, with its lease: a key bound to no lease (`lease` 0, e.g. written
 * with `etcdctl put`) is never a real leader's, and core's election rules say so
 * (`invalidLeader`); they need the lease id to tell.
 */
export function leaderRecord(kv: Kv): LeaderRecord {
  return {
    name: kv.value,
    leaseId: kv.lease === '0' || kv.lease === '' ? null : kv.lease,
    modRevision: kv.modRevision,
    createRevision: kv.createRevision,
  };
}

/** Identity of a list's content: changes iff some key was written or deleted. */
export function fingerprint(kvs: readonly Kv[]): string {
  return kvs.map((kv) => `${kv.key}@${kv.modRevision}`).join('\n');
}
