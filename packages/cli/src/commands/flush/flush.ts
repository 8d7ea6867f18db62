import { errorText, isHapgError, keyRevision } from '@hapg/core';
import type { ActionDeps } from '../../actions/deps.js';
import { failedMessage, forEachMember } from '../../actions/each-member.js';
import { healthyLeader } from '../../actions/members.js';
import { reportOutcomes } from '../../actions/report.js';
import { chooseMembers } from '../../actions/targets.js';
import { ApiUnreachableError } from '../../api/member-api.js';
import { CliError } from '../../errors.js';
import { renderData } from '../../output/index.js';

/**
 * Cancels a scheduled switchover, or clears a malformed failover key:
 * `DELETE /switchover` on the leader; when there is no running leader or it
 * does not answer, the failover key is deleted with CAS.
 */
export async function flushSwitchover(deps: ActionDeps): Promise<number> {
  const view = await deps.store.readView();
  const leader = healthyLeader(view);
  let done = false;
  if (leader !== null) {
    try {
      const reply = await deps.api.request(leader.apiUrl, 'DELETE', '/switchover');
      if (reply.status === 404) throw new CliError('no scheduled switchover to cancel');
      if (reply.status !== 200)
        throw new CliError(`cancelling the switchover ${failedMessage(reply)} on ${leader.name}`);
      done = true;
    } catch (e) {
      if (!(e instanceof ApiUnreachableError)) throw e;
      deps.io.err(
        `hactl: ${leader.name}'s API does not answer (${e.message}): deleting the failover key instead\n`,
      );
    }
  }
  if (!done) {
    // a malformed key blocks every switchover: clearing it is what `flush --switchover` is for
    const revision = keyRevision(view, 'failover');
    if (revision === null) throw new CliError('no scheduled switchover to cancel');
    try {
      await deps.store.deleteFailover(revision);
    } catch (e) {
      if (isHapgError(e, 'DCS_CAS_CONFLICT'))
        throw new CliError('the failover key changed meanwhile: see hactl list');
      throw new CliError(`could not delete the failover key: ${errorText(e)}`, { cause: e });
    }
  }
  deps.io.out(
    deps.format === 'table'
      ? 'scheduled switchover cancelled\n'
      : renderData(deps.format, { result: 'cancelled' }),
  );
  return 0;
}

/** `DELETE /restart` on each named member (all when none is named). */
export async function flushRestart(deps: ActionDeps, names: readonly string[]): Promise<number> {
  const view = await deps.store.readView();
  const outcomes = await forEachMember(
    deps,
    chooseMembers(view, names),
    { method: 'DELETE', path: '/restart' },
    (r) => {
      if (r.status === 200) return { ok: true, message: 'scheduled restart cancelled' };
      if (r.status === 404) return { ok: true, message: 'no scheduled restart' };
      return { ok: false, message: failedMessage(r) };
    },
  );
  return reportOutcomes(deps, outcomes);
}
