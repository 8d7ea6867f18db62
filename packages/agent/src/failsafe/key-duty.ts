import { type ClusterView, errorText, isHapgError, malformedKey, type MemberName } from '@hapg/core';
import type { EtcdStore } from '@hapg/dcs';
import type { Logger } from '../logger.js';
import type { FailsafeRounds } from './rounds.js';

/**
 * The leader's duty for the `failsafe` key (docs/failsafe.md K1, K2): with `failsafe_mode` on
 * it names every member whose key is bound to a lease and has an `api_url`, and us; with it off
 * the key goes. Writes are guarded by our leader key, and each outcome feeds FS (`rounds`):
 * a write that may have committed counts as written.
 */
export async function failsafeKeyDuty(
  deps: {
    readonly store: Pick<EtcdStore, 'writeFailsafe' | 'deleteFailsafe'>;
    readonly rounds: FailsafeRounds;
    readonly log: Logger;
  },
  input: {
    readonly view: ClusterView;
    readonly self: MemberName;
    readonly selfApiUrl: string;
    readonly failsafeMode: boolean;
  },
): Promise<void> {
  const { store, rounds, log } = deps;
  const current = input.view.failsafe ?? null;
  // the view is etcd's word at a revision where we hold the key, and only we write it: FS
  // starts from it (the previous leader's value, which our acquire compared, until we write)
  if (current !== null) rounds.keyAt(current.members, current.modRevision);
  if (!input.failsafeMode) {
    if (current === null && malformedKey(input.view, 'failsafe') === null) return;
    try {
      await store.deleteFailsafe();
      log.info({}, 'failsafe_mode is off: deleted the failsafe key');
    } catch (e) {
      log.warn({ err: errorText(e) }, 'could not delete the failsafe key');
    }
    return;
  }
  const wanted = failsafeMembers(input.view, input.self, input.selfApiUrl);
  if (current !== null && sameMembers(current.members, wanted)) return;
  try {
    rounds.keyAt(wanted, await store.writeFailsafe(wanted));
    log.info({ members: [...wanted.keys()] }, 'wrote the failsafe key');
  } catch (e) {
    // not the leader (the guard failed): nothing written; anything else may have committed
    if (!isHapgError(e, 'DCS_CAS_CONFLICT')) rounds.keyMaybeWritten(wanted);
    log.warn({ err: errorText(e) }, 'could not write the failsafe key');
  }
}

/** K1: every member with a lease-bound key and an `api_url` (nofailover ones too), and us. */
export function failsafeMembers(
  view: ClusterView,
  self: MemberName,
  selfApiUrl: string,
): Map<MemberName, string> {
  const out = new Map<MemberName, string>();
  for (const m of view.members.values()) {
    if (m.leaseId !== null && m.apiUrl) out.set(m.name, m.apiUrl);
  }
  out.set(self, selfApiUrl);
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function sameMembers(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}
