import {
  type ClusterView,
  type Decision,
  type MemberName,
  type PgObservation,
  walPosition,
  type PromoteReason,
} from '@hapg/core';
import type { NodeSnapshot } from '../api/snapshot.js';
import type { EventInput, EventJournal } from './journal.js';
import { type EventState, transitions } from './transitions.js';

/**
 * What the HA loop tells the event journal: the transitions between two published statuses
 * (role, leader, pause, synchronous standbys) and what it saw happen (a promotion, a rejoin, a
 * crash, the fence firing), each with where Postgres is. Without a journal, nothing.
 */
export class LoopEvents {
  readonly #journal: EventJournal | undefined;
  readonly #self: MemberName;
  /** what the last published status said, for the events between two of them */
  #state: EventState | null = null;
  /**
   * the last other member seen holding the leader key as a running primary (its member key
   * says so): a promotion's `old_leader` (the key is gone by then); a member that held the key
   * for a moment without promoting (a failed pre_promote) is not one
   */
  #lastOtherLeader: MemberName | null = null;

  constructor(journal: EventJournal | undefined, self: MemberName) {
    this.#journal = journal;
    this.#self = self;
  }

  /** A status was published: the transitions since the previous one. */
  published(s: NodeSnapshot, view: ClusterView | null, pg: PgObservation, decision: Decision | null): void {
    if (this.#journal === undefined || decision === null) return;
    const next: EventState = {
      role: s.role,
      leader: view?.leader?.name ?? null,
      paused: s.paused,
      syncStandbys: view?.sync?.syncStandbys ?? null,
      isLeader: s.holdsLeaderKey,
      timeline: pg.timeline,
      lsn: walPosition(pg),
      reason: { code: decision.reason.code, text: decision.reason.text },
    };
    for (const e of transitions(this.#state, next)) this.#journal.emit(e);
    this.#state = next;
    const leader = next.leader === null ? undefined : view?.members.get(next.leader);
    if (
      leader !== undefined &&
      leader.name !== this.#self &&
      (leader.role === 'primary' || leader.role === 'master')
    )
      this.#lastOtherLeader = leader.name;
  }

  /** An event the loop saw happen, with where Postgres is now (`pg`: the last probe). */
  report(e: Omit<EventInput, 'timeline' | 'lsn'>, pg: PgObservation | null): void {
    this.#journal?.emit({ ...e, timeline: pg?.timeline ?? null, lsn: pg === null ? null : walPosition(pg) });
  }

  /** We promoted: a failover or switchover away from the last other leader seen. */
  promoted(reason: PromoteReason, pg: PgObservation | null): void {
    this.report(
      {
        type: reason === 'switchover' ? 'switchover' : 'failover',
        oldRole: 'replica',
        newRole: 'primary',
        oldLeader: this.#lastOtherLeader,
        newLeader: this.#self,
        reason: { code: reason.replace('-', '_').toUpperCase(), text: `promoted (${reason})` },
      },
      pg,
    );
  }

  /** We rejoined `leader` as a replica (rewound or not). */
  rejoined(leader: MemberName | null, reasonCode: string, pg: PgObservation | null): void {
    this.report(
      {
        type: 'rejoin',
        oldRole: 'demoted',
        newRole: 'replica',
        newLeader: leader,
        reason: { code: reasonCode, text: `rejoined ${leader ?? 'the leader'} as a replica` },
      },
      pg,
    );
  }

  /**
   * Postgres exited when nobody asked it to. `fenced`: it was a primary whose deadline (lease,
   * or failsafe) had passed, so the fence stopped it; otherwise it crashed.
   */
  postgresExited(
    exit: { readonly signal: string | null; readonly code: number | null },
    fenced: boolean,
    pg: PgObservation | null,
  ): void {
    this.report(
      {
        type: fenced ? 'fence_fired' : 'postgres_crash',
        oldRole: pg?.inRecovery === false ? 'primary' : 'replica',
        newRole: null,
        reason: {
          code: fenced ? 'LEASE_DEADLINE_PASSED' : 'POSTGRES_CRASHED',
          text: fenced
            ? 'the fence stopped Postgres: its deadline (the lease, or in failsafe mode the failsafe deadline) passed'
            : `Postgres exited unexpectedly (${exit.signal ?? `code ${exit.code}`})`,
        },
      },
      pg,
    );
  }
}
