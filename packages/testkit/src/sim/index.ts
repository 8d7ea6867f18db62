export { type EtcdSnapshot, SimEtcd, type SimMemberRecord, toClusterView } from './etcd.js';
export { type PgModel, SimNode, type SimTiming } from './node.js';
export { canStream, forkPoint, SimClock, type SimWorld } from './ports.js';
export { Prng } from './prng.js';
export {
  runSimulation,
  type ScheduledFault,
  type SimOptions,
  type SimResult,
  type SimStep,
  type SimSyncConfig,
} from './sim.js';
export { AckLedger, type LostAck, releasedLsn } from './commits.js';
