import { EventEmitter } from 'node:events';
import {
  type ClusterView,
  type DecideConfig,
  HapgError,
  type Member,
  malformedKey,
  parseDynamicConfig,
  toDecideConfig,
  toLsn,
  toTimeline,
} from '@hapg/core';
import type { FailoverValue } from '@hapg/dcs';
import type { ClusterStorePort } from '../src/cluster-ops/store-port.js';

/** Fixtures for the cluster-level operations: views and an in-memory store port. */
export const WALL_NOW_MS = Date.parse('2026-01-01T00:00:00Z');

export function member(name: string, extra: Partial<Member> = {}): Member {
  return {
    name,
    connUrl: `postgres://127.0.0.1:5432/postgres`,
    apiUrl: `http://127.0.0.1:8008/patroni`,
    state: 'running',
    role: 'replica',
    version: '0.1.0',
    tags: {},
    timeline: toTimeline(1),
    xlogLocation: toLsn(1000),
    receiveLsn: toLsn(1000),
    replayLsn: toLsn(1000),
    replicationState: 'streaming',
    pendingRestart: false,
    statusReason: null,
    leaseId: '1',
    modRevision: '5',
    raw: { conn_url: '', api_url: '', state: 'running', role: 'replica', version: '0.1.0' },
    ...extra,
  };
}

/** node1 leads; node2 and node3 are healthy replicas (node3 slightly behind). */
export function viewOf(extra: Partial<ClusterView> = {}): ClusterView {
  const members = [
    member('node1', { role: 'primary', xlogLocation: toLsn(1000) }),
    member('node2', { xlogLocation: toLsn(1000) }),
    member('node3', { xlogLocation: toLsn(900) }),
  ];
  return {
    scope: 'demo',
    revision: '10',
    initialize: '123',
    leader: { name: 'node1', leaseId: '1', modRevision: '3', createRevision: '3' },
    members: new Map(members.map((m) => [m.name, m])),
    config: { value: { ttl: 30, loop_wait: 10 }, modRevision: '2' },
    failover: null,
    sync: null,
    history: null,
    status: { optime: 1000, slots: {}, retainSlots: [] },
    malformed: [],
    ...extra,
  };
}

export function withMembers(view: ClusterView, ...ms: Member[]): ClusterView {
  const members = new Map(view.members);
  for (const m of ms) members.set(m.name, m);
  return { ...view, members };
}

export function decideConfig(json: Record<string, unknown> = {}): DecideConfig {
  return toDecideConfig(parseDynamicConfig({ ttl: 30, loop_wait: 10, ...json }, { source: 'test' }).config);
}

/**
 * An in-memory store with etcd's CAS semantics on `failover` and `config`.
 * `afterFailoverWrite` lets a test play the agents' part (e.g. the target
 * taking over) once a request lands.
 */
export class FakeStore extends EventEmitter implements ClusterStorePort {
  current: ClusterView;
  #rev: number;
  readonly writes: { key: string; value: unknown; expected: string | null }[] = [];
  unavailable = false;
  beforeCas: (() => void) | null = null;
  afterFailoverWrite: ((store: FakeStore) => void) | null = null;

  constructor(view: ClusterView) {
    super();
    this.current = view;
    this.#rev = Number(view.revision);
  }

  view(): ClusterView {
    return this.current;
  }

  async readView(): Promise<ClusterView> {
    if (this.unavailable) throw new HapgError('DCS_UNAVAILABLE');
    return this.current;
  }

  /** Replace the view (bumping the revision) and emit `change`. */
  set(next: Partial<ClusterView>): string {
    this.#rev++;
    this.current = { ...this.current, ...next, revision: String(this.#rev) };
    this.emit('change', this.current);
    return String(this.#rev);
  }

  async casFailover(value: FailoverValue, expected: string | null): Promise<string> {
    this.beforeCas?.();
    this.#check('failover', this.#revisionOf('failover'), expected);
    this.writes.push({ key: 'failover', value, expected });
    const rev = this.set({
      failover: { ...value, modRevision: String(this.#rev + 1) },
      malformed: this.#wellFormed('failover'),
    });
    this.afterFailoverWrite?.(this);
    return rev;
  }

  async deleteFailover(expected: string): Promise<void> {
    this.#check('failover', this.#revisionOf('failover'), expected);
    this.writes.push({ key: 'failover', value: null, expected });
    this.set({ failover: null, malformed: this.#wellFormed('failover') });
  }

  async casConfig(value: Record<string, unknown>, expected: string | null): Promise<string> {
    this.beforeCas?.();
    this.#check('config', this.#revisionOf('config'), expected);
    this.writes.push({ key: 'config', value, expected });
    return this.set({
      config: { value, modRevision: String(this.#rev + 1) },
      malformed: this.#wellFormed('config'),
    });
  }

  /** Another tool writes a value that does not parse: the view shows it in `malformed` only. */
  putMalformed(kind: 'failover' | 'config', error = 'invalid JSON'): string {
    const modRevision = String(this.#rev + 1);
    const entry = { key: `/service/demo/${kind}`, kind, error, modRevision };
    return this.set({ [kind]: null, malformed: [...this.#wellFormed(kind), entry] });
  }

  #revisionOf(kind: 'failover' | 'config'): string | null {
    return this.current[kind]?.modRevision ?? malformedKey(this.current, kind)?.modRevision ?? null;
  }

  #wellFormed(kind: 'failover' | 'config'): ClusterView['malformed'] {
    return this.current.malformed.filter((m) => m.kind !== kind);
  }

  #check(key: string, actual: string | null, expected: string | null): void {
    if (this.unavailable) throw new HapgError('DCS_UNAVAILABLE');
    if (expected === null && actual !== null) throw new HapgError('DCS_KEY_EXISTS', `${key} exists`);
    if (expected !== actual) throw new HapgError('DCS_CAS_CONFLICT', `${key} changed`);
  }
}
