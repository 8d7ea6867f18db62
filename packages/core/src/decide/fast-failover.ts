import { upstreamOf } from '../cluster/upstream.js';
import { formatLsn } from '../lsn.js';
import { acksPerCommit } from '../sync/key.js';
import {
  type ClusterView,
  keyRevision,
  malformedKey,
  type Member,
  type MemberName,
  type StreamRelease,
  type SyncState,
} from '../types.js';
import { isEligible, selfCandidate } from './candidates.js';
import { isRunningReplica, walPosition } from './lease.js';
import type {
  Action,
  Decision,
  DecideConfig,
  FastFailoverConfig,
  Observation,
  StreamReleaseState,
  TakeoverEvidence,
} from './types.js';

/**
 * Fast failover in `on` mode (docs/fast-failover.md): a standby the `sync` key lists may take
 * the leader key from a leader whose lease still lives, because that leader can acknowledge
 * nothing this standby lacks unless it first rewrites the key — and the takeover compares the
 * key's revision, so etcd lets only one of the two happen. Safety rests on that compare (and
 * on the leader keeping invariants I1–I4); the probes of (c)–(e) only keep a live leader from
 * being deposed needlessly.
 *
 * Quorum mode (`ANY k` over N listed standbys) is the same rule with one more proof: N − k of
 * the other listed standbys have released their stream from the leader (`release/<member>`
 * keys, each a promise not to stream from it again while its key stays at that revision), so
 * the leader can gather at most k − 1 confirmations, and we are at least as far as each of
 * them, so we hold every commit it acknowledged. `on` mode is the case k = N: no release.
 */

/** The version of the promise (member JSON `sync_promise`) this code relies on. */
export const SYNC_PROMISE_VERSION = 1;

/** The leader's member key says it keeps the sync key's promise the way this code assumes. */
export function keepsSyncPromise(member: Member | undefined): boolean {
  return member?.raw.sync_promise === SYNC_PROMISE_VERSION;
}

/** The leader a fast takeover would depose, as the view shows it: what the probes ask about. */
export interface TakeoverTarget {
  readonly leader: Member;
  readonly leaderModRevision: string;
  /** the lease the leader key is bound to (LeaseTimeToLive, condition (e)) */
  readonly leaseId: string;
  readonly config: FastFailoverConfig;
  /** N − k: release keys from other listed standbys a takeover needs (0 in `on` mode) */
  readonly releasesNeeded: number;
  /** the valid release keys of the other listed standbys for this leader key */
  readonly releases: readonly StreamRelease[];
  /** we may take the key ourselves (eligible, no failsafe promise); else we may only release */
  readonly mayTakeOver: boolean;
}

/** Whether the cluster could fail over fast now, as any member or `hactl` reads it from etcd. */
export type FastFailoverReadiness =
  | { readonly state: 'off' }
  | { readonly state: 'unavailable'; readonly reason: string }
  | {
      readonly state: 'ready';
      readonly leader: MemberName;
      readonly standbys: readonly MemberName[];
      /** quorum mode: N − k of the other listed standbys must release their stream first */
      readonly releasesNeeded: number;
    };

/**
 * Condition (a) and the leader's half of (b), from the view alone: fast failover on, `on` mode,
 * no pause, no `failover` key, a leader key with a lease naming a member that keeps the promise,
 * and an `on`-mode sync key (quorum 0) naming that leader with standbys listed. One home for the
 * rule: the takeover asks it, and `/cluster` and `hactl list` show its answer.
 */
export function fastFailoverReadiness(
  view: ClusterView,
  config: Pick<DecideConfig, 'fastFailover' | 'synchronousMode' | 'pause'>,
): FastFailoverReadiness {
  const unavailable = (reason: string): FastFailoverReadiness => ({ state: 'unavailable', reason });
  // Asynchronous mode has no promise to take over on, so the switch (on by default) is off
  // there rather than a reason shown on every asynchronous cluster.
  if (config.fastFailover === undefined || !config.fastFailover.enabled) return { state: 'off' };
  if (config.synchronousMode === 'off') return { state: 'off' };

  if (config.pause) return unavailable('the cluster is paused');
  if (view.failover !== null || malformedKey(view, 'failover'))
    return unavailable('a switchover or failover is pending');
  const key = view.leader;
  if (key === null || key.leaseId === null) return unavailable('no leader');
  const leader = view.members.get(key.name);
  if (leader === undefined) return unavailable(`${key.name} has no member key`);
  if (!keepsSyncPromise(leader)) {
    const withheld = leader.raw.sync_promise_withheld;
    return unavailable(
      typeof withheld === 'string'
        ? `${key.name} withholds its sync promise: ${withheld}`
        : `${key.name} publishes no sync promise (Patroni or an older hapg)`,
    );
  }
  // A quorum key left over after quorum → on does not qualify in `on` mode: the leader's ssn may
  // still be `ANY k` (review item 4). Quorum mode reads k from the key it compares.
  const sync = view.sync ?? null;
  const keyMode = config.synchronousMode === 'on' ? (sync?.quorum ?? 0) === 0 : true;
  if (sync === null || sync.leader !== key.name || !keyMode)
    return unavailable(`the sync key does not promise ${key.name}'s commits to a standby`);
  if (sync.syncStandbys.length === 0) return unavailable('no synchronous standby');
  if (acksPerCommit(sync) < 1)
    return unavailable(`the sync key promises ${key.name}'s commits to no standby (quorum 0)`);
  return {
    state: 'ready',
    leader: key.name,
    standbys: sync.syncStandbys,
    releasesNeeded: releasesNeeded(sync),
  };
}

/** N − k: how many listed standbys besides the taker must have released their stream. */
function releasesNeeded(sync: SyncState): number {
  return sync.syncStandbys.length - acksPerCommit(sync);
}

/**
 * Whether a release (ours, `SelfInfo.streamRelease`) is bound to the leader key `view` shows:
 * `current`; `void` once the key has moved past it (revisions only grow: it can never hold
 * the released key again); `unknown` for a view older than the released key, which shows an
 * earlier key, not a later one.
 */
export function releaseBinding(view: ClusterView, rel: StreamReleaseState): 'current' | 'void' | 'unknown' {
  const key = view.leader;
  if (key !== null && key.name === rel.leader && key.modRevision === rel.leaderRevision) return 'current';
  return BigInt(view.revision) >= BigInt(rel.leaderRevision) ? 'void' : 'unknown';
}

/** The release keys a takeover from `leader` at `leaderRevision` may count: other listed standbys', for that key. */
function countableReleases(
  view: ClusterView,
  sync: SyncState,
  leader: MemberName,
  leaderRevision: string,
  self: MemberName,
): StreamRelease[] {
  return [...(view.releases?.values() ?? [])]
    .filter(
      (r) =>
        r.member !== self &&
        sync.syncStandbys.includes(r.member) &&
        r.leader === leader &&
        r.leaderRevision === leaderRevision,
    )
    .sort((a, b) => (a.member < b.member ? -1 : 1));
}

/**
 * Conditions (a) and (b), which need no probe: the cluster ready for the fast path
 * (`fastFailoverReadiness`), the key listing us, and we a running standby of that leader (or
 * released from this very key). `mayTakeOver` says whether we could take the key at all; in
 * quorum mode a standby that may not still releases. The agent probes only while this holds
 * and the probes could lead somewhere (`probesUseful`), and decide() asks it again with the
 * probes' results.
 */
export function takeoverTarget(obs: Observation): TakeoverTarget | null {
  const { config, pg, self } = obs;
  const view = obs.dcs.view;
  const ff = config.fastFailover;
  if (ff === undefined || view === null || !obs.dcs.reachable) return null;
  const ready = fastFailoverReadiness(view, config);
  if (ready.state !== 'ready' || ready.leader === self.name || !ready.standbys.includes(self.name))
    return null;
  const key = view.leader!;
  // No timeline compare: with its walreceiver gone a standby reads its timeline from its last
  // restartpoint, often older than the leader's (the benchmark's runs never took the fast path
  // with one). A standby the key lists streamed the leader's timeline and confirmed each
  // acknowledged commit, whatever it reads now.
  const rel = self.streamRelease ?? null;
  const released = rel !== null && releaseBinding(view, rel) === 'current';
  if (!isRunningReplica(pg) || (pg.following !== key.name && !released)) return null;
  const mayTakeOver =
    (self.failsafeHold ?? null) === null && isEligible(selfCandidate(obs), config, view).eligible;
  return {
    leader: view.members.get(key.name)!,
    leaderModRevision: key.modRevision,
    leaseId: key.leaseId!,
    config: ff,
    releasesNeeded: ready.releasesNeeded,
    releases: countableReleases(view, view.sync!, key.name, key.modRevision, self.name),
    mayTakeOver,
  };
}

/** Whether probing the leader could lead anywhere: a takeover, or in quorum mode a release. */
export function probesUseful(target: TakeoverTarget | null): target is TakeoverTarget {
  return target !== null && (target.mayTakeOver || target.releasesNeeded > 0);
}

/** Why the evidence does not (yet) show the leader gone; null: it does. */
export function evidenceShortfall(target: TakeoverTarget, ev: TakeoverEvidence): string | null {
  if (ev.leader !== target.leader.name || ev.leaderModRevision !== target.leaderModRevision)
    return 'the probes were made for another leader key';
  if (ev.streamSilenceMs !== null && ev.streamSilenceMs < target.config.streamSilenceMs)
    return `our stream from ${ev.leader} is live (silent ${ev.streamSilenceMs} ms)`;
  if (ev.restAnswered) return `${ev.leader}'s REST API answers`;
  if (ev.portAnswered) return `${ev.leader}'s Postgres port answers`;
  if (ev.lease === 'unasked') return `${ev.leader}'s lease was not asked about`;
  // (e): whole seconds rounded down, so granted − 2 means more than 1 s without a renewal; a
  // lease etcd no longer has is about to take the key with it
  if (ev.lease !== null && ev.lease.remainingS > ev.lease.grantedS - 2)
    return `${ev.leader} renewed its lease recently (${ev.lease.remainingS} of ${ev.lease.grantedS} s left)`;
  return null;
}

/**
 * The fast takeover, or null when it does not apply. Its one transaction compares the leader
 * key and the sync key at the revisions judged here, and the `config` and `failsafe` keys as
 * this view has them (a stale view of pause, the mode or the switch cannot let it through).
 */
export function fastTakeover(obs: Observation): Decision | null {
  const view = obs.dcs.view;
  const evidence = obs.takeover ?? null;
  if (view === null || evidence === null) return null;
  const target = takeoverTarget(obs);
  if (target === null || !target.mayTakeOver || evidenceShortfall(target, evidence) !== null) return null;
  const quorum = quorumTakeover(obs, target);
  if (quorum === null) return null;
  const leader = target.leader.name;
  const takeover: Action = {
    kind: 'takeOverLeader',
    leader,
    leaderModRevision: target.leaderModRevision,
    syncModRevision: view.sync!.modRevision,
    configModRevision: keyRevision(view, 'config'),
    failsafeModRevision: keyRevision(view, 'failsafe'),
    ...(quorum.length === 0 ? {} : { releases: quorum }),
  };
  const silence =
    evidence.streamSilenceMs === null ? 'no stream' : `stream silent ${evidence.streamSilenceMs} ms`;
  const lease =
    evidence.lease === null || evidence.lease === 'unasked'
      ? 'its lease gone'
      : `${evidence.lease.remainingS} of ${evidence.lease.grantedS} s left on its lease`;
  const releasedBy =
    quorum.length === 0 ? '' : `, ${quorum.map((r) => r.member).join(', ')} released their stream`;
  return {
    role: 'primary',
    actions: [
      takeover,
      { kind: 'verifyLeader' },
      { kind: 'claimSyncKey' },
      { kind: 'promote', reason: 'fast-failover' },
    ],
    reason: {
      code: 'FAST_FAILOVER',
      text: `fast failover: ${leader} is gone (${silence}, REST and Postgres port silent, ${lease}${releasedBy}) and the sync key lists us: taking over`,
    },
  };
}

/**
 * Quorum mode's proof, from the view: N − k other listed standbys released their stream from
 * this leader key, and we are at least as far as each one that did (whoever is furthest takes
 * over; etcd orders two level ones). The releases to compare in the transaction, [] in `on`
 * mode; null: not (yet) proven.
 */
function quorumTakeover(
  obs: Observation,
  target: TakeoverTarget,
): readonly { readonly member: MemberName; readonly modRevision: string }[] | null {
  if (target.releasesNeeded === 0) return [];
  if (target.releases.length < target.releasesNeeded) return null;
  const ours = walPosition(obs.pg);
  if (ours === null || target.releases.some((r) => r.flushLsn > ours)) return null;
  return target.releases.map((r) => ({ member: r.member, modRevision: r.modRevision }));
}

/**
 * Quorum mode, a listed standby that does not take over (yet): release our stream from a leader
 * shown gone, hold the release while that leader key stays and the leader stays silent, take
 * it back (a guarded delete) once the leader answers or the fast path stops applying. Null: no
 * release is made or held, decide() goes on as usual.
 */
export function streamReleaseStep(obs: Observation): Decision | null {
  const view = obs.dcs.view;
  const key = view?.leader ?? null;
  if (view === null || key === null) return null;
  const rel = obs.self.streamRelease ?? null;
  const target = takeoverTarget(obs);
  const evidence = obs.takeover ?? null;
  const shortfall = target === null || evidence === null ? null : evidenceShortfall(target, evidence);
  const leader = key.name;
  const bound = { leader, leaderRevision: key.modRevision };
  if (rel === null || releaseBinding(view, rel) !== 'current') {
    if (target === null || target.releasesNeeded === 0 || evidence === null || shortfall !== null)
      return null;
    return {
      role: 'replica',
      actions: [{ kind: 'releaseStream', ...bound }],
      reason: {
        code: 'STREAM_RELEASING',
        text: `quorum fast failover: ${leader} is gone (REST and Postgres port silent, lease not renewed): releasing our stream from it`,
      },
    };
  }
  const withdraw = (why: string): Decision => ({
    role: 'replica',
    // our upstream may be a `replicatefrom` member: we stream where decide() would point us
    actions: [
      { kind: 'withdrawRelease', ...bound },
      { kind: 'followLeader', leader: upstreamOf(view, obs.self.name, leader) },
    ],
    reason: { code: 'STREAM_WITHDRAWING', text: `taking back our stream release from ${leader}: ${why}` },
  });
  if (!isRunningReplica(obs.pg)) {
    // our promise holds across restarts: a standby of nobody until the key moves or we withdraw
    return {
      role: 'replica',
      actions: [{ kind: 'startPostgres', as: 'replica', follow: null }],
      reason: {
        code: 'STREAM_RELEASED',
        text: `starting Postgres as a standby of nobody: we released our stream from ${leader}`,
      },
    };
  }
  if (target === null) return withdraw('the fast path no longer applies');
  if (shortfall !== null) return withdraw(shortfall);
  const have = target.releases.length + 1;
  const ours = walPosition(obs.pg);
  return {
    role: 'replica',
    actions: [],
    reason: {
      code: 'STREAM_RELEASED',
      text: `released our stream from ${leader}${ours === null ? '' : ` at ${formatLsn(ours)}`}: ${have} of ${target.releasesNeeded + 1} listed standbys released; waiting for the furthest to take over, or for ${leader}'s lease to expire`,
    },
  };
}
