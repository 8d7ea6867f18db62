/**
 * Parsing, validating and merging the dynamic config as it comes from etcd
 * or a REST PATCH body. Unknown keys are kept (another agent version may
 * have written them) and reported as warnings, never as errors.
 */
import type { DecideConfig } from '../decide/types.js';
import { HapgError } from '../errors.js';
import {
  DYNAMIC_NOT_IMPLEMENTED,
  type DynamicConfig,
  dynamicConfigSchema,
  failsafeRoundRoomMs,
  slotProblems,
  toDynamicConfig,
} from './dynamic-schema.js';
import { depthProblem } from './depth.js';
import { isPlainMap } from './fields.js';
import { issueProblems, unknownKeyMessage } from './issues.js';
import { setOwn, sortKeys } from './keys.js';
import { type ConfigPath, type ConfigProblem, formatPath, showPath, throwIfProblems } from './problems.js';
import { describeValue } from './secrets.js';

/** etcd's minimum lease TTL with its default heartbeat and election timeouts. */
export const TTL_MIN_MS = 2000;
export const LOOP_WAIT_MIN_MS = 1000;
export const RETRY_TIMEOUT_MIN_MS = 1000;

const seconds = (ms: number) => ms / 1000;

/**
 * Every cross-field and floor rule of the timing keys, in one place.
 * `loop_wait + 2*retry_timeout <= ttl` leaves a leader room for one loop and
 * two full retry rounds before its lease can expire.
 */
export function validateDynamicConfig(cfg: DynamicConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const { ttlMs, loopWaitMs, retryTimeoutMs, primaryIsolationTimeoutMs, failsafeTimeoutMs } = cfg;
  if (ttlMs < TTL_MIN_MS) {
    problems.push({
      path: ['ttl'],
      message: `must be at least 2 seconds (etcd's minimum lease TTL), got ${seconds(ttlMs)}`,
    });
  }
  if (loopWaitMs < LOOP_WAIT_MIN_MS) {
    problems.push({ path: ['loop_wait'], message: `must be at least 1 second, got ${seconds(loopWaitMs)}` });
  }
  if (retryTimeoutMs < RETRY_TIMEOUT_MIN_MS) {
    problems.push({
      path: ['retry_timeout'],
      message: `must be at least 1 second, got ${seconds(retryTimeoutMs)}`,
    });
  }
  const neededMs = loopWaitMs + 2 * retryTimeoutMs;
  if (neededMs > ttlMs) {
    problems.push({
      path: ['ttl'],
      message: `must be at least loop_wait + 2*retry_timeout = ${seconds(loopWaitMs)} + 2*${seconds(retryTimeoutMs)} = ${seconds(neededMs)}, got ${seconds(ttlMs)}`,
    });
  }
  if (primaryIsolationTimeoutMs >= ttlMs) {
    problems.push({
      path: ['primary_isolation_timeout'],
      message: `must be less than ttl (${seconds(ttlMs)}), got ${seconds(primaryIsolationTimeoutMs)}`,
    });
  }
  // checked only where it is used: a short ttl without failsafe mode needs no room for rounds
  const roundRoomMs = failsafeRoundRoomMs(ttlMs);
  if (cfg.failsafeMode && (failsafeTimeoutMs <= 0 || failsafeTimeoutMs > roundRoomMs)) {
    problems.push({
      path: ['failsafe_timeout'],
      message: `must be more than 0 and at most (ttl - margin) / 2 = ${seconds(roundRoomMs)}, got ${seconds(failsafeTimeoutMs)}`,
    });
  }
  const ff = cfg.fastFailover;
  if (ff.probeTimeoutMs <= 0 || ff.probeTimeoutMs >= ttlMs) {
    problems.push({
      path: ['fast_failover_probe_timeout'],
      message: `must be more than 0 and less than ttl (${seconds(ttlMs)}), got ${seconds(ff.probeTimeoutMs)}`,
    });
  }
  if (ff.streamSilenceMs <= 0) {
    problems.push({
      path: ['fast_failover_stream_silence'],
      message: `must be more than 0, got ${seconds(ff.streamSilenceMs)}`,
    });
  }
  return problems;
}

/** What `decide` needs, from a validated dynamic config. */
export function toDecideConfig(dyn: DynamicConfig): DecideConfig {
  return {
    ttlMs: dyn.ttlMs,
    loopWaitMs: dyn.loopWaitMs,
    retryTimeoutMs: dyn.retryTimeoutMs,
    primaryStartTimeoutMs: dyn.primaryStartTimeoutMs,
    maximumLagOnFailoverBytes: dyn.maximumLagOnFailoverBytes,
    primaryIsolationTimeoutMs: dyn.primaryIsolationTimeoutMs,
    checkTimeline: dyn.checkTimeline,
    pause: dyn.pause,
    failsafeMode: dyn.failsafeMode,
    synchronousMode: dyn.synchronousMode,
    synchronousModeStrict: dyn.synchronousModeStrict,
    usePgRewind: dyn.postgresql.usePgRewind,
    fastFailover: dyn.fastFailover,
  };
}

/** What the one warning about accepted-but-ignored keys starts with, after its source. */
export const NOT_ACTED_ON = 'accepted but not acted on';

/** One warning naming every accepted-but-ignored key, or none. */
export function notImplementedWarning(where: string, paths: readonly ConfigPath[]): string[] {
  if (paths.length === 0) return [];
  return [`${where}: ${NOT_ACTED_ON}: ${paths.map(showPath).join(', ')}`];
}

export interface ParsedDynamicConfig {
  readonly config: DynamicConfig;
  readonly warnings: readonly string[];
}

/**
 * Parses the dynamic config JSON (already `JSON.parse`d) from `source`
 * (e.g. `etcd /service/demo/config`). Throws CONFIG_INVALID listing every
 * problem; unknown keys land in `extra` with a warning each. A document
 * nested deeper than `CONFIG_DEPTH_MAX` is refused before anything else.
 */
export function parseDynamicConfig(json: unknown, opts: { source: string }): ParsedDynamicConfig {
  const { source } = opts;
  const at = (p: ConfigProblem) => ({ ...p, where: source, order: [0, 0] as const });
  if (!isPlainMap(json)) {
    throwIfProblems([at({ path: [], message: `expected a map, got ${describeValue(json, [])}` })]);
  }
  const deep = depthProblem(json);
  if (deep !== null) throwIfProblems([at(deep)]);
  const sorted = sortKeys(json, dynamicConfigSchema, DYNAMIC_NOT_IMPLEMENTED);
  const extra: Record<string, unknown> = {};
  const warnings = notImplementedWarning(source, sorted.notImplemented);
  for (const u of sorted.unknown) {
    setOwn(extra, formatPath(u.path), u.value);
    const message = unknownKeyMessage(dynamicConfigSchema, u.path, DYNAMIC_NOT_IMPLEMENTED).replace(
      'unknown key',
      'unknown key, kept as is',
    );
    warnings.push(`${source}: ${showPath(u.path)}: ${message}`);
  }
  for (const p of sorted.notImplemented) setOwn(extra, formatPath(p), valueAt(json, p));
  const parsed = dynamicConfigSchema.safeParse(sorted.known, { reportInput: true });
  if (!parsed.success) throwIfProblems(issueProblems(parsed.error).map(at));
  const raw = parsed.data!;
  const config = toDynamicConfig(raw, extra);
  throwIfProblems([...slotProblems(raw), ...validateDynamicConfig(config)].map(at));
  return { config, warnings };
}

/** The defaults, as a parsed config. */
export function defaultDynamicConfig(): DynamicConfig {
  return parseDynamicConfig({}, { source: 'defaults' }).config;
}

function valueAt(root: unknown, path: ConfigPath): unknown {
  let v = root;
  for (const seg of path)
    v = isPlainMap(v) || Array.isArray(v) ? (v as Record<string, unknown>)[seg] : undefined;
  return v;
}

function mergeMaps(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(base)) setOwn(out, k, v);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (isPlainMap(v)) setOwn(out, k, mergeMaps(isPlainMap(out[k]) ? out[k] : {}, v));
    else setOwn(out, k, v);
  }
  return out;
}

/**
 * PATCH semantics (RFC 7396, as Patroni's `PATCH /config`): maps merge
 * recursively, `null` deletes a key, anything else (lists too) replaces.
 * Pure; neither argument is changed. The result still needs parsing.
 * Either one nested deeper than `CONFIG_DEPTH_MAX` is refused (the merge recurses).
 */
export function mergeDynamicConfig(base: unknown, patch: unknown): Record<string, unknown> {
  for (const [what, v] of [
    ['config', base],
    ['config patch', patch],
  ] as const) {
    if (!isPlainMap(v))
      throw new HapgError('CONFIG_INVALID', `${what}: expected a map, got ${describeValue(v, [])}`);
    const deep = depthProblem(v);
    if (deep !== null) throwIfProblems([{ ...deep, where: what, order: [0, 0] }]);
  }
  return mergeMaps(base as Record<string, unknown>, patch as Record<string, unknown>);
}
