export { type EtcdSnapshot, SimEtcd, type SimMemberRecord, toClusterView } from './etcd.js';
export { act, canStream, forkPoint, type PgModel, SimNode, type SimTiming } from './node.js';
export { Prng } from './prng.js';
export { runSimulation, type SimOptions, type SimResult } from './sim.js';
export { AckLedger, type LostAck, releasedLsn } from './commits.js';
export { desiredSsn, type SimSyncConfig, type SyncPlanner, syncDutyTick } from './sync-duty.js';
