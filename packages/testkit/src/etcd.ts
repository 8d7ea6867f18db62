import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetHost } from './netns.js';
import { freePorts, spawnTracked, type TrackedProcess, waitFor } from './proc.js';

/**
 * Real etcd for tests: 1 or 3 members on loopback ports with temp data dirs.
 *
 * Defaults favour fast startup and fast leader elections
 * (`--heartbeat-interval 100 --election-timeout 1000`). With these, etcd's
 * minimum lease TTL is ceil(1.5 × election timeout) = 2 s: a smaller TTL is
 * silently raised to 2 s, so callers must use the *granted* TTL.
 */
export interface EtcdOptions {
  readonly members: 1 | 3;
  readonly heartbeatIntervalMs?: number;
  readonly electionTimeoutMs?: number;
  readonly binary?: string;
  /** how long to wait for every member to report healthy */
  readonly startTimeoutMs?: number;
  /**
   * One namespaced host per member: member i runs inside `hosts[i]` on its address with
   * etcd's standard ports (2379 client, 2380 peer). Default: loopback, free ports.
   */
  readonly hosts?: readonly NetHost[];
}

export interface EtcdMember {
  readonly name: string;
  /** `<address>:<port>` (`127.0.0.1:<free port>` on loopback) */
  readonly endpoint: string;
  /** the namespaced host it runs on, or null on loopback */
  readonly host: NetHost | null;
  readonly dataDir: string;
  /** the running process, or null while stopped/killed */
  process(): TrackedProcess | null;
  /** SIGKILL; resolves once reaped */
  kill(): Promise<void>;
  /** SIGTERM (SIGKILL after a grace); resolves once reaped */
  stop(): Promise<void>;
  /** (re)start with the same data dir and ports; resolves once the member answers /health */
  start(): Promise<void>;
  /** SIGSTOP: the process keeps its sockets open but answers nothing */
  pause(): void;
  /** SIGCONT */
  resume(): void;
  /**
   * How many peers it is connected to (etcd's `etcd_network_active_peers`); null when it does
   * not answer. After a cut heals, etcd's peer links come back on their own TCP backoff: a
   * member answering /health may still be unable to reach one of its peers.
   */
  activePeers(): Promise<number | null>;
}

export interface EtcdCluster {
  /** `<address>:<port>` of every member, in member order */
  readonly endpoints: readonly string[];
  readonly members: readonly EtcdMember[];
  /**
   * The raft timing in effect: a follower notices a dead leader after a random
   * [1, 2) × electionTimeoutMs without heartbeats, then an election follows.
   * Tests that kill the leader derive their outage budgets from this.
   */
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
  /** kills every member and removes the data dirs */
  close(): Promise<void>;
}

const DEFAULT_HEARTBEAT_MS = 100;
const DEFAULT_ELECTION_MS = 1000;
const DEFAULT_START_TIMEOUT_MS = 20_000;
const HEALTH_PROBE_TIMEOUT_MS = 1000;
const STOP_GRACE_MS = 3000;

export async function startEtcd(opts: EtcdOptions): Promise<EtcdCluster> {
  const n = opts.members;
  if (opts.hosts && opts.hosts.length !== n) throw new Error(`${n} etcd members need ${n} hosts`);
  const ports = opts.hosts ? [] : await freePorts(2 * n);
  const root = await mkdtemp(join(tmpdir(), 'hapg-etcd-'));
  await chmod(root, 0o700);
  const specs = Array.from({ length: n }, (_, i) => ({
    name: `etcd${i}`,
    address: opts.hosts?.[i]?.address ?? '127.0.0.1',
    clientPort: opts.hosts ? 2379 : ports[2 * i]!,
    peerPort: opts.hosts ? 2380 : ports[2 * i + 1]!,
    dataDir: join(root, `etcd${i}`),
    host: opts.hosts?.[i] ?? null,
  }));
  const heartbeatIntervalMs = opts.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_MS;
  const electionTimeoutMs = opts.electionTimeoutMs ?? DEFAULT_ELECTION_MS;
  const initialCluster = specs.map((s) => `${s.name}=http://${s.address}:${s.peerPort}`).join(',');
  const members = specs.map((s) =>
    makeMember(s, {
      binary: opts.binary ?? '/usr/bin/etcd',
      initialCluster,
      heartbeatIntervalMs,
      electionTimeoutMs,
      startTimeoutMs: opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    }),
  );
  try {
    // all members at once: a 3-member cluster needs a quorum before any is healthy
    await Promise.all(members.map((m) => m.start()));
  } catch (e) {
    await Promise.all(members.map((m) => m.kill()));
    await rm(root, { recursive: true, force: true });
    throw e;
  }
  return {
    endpoints: members.map((m) => m.endpoint),
    members,
    heartbeatIntervalMs,
    electionTimeoutMs,
    async close() {
      await Promise.all(members.map((m) => m.kill()));
      await rm(root, { recursive: true, force: true });
    },
  };
}

interface MemberSpec {
  readonly name: string;
  readonly address: string;
  readonly host: NetHost | null;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
}

interface ClusterSettings {
  readonly binary: string;
  readonly initialCluster: string;
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
  readonly startTimeoutMs: number;
}

function makeMember(spec: MemberSpec, settings: ClusterSettings): EtcdMember {
  const clientUrl = `http://${spec.address}:${spec.clientPort}`;
  const peerUrl = `http://${spec.address}:${spec.peerPort}`;
  // On restart the data dir exists and etcd ignores the --initial-* flags.
  const args = [
    '--name',
    spec.name,
    '--data-dir',
    spec.dataDir,
    '--listen-client-urls',
    clientUrl,
    '--advertise-client-urls',
    clientUrl,
    '--listen-peer-urls',
    peerUrl,
    '--initial-advertise-peer-urls',
    peerUrl,
    '--initial-cluster',
    settings.initialCluster,
    '--initial-cluster-state',
    'new',
    '--initial-cluster-token',
    'hapg-test',
    '--heartbeat-interval',
    String(settings.heartbeatIntervalMs),
    '--election-timeout',
    String(settings.electionTimeoutMs),
    '--log-level',
    'warn',
  ];
  let proc: TrackedProcess | null = null;
  const halt = async (how: 'kill' | 'stop') => {
    const p = proc;
    proc = null;
    if (p === null) return;
    if (how === 'kill') {
      p.signal('SIGCONT');
      p.signal('SIGKILL');
      await p.exited;
    } else {
      await p.stop(STOP_GRACE_MS);
    }
  };
  return {
    name: spec.name,
    endpoint: `${spec.address}:${spec.clientPort}`,
    host: spec.host,
    dataDir: spec.dataDir,
    process: () => proc,
    kill: () => halt('kill'),
    stop: () => halt('stop'),
    async start() {
      if (proc !== null) throw new Error(`${spec.name} is already running`);
      const p = spec.host ? spec.host.spawn(settings.binary, args) : spawnTracked(settings.binary, args);
      proc = p;
      await waitFor(
        async () => {
          if (p.child.exitCode !== null || p.child.signalCode !== null) {
            throw new Error(`${spec.name} exited during startup:\n${p.output()}`);
          }
          return isHealthy(clientUrl);
        },
        { timeoutMs: settings.startTimeoutMs, intervalMs: 100, what: `${spec.name} healthy` },
      );
    },
    pause: () => proc?.signal('SIGSTOP'),
    resume: () => proc?.signal('SIGCONT'),
    activePeers: () => activePeers(clientUrl),
  };
}

/** `etcd_network_active_peers` summed over its peers (1 each while connected); null: no answer. */
async function activePeers(clientUrl: string): Promise<number | null> {
  try {
    const res = await fetch(`${clientUrl}/metrics`, { signal: AbortSignal.timeout(HEALTH_PROBE_TIMEOUT_MS) });
    if (!res.ok) return null;
    let sum = 0;
    for (const line of (await res.text()).split('\n')) {
      const m = /^etcd_network_active_peers\{[^}]*\} (\S+)$/.exec(line);
      if (m) sum += Number(m[1]);
    }
    return sum;
  } catch {
    return null;
  }
}

async function isHealthy(clientUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(HEALTH_PROBE_TIMEOUT_MS) });
    const body = (await res.json()) as { health?: string };
    return res.ok && body.health === 'true';
  } catch {
    return false;
  }
}
