import { cloneSourceOf, upstreamOf } from '../cluster/upstream.js';
import { switchoverAdmission } from '../cluster/switchover.js';
import { parseZonedTimeMs } from '../schedule.js';
import { formatLsn, maxLsn, toLsn } from '../lsn.js';
import { type ClusterView, keyRevision, type MemberName } from '../types.js';
import {
  type Candidate,
  compareCandidates,
  isEligible,
  peerCandidate,
  quorumProof,
  targetCannotProve,
  selfCandidate,
} from './candidates.js';
import { cannotConnect } from './cannot-connect.js';
import { fastTakeover, releaseBinding, streamReleaseStep } from './fast-failover.js';
import { type InvalidLeader, invalidLeader } from './leader-key.js';
import {
  classifyLease,
  deadlinePassed,
  isIsolated,
  isRunningPrimary,
  isRunningReplica,
  namesUsUnderOurLease,
  onFailsafeDeadline,
} from './lease.js';
import type { Action, DecidedRole, Decision, Observation, ReasonCode } from './types.js';

function decision(role: DecidedRole, actions: readonly Action[], code: ReasonCode, text: string): Decision {
  return { role, actions, reason: { code, text } };
}

/**
 * The HA decision: pure, total, no I/O, no clock, no randomness. The ladder below is
 * ordered by precedence: safety demotions first (they hold even in pause), then
 * report-only states, then the holder, the follower and the election cases.
 */
export function decide(obs: Observation, nowMs: number): Decision {
  const d = decideOnce(obs, nowMs);
  return releaseVoid(obs) ? { ...d, actions: [{ kind: 'dropRelease' }, ...d.actions] } : d;
}

/**
 * A stream release of ours (quorum fast failover) for a leader key the view shows moved past:
 * nothing can count it any more, so whatever else is decided, it is forgotten first (the
 * action never fails).
 */
function releaseVoid(obs: Observation): boolean {
  const rel = obs.self.streamRelease ?? null;
  const view = obs.dcs.view;
  return rel !== null && view !== null && obs.dcs.reachable && releaseBinding(view, rel) === 'void';
}

function decideOnce(obs: Observation, nowMs: number): Decision {
  const { pg, dcs, config } = obs;
  const view = dcs.view;

  const safety = safetyDemotion(obs, nowMs);
  if (safety !== null) return safety;
  if (systemIdMismatch(obs)) {
    return decision(
      'stopped',
      [],
      'SYSTEM_ID_MISMATCH',
      `data directory system id ${pg.systemId} differs from the cluster's ${view?.initialize}`,
    );
  }
  // Before pause: its safety rules hold in pause, and "paused" would hide why nothing works.
  if (pg.connectFailure?.kind === 'rejected') return cannotConnect(obs, pg.connectFailure, nowMs);
  if (config.pause) return paused(obs, nowMs);
  if (pg.rejoinFailure !== null) return decision('stopped', [], 'REJOIN_FAILED', pg.rejoinFailure);
  if (view === null || !dcs.reachable) return dcsUnavailable(obs, nowMs);
  if (pg.dataDir === 'empty') return emptyDataDir(obs, view);
  if (pg.process === 'starting' || pg.process === 'stopping') {
    const last = pg.connectFailure ? ` (last connection attempt: ${pg.connectFailure.text})` : '';
    return decision(currentRole(obs), [], 'POSTGRES_STARTING', `waiting: Postgres is ${pg.process}${last}`);
  }

  const lease = classifyLease(obs, nowMs);
  if (lease === 'held') return asHolder(obs, view, nowMs);
  if (lease !== 'not-held') {
    // We are not a running primary here (checked above); never promote on a doubtful lease.
    const code = lease === 'isolated' ? 'ISOLATED' : 'LEASE_DEADLINE_PASSED';
    return decision(currentRole(obs), [], code, `not promoting: our leader lease is ${lease}`);
  }
  const behind = viewBehindOwnWrite(obs, view);
  if (behind !== null) return behind;
  const invalid = invalidLeader(obs, nowMs);
  if (invalid !== null) return withInvalidLeader(obs, invalid);
  const leader = view.leader;
  if (leader !== null && leader.name === obs.self.name) return ownKeyOtherLease(obs);
  if (leader !== null) return withOtherLeader(obs, view, leader.name, nowMs);
  return withoutLeader(obs, view, nowMs);
}

/**
 * Rule 2, the decisions that stop a running primary whatever else holds (pause included):
 * the lease deadline passed, or renewals are failing and no standby is provably streaming.
 * The top of `decide()`, and also what the agent's safety guard evaluates between loop
 * iterations — an iteration stuck on a hung etcd call must not delay these.
 */
export function safetyDemotion(obs: Observation, nowMs: number): Decision | null {
  if (!isRunningPrimary(obs.pg)) return null;
  const why = obs.config.pause ? ' (pause does not suspend this safety rule)' : '';
  const refused = obs.dcs.failsafeRefused ?? null;
  if (refused !== null) return demoteNow('FAILSAFE_REFUSED', `demoting: ${refused}${why}`);
  if (deadlinePassed(obs.dcs, nowMs)) {
    if (obs.dcs.failsafeDeadlineMs != null)
      return demoteNow(
        'FAILSAFE_DEADLINE_PASSED',
        `demoting: the lease and failsafe deadlines passed (a failsafe member stopped answering)${why}`,
      );
    return demoteNow('LEASE_DEADLINE_PASSED', `demoting: the leader lease deadline passed${why}`);
  }
  if (isIsolated(obs, nowMs))
    return demoteNow('ISOLATED', `demoting: renewals failing and no replica streaming from us${why}`);
  return null;
}

/** Stop writes at once; the next loop rejoins through rewind (rule 5), so follow nobody yet. */
function demoteNow(code: ReasonCode, text: string): Decision {
  return decision('demoted', [{ kind: 'demote', mode: 'immediate', follow: null }], code, text);
}

function systemIdMismatch(obs: Observation): boolean {
  const expected = obs.dcs.view?.initialize ?? null;
  const actual = obs.pg.systemId;
  // '' means the bootstrap race is still on: nothing to compare against yet.
  return obs.pg.dataDir === 'initialized' && !!expected && actual !== null && actual !== expected;
}

/** What Postgres currently is, for report-only decisions. */
function currentRole(obs: Observation): DecidedRole {
  if (obs.pg.dataDir === 'empty') return 'uninitialized';
  if (isRunningPrimary(obs.pg)) return 'primary';
  if (isRunningReplica(obs.pg)) return 'replica';
  return 'stopped';
}

/**
 * Maintenance mode: report only — except that a running primary keeps its own key: a key with
 * our name under an older lease (the agent restarted) is rebound to our lease, as outside
 * pause. Without this the key expired with the old process's lease and the primary ran on
 * without it until the pause ended (simulator, `syncTransitions`). A key that is already gone
 * is not re-acquired in pause (Patroni's pause does take it): in failsafe mode such a primary
 * runs on its failsafe deadline and stops there (docs/failsafe.md P7), and outside it the
 * first loop after `resume` re-acquires it.
 *
 * And a running primary whose key another member validly holds demotes, pause or not (Patroni
 * only warns): a fast failover may have deposed it just before the pause began, and it must
 * not go on accepting writes beside the new primary (docs/fast-failover.md, review item 3).
 */
function paused(obs: Observation, nowMs: number): Decision {
  const leader = obs.dcs.view?.leader ?? null;
  const view = obs.dcs.view;
  if (isRunningPrimary(obs.pg) && obs.dcs.reachable && view !== null && leader !== null) {
    if (leader.name === obs.self.name && !namesUsUnderOurLease(obs)) return ownKeyOtherLease(obs);
    // (a view older than our own takeover shows the leader we deposed: not a reason)
    if (
      leader.name !== obs.self.name &&
      viewBehindOwnWrite(obs, view) === null &&
      invalidLeader(obs, nowMs) === null
    )
      return demoteForOtherLeader(leader.name, ' (pause does not suspend this)');
  }
  // a stream release serves no takeover in pause (the fast path is never taken): take it back
  const release = view !== null && obs.dcs.reachable && leader !== null ? streamReleaseStep(obs) : null;
  if (release?.reason.code === 'STREAM_WITHDRAWING') return release;
  return decision(currentRole(obs), [], 'PAUSED', 'maintenance mode: reporting only, no automatic action');
}

function dcsUnavailable(obs: Observation, nowMs: number): Decision {
  if (isRunningPrimary(obs.pg) && onFailsafeDeadline(obs.dcs, nowMs)) {
    const leftMs = (obs.dcs.failsafeDeadlineMs ?? nowMs) - nowMs;
    return decision(
      'primary',
      [],
      'FAILSAFE_ACTIVE',
      `etcd unreachable: every failsafe member answered, serving for ${leftMs} ms unless the next round completes`,
    );
  }
  const text = isRunningPrimary(obs.pg)
    ? 'etcd unreachable: serving until the lease deadline'
    : 'etcd unreachable: keeping the current state';
  return decision(currentRole(obs), [], 'DCS_UNAVAILABLE', text);
}

function emptyDataDir(obs: Observation, view: ClusterView): Decision {
  const { self } = obs;
  if (view.initialize === null) {
    if (self.nofailover || self.failoverPriority <= 0) {
      return decision('uninitialized', [], 'WAITING_FOR_INITIALIZE', 'not bootstrapping: tagged nofailover');
    }
    if (self.watchdogFailure) {
      return decision(
        'uninitialized',
        [],
        'WAITING_FOR_INITIALIZE',
        `not bootstrapping: ${self.watchdogFailure}`,
      );
    }
    return decision(
      'uninitialized',
      [{ kind: 'bootstrap' }],
      'BOOTSTRAPPING',
      'no cluster yet: bootstrapping',
    );
  }
  const leader = view.leader?.name ?? null;
  if (leader !== null && leader !== self.name && memberRunning(view, leader)) {
    const from = cloneSourceOf(view, self.name, leader);
    const upstream = upstreamOf(view, self.name, leader);
    const text =
      from === leader
        ? `cloning from leader ${leader}`
        : `cloning from ${from} (clonefrom), leader ${leader}`;
    // a fresh copy streams again: a stream release we hold on this key is taken back first
    const rel = self.streamRelease ?? null;
    const withdraw: Action[] =
      rel !== null && releaseBinding(view, rel) === 'current'
        ? [{ kind: 'withdrawRelease', leader: rel.leader, leaderRevision: rel.leaderRevision }]
        : [];
    return decision(
      'replica',
      [...withdraw, { kind: 'clone', leader: upstream, ...(from === leader ? {} : { from }) }],
      'CLONING',
      text,
    );
  }
  return decision(
    'uninitialized',
    [],
    'WAITING_FOR_LEADER_TO_CLONE',
    'waiting for a running leader to clone from',
  );
}

function memberRunning(view: ClusterView, name: MemberName): boolean {
  return view.members.get(name)?.state === 'running';
}

/** We hold the key under our lease and the deadline is ahead. */
function asHolder(obs: Observation, view: ClusterView, nowMs: number): Decision {
  const { pg, self, config } = obs;
  // Patroni's enforce_primary_role: a required watchdog that cannot be used (it failed to open
  // when the fence armed) makes a primary demote at once and hand the key back; a holder not
  // yet writable releases it without promoting. The watchdog failure also keeps it out of the
  // next election (isEligible), so the key goes to another member.
  if (self.watchdogFailure) {
    if (isRunningPrimary(pg)) {
      return decision(
        'demoted',
        [{ kind: 'demote', mode: 'immediate', follow: null }, { kind: 'releaseLeader' }],
        'WATCHDOG_UNAVAILABLE',
        `demoting and releasing the leader key: ${self.watchdogFailure}`,
      );
    }
    return decision(
      currentRole(obs),
      [{ kind: 'releaseLeader' }],
      'WATCHDOG_UNAVAILABLE',
      `not promoting, releasing the leader key: ${self.watchdogFailure}`,
    );
  }
  const switchover = switchoverAway(obs, view);
  if (isRunningPrimary(pg)) {
    if (switchover !== null) {
      // Order matters: Postgres stops accepting writes *before* the key is released,
      // so the target can never be promoted while we still acknowledge commits.
      // CHECKPOINT while serving keeps the shutdown checkpoint (and so the write gap) short;
      // a fast shutdown sends all WAL to connected standbys; we wait until the target has it.
      return decision(
        'demoted',
        [
          { kind: 'checkpoint' },
          { kind: 'demote', mode: 'fast', follow: null },
          { kind: 'awaitReplica', member: switchover.member },
          { kind: 'releaseLeader' },
        ],
        'SWITCHOVER_DEMOTING',
        `switchover to ${switchover.label}: demoting, then releasing the leader key`,
      );
    }
    if (staleFailover(obs, view)) {
      return decision(
        'primary',
        [{ kind: 'clearFailover' }],
        'CLEARING_STALE_FAILOVER',
        'clearing a stale failover key',
      );
    }
    return decision('primary', [], 'HOLDING_LEASE', 'holding the leader lease');
  }
  if (switchover !== null) {
    return decision(
      'demoted',
      [{ kind: 'releaseLeader' }],
      'SWITCHOVER_RELEASING',
      `switchover to ${switchover.label}: releasing`,
    );
  }
  // `crashedAtMs`: since when we hold the key without a running primary — crashed, failing to
  // start, or a promotion that keeps failing (the chaos run found a full disk failing every
  // promotion while the holder kept the key: no primary for minutes). Release only when
  // another member could take over; otherwise restarting in place is the only way back (the
  // simulator found a cluster left leaderless: a crash during pause aged past the timeout,
  // and every replica was too far behind to be eligible).
  const hold = self.failsafeHold ?? null;
  if (hold !== null) {
    // M3: a promise to a primary cut off from etcd outranks our key: hand it back unpromoted
    return decision(
      currentRole(obs),
      [{ kind: 'releaseLeader' }],
      hold.code,
      `releasing the leader key: ${hold.text}`,
    );
  }
  const timedOut = pg.crashedAtMs !== null && nowMs - pg.crashedAtMs >= config.primaryStartTimeoutMs;
  if (timedOut && failoverPossible(obs, view)) {
    return decision(
      'stopped',
      [{ kind: 'releaseLeader' }],
      'PRIMARY_START_TIMEOUT',
      `Postgres down for ${nowMs - pg.crashedAtMs} ms (primary_start_timeout ${config.primaryStartTimeoutMs}): releasing the leader key`,
    );
  }
  if (isRunningReplica(pg)) {
    return decision(
      'primary',
      [{ kind: 'verifyLeader' }, ...promoteActions(obs, view)],
      'PROMOTING_HELD_LEASE',
      'holding the leader key: promoting',
    );
  }
  if (!pg.wasPrimary && pg.dataDir === 'initialized') {
    // A standby's data directory (its promotion failed, or it died right after taking the key):
    // started as a primary it would skip the promotion and write on the timeline the old primary
    // wrote on — two histories under one timeline, which no rejoin can tell apart (found by the
    // chaos run: a promotion crashed, the restart went on timeline 27, no replica could stream).
    // Start it as a standby; the next loop promotes it onto a new timeline.
    return decision(
      'primary',
      [{ kind: 'verifyLeader' }, { kind: 'startPostgres', as: 'replica', follow: null }],
      'STARTING_STANDBY_TO_PROMOTE',
      'holding the leader key over a standby data directory: starting it as a standby to promote it',
    );
  }
  return decision(
    'primary',
    [{ kind: 'verifyLeader' }, { kind: 'startPostgres', as: 'primary', follow: null }],
    'RESTARTING_CRASHED_PRIMARY',
    timedOut
      ? `${self.name} holds the leader key and no other member could take over: restarting Postgres in place`
      : `${self.name} holds the leader key: restarting Postgres in place`,
  );
}

/** Some other member's etcd record makes it eligible to take the key (as a switchover to "any"). */
function failoverPossible(obs: Observation, view: ClusterView): boolean {
  return switchoverAdmission(view, obs.config, { leader: obs.self.name, candidate: null, when: 'now' })
    .admitted;
}

/**
 * A switchover away from us that is due: its target (null: any eligible member) and a label
 * for reasons; null when there is none, it is not due yet, or nobody could take over.
 */
function switchoverAway(
  obs: Observation,
  view: ClusterView,
): { member: MemberName | null; label: string } | null {
  const f = view.failover;
  if (f === null || f.leader !== obs.self.name || f.member === obs.self.name) return null;
  if (!isDue(f.scheduledAt, obs.wallNowMs)) return null;
  // Only hand over to a member that could take the key: otherwise we would release it, win
  // the election again and loop (the simulator found that livelock, one timeline per round).
  // The REST API and hactl admit requests by the same rule.
  const admission = switchoverAdmission(view, obs.config, {
    leader: obs.self.name,
    candidate: f.member,
    when: 'now',
  });
  if (!admission.admitted) return null;
  return f.member === null
    ? { member: null, label: 'the healthiest member' }
    : { member: f.member, label: f.member };
}

/** A scheduled time is due once the wall clock reaches it; unparsable or unknown wall time: never. */
function isDue(scheduledAt: string | null, wallNowMs: number | undefined): boolean {
  if (scheduledAt === null) return true;
  const at = parseZonedTimeMs(scheduledAt);
  return wallNowMs !== undefined && at !== null && wallNowMs >= at;
}

/** Names another leader, or names us as the target though we already lead. */
function staleFailover(obs: Observation, view: ClusterView): boolean {
  const f = view.failover;
  if (f === null) return false;
  if (f.leader === obs.self.name && f.scheduledAt !== null && !isDue(f.scheduledAt, obs.wallNowMs))
    return false;
  return (f.leader !== null && f.leader !== obs.self.name) || f.member === obs.self.name;
}

function promoteActions(obs: Observation, view: ClusterView): Action[] {
  const leftover = keyRevision(view, 'sync') !== null;
  const claim: Action[] =
    obs.config.synchronousMode !== 'off'
      ? [{ kind: 'claimSyncKey' }]
      : leftover
        ? [{ kind: 'dropSyncKey' }]
        : [];
  const f = view.failover;
  if (f !== null && f.member === obs.self.name) {
    const reason = f.leader !== null ? 'switchover' : 'manual';
    return [...claim, { kind: 'promote', reason }, { kind: 'clearFailover' }];
  }
  return [...claim, { kind: 'promote', reason: 'failover' }];
}

/**
 * Our view predates our own last write of the leader key (a stalled or slow watch): what it
 * shows of the key is from before we took it. After a fast takeover it still shows the old
 * leader's key, and acting on it demoted the new primary, which then rewound away commits it
 * had acknowledged (simulator, fast failover). Wait for the view; the lease deadline and the
 * fence bound us meanwhile, as with any view that lags.
 */
function viewBehindOwnWrite(obs: Observation, view: ClusterView): Decision | null {
  const own = obs.dcs.ownLeaderWriteRevision ?? null;
  if (own === null || BigInt(view.revision) >= BigInt(own)) return null;
  return decision(
    currentRole(obs),
    [],
    'VIEW_BEHIND_OWN_WRITE',
    `our view (etcd revision ${view.revision}) predates our own leader key write at revision ${own}: waiting for it`,
  );
}

/** Another member holds the leader key (rule 1): stop writes. */
function demoteForOtherLeader(leader: MemberName, why: string): Decision {
  return decision(
    'demoted',
    [{ kind: 'demote', mode: 'fast', follow: null }],
    'ANOTHER_LEADER',
    `${leader} holds the leader key: demoting${why}`,
  );
}

/** The key carries our name under an older lease (we restarted). */
function ownKeyOtherLease(obs: Observation): Decision {
  if (isRunningPrimary(obs.pg)) {
    return decision(
      'primary',
      [{ kind: 'acquireLeader' }],
      'LEADER_KEY_OTHER_LEASE',
      'rebinding our leader key',
    );
  }
  return decision(
    currentRole(obs),
    [],
    'LEADER_KEY_OTHER_LEASE',
    'the leader key has our name under an old lease: waiting for it to expire',
  );
}

/**
 * A leader key no real leader holds (leader-key.ts) is no leader: nobody follows it, and once
 * it has stood for ttl every agent deletes it by CAS; the election then runs as usual.
 */
function withInvalidLeader(obs: Observation, invalid: InvalidLeader): Decision {
  const remove: Action[] = invalid.removable
    ? [{ kind: 'removeLeaderKey', modRevision: invalid.record.modRevision, member: invalid.member }]
    : [];
  if (isRunningPrimary(obs.pg)) {
    // we do not hold the key (rule 1): stop writes now, as under any other leader's key
    const actions: Action[] = [{ kind: 'demote', mode: 'fast', follow: null }, ...remove];
    return decision('demoted', actions, 'LEADER_KEY_INVALID', `${invalid.text}; demoting`);
  }
  return decision(currentRole(obs), remove, 'LEADER_KEY_INVALID', invalid.text);
}

function withOtherLeader(obs: Observation, view: ClusterView, leader: MemberName, nowMs: number): Decision {
  const { pg } = obs;
  if (isRunningPrimary(pg)) return demoteForOtherLeader(leader, '');
  // Following a leader on an older timeline than ours would replay a history we have already
  // left; refuse and say why (Patroni's check_timeline guards the election the same way).
  const leaderTimeline = view.members.get(leader)?.timeline ?? null;
  if (leaderTimeline !== null && pg.timeline !== null && leaderTimeline < pg.timeline && !pg.wasPrimary) {
    return decision(
      currentRole(obs),
      [],
      'LEADER_ON_OLDER_TIMELINE',
      `not following ${leader}: its timeline ${leaderTimeline} is older than ours (${pg.timeline})`,
    );
  }
  if (pg.wasPrimary) {
    if (!memberRunning(view, leader)) {
      return decision(currentRole(obs), [], 'WAITING', `former primary: waiting for leader ${leader} to run`);
    }
    return decision(
      'replica',
      [{ kind: 'rejoin', leader }],
      'REJOINING',
      `former primary: rejoining ${leader}`,
    );
  }
  const fast = fastTakeover(obs);
  if (fast !== null) return fast;
  const release = streamReleaseStep(obs);
  if (release !== null) return release;
  const forked = pastForkPoint(obs, view, leader, nowMs);
  if (forked !== null) return decision('replica', [{ kind: 'rejoin', leader }], 'REJOINING', forked);
  // cascading: a replica streams from its `replicatefrom` member while that one can feed it
  const upstream = upstreamOf(view, obs.self.name, leader);
  const whom = upstream === leader ? `leader ${leader}` : `${upstream} (replicatefrom; leader ${leader})`;
  if (isRunningReplica(pg)) {
    if (pg.following !== upstream) {
      const text = upstream === leader ? `following new leader ${leader}` : `following ${whom}`;
      return decision('replica', [{ kind: 'followLeader', leader: upstream }], 'REPOINTING', text);
    }
    return decision('replica', [], 'FOLLOWING', `following ${whom}`);
  }
  return decision(
    'replica',
    [{ kind: 'startPostgres', as: 'replica', follow: upstream }],
    'STARTING_REPLICA',
    `starting Postgres as a standby of ${whom}`,
  );
}

/**
 * A replica (never a primary) that received WAL of its timeline past the point where the
 * leader's history left that timeline can never stream from it (Postgres logs "new timeline
 * forked off current database system timeline before current recovery point" and waits
 * forever). It happens when an asynchronous replica got WAL from the old primary that the
 * promoted member never received — in synchronous mode a routine case, since the promoted
 * sync standby need not be the furthest. When our timeline is the one our WAL receiver
 * received (`timelineExact`), the comparison is exact and we rejoin at once: strict mode
 * blocks every write until such a standby is back (chaos, seed 107: 15.3 s to the first write
 * after a 1.3 s fast failover, of which 11 s were this wait). Otherwise only after it failed
 * to stream for ttl + loop_wait while the leader's key stayed: pg_control's timeline lags a
 * timeline switch until the next restartpoint, so a replica of a leader that just died looks
 * the same (the chaos run showed it) until the leader key expires, which re-points it.
 * pg_rewind itself decides precisely; a needless one only costs a restart.
 */
function pastForkPoint(
  obs: Observation,
  view: ClusterView,
  leader: MemberName,
  nowMs: number,
): string | null {
  const { pg, config } = obs;
  if (!isRunningReplica(pg) || pg.streaming || pg.following !== leader || !memberRunning(view, leader))
    return null;
  const since = pg.notStreamingSinceMs ?? null;
  const waitMs = pg.timelineExact === true ? 0 : config.ttlMs + config.loopWaitMs;
  if (since === null || nowMs - since < waitMs) return null;
  const lsn = maxLsn(pg.receiveLsn, pg.replayLsn);
  const leaderTimeline = view.members.get(leader)?.timeline ?? null;
  if (lsn === null || pg.timeline === null || leaderTimeline === null || leaderTimeline <= pg.timeline)
    return null;
  const entry = view.history?.entries.find((e) => e.timeline === pg.timeline);
  if (entry === undefined || lsn <= toLsn(entry.switchLsn)) return null;
  return `not streaming: our WAL ${formatLsn(lsn)} on timeline ${pg.timeline} is past ${leader}'s fork point ${formatLsn(toLsn(entry.switchLsn))}: rejoining through pg_rewind`;
}

function withoutLeader(obs: Observation, view: ClusterView, nowMs: number): Decision {
  const { pg, self, config } = obs;
  if (isRunningPrimary(pg)) {
    return decision(
      'primary',
      [{ kind: 'acquireLeader' }],
      'NO_LEADER_REACQUIRING',
      'no leader key: re-acquiring it',
    );
  }
  if (!isRunningReplica(pg)) {
    // Start read-only (following nobody) so our WAL position can be compared.
    return decision(
      'replica',
      [{ kind: 'startPostgres', as: 'replica', follow: null }],
      'POSTGRES_NOT_RUNNING',
      'no leader and Postgres is not running: starting it as a standby',
    );
  }
  const peers = [...(obs.peers?.values() ?? [])].filter((p) => p.name !== self.name);
  const runningPrimary = peers.find((p) => p.reachable && p.state === 'running' && p.role === 'primary');
  if (runningPrimary !== undefined) {
    return decision(
      'candidate',
      [],
      'NO_LEADER_NOT_HEALTHIEST',
      `${runningPrimary.name} still runs as primary and will re-acquire the key`,
    );
  }
  const hold = self.failsafeHold ?? null;
  if (hold !== null) return decision('candidate', [], hold.code, hold.text);
  const me = selfCandidate(obs);
  const mine = isEligible(me, config, view);
  const eligiblePeers = peers.map(peerCandidate).filter((c) => isEligible(c, config, view).eligible);
  // Right after handing the key over we do not compete with a successor that is level with
  // us (a clean switchover leaves us level, and a tie must not go back to us). Bounded by
  // ttl: peers' views of each other can disagree, and the simulator found clusters left
  // leaderless when every candidate deferred to another.
  const levelPeer = eligiblePeers.some((c) => c.lsn !== null && me.lsn !== null && c.lsn >= me.lsn);
  const released = obs.dcs.releasedLeaderAtMs ?? null;
  const handingOver = released !== null && nowMs - released < config.ttlMs;
  if (view.failover?.leader === self.name && levelPeer && handingOver) {
    return decision('candidate', [], 'SWITCHOVER_AWAY', 'we handed the leader key over: not competing');
  }
  // A leader's member key is what tells the others its key is real (leader-key.ts): publish it
  // before taking the key. Only an agent's first loop has none yet; the next one has.
  if (view.members.get(self.name)?.leaseId == null) {
    return decision('candidate', [], 'WAITING', 'not taking over before our member key is published');
  }
  const target = view.failover?.member ?? null;
  if (target === self.name) {
    if (!mine.eligible) return decision('candidate', [], mine.code, `failover target, but ${mine.text}`);
    // Even for a switchover: the request names its leader before that leader handed over
    // cleanly (it may have been cut off instead — the simulator found that loss). A clean
    // handover rewrites the key to list just us, which makes the proof trivial.
    const proof = quorumProof(obs, view, me);
    if (proof !== null) return decision('candidate', [], proof.code, `failover target, but ${proof.text}`);
    return decision(
      'primary',
      [{ kind: 'acquireLeader' }, ...promoteActions(obs, view)],
      'NO_LEADER_FAILOVER_TARGET',
      'the failover key names us: taking over',
    );
  }
  const targetPeer = target === null ? undefined : eligiblePeers.find((c) => c.name === target);
  if (targetPeer !== undefined && !targetCannotProve(obs, view, targetPeer, me)) {
    return decision(
      'candidate',
      [],
      'FAILOVER_TARGET_ELSEWHERE',
      `the failover key names ${target}: not competing`,
    );
  }
  if (!mine.eligible) return decision('candidate', [], mine.code, mine.text);
  const better = eligiblePeers.find((c) => ranksAbove(c, me));
  if (better !== undefined) {
    return decision('candidate', [], 'NO_LEADER_NOT_HEALTHIEST', `${better.name} is ahead of us`);
  }
  const proof = quorumProof(obs, view, me);
  if (proof !== null) return decision('candidate', [], proof.code, proof.text);
  return decision(
    'primary',
    // A failover key still present names a member that did not take over: consume it, or
    // as the new leader we would act on a stale request.
    [{ kind: 'acquireLeader' }, ...promoteActions(obs, view), ...clearAnyFailover(view)],
    'NO_LEADER_TAKING_OVER',
    'no leader and we are the healthiest eligible member: taking over',
  );
}

function clearAnyFailover(view: ClusterView): Action[] {
  return view.failover === null ? [] : [{ kind: 'clearFailover' }];
}

function ranksAbove(a: Candidate, b: Candidate): boolean {
  return compareCandidates(a, b) < 0;
}
