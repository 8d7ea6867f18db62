import type { Member } from '@hapg/core';
import type { TakeoverProbes } from './evidence.js';

/**
 * The takeover probes, with a leader's silence remembered briefly: a REST or port probe that got
 * no answer within `timeoutMs` is answered "silent" again, without waiting, for the next
 * 2 × `timeoutMs` (1 s at the default `fast_failover_probe_timeout`). In quorum mode the taker
 * runs the probes again on the loop the last stream release wakes, right after it ran them
 * itself; waiting out a second timeout there cost 0.5 s of every failover of a primary cut off
 * from everything (chaos, seed 109). An answer is never remembered, and the stream silence and
 * the lease are asked every time. Only needless failovers rest on the probes, not safety.
 */
export function rememberSilence(probes: TakeoverProbes, nowMs: () => number): TakeoverProbes {
  const silentUntil = new Map<string, number>();
  const probe =
    (kind: 'rest' | 'port', ask: (leader: Member, timeoutMs: number) => Promise<boolean>) =>
    async (leader: Member, timeoutMs: number): Promise<boolean> => {
      const key = `${kind} ${leader.name} ${leader.apiUrl} ${leader.connUrl}`;
      const until = silentUntil.get(key);
      if (until !== undefined && nowMs() < until) return false;
      const answered = await ask(leader, timeoutMs);
      if (answered) silentUntil.delete(key);
      else silentUntil.set(key, nowMs() + 2 * timeoutMs);
      return answered;
    };
  return {
    streamSilenceMs: () => probes.streamSilenceMs(),
    restAnswers: probe('rest', (l, t) => probes.restAnswers(l, t)),
    portAnswers: probe('port', (l, t) => probes.portAnswers(l, t)),
    leaseTimeToLive: (id) => probes.leaseTimeToLive(id),
  };
}
