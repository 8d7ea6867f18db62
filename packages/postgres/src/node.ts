import { EventEmitter } from 'node:events';
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  describeParameterProblems,
  HapgError,
  type KnownParameters,
  type Lsn,
  PG15_PARAMETERS,
  type ParameterProblem,
  splitParameters,
  type Timeline,
} from '@hapg/core';
import { basebackup } from './basebackup.js';
import { findBinDir } from './binaries.js';
import {
  HBA_CONF,
  MAIN_CONF,
  type Parameters,
  type RecoverySettings,
  renderPgHba,
  renderPostgresqlConf,
} from './config.js';
import { type ConnectOptions, SqlSession, withConnection } from './connection.js';
import { readPidFile } from './pidfile.js';
import { renderConninfo, renderPgpass } from './conninfo.js';
import { type ControlData, readControlData } from './controldata.js';
import { writeOwnedFile } from './files.js';
import { initdb } from './initdb.js';
import { type OsIdentity, switchIdentity } from './osuser.js';
import { Postmaster, type PostmasterExit, type StopMode } from './postmaster.js';
import { type PgStatus, probeStatus } from './probe.js';
import { promote } from './promote.js';
import { ensureCleanShutdown, rewind } from './rewind.js';
import { ensureReplicationUser } from './roles.js';
import { awaitReceiverGone } from './stop-receiving.js';
import { knownParameterNames, type ReloadCheck, reloadConf, reloadConfAndCheck } from './settings.js';
import { createPhysicalSlot, dropPhysicalSlot, listPhysicalSlots, type SlotInfo } from './slots.js';
import { readTimelineHistory, type TimelineSwitch } from './timeline-history.js';
import { primaryConninfo, removeRecoverySignals, type UpstreamInfo, writeStandbySignal } from './standby.js';

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** Every bound, named; defaults suit a small server on a small host. */
export interface PgTimeouts {
  readonly initdbMs: number;
  readonly startMs: number;
  readonly stopMs: number;
  readonly connectMs: number;
  readonly queryMs: number;
  readonly promoteWaitS: number;
  readonly basebackupMs: number;
  readonly rewindMs: number;
  /** short programs: pg_controldata, id */
  readonly commandMs: number;
}

export const DEFAULT_PG_TIMEOUTS: PgTimeouts = {
  initdbMs: 120_000,
  startMs: 60_000,
  stopMs: 60_000,
  connectMs: 3_000,
  queryMs: 5_000,
  promoteWaitS: 60,
  basebackupMs: 3_600_000,
  rewindMs: 3_600_000,
  commandMs: 15_000,
};

/** Minimal logger shape (a pino child fits). */
export interface PgLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface PostgresNodeOptions {
  /** member name: application_name towards the upstream and base of the slot name */
  readonly name: string;
  readonly dataDir: string;
  /** `postgresql.bin_dir`; null/absent: auto-detect */
  readonly binDir?: string | null;
  /** OS user the server runs as (default `postgres`); switched to only when we are root */
  readonly osUser?: string;
  /** listen_addresses */
  readonly listenHost: string;
  readonly port: number;
  /** host the agent uses to reach its own server (default: 127.0.0.1 for wildcard listens, else the first listen host) */
  readonly connectHost?: string;
  readonly superuser: Credentials;
  readonly replication: Credentials;
  readonly parameters?: Parameters;
  /** `postgresql.pg_hba` (node, else dynamic): replaces the generated file when set; see `setPgHba` */
  readonly pgHba?: readonly string[] | null;
  /** `bootstrap.pg_hba`: appended to the generated file (unused while `pgHba` is set) */
  readonly bootstrapPgHba?: readonly string[] | null;
  /**
   * `postgresql.use_unix_socket` (default true): the agent's own connections go over the server's
   * Unix socket (the directory it reports in postmaster.pid), falling back to TCP on `connectHost`
   */
  readonly useUnixSocket?: boolean;
  /** more addresses this node reaches itself on (its connect_address): allowed for the superuser in the generated pg_hba */
  readonly selfAddresses?: readonly string[];
  /** networks other members connect from (replication and pg_rewind) */
  readonly memberCidrs?: readonly string[];
  /** extra initdb arguments */
  readonly initdbArgs?: readonly string[];
  /** password file for primary_conninfo/pg_basebackup/pg_rewind, kept outside the data dir (default `<dataDir>.pgpass`) */
  readonly passfile?: string;
  /** server log (stderr) file (default `<dataDir>.log`) */
  readonly logFile?: string;
  readonly timeouts?: Partial<PgTimeouts>;
  readonly log?: PgLog;
}

export type StartRole = 'primary' | 'replica';

/** Upstream to follow; `appName` defaults to this node's name. */
/** What `reload` found: see `ReloadCheck`; `pendingRestart` as the status probe reports it. */
export interface ReloadResult extends ReloadCheck {
  readonly pendingRestart: PgStatus['pendingRestart'];
}

export type FollowTarget = Omit<UpstreamInfo, 'appName'> & { readonly appName?: string };

type Events = { exit: [PostmasterExit] };

const silentLog: PgLog = { info: () => {}, warn: () => {} };

function defaultConnectHost(listen: string): string {
  const first = listen.split(',')[0]?.trim() ?? '';
  return first === '' || first === '*' || first === '0.0.0.0' ? '127.0.0.1' : first === '::' ? '::1' : first;
}

/**
 * The agent's handle on its local Postgres. Each operation lives in its own
 * module; this class holds the options, the postmaster and the probe session.
 */
export class PostgresNode extends EventEmitter<Events> {
  readonly name: string;
  readonly dataDir: string;
  readonly passfile: string;
  readonly logFile: string;
  readonly timeouts: PgTimeouts;
  readonly #opts: PostgresNodeOptions;
  readonly #log: PgLog;
  #parameters: Parameters;
  #binDir: string | null = null;
  #as: OsIdentity | null | undefined;
  #postmaster: Postmaster | null = null;
  #session: SqlSession;
  #pgHba: readonly string[] | null;
  /** the parameter names the server running as `pid` knows (its pg_settings) */
  #known: { readonly pid: number; readonly known: KnownParameters } | null = null;
  /** the socket directory the running server reported in postmaster.pid; null: none (TCP only) */
  #socketDir: string | null = null;

  constructor(opts: PostgresNodeOptions) {
    super();
    this.#opts = opts;
    this.name = opts.name;
    this.dataDir = resolve(opts.dataDir);
    this.passfile = opts.passfile ?? `${this.dataDir}.pgpass`;
    this.logFile = opts.logFile ?? `${this.dataDir}.log`;
    this.timeouts = { ...DEFAULT_PG_TIMEOUTS, ...opts.timeouts };
    this.#log = opts.log ?? silentLog;
    // no server to ask yet: names PostgreSQL 15 does not know would fail the start
    const split = splitParameters(opts.parameters ?? {}, { known: PG15_PARAMETERS });
    this.#parameters = split.valid;
    if (split.problems.length > 0)
      this.#log.warn(
        { skipped: split.problems.map((p) => p.name) },
        `skipping Postgres parameters: ${describeParameterProblems(split.problems)}`,
      );
    this.#pgHba = opts.pgHba ?? null;
    this.#session = new SqlSession(async () => {
      await this.#readSocketDir();
      return this.localConnectOptions();
    });
  }

  /**
   * Where the agent reaches its own server, in order: the Unix socket (no pg_hba host rule
   * and no network involved), then TCP on the connect host. Uses the socket directory last
   * read from postmaster.pid.
   */
  localConnectOptions(database = 'postgres'): ConnectOptions[] {
    const tcp = this.#localConnect(database);
    if (this.#opts.useUnixSocket === false || this.#socketDir === null) return [tcp];
    return [{ ...tcp, host: this.#socketDir }, tcp];
  }

  /**
   * The first `unix_socket_directories` entry as the running server wrote it into
   * postmaster.pid: the server's own socket, never a guessed libpq default. Abstract sockets
   * (`@name`) and relative paths cannot be used by the client: TCP only then.
   */
  async #readSocketDir(): Promise<void> {
    const pf = await readPidFile(this.dataDir).catch(() => null);
    const dir = pf?.socketDir ?? '';
    this.#socketDir = dir.startsWith('/') ? dir : null;
  }

  /**
   * What postmaster.pid says about the server without a connection: `primary` once it
   * accepts connections as a primary (`ready`), `standby` as a hot standby; null otherwise.
   */
  async serverRoleFromPidFile(): Promise<'primary' | 'standby' | null> {
    const pf = await readPidFile(this.dataDir).catch(() => null);
    if (pf === null || pf.pid !== this.pid) return null;
    return pf.status === 'ready' ? 'primary' : pf.status === 'standby' ? 'standby' : null;
  }

  /** Replaces the `postgresql.pg_hba` lines (null: the generated file); applied at the next write/reload. */
  setPgHba(lines: readonly string[] | null): void {
    this.#pgHba = lines !== null && lines.length > 0 ? lines : null;
  }

  #localConnect(database = 'postgres'): ConnectOptions {
    return {
      host: this.#opts.connectHost ?? defaultConnectHost(this.#opts.listenHost),
      port: this.#opts.port,
      user: this.#opts.superuser.username,
      password: this.#opts.superuser.password,
      database,
      connectTimeoutMs: this.timeouts.connectMs,
      queryTimeoutMs: this.timeouts.queryMs,
      applicationName: 'hapg',
    };
  }

  async #env(): Promise<{ binDir: string; as: OsIdentity | null }> {
    this.#binDir ??= await findBinDir({ configured: this.#opts.binDir ?? null });
    if (this.#as === undefined) this.#as = await switchIdentity(this.#opts.osUser ?? 'postgres');
    return { binDir: this.#binDir, as: this.#as };
  }

  /** the user parameters currently rendered into postgresql.conf */
  get parameters(): Parameters {
    return this.#parameters;
  }

  /** pid of the postmaster we run or adopted; null when none. */
  get pid(): number | null {
    return this.#postmaster?.running ? this.#postmaster.pid : null;
  }

  get running(): boolean {
    return this.#postmaster?.running === true;
  }

  /** True once the data directory holds a cluster (PG_VERSION exists). */
  async isInitialized(): Promise<boolean> {
    try {
      await access(join(this.dataDir, 'PG_VERSION'));
      return true;
    } catch {
      return false;
    }
  }

  async initdb(): Promise<void> {
    const env = await this.#env();
    await initdb({
      ...env,
      dataDir: this.dataDir,
      superuser: this.#opts.superuser,
      extraArgs: this.#opts.initdbArgs ?? [],
      timeoutMs: this.timeouts.initdbMs,
    });
    this.#log.info({ dataDir: this.dataDir }, 'initdb done');
  }

  /**
   * Replaces the user parameters; applied at the next write/reload. Those that cannot be
   * rendered are left out and returned: malformed, managed by hapg, or unknown to the running
   * server's pg_settings (to PostgreSQL 15 while none runs), so that one bad name never holds
   * the others back nor fails a start.
   */
  async setParameters(params: Parameters): Promise<readonly ParameterProblem[]> {
    const split = splitParameters(params, { known: await this.#knownNames() });
    this.#parameters = split.valid;
    return split.problems;
  }

  /** Asks the running server which names it knows, once per postmaster (see `knownParameters`). */
  async refreshKnownParameters(): Promise<void> {
    await this.#knownNames();
  }

  /** The names the running server knows, once per postmaster; PostgreSQL 15's while none runs or it cannot say. */
  async #knownNames(): Promise<KnownParameters> {
    const pid = this.pid;
    if (pid === null) return PG15_PARAMETERS;
    if (this.#known?.pid === pid) return this.#known.known;
    try {
      const known = await knownParameterNames(this.#session);
      this.#known = { pid, known };
      return known;
    } catch {
      return PG15_PARAMETERS;
    }
  }

  /** What the running server's pg_settings said (for the REST gateway); null while unknown or no server runs. */
  get knownParameters(): KnownParameters | null {
    const pid = this.pid;
    return pid !== null && this.#known?.pid === pid ? this.#known.known : null;
  }

  #recovery(follow: FollowTarget): RecoverySettings {
    const up: UpstreamInfo = { ...follow, appName: follow.appName ?? this.name };
    return {
      primaryConninfo: primaryConninfo(up, {
        user: this.#opts.replication.username,
        passfile: this.passfile,
      }),
      primarySlotName: follow.slotName ?? null,
    };
  }

  /**
   * Writes every file hapg owns: postgresql.conf, pg_hba.conf, the password
   * file, and standby.signal for a replica (removed for a primary).
   */
  async writeConfig(role: StartRole, follow: FollowTarget | null): Promise<void> {
    const { as } = await this.#env();
    // A replica without an upstream is a read-only standby: a demoted primary waiting for a
    // leader, or a candidate whose WAL position must be comparable during an election.
    const conf = renderPostgresqlConf({
      listenAddresses: this.#opts.listenHost,
      port: this.#opts.port,
      hbaFile: join(this.dataDir, HBA_CONF),
      parameters: this.#parameters,
      recovery: role === 'replica' && follow ? this.#recovery(follow) : null,
    });
    const hba = renderPgHba({
      superuser: this.#opts.superuser.username,
      replicationUser: this.#opts.replication.username,
      memberCidrs: this.#opts.memberCidrs ?? [],
      selfAddresses: [
        ...this.#opts.listenHost.split(',').map((h) => h.trim()),
        this.#localConnect().host,
        ...(this.#opts.selfAddresses ?? []),
      ],
      lines: this.#pgHba,
      extraLines: this.#opts.bootstrapPgHba ?? null,
    });
    const pgpass = renderPgpass([this.#opts.replication, this.#opts.superuser]);
    await writeOwnedFile(this.passfile, pgpass, { owner: as, mode: 0o600 });
    await writeOwnedFile(join(this.dataDir, MAIN_CONF), conf, { owner: as, mode: 0o600 });
    await writeOwnedFile(join(this.dataDir, HBA_CONF), hba, { owner: as, mode: 0o600 });
    if (role === 'replica') await writeStandbySignal(this.dataDir, as);
    else await removeRecoverySignals(this.dataDir);
  }

  /** Renders the config and starts Postgres as our child; resolves once it accepts connections. */
  async start(opts: { role: StartRole; follow?: FollowTarget | null }): Promise<void> {
    if (this.running) throw new HapgError('PG_START_FAILED', `postgres already running (pid ${this.pid})`);
    await this.writeConfig(opts.role, opts.follow ?? null);
    const env = await this.#env();
    const pm = await Postmaster.spawn({ ...env, dataDir: this.dataDir, logFile: this.logFile });
    this.#attach(pm);
    this.#log.info({ pid: pm.pid, role: opts.role }, 'postgres started');
    await pm.waitReady({ timeoutMs: this.timeouts.startMs, logFile: this.logFile });
  }

  #attach(pm: Postmaster): void {
    this.#postmaster = pm;
    pm.once('exit', (exit) => {
      this.#session.close();
      const log = exit.expected ? this.#log.info : this.#log.warn;
      log.call(this.#log, { pid: pm.pid, ...exit }, 'postgres exited');
      this.emit('exit', exit);
    });
  }

  /** Attaches to a postmaster already running in the data directory; false when none. */
  async adopt(): Promise<boolean> {
    if (this.running) return true;
    const pm = await Postmaster.adopt(this.dataDir);
    if (!pm) return false;
    this.#attach(pm);
    this.#log.info({ pid: pm.pid }, 'adopted running postgres');
    return true;
  }

  /** Stops the server (adopting it first if another process started it) and waits until its pid is gone. */
  async stop(mode: StopMode, timeoutMs = this.timeouts.stopMs): Promise<PostmasterExit | null> {
    if (!this.running && !(await this.adopt())) return null;
    this.#session.close();
    return this.#postmaster!.stop(mode, timeoutMs);
  }

  /** Status of the running server; rejects with PG_NOT_RUNNING when it is down (never crashes the process). */
  async probe(): Promise<PgStatus> {
    return probeStatus(this.#session);
  }

  async controldata(): Promise<ControlData> {
    return readControlData({
      ...(await this.#env()),
      dataDir: this.dataDir,
      timeoutMs: this.timeouts.commandMs,
    });
  }

  /** pg_promote(wait), then rewrite the config as a primary's (no primary_conninfo) and reload. */
  async promote(): Promise<void> {
    await promote(this.#session, this.timeouts.promoteWaitS);
    await this.writeConfig('primary', null);
    await reloadConf(this.#session);
    this.#log.info({}, 'promoted');
  }

  /** Re-points a running replica (PG 13+ applies primary_conninfo on reload); on a stopped one only writes the files. */
  async followPrimary(follow: FollowTarget): Promise<void> {
    await this.writeConfig('replica', follow);
    if (this.running) await reloadConf(this.#session);
  }

  /**
   * Stops the walreceiver for good (quorum fast failover's release): renders the config as a
   * standby of nobody, reloads (PG 13+ stops the walreceiver on it), waits until none runs, and
   * returns the final received position (`stop-receiving.ts`).
   */
  async stopReceiving(): Promise<Lsn> {
    await this.writeConfig('replica', null);
    await reloadConf(this.#session);
    return awaitReceiverGone(this.#session, { timeoutMs: this.timeouts.queryMs });
  }

  /**
   * Re-renders the config with the current parameters and reloads; returns what Postgres did
   * with the files (settings it refused, errors that made it apply nothing) and the settings
   * that need a restart.
   */
  async reload(role: StartRole, follow: FollowTarget | null): Promise<ReloadResult> {
    await this.writeConfig(role, follow);
    const check = await reloadConfAndCheck(this.#session, this.timeouts.queryMs);
    return { ...check, pendingRestart: (await this.probe()).pendingRestart };
  }

  #sourceConninfo(
    src: { host: string; port: number },
    user: Credentials,
    extra: Record<string, string> = {},
  ): string {
    return renderConninfo({
      host: src.host,
      port: src.port,
      user: user.username,
      connect_timeout: 5,
      ...extra,
    });
  }

  /** pg_basebackup from `source` into the (empty) data dir, then the config of a replica following it. */
  async cloneFrom(
    source: FollowTarget,
    opts: { checkpoint?: 'fast' | 'spread'; maxRate?: string | null } = {},
  ): Promise<void> {
    const env = await this.#env();
    await this.writePassfile();
    await basebackup({
      ...env,
      dataDir: this.dataDir,
      sourceConninfo: this.#sourceConninfo(source, this.#opts.replication, {
        application_name: `${this.name}_clone`,
      }),
      passfile: this.passfile,
      checkpoint: opts.checkpoint ?? 'fast',
      maxRate: opts.maxRate ?? null,
      timeoutMs: this.timeouts.basebackupMs,
    });
    await this.writeConfig('replica', source);
    this.#log.info({ host: source.host, port: source.port }, 'cloned');
  }

  async writePassfile(): Promise<void> {
    const { as } = await this.#env();
    const pgpass = renderPgpass([this.#opts.replication, this.#opts.superuser]);
    await writeOwnedFile(this.passfile, pgpass, { owner: as, mode: 0o600 });
  }

  /**
   * Rewinds the stopped data dir onto `source`'s timeline: crash recovery
   * first if it was not shut down cleanly, a CHECKPOINT on the source (a just
   * promoted server's pg_control still names the old timeline until then), then
   * pg_rewind and the config of a replica following `source`.
   */
  /**
   * CHECKPOINT on `source` as the superuser: pg_rewind reads the source's control file, whose
   * timeline lags a fresh promotion until its first checkpoint. Also the cheapest proof that
   * the source accepts connections before anything is stopped or wiped.
   */
  async checkpointSource(source: { readonly host: string; readonly port: number }): Promise<void> {
    await withConnection({ ...this.#localConnect(), host: source.host, port: source.port }, (c) =>
      c.query('CHECKPOINT'),
    );
  }

  /** `sourceCheckpointed`: the caller already ran `checkpointSource` (the agent does, before stopping us). */
  async rewindFrom(source: FollowTarget, opts: { sourceCheckpointed?: boolean } = {}): Promise<string> {
    if (this.running) throw new HapgError('INTERNAL', 'rewind needs a stopped server');
    const env = await this.#env();
    await ensureCleanShutdown({ ...env, dataDir: this.dataDir, timeoutMs: this.timeouts.rewindMs });
    if (opts.sourceCheckpointed !== true) await this.checkpointSource(source);
    await this.writePassfile();
    const out = await rewind({
      ...env,
      dataDir: this.dataDir,
      sourceConninfo: this.#sourceConninfo(source, this.#opts.superuser, { dbname: 'postgres' }),
      passfile: this.passfile,
      timeoutMs: this.timeouts.rewindMs,
    });
    // pg_rewind copied the source's config files over ours
    await this.writeConfig('replica', source);
    this.#log.info({ host: source.host, port: source.port, out }, 'rewound');
    return out;
  }

  async createReplicationUser(): Promise<'created' | 'updated'> {
    return ensureReplicationUser(
      this.#session,
      this.#opts.replication.username,
      this.#opts.replication.password,
    );
  }

  /** Creates missing physical slots; returns the names created. */
  async ensureSlots(names: readonly string[]): Promise<string[]> {
    const created: string[] = [];
    for (const n of names) if (await createPhysicalSlot(this.#session, n)) created.push(n);
    return created;
  }

  async dropSlot(name: string): Promise<boolean> {
    return dropPhysicalSlot(this.#session, name);
  }

  async listSlots(): Promise<SlotInfo[]> {
    return listPhysicalSlots(this.#session);
  }

  /** The switch into `timeline` (the parent timeline and where it ended), from the server's own history file. */
  async lastTimelineSwitch(timeline: Timeline): Promise<TimelineSwitch | null> {
    const switches = await readTimelineHistory(this.#session, timeline);
    return switches.at(-1) ?? null;
  }

  /** Runs one query on the local server as the superuser (tools, tests). */
  async query<R extends Record<string, unknown>>(
    text: string,
    values: readonly unknown[] = [],
  ): Promise<R[]> {
    return this.#session.query<R>(text, values);
  }

  /** Closes the probe connection; the server keeps running. */
  close(): void {
    this.#session.close();
  }
}
