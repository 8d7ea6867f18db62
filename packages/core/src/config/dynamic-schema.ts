/**
 * The cluster-wide dynamic config: stored as JSON in etcd's `config` key,
 * seeded from `bootstrap.dcs`. Patroni's key names and units (seconds,
 * bytes) outside; converted once into `DynamicConfig` (units in names).
 */
import type { z } from 'zod';
import type { FastFailoverConfig } from '../decide/types.js';
import { leaseMarginMs } from '../lease-margin.js';
import { f, freeMap, listOf, section } from './fields.js';
import type { KeyPattern } from './keys.js';
import { type ParameterProblem, splitParameters } from './parameters.js';

/** Seconds beyond this would overflow millisecond arithmetic long before they make sense. */
const SECONDS_MAX = 2_147_483;

const SYNC_MODES = {
  true: 'on',
  false: 'off',
  on: 'on',
  off: 'off',
  quorum: 'quorum',
} as const;

const slotSchema = section({
  type: f.oneOf({ physical: 'physical', logical: 'logical' } as const, '"physical" or "logical"'),
  database: f.text(),
  plugin: f.text(),
  // Patroni 4.1: a physical slot only for a primary cluster or only for a standby cluster
  cluster_type: f.oneOf({ primary: 'primary', standby: 'standby' } as const, '"primary" or "standby"'),
});

const ignoreSlotSchema = section({
  name: f.text(),
  type: f.oneOf({ physical: 'physical', logical: 'logical' } as const, '"physical" or "logical"'),
  database: f.text(),
  plugin: f.text(),
});

export const dynamicConfigSchema = section({
  ttl: f.seconds({ min: 0, max: SECONDS_MAX }),
  loop_wait: f.seconds({ min: 0, max: SECONDS_MAX }),
  retry_timeout: f.seconds({ min: 0, max: SECONDS_MAX }),
  maximum_lag_on_failover: f.size(),
  primary_start_timeout: f.seconds({ min: 0, max: SECONDS_MAX }),
  primary_isolation_timeout: f.fractionalSeconds({ min: 0, max: SECONDS_MAX }),
  synchronous_mode: f.oneOf(SYNC_MODES, 'false, true or "quorum"'),
  synchronous_mode_strict: f.flag(),
  synchronous_node_count: f.int({ min: 1, max: 1000 }),
  check_timeline: f.flag(),
  pause: f.flag(),
  failsafe_mode: f.flag(),
  // hapg only: the bound on each POST /failsafe of a round (Patroni hard-codes 2 s)
  failsafe_timeout: f.fractionalSeconds({ min: 0, max: SECONDS_MAX }),
  // hapg only: fast failover in `on` mode (docs/fast-failover.md)
  fast_failover: f.flag(),
  fast_failover_stream_silence: f.fractionalSeconds({ min: 0, max: SECONDS_MAX }),
  fast_failover_probe_timeout: f.fractionalSeconds({ min: 0, max: SECONDS_MAX }),
  member_slots_ttl: f.duration(),
  slots: freeMap(slotSchema),
  ignore_slots: listOf(ignoreSlotSchema),
  postgresql: section({
    use_pg_rewind: f.flag(),
    use_slots: f.flag(),
    parameters: freeMap(f.pgValue()),
    pg_hba: f.stringList(),
    remove_data_directory_on_rewind_failure: f.flag(),
    remove_data_directory_on_diverged_timelines: f.flag(),
  }),
});

export type RawDynamicConfig = z.output<typeof dynamicConfigSchema>;

/**
 * Patroni dynamic keys hapg accepts but does not act on yet (one warning
 * names those present). Relative to the dynamic config's root.
 */
export const DYNAMIC_NOT_IMPLEMENTED: readonly KeyPattern[] = [
  ['standby_cluster'],
  ['max_timelines_history'],
  ['maximum_lag_on_syncnode'],
  ['primary_stop_timeout'],
  ['primary_race_backoff'],
  ['master_start_timeout'],
  ['master_stop_timeout'],
  // Patroni's older names of `slots`
  ['permanent_slots'],
  ['permanent_replication_slots'],
  ...[
    'recovery_conf',
    'pg_ident',
    // a node's own way to reach its server: honoured in the node's YAML only
    'use_unix_socket',
    // pg_basebackup's options: honoured in the node's YAML only
    'basebackup',
    // pg_rewind's options (Patroni after 4.1), pg_ctl's wait
    'rewind',
    'pg_ctl_timeout',
    // role-specific overrides (Patroni after 4.1)
    ...['parameters', 'pg_hba', 'pg_ident'].flatMap((k) =>
      ['primary', 'replica', 'standby_leader'].map((role) => `${k}_${role}`),
    ),
  ].map((k) => ['postgresql', k]),
];

/**
 * hapg's defaults in Patroni's form: what `bootstrap.dcs` gets when the YAML
 * is silent and what docs/configuration.md lists. Shorter than Patroni's
 * (ttl 30, loop_wait 10, retry_timeout 10, primary_start_timeout 300)
 * because the fence makes a short ttl safe; see design.md.
 */
export const DEFAULT_DYNAMIC_CONFIG = Object.freeze({
  ttl: 10,
  loop_wait: 2,
  retry_timeout: 3,
  maximum_lag_on_failover: 1048576,
  primary_start_timeout: 30,
  primary_isolation_timeout: 1,
  synchronous_mode: false,
  synchronous_mode_strict: false,
  synchronous_node_count: 1,
  check_timeline: false,
  pause: false,
  failsafe_mode: false,
  failsafe_timeout: 2,
  fast_failover: true,
  fast_failover_stream_silence: 1,
  fast_failover_probe_timeout: 0.5,
  member_slots_ttl: '30min',
  slots: Object.freeze({}),
  ignore_slots: Object.freeze([]),
  postgresql: Object.freeze({
    use_pg_rewind: true,
    use_slots: true,
    parameters: Object.freeze({}),
    remove_data_directory_on_rewind_failure: false,
    remove_data_directory_on_diverged_timelines: false,
  }),
});

export interface SlotConfig {
  readonly type: 'physical' | 'logical';
  readonly database: string | null;
  readonly plugin: string | null;
}

/** An `ignore_slots` rule: a slot matching every field that is set is left alone. */
export interface IgnoreSlotRule {
  readonly name: string | null;
  readonly type: 'physical' | 'logical' | null;
  readonly database: string | null;
  readonly plugin: string | null;
}

export type PgParameters = Readonly<Record<string, string | number | boolean>>;

/** The dynamic config in internal form: every key set, units in names. */
export interface DynamicConfig {
  readonly ttlMs: number;
  readonly loopWaitMs: number;
  readonly retryTimeoutMs: number;
  readonly maximumLagOnFailoverBytes: bigint;
  readonly primaryStartTimeoutMs: number;
  readonly primaryIsolationTimeoutMs: number;
  readonly synchronousMode: 'off' | 'on' | 'quorum';
  readonly synchronousModeStrict: boolean;
  readonly synchronousNodeCount: number;
  readonly checkTimeline: boolean;
  readonly pause: boolean;
  /** keep a primary running through an etcd outage while every member answers (docs/failsafe.md) */
  readonly failsafeMode: boolean;
  /** the bound on each `POST /failsafe` of a round */
  readonly failsafeTimeoutMs: number;
  /** fast failover in `on` mode (docs/fast-failover.md) */
  readonly fastFailover: FastFailoverConfig;
  readonly memberSlotsTtlMs: number;
  readonly slots: Readonly<Record<string, SlotConfig>>;
  readonly ignoreSlots: readonly IgnoreSlotRule[];
  readonly postgresql: {
    readonly usePgRewind: boolean;
    readonly useSlots: boolean;
    /** the stored parameters that may be rendered, names in lower case (see `splitParameters`) */
    readonly parameters: PgParameters;
    /**
     * Stored parameters no node may render (a malformed name or value, one hapg manages): left
     * out of `parameters`, so that one bad key, written by another tool, never holds the others back
     */
    readonly skippedParameters: readonly ParameterProblem[];
    /** null: none configured; the generated pg_hba (plus `bootstrap.pg_hba`) is used. A node's own list wins */
    readonly pgHba: readonly string[] | null;
    readonly removeDataDirectoryOnRewindFailure: boolean;
    readonly removeDataDirectoryOnDivergedTimelines: boolean;
  };
  /** keys this version does not know, by dotted path, kept so they survive a rewrite */
  readonly extra: Readonly<Record<string, unknown>>;
}

const D = DEFAULT_DYNAMIC_CONFIG;

/**
 * The most a `POST /failsafe` may take: (ttl − margin) / 2, so that a failed round and one
 * more fit before the failsafe deadline (docs/failsafe.md).
 */
export function failsafeRoundRoomMs(ttlMs: number): number {
  return Math.floor((ttlMs - leaseMarginMs(ttlMs)) / 2);
}
const sToMs = (s: number) => Math.round(s * 1000);

/**
 * `cluster_type: standby` on a physical slot: Patroni creates it only in a standby cluster (and
 * drops it elsewhere). A hapg cluster is never one (`standby_cluster` is not acted on), so the
 * slot is not a permanent slot here; `cluster_type: primary` is, as one without it. Patroni
 * reads the key on physical slots only.
 */
function forStandbyClusterOnly(s: RawDynamicConfig['slots'][string]): boolean {
  return (s.type ?? 'physical') === 'physical' && s.cluster_type === 'standby';
}

/** Fills defaults and converts units: the one place Patroni units become internal ones. */
export function toDynamicConfig(
  raw: RawDynamicConfig,
  extra: Readonly<Record<string, unknown>>,
): DynamicConfig {
  const pg = raw.postgresql;
  const params = splitParameters(pg.parameters, { known: null });
  return {
    ttlMs: sToMs(raw.ttl ?? D.ttl),
    loopWaitMs: sToMs(raw.loop_wait ?? D.loop_wait),
    retryTimeoutMs: sToMs(raw.retry_timeout ?? D.retry_timeout),
    maximumLagOnFailoverBytes: raw.maximum_lag_on_failover ?? BigInt(D.maximum_lag_on_failover),
    primaryStartTimeoutMs: sToMs(raw.primary_start_timeout ?? D.primary_start_timeout),
    primaryIsolationTimeoutMs: sToMs(raw.primary_isolation_timeout ?? D.primary_isolation_timeout),
    synchronousMode: raw.synchronous_mode ?? 'off',
    synchronousModeStrict: raw.synchronous_mode_strict ?? D.synchronous_mode_strict,
    synchronousNodeCount: raw.synchronous_node_count ?? D.synchronous_node_count,
    checkTimeline: raw.check_timeline ?? D.check_timeline,
    pause: raw.pause ?? D.pause,
    failsafeMode: raw.failsafe_mode ?? D.failsafe_mode,
    // unset: 2 s (Patroni's fixed value), or less where a short ttl leaves less room
    failsafeTimeoutMs:
      raw.failsafe_timeout === undefined
        ? Math.min(sToMs(D.failsafe_timeout), failsafeRoundRoomMs(sToMs(raw.ttl ?? D.ttl)))
        : sToMs(raw.failsafe_timeout),
    fastFailover: {
      enabled: raw.fast_failover ?? D.fast_failover,
      streamSilenceMs: sToMs(raw.fast_failover_stream_silence ?? D.fast_failover_stream_silence),
      probeTimeoutMs: sToMs(raw.fast_failover_probe_timeout ?? D.fast_failover_probe_timeout),
    },
    memberSlotsTtlMs: raw.member_slots_ttl ?? 30 * 60_000,
    slots: Object.fromEntries(
      Object.entries(raw.slots)
        .filter(([, s]) => !forStandbyClusterOnly(s))
        .map(([name, s]) => [
          name,
          { type: s.type ?? 'physical', database: s.database ?? null, plugin: s.plugin ?? null },
        ]),
    ),
    ignoreSlots: (raw.ignore_slots ?? []).map((r) => ({
      name: r.name ?? null,
      type: r.type ?? null,
      database: r.database ?? null,
      plugin: r.plugin ?? null,
    })),
    postgresql: {
      usePgRewind: pg.use_pg_rewind ?? D.postgresql.use_pg_rewind,
      useSlots: pg.use_slots ?? D.postgresql.use_slots,
      parameters: params.valid,
      skippedParameters: params.problems,
      pgHba: pg.pg_hba ?? null,
      removeDataDirectoryOnRewindFailure:
        pg.remove_data_directory_on_rewind_failure ?? D.postgresql.remove_data_directory_on_rewind_failure,
      removeDataDirectoryOnDivergedTimelines:
        pg.remove_data_directory_on_diverged_timelines ??
        D.postgresql.remove_data_directory_on_diverged_timelines,
    },
    extra,
  };
}

/** Slots that are logical need a database and a plugin; said here so the message names the slot. */
export function slotProblems(raw: RawDynamicConfig): { path: string[]; message: string }[] {
  const out: { path: string[]; message: string }[] = [];
  for (const [name, s] of Object.entries(raw.slots)) {
    if (s.type === 'logical' && (s.database === undefined || s.plugin === undefined)) {
      out.push({ path: ['slots', name], message: 'a logical slot needs both "database" and "plugin"' });
    }
  }
  return out;
}
