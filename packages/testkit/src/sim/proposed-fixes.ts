import { acksPerCommit, decide, planSyncUpdate } from '@hapg/core';
import type { ClusterView, Decision, Observation, PlanSyncInput, SyncStep } from '@hapg/core';

/**
 * Fixes the simulator suggests for two bugs it found in synchronous mode (see the sim-sync
 * report). They live here, as wrappers, so the simulator can show that they suffice; the
 * real fixes belong in core (planSyncUpdate / decide).
 */

/**
 * Bug A: planSyncUpdate drops a key write that the *view* already shows, and then changes
 * `synchronous_standby_names`. The view is watch-fed: after the leader's own write (or one
 * whose response was lost) it can still show the older key, so the leader loosened its ssn
 * (e.g. to `''`) while etcd still listed a standby that then lacked the commits acknowledged
 * next. Fix: every ssn change is preceded by a guarded write of the key it relies on, even
 * when the view says it is already there; the mod-revision compare fails on a stale view.
 */
export function guardedSsnPlan(input: PlanSyncInput): SyncStep[] {
  const steps = planSyncUpdate(input);
  const ssnAt = steps.findIndex((s) => s.kind === 'setSsn');
  if (ssnAt < 0 || steps.slice(0, ssnAt).some((s) => s.kind === 'writeSyncKey')) return steps;
  const key = input.key ?? { leader: input.leader, syncStandbys: [], quorum: input.mode === 'on' ? null : 0 };
  return [{ kind: 'writeSyncKey', value: key }, ...steps];
}

/**
 * Bug B: in quorum mode decide skips the quorum proof for a failover-key target whenever the
 * key names a leader ("a switchover's leader stopped cleanly after we received its WAL").
 * But the key names the leader as soon as the switchover is *requested*: a leader isolated or
 * crashed before acting on it never handed over, and awaitReplica gives up after
 * retry_timeout and releases anyway. The target (listed, but one of N under ANY k) then took
 * over without holding every acknowledged commit. Fix modelled here: the target always
 * proves it (decide sees the request as a manual failover, leader null).
 */
export function decideWithTakeoverProof(obs: Observation, nowMs: number): Decision {
  const view = obs.dcs.view;
  if (obs.config.synchronousMode !== 'quorum' || view === null) return decide(obs, nowMs);
  const f = view.failover;
  const unclean = f !== null && f.leader !== null && f.member === obs.self.name && view.leader === null;
  const failover = unclean ? { ...f, leader: null } : f;
  return decide(
    { ...obs, peers: onlyPossibleTakers(obs, view), dcs: { ...obs.dcs, view: { ...view, failover } } },
    nowMs,
  );
}

/**
 * Bug C (liveness): a peer the sync key can never let take over (quorum key with k = 0, or
 * not listed) still ranks as "ahead of us" or as the failover target everybody defers to, so
 * the one member that may take over (the key's leader) waits forever. Fix modelled here:
 * such peers are no candidates (shown as nofailover to the election).
 */
function onlyPossibleTakers(obs: Observation, view: ClusterView): Observation['peers'] {
  const sync = view.sync;
  if (obs.peers === null || sync === null) return obs.peers;
  const k = acksPerCommit(sync);
  const canTake = (name: string) => sync.leader === name || (k >= 1 && sync.syncStandbys.includes(name));
  return new Map([...obs.peers].map(([n, p]) => [n, canTake(n) ? p : { ...p, nofailover: true }]));
}
