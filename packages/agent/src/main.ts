#!/usr/bin/env -S node --max-semi-space-size=1
import { EventJournal, WebhookSender } from './events/index.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  effectiveDynamicConfig,
  effectivePgHba,
  errorText,
  mergeParameters,
  type NodeConfig,
} from '@hapg/core';
import { EtcdStore } from '@hapg/dcs';
import { loadNodeConfigFile, systemClock } from '@hapg/platform';
import { PostgresNode } from '@hapg/postgres';
import { readFile } from 'node:fs/promises';
import { configuredAllowList } from './api/allowlist.js';
import { type ApiTlsOptions, buildApi } from './api/build.js';
import { dashboard } from './ui/wiring.js';
import { ClusterOps } from './cluster-ops/cluster-ops.js';
import { type ActionReply, reply } from './cluster-ops/reply.js';
import { NodeActions } from './node-actions.js';
import { reloadNodeConfig } from './reload.js';
import { retryForever } from './backoff.js';
import { fenceAdapter } from './fence-adapter.js';
import { FenceClient } from './fence/client.js';
import { FailsafePromises, LongestPromiseFile } from './failsafe/index.js';
import { HaLoop } from './ha.js';
import { LocalPostgres } from './local-pg.js';
import { createLogger, type Logger, openLogFiles } from './logger.js';
import { createMetrics } from './metrics.js';
import { VERSION } from './version.js';

const USAGE = `usage: hapg --config <node.yaml>
       hapg --validate-config <node.yaml>
       hapg --version`;

/** Exit codes: 0 ok, 1 failure at run time, 2 bad usage or bad config (nothing started). */
async function main(argv: readonly string[]): Promise<number> {
  const [flag, path] = argv;
  if (flag === '--version') {
    process.stdout.write(`hapg ${VERSION}\n`);
    return 0;
  }
  if ((flag !== '--config' && flag !== '--validate-config') || path === undefined || argv.length > 2) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  let config: NodeConfig;
  let warnings: readonly string[];
  try {
    ({ config, warnings } = loadNodeConfigFile(path));
  } catch (e) {
    process.stderr.write(`hapg: ${errorText(e)}\n`);
    return 2;
  }
  for (const w of warnings) process.stderr.write(`hapg: warning: ${w}\n`);
  if (flag === '--validate-config') {
    process.stdout.write(`${path}: ok\n`);
    return 0;
  }
  const log = createLogger({
    member: config.name,
    scope: config.scope,
    level: config.log.level.toLowerCase(),
    // log.dir: rotated files (log.file_size, log.file_num); none: stdout, for journald
    ...(config.log.dir ? { stream: await openLogFiles(config.log.dir, config.log) } : {}),
  });
  for (const w of warnings) log.warn({}, w);
  return run(config, log, path);
}

async function run(config: NodeConfig, log: Logger, path: string): Promise<number> {
  const stop = new AbortController();
  const onSignal = (sig: string) => {
    log.info({ signal: sig }, 'shutting down');
    stop.abort();
  };
  // SIGHUP reloads the YAML (below); until then, Node's default — exit — must not apply
  let onHangup = () => log.warn({}, 'SIGHUP during start-up ignored: send it again once hapg has started');
  process.on('SIGHUP', () => onHangup());
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.on('unhandledRejection', (e) => log.error({ err: errorText(e) }, 'unhandled rejection (bug)'));

  const hosts = config.etcd3.hosts.map((h) => `${h.host}:${h.port}`);
  const dcsLog = log.child({ component: 'dcs' });
  // The lease TTL comes from the cluster's config key when it is valid, else from bootstrap.dcs
  // (core's effectiveDynamicConfig, with no previous config: the loop starts from the same).
  const ttlMs = await retryForever(
    async () => {
      const probe = await EtcdStore.open({
        hosts,
        namespace: config.namespace,
        scope: config.scope,
        watch: false,
        retryTimeoutMs: config.bootstrap.dcs.retryTimeoutMs,
      });
      try {
        return effectiveDynamicConfig(probe.view(), null, config.bootstrap.dcs).config.ttlMs;
      } finally {
        await probe.close();
      }
    },
    {
      initialMs: 500,
      maxMs: 10_000,
      signal: stop.signal,
      onError: (e, delayMs) =>
        log.warn({ err: errorText(e), retryInMs: delayMs, hosts }, 'etcd unreachable; retrying'),
    },
  ).catch(() => null);
  if (ttlMs === null) return 0;

  const store = await retryForever(
    () =>
      EtcdStore.open({
        hosts,
        namespace: config.namespace,
        scope: config.scope,
        name: config.name,
        ttlSeconds: Math.ceil(ttlMs / 1000),
        retryTimeoutMs: config.bootstrap.dcs.retryTimeoutMs,
        unwatchedListIntervalMs: config.bootstrap.dcs.loopWaitMs,
        logger: dcsLog,
      }),
    {
      initialMs: 500,
      maxMs: 10_000,
      signal: stop.signal,
      onError: (e, delayMs) =>
        log.warn({ err: errorText(e), retryInMs: delayMs }, 'etcd unreachable; retrying'),
    },
  ).catch(() => null);
  if (store === null) return 0;
  await retryForever(() => store.startLease(), {
    initialMs: 500,
    maxMs: 10_000,
    signal: stop.signal,
    onError: (e, delayMs) =>
      log.warn({ err: errorText(e), retryInMs: delayMs }, 'could not get an etcd lease; retrying'),
  }).catch(() => null);

  const pgc = config.postgresql;
  const node = new PostgresNode({
    name: config.name,
    dataDir: pgc.dataDir,
    binDir: pgc.binDir,
    osUser: pgc.osUser,
    listenHost: pgc.listen.hosts.join(','),
    port: pgc.listen.port,
    superuser: credentials(pgc.authentication.superuser),
    replication: credentials(pgc.authentication.replication),
    // the first render, before the loop renders the dynamic config's: the same merge rule
    parameters: mergeParameters(config.bootstrap.dcs.postgresql.parameters, pgc.parameters),
    // the loop re-applies the list from the current dynamic config before it acts (see HaLoop)
    pgHba: effectivePgHba(config, config.bootstrap.dcs),
    bootstrapPgHba: config.bootstrap.pgHba,
    useUnixSocket: pgc.useUnixSocket,
    selfAddresses: [pgc.connectAddress.host],
    initdbArgs: config.bootstrap.initdbArgs,
    log: log.child({ component: 'postgres' }),
  });
  const pg = new LocalPostgres(node, log.child({ component: 'postgres' }));
  await pg.load();
  const failsafe = await openFailsafe(pgc.dataDir, log.child({ component: 'failsafe' }));

  const fenceLog = log.child({ component: 'fence' });
  const fenceClient = config.fence.enabled
    ? await FenceClient.connectOrSpawn({
        socketPath: `${pgc.dataDir}.fence.sock`,
        spawn: {
          node: process.execPath,
          script: join(dirname(fileURLToPath(import.meta.url)), 'fence', 'main.js'),
          logPath: `${pgc.dataDir}.fence.log`,
          // the fence opens and pets the watchdog while this node is a writable primary
          ...(config.watchdog.mode === 'off' ? {} : { args: ['--watchdog', config.watchdog.device] }),
        },
        log: fenceLog,
      })
    : null;
  if (fenceClient !== null && !fenceClient.status.connected) {
    fenceLog.error({ status: fenceClient.status }, 'fence not available: a frozen agent would not be fenced');
  }

  const metrics = createMetrics({ fence: () => fenceClient?.status ?? null });
  // the pod role label updater: its module is loaded only when configured
  const k8s = config.kubernetes;
  const roleLabels =
    k8s === null
      ? null
      : (await import('./kubernetes/index.js')).startRoleLabels({
          config: { name: config.name, kubernetes: k8s },
          log,
          env: process.env,
        });
  const { events, webhook } = openEvents(config, log.child({ component: 'events' }));
  const ha = new HaLoop({
    events,
    failsafe,
    config,
    store,
    pg,
    fence: fenceAdapter(fenceClient, fenceLog, config.watchdog),
    log,
    metrics,
    clock: systemClock,
    version: VERSION,
    ...(roleLabels !== null ? { onSnapshot: (s) => roleLabels.observe(s) } : {}),
    // a programmer error: exit (systemd restarts us); the fence keeps its arming meanwhile
    onInvariantViolation: () => process.exit(70),
  });
  // The YAML file again (SIGHUP, POST /reload, systemctl reload): what can change live is
  // applied, the rest is reported as needing a restart; a bad file changes nothing.
  let running = config;
  const reloadConfig = (): ActionReply => {
    const r = reloadNodeConfig(path, running);
    if (!r.ok) {
      log.error({ err: r.error }, 'configuration reload refused: the running configuration is kept');
      return reply(422, { code: 'CONFIG_INVALID', error: r.error });
    }
    for (const w of r.warnings) log.warn({}, w);
    running = r.config;
    log.level = running.log.level.toLowerCase();
    ha.setNodeConfig(running);
    nodeActions.setConfig(running);
    const changes = { applied: r.applied, restart_required: r.needRestart, bootstrap_only: r.bootstrapOnly };
    if (r.needRestart.length > 0)
      log.warn(changes, 'configuration reloaded; some changes need a restart of hapg');
    else log.info(changes, 'configuration reloaded');
    return reply(202, { message: 'configuration reloaded', ...changes });
  };
  onHangup = () => void reloadConfig();
  const nodeActions = new NodeActions({
    config,
    store,
    pg,
    ha,
    log: log.child({ component: 'actions' }),
    clock: systemClock,
    reloadConfig,
  });
  const ui = dashboard({ ha, store, events });
  const api = buildApi({
    events,
    ui,
    failsafe: ha.failsafe,
    snapshot: () => ha.snapshot(),
    metrics,
    log,
    auth: () => (running.restapi.authentication ? credentials(running.restapi.authentication) : null),
    // restapi.allowlist(_include_members) of the running config (reloadable), members from etcd
    allowlist: configuredAllowList({
      config: () => running.restapi,
      // and the failsafe key's: a primary cut off from etcd loses its member key, not its place
      // there (Patroni #3096), and only a leader writes that key
      memberApiUrls: () => {
        const view = store.view();
        return [
          ...[...(view?.members.values() ?? [])].map((m) => m.apiUrl),
          ...(view?.failsafe?.members.values() ?? []),
        ];
      },
      log: log.child({ component: 'api' }),
    }),
    ...(config.restapi.certfile && config.restapi.keyfile ? { https: await tlsOptions(config) } : {}),
    actions: nodeActions,
    // PATCH/PUT /config check parameter names against this node's server while it runs
    clusterOps: new ClusterOps({
      store,
      knownParameters: () => node.knownParameters,
      // an invalid stored config: the one this loop runs with, as the loop itself keeps it
      dynamicConfig: { running: () => ha.dynamicConfig(), bootstrap: config.bootstrap.dcs },
    }),
  });
  await api.listen({ host: config.restapi.listen.host, port: config.restapi.listen.port });
  log.info({ listen: config.restapi.listen, version: VERSION }, 'hapg started');
  ha.start();

  await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve()));
  ui.hub.close();
  await shutdown({ ha, pg, store, fenceClient, api, log, roleLabels });
  // the last events (our own demotion) had their chance while the steps above ran
  await webhook?.close();
  return 0;
}

/**
 * Failsafe promises outlive the process (M4): the longest one any run gave is read back, and
 * the loop takes no key until that long after this process started. An unreadable record
 * counts as a five-minute promise (a real one lasts the ttl): refusing to lead for a while
 * beats two primaries.
 */
async function openFailsafe(
  dataDir: string,
  log: Logger,
): Promise<{ promises: FailsafePromises; promiseFile: LongestPromiseFile }> {
  const promiseFile = new LongestPromiseFile(dataDir);
  const longestPromiseMs = await promiseFile.load(UNREADABLE_PROMISE_MS);
  const startedAtMs = systemClock.monotonicMs() - process.uptime() * 1000;
  if (longestPromiseMs > 0)
    log.info(
      { longestPromiseMs, file: promiseFile.path },
      'failsafe: holding off the leader key after start for the longest promise given',
    );
  return { promises: new FailsafePromises({ startedAtMs, longestPromiseMs }), promiseFile };
}

const UNREADABLE_PROMISE_MS = 300_000;

/** The event journal (`GET /events`) and, with `events.webhook.url`, its webhook sender. */
function openEvents(
  config: NodeConfig,
  log: Logger,
): { events: EventJournal; webhook: WebhookSender | null } {
  const events = new EventJournal({ member: config.name, scope: config.scope, log });
  const w = config.events.webhook;
  if (w === null) return { events, webhook: null };
  const webhook = new WebhookSender({
    url: w.url,
    headers: w.headers,
    timeoutMs: w.timeoutMs,
    queueMax: w.queueSize,
    log,
  });
  events.subscribe((e) => webhook.send(e));
  log.info({ webhook: new URL(w.url).origin }, 'events are sent to the webhook');
  return { events, webhook };
}

/** A stopping agent leaves no writable primary behind: stop Postgres, release the key, disarm, revoke. */
async function shutdown(p: {
  ha: HaLoop;
  pg: LocalPostgres;
  store: EtcdStore;
  fenceClient: FenceClient | null;
  api: { close(): Promise<unknown> };
  log: Logger;
  roleLabels: { close(waitMs: number): Promise<void> } | null;
}): Promise<void> {
  const { ha, pg, store, fenceClient, api, log } = p;
  await ha.stop();
  try {
    const role = pg.lastStatus?.inRecovery === false ? 'primary' : 'replica';
    if (pg.node.running) await ha.hooks.beforeStop();
    await pg.stop('fast');
    ha.hooks.changed('stopped', role);
  } catch (e) {
    log.error({ err: errorText(e) }, 'could not stop Postgres');
  }
  // no Service selects a pod whose Postgres is stopped (bounded: the key release comes next)
  await p.roleLabels?.close(2000);
  await store
    .releaseLeader()
    .catch((e) => log.warn({ err: errorText(e) }, 'could not release the leader key'));
  if (fenceClient) {
    await fenceClient.disarm().catch(() => {});
    await fenceClient.shutdownFence().catch(() => {});
    fenceClient.close();
  }
  await store.close({ revoke: true }).catch(() => {});
  await api.close().catch(() => {});
  pg.node.close();
  // a callback still running (on_stop) is left to finish: it runs in its own process group,
  // as Patroni's outlive Patroni
  log.info({}, 'hapg stopped');
}

async function tlsOptions(config: NodeConfig): Promise<ApiTlsOptions> {
  const r = config.restapi;
  return {
    cert: await readFile(r.certfile!),
    key: await readFile(r.keyfile!),
    ...(r.cafile ? { ca: await readFile(r.cafile) } : {}),
    verifyClient: r.verifyClient,
  };
}

function credentials(c: { username: string; password: string | null }): {
  username: string;
  password: string;
} {
  return { username: c.username, password: c.password ?? '' };
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`hapg: ${errorText(e)}\n`);
    process.exit(1);
  },
);
