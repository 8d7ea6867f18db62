import {
  type ClusterView,
  type DecideConfig,
  type DynamicConfig,
  defaultDynamicConfig,
  effectiveDynamicConfig,
  toDecideConfig,
} from '@hapg/core';

let defaults: DynamicConfig | null = null;

/**
 * The dynamic config as hactl can tell it from etcd, by core's one rule
 * (`effectiveDynamicConfig`): the stored key when valid; with no key or an invalid one, the
 * defaults — hactl has no bootstrap.dcs and no previous config, so it shows what a freshly
 * started agent with a default bootstrap.dcs would run on (running agents keep theirs).
 */
export function clusterConfigOf(view: ClusterView): DynamicConfig {
  defaults ??= defaultDynamicConfig();
  return effectiveDynamicConfig(view, null, defaults).config;
}

/** The config the agents decide with (eligibility, lag limit, sync mode). */
export function decideConfigOf(view: ClusterView): DecideConfig {
  return toDecideConfig(clusterConfigOf(view));
}
