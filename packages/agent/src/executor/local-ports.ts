import type { Clock, NodeConfig } from '@hapg/core';
import { emptyDataDir } from '@hapg/postgres';
import type { LocalPostgres } from '../local-pg.js';
import type { Logger } from '../logger.js';
import { fetchPeer } from '../peers.js';
import { createReplicaFrom } from '../replica-create.js';
import type { ExecClock, PeerPort, PostgresControl } from './ports.js';

/** The executor's Postgres port over the agent's real server (`LocalPostgres`, `PostgresNode`). */
export function localPostgresControl(
  pg: LocalPostgres,
  o: { readonly config: () => NodeConfig; readonly log: Logger },
): PostgresControl {
  const node = pg.node;
  return {
    running: () => node.running,
    lastPositions: () => pg.lastStatus,
    start: (role, follow) => pg.start({ role, follow }),
    stop: (mode) => pg.stop(mode),
    promote: () => node.promote(),
    probe: () => node.probe(),
    timelineFork: async (timeline) => {
      const s = await node.lastTimelineSwitch(timeline);
      return s === null ? null : { parent: s.parent, switchLsn: s.switchLsn };
    },
    checkpoint: async () => {
      await node.query('CHECKPOINT');
    },
    followPrimary: (target) => node.followPrimary(target),
    checkpointLsn: async () => (await node.controldata()).checkpointLsn,
    checkpointSource: (target) => node.checkpointSource(target),
    // the executor ran checkpointSource first, before it stopped us (the source may be gone since)
    rewindFrom: (target) => node.rewindFrom(target, { sourceCheckpointed: true }),
    initdb: () => node.initdb(),
    createReplicationUser: async () => {
      await node.createReplicationUser();
    },
    createReplica: async (source) =>
      (await createReplicaFrom({ config: o.config(), node, log: o.log }, source)).method,
    emptyDataDir: () => emptyDataDir(node.dataDir),
    setWasPrimary: (value) => pg.setWasPrimary(value),
    stopReceiving: () => node.stopReceiving(),
    get streamRelease() {
      return pg.streamRelease;
    },
    setStreamRelease: (value) => pg.setStreamRelease(value),
    // LocalPostgres keeps these facts itself
    memory: pg,
  };
}

/** Peers over their REST API. */
export const restPeers: PeerPort = fetchPeer;

/** The system clock, with real sleeps. */
export function realExecClock(clock: Clock): ExecClock {
  return {
    monotonicMs: () => clock.monotonicMs(),
    wallMs: () => clock.wallMs(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
}
