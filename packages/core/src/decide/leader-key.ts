import type { ClusterView, LeaderRecord, MemberName } from '../types.js';
import { isRunningPrimary } from './lease.js';
import type { Observation } from './types.js';

/**
 * A leader key no real leader can hold. hapg (and Patroni) always bind the key to the holder's
 * lease, and the holder publishes its member key under its lease; another tool's key is
 * neither (issue 11: `etcdctl put /service/demo/leader ghost` left the cluster without a
 * primary for as long as the key stayed, since a key without a lease never expires).
 * - `no-lease`: the key is bound to no lease;
 * - `no-member`: it names a member with no member key bound to a lease.
 */
export type LeaderKeyFlaw = 'no-lease' | 'no-member';

/**
 * The flaw of the view's leader key, or null when it may be a real leader's (or there is none).
 * A key naming `self` under a lease is left to the own-key rules (rebind, or wait for the old
 * lease to expire): this node knows it exists.
 */
export function leaderKeyFlaw(view: ClusterView, self: MemberName): LeaderKeyFlaw | null {
  const leader = view.leader;
  if (leader === null) return null;
  if (leader.leaseId === null) return 'no-lease';
  if (leader.name === self) return null;
  const m = view.members.get(leader.name);
  return m === undefined || m.leaseId === null ? 'no-member' : null;
}

/** Since when this node has seen the current leader key (by mod revision) flawed. */
export interface FlawedLeaderSighting {
  readonly modRevision: string;
  readonly sinceMs: number;
}

/**
 * Pure tracker the agent runs every loop: keeps the first sighting while the same key stays
 * flawed, starts again for another key, and forgets it once the key is sound or gone. Time
 * in pause does not count: a primary does not demote then, so the wait starts after it.
 */
export function trackFlawedLeader(
  prev: FlawedLeaderSighting | null,
  view: ClusterView | null,
  self: MemberName,
  nowMs: number,
  paused = false,
): FlawedLeaderSighting | null {
  const leader = view?.leader ?? null;
  if (paused || view === null || leader === null || leaderKeyFlaw(view, self) === null) return null;
  if (prev !== null && prev.modRevision === leader.modRevision) return prev;
  return { modRevision: leader.modRevision, sinceMs: nowMs };
}

export interface InvalidLeader {
  readonly record: LeaderRecord;
  readonly flaw: LeaderKeyFlaw;
  /**
   * Anyone may delete it (CAS on its mod revision) once both hold:
   * - it has been seen flawed for at least ttl (out of pause). A real holder whose key was
   *   overwritten may be frozen (SIGSTOP, a stuck loop) with Postgres still writable; after
   *   ttl its fence has stopped it (its deadline is a keepalive sent before the overwrite +
   *   ttl − margin). A member key deleted from under a real leader is back long before.
   * - no other member's key (bound to a lease) says it runs writable (role primary, or
   *   demoted: writable without the key). Such a holder demotes when its agent sees the key,
   *   or its lease ends, and its member key with it, after its fence stopped it. (The
   *   simulator found a holder that kept writing through a pause, then froze, and a second
   *   primary promoted; not counting paused time, and this rule, each prevent it.)
   * Then the election that follows cannot make a second primary.
   */
  readonly removable: boolean;
  /** `no-member`: the named member's key as seen (mod revision, null: absent), for the removal's compare */
  readonly member: { readonly name: MemberName; readonly modRevision: string | null } | null;
  readonly text: string;
}

/** Roles of a member key whose Postgres may accept writes (`demoted`: writable without the key). */
const WRITABLE_ROLES: readonly string[] = ['primary', 'master', 'demoted'];

/** Another member whose live member key says its Postgres may accept writes. */
function writableMember(view: ClusterView, self: MemberName): MemberName | null {
  for (const m of view.members.values())
    if (m.name !== self && m.leaseId !== null && WRITABLE_ROLES.includes(m.role)) return m.name;
  return null;
}

/** Our name, no lease, on the very key we created: ours, overwritten by another tool. */
function isOwnOverwrittenKey(record: LeaderRecord, obs: Observation): boolean {
  const own = obs.dcs.ownLeaderCreateRevision ?? null;
  return (
    record.name === obs.self.name && record.leaseId === null && own !== null && record.createRevision === own
  );
}

/**
 * The election rules' view of a flawed leader key: it is no leader — nobody follows it or
 * defers to it — and once it has stood for ttl it is removed, after which the election runs
 * as for a vanished key (atomic acquire, then promotion). Null when the key may be real.
 * A running primary whose own key (the one it created: same create revision) was overwritten
 * with its name and no lease is left to rebind it: the key never went away, so nobody else can
 * have been promoted meanwhile. Our name on a lease-less key we never created is flawed like
 * any other: a running primary does not hold it and stops writing (rule 1).
 */
export function invalidLeader(obs: Observation, nowMs: number): InvalidLeader | null {
  const view = obs.dcs.view;
  const record = view?.leader ?? null;
  if (view === null || record === null) return null;
  const flaw = leaderKeyFlaw(view, obs.self.name);
  if (flaw === null) return null;
  if (isOwnOverwrittenKey(record, obs) && isRunningPrimary(obs.pg)) return null;
  const since = obs.dcs.flawedLeaderSinceMs ?? null;
  const waitedMs = since === null ? 0 : nowMs - since;
  const writer = writableMember(view, obs.self.name);
  const removable = since !== null && waitedMs >= obs.config.ttlMs && writer === null;
  const what =
    flaw === 'no-lease'
      ? `the leader key holds ${JSON.stringify(record.name)} bound to no lease (not written by an agent)`
      : `the leader key names ${JSON.stringify(record.name)}, which has no member key bound to a lease`;
  const next = removable
    ? 'removing it'
    : since === null || waitedMs < obs.config.ttlMs
      ? `not following it; removing it if it stays ${obs.config.ttlMs - waitedMs} ms more (ttl)`
      : `not following it; not removing it while ${writer} reports a writable Postgres`;
  const member =
    flaw === 'no-member' ? { name: record.name, modRevision: memberKeyRevision(view, record.name) } : null;
  return { record, flaw, removable, member, text: `${what}: ${next}` };
}

/**
 * The mod revision of `name`'s member key as the view holds it, also when its value is
 * unparsable (another tool's); null when the view has none.
 */
function memberKeyRevision(view: ClusterView, name: MemberName): string | null {
  const parsed = view.members.get(name)?.modRevision;
  if (parsed !== undefined) return parsed;
  const bad = view.malformed.find((m) => m.kind === 'member' && m.key.endsWith(`/members/${name}`));
  return bad?.modRevision ?? null;
}
