import {
  type Action,
  assert,
  type ClusterView,
  errorText,
  formatLsn,
  HapgError,
  type HistoryEntry,
  InvariantViolation,
  isHapgError,
  keyRevision,
  lsnToJson,
  maxLsn,
  type MemberName,
  type PromoteReason,
  releaseBinding,
} from '@hapg/core';
import type { FollowTarget } from '@hapg/postgres';
import { pgAddressOf } from '../conn.js';
import { slotNameFor } from '../duties/slots/names.js';
import type {
  CallbackRole,
  ClusterStorePort,
  ExecClock,
  ExecLog,
  FencePort,
  FailsafePort,
  HooksPort,
  PeerPort,
  PostgresControl,
} from './ports.js';

/**
 * Everything one run of actions needs: the ports, the decision's view, and the settings in
 * force. The agent and the simulator build it the same way (`ha.ts`, `sim/sim.ts`).
 */
export interface ExecContext {
  /** our member name */
  readonly name: MemberName;
  readonly store: ClusterStorePort;
  readonly pg: PostgresControl;
  readonly fence: FencePort;
  readonly peers: PeerPort;
  /** `pre_promote`, `before_stop` and the callbacks */
  readonly hooks: HooksPort;
  /** failsafe mode's promises; absent: none are ever given (the simulator without failsafe) */
  readonly failsafe?: FailsafePort;
  readonly clock: ExecClock;
  readonly log: ExecLog;
  /** the view the decision was made on */
  readonly view: ClusterView | null;
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
  /** the dynamic config a bootstrap writes (`bootstrap.dcs`) */
  readonly bootstrapDcs: Readonly<Record<string, unknown>>;
  readonly onPromoted: (reason: PromoteReason) => void;
  readonly onReleased: () => void;
  /** `pre_promote` failed and the key was released: the node does not compete for ttl (why) */
  readonly onPrePromoteFailed: (why: string) => void;
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

/** What a run has established so far: the invariants below are checked against it. */
interface RunState {
  /** etcd confirmed in this run that we hold the leader key (acquire is a txn, verify a txn) */
  keyConfirmed: boolean;
  /** `pre_promote` succeeded in this run (it runs once, before the sync key is claimed) */
  prePromoted: boolean;
}

type Handler<K extends Action['kind']> = (
  action: Extract<Action, { kind: K }>,
  ctx: ExecContext,
  run: RunState,
) => Promise<void>;

/** One handler per action kind: the whole executor. Exported so that tests can run mutants of it. */
export type ActionHandlers = { readonly [K in Action['kind']]: Handler<K> };

/**
 * Executes a decision's actions in order, stopping at the first failure (the Decision
 * type's contract). Returns the kinds that completed. A broken invariant is not an action
 * failure: it propagates as `InvariantViolation`.
 */
export async function runActions(
  actions: readonly Action[],
  ctx: ExecContext,
  afterEach?: (kind: Action['kind']) => Promise<void>,
  handlers: ActionHandlers = HANDLERS,
): Promise<Action['kind'][]> {
  const done: Action['kind'][] = [];
  const run: RunState = { keyConfirmed: false, prePromoted: false };
  for (const action of actions) {
    try {
      await (handlers[action.kind] as Handler<typeof action.kind>)(action, ctx, run);
      done.push(action.kind);
      await afterEach?.(action.kind);
    } catch (e) {
      if (e instanceof InvariantViolation) throw e;
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

export const HANDLERS: ActionHandlers = {
  bootstrap: (_a, ctx) => bootstrap(ctx),
  clone: (a, ctx) => clone(ctx, a.from ?? a.leader, a.leader),
  acquireLeader: async (a, ctx, run) => {
    beginLeadership(ctx);
    // the keys our eligibility was judged on, as the decision's view had them (store.acquireLeader)
    const compares = {
      failsafeModRevision: failsafeRevisionOf(ctx.view),
      ...(ctx.view === null
        ? {}
        : {
            syncModRevision: keyRevision(ctx.view, 'sync'),
            configModRevision: keyRevision(ctx.view, 'config'),
          }),
    };
    if (!(await ctx.store.acquireLeader(compares)))
      throw new ActionFailed(a, 'the leader key is held by another member');
    run.keyConfirmed = true;
  },
  takeOverLeader: async (a, ctx, run) => {
    beginLeadership(ctx);
    const { kind: _kind, ...compares } = a;
    if (!(await ctx.store.takeOverLeader(compares)))
      throw new ActionFailed(a, 'the leader, sync, config or failsafe key changed since the decision');
    ctx.log.warn({ leader: a.leader }, 'fast failover: took the leader key over from a leader shown gone');
    run.keyConfirmed = true;
  },
  verifyLeader: async (a, ctx, run) => {
    if (!(await ctx.store.verifyLeader()))
      throw new ActionFailed(a, 'etcd does not confirm that we hold the leader key');
    run.keyConfirmed = true;
  },
  releaseLeader: async (_a, ctx, run) => {
    await ctx.store.releaseLeader();
    run.keyConfirmed = false;
    ctx.onReleased();
  },
  checkpoint: (_a, ctx) => ctx.pg.checkpoint(),
  awaitReplica: (a, ctx) => awaitReplica(ctx, a.member),
  claimSyncKey: async (_a, ctx, run) => {
    // only ever emitted before a promotion: the hook runs first, or a failing one would leave
    // the sync key naming a leader that never promoted, and nobody else eligible
    await prePromote(ctx, run);
    await claimSyncKey(ctx);
  },
  dropSyncKey: (_a, ctx) => dropSyncKey(ctx),
  promote: (a, ctx, run) => promote(ctx, run, a.reason),
  demote: (a, ctx) => demote(ctx, a.mode),
  startPostgres: (a, ctx, run) => startPostgres(ctx, run, a.as, a.follow),
  followLeader: async (a, ctx) => {
    await ctx.pg.followPrimary(upstreamTarget(ctx, a.leader));
    ctx.pg.memory.following = a.leader;
  },
  rejoin: (a, ctx) => rejoin(ctx, a.leader),
  clearFailover: async (_a, ctx) => {
    const f = ctx.view?.failover;
    if (f) await ctx.store.deleteFailover(f.modRevision);
  },
  removeLeaderKey: (a, ctx) => removeLeaderKey(ctx, a.modRevision, a.member),
  releaseStream: (a, ctx) => releaseStream(ctx, a.leader, a.leaderRevision),
  withdrawRelease: async (a, ctx) => {
    const still = await ctx.store.withdrawRelease(a);
    // either way the release is void now: taken back, or the key moved past it
    await ctx.pg.setStreamRelease(null);
    if (!still)
      throw new ActionFailed(a, `the leader key is no longer ${a.leader}'s at revision ${a.leaderRevision}`);
    ctx.log.info({ leader: a.leader }, 'stream release taken back');
  },
  dropRelease: async (_a, ctx) => {
    await ctx.pg.setStreamRelease(null);
    // best effort: the key names a leader key that is gone, so nothing can count it
    await ctx.store.deleteRelease().catch((e: unknown) => {
      ctx.log.warn(
        { err: errorText(e) },
        'could not delete our void stream release (it expires with our lease)',
      );
    });
  },
  reinitialize: async (a, ctx) => {
    // a fresh copy streams from the leader again: our stream release must be void first
    await releaseBeforeStreaming(ctx);
    await ctx.fence.disarm();
    await reclone(ctx, a.leader);
  },
};

/**
 * Quorum fast failover's release (docs/fast-failover.md): the promise is persisted before the
 * walreceiver stops, so that a crash anywhere after leaves a standby that keeps it; the key goes
 * last, once our final position is known. A put refused because the leader key moved leaves a
 * void release, which the next decision drops.
 */
async function releaseStream(ctx: ExecContext, leader: MemberName, leaderRevision: string): Promise<void> {
  await ctx.pg.setStreamRelease({ leader, leaderRevision });
  ctx.pg.memory.following = null;
  const flushLsn = await ctx.pg.stopReceiving();
  const timeline = (await ctx.pg.probe()).timeline;
  if (!(await ctx.store.putRelease({ leader, leaderRevision, timeline, flushLsn })))
    throw new HapgError(
      'DCS_CAS_CONFLICT',
      `the leader key is no longer ${leader}'s at revision ${leaderRevision}`,
    );
  ctx.log.warn(
    { leader, flushLsn: formatLsn(flushLsn) },
    'quorum fast failover: stopped streaming from a leader shown gone, and said so in etcd',
  );
}

/**
 * Where to stream from (`followTarget`), refused while our stream release (quorum fast
 * failover) binds us to `leader`'s key: a takeover may count that release, and a standby
 * that streamed again could confirm commits the taker lacks. Only a release the view shows
 * void (the key moved past it) no longer binds; decide() withdraws or drops it first.
 */
function upstreamTarget(ctx: ExecContext, leader: MemberName): FollowTarget {
  const rel = ctx.pg.streamRelease;
  if (
    rel !== null &&
    rel.leader === leader &&
    (ctx.view === null || releaseBinding(ctx.view, rel) !== 'void')
  )
    throw new HapgError(
      'STREAM_RELEASED',
      `not streaming from ${leader}: we released our stream from its leader key at revision ${rel.leaderRevision}`,
    );
  return followTarget(ctx, leader);
}

/** Before anything that streams again whatever decide() saw (an operator's reinitialize): take the release back or find it void. */
async function releaseBeforeStreaming(ctx: ExecContext): Promise<void> {
  const rel = ctx.pg.streamRelease;
  if (rel === null) return;
  // false: the key moved past it, void either way; an unreachable etcd throws and refuses
  await ctx.store.withdrawRelease(rel);
  await ctx.pg.setStreamRelease(null);
}

/** M3: refused while we promised a primary cut off from etcd not to lead (FAILSAFE_PROMISED). */
function beginLeadership(ctx: ExecContext): void {
  const refusal = ctx.failsafe?.beginLeadership() ?? null;
  if (refusal !== null) throw new HapgError('FAILSAFE_PROMISED', refusal);
}

/**
 * M5: the acquire compares the failsafe key with the view decided on, so that a member a newer
 * key leaves out never takes the leader key on a stale view. An unparsable key counts as its
 * revision (it is ignored, as Patroni ignores one), and no key as its absence.
 */
function failsafeRevisionOf(view: ClusterView | null): string | null | undefined {
  return view?.failsafe === undefined ? undefined : keyRevision(view, 'failsafe');
}

/** Never writable without etcd's word in this very run that the key is ours (design rule 1). */
function assertKeyConfirmed(run: RunState, what: string): void {
  assert(run.keyConfirmed, `${what} without acquireLeader or verifyLeader before it in the same run`);
}

/**
 * Deletes a leader key no agent holds (CAS on the revision decided on, and on the named member's
 * key as the decision saw it); a key changed since, or a member key written since, is left alone.
 */
async function removeLeaderKey(
  ctx: ExecContext,
  modRevision: string,
  member: { readonly name: MemberName; readonly modRevision: string | null } | null,
): Promise<void> {
  const seen = ctx.view?.leader;
  const key = { value: seen?.name.slice(0, 100), leaseId: seen?.leaseId ?? null, modRevision };
  if (await ctx.store.removeLeaderAt(modRevision, member))
    ctx.log.warn(key, 'removed a leader key no agent holds');
  else ctx.log.info(key, 'the invalid leader key or its member key changed meanwhile: left alone');
}

/**
 * Asynchronous mode, right before a promotion: delete a `sync` key left from before the mode was
 * switched off (guarded by our leader key). It promises nothing now, and left in place it would
 * name a member that may never take over again once the mode is back on (simulator: a cluster
 * left leaderless). Best effort: a failure changes nothing about this promotion.
 */
async function dropSyncKey(ctx: ExecContext): Promise<void> {
  const rev = keyRevision(ctx.view, 'sync');
  if (rev === null) return;
  try {
    await ctx.store.deleteSync(rev);
    ctx.log.info({ reason: 'synchronous_mode off' }, 'stale sync key removed before promotion');
  } catch (e) {
    ctx.log.warn({ err: errorText(e) }, 'could not remove the stale sync key');
  }
}

/** Names us as the sync key's leader with no standbys (quorum 0, Patroni's layout) before a promotion. */
async function claimSyncKey(ctx: ExecContext): Promise<void> {
  await writeSyncKeyAsLeader(ctx, []);
  ctx.log.info({ syncStandbys: [] }, 'sync key claimed before promotion');
}

/**
 * Writes the sync key as `{leader: us, syncStandbys, quorum: 0}` whatever it held: a CAS at the
 * watch-fed view's revision, and, when that view lagged a concurrent write, once more at the
 * revision read from etcd. The write also requires that we hold the leader key.
 */
async function writeSyncKeyAsLeader(ctx: ExecContext, syncStandbys: MemberName[]): Promise<void> {
  const value = { leader: ctx.name, syncStandbys, quorum: 0 };
  try {
    await ctx.store.casSync(value, keyRevision(ctx.store.view(), 'sync'));
  } catch (e) {
    if (!isHapgError(e) || (e.code !== 'DCS_CAS_CONFLICT' && e.code !== 'DCS_KEY_EXISTS')) throw e;
    await ctx.store.casSync(value, keyRevision(await ctx.store.readView(), 'sync'));
  }
}

/** Where to stream from: the leader's Postgres address from its member key, our slot on it. */
export function followTarget(
  // useSlots is required: a caller that forgot it configured a primary_slot_name nobody creates
  ctx: { readonly view: ClusterView | null; readonly name: MemberName; readonly useSlots: boolean },
  leader: MemberName,
): FollowTarget {
  const member = ctx.view?.members.get(leader);
  const addr = member ? pgAddressOf(member) : null;
  if (addr === null) throw new HapgError('INTERNAL', `no usable conn_url for member ${leader}`);
  // without use_slots nobody creates our slot on the leader: stream without one
  return { ...addr, slotName: ctx.useSlots ? slotNameFor(ctx.name) : null };
}

async function bootstrap(ctx: ExecContext): Promise<void> {
  const { store, pg, log } = ctx;
  if (!(await store.tryInitialize())) {
    log.info({}, 'another member won the bootstrap race; will clone from it');
    return;
  }
  beginLeadership(ctx);
  log.info({}, 'won the bootstrap race: running initdb');
  await pg.initdb();
  // Take the leader key before Postgres can accept a write (rule 1).
  if (!(await store.acquireLeader())) throw new HapgError('INTERNAL', 'bootstrap: leader key already taken');
  // Synchronous mode from the start: the key names us before any client can commit, so that
  // if we die before naming a standby, nobody else is promoted over our commits.
  if (ctx.syncMode !== 'off') await claimSyncKey(ctx);
  await pg.start('primary', null);
  await ctx.fence.arm();
  ctx.hooks.changed('started', 'primary');
  await pg.setWasPrimary(true);
  await pg.createReplicationUser();
  const status = await pg.probe();
  await store.setInitialize(status.systemId);
  try {
    await store.casConfig({ ...ctx.bootstrapDcs }, null);
  } catch (e) {
    log.warn({ err: errorText(e) }, 'config key already present; keeping it');
  }
  log.info({ systemId: status.systemId }, 'cluster bootstrapped');
}

/** A base backup from `from`, then a standby of `upstream` (the leader, or a cascade's member). */
async function clone(ctx: ExecContext, from: MemberName, upstream: MemberName): Promise<void> {
  await createReplicaFrom(ctx, from);
  await startReplica(ctx, upstream);
}

/** `create_replica_methods` in order into the empty data directory. */
async function createReplicaFrom(ctx: ExecContext, leader: MemberName): Promise<void> {
  ctx.log.info({ leader }, 'creating replica');
  const created = await ctx.pg.createReplica(followTarget(ctx, leader));
  await ctx.pg.setWasPrimary(false);
  ctx.log.info({ created }, 'replica created');
}

/** Nothing may become writable on a lease whose local deadline passed while the loop was deciding. */
function assertLeaseAhead(ctx: ExecContext): void {
  const deadline = ctx.store.leaseDeadlineMs();
  if (deadline === null || ctx.clock.monotonicMs() >= deadline) {
    throw new HapgError(
      'DCS_DEADLINE_PASSED',
      'the leader lease deadline passed before Postgres could be made writable',
    );
  }
}

async function promote(ctx: ExecContext, run: RunState, reason: PromoteReason): Promise<void> {
  const { pg, store, view } = ctx;
  assertKeyConfirmed(run, 'promote');
  beginLeadership(ctx);
  await prePromote(ctx, run);
  const before = pg.lastPositions();
  // after the hook, which may have taken a while: the lease must still be ahead
  assertLeaseAhead(ctx);
  // armed before the promotion: from its first writable instant this primary is fenced
  await ctx.fence.arm();
  await pg.promote();
  pg.memory.following = null;
  await pg.setWasPrimary(true);
  ctx.hooks.changed('promoted', 'primary');
  const after = await pg.probe();
  ctx.onPromoted(reason);
  // History records the timeline that ended and where it forked: exactly, from Postgres's own
  // history file. Replicas compare their position with it to know whether they must rewind;
  // the flush LSN read after promotion is already past the fork (end-of-recovery records).
  const fork = after.timeline === null ? null : await pg.timelineFork(after.timeline).catch(() => null);
  const oldTimeline = fork?.parent ?? (after.timeline ?? 2) - 1;
  const switchLsn = fork?.switchLsn ?? maxLsn(before?.receiveLsn, before?.replayLsn, after.flushLsn);
  const entry: HistoryEntry = {
    timeline: oldTimeline,
    switchLsn: switchLsn === null ? 0 : lsnToJson(switchLsn),
    reason: reason === 'fast-failover' ? 'failover (fast)' : reason,
    time: new Date(ctx.clock.wallMs()).toISOString(),
    newLeader: ctx.name,
  };
  const current = view?.history ?? null;
  const entries = [...(current?.entries ?? []).filter((h) => h.timeline !== oldTimeline), entry];
  try {
    // a malformed history (another tool's) is replaced: its entries cannot be read anyway
    await store.casHistory(entries, keyRevision(view, 'history'));
  } catch (e) {
    // History is for people; a lost race here must not undo a promotion.
    ctx.log.warn({ err: errorText(e) }, 'could not append to history');
  }
}

/**
 * `pre_promote` (Patroni's fencing hook: STONITH of the old primary, a VIP check), once per run,
 * after etcd confirmed the key and before anything is written as the new leader. A failure
 * aborts the promotion and hands the key back at once (Patroni releases it too); the node then
 * stays out of elections for ttl and says so to its peers, so another member takes over.
 */
async function prePromote(ctx: ExecContext, run: RunState): Promise<void> {
  if (run.prePromoted) return;
  const outcome = await ctx.hooks.prePromote();
  if (outcome.ok) {
    run.prePromoted = true;
    return;
  }
  const why = `pre_promote failed: ${outcome.text}`;
  ctx.log.warn({ err: outcome.text }, 'pre_promote failed: not promoting, releasing the leader key');
  ctx.onPrePromoteFailed(why);
  await ctx.store.releaseLeader();
  run.keyConfirmed = false;
  ctx.onReleased();
  throw new HapgError('HOOK_FAILED', `${why}; released the leader key`);
}

/**
 * A stop we chose: `before_stop` first (bounded by its timeout), then the stop, then `on_stop`.
 * An immediate stop is a safety stop (the lease deadline, isolation): nothing delays it.
 */
async function stopPostgres(ctx: ExecContext, mode: 'fast' | 'immediate', role: CallbackRole): Promise<void> {
  if (mode !== 'immediate') await ctx.hooks.beforeStop();
  await ctx.pg.stop(mode);
  ctx.hooks.changed('stopped', role);
}

/** Stop accepting writes now. A later loop starts Postgres as a standby (rejoining through rewind). */
async function demote(ctx: ExecContext, mode: 'fast' | 'immediate'): Promise<void> {
  await stopPostgres(ctx, mode, 'primary');
  await ctx.fence.disarm();
  await ctx.pg.setWasPrimary(true);
}

/**
 * Switchover: after our clean stop, wait until the target (null: any member) has received
 * WAL up to our shutdown checkpoint, so that it promotes with every commit we acknowledged.
 * A fast shutdown already waits for connected walsenders; this confirms it from the target's
 * side. Bounded by retry_timeout: on timeout we release anyway and the election compares
 * positions (the most advanced member wins).
 */
async function awaitReplica(ctx: ExecContext, member: MemberName | null): Promise<void> {
  if ((await targetHasAllWal(ctx, member)) && member !== null && ctx.syncMode !== 'off')
    await handOverSyncKey(ctx, member);
}

/**
 * Synchronous mode, switchover: the target holds every commit we ever acknowledged (it
 * confirmed our shutdown checkpoint), so the key may name it alone — which lets it pass the
 * quorum proof without seeing anyone. Best effort: without it the target needs the proof.
 */
async function handOverSyncKey(ctx: ExecContext, member: MemberName): Promise<void> {
  try {
    await writeSyncKeyAsLeader(ctx, [member]);
    ctx.log.info({ syncStandbys: [member] }, 'sync key handed over to the switchover target');
  } catch (e) {
    ctx.log.warn({ member, err: errorText(e) }, 'could not hand the sync key over');
  }
}

/** Whether `member` (null: any member) holds all our WAL after our clean stop. */
async function targetHasAllWal(ctx: ExecContext, member: MemberName | null): Promise<boolean> {
  // A fast shutdown returns only after every connected walsender saw its standby confirm the
  // flush of all WAL, shutdown checkpoint included: a target that was streaming has it all.
  const streaming = ctx.streamingReplicas;
  if (member === null ? streaming.length > 0 : streaming.includes(member)) return true;
  const target = await ctx.pg.checkpointLsn();
  const members = [...(ctx.view?.members.values() ?? [])].filter(
    (m) => m.name !== ctx.name && (member === null || m.name === member),
  );
  const deadline = ctx.clock.monotonicMs() + ctx.retryTimeoutMs;
  for (;;) {
    const statuses = await Promise.all(members.map((m) => ctx.peers(m, 500)));
    if (statuses.some((p) => p.xlogLocation !== null && p.xlogLocation >= target)) return true;
    if (ctx.clock.monotonicMs() >= deadline) {
      ctx.log.warn(
        { member, checkpointLsn: formatLsn(target) },
        'switchover target did not confirm our last WAL in time',
      );
      return false;
    }
    await ctx.clock.sleep(50);
  }
}

async function startPostgres(
  ctx: ExecContext,
  run: RunState,
  as: 'primary' | 'replica',
  follow: MemberName | null,
): Promise<void> {
  const { pg } = ctx;
  if (as === 'primary') {
    assertKeyConfirmed(run, 'startPostgres as primary');
    beginLeadership(ctx);
  }
  const restart = pg.running();
  if (restart) {
    await ctx.hooks.beforeStop();
    await pg.stop('fast');
  }
  const target = follow === null ? null : upstreamTarget(ctx, follow);
  if (as === 'primary') assertLeaseAhead(ctx);
  try {
    await pg.start(as, target);
  } catch (e) {
    // A primary that cannot start counts as crashed, so primary_start_timeout bounds the retries.
    if (as === 'primary') pg.memory.crashedAtMs ??= ctx.clock.monotonicMs();
    throw e;
  }
  // The fence needs the postmaster's pid, known only now; the window is the start itself.
  if (as === 'primary') await ctx.fence.arm();
  pg.memory.following = follow;
  ctx.hooks.changed(restart ? 'restarted' : 'started', as);
}

/** A standby of `leader` after a clone or rewind: no longer a former primary. */
async function startReplica(ctx: ExecContext, leader: MemberName): Promise<void> {
  await ctx.pg.setWasPrimary(false);
  ctx.pg.memory.rejoinFailure = null;
  ctx.pg.memory.crashedAtMs = null;
  await ctx.pg.start('replica', upstreamTarget(ctx, leader));
  ctx.pg.memory.following = leader;
  ctx.hooks.changed('started', 'replica');
}

async function rejoin(ctx: ExecContext, leader: MemberName): Promise<void> {
  const { pg, log } = ctx;
  const target = followTarget(ctx, leader);
  // The CHECKPOINT pg_rewind needs on the source, run first: an unreachable leader is no
  // reason to give up on rewind (nor to wipe anything), so this attempt fails with Postgres
  // still running, and the next loop tries again.
  await pg.checkpointSource(target).catch((e) => {
    throw new HapgError('TIMEOUT', `leader ${leader} not reachable for pg_rewind: ${errorText(e)}`);
  });
  if (pg.running()) await stopPostgres(ctx, 'fast', 'replica');
  await ctx.fence.disarm();
  const started = ctx.clock.monotonicMs();
  const took = () => Math.round(ctx.clock.monotonicMs() - started);
  if (!ctx.rejoin.usePgRewind) {
    // Without pg_rewind a former primary may hold WAL the leader never had: re-clone.
    log.info({ leader }, 'use_pg_rewind is off: re-cloning the former primary');
    await reclone(ctx, leader);
    log.info({ leader, durationMs: took(), method: 'basebackup' }, 'rejoined');
    return;
  }
  try {
    const out = await pg.rewindFrom(target);
    log.info({ leader, durationMs: took(), method: 'pg_rewind', out: out.slice(-300) }, 'rejoined');
  } catch (e) {
    const why = `pg_rewind from ${leader} failed: ${errorText(e)}`;
    if (!ctx.rejoin.removeDataDirectoryOnRewindFailure) {
      // Nothing is deleted without the operator's consent: stay stopped and say why.
      pg.memory.rejoinFailure = `${why}; set postgresql.remove_data_directory_on_rewind_failure or run hactl reinit`;
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
  await startReplica(ctx, leader);
}

/** Wipe the data directory and clone it again from `leader`, then stream from it. */
async function reclone(ctx: ExecContext, leader: MemberName): Promise<void> {
  if (ctx.pg.running()) await stopPostgres(ctx, 'fast', 'replica');
  await ctx.pg.emptyDataDir();
  await createReplicaFrom(ctx, leader);
  await startReplica(ctx, leader);
}
