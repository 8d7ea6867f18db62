import type {
  ClusterView,
  FailoverRequest,
  HistoryEntry,
  LeaderRecord,
  Member,
  StoredSync,
  SyncMode,
  SyncState,
} from '@hapg/core';
import { holdsLeaderKey, SYNC_PROMISE_VERSION, toLsn, toTimeline } from '@hapg/core';

/** What a member writes to `members/<name>` in the model (bound to its lease). */
export interface SimMemberRecord {
  readonly name: string;
  readonly leaseId: string;
  readonly state: string;
  readonly role: string;
  readonly xlog: bigint;
  readonly timeline: number;
  readonly nofailover: boolean;
  /** the revision that wrote it (etcd's mod revision of the key) */
  readonly modRevision: string;
}

/** One immutable state of the model etcd, stamped with when it became current. */
export interface EtcdSnapshot {
  readonly atMs: number;
  readonly revision: number;
  readonly leader: LeaderRecord | null;
  readonly members: ReadonlyMap<string, SimMemberRecord>;
  readonly failover: FailoverRequest | null;
  readonly optime: number | null;
  readonly history: readonly HistoryEntry[];
  readonly pause: boolean;
  /** the `sync` key in Patroni's layout (quorum = N − k), with its mod revision; null when absent */
  readonly sync: SyncState | null;
  /** the `failsafe` key (a permanent key: no lease), member name → api_url; null when absent */
  readonly failsafe: SimFailsafeKey | null;
  /** `failsafe_mode` in the `config` key */
  readonly failsafeMode: boolean;
  /** `synchronous_mode` in the `config` key */
  readonly syncMode: SyncMode;
  /** the `config` key's mod revision: pause, failsafe_mode and synchronous_mode live in it */
  readonly configRevision: string;
  /** `release/<member>` keys (quorum fast failover), each bound to its member's lease */
  readonly releases: ReadonlyMap<string, SimRelease>;
}

/** A `release/<member>` key in the model. */
export interface SimRelease {
  readonly member: string;
  readonly leader: string;
  readonly leaderRevision: string;
  readonly flushLsn: bigint;
  readonly leaseId: string;
  readonly modRevision: string;
}

/** `synchronous_mode` as a node reads it from its view of the `config` key; null: not there. */
export function syncModeOf(view: ClusterView | null): SyncMode | null {
  const v = view?.config?.value.synchronous_mode;
  return v === true ? 'on' : v === 'quorum' ? 'quorum' : v === false ? 'off' : null;
}

/** The `failsafe` key as the model etcd stores it. */
export interface SimFailsafeKey {
  readonly members: ReadonlyMap<string, string>;
  readonly modRevision: string;
}

/**
 * In-memory etcd: leases with TTL (expiry deletes the keys bound to them), the leader key
 * with create-if-absent txn semantics, and a snapshot history so that a node's watch-fed
 * cache can lag behind (reads "as of" an earlier instant).
 */
export class SimEtcd {
  readonly #leases = new Map<string, number>(); // id → expiresAtMs
  /** each lease's granted ttl: etcd refreshes every lease to it when it comes back up */
  readonly #ttls = new Map<string, number>();
  #nextLeaseId = 100;
  #snapshots: EtcdSnapshot[];
  /** etcd itself is down (not partitioned): nothing expires, nobody is served */
  #down = false;

  constructor(
    initial: Omit<
      EtcdSnapshot,
      'atMs' | 'revision' | 'sync' | 'failsafe' | 'failsafeMode' | 'syncMode' | 'configRevision' | 'releases'
    >,
    syncMode: SyncMode = 'off',
  ) {
    this.#snapshots = [
      {
        ...initial,
        sync: null,
        failsafe: null,
        failsafeMode: false,
        syncMode,
        configRevision: '1',
        releases: new Map(),
        atMs: 0,
        revision: 1,
      },
    ];
  }

  get down(): boolean {
    return this.#down;
  }

  /**
   * etcd stops (every member at once) or comes back. While down no lease expires (no leader
   * to expire them); a new etcd leader refreshes every lease to its full ttl (etcd's lessor
   * `Promote`), so after a full restart the old leases usually still exist.
   */
  setDown(down: boolean, nowMs: number): void {
    if (this.#down && !down)
      for (const id of this.#leases.keys()) this.#leases.set(id, nowMs + this.#ttls.get(id)!);
    this.#down = down;
  }

  get current(): EtcdSnapshot {
    return this.#snapshots[this.#snapshots.length - 1]!;
  }

  /** The state as a watcher lagging to `atMs` would have it. */
  readAt(atMs: number): EtcdSnapshot {
    for (let i = this.#snapshots.length - 1; i >= 0; i--)
      if (this.#snapshots[i]!.atMs <= atMs) return this.#snapshots[i]!;
    return this.#snapshots[0]!;
  }

  #commit(nowMs: number, change: Partial<EtcdSnapshot>): void {
    const cur = this.current;
    const revision = cur.revision + 1;
    const config = 'pause' in change || 'syncMode' in change || 'failsafeMode' in change;
    this.#snapshots.push({
      ...cur,
      ...change,
      ...(config ? { configRevision: String(revision) } : {}),
      atMs: nowMs,
      revision,
    });
    // Keep a bounded tail: nobody reads further back than the largest watch delay.
    if (this.#snapshots.length > 200) this.#snapshots = this.#snapshots.slice(-100);
  }

  grant(nowMs: number, ttlMs: number): string {
    const id = String(this.#nextLeaseId++);
    this.#leases.set(id, nowMs + ttlMs);
    this.#ttls.set(id, ttlMs);
    return id;
  }

  /** false when the lease is gone (expired) */
  keepAlive(id: string, nowMs: number, ttlMs: number): boolean {
    if (!this.#leases.has(id)) return false;
    this.#leases.set(id, nowMs + ttlMs);
    return true;
  }

  /** LeaseTimeToLive: whole seconds left (rounded down, as etcd reports them) and the granted ttl; null: no such lease. */
  timeToLive(id: string, nowMs: number): { remainingS: number; grantedS: number } | null {
    const at = this.#leases.get(id);
    if (at === undefined) return null;
    return { remainingS: Math.floor((at - nowMs) / 1000), grantedS: Math.floor(this.#ttls.get(id)! / 1000) };
  }

  /**
   * The store's takeOverLeader (fast failover): put leader = `name` under `leaseId` if the
   * leader key is at `leaderModRevision` naming `leader`, the sync key at `syncModRevision`,
   * and the config and failsafe keys at theirs (null: absent). Keeps the create revision.
   */
  takeOver(
    name: string,
    leaseId: string,
    t: {
      readonly leader: string;
      readonly leaderModRevision: string;
      readonly syncModRevision: string;
      readonly configModRevision: string | null;
      readonly failsafeModRevision: string | null;
      readonly releases?: readonly { readonly member: string; readonly modRevision: string }[];
    },
    nowMs: number,
  ): boolean {
    const cur = this.current;
    if (!this.#leases.has(leaseId)) return false;
    const l = cur.leader;
    if (l === null || l.modRevision !== t.leaderModRevision || l.name !== t.leader) return false;
    if (cur.sync?.modRevision !== t.syncModRevision) return false;
    if (cur.configRevision !== t.configModRevision) return false;
    if ((cur.failsafe?.modRevision ?? null) !== t.failsafeModRevision) return false;
    if ((t.releases ?? []).some((r) => cur.releases.get(r.member)?.modRevision !== r.modRevision))
      return false;
    const rev = String(cur.revision + 1);
    this.#commit(nowMs, { leader: { name, leaseId, modRevision: rev, createRevision: l.createRevision } });
    return true;
  }

  /** Expire due leases and delete their keys, as etcd does. */
  expire(nowMs: number): void {
    if (this.#down) return;
    const dead = [...this.#leases].filter(([, at]) => at <= nowMs).map(([id]) => id);
    if (dead.length === 0) return;
    for (const id of dead) {
      this.#leases.delete(id);
      this.#ttls.delete(id);
    }
    const cur = this.current;
    const leader = cur.leader !== null && dead.includes(cur.leader.leaseId ?? '') ? null : cur.leader;
    const members = new Map([...cur.members].filter(([, m]) => !dead.includes(m.leaseId)));
    const releases = new Map([...cur.releases].filter(([, r]) => !dead.includes(r.leaseId)));
    this.#commit(nowMs, { leader, members, releases });
  }

  /** The store's putRelease: under `leaseId`, only while the leader key is `leader` at `leaderRevision`. */
  putRelease(
    member: string,
    leaseId: string,
    r: { readonly leader: string; readonly leaderRevision: string; readonly flushLsn: bigint },
    nowMs: number,
  ): boolean {
    const cur = this.current;
    if (!this.#leases.has(leaseId) || !this.#leaderAt(r.leader, r.leaderRevision)) return false;
    const record: SimRelease = { member, leaseId, ...r, modRevision: String(cur.revision + 1) };
    this.#commit(nowMs, { releases: new Map(cur.releases).set(member, record) });
    return true;
  }

  /** The store's withdrawRelease: delete, only while the leader key is still the released one. */
  withdrawRelease(member: string, leader: string, leaderRevision: string, nowMs: number): boolean {
    if (!this.#leaderAt(leader, leaderRevision)) return false;
    this.deleteRelease(member, nowMs);
    return true;
  }

  deleteRelease(member: string, nowMs: number): void {
    if (!this.current.releases.has(member)) return;
    const releases = new Map(this.current.releases);
    releases.delete(member);
    this.#commit(nowMs, { releases });
  }

  #leaderAt(leader: string, modRevision: string): boolean {
    const l = this.current.leader;
    return l !== null && l.name === leader && l.modRevision === modRevision;
  }

  /**
   * txn create_revision == 0 → put leader bound to lease; rebinds our own name, unless it is
   * bound to no lease on a key we did not create (`ownCreateRevision`: store.ts `#rebind`).
   * `failsafeModRevision` (store.ts, docs/failsafe.md M5): the create also compares the
   * failsafe key's mod revision with it, or its absence when null; undefined: no compare; the
   * same for `syncModRevision` and the sync key, `configModRevision` and the config key. As in
   * the store, the rebind of a key that already names us compares none of them.
   */
  acquire(
    name: string,
    leaseId: string,
    nowMs: number,
    ownCreateRevision: string | null = null,
    failsafeModRevision?: string | null,
    syncModRevision?: string | null,
    configModRevision?: string | null,
  ): boolean {
    const cur = this.current;
    if (!this.#leases.has(leaseId)) return false;
    const l = cur.leader;
    if (l !== null && (l.name !== name || (l.leaseId === null && l.createRevision !== ownCreateRevision)))
      return false;
    const differs = (rev: string | null | undefined, current: string | null) =>
      rev !== undefined && rev !== current;
    if (l === null && differs(failsafeModRevision, cur.failsafe?.modRevision ?? null)) return false;
    if (l === null && differs(syncModRevision, cur.sync?.modRevision ?? null)) return false;
    if (l === null && differs(configModRevision, cur.configRevision)) return false;
    const rev = String(cur.revision + 1);
    this.#commit(nowMs, {
      leader: { name, leaseId, modRevision: rev, createRevision: cur.leader?.createRevision ?? rev },
    });
    return true;
  }

  /**
   * Another tool writes the leader key (`etcdctl put`): any value, bound to `leaseId` (null: no
   * lease, as etcdctl does by default); a put on an existing key keeps its create revision.
   */
  putLeaderRaw(name: string, leaseId: string | null, nowMs: number): void {
    const cur = this.current;
    if (leaseId !== null && !this.#leases.has(leaseId)) return;
    const rev = String(cur.revision + 1);
    this.#commit(nowMs, {
      leader: { name, leaseId, modRevision: rev, createRevision: cur.leader?.createRevision ?? rev },
    });
  }

  /** txn mod_revision(leader) == rev → delete; false when it changed or went */
  removeLeaderAt(
    modRevision: string,
    member: { readonly name: string; readonly modRevision: string | null } | null,
    nowMs: number,
  ): boolean {
    if (this.current.leader?.modRevision !== modRevision) return false;
    if (
      member !== null &&
      (this.current.members.get(member.name)?.modRevision ?? null) !== member.modRevision
    )
      return false;
    this.#commit(nowMs, { leader: null });
    return true;
  }

  /** Another tool deletes a member key (its agent writes it again at its next loop). */
  deleteMember(name: string, nowMs: number): void {
    if (!this.current.members.has(name)) return;
    const members = new Map(this.current.members);
    members.delete(name);
    this.#commit(nowMs, { members });
  }

  /** txn value == name → delete */
  release(name: string, nowMs: number): boolean {
    if (this.current.leader?.name !== name) return false;
    this.#commit(nowMs, { leader: null });
    return true;
  }

  /**
   * The store's casSync: put the `sync` key if its mod revision is `expectedModRevision`
   * (null: absent) *and* `name` holds the leader key under `leaseId`, so a leader deposed
   * without knowing it cannot rewrite its successor's key. Returns the new mod revision, or
   * null when a compare failed.
   */
  casSync(
    value: StoredSync,
    expectedModRevision: string | null,
    holder: { readonly name: string; readonly leaseId: string | null },
    nowMs: number,
  ): string | null {
    const cur = this.current;
    if (!this.holdsLeader(holder)) return null;
    if ((cur.sync?.modRevision ?? null) !== expectedModRevision) return null;
    const modRevision = String(cur.revision + 1);
    this.#commit(nowMs, { sync: { ...value, syncStandbys: [...value.syncStandbys], modRevision } });
    return modRevision;
  }

  /** The leader key carries `name` under `leaseId` (the guard of every `sync` write): core's rule. */
  holdsLeader(holder: { readonly name: string; readonly leaseId: string | null }): boolean {
    return holdsLeaderKey(this.current, holder.name, holder.leaseId);
  }

  /**
   * The store's writeFailsafe (K1): put the failsafe key, guarded by the leader key (value =
   * our name, lease = our lease). Returns the new mod revision, or null when the guard failed.
   */
  writeFailsafe(
    members: ReadonlyMap<string, string>,
    holder: { readonly name: string; readonly leaseId: string | null },
    nowMs: number,
  ): string | null {
    if (!this.holdsLeader(holder)) return null;
    const modRevision = String(this.current.revision + 1);
    this.#commit(nowMs, { failsafe: { members: new Map(members), modRevision } });
    return modRevision;
  }

  /** The store's deleteFailsafe (K2): true when the key is absent now, false when the guard failed. */
  deleteFailsafe(holder: { readonly name: string; readonly leaseId: string | null }, nowMs: number): boolean {
    if (this.current.failsafe === null) return true;
    if (!this.holdsLeader(holder)) return false;
    this.#commit(nowMs, { failsafe: null });
    return true;
  }

  /** `hactl edit-config -s synchronous_mode=…` */
  setSyncMode(mode: SyncMode, nowMs: number): void {
    if (this.current.syncMode !== mode) this.#commit(nowMs, { syncMode: mode });
  }

  /** `hactl edit-config -s failsafe_mode=…` */
  setFailsafeMode(on: boolean, nowMs: number): void {
    if (this.current.failsafeMode !== on) this.#commit(nowMs, { failsafeMode: on });
  }

  putMember(m: Omit<SimMemberRecord, 'modRevision'>, nowMs: number): void {
    if (!this.#leases.has(m.leaseId)) return;
    const prev = this.current.members.get(m.name);
    if (
      prev !== undefined &&
      JSON.stringify({ ...prev, modRevision: undefined }, big) === JSON.stringify(m, big)
    )
      return;
    const record = { ...m, modRevision: String(this.current.revision + 1) };
    this.#commit(nowMs, { members: new Map(this.current.members).set(m.name, record) });
  }

  putOptime(optime: number, nowMs: number): void {
    if (this.current.optime !== optime) this.#commit(nowMs, { optime });
  }

  putHistory(entries: readonly HistoryEntry[], nowMs: number): void {
    this.#commit(nowMs, { history: [...entries] });
  }

  deleteSync(expectedModRevision: string, nowMs: number): boolean {
    if (this.current.sync?.modRevision !== expectedModRevision) return false;
    this.#commit(nowMs, { sync: null });
    return true;
  }

  setFailover(failover: FailoverRequest | null, nowMs: number): void {
    this.#commit(nowMs, { failover });
  }

  setPause(pause: boolean, nowMs: number): void {
    if (this.current.pause !== pause) this.#commit(nowMs, { pause });
  }
}

const big = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

/** The model state as the `ClusterView` the dcs package would produce. */
export function toClusterView(s: EtcdSnapshot): ClusterView {
  const members = new Map<string, Member>();
  for (const m of s.members.values()) {
    members.set(m.name, {
      name: m.name,
      // the host names the member: the model's primary_conninfo resolves it (ports.ts)
      connUrl: `postgres://${m.name}:5432/postgres`,
      apiUrl: `http://${m.name}:8008/patroni`,
      state: m.state,
      role: m.role,
      version: 'sim',
      tags: m.nofailover ? { nofailover: true } : {},
      timeline: toTimeline(m.timeline),
      xlogLocation: toLsn(m.xlog),
      receiveLsn: null,
      replayLsn: null,
      replicationState: null,
      pendingRestart: false,
      statusReason: null,
      leaseId: m.leaseId,
      modRevision: m.modRevision,
      raw: {
        conn_url: '',
        api_url: '',
        state: m.state,
        role: m.role,
        version: 'sim',
        // the agent's member.ts: a primary keeps the sync key's promise
        ...(m.role === 'primary' ? { sync_promise: SYNC_PROMISE_VERSION } : {}),
      },
    });
  }
  return {
    scope: 'sim',
    revision: String(s.revision),
    initialize: 'sim-sysid',
    leader: s.leader,
    members,
    config: {
      value: {
        pause: s.pause,
        failsafe_mode: s.failsafeMode,
        synchronous_mode: s.syncMode === 'off' ? false : s.syncMode === 'on' ? true : 'quorum',
      },
      modRevision: s.configRevision,
    },
    failover: s.failover,
    sync: s.sync,
    history: { entries: s.history, modRevision: '1' },
    status: s.optime === null ? null : { optime: s.optime, slots: {}, retainSlots: [] },
    failsafe:
      s.failsafe === null
        ? null
        : { members: new Map(s.failsafe.members), modRevision: s.failsafe.modRevision },
    releases: new Map(
      [...s.releases.values()].map((r) => [
        r.member,
        {
          member: r.member,
          leader: r.leader,
          leaderRevision: r.leaderRevision,
          timeline: null,
          flushLsn: toLsn(r.flushLsn),
          modRevision: r.modRevision,
        },
      ]),
    ),
    malformed: [],
  };
}
