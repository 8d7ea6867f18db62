import type { EtcdStore } from '@hapg/dcs';
import { probeStreamSilence, type SqlSession } from '@hapg/postgres';
import { pgAddressOf } from '../conn.js';
import type { TakeoverProbes } from './evidence.js';
import { portAnswers, restAnswers } from './probes.js';

/**
 * The agent's answers to the takeover probes: its own Postgres session for (c), HTTP and TCP
 * for (d), etcd for (e). The simulator has its own (testkit `simTakeoverProbes`).
 */
export function agentTakeoverProbes(deps: {
  readonly pg: Pick<SqlSession, 'query'>;
  readonly store: Pick<EtcdStore, 'leaseTimeToLive'>;
}): TakeoverProbes {
  return {
    streamSilenceMs: async () => (await probeStreamSilence(deps.pg)).silenceMs,
    restAnswers: (leader, timeoutMs) => restAnswers(leader.apiUrl, timeoutMs),
    portAnswers: async (leader, timeoutMs) => {
      const addr = pgAddressOf(leader);
      // no usable conn_url: nothing to connect to, so no answer (the REST probe still counts)
      return addr === null ? false : portAnswers(addr.host, addr.port, timeoutMs);
    },
    leaseTimeToLive: (leaseId) => deps.store.leaseTimeToLive(leaseId),
  };
}
