import { type SpawnOptions, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { chown, copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lookupOsUser } from '@hapg/postgres';
import pg from 'pg';
import { stringify } from 'yaml';
import { type EtcdCluster, startEtcd } from './etcd.js';
import { ClockControl, SmallDisk } from './host-faults.js';
import { type NetHost, NetLab } from './netns.js';
import { freePorts, sleep, spawnTracked, type TrackedProcess, waitFor } from './proc.js';
import { TEST_PARAMETERS, TEST_REPLICATION, TEST_SUPERUSER } from './postgres.js';
import {
  type Ack,
  type CheckResult,
  checkAcks,
  prepareWriterTable,
  Writer,
  type WriterOptions,
  type WriteTarget,
} from './writer.js';

/**
 * A real hapg cluster on loopback: etcd, and N agents (each starting its own
 * Postgres and fence) running as the `postgres` OS user from the built
 * `packages/agent/dist/main.js`. Used by the e2e tests and the demo.
 */
export interface ClusterOptions {
  readonly nodes: number;
  readonly scope?: string;
  /** seconds, as in the YAML */
  readonly ttl?: number;
  readonly loopWait?: number;
  readonly retryTimeout?: number;
  readonly primaryStartTimeout?: number;
  readonly etcdMembers?: 1 | 3;
  /** extra bootstrap.dcs keys */
  readonly dcs?: Readonly<Record<string, unknown>>;
  readonly tags?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** fixed ports instead of free ones (the demo): node i gets pgPort+i, restPort+i */
  readonly fixedPorts?: { readonly etcd?: number; readonly pg: number; readonly rest: number };
  /** keep data here instead of a temp dir */
  readonly baseDir?: string;
  readonly parameters?: Readonly<Record<string, string | number | boolean>>;
  /** `restapi.authentication` of every node (unsafe REST methods then need it) */
  readonly restapiAuth?: { readonly username: string; readonly password: string };
  /**
   * `netns`: every node and every etcd member is its own host in a network namespace with its
   * own address (`cluster.net` cuts and heals packet paths between them; tests must run as
   * root). Default `loopback`: every process on 127.0.0.1 with free ports.
   */
  readonly network?: 'loopback' | 'netns';
  /** each agent (and its Postgres) runs under libfaketime: `node.clock.step(s)` steps its wall clock */
  readonly clockControl?: boolean;
  /** each node's directory is a tmpfs of this many MiB: `node.disk.fill()` makes its disk full */
  readonly diskMb?: number;
  /**
   * What runs on each node from its YAML: hapg's agent (default), or Debian's `patroni` from
   * the same file (benchmarks side by side; Patroni has no fence and no hapg-only endpoints).
   */
  readonly manager?: 'hapg' | 'patroni';
  /** `loopback` only: the address every node listens on and advertises instead of 127.0.0.1 (e.g. 127.0.0.2) */
  readonly loopbackHost?: string;
  /** edits each node's YAML before it is written (extra keys, a Patroni-style file) */
  readonly nodeYaml?: (name: string, yaml: Record<string, unknown>) => Record<string, unknown>;
  /** node process stdio goes to `<baseDir>/<name>.agent.log` */
}

export interface AgentNode {
  readonly name: string;
  /** the address its Postgres and REST API listen on (127.0.0.1, or its namespace's) */
  readonly host: string;
  /** its network namespace, when the cluster runs on `netns` hosts */
  readonly netHost: NetHost | null;
  /** its steppable wall clock (`clockControl`) */
  readonly clock: ClockControl | null;
  /** its small disk (`diskMb`) */
  readonly disk: SmallDisk | null;
  readonly pgPort: number;
  readonly restPort: number;
  readonly dataDir: string;
  readonly configPath: string;
  readonly logPath: string;
  readonly apiUrl: string;
  process(): TrackedProcess | null;
  start(): Promise<void>;
  /** SIGTERM the agent and wait for it to exit (it stops its Postgres and releases the key) */
  stop(): Promise<void>;
  /** signal only the agent process */
  signalAgent(sig: NodeJS.Signals): void;
  /** pid of the postmaster from postmaster.pid, or null */
  postmasterPid(): Promise<number | null>;
  /** pid of this node's fence, or null */
  fencePid(): Promise<number | null>;
}

/** The fields of `GET /patroni` the tests look at. */
export interface PatroniStatus {
  readonly state?: string;
  readonly role?: string;
  readonly pause?: boolean;
  readonly timeline?: number;
  readonly replication?: readonly unknown[];
  readonly xlog?: {
    readonly location?: number;
    readonly received_location?: number;
    readonly replayed_location?: number;
  };
  readonly pending_restart?: boolean;
  readonly tags?: Readonly<Record<string, unknown>>;
}

/**
 * Agents run as the `postgres` user when they can read the build (as in production); in a
 * checkout the `postgres` user cannot reach (e.g. under a 0700 home directory) they run as
 * root, and the agent runs the server binaries as `postgresql.os_user` itself.
 */
let agentUserChecked: boolean | undefined;
function postgresCanReadAgent(): boolean {
  agentUserChecked ??=
    spawnSync('runuser', ['-u', 'postgres', '--', 'test', '-r', AGENT_MAIN], { stdio: 'ignore' }).status ===
    0;
  return agentUserChecked;
}

/** Whether the test agents run as `postgres` (else as root: the checkout is closed to that user). */
export function agentsRunAsPostgres(): boolean {
  return process.getuid?.() === 0 && postgresCanReadAgent();
}

/** The built entry points, through the packages' `./main` exports (never a path into another package). */
export const AGENT_MAIN = fileURLToPath(import.meta.resolve('@hapg/agent/main'));
export const HACTL_MAIN = fileURLToPath(import.meta.resolve('@hapg/cli/main'));

/**
 * The node flags the agent's `#!` line gives it (`env -S node …`): the test agents run as the
 * installed `hapg` does, with the heap it is measured with (issue 15), from that one line.
 */
export function agentNodeFlags(): string[] {
  const line = readFileSync(AGENT_MAIN, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\/usr\/bin\/env -S node((?: \S+)*)\s*$/.exec(line);
  return m === null
    ? []
    : m[1]!
        .trim()
        .split(/\s+/)
        .filter((f) => f !== '');
}

export class TestCluster {
  readonly etcd: EtcdCluster;
  readonly nodes: readonly AgentNode[];
  readonly baseDir: string;
  readonly scope: string;
  /** the namespaced hosts (cut, heal), when started with `network: 'netns'` */
  readonly net: NetLab | null;
  readonly #ownsBase: boolean;
  readonly #manager: 'hapg' | 'patroni';

  private constructor(
    parts: { etcd: EtcdCluster; nodes: AgentNode[]; baseDir: string; scope: string; net: NetLab | null },
    ownsBase: boolean,
    manager: 'hapg' | 'patroni',
  ) {
    this.#manager = manager;
    this.etcd = parts.etcd;
    this.nodes = parts.nodes;
    this.baseDir = parts.baseDir;
    this.scope = parts.scope;
    this.net = parts.net;
    this.#ownsBase = ownsBase;
  }

  static async start(opts: ClusterOptions): Promise<TestCluster> {
    const net = opts.network === 'netns' ? await netLabFor(opts) : null;
    try {
      return await TestCluster.#start(opts, net);
    } catch (e) {
      await net?.close();
      throw e;
    }
  }

  static async #start(opts: ClusterOptions, net: NetLab | null): Promise<TestCluster> {
    const scope = opts.scope ?? 'test';
    const etcdMembers = opts.etcdMembers ?? 1;
    const etcd = await startEtcd({
      members: etcdMembers,
      ...(net ? { hosts: Array.from({ length: etcdMembers }, (_, i) => net.host(`etcd${i + 1}`)) } : {}),
    });
    const osUser = await lookupOsUser('postgres');
    const ownsBase = opts.baseDir === undefined;
    const baseDir = opts.baseDir ?? (await mkdtemp(join(tmpdir(), 'hapg-cluster-')));
    await mkdir(baseDir, { recursive: true });
    await chown(baseDir, osUser.uid, osUser.gid).catch(() => {});
    const ports = net
      ? Array.from({ length: opts.nodes * 2 }, (_, i) => (i % 2 === 0 ? NETNS_PG_PORT : NETNS_REST_PORT))
      : opts.fixedPorts
        ? Array.from({ length: opts.nodes * 2 }, (_, i) =>
            i % 2 === 0 ? opts.fixedPorts!.pg + i / 2 : opts.fixedPorts!.rest + (i - 1) / 2,
          )
        : await freePorts(opts.nodes * 2);
    const nodes: AgentNode[] = [];
    for (let i = 0; i < opts.nodes; i++) {
      const name = `node${i + 1}`;
      const pgPort = ports[2 * i]!;
      const restPort = ports[2 * i + 1]!;
      const dir = join(baseDir, name);
      await mkdir(dir, { recursive: true });
      const disk = opts.diskMb ? await SmallDisk.mount(dir, opts.diskMb, osUser) : null;
      const clock = opts.clockControl ? new ClockControl(baseDir, name) : null;
      await clock?.step(0);
      await chown(dir, osUser.uid, osUser.gid).catch(() => {});
      const dataDir = join(dir, 'data');
      const configPath = join(baseDir, `${name}.yaml`);
      const netHost = net?.host(name) ?? null;
      const host = netHost?.address ?? opts.loopbackHost ?? '127.0.0.1';
      const yaml = {
        scope,
        name,
        restapi: {
          listen: `${host}:${restPort}`,
          connect_address: `${host}:${restPort}`,
          ...(opts.restapiAuth ? { authentication: { ...opts.restapiAuth } } : {}),
        },
        etcd3: { hosts: etcd.endpoints },
        bootstrap: {
          dcs: {
            ttl: opts.ttl ?? 10,
            loop_wait: opts.loopWait ?? 2,
            retry_timeout: opts.retryTimeout ?? 3,
            ...(opts.primaryStartTimeout !== undefined
              ? { primary_start_timeout: opts.primaryStartTimeout }
              : {}),
            ...opts.dcs,
          },
        },
        postgresql: {
          listen: `${host}:${pgPort}`,
          connect_address: `${host}:${pgPort}`,
          data_dir: dataDir,
          authentication: {
            superuser: { ...TEST_SUPERUSER },
            replication: { ...TEST_REPLICATION },
          },
          parameters: {
            ...TEST_PARAMETERS,
            // every host uses port 5432: each needs its own socket directory on the shared disk
            ...(net ? { unix_socket_directories: dir } : {}),
            ...opts.parameters,
          },
          ...(net ? { pg_hba: labPgHba(net) } : {}),
        },
        ...(opts.tags?.[name] ? { tags: opts.tags[name] } : {}),
        // tests SIGKILL fences: a host's real /dev/watchdog would reset it (nodeYaml may opt in)
        watchdog: { mode: 'off' },
      };
      const written = opts.nodeYaml ? opts.nodeYaml(name, yaml) : yaml;
      await writeFile(configPath, stringify(written), { mode: 0o600 });
      await chown(configPath, osUser.uid, osUser.gid).catch(() => {});
      nodes.push(
        makeNode({
          name,
          manager: opts.manager ?? 'hapg',
          host,
          netHost,
          clock,
          disk,
          pgPort,
          restPort,
          dataDir,
          configPath,
          logPath: join(baseDir, `${name}.agent.log`),
          osUser,
        }),
      );
    }
    const cluster = new TestCluster({ etcd, nodes, baseDir, scope, net }, ownsBase, opts.manager ?? 'hapg');
    for (const n of nodes) await n.start();
    return cluster;
  }

  /** GET a JSON endpoint of a node's REST API; null when it does not answer. */
  async api(node: AgentNode, path: string): Promise<{ status: number; body: unknown } | null> {
    try {
      const res = await fetch(`http://${node.host}:${node.restPort}${path}`, {
        signal: AbortSignal.timeout(2000),
      });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON
      }
      return { status: res.status, body };
    } catch {
      return null;
    }
  }

  /** A node's Postgres as the writer and the checker address it. */
  target(node: AgentNode): WriteTarget {
    return { name: node.name, host: node.host, port: node.pgPort };
  }

  /** Creates the writer's table on `primary`, as the superuser. */
  prepareWriterTable(primary: AgentNode): Promise<void> {
    return prepareWriterTable(this.target(primary), TEST_SUPERUSER.username, TEST_SUPERUSER.password);
  }

  /** The writer's acknowledged ids missing on `primary`, and overlapping reigns (testkit's `checkAcks`). */
  checkAcks(acks: readonly Ack[], primary: AgentNode): Promise<CheckResult> {
    return checkAcks(acks, this.target(primary), TEST_SUPERUSER.username, TEST_SUPERUSER.password);
  }

  /** A writer to every node as the superuser (a client that does not know who the primary is). */
  writer(opts: Partial<WriterOptions> = {}): Writer {
    return new Writer({
      targets: this.nodes.map((n) => this.target(n)),
      user: TEST_SUPERUSER.username,
      password: TEST_SUPERUSER.password,
      ...opts,
    });
  }

  /** A node's `GET /patroni` body; `{}` when it does not answer. */
  async patroni(node: AgentNode): Promise<PatroniStatus> {
    const r = await this.api(node, '/patroni');
    return (r !== null && typeof r.body === 'object' && r.body !== null ? r.body : {}) as PatroniStatus;
  }

  /** The node whose `/primary` answers 200, if exactly one does. */
  async primary(): Promise<AgentNode | null> {
    const codes = await Promise.all(
      this.nodes.map(async (n) => (await this.api(n, '/primary'))?.status ?? 0),
    );
    const primaries = this.nodes.filter((_, i) => codes[i] === 200);
    return primaries.length === 1 ? primaries[0]! : null;
  }

  async waitForPrimary(timeoutMs = 60_000, not?: AgentNode): Promise<AgentNode> {
    return waitFor(
      async () => {
        const p = await this.primary();
        return p !== null && p !== not ? p : null;
      },
      { timeoutMs, intervalMs: 100, what: 'a primary' },
    );
  }

  /** Waits until every node (or the given ones) runs Postgres and every replica streams from the primary. */
  async waitHealthy(timeoutMs = 120_000, nodes: readonly AgentNode[] = this.nodes): Promise<AgentNode> {
    // The primary is asked again on every poll: one picked once may be a primary just cut off
    // that answered /primary alone for a moment before the new one was promoted (fast failover
    // deposes it while its lease lives); waiting for the new primary to stream would never end.
    return waitFor(
      async () => {
        const primary = await this.primary();
        if (primary === null) return null;
        if (this.#manager === 'patroni') {
          // Patroni 3.0.2 has no `replication_state` filter: ask the primary who streams from it
          const rows = await this.sql<{ n: string }>(
            primary,
            "SELECT application_name AS n FROM pg_stat_replication WHERE state = 'streaming'",
          );
          return nodes.every((n) => n === primary || rows.some((r) => r.n === n.name)) ? primary : null;
        }
        for (const n of nodes) {
          if (n === primary) continue;
          const r = await this.api(n, '/replica?replication_state=streaming');
          if (r?.status !== 200) return null;
        }
        return primary;
      },
      { timeoutMs, intervalMs: 200, what: 'a primary and all replicas streaming' },
    );
  }

  /** Runs SQL on a node's Postgres as the superuser. */
  async sql<R = Record<string, unknown>>(
    node: AgentNode,
    text: string,
    values: unknown[] = [],
    opts: { timeoutMs?: number } = {},
  ): Promise<R[]> {
    const timeoutMs = opts.timeoutMs ?? 3000;
    const c = new pg.Client({
      host: node.host,
      port: node.pgPort,
      user: TEST_SUPERUSER.username,
      password: TEST_SUPERUSER.password,
      database: 'postgres',
      connectionTimeoutMillis: timeoutMs,
      query_timeout: timeoutMs,
    });
    c.on('error', () => {});
    await c.connect();
    try {
      return (await c.query(text, values)).rows as R[];
    } finally {
      await c.end().catch(() => {});
    }
  }

  /** Host death: SIGKILL the agent, its fence and its postmaster (and the postmaster's children). */
  async killHost(node: AgentNode): Promise<void> {
    if (node.netHost !== null) {
      // a namespaced host: every process in it, whatever started it
      for (const pid of await node.netHost.pids()) killQuiet(pid, 'SIGKILL');
    }
    const pids = [await node.fencePid(), await node.postmasterPid()].filter((p): p is number => p !== null);
    node.signalAgent('SIGKILL');
    for (const pid of pids) killQuiet(pid, 'SIGKILL');
    await killMatching(node.dataDir, 'SIGKILL');
    await node.process()?.exited;
  }

  /** `synchronous_standby_names` of a node's running Postgres. */
  async ssn(node: AgentNode): Promise<string> {
    const rows = await this.sql<{ v: string }>(
      node,
      "SELECT current_setting('synchronous_standby_names') AS v",
    );
    return rows[0]?.v ?? '';
  }

  /**
   * Waits for a primary whose `synchronous_standby_names` names `count` standbys in `mode`
   * (`FIRST`/`ANY`), each of them answering `/sync` (`/quorum`) with 200.
   */
  async waitSync(
    mode: 'on' | 'quorum',
    count = 1,
    timeoutMs = 60_000,
  ): Promise<{ primary: AgentNode; sync: AgentNode[] }> {
    const endpoint = mode === 'on' ? '/sync' : '/quorum';
    const prefix = mode === 'on' ? 'FIRST' : 'ANY';
    return waitFor(
      async () => {
        const primary = await this.primary();
        if (primary === null) return null;
        const sync: AgentNode[] = [];
        for (const n of this.nodes) if ((await this.api(n, endpoint))?.status === 200) sync.push(n);
        const ssn = await this.ssn(primary).catch(() => '');
        const ok =
          sync.length === count && ssn.startsWith(prefix) && sync.every((n) => ssn.includes(`"${n.name}"`));
        return ok ? { primary, sync } : null;
      },
      { timeoutMs, intervalMs: 200, what: `a primary with ${count} ${mode} standby(s)` },
    );
  }

  /** `PATCH /config` on the primary (the dynamic config, as `hactl edit-config` writes it). */
  async patchConfig(
    patch: Readonly<Record<string, unknown>>,
    auth?: { readonly username: string; readonly password: string },
  ): Promise<void> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (auth)
      headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    // 503: the agent's etcd connection is still recovering (e.g. right after a healed cut, TCP
    // backoff): the API says so, and a merge patch is safe to send again
    const deadlineMs = Date.now() + 20_000;
    for (;;) {
      const primary = await this.waitForPrimary();
      const res = await fetch(`http://${primary.host}:${primary.restPort}/config`, {
        method: 'PATCH',
        headers,
        body: JSON.stringify(patch),
        signal: AbortSignal.timeout(10_000),
      });
      if (res.ok) return;
      const text = await res.text();
      if (res.status !== 503 || Date.now() > deadlineMs)
        throw new Error(`PATCH /config: ${res.status} ${text}`);
      await sleep(500);
    }
  }

  /**
   * A host frozen as by a partition or a stalled VM, except its fence: SIGSTOP of the agent,
   * the postmaster and every Postgres child. Returns what `thawHost` must wake.
   */
  async freezeHost(node: AgentNode): Promise<number[]> {
    const postmaster = await node.postmasterPid();
    const pids = postmaster === null ? [] : [postmaster, ...(await childPids(postmaster))];
    node.signalAgent('SIGSTOP');
    for (const pid of pids) killQuiet(pid, 'SIGSTOP');
    return pids;
  }

  thawHost(node: AgentNode, pids: readonly number[]): void {
    for (const pid of pids) killQuiet(pid, 'SIGCONT');
    node.signalAgent('SIGCONT');
  }

  async close(): Promise<void> {
    for (const n of this.nodes) n.signalAgent('SIGKILL');
    await killMatching(this.baseDir, 'SIGKILL');
    await sleep(100);
    await killMatching(this.baseDir, 'SIGKILL');
    await this.etcd.close();
    await this.net?.close();
    for (const n of this.nodes) {
      // a small disk is a tmpfs: its server log goes with it unless saved for the post-mortem
      if (n.disk && process.env.HAPG_KEEP_TEST_DIRS === '1')
        await copyFile(`${n.dataDir}.log`, join(this.baseDir, `${n.name}.postgres.log`)).catch(() => {});
      n.disk?.unmountSync();
    }
    // HAPG_KEEP_TEST_DIRS=1 keeps data dirs and agent logs for a post-mortem.
    if (!this.#ownsBase) return;
    if (process.env.HAPG_KEEP_TEST_DIRS === '1') console.log(`cluster files kept in ${this.baseDir}`);
    else await rm(this.baseDir, { recursive: true, force: true }).catch(() => {});
  }
}

function makeNode(p: {
  name: string;
  manager: 'hapg' | 'patroni';
  host: string;
  netHost: NetHost | null;
  clock: ClockControl | null;
  disk: SmallDisk | null;
  pgPort: number;
  restPort: number;
  dataDir: string;
  configPath: string;
  logPath: string;
  osUser: { uid: number; gid: number };
}): AgentNode {
  let proc: TrackedProcess | null = null;
  return {
    name: p.name,
    host: p.host,
    netHost: p.netHost,
    clock: p.clock,
    disk: p.disk,
    pgPort: p.pgPort,
    restPort: p.restPort,
    dataDir: p.dataDir,
    configPath: p.configPath,
    logPath: p.logPath,
    apiUrl: `http://${p.host}:${p.restPort}`,
    process: () => proc,
    async start() {
      if (proc !== null && proc.child.exitCode === null && proc.child.signalCode === null) return;
      const fd = openSync(p.logPath, 'a');
      const asPostgres = agentsRunAsPostgres();
      const [cmd, args] =
        p.manager === 'patroni'
          ? [PATRONI, [p.configPath]]
          : [process.execPath, [...agentNodeFlags(), AGENT_MAIN, '--config', p.configPath]];
      const common: SpawnOptions = {
        stdio: ['ignore', fd, fd],
        env: { ...process.env },
        cwd: dirname(p.configPath),
      };
      // libfaketime goes to the agent alone (and what it starts), never to `ip`/`setpriv` before
      // it: a root process would create faketime's shared state where the agent may not open it
      const clockEnv = Object.entries(p.clock?.env() ?? {}).map(([k, v]) => `${k}=${v}`);
      proc = p.netHost
        ? p.netHost.spawn('env', [...clockEnv, cmd, ...args], {
            ...common,
            ...(asPostgres ? { asUser: 'postgres' } : {}),
          })
        : spawnTracked(cmd, args, {
            ...common,
            env: { ...process.env, ...p.clock?.env() },
            ...(asPostgres ? { uid: p.osUser.uid, gid: p.osUser.gid } : {}),
          });
      closeSync(fd);
    },
    async stop() {
      await proc?.stop(30_000);
    },
    signalAgent(sig) {
      const pid = proc?.pid;
      if (pid !== undefined && proc?.child.exitCode === null) killQuiet(pid, sig);
    },
    async postmasterPid() {
      try {
        const pid = Number((await readFile(join(p.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
        return Number.isInteger(pid) && pid > 0 ? pid : null;
      } catch {
        return null;
      }
    },
    async fencePid() {
      const pids = await pidsMatching(`${p.dataDir}.fence.sock`);
      return pids[0] ?? null;
    },
  };
}

const PATRONI = '/usr/bin/patroni';

/** Standard ports: every namespaced host has its own addresses, so nothing collides. */
const NETNS_PG_PORT = 5432;
const NETNS_REST_PORT = 8008;

/** Hosts `etcd1..M` then `node1..N`, in one lab. */
function netLabFor(opts: ClusterOptions): Promise<NetLab> {
  const etcd = Array.from({ length: opts.etcdMembers ?? 1 }, (_, i) => `etcd${i + 1}`);
  const nodes = Array.from({ length: opts.nodes }, (_, i) => `node${i + 1}`);
  return NetLab.create([...etcd, ...nodes]);
}

/** What an operator writes for a cluster on one private network: members and clients on the lab /24. */
function labPgHba(net: NetLab): string[] {
  return [
    'local all all peer',
    'host all all 127.0.0.1/32 scram-sha-256',
    `host all all ${net.subnet} scram-sha-256`,
    `host replication all ${net.subnet} scram-sha-256`,
  ];
}

function killQuiet(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone
  }
}

/** pids whose command line contains `needle` (the cluster's dirs appear in postgres -D, fence --socket). */
export async function pidsMatching(needle: string): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmd = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replace(/\0/g, ' ');
      if (cmd.includes(needle)) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Direct children of `parent` (from /proc/<pid>/stat's ppid field). */
async function childPids(parent: number): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid ...": comm may contain spaces, so split after the last ')'
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

async function killMatching(needle: string, sig: NodeJS.Signals): Promise<void> {
  for (const pid of await pidsMatching(needle)) killQuiet(pid, sig);
}
