import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import {
  encodeArm,
  encodeOp,
  type FenceErrorCode,
  type FenceReply,
  type FenceState,
  LineSplitter,
} from './protocol.js';

/**
 * The agent's handle on its fence. Every method resolves (never rejects) with
 * the fence's reply or a local error reply, so a broken fence can never throw
 * into the agent loop; `status` tells the loop (and /metrics) how things stand.
 *
 * A dead connection is re-established on the next request; a missing fence is
 * respawned when `spawn` options were given.
 */
export interface FenceSpawnOptions {
  /** node executable, usually `process.execPath` */
  readonly node: string;
  /** path of fence/main.js (or main.ts with a loader in `execArgv`) */
  readonly script: string;
  /** node flags before the script, e.g. ['--import', 'tsx'] in development */
  readonly execArgv?: readonly string[];
  /** fence flags after --socket/--log, e.g. ['--watchdog', '/dev/watchdog'] */
  readonly args?: readonly string[];
  readonly logPath?: string;
  /** the fence must be able to signal Postgres: run it as root or as the postgres user */
  readonly uid?: number;
  readonly gid?: number;
}

export interface FenceClientLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface FenceClientOptions {
  readonly socketPath: string;
  readonly spawn?: FenceSpawnOptions;
  /** a reply slower than this resolves as TIMEOUT (the connection is then reset) */
  readonly requestTimeoutMs?: number;
  /** how long a freshly spawned fence may take to listen */
  readonly spawnTimeoutMs?: number;
  /** after a spawn, further requests only try to connect for this long (a fence that cannot start must not make every request wait `spawnTimeoutMs`) */
  readonly respawnBackoffMs?: number;
  readonly log?: FenceClientLogger;
}

export interface FenceClientStatus {
  readonly connected: boolean;
  /** as last acknowledged by the fence (a failed request leaves it unchanged) */
  readonly armed: boolean;
  readonly lastState?: FenceState;
  readonly lastError?: { readonly code: FenceErrorCode; readonly message: string };
  /** pid of a fence this client spawned */
  readonly spawnedPid?: number;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 1000;
const DEFAULT_SPAWN_TIMEOUT_MS = 10_000;
const DEFAULT_RESPAWN_BACKOFF_MS = 30_000;
const CONNECT_RETRY_MS = 50;
const DISCONNECT_ATTEMPTS = 3;
const silent: FenceClientLogger = { info() {}, warn() {} };

type Pending = { resolve(r: FenceReply): void; timer: NodeJS.Timeout };

export class FenceClient {
  #sock: Socket | undefined;
  #connecting: Promise<Socket | undefined> | undefined;
  #nextId = 1;
  #lastSpawnMs = Number.NEGATIVE_INFINITY;
  readonly #pending = new Map<number, Pending>();
  #status: FenceClientStatus = { connected: false, armed: false };
  readonly #opts: FenceClientOptions;
  readonly #log: FenceClientLogger;

  private constructor(opts: FenceClientOptions) {
    this.#opts = opts;
    this.#log = opts.log ?? silent;
  }

  /**
   * Adopts a running fence (agent restart) or spawns one detached in its own
   * process group (so signals to the agent's group do not reach it). Resolves
   * even when neither worked: see `status`.
   */
  static async connectOrSpawn(opts: FenceClientOptions): Promise<FenceClient> {
    const client = new FenceClient(opts);
    await client.ping();
    return client;
  }

  get status(): FenceClientStatus {
    return this.#status;
  }

  /** Resolves once the fence acknowledged (ok) or refused/failed (ok: false). */
  arm(deadlineMonoNs: bigint, pid: number, dataDir: string, watchdogTimeoutMs?: number): Promise<FenceReply> {
    return this.#request((id) => encodeArm(id, deadlineMonoNs, pid, dataDir, watchdogTimeoutMs));
  }

  disarm(): Promise<FenceReply> {
    return this.#request((id) => encodeOp(id, 'disarm'));
  }

  ping(): Promise<FenceReply> {
    return this.#request((id) => encodeOp(id, 'ping'));
  }

  /** Asks the fence to exit; it refuses while armed. */
  shutdownFence(): Promise<FenceReply> {
    return this.#request((id) => encodeOp(id, 'exit'));
  }

  /** Closes the connection only; the fence keeps running with its last deadline. */
  close(): void {
    this.#sock?.destroy();
    this.#sock = undefined;
  }

  async #request(encode: (id: number) => string): Promise<FenceReply> {
    // The fence may have died since the last request (its EOF not yet seen
    // here), or be dying (a SIGKILLed process still accepts connections until its
    // last thread exits): every command is idempotent, so retrying on a fresh
    // connection (which respawns a dead fence) is safe.
    let reply = await this.#requestOnce(encode);
    for (
      let attempt = 1;
      attempt < DISCONNECT_ATTEMPTS && !reply.ok && reply.error === 'DISCONNECTED';
      attempt++
    ) {
      await new Promise((r) => setTimeout(r, CONNECT_RETRY_MS));
      reply = await this.#requestOnce(encode);
    }
    return this.#record(reply);
  }

  async #requestOnce(encode: (id: number) => string): Promise<FenceReply> {
    let sock: Socket | undefined;
    try {
      sock = await this.#ensureConnected();
    } catch (e) {
      return { ok: false, error: 'UNAVAILABLE', message: `fence unreachable: ${String(e)}` };
    }
    if (sock === undefined)
      return { ok: false, error: 'UNAVAILABLE', message: `no fence on ${this.#opts.socketPath}` };
    const id = this.#nextId++;
    const timeoutMs = this.#opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    return new Promise<FenceReply>((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        // replies are matched by id, but a fence this slow is suspect: reconnect
        this.#sock?.destroy();
        resolve({ ok: false, id, error: 'TIMEOUT', message: `no reply within ${timeoutMs} ms` });
      }, timeoutMs);
      this.#pending.set(id, { resolve, timer });
      sock.write(encode(id));
    });
  }

  #record(reply: FenceReply): FenceReply {
    if (reply.ok) {
      const { ok: _ok, id: _id, op: _op, ...state } = reply;
      this.#status = { ...this.#status, armed: state.armed, lastState: state, lastError: undefined };
    } else {
      this.#status = { ...this.#status, lastError: { code: reply.error, message: reply.message } };
      this.#log.warn({ component: 'fence-client', error: reply.error }, reply.message);
    }
    return reply;
  }

  #ensureConnected(): Promise<Socket | undefined> {
    const cur = this.#sock;
    if (cur !== undefined && !cur.destroyed && cur.writable && !cur.readableEnded)
      return Promise.resolve(cur);
    this.#connecting ??= this.#connectOrSpawn().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #connectOrSpawn(): Promise<Socket | undefined> {
    const first = await this.#tryConnect();
    if (first !== undefined || this.#opts.spawn === undefined) return first;
    if (performance.now() - this.#lastSpawnMs < (this.#opts.respawnBackoffMs ?? DEFAULT_RESPAWN_BACKOFF_MS))
      return undefined;
    this.#lastSpawnMs = performance.now();
    this.#spawnFence(this.#opts.spawn);
    const endMs = performance.now() + (this.#opts.spawnTimeoutMs ?? DEFAULT_SPAWN_TIMEOUT_MS);
    while (performance.now() < endMs) {
      await new Promise((r) => setTimeout(r, CONNECT_RETRY_MS));
      const sock = await this.#tryConnect();
      if (sock !== undefined) return sock;
    }
    return undefined;
  }

  #tryConnect(): Promise<Socket | undefined> {
    return new Promise((resolve) => {
      const sock = connect(this.#opts.socketPath);
      sock.once('error', () => resolve(undefined));
      sock.once('connect', () => {
        sock.removeAllListeners('error');
        this.#adopt(sock);
        resolve(sock);
      });
    });
  }

  #adopt(sock: Socket): void {
    this.#sock = sock;
    this.#status = { ...this.#status, connected: true };
    sock.setEncoding('utf8');
    const lines = new LineSplitter();
    sock.on('data', (chunk: string) => {
      for (const line of lines.push(chunk)) this.#onReply(line);
    });
    sock.on('error', (e) =>
      this.#log.warn({ component: 'fence-client', error: e.message }, 'fence connection error'),
    );
    sock.on('close', () => {
      if (this.#sock === sock) {
        this.#sock = undefined;
        this.#status = { ...this.#status, connected: false };
      }
      for (const [id, p] of this.#pending) {
        clearTimeout(p.timer);
        p.resolve({
          ok: false,
          id,
          error: 'DISCONNECTED',
          message: 'fence connection closed before the reply',
        });
      }
      this.#pending.clear();
    });
  }

  #onReply(line: string): void {
    let reply: FenceReply;
    try {
      reply = JSON.parse(line) as FenceReply;
    } catch {
      this.#log.warn({ component: 'fence-client' }, `unparsable reply from the fence: ${line.slice(0, 200)}`);
      return;
    }
    if (reply.id === undefined) return;
    const p = this.#pending.get(reply.id);
    if (p === undefined) return; // a reply after its timeout
    this.#pending.delete(reply.id);
    clearTimeout(p.timer);
    p.resolve(reply);
  }

  #spawnFence(s: FenceSpawnOptions): void {
    const argv = [
      ...(s.execArgv ?? []),
      s.script,
      '--socket',
      this.#opts.socketPath,
      ...(s.logPath === undefined ? [] : ['--log', s.logPath]),
      ...(s.args ?? []),
    ];
    try {
      const child = spawn(s.node, argv, {
        detached: true, // own process group and session: survives SIGSTOP/SIGKILL of the agent's group
        stdio: 'ignore',
        cwd: '/',
        ...(s.uid === undefined ? {} : { uid: s.uid }),
        ...(s.gid === undefined ? {} : { gid: s.gid }),
      });
      child.on('error', (e) =>
        this.#log.warn({ component: 'fence-client', error: e.message }, 'cannot spawn the fence'),
      );
      child.unref();
      if (child.pid !== undefined) this.#status = { ...this.#status, spawnedPid: child.pid };
      this.#log.info(
        { component: 'fence-client', pid: child.pid, socket: this.#opts.socketPath },
        'spawned the fence',
      );
    } catch (e) {
      this.#log.warn({ component: 'fence-client', error: String(e) }, 'cannot spawn the fence');
    }
  }
}
