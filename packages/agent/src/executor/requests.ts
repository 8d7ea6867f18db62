import type { Action, MemberName } from '@hapg/core';

/**
 * The actions of a restart in place on request (REST, hactl, a schedule, `--pending`): a
 * primary restarts only after etcd confirms its key (`verifyLeader`), with its lease ahead,
 * and the fence armed with the *new* postmaster before the run ends (`startPostgres`); a
 * replica comes back following whom it followed. Run by the executor like any decision.
 */
export function restartInPlaceActions(o: {
  /** we hold the leader key and Postgres runs as a primary */
  readonly asPrimary: boolean;
  readonly following: MemberName | null;
}): Action[] {
  return o.asPrimary
    ? [{ kind: 'verifyLeader' }, { kind: 'startPostgres', as: 'primary', follow: null }]
    : [{ kind: 'startPostgres', as: 'replica', follow: o.following }];
}
