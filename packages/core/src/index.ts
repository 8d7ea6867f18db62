export * from './assert.js';
export * from './clock.js';
export * from './config/index.js';
export * from './decide/index.js';
export * from './errors.js';
export * from './lsn.js';
export * from './timeline.js';
export * from './types.js';
export * from './version.js';
export * from './sync/index.js';
export * from './replication/index.js';
export * from './schedule.js';
export * from './cluster/index.js';
export {
  DEFAULT_FAILOVER_PRIORITY,
  type MemberTags,
  parseTags,
  tagFlag,
  tagInt,
} from './cluster/tags.js';
export { holdsLeaderKey } from './cluster/leader-key.js';
export {
  type DynamicConfigSource,
  type EffectiveDynamicConfig,
  effectiveDynamicConfig,
} from './cluster/dynamic-config.js';
export {
  type SwitchoverAdmission,
  type SwitchoverRefusalCode,
  type SwitchoverRequest,
  switchoverAdmission,
} from './cluster/switchover.js';
export {
  type ClusterRole,
  type ClusterRow,
  clusterRole,
  clusterRows,
  clusterState,
  leaderOptime,
  sortMembers,
} from './cluster/rows.js';
