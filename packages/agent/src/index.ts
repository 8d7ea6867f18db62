export * from './api/index.js';
export * from './fence/client.js';
export * from './metrics.js';
export * from './peers.js';
export {
  ActionFailed,
  type ActionHandlers,
  type ExecContext,
  followTarget,
  HANDLERS,
  runActions,
} from './executor/execute.js';
export type {
  ClusterStorePort,
  ExecClock,
  ExecLog,
  CallbackRole,
  FencePort,
  HooksPort,
  PgChange,
  PeerPort,
  PgMemory,
  PostgresControl,
  TimelineFork,
} from './executor/ports.js';
export { adoptSsnInForce, type SyncDutyInput, syncDuty } from './duties/sync/duty.js';
export { gatherTakeoverEvidence, type TakeoverProbes } from './fast-failover/evidence.js';
export { fenceMoves } from './loop/fence-arming.js';
export {
  SyncManager,
  type SyncManagerOptions,
  type SyncPlanner,
  type SyncPostgres,
} from './duties/sync/sync-manager.js';
export { restartInPlaceActions } from './executor/requests.js';
export {
  type AgentMemory,
  FRESH_MEMORY,
  observed,
  prePromoteFailed,
  prePromoteFailure,
  released,
} from './loop/memory.js';
export type { FailsafePort } from './executor/ports.js';
export {
  type AnswerDeps,
  answerFailsafe,
  type FailsafeAnswer,
  type FailsafeHold,
  failsafeKeyDuty,
  failsafeMembers,
  FailsafePromises,
  type FailsafeReply,
  type FailsafeRequest,
  type FailsafeRoundPorts,
  FailsafeRounds,
  type RoundInput,
  type RoundOutcome,
  roundIntervalMs,
} from './failsafe/index.js';
