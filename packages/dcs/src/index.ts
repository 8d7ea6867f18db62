export {
  type CallLimits,
  type Compare,
  type EtcdBackend,
  type Kv,
  type LeaseGrant,
  type LeaseRemaining,
  LeaseNotFoundError,
  type ListResult,
  type Op,
  prefixEnd,
  type TxnResult,
  type WatchHandle,
  type WatchHandlers,
} from './backend.js';
export {
  keepaliveIntervalMs,
  keepaliveTimeoutMs,
  leaseDeadlineMs,
  leaseMarginMs,
  MIN_KEEPALIVE_INTERVAL_MS,
  MIN_MARGIN_MS,
  msUntil,
} from './deadline.js';
export { createEtcd3Backend, type Etcd3Backend, type Etcd3BackendOptions } from './etcd3-backend.js';
export {
  classifyKey,
  type ClusterKeys,
  clusterKeys,
  DEFAULT_NAMESPACE,
  type KeyKind,
  type SingletonKind,
} from './keys.js';
export type { LeaseEvents, LeaseInfo, RenewalPlan } from './lease.js';
export { type Logger, silentLogger } from './logger.js';
export {
  type KeyMeta,
  parseConfig,
  type Parsed,
  parseFailover,
  parseFailsafe,
  parseHistory,
  parseMember,
  parseRelease,
  parseStatus,
  parseSync,
} from './parse.js';
export {
  type FailoverValue,
  type FailsafeMembers,
  type ReleaseValue,
  serializeFailover,
  serializeFailsafe,
  serializeHistory,
  serializeRelease,
  serializeStatus,
  serializeSync,
  type SyncValue,
} from './serialize.js';
export { EtcdStore, type EtcdStoreOptions, type StoreEvents } from './store.js';
export { buildView } from './view.js';
