import { execFile, execFileSync, type SpawnOptions } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { spawnTracked, type TrackedProcess } from './proc.js';

/**
 * Hosts on one machine, each in its own network namespace with its own address on a private
 * bridge, so a test can *drop* packets between any two of them (nftables `drop` inside a
 * namespace: no RST, no ICMP, connections hang as on a real network) and heal the cut.
 *
 * Layout of lab L (0..99):
 * - bridge `hapgbrL` in the root namespace with 10.213.L.1/24 — the address clients (writers,
 *   HAProxy, the test itself) reach every host from. Nothing routes that /24 anywhere else,
 *   and no host has a default route, so traffic can only ever reach the lab's own hosts.
 * - host i: namespace `hapgL-<name>`, veth `hvL-i` (root side, on the bridge) / `eth0` (inside)
 *   with 10.213.L.(10 + i)/24, and its own loopback (ports never collide between hosts).
 *
 * Everything is named with the `hapg` prefix so `cleanupNetLabs()` (`npm run testkit -- cleanup`)
 * removes what a crashed run left behind.
 */
const run = promisify(execFile);

export const NETNS_PREFIX = 'hapg';
const SUBNET_BASE = '10.213';
const CUT_TABLE = 'hapgcut';

export interface NetHost {
  readonly name: string;
  /** the namespace, e.g. `hapg3-node1` */
  readonly ns: string;
  /** the host's address on the lab bridge */
  readonly address: string;
  /** spawns a process inside the namespace (as root unless `asUser` is given) */
  spawn(cmd: string, args: readonly string[], opts?: HostSpawnOptions): TrackedProcess;
  /** runs a command inside the namespace and returns its stdout */
  exec(cmd: string, args: readonly string[]): Promise<string>;
  /** pids of every process in the namespace (`ip netns pids`) */
  pids(): Promise<number[]>;
}

export interface HostSpawnOptions extends SpawnOptions {
  /** run as this OS user (through setpriv, after entering the namespace as root) */
  readonly asUser?: string;
}

export class NetLab {
  readonly id: number;
  readonly bridge: string;
  /** the root namespace's address on the bridge: where clients come from */
  readonly clientAddress: string;
  readonly subnet: string;
  readonly #hosts = new Map<string, NetHost>();
  /** per host: the peers whose packets it drops */
  readonly #cuts = new Map<string, Set<string>>();
  #closed = false;

  private constructor(id: number) {
    this.id = id;
    this.bridge = `hapgbr${id}`;
    this.clientAddress = `${SUBNET_BASE}.${id}.1`;
    this.subnet = `${SUBNET_BASE}.${id}.0/24`;
  }

  /** Creates a bridge and one namespace per name (in order: addresses .11, .12, ...). */
  static async create(names: readonly string[]): Promise<NetLab> {
    requireRoot();
    if (names.length > 200) throw new Error('at most 200 hosts per lab');
    const lab = new NetLab(freeLabId());
    labs.add(lab);
    hookExit();
    try {
      await ip('link', 'add', lab.bridge, 'type', 'bridge');
      await ip('addr', 'add', `${lab.clientAddress}/24`, 'dev', lab.bridge);
      await ip('link', 'set', lab.bridge, 'up');
      for (const [i, name] of names.entries()) await lab.#addHost(name, i + 1);
    } catch (e) {
      await lab.close();
      throw e;
    }
    return lab;
  }

  async #addHost(name: string, index: number): Promise<void> {
    const ns = `${NETNS_PREFIX}${this.id}-${name}`;
    if (ns.length > 50) throw new Error(`host name too long: ${name}`);
    const veth = `hv${this.id}-${index}`;
    const address = `${SUBNET_BASE}.${this.id}.${10 + index}`;
    await ip('netns', 'add', ns);
    await ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    await ip('link', 'set', veth, 'master', this.bridge, 'up');
    await ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    await ip('-n', ns, 'link', 'set', 'eth0', 'up');
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
    this.#hosts.set(name, makeHost(name, ns, address));
    this.#cuts.set(name, new Set());
  }

  get hosts(): readonly NetHost[] {
    return [...this.#hosts.values()];
  }

  host(name: string): NetHost {
    const h = this.#hosts.get(name);
    if (!h) throw new Error(`no host ${name} in lab ${this.id}`);
    return h;
  }

  /**
   * Drops every packet between `a` and each of `peers`, both ways (rules in `a`'s namespace;
   * a peer may be `'clients'` for the root namespace). Established connections hang.
   */
  async cut(a: string, peers: readonly string[]): Promise<void> {
    const set = this.#cuts.get(a);
    if (!set) throw new Error(`no host ${a}`);
    for (const p of peers) if (p !== a) set.add(p);
    await this.#apply(a);
  }

  /** Drops `a`'s packets to and from every other host (clients still reach it unless listed). */
  async isolate(a: string, opts: { clients?: boolean } = {}): Promise<void> {
    const others = [...this.#hosts.keys()].filter((n) => n !== a);
    await this.cut(a, opts.clients ? [...others, 'clients'] : others);
  }

  /** Removes the cuts of `a` (towards `peers`, or all); without `a`, every cut in the lab. */
  async heal(a?: string, peers?: readonly string[]): Promise<void> {
    const names = a === undefined ? [...this.#cuts.keys()] : [a];
    for (const n of names) {
      const set = this.#cuts.get(n);
      if (!set) throw new Error(`no host ${n}`);
      if (peers === undefined) set.clear();
      else for (const p of peers) set.delete(p);
      await this.#apply(n);
    }
  }

  /** The peers `a` currently drops packets from and to. */
  cutsOf(a: string): readonly string[] {
    return [...(this.#cuts.get(a) ?? [])];
  }

  #addressOf(peer: string): string {
    return peer === 'clients' ? this.clientAddress : this.host(peer).address;
  }

  /** Rewrites `a`'s whole drop table from its set, in one atomic nft transaction. */
  async #apply(a: string): Promise<void> {
    const host = this.host(a);
    const addrs = [...(this.#cuts.get(a) ?? [])].map((p) => this.#addressOf(p));
    const elements = addrs.length > 0 ? `elements = { ${addrs.join(', ')} }` : '';
    const script = [
      `table inet ${CUT_TABLE}`,
      `delete table inet ${CUT_TABLE}`,
      `table inet ${CUT_TABLE} {`,
      `  set peers { type ipv4_addr; ${elements} }`,
      '  chain input { type filter hook input priority -10; policy accept;',
      '    ip saddr @peers drop',
      '  }',
      '  chain output { type filter hook output priority -10; policy accept;',
      '    ip daddr @peers drop',
      '  }',
      '}',
    ].join('\n');
    await runStdin('ip', ['netns', 'exec', host.ns, 'nft', '-f', '-'], script);
  }

  /** Kills every process in every namespace, deletes them and the bridge. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    labs.delete(this);
    removeLabSync(this.id);
  }
}

function makeHost(name: string, ns: string, address: string): NetHost {
  return {
    name,
    ns,
    address,
    spawn(cmd, args, opts = {}) {
      const { asUser, ...spawnOpts } = opts;
      const user = asUser ? ['setpriv', `--reuid=${asUser}`, `--regid=${asUser}`, '--init-groups', '--'] : [];
      return spawnTracked('ip', ['netns', 'exec', ns, ...user, cmd, ...args], spawnOpts);
    },
    async exec(cmd, args) {
      const { stdout } = await run('ip', ['netns', 'exec', ns, cmd, ...args]);
      return stdout;
    },
    async pids() {
      return netnsPids(ns);
    },
  };
}

async function ip(...args: string[]): Promise<void> {
  try {
    await run('ip', args);
  } catch (e) {
    const err = e as { stderr?: string };
    throw new Error(`ip ${args.join(' ')}: ${err.stderr?.trim() || String(e)}`);
  }
}

function runStdin(cmd: string, args: readonly string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || String(err)}\n${input}`));
      else resolve();
    });
    child.stdin?.end(input);
  });
}

async function netnsPids(ns: string): Promise<number[]> {
  try {
    const { stdout } = await run('ip', ['netns', 'pids', ns]);
    return parsePids(stdout);
  } catch {
    return [];
  }
}

function parsePids(out: string): number[] {
  return out
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((p) => Number.isInteger(p) && p > 0);
}

function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('network namespaces need root (ip netns)');
}

/** Namespaces present on the machine (`/run/netns`). */
function listNamespaces(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch {
    return [];
  }
}

/** `ip -o link show` of the root namespace; empty without the ip command. */
function linkList(): string {
  try {
    return execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  } catch {
    return '';
  }
}

/** Ids of every lab with anything left on the machine: a namespace, a bridge or a lingering veth. */
function labIdsOnMachine(): Set<number> {
  const ids = new Set<number>();
  for (const ns of listNamespaces()) {
    const m = /^hapg(\d+)-/.exec(ns);
    if (m) ids.add(Number(m[1]));
  }
  for (const m of linkList().matchAll(/hapgbr(\d+)|\bhv(\d+)-\d+/g)) ids.add(Number(m[1] ?? m[2]));
  return ids;
}

function freeLabId(): number {
  const used = labIdsOnMachine();
  for (const lab of labs) used.add(lab.id);
  // the pid spreads concurrent runs; the scan finds a free one
  const start = process.pid % 100;
  for (let k = 0; k < 100; k++) {
    const id = (start + k) % 100;
    if (!used.has(id)) return id;
  }
  throw new Error('no free lab id (100 labs in use): run `npm run testkit -- cleanup`');
}

/** Synchronous on purpose: it also runs from the exit hook. */
function removeLabSync(id: number): void {
  const prefix = `${NETNS_PREFIX}${id}-`;
  // The root ends of the veth pairs first: deleting a namespace removes its pair only some
  // time later, and a new lab with the same id would meet "File exists".
  for (const m of linkList().matchAll(new RegExp(`\\bhv${id}-\\d+`, 'g'))) {
    try {
      execFileSync('ip', ['link', 'del', m[0]], { stdio: 'ignore' });
    } catch {
      // gone meanwhile
    }
  }
  for (const ns of listNamespaces().filter((n) => n.startsWith(prefix))) {
    killNamespaceSync(ns);
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
  try {
    execFileSync('ip', ['link', 'del', `hapgbr${id}`], { stdio: 'ignore' });
  } catch {
    // already gone
  }
}

function killNamespaceSync(ns: string): void {
  let pids: number[] = [];
  try {
    pids = parsePids(execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }));
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGCONT');
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/**
 * Removes every lab on the machine: kills the processes in `hapg<N>-*` namespaces, deletes
 * them, the `hapgbr<N>` bridges and lingering `hv<N>-*` veths. Returns what it removed.
 */
export function cleanupNetLabs(): string[] {
  const ids = labIdsOnMachine();
  const removed: string[] = [];
  for (const id of [...ids].sort((a, b) => a - b)) {
    removed.push(...listNamespaces().filter((n) => n.startsWith(`${NETNS_PREFIX}${id}-`)), `hapgbr${id}`);
    removeLabSync(id);
  }
  return removed;
}

const labs = new Set<NetLab>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const lab of labs) removeLabSync(lab.id);
  });
}
