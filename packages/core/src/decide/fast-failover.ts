import { type ClusterView, keyRevision, malformedKey, type Member, type MemberName } from '../types.js';
import { isEligible, selfCandidate } from './candidates.js';
import { isRunningReplica } from './lease.js';
import type {
  Action,
  Decision,
  DecideConfig,
  FastFailoverConfig,
  Observation,
  TakeoverEvidence,
} from './types.js';

/**
 * Fast failover in `on` mode (docs/fast-failover.md): a standby the `sync` key lists may take
 * the leader key from a leader whose lease still lives, because that leader can acknowledge
 * nothing this standby lacks unless it first rewrites the key — and the takeover compares the
 * key's revision, so etcd lets only one of the two happen. Safety rests on that compare (and
 * on the leader keeping invariants I1–I4); the probes of (c)–(e) only keep a live leader from
 * being deposed needlessly.
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
}

/** Whether the cluster could fail over fast now, as any member or `hactl` reads it from etcd. */
export type FastFailoverReadiness =
  | { readonly state: 'off' }
  | { readonly state: 'unavailable'; readonly reason: string }
  | { readonly state: 'ready'; readonly leader: MemberName; readonly standbys: readonly MemberName[] };

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
  if (config.synchronousMode !== 'on')
    return unavailable(`synchronous_mode is ${config.synchronousMode}, the fast path needs on`);
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
  // A quorum key left over after quorum → on does not qualify: the leader's ssn may still be
  // `ANY k` (review item 4).
  const sync = view.sync ?? null;
  if (sync === null || sync.leader !== key.name || (sync.quorum ?? 0) !== 0)
    return unavailable(`the sync key does not promise ${key.name}'s commits to a standby`);
  if (sync.syncStandbys.length === 0) return unavailable('no synchronous standby');
  return { state: 'ready', leader: key.name, standbys: sync.syncStandbys };
}

/**
 * Conditions (a) and (b), which need no probe: the cluster ready for the fast path
 * (`fastFailoverReadiness`), the key listing us, and we a running standby of that leader that
 * could take the key at all. The agent probes only while this holds, and decide() asks it again
 * with the probes' results.
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
  if (!isRunningReplica(pg) || pg.following !== key.name) return null;
  if ((self.failsafeHold ?? null) !== null) return null;
  if (!isEligible(selfCandidate(obs), config, view).eligible) return null;
  return {
    leader: view.members.get(key.name)!,
    leaderModRevision: key.modRevision,
    leaseId: key.leaseId!,
    config: ff,
  };
}

/** Why the evidence does not (yet) show the leader gone; null: it does. */
export function evidenceShortfall(target: TakeoverTarget, ev: TakeoverEvidence): string | null {
  if (ev.leader !== target.leader.name || ev.leaderModRevision !== target.leaderModRevision)
    return 'the probes were made for another leader key';
  if (ev.streamSilenceMs !== null && ev.streamSilenceMs < target.config.streamSilenceMs)
    return `our stream from ${ev.leader} is live (silent ${ev.streamSilenceMs} ms)`;
  if (ev.restAnswered) return `${ev.leader}'s REST API answers`;
  if (ev.portAnswered) return `${ev.leader}'s Postgres port answers`;
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
  if (target === null || evidenceShortfall(target, evidence) !== null) return null;
  const leader = target.leader.name;
  const takeover: Action = {
    kind: 'takeOverLeader',
    leader,
    leaderModRevision: target.leaderModRevision,
    syncModRevision: view.sync!.modRevision,
    configModRevision: keyRevision(view, 'config'),
    failsafeModRevision: keyRevision(view, 'failsafe'),
  };
  const silence =
    evidence.streamSilenceMs === null ? 'no stream' : `stream silent ${evidence.streamSilenceMs} ms`;
  const lease =
    evidence.lease === null
      ? 'its lease gone'
      : `${evidence.lease.remainingS} of ${evidence.lease.grantedS} s left on its lease`;
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
      text: `fast failover: ${leader} is gone (${silence}, REST and Postgres port silent, ${lease}) and the sync key lists us: taking over`,
    },
  };
}
