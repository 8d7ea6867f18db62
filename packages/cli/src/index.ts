export { type GlobalOptions, parseCommandArgs, splitGlobalArgs } from './args.js';
export { type CliDeps, mainUsage, runCli } from './cli.js';
export { COMMANDS, type Command, type CommandContext, findCommand } from './commands/index.js';
export { buildDsn, type DsnRole, libpqValue, TARGET_SESSION_ATTRS } from './commands/dsn/dsn.js';
export {
  buildHaproxyConfig,
  haproxyServerOf,
  haproxyServers,
  type SkippedMember,
} from './commands/haproxy-config/haproxy-config.js';
export {
  DEFAULT_HAPROXY_LAYOUT,
  type HaproxyChecks,
  type HaproxyLayout,
  type HaproxyServer,
  haproxyAddress,
  haproxyServerNames,
  renderHaproxyConfig,
} from './commands/haproxy-config/render.js';
export { renderHistory, toHistoryJson } from './commands/history/history.js';
export { formatTags, renderList, renderListTable, runList, toJsonRow } from './commands/list/list.js';
export { lagInMb, listRows, roleOf, roleTitle } from './commands/list/rows.js';
export { renderShowConfig } from './commands/show-config/show-config.js';
export { type HactlFileSettings, loadHactlConfigFile, parseSmallConfig } from './config-file.js';
export { CliError, UsageError } from './errors.js';
export { type Io, memoryIo } from './io.js';
export { type OutputFormat, renderData, renderTable } from './output/index.js';
export { type ClusterReader, openEtcdReader, unreachableMessage } from './reader.js';
export { type ConnectionSettings, resolveSettings } from './settings.js';
export { VERSION } from './version.js';
export { apiAccessFromYaml, parseAuth, resolveApiAccess } from './api/access.js';
export { type HttpFn, nodeHttp } from './api/http.js';
export {
  type ApiReply,
  ApiUnreachableError,
  apiBaseUrl,
  createMemberApi,
  type MemberApi,
} from './api/member-api.js';
export type { ActionDeps } from './actions/deps.js';
export { type Prompt, scriptedPrompt } from './prompt.js';
export type { ClusterStore, ClusterWriter } from './reader.js';
