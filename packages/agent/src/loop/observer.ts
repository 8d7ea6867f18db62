import {
  type Clock,
  type ClusterView,
  type DynamicConfig,
  holdsLeaderKey,
  type NodeConfig,
  type Observation,
  toDecideConfig,
} from '@hapg/core';
import type { EtcdStore } from '@hapg/dcs';
import type { LocalPostgres } from '../local-pg.js';
import { fetchPeerStatuses } from '../peers.js';
import { gatherTakeoverEvidence, type TakeoverProbes } from '../fast-failover/evidence.js';
import type { AgentFailsafe } from '../failsafe/index.js';
import { type AgentMemory, observed, prePromoteFailure } from './memory.js';

export interface ObserverDeps {
  readonly store: Pick<
    EtcdStore,
    | 'reachable'
    | 'leaseId'
    | 'leaseDeadlineMs'
    | 'renewFailingSinceMs'
    | 'ownLeaderCreateRevision'
    | 'ownLeaderWriteRevision'
  >;
  readonly pg: LocalPostgres;
  readonly clock: Clock;
  /** the watchdog's verdict (watchdog.mode required): see `Fence.watchdogFailure` */
  readonly fence?: {
    watchdogFailure?(timing: { readonly ttlMs: number; readonly loopWaitMs: number }): Promise<string | null>;
  };
  /** failsafe mode: our promises (`failsafeHold`) and the deadline of our rounds */
  readonly failsafe?: Pick<AgentFailsafe, 'hold' | 'observation'>;
  /** fast failover: the probes of a leader that may be gone (asked only while `takeoverTarget` holds) */
  readonly takeoverProbes?: TakeoverProbes;
}

/**
 * Builds one loop's `Observation`: the view, the lease, a probe of Postgres and, during an
 * election, the peers' positions. Changes nothing but what it remembers (`AgentMemory`).
 */
export async function observe(
  deps: ObserverDeps,
  input: {
    readonly config: NodeConfig;
    readonly dyn: DynamicConfig;
    readonly view: ClusterView | null;
    readonly memory: AgentMemory;
  },
): Promise<{ readonly obs: Observation; readonly memory: AgentMemory }> {
  const { store, pg, clock } = deps;
  const { config, dyn, view } = input;
  const seen = observed(input.memory, {
    view,
    self: config.name,
    holdsLeaderKey: holdsLeaderKey(view, config.name, store.leaseId()),
    pg: await pg.observe(clock.monotonicMs()),
    paused: dyn.pause,
    nowMs: clock.monotonicMs(),
  });
  // peers are asked during elections only, and briefly: a dead peer must not stall the election
  const peers =
    view !== null && view.leader === null && seen.pg.process === 'running'
      ? await fetchPeerStatuses(view.members.values(), config.name, Math.min(1000, dyn.retryTimeoutMs))
      : null;
  const watchdogFailure = (await deps.fence?.watchdogFailure?.(dyn)) ?? null;
  const obs: Observation = {
    self: {
      name: config.name,
      nofailover: config.tags.nofailover,
      nosync: config.tags.nosync,
      failoverPriority: config.tags.failoverPriority,
      ...(watchdogFailure === null ? {} : { watchdogFailure }),
      prePromoteFailure: prePromoteFailure(seen.memory, clock.monotonicMs(), dyn.ttlMs),
      failsafeHold: deps.failsafe?.hold(clock.monotonicMs()) ?? null,
      streamRelease: pg.streamRelease,
    },
    config: toDecideConfig(dyn),
    pg: seen.pg,
    dcs: {
      view,
      reachable: store.reachable(),
      leaseId: store.leaseId(),
      leaseDeadlineMs: store.leaseDeadlineMs(),
      renewFailingSinceMs: store.renewFailingSinceMs(),
      releasedLeaderAtMs: seen.memory.releasedLeaderAtMs,
      flawedLeaderSinceMs: seen.memory.flawedLeader?.sinceMs ?? null,
      ownLeaderCreateRevision: store.ownLeaderCreateRevision(),
      ownLeaderWriteRevision: store.ownLeaderWriteRevision(),
      ...deps.failsafe?.observation(),
    },
    peers,
    wallNowMs: clock.wallMs(),
  };
  const takeover =
    deps.takeoverProbes === undefined ? null : await gatherTakeoverEvidence(deps.takeoverProbes, obs);
  return { obs: takeover === null ? obs : { ...obs, takeover }, memory: seen.memory };
}
