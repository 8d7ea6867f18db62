/**
 * The local YAML config (one file per node), with Patroni's key names.
 * `nodeConfigSchema` checks shapes and leaf values; `toNodeConfig` fills
 * defaults that depend on other keys and converts to internal names.
 */
import { type MemberTags, parseTags } from '../cluster/tags.js';
import type { z } from 'zod';
import {
  DYNAMIC_NOT_IMPLEMENTED,
  type DynamicConfig,
  dynamicConfigSchema,
  type PgParameters,
} from './dynamic-schema.js';
import {
  f,
  freeMap,
  isPlainMap,
  type ListenAddress,
  openSection,
  optionalSection,
  section,
} from './fields.js';
import type { KeyPattern } from './keys.js';
import {
  checkParameterKnown,
  type ParameterProblem,
  PG15_PARAMETERS,
  parameterConfigProblems,
  splitParameters,
} from './parameters.js';
import { type ConfigProblem, formatPath } from './problems.js';
import type { ReplicaMethodConfig } from './replica-methods.js';
import { type HostPort, isWildcardHost } from './units.js';

const credentials = section({ username: f.text(), password: f.text() });

const LOG_LEVELS = {
  debug: 'debug',
  info: 'info',
  warning: 'warn',
  warn: 'warn',
  error: 'error',
  critical: 'fatal',
  fatal: 'fatal',
} as const;

const BOOTSTRAP_SHAPE = {
  dcs: dynamicConfigSchema,
  // `initdb` (the default) only: another value is a custom bootstrap script (`dynamicNotImplemented`)
  method: f.text({ nonEmpty: true }),
  initdb: f.optionList(),
  pg_hba: f.stringList(),
  // Patroni keys hapg does not act on (`users`, `post_bootstrap`, ...) are in NODE_NOT_IMPLEMENTED
};

export const nodeConfigSchema = section({
  scope: f.requiredText(),
  namespace: f.text({ nonEmpty: true }),
  name: f.requiredText(),
  restapi: section({
    listen: f.address(),
    connect_address: f.address(),
    authentication: credentials,
    certfile: f.text(),
    keyfile: f.text(),
    cafile: f.text(),
    verify_client: f.oneOf(
      { none: 'none', optional: 'optional', required: 'required' } as const,
      '"none", "optional" or "required"',
    ),
    allowlist: f.allowList(),
    allowlist_include_members: f.flag(),
  }),
  etcd3: section({
    host: f.address(2379),
    hosts: f.hostList(),
    protocol: f.oneOf({ http: 'http', https: 'https' } as const, '"http" or "https"'),
    username: f.text(),
    password: f.text(),
    cacert: f.text(),
    cert: f.text(),
    key: f.text(),
  }),
  postgresql: section({
    listen: f.listen(),
    connect_address: f.address(),
    data_dir: f.requiredText(),
    bin_dir: f.text(),
    pgpass: f.text(),
    os_user: f.text({ nonEmpty: true }),
    authentication: section({ superuser: credentials, replication: credentials, rewind: credentials }),
    parameters: freeMap(f.pgValue()),
    pg_hba: f.stringList(),
    use_unix_socket: f.flag(),
    use_pg_rewind: f.flag(),
    create_replica_methods: f.stringList(),
    basebackup: f.optionList(),
    // commands split as Patroni splits them (shlex), run without a shell
    callbacks: section({
      on_start: f.text({ nonEmpty: true }),
      on_stop: f.text({ nonEmpty: true }),
      on_restart: f.text({ nonEmpty: true }),
      on_reload: f.text({ nonEmpty: true }),
      on_role_change: f.text({ nonEmpty: true }),
    }),
    callback_timeout: f.seconds({ min: 1, max: 86_400 }),
    pre_promote: f.text({ nonEmpty: true }),
    pre_promote_timeout: f.seconds({ min: 1, max: 3600 }),
    before_stop: f.text({ nonEmpty: true }),
    before_stop_timeout: f.seconds({ min: 1, max: 3600 }),
  }),
  bootstrap: section(BOOTSTRAP_SHAPE),
  tags: openSection({
    nofailover: f.flag(),
    noloadbalance: f.flag(),
    clonefrom: f.flag(),
    nosync: f.flag(),
    failover_priority: f.int({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    replicatefrom: f.text(),
  }),
  log: section({
    level: f.oneOf(LOG_LEVELS, '"DEBUG", "INFO", "WARNING", "ERROR" or "CRITICAL"'),
    dir: f.text(),
    file_num: f.int({ min: 1, max: 1000 }),
    file_size: f.size(),
  }),
  watchdog: section({
    mode: f.oneOf(
      { off: 'off', false: 'off', automatic: 'automatic', required: 'required' } as const,
      '"off", "automatic" or "required"',
    ),
    device: f.text({ nonEmpty: true }),
    safety_margin: f.seconds({ min: 0, max: 3600 }),
  }),
  fence: section({ enabled: f.flag() }),
  // hapg's typed events: GET /events always, a webhook when `url` is set
  events: section({
    webhook: section({
      url: f.text({ nonEmpty: true }),
      headers: freeMap(f.text()),
      timeout: f.fractionalSeconds({ min: 0.1, max: 60 }),
      queue_size: f.int({ min: 1, max: 1_000_000 }),
    }),
  }),
  // Patroni's section for its Kubernetes store; in hapg (etcd stays the store) it turns on the
  // pod role label updater, with Patroni's key names and defaults (4.x)
  kubernetes: optionalSection({
    namespace: f.text({ nonEmpty: true }),
    role_label: f.labelName(),
    leader_label_value: f.labelValue(),
    follower_label_value: f.labelValue(),
    standby_leader_label_value: f.labelValue(),
    tmp_role_label: f.labelName(),
    cacert: f.text({ nonEmpty: true }),
  }),
});

export type RawNodeConfig = z.output<typeof nodeConfigSchema>;

const SSL_CONNECTION_KEYS = [
  'sslmode',
  'sslnegotiation',
  'sslkey',
  'sslpassword',
  'sslcert',
  'sslrootcert',
  'sslcrl',
  'sslcrldir',
  'gssencmode',
  'channel_binding',
];

/**
 * Patroni keys hapg accepts and ignores (with one warning naming those
 * present), so an existing patroni.yml loads unchanged. Keys that depend on
 * values (custom bootstrap and replica methods) are added by `dynamicNotImplemented`.
 */
export const NODE_NOT_IMPLEMENTED: readonly KeyPattern[] = [
  // other DCSs, and etcd's v2 API
  ...['etcd', 'consul', 'zookeeper', 'exhibitor', 'raft'].map((k) => [k]),
  // what Patroni's Kubernetes store needs and hapg's label updater does not
  ...[
    'labels',
    'scope_label',
    'use_endpoints',
    'pod_ip',
    'ports',
    'bypass_api_service',
    'retriable_http_codes',
    'bootstrap_labels',
  ].map((k) => ['kubernetes', k]),
  ['citus'],
  ['ctl'],
  ['standby_cluster'],
  ['global'],
  // Patroni's threads (4.1)
  ['thread_pool_size'],
  ['thread_stack_size'],
  ...[
    'http_extra_headers',
    'https_extra_headers',
    'keyfile_password',
    'ciphers',
    'request_queue_size',
    'server_tokens',
    'thread_pool_size',
  ].map((k) => ['restapi', k]),
  ...['srv', 'srv_suffix', 'url', 'proxy', 'use_proxies', 'retry_timeout'].map((k) => ['etcd3', k]),
  ...[
    'custom_conf',
    'recovery_conf',
    'pg_ctl_timeout',
    // replication and pg_rewind connect to other hosts: always TCP in hapg
    'use_unix_socket_repl',
    'config_dir',
    'bin_name',
    'proxy_address',
    'pg_ident',
    'replica_method',
    'remove_data_directory_on_rewind_failure',
    'remove_data_directory_on_diverged_timelines',
    'use_slots',
    'rewind',
    // role-specific overrides (Patroni after 4.1)
    ...['parameters', 'pg_hba', 'pg_ident'].flatMap((k) =>
      ['primary', 'replica', 'standby_leader'].map((role) => `${k}_${role}`),
    ),
  ].map((k) => ['postgresql', k]),
  ...SSL_CONNECTION_KEYS.map((k) => ['postgresql', 'authentication', '*', k]),
  ...['users', 'post_bootstrap', 'post_init'].map((k) => ['bootstrap', k]),
  ...DYNAMIC_NOT_IMPLEMENTED.map((p) => ['bootstrap', 'dcs', ...p]),
  ...[
    'traceback_level',
    'format',
    'dateformat',
    'max_queue_size',
    'loggers',
    'type',
    'static_fields',
    'deduplicate_heartbeat_logs',
    'mode',
  ].map((k) => ['log', k]),
  // Patroni's test hook (`testing`), not documented by Patroni
  ['watchdog', 'driver'],
  // tags with a meaning in Patroni that hapg does not give them: not published either
  ...['nostream', 'sync_priority'].map((k) => ['tags', k]),
];

/**
 * Keys whose status depends on values: `bootstrap.method: my_script` (anything but `initdb`)
 * names a custom bootstrap script, configured under `bootstrap.my_script`. hapg does not run
 * custom bootstrap methods yet, so the key and that section are ignored. (Replica methods'
 * `postgresql.<method>` sections are parsed: see `replica-methods.ts`.)
 */
export function dynamicNotImplemented(raw: unknown): KeyPattern[] {
  const out: KeyPattern[] = [];
  const root = isPlainMap(raw) ? raw : {};
  const bootstrap = isPlainMap(root.bootstrap) ? root.bootstrap : {};
  const method = bootstrap.method;
  if (method !== undefined && method !== null && method !== 'initdb') {
    out.push(['bootstrap', 'method']);
    // a section of its own, never one of bootstrap's keys (`method: dcs` must not hide `dcs`)
    const own = Object.hasOwn(BOOTSTRAP_SHAPE, String(method));
    if (typeof method === 'string' && !own && Object.hasOwn(bootstrap, method))
      out.push(['bootstrap', method]);
  }
  return out;
}

export interface Credentials {
  readonly username: string;
  readonly password: string | null;
}

/** The node's own tags, typed by `parseTags` (cluster/tags.ts), and as written. */
export interface Tags extends MemberTags {
  /** every tag as written, user tags included: published in the member JSON */
  readonly all: Readonly<Record<string, unknown>>;
}

/**
 * The pod role label updater (`kubernetes:` section). The pod is the one named like the member
 * (`name`, as in Patroni), in `namespace`.
 */
export interface KubernetesConfig {
  /** null: the pod's own namespace, from the service account's `namespace` file */
  readonly namespace: string | null;
  readonly roleLabel: string;
  readonly leaderLabelValue: string;
  readonly followerLabelValue: string;
  readonly standbyLeaderLabelValue: string;
  /** a second label set to the role's default value (`primary`, `replica`) whatever the values above; null: none */
  readonly tmpRoleLabel: string | null;
  /** null: the service account's `ca.crt` */
  readonly cacert: string | null;
}

/** A callback Patroni runs after a change of Postgres, named by its key. */
export type CallbackAction = 'on_start' | 'on_stop' | 'on_restart' | 'on_reload' | 'on_role_change';

/** `postgresql.callbacks`, `pre_promote` and `before_stop`: commands as written (split with shlex when run). */
export interface HooksConfig {
  readonly callbacks: Readonly<Partial<Record<CallbackAction, string>>>;
  /** a callback still running after this long is killed (with its process group) */
  readonly callbackTimeoutMs: number;
  /** run after the leader key is won, before promoting; a non-zero exit aborts the promotion */
  readonly prePromote: string | null;
  /** a pre_promote still running after this long counts as failed */
  readonly prePromoteTimeoutMs: number;
  /** run, and waited for, before a planned stop of Postgres (never before a safety stop) */
  readonly beforeStop: string | null;
  /** the stop goes on after this long whatever before_stop does */
  readonly beforeStopTimeoutMs: number;
}

/** The validated local config with every default filled, internal names. */
export interface NodeConfig {
  readonly scope: string;
  /** with leading and trailing slash trimmed off: etcd keys are `/<namespace>/<scope>/...` */
  readonly namespace: string;
  readonly name: string;
  readonly restapi: {
    readonly listen: HostPort;
    readonly connectAddress: HostPort;
    readonly authentication: Credentials | null;
    readonly certfile: string | null;
    readonly keyfile: string | null;
    readonly cafile: string | null;
    readonly verifyClient: 'none' | 'optional' | 'required';
    /**
     * `restapi.allowlist`: IP addresses, CIDR blocks and host names allowed to call the unsafe
     * methods; empty (the default) with `allowlistIncludeMembers` false: every address
     */
    readonly allowlist: readonly string[];
    /** `restapi.allowlist_include_members`: the members' `api_url` hosts are allowed too */
    readonly allowlistIncludeMembers: boolean;
  };
  readonly etcd3: {
    readonly hosts: readonly HostPort[];
    readonly protocol: 'http' | 'https';
    readonly username: string | null;
    readonly password: string | null;
    readonly cacert: string | null;
    readonly cert: string | null;
    readonly key: string | null;
  };
  readonly postgresql: {
    readonly listen: ListenAddress;
    readonly connectAddress: HostPort;
    readonly dataDir: string;
    /** null: find the server binaries (pg_config, /usr/lib/postgresql/<v>/bin, PATH) */
    readonly binDir: string | null;
    readonly pgpass: string | null;
    readonly osUser: string;
    readonly authentication: {
      readonly superuser: Credentials;
      readonly replication: Credentials;
      /** null: pg_rewind connects as the superuser */
      readonly rewind: Credentials | null;
    };
    /** names in lower case; parameters hapg manages are left out (see `skippedParameters`) */
    readonly parameters: PgParameters;
    /** `postgresql.parameters` hapg manages itself: ignored with a warning, as Patroni ignores them */
    readonly skippedParameters: readonly ParameterProblem[];
    /** `postgresql.pg_hba` of this node: wins over the dynamic list; null: not set here */
    readonly pgHba: readonly string[] | null;
    /**
     * The agent's own connections to its Postgres go over the Unix socket first (TCP after).
     * Default true (Patroni's is false): the agent's probe must not depend on pg_hba host
     * rules for the node's own address.
     */
    readonly useUnixSocket: boolean;
    /** local override of the dynamic `postgresql.use_pg_rewind`; null: use the dynamic value */
    readonly usePgRewind: boolean | null;
    /** tried in order until one succeeds; `basebackup` is built in, the others are in `replicaMethods` */
    readonly createReplicaMethods: readonly string[];
    /** pg_basebackup arguments, e.g. `--max-rate=100M` */
    readonly basebackupArgs: readonly string[];
    /** every custom method named in `createReplicaMethods`, by name */
    readonly replicaMethods: Readonly<Record<string, ReplicaMethodConfig>>;
    /** `postgresql.callbacks`, `pre_promote`, `before_stop` and their timeouts */
    readonly hooks: HooksConfig;
  };
  readonly bootstrap: {
    /** the dynamic config a bootstrapping node writes to etcd, parsed */
    readonly dcs: DynamicConfig;
    /** the same as written in the YAML (Patroni form), for the `config` key */
    readonly dcsJson: Readonly<Record<string, unknown>>;
    /** initdb arguments, e.g. `--data-checksums`, `--encoding=UTF8` */
    readonly initdbArgs: readonly string[];
    /**
     * `bootstrap.pg_hba`: lines appended to the generated pg_hba.conf while neither the node's
     * nor the dynamic `postgresql.pg_hba` is set (Patroni appends them to initdb's file)
     */
    readonly pgHba: readonly string[] | null;
  };
  readonly tags: Tags;
  readonly log: {
    readonly level: 'debug' | 'info' | 'warn' | 'error' | 'fatal';
    readonly dir: string | null;
    readonly fileNum: number;
    readonly fileSizeBytes: bigint;
  };
  readonly watchdog: {
    readonly mode: 'off' | 'automatic' | 'required';
    readonly device: string;
    readonly safetyMarginMs: number;
  };
  readonly fence: { readonly enabled: boolean };
  readonly events: {
    /** null: no webhook (`GET /events` still answers) */
    readonly webhook: {
      readonly url: string;
      /** sent with every POST (e.g. `Authorization`); never logged */
      readonly headers: Readonly<Record<string, string>>;
      readonly timeoutMs: number;
      readonly queueSize: number;
    } | null;
  };
  /** null: no `kubernetes` section, no label updater */
  readonly kubernetes: KubernetesConfig | null;
}

/** Defaults of the local config that are constants (those derived from other keys are in `toNodeConfig`). */
export const NODE_DEFAULTS = Object.freeze({
  namespace: '/service',
  'restapi.listen': '127.0.0.1:8008',
  'restapi.verify_client': 'none',
  'etcd3.hosts': '127.0.0.1:2379',
  'etcd3.protocol': 'http',
  'postgresql.listen': '127.0.0.1:5432',
  'postgresql.os_user': 'postgres',
  'postgresql.use_unix_socket': true,
  'postgresql.authentication.superuser.username': 'postgres',
  'postgresql.authentication.replication.username': 'replicator',
  'postgresql.create_replica_methods': ['basebackup'],
  'postgresql.callback_timeout': 60,
  'postgresql.pre_promote_timeout': 30,
  'postgresql.before_stop_timeout': 30,
  'log.level': 'INFO',
  'log.file_num': 4,
  'log.file_size': 26214400,
  'watchdog.mode': 'automatic',
  'watchdog.device': '/dev/watchdog',
  'watchdog.safety_margin': 5,
  'fence.enabled': true,
  'events.webhook.timeout': 2,
  'events.webhook.queue_size': 1000,
  'kubernetes.role_label': 'role',
  'kubernetes.leader_label_value': 'primary',
  'kubernetes.follower_label_value': 'replica',
  'kubernetes.standby_leader_label_value': 'primary',
});

const N = NODE_DEFAULTS;

function creds(
  c: { username?: string | undefined; password?: string | undefined },
  defaultUser: string,
): Credentials {
  return { username: c.username ?? defaultUser, password: c.password ?? null };
}

function optionalCreds(c: {
  username?: string | undefined;
  password?: string | undefined;
}): Credentials | null {
  return c.username === undefined ? null : { username: c.username, password: c.password ?? null };
}

function toWebhook(
  w: RawNodeConfig['events']['webhook'],
  problems: ConfigProblem[],
): NodeConfig['events']['webhook'] {
  if (w.url === undefined) return null;
  // core has no URL parser (no platform types): the sender parses it again, this names the key
  if (!/^https?:\/\/[^\s/?#]+(?:[/?#]\S*)?$/i.test(w.url)) {
    problems.push({
      path: ['events', 'webhook', 'url'],
      message: `must be an http:// or https:// URL, got ${JSON.stringify(w.url)}`,
    });
    return null;
  }
  return {
    url: w.url,
    headers: withoutUndefined(w.headers ?? {}) as Record<string, string>,
    timeoutMs: Math.round((w.timeout ?? N['events.webhook.timeout']) * 1000),
    queueSize: w.queue_size ?? N['events.webhook.queue_size'],
  };
}

/** The keys that were set (zod's output spells the others as undefined). */
function withoutUndefined<T extends object>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

/** A connect address defaults to the listen address, which must then name a real host. */
function connectAddress(
  explicit: HostPort | undefined,
  listen: HostPort,
  key: string,
  problems: ConfigProblem[],
): HostPort {
  if (explicit) return explicit;
  if (isWildcardHost(listen.host)) {
    problems.push({
      path: [key.split('.')[0]!, 'connect_address'],
      message: `required when ${key} is a wildcard address (${listen.host})`,
    });
  }
  return listen;
}

/** The YAML's tags, read by the one rule every member's tags are read by (`parseTags`). */
function toTags(t: RawNodeConfig['tags']): Tags {
  const all: Record<string, unknown> = { ...t };
  for (const [k, v] of Object.entries(all)) if (v === undefined) delete all[k];
  return { ...parseTags(all), all };
}

function toKubernetes(k: RawNodeConfig['kubernetes']): KubernetesConfig | null {
  if (k === undefined) return null;
  return {
    namespace: k.namespace ?? null,
    roleLabel: k.role_label ?? N['kubernetes.role_label'],
    leaderLabelValue: k.leader_label_value ?? N['kubernetes.leader_label_value'],
    followerLabelValue: k.follower_label_value ?? N['kubernetes.follower_label_value'],
    standbyLeaderLabelValue: k.standby_leader_label_value ?? N['kubernetes.standby_leader_label_value'],
    tmpRoleLabel: k.tmp_role_label ?? null,
    cacert: k.cacert ?? null,
  };
}

const DEFAULT_RESTAPI_LISTEN: HostPort = { host: '127.0.0.1', port: 8008 };
const DEFAULT_PG_LISTEN: ListenAddress = { hosts: ['127.0.0.1'], port: 5432 };
const DEFAULT_ETCD_HOSTS: readonly HostPort[] = [{ host: '127.0.0.1', port: 2379 }];

const MALFORMED = (p: ParameterProblem) => p.code !== 'MANAGED';
const UNKNOWN_WARNINGS_MAX = 20;

/**
 * The YAML's parameters (the node's and `bootstrap.dcs`'s): a malformed name or value is an
 * error; one hapg manages is ignored, with a warning (`parameterWarnings`), as Patroni ignores
 * `listen_addresses` and `port`.
 */
function yamlParameters(
  local: Readonly<Record<string, unknown>>,
  dcs: DynamicConfig,
  problems: ConfigProblem[],
): { valid: PgParameters; skipped: readonly ParameterProblem[] } {
  const split = splitParameters(local, { known: null });
  problems.push(...parameterConfigProblems(split.problems.filter(MALFORMED)));
  problems.push(
    ...parameterConfigProblems(dcs.postgresql.skippedParameters.filter(MALFORMED), [
      'bootstrap',
      'dcs',
      'postgresql',
      'parameters',
    ]),
  );
  return { valid: split.valid, skipped: split.problems.filter((p) => !MALFORMED(p)) };
}

/**
 * Warnings about the YAML's parameters: those ignored because hapg manages them, and names
 * PostgreSQL 15 does not know (kept: the agent checks them against its server's `pg_settings`
 * and skips them, with a warning, if that does not know them either).
 */
export function parameterWarnings(config: NodeConfig): string[] {
  const out: string[] = [];
  const sections: [string[], NodeConfig['postgresql']['parameters'], readonly ParameterProblem[]][] = [
    [['postgresql', 'parameters'], config.postgresql.parameters, config.postgresql.skippedParameters],
    [
      ['bootstrap', 'dcs', 'postgresql', 'parameters'],
      config.bootstrap.dcs.postgresql.parameters,
      config.bootstrap.dcs.postgresql.skippedParameters,
    ],
  ];
  for (const [prefix, valid, skipped] of sections) {
    for (const p of skipped) out.push(`${formatPath([...prefix, p.name])}: ignored: ${p.text}`);
    const unknown = Object.keys(valid).filter((n) => !n.includes('.') && !PG15_PARAMETERS.names.has(n));
    // each named with a suggestion up to a bound (a suggestion costs a scan of the list)
    for (const name of unknown.slice(0, UNKNOWN_WARNINGS_MAX))
      out.push(`${formatPath([...prefix, name])}: ${checkParameterKnown(name, PG15_PARAMETERS)!.text}`);
    if (unknown.length > UNKNOWN_WARNINGS_MAX)
      out.push(
        `${formatPath(prefix)}: ${unknown.length - UNKNOWN_WARNINGS_MAX} more names PostgreSQL 15 does not know`,
      );
  }
  return out;
}

/** Fills derived defaults; problems found here (wildcard listen without connect_address) are returned. */
export function toNodeConfig(
  raw: RawNodeConfig,
  dcs: DynamicConfig,
  dcsJson: Readonly<Record<string, unknown>>,
  replicaMethods: Readonly<Record<string, ReplicaMethodConfig>> = {},
): { config: NodeConfig; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const { restapi: api, etcd3, postgresql: pg, log, watchdog } = raw;
  const apiListen = api.listen ?? DEFAULT_RESTAPI_LISTEN;
  const pgListen = pg.listen ?? DEFAULT_PG_LISTEN;
  const pgListenFirst = { host: pgListen.hosts[0]!, port: pgListen.port };
  const params = yamlParameters(pg.parameters, dcs, problems);
  const config: NodeConfig = {
    scope: raw.scope,
    namespace: (raw.namespace ?? N.namespace).replace(/^\/+|\/+$/g, ''),
    name: raw.name,
    restapi: {
      listen: apiListen,
      connectAddress: connectAddress(api.connect_address, apiListen, 'restapi.listen', problems),
      authentication: optionalCreds(api.authentication),
      certfile: api.certfile ?? null,
      keyfile: api.keyfile ?? null,
      cafile: api.cafile ?? null,
      verifyClient: api.verify_client ?? 'none',
      allowlist: api.allowlist ?? [],
      allowlistIncludeMembers: api.allowlist_include_members ?? false,
    },
    etcd3: {
      hosts: etcd3.hosts ?? (etcd3.host ? [etcd3.host] : DEFAULT_ETCD_HOSTS),
      protocol: etcd3.protocol ?? 'http',
      username: etcd3.username ?? null,
      password: etcd3.password ?? null,
      cacert: etcd3.cacert ?? null,
      cert: etcd3.cert ?? null,
      key: etcd3.key ?? null,
    },
    postgresql: {
      listen: pgListen,
      connectAddress: connectAddress(pg.connect_address, pgListenFirst, 'postgresql.listen', problems),
      dataDir: pg.data_dir,
      binDir: pg.bin_dir === undefined || pg.bin_dir === '' ? null : pg.bin_dir,
      pgpass: pg.pgpass ?? null,
      osUser: pg.os_user ?? N['postgresql.os_user'],
      authentication: {
        superuser: creds(pg.authentication.superuser, N['postgresql.authentication.superuser.username']),
        replication: creds(
          pg.authentication.replication,
          N['postgresql.authentication.replication.username'],
        ),
        rewind: optionalCreds(pg.authentication.rewind),
      },
      parameters: params.valid,
      skippedParameters: params.skipped,
      pgHba: pg.pg_hba ?? null,
      useUnixSocket: pg.use_unix_socket ?? N['postgresql.use_unix_socket'],
      usePgRewind: pg.use_pg_rewind ?? null,
      createReplicaMethods: pg.create_replica_methods ?? N['postgresql.create_replica_methods'],
      basebackupArgs: pg.basebackup ?? [],
      replicaMethods,
      hooks: {
        callbacks: withoutUndefined(pg.callbacks),
        callbackTimeoutMs: (pg.callback_timeout ?? N['postgresql.callback_timeout']) * 1000,
        prePromote: pg.pre_promote ?? null,
        prePromoteTimeoutMs: (pg.pre_promote_timeout ?? N['postgresql.pre_promote_timeout']) * 1000,
        beforeStop: pg.before_stop ?? null,
        beforeStopTimeoutMs: (pg.before_stop_timeout ?? N['postgresql.before_stop_timeout']) * 1000,
      },
    },
    bootstrap: { dcs, dcsJson, initdbArgs: raw.bootstrap.initdb ?? [], pgHba: raw.bootstrap.pg_hba ?? null },
    tags: toTags(raw.tags),
    log: {
      level: log.level ?? 'info',
      dir: log.dir ?? null,
      fileNum: log.file_num ?? N['log.file_num'],
      fileSizeBytes: log.file_size ?? BigInt(N['log.file_size']),
    },
    watchdog: {
      mode: watchdog.mode ?? 'automatic',
      device: watchdog.device ?? N['watchdog.device'],
      safetyMarginMs: (watchdog.safety_margin ?? N['watchdog.safety_margin']) * 1000,
    },
    fence: { enabled: raw.fence.enabled ?? N['fence.enabled'] },
    events: { webhook: toWebhook(raw.events.webhook, problems) },
    kubernetes: toKubernetes(raw.kubernetes),
  };
  return { config, problems };
}
