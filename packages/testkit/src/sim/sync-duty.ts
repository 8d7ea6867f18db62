import {
  describeSyncStep,
  type ClusterView,
  chooseSyncStandbys,
  type PlanSyncInput,
  parseSsn,
  planSyncUpdate,
  type SyncStep,
  ssnForKey,
  storedSyncFromKey,
  syncKeyFromState,
  toLsn,
} from '@hapg/core';
import type { SimEtcd } from './etcd.js';
import type { SimNode } from './node.js';

/** `synchronous_mode` settings of a simulated cluster (absent: asynchronous). */
export interface SimSyncConfig {
  readonly mode: 'on' | 'quorum';
  readonly strict: boolean;
  /** `synchronous_node_count` */
  readonly nodeCount: number;
}

export type SyncPlanner = (input: PlanSyncInput) => SyncStep[];

export interface SyncDutyContext {
  readonly etcd: SimEtcd;
  readonly nowMs: number;
  readonly node: SimNode;
  readonly byName: ReadonlyMap<string, SimNode>;
  readonly sync: SimSyncConfig;
  /** the node's view of etcd now (watch-fed, may lag; the cached one when cut off) */
  readonly view: ClusterView | null;
  /** the planner under test (default: core's planSyncUpdate); tests pass mutants */
  readonly plan?: SyncPlanner;
}

/**
 * What the agent renders as `synchronous_standby_names` (SyncManager.desiredSsn): the managed
 * value while leading, otherwise the one that keeps the key's promise.
 */
export function desiredSsn(node: SimNode, view: ClusterView | null, sync: SimSyncConfig): string {
  return (
    node.managedSsn ??
    ssnForKey(sync.mode, sync.strict, syncKeyFromState(view?.sync ?? null, sync.mode), node.name)
  );
}

/** The leader key as the node's view shows it names us under our lease (ha.ts #holdsLeaderKey). */
export function leading(node: SimNode, view: ClusterView | null): boolean {
  const l = view?.leader ?? null;
  return (
    l !== null &&
    node.leaseId !== null &&
    l.name === node.name &&
    l.leaseId === node.leaseId &&
    node.writable()
  );
}

/**
 * One SyncManager tick in the model, run after the loop's actions and parameter render: pick
 * the standbys, plan, and carry out the steps in order until one fails. Returns a line for
 * the trace when something was done or failed, else null.
 */
export function syncDutyTick(ctx: SyncDutyContext): string | null {
  const { node, view, sync } = ctx;
  if (view === null || !leading(node, view)) {
    node.managedSsn = null;
    return null;
  }
  const key = syncKeyFromState(view.sync, sync.mode);
  const inForce = desiredSsn(node, view, sync);
  node.managedSsn = inForce;
  const desired = chooseSyncStandbys({
    mode: sync.mode,
    nodeCount: sync.nodeCount,
    members: view.members,
    replication: node.pg.streamingReplicas.map((name) => ({
      applicationName: name,
      state: 'streaming',
      flushLsn: toLsn(ctx.byName.get(name)?.pg.lsn ?? 0n),
    })),
    selfName: node.name,
    current: key?.leader === node.name ? key.syncStandbys : [],
  });
  const steps = (ctx.plan ?? planSyncUpdate)({
    key,
    ssn: parseSsn(inForce),
    desired,
    mode: sync.mode,
    strict: sync.strict,
    nodeCount: sync.nodeCount,
    leader: node.name,
  });
  if (steps.length === 0) return null;
  let revision = view.sync?.modRevision ?? null;
  for (const step of steps) {
    const next = runStep(ctx, step, revision);
    if (next === false) return `${node.name} sync: ${describeSyncStep(step)} failed`;
    revision = next;
  }
  return `${node.name} sync: ${steps.map(describeSyncStep).join('; ')}`;
}

/** The new sync key revision to compare against, or false when the step failed. */
function runStep(ctx: SyncDutyContext, step: SyncStep, revision: string | null): string | null | false {
  const { node, etcd, nowMs } = ctx;
  switch (step.kind) {
    case 'writeSyncKey': {
      if (!node.etcdConnected(nowMs)) return false;
      return etcd.casSync(storedSyncFromKey(step.value), revision, node, nowMs) ?? false;
    }
    case 'setSsn':
      // render + reload: the primary runs with it before the next commit is evaluated
      node.pg.ssn = step.value;
      node.managedSsn = step.value;
      return revision;
    case 'awaitCaughtUp': {
      // the model checks once: the agent's bounded wait that times out fails the tick too
      const target = node.pg.lsn;
      const caughtUp = step.names.filter((n) => {
        const r = ctx.byName.get(n);
        return r !== undefined && node.pg.streamingReplicas.includes(n) && r.pg.lsn >= target;
      });
      return caughtUp.length >= step.count ? revision : false;
    }
  }
}
