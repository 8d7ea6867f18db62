import {
  type Member,
  type Observation,
  probesUseful,
  type TakeoverEvidence,
  takeoverTarget,
} from '@hapg/core';
import type { LeaseRemaining } from '@hapg/dcs';

/**
 * What a listed sync standby asks about a leader that may be gone (docs/fast-failover.md,
 * conditions (c)–(e)). The agent answers them with its Postgres session, HTTP, TCP and etcd;
 * the simulator with its models, so that the order and the rule below are the code it proves.
 */
export interface TakeoverProbes {
  /** (c) ms since our walreceiver's last message from its upstream; null: no walreceiver */
  streamSilenceMs(): Promise<number | null>;
  /** (d) the leader's REST API answered anything within `timeoutMs` */
  restAnswers(leader: Member, timeoutMs: number): Promise<boolean>;
  /** (d) a TCP connect to the leader's Postgres port completed within `timeoutMs` */
  portAnswers(leader: Member, timeoutMs: number): Promise<boolean>;
  /** (e) LeaseTimeToLive of the leader key's lease; null: etcd has no such lease */
  leaseTimeToLive(leaseId: string): Promise<LeaseRemaining | null>;
}

/**
 * The evidence for decide()'s fast takeover (and quorum mode's release), or null when there is
 * none to give: the preconditions do not hold (no probe is made), our stream is live, or a
 * probe failed. A leader that answers a probe is evidence too (`lease: 'unasked'`): a standby
 * that released its stream takes the release back on it. The probes run in order of cost, each
 * only once the one before showed the leader silent: a healthy cluster costs one local query
 * per call and no etcd request at all; a suspected failure one `LeaseTimeToLive`.
 */
export async function gatherTakeoverEvidence(
  probes: TakeoverProbes,
  obs: Observation,
): Promise<TakeoverEvidence | null> {
  const target = takeoverTarget(obs);
  if (!probesUseful(target)) return null;
  try {
    const streamSilenceMs = await probes.streamSilenceMs();
    if (streamSilenceMs !== null && streamSilenceMs < target.config.streamSilenceMs) return null;
    const timeoutMs = target.config.probeTimeoutMs;
    const [restAnswered, portAnswered] = await Promise.all([
      probes.restAnswers(target.leader, timeoutMs),
      probes.portAnswers(target.leader, timeoutMs),
    ]);
    const lease = restAnswered || portAnswered ? 'unasked' : await probes.leaseTimeToLive(target.leaseId);
    return {
      leader: target.leader.name,
      leaderModRevision: target.leaderModRevision,
      streamSilenceMs,
      restAnswered,
      portAnswered,
      lease,
    };
  } catch {
    // a probe that fails proves nothing: no takeover on it (the lease path still applies)
    return null;
  }
}
