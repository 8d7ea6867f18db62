export { basebackup, basebackupArgs, type BasebackupOptions } from './basebackup.js';
export { findBinDir, type FindBinDirOptions, newestFirst } from './binaries.js';
export {
  assertRenderableParameters,
  BASE_CONF,
  DEFAULT_PARAMETERS,
  HBA_CONF,
  hostCidr,
  MAIN_CONF,
  type Parameters,
  type ParameterValue,
  type PgHbaInput,
  type PostgresqlConfInput,
  quoteGucValue,
  RECOVERY_SIGNAL,
  type RecoverySettings,
  renderPgHba,
  renderPostgresqlConf,
  slotNameFor,
  STANDBY_SIGNAL,
} from './config.js';
export {
  classifyConnectError,
  classifyPgError,
  connect,
  connectFirst,
  type ConnectOptions,
  type ConnectTarget,
  endpointText,
  type QueryRow,
  SqlSession,
  withConnection,
} from './connection.js';
export {
  type Conninfo,
  escapePgpassField,
  parseConninfo,
  type PgpassEntry,
  quoteConninfoValue,
  renderConninfo,
  renderPgpass,
} from './conninfo.js';
export {
  type ClusterState,
  type ControlData,
  isCleanShutdown,
  parseControlData,
  parseControlDataLines,
  readControlData,
  wasPrimary,
} from './controldata.js';
export { baseEnv, type ExecOptions, execProgram, type ExecResult } from './exec.js';
export { ensureOwnedDir, isEmptyDir, removeFile, writeOwnedFile } from './files.js';
export { initdb, initdbArgs, type InitdbOptions } from './initdb.js';
export {
  type Credentials,
  DEFAULT_PG_TIMEOUTS,
  type FollowTarget,
  type PgLog,
  type PgTimeouts,
  PostgresNode,
  type PostgresNodeOptions,
  type ReloadResult,
  type StartRole,
} from './node.js';
export { lookupOsUser, type OsIdentity, switchIdentity } from './osuser.js';
export {
  isPidAlive,
  isPostmasterOf,
  parsePidFile,
  PIDFILE,
  type PidFile,
  processesIn,
  readPidFile,
} from './pidfile.js';
export {
  logTail,
  Postmaster,
  type PostmasterExit,
  type SpawnPostmasterOptions,
  STOP_SIGNALS,
  type StopMode,
} from './postmaster.js';
export {
  parseReplicationRow,
  parseStatusRow,
  type PendingRestartSetting,
  type PgStatus,
  probeStatus,
  REPLICATION_SQL,
  type ReplicationRow,
  replicationSamples,
  streamingReplicas,
  type WalReceiver,
} from './probe.js';
export { promote } from './promote.js';
export {
  basebackupMethodArgs,
  commandEnv,
  commandMethodArgv,
  createReplica,
  type CreateReplicaOptions,
  emptyDataDir,
  hasPgVersion,
  type MethodFailure,
  type ReplicaCreated,
  type ReplicaMethod,
} from './replica-methods.js';
export {
  ensureCleanShutdown,
  type LocalPgOptions,
  rewind,
  rewindArgs,
  type RewindOptions,
} from './rewind.js';
export { ensureReplicationUser } from './roles.js';
export {
  classifyFileSettings,
  describeFileSettingError,
  type FileSettingError,
  knownParameterNames,
  type Queryable,
  type ReloadCheck,
  reloadConf,
  reloadConfAndCheck,
} from './settings.js';
export {
  advanceSlot,
  createLogicalSlot,
  createPhysicalSlot,
  dropPhysicalSlot,
  dropReplicationSlot,
  listPhysicalSlots,
  listReplicationSlots,
  type ReplicationSlot,
  type SlotInfo,
  type SlotSql,
} from './slots.js';
export { quoteIdent, quoteLiteral } from './sql.js';
export { primaryConninfo, removeRecoverySignals, type UpstreamInfo, writeStandbySignal } from './standby.js';
export {
  parseStreamSilenceRows,
  probeStreamSilence,
  STREAM_SILENCE_SQL,
  type StreamSilence,
} from './stream-silence.js';
export {
  parseTimelineHistory,
  readTimelineHistory,
  timelineHistoryFile,
  type TimelineSwitch,
} from './timeline-history.js';
