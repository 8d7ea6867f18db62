export { joinCommand, quoteWord, type SplitResult, splitCommand } from './command-words.js';
export { didYouMean, editDistance } from './did-you-mean.js';
export {
  LOOP_WAIT_MIN_MS,
  mergeDynamicConfig,
  NOT_ACTED_ON,
  type ParsedDynamicConfig,
  parseDynamicConfig,
  RETRY_TIMEOUT_MIN_MS,
  TTL_MIN_MS,
  defaultDynamicConfig,
  toDecideConfig,
  validateDynamicConfig,
} from './dynamic.js';
export {
  DEFAULT_DYNAMIC_CONFIG,
  DYNAMIC_NOT_IMPLEMENTED,
  type DynamicConfig,
  type IgnoreSlotRule,
  type PgParameters,
  type SlotConfig,
} from './dynamic-schema.js';
export { HAPG_ENV_PREFIX, PATRONI_ENV } from './env.js';
export type { ListenAddress, PgParameterValue } from './fields.js';
export { DYNAMIC_IMPLEMENTED, NODE_IMPLEMENTED } from './key-lists.js';
export type { KeyPattern } from './keys.js';
export {
  type LoadedNodeConfig,
  type ParseNodeConfigOptions,
  parseNodeConfig,
  parseNodeConfigBytes,
} from './node.js';
export {
  type CallbackAction,
  type Credentials,
  type HooksConfig,
  type KubernetesConfig,
  NODE_DEFAULTS,
  NODE_NOT_IMPLEMENTED,
  type NodeConfig,
  parameterWarnings,
  type Tags as NodeTags,
} from './node-schema.js';
export {
  assertParameterWrite,
  checkParameterKnown,
  checkParameterName,
  checkParameterValue,
  describeParameterProblems,
  type KnownParameters,
  MANAGED_PARAMETERS,
  PARAMETER_NAME_MAX_CHARS,
  PARAMETER_VALUE_MAX_CHARS,
  PG15_PARAMETERS,
  type ParameterProblem,
  type ParameterProblemCode,
  type ParameterSplit,
  parameterConfigProblems,
  parameterWriteProblems,
  splitParameters,
} from './parameters.js';
export type { ConfigPath, ConfigProblem } from './problems.js';
export {
  BASEBACKUP_METHOD,
  BASEBACKUP_RESERVED_OPTIONS,
  RESERVED_METHOD_PARAMS,
  type ReplicaMethodConfig,
} from './replica-methods.js';
export {
  formatHostPort,
  type HostPort,
  isWildcardHost,
  parseDurationMs,
  parseHostPort,
  parseSize,
} from './units.js';
