import {
  type Action,
  type ClusterView,
  errorText,
  formatLsn,
  HapgError,
  type HistoryEntry,
  isHapgError,
  lsnToJson,
  malformedKey,
  maxLsn,
  type MemberName,
  type NodeConfig,
  unreachable,
} from '@hapg/core';
import type { EtcdStore } from '@hapg/dcs';
import { emptyDataDir, type FollowTarget } from '@hapg/postgres';
import { pgAddressOf } from './conn.js';
import { createReplicaFrom as createReplica } from './replica-create.js';
import { fetchPeer } from './peers.js';
import type { LocalPostgres } from './local-pg.js';
import type { Logger } from './logger.js';
import { slotNameFor } from './slots.js';

export interface ActContext {
  readonly config: NodeConfig;
  readonly store: EtcdStore;
  readonly pg: LocalPostgres;
  readonly log: Logger;
  /** the view the decision was made on */
  readonly view: ClusterView | null;
  /** wall clock for history timestamps */
  readonly wallMs: () => number;
  readonly monotonicMs: () => number;
  /** arms the fence with the current lease deadline and postmaster pid (a primary must be fenced) */
  readonly armFence: () => Promise<void>;
  readonly disarmFence: () => Promise<void>;
  readonly onPromoted: (reason: string) => void;
  readonly onReleased: () => void;
  /** how long `awaitReplica` waits (the dynamic `retry_timeout`) */
  readonly retryTimeoutMs: number;
  /** how a former primary rejoins (dynamic `postgresql.*`, `use_pg_rewind` overridable locally) */
  readonly rejoin: { readonly usePgRewind: boolean; readonly removeDataDirectoryOnRewindFailure: boolean };
  /** members that were streaming from this primary when the decision was made */
  readonly streamingReplicas: readonly MemberName[];
  /** dynamic `postgresql.use_slots`: replicas stream through their slot on the leader */
  readonly useSlots: boolean;
  /** dynamic `synchronous_mode` (a switchover hands the sync key over to its target) */
  readonly syncMode: 'off' | 'on' | 'quorum';
  /** the last leader this node saw, for the history entry of a promotion */
  readonly previousLeader: MemberName | null;
}

export class ActionFailed extends Error {
  constructor(
    readonly action: Action,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${action.kind}: ${message}`, options);
    this.name = 'ActionFailed';
  }
}

/**
 * Executes a decision's actions in order, stopping at the first failure
 * (the Decision type's contract). Returns the kinds that completed.
 */
export async function runActions(
  actions: readonly Action[],
  ctx: ActContext,
  afterEach?: (kind: Action['kind']) => Promise<void>,
): Promise<Action['kind'][]> {
  const done: Action['kind'][] = [];
  for (const action of actions) {
    try {
      await runAction(action, ctx);
      done.push(action.kind);
      await afterEach?.(action.kind);
    } catch (e) {
      const err = e instanceof ActionFailed ? e : new ActionFailed(action, errorText(e), { cause: e });
      ctx.log.warn(
        { action: action.kind, err: err.message },
        'action failed; skipping the rest of this loop',
      );
      throw err;
    }
  }
  return done;
}

async function runAction(action: Action, ctx: ActContext): Promise<void> {
  switch (action.kind) {
    case 'bootstrap':
      return bootstrap(ctx);
    case 'clone':
      return clone(ctx, action.leader);
    case 'acquireLeader':
      if (!(await ctx.store.acquireLeader()))
        throw new ActionFailed(action, 'the leader key is held by another member');
      return;
    case 'verifyLeader':
      if (!(await ctx.store.verifyLeader()))
        throw new ActionFailed(action, 'etcd does not confirm that we hold the leader key');
      return;
    case 'releaseLeader':
      await ctx.store.releaseLeader();
      ctx.onReleased();
      return;
    case 'checkpoint':
      await ctx.pg.node.query('CHECKPOINT');
      return;
    case 'awaitReplica':
      return awaitReplica(ctx, action.member);
    case 'claimSyncKey':
      return claimSyncKey(ctx);
    case 'promote':
      return promote(ctx, action.reason);
    case 'demote':
      return demote(ctx, action.mode);
    case 'startPostgres':
      return startPostgres(ctx, action.as, action.follow);
    case 'followLeader': {
      const target = followTarget(ctx, action.leader);
      await ctx.pg.node.followPrimary(target);
      ctx.pg.following = action.leader;
      return;
    }
    case 'rejoin':
      return rejoin(ctx, action.leader);
    case 'clearFailover': {
      const f = ctx.view?.failover;
      if (f) await ctx.store.deleteFailover(f.modRevision);
      return;
    }
    case 'removeLeaderKey':
      return removeLeaderKey(ctx, action.modRevision);
    default:
      unreachable(action, 'action');
  }
}

/** Deletes a leader key no agent holds (CAS on the revision decided on); a key changed since is left alone. */
async function removeLeaderKey(ctx: ActContext, modRevision: string): Promise<void> {
  const seen = ctx.view?.leader;
  const key = { value: seen?.name.slice(0, 100), leaseId: seen?.leaseId ?? null, modRevision };
  if (await ctx.store.removeLeaderAt(modRevision)) ctx.log.warn(key, 'removed a leader key no agent holds');
  else ctx.log.info(key, 'the invalid leader key changed or went meanwhile: left alone');
}

/** Names us as the sync key's leader with no standbys (quorum 0, Patroni's layout) before a promotion. */
async function claimSyncKey(ctx: ActContext): Promise<void> {
  await writeSyncKeyAsLeader(ctx, []);
  ctx.log.info({ syncStandbys: [] }, 'sync key claimed before promotion');
}

/**
 * Writes the sync key as `{leader: us, syncStandbys, quorum: 0}` whatever it held: a CAS at the
 * watch-fed view's revision, and, when that view lagged a concurrent write, once more at the
 * revision read from etcd. The write also requires that we hold the leader key.
 */
async function writeSyncKeyAsLeader(ctx: ActContext, syncStandbys: MemberName[]): Promise<void> {
  const value = { leader: ctx.config.name, syncStandbys, quorum: 0 };
  try {
    await ctx.store.casSync(value, revisionOf(ctx.store.view(), 'sync'));
  } catch (e) {
    if (!isHapgError(e) || (e.code !== 'DCS_CAS_CONFLICT' && e.code !== 'DCS_KEY_EXISTS')) throw e;
    await ctx.store.casSync(value, revisionOf(await ctx.store.readView(), 'sync'));
  }
}

/**
 * The mod revision to CAS a key at: the parsed key's, else a malformed value's (another tool
 * wrote it; it is ours to replace, or a promotion could never claim the sync key), else null.
 */
function revisionOf(view: ClusterView | null, kind: 'sync' | 'history'): string | null {
  return view?.[kind]?.modRevision ?? malformedKey(view, kind)?.modRevision ?? null;
}

/** Where to stream from: the leader's Postgres address from its member key, our slot on it. */
export function followTarget(
  // useSlots is required: a caller that forgot it configured a primary_slot_name nobody creates
  ctx: Pick<ActContext, 'view' | 'config' | 'useSlots'>,
  leader: MemberName,
): FollowTarget {
  const member = ctx.view?.members.get(leader);
  const addr = member ? pgAddressOf(member) : null;
  if (addr === null) throw new HapgError('INTERNAL', `no usable conn_url for member ${leader}`);
  // without use_slots nobody creates our slot on the leader: stream without one
  return { ...addr, slotName: ctx.useSlots ? slotNameFor(ctx.config.name) : null };
}

async function bootstrap(ctx: ActContext): Promise<void> {
  const { store, pg, config, log } = ctx;
  if (!(await store.tryInitialize())) {
    log.info({}, 'another member won the bootstrap race; will clone from it');
    return;
  }
  log.info({}, 'won the bootstrap race: running initdb');
  await pg.node.initdb();
  // Take the leader key before Postgres can accept a write (rule 1).
  if (!(await store.acquireLeader())) throw new HapgError('INTERNAL', 'bootstrap: leader key already taken');
  // Synchronous mode from the start: the key names us before any client can commit, so that
  // if we die before naming a standby, nobody else is promoted over our commits.
  if (ctx.syncMode !== 'off') await claimSyncKey(ctx);
  await pg.start({ role: 'primary', follow: null });
  await ctx.armFence();
  await pg.setWasPrimary(true);
  await pg.node.createReplicationUser();
  const status = await pg.node.probe();
  await store.setInitialize(status.systemId);
  try {
    await store.casConfig({ ...config.bootstrap.dcsJson }, null);
  } catch (e) {
    log.warn({ err: errorText(e) }, 'config key already present; keeping it');
  }
  log.info({ systemId: status.systemId }, 'cluster bootstrapped');
}

async function clone(ctx: ActContext, leader: MemberName): Promise<void> {
  ctx.log.info({ leader, methods: ctx.config.postgresql.createReplicaMethods }, 'creating replica');
  await createReplicaFrom(ctx, followTarget(ctx, leader));
  await ctx.pg.setWasPrimary(false);
  await startPostgres(ctx, 'replica', leader);
}

/** `create_replica_methods` in order (pg_basebackup by default) into the empty data directory. */
async function createReplicaFrom(
  ctx: Pick<ActContext, 'pg' | 'config' | 'log'>,
  source: FollowTarget,
): Promise<void> {
  const created = await createReplica({ config: ctx.config, node: ctx.pg.node, log: ctx.log }, source);
  ctx.log.info({ created }, 'replica created');
}

/** Nothing may become writable on a lease whose local deadline passed while the loop was deciding. */
function assertLeaseAhead(ctx: ActContext): void {
  const deadline = ctx.store.leaseDeadlineMs();
  if (deadline === null || ctx.monotonicMs() >= deadline) {
    throw new HapgError(
      'DCS_DEADLINE_PASSED',
      'the leader lease deadline passed before Postgres could be made writable',
    );
  }
}

async function promote(ctx: ActContext, reason: 'failover' | 'switchover' | 'manual'): Promise<void> {
  const { pg, store, view } = ctx;
  const before = pg.lastStatus;
  assertLeaseAhead(ctx);
  await ctx.armFence();
  await pg.node.promote();
  pg.following = null;
  await pg.setWasPrimary(true);
  const after = await pg.node.probe();
  ctx.onPromoted(reason);
  // History records the timeline that ended and where it forked: exactly, from Postgres's own
  // history file. Replicas compare their position with it to know whether they must rewind;
  // the flush LSN read after promotion is already past the fork (end-of-recovery records).
  const oldTimeline = (after.timeline ?? 2) - 1;
  const exact =
    after.timeline === null ? null : await pg.node.timelineSwitchLsn(after.timeline).catch(() => null);
  const switchLsn = exact ?? maxLsn(before?.receiveLsn, before?.replayLsn, after.flushLsn);
  const entry: HistoryEntry = {
    timeline: oldTimeline,
    switchLsn: switchLsn === null ? 0 : lsnToJson(switchLsn),
    reason,
    time: new Date(ctx.wallMs()).toISOString(),
    newLeader: ctx.config.name,
    oldLeader: ctx.previousLeader,
  };
  const current = view?.history ?? null;
  const entries = [...(current?.entries ?? []).filter((h) => h.timeline !== oldTimeline), entry];
  try {
    // a malformed history (another tool's) is replaced: its entries cannot be read anyway
    await store.casHistory(entries, revisionOf(view, 'history'));
  } catch (e) {
    // History is for people; a lost race here must not undo a promotion.
    ctx.log.warn({ err: errorText(e) }, 'could not append to history');
  }
}

/** Stop accepting writes now. A later loop starts Postgres as a standby (rejoining through rewind). */
async function demote(ctx: ActContext, mode: 'fast' | 'immediate'): Promise<void> {
  const { pg } = ctx;
  await pg.stop(mode);
  await ctx.disarmFence();
  await pg.setWasPrimary(true);
}

/**
 * Switchover: after our clean stop, wait until the target (null: any member) has received
 * WAL up to our shutdown checkpoint, so that it promotes with every commit we acknowledged.
 * A fast shutdown already waits for connected walsenders; this confirms it from the target's
 * side. Bounded by retry_timeout: on timeout we release anyway and the election compares
 * positions (the most advanced member wins).
 */
async function awaitReplica(ctx: ActContext, member: MemberName | null): Promise<void> {
  if ((await targetHasAllWal(ctx, member)) && member !== null && ctx.syncMode !== 'off')
    await handOverSyncKey(ctx, member);
}

/**
 * Synchronous mode, switchover: the target holds every commit we ever acknowledged (it
 * confirmed our shutdown checkpoint), so the key may name it alone — which lets it pass the
 * quorum proof without seeing anyone. Best effort: without it the target needs the proof.
 */
async function handOverSyncKey(ctx: ActContext, member: MemberName): Promise<void> {
  try {
    await writeSyncKeyAsLeader(ctx, [member]);
    ctx.log.info({ syncStandbys: [member] }, 'sync key handed over to the switchover target');
  } catch (e) {
    ctx.log.warn({ member, err: errorText(e) }, 'could not hand the sync key over');
  }
}

/** Whether `member` (null: any member) holds all our WAL after our clean stop. */
async function targetHasAllWal(ctx: ActContext, member: MemberName | null): Promise<boolean> {
  // A fast shutdown returns only after every connected walsender saw its standby confirm the
  // flush of all WAL, shutdown checkpoint included: a target that was streaming has it all.
  const streaming = ctx.streamingReplicas;
  if (member === null ? streaming.length > 0 : streaming.includes(member)) return true;
  const control = await ctx.pg.node.controldata();
  const target = control.checkpointLsn;
  const members = [...(ctx.view?.members.values() ?? [])].filter(
    (m) => m.name !== ctx.config.name && (member === null || m.name === member),
  );
  const deadline = ctx.monotonicMs() + ctx.retryTimeoutMs;
  for (;;) {
    const statuses = await Promise.all(members.map((m) => fetchPeer(m, 500)));
    if (statuses.some((p) => p.xlogLocation !== null && p.xlogLocation >= target)) return true;
    if (ctx.monotonicMs() >= deadline) {
      ctx.log.warn(
        { member, checkpointLsn: formatLsn(target) },
        'switchover target did not confirm our last WAL in time',
      );
      return false;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startPostgres(
  ctx: ActContext,
  as: 'primary' | 'replica',
  follow: MemberName | null,
): Promise<void> {
  const { pg } = ctx;
  if (pg.node.running) await pg.stop('fast');
  const target = follow === null ? null : followTarget(ctx, follow);
  if (as === 'primary') assertLeaseAhead(ctx);
  try {
    await pg.start({ role: as, follow: target });
  } catch (e) {
    // A primary that cannot start counts as crashed, so primary_start_timeout bounds the retries.
    if (as === 'primary') pg.crashedAtMs ??= ctx.monotonicMs();
    throw e;
  }
  // The fence needs the postmaster's pid, known only now; the window is the start itself.
  if (as === 'primary') await ctx.armFence();
  pg.following = follow;
}

async function rejoin(ctx: ActContext, leader: MemberName): Promise<void> {
  const { pg, log } = ctx;
  const target = followTarget(ctx, leader);
  // The CHECKPOINT pg_rewind needs on the source, run first: an unreachable leader is no
  // reason to give up on rewind (nor to wipe anything), so this attempt fails with Postgres
  // still running, and the next loop tries again.
  await pg.node.checkpointSource(target).catch((e) => {
    throw new HapgError('TIMEOUT', `leader ${leader} not reachable for pg_rewind: ${errorText(e)}`);
  });
  if (pg.node.running) await pg.stop('fast');
  await ctx.disarmFence();
  const started = ctx.monotonicMs();
  const took = () => Math.round(ctx.monotonicMs() - started);
  if (!ctx.rejoin.usePgRewind) {
    // Without pg_rewind a former primary may hold WAL the leader never had: re-clone.
    log.info({ leader }, 'use_pg_rewind is off: re-cloning the former primary');
    await reclone(ctx, leader);
    log.info({ leader, durationMs: took(), method: 'basebackup' }, 'rejoined');
    return;
  }
  try {
    const out = await pg.node.rewindFrom(target, { sourceCheckpointed: true });
    log.info({ leader, durationMs: took(), method: 'pg_rewind', out: out.slice(-300) }, 'rejoined');
  } catch (e) {
    const why = `pg_rewind from ${leader} failed: ${errorText(e)}`;
    if (!ctx.rejoin.removeDataDirectoryOnRewindFailure) {
      // Nothing is deleted without the operator's consent: stay stopped and say why.
      pg.rejoinFailure = `${why}; set postgresql.remove_data_directory_on_rewind_failure or run hactl reinit`;
      throw e;
    }
    log.warn(
      { leader, err: errorText(e) },
      'pg_rewind failed: re-cloning (remove_data_directory_on_rewind_failure)',
    );
    await reclone(ctx, leader);
    log.info({ leader, durationMs: took(), method: 'basebackup' }, 'rejoined');
    return;
  }
  await pg.setWasPrimary(false);
  await startPostgres(ctx, 'replica', leader);
}

/** Wipe the data directory and clone it again from `leader`, then stream from it. */
export async function reclone(
  ctx: Pick<ActContext, 'pg' | 'view' | 'config' | 'log' | 'useSlots'>,
  leader: MemberName,
): Promise<void> {
  const { pg } = ctx;
  if (pg.node.running) await pg.stop('fast');
  // emptied, not removed: the data directory may be a mount point
  await emptyDataDir(pg.node.dataDir);
  await createReplicaFrom(ctx, followTarget(ctx, leader));
  await pg.setWasPrimary(false);
  pg.rejoinFailure = null;
  pg.crashedAtMs = null;
  await pg.start({ role: 'replica', follow: followTarget(ctx, leader) });
  pg.following = leader;
}
