import type { FenceLog } from './log.js';
import type { WatchdogStatus } from './watchdog.js';
import { monoNowNs } from './mono.js';
import type { FenceCommand, FenceReply, FenceState } from './protocol.js';
import { readProcStat } from './procfs.js';
import { DEFAULT_STOP_BOUNDS, readPidFileLine1, type StopBounds, stopPostmaster } from './stop.js';
import { classifyTarget } from './target.js';

/**
 * The fence's state machine: armed with (deadline, postmaster identity) or
 * disarmed. A timer fires at the deadline; firing re-checks everything (a newer
 * arm may have moved the deadline) and stops the postmaster. Commands and the
 * timer are the only inputs; the socket server and signals are wired in main.ts.
 */
export interface FenceOptions {
  readonly log: FenceLog;
  /** bound on reading postmaster.pid (the data disk may hang) */
  readonly pidFileTimeoutMs: number;
  readonly stopBounds: StopBounds;
  /** called when the fence becomes armed/disarmed or fired (watchdog hook) */
  readonly onChange?: (fence: Fence) => void;
  /** the watchdog's status, reported in every reply (`FenceState.watchdog`) */
  readonly watchdogStatus?: () => WatchdogStatus;
}

interface Armed {
  readonly deadlineMonoNs: bigint;
  readonly pid: number;
  readonly dataDir: string;
  readonly startTicks: string;
  readonly watchdogTimeoutMs: number | undefined;
}

export type FireOutcome = 'not-armed' | 'rescheduled' | 'stopped' | 'not-stopped' | 'skipped';

/** node timers take a 32-bit ms delay; a farther deadline is reached in steps */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Fence {
  #armed: Armed | undefined;
  #timer: NodeJS.Timeout | undefined;
  #fired = 0;
  #inflight: Promise<void> | undefined;
  #failedStop = false;
  readonly #opts: FenceOptions;

  constructor(opts: Partial<FenceOptions> & Pick<FenceOptions, 'log'>) {
    this.#opts = { pidFileTimeoutMs: 200, stopBounds: DEFAULT_STOP_BOUNDS, ...opts };
  }

  get armed(): boolean {
    return this.#armed !== undefined;
  }

  /** armed and the deadline has not passed: what the watchdog pets on */
  get leaseValid(): boolean {
    return this.#armed !== undefined && monoNowNs() < this.#armed.deadlineMonoNs;
  }

  /** the armed deadline; undefined when disarmed */
  get deadlineMonoNs(): bigint | undefined {
    return this.#armed?.deadlineMonoNs;
  }

  /** the watchdog timeout the agent expects (ttl − safety_margin), from the last arm */
  get watchdogTimeoutMs(): number | undefined {
    return this.#armed?.watchdogTimeoutMs;
  }

  /** the last firing left processes alive: the watchdog must stop petting so the host resets */
  get failedStop(): boolean {
    return this.#failedStop;
  }

  state(): FenceState {
    const a = this.#armed;
    const wd = this.#opts.watchdogStatus;
    const watchdog = wd === undefined ? {} : { watchdog: wd() };
    if (a === undefined) return { fencePid: process.pid, armed: false, fired: this.#fired, ...watchdog };
    return {
      fencePid: process.pid,
      armed: true,
      deadlineMonoNs: a.deadlineMonoNs.toString(),
      remainingMs: Number(a.deadlineMonoNs - monoNowNs()) / 1e6,
      pid: a.pid,
      dataDir: a.dataDir,
      fired: this.#fired,
      ...watchdog,
    };
  }

  async handle(cmd: FenceCommand): Promise<FenceReply> {
    const id = cmd.id === undefined ? {} : { id: cmd.id };
    switch (cmd.op) {
      case 'ping':
        return { ok: true, ...id, op: 'ping', ...this.state() };
      case 'disarm':
        if (this.#armed !== undefined) this.#opts.log('info', 'disarmed', { pid: this.#armed.pid });
        this.#setArmed(undefined);
        return { ok: true, ...id, op: 'disarm', ...this.state() };
      case 'exit':
        if (this.#armed !== undefined)
          return { ok: false, ...id, error: 'ARMED', message: 'refusing to exit while armed' };
        return { ok: true, ...id, op: 'exit', ...this.state() };
      case 'arm':
        return this.#arm(cmd, id);
    }
  }

  async #arm(cmd: Extract<FenceCommand, { op: 'arm' }>, id: { id?: number }): Promise<FenceReply> {
    const stat = readProcStat(cmd.pid);
    if (stat === undefined || stat.state === 'Z' || stat.state === 'X') {
      return { ok: false, ...id, error: 'PID_NOT_RUNNING', message: `pid ${cmd.pid} is not running` };
    }
    const cur = this.#armed;
    const samePostmaster =
      cur !== undefined &&
      cur.pid === cmd.pid &&
      cur.dataDir === cmd.dataDir &&
      cur.startTicks === stat.startTicks;
    // A renewal for the postmaster we already verified touches no disk: the
    // common case (every lease renewal) must stay cheap and unblockable.
    if (!samePostmaster) {
      const line1 = await readPidFileLine1(cmd.dataDir, this.#opts.pidFileTimeoutMs);
      if (line1 === 'unreadable' || line1 === 'missing') {
        return {
          ok: false,
          ...id,
          error: 'PIDFILE_UNREADABLE',
          message: `${cmd.dataDir}/postmaster.pid is ${line1}`,
        };
      }
      if (line1.trim() !== String(cmd.pid)) {
        return {
          ok: false,
          ...id,
          error: 'PID_NOT_POSTMASTER',
          message: `${cmd.dataDir}/postmaster.pid names ${JSON.stringify(line1.trim())}, not pid ${cmd.pid}`,
        };
      }
      this.#opts.log('info', 'armed', {
        pid: cmd.pid,
        dataDir: cmd.dataDir,
        deadlineMonoNs: cmd.deadlineMonoNs,
      });
    }
    this.#setArmed({
      deadlineMonoNs: cmd.deadlineMonoNs,
      pid: cmd.pid,
      dataDir: cmd.dataDir,
      startTicks: stat.startTicks,
      watchdogTimeoutMs: cmd.watchdogTimeoutMs,
    });
    if (cmd.deadlineMonoNs <= monoNowNs()) {
      this.#opts.log('warn', 'armed with a deadline already passed: firing now', { pid: cmd.pid });
      const outcome = await this.fire('deadline passed at arm');
      return {
        ok: false,
        ...id,
        error: 'DEADLINE_PASSED',
        message: `deadline already passed; fence ${outcome}`,
      };
    }
    return { ok: true, ...id, op: 'arm', ...this.state() };
  }

  #setArmed(armed: Armed | undefined): void {
    this.#armed = armed;
    this.#schedule();
    this.#opts.onChange?.(this);
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#armed === undefined) return;
    const remainingNs = this.#armed.deadlineMonoNs - monoNowNs();
    // ceil: node may run a timer up to ~1 ms early against hrtime; fire() re-checks anyway
    const delayMs =
      remainingNs <= 0n ? 0 : Math.min(MAX_TIMER_MS, Number((remainingNs + 999_999n) / 1_000_000n));
    this.#timer = setTimeout(() => {
      void this.fire('deadline');
    }, delayMs);
  }

  /**
   * Stops the armed postmaster if its deadline has passed (or `force`, for
   * SIGTERM). Re-checks after every await, since an arm or disarm may have
   * arrived meanwhile.
   */
  async fire(reason: string, force = false): Promise<FireOutcome> {
    // one firing at a time; a later caller (SIGTERM during a timer firing)
    // waits, then re-evaluates: the first may have only rescheduled
    while (this.#inflight !== undefined) await this.#inflight;
    const run = this.#fireOnce(reason, force);
    const mine = run.then(
      () => undefined,
      () => undefined,
    );
    this.#inflight = mine;
    try {
      return await run;
    } finally {
      if (this.#inflight === mine) this.#inflight = undefined;
    }
  }

  async #fireOnce(reason: string, force: boolean): Promise<FireOutcome> {
    for (;;) {
      const armed = this.#armed;
      if (armed === undefined) return 'not-armed';
      if (!force && monoNowNs() < armed.deadlineMonoNs) {
        this.#schedule();
        return 'rescheduled';
      }
      const pidFileLine1 = await readPidFileLine1(armed.dataDir, this.#opts.pidFileTimeoutMs);
      if (this.#armed !== armed) continue; // re-armed or disarmed while reading: start over
      const firedAtMonoNs = monoNowNs();
      const verdict = classifyTarget({
        armedPid: armed.pid,
        armedStartTicks: armed.startTicks,
        stat: readProcStat(armed.pid),
        pidFileLine1,
      });
      const base = {
        reason,
        pid: armed.pid,
        dataDir: armed.dataDir,
        deadlineMonoNs: armed.deadlineMonoNs,
        firedAtMonoNs,
        lateMs: Number(firedAtMonoNs - armed.deadlineMonoNs) / 1e6,
      };
      if (verdict.kind !== 'kill') {
        this.#opts.log('warn', `fence fired but did not kill: ${verdict.text}`, {
          ...base,
          verdict: verdict.kind,
        });
        this.#fired++;
        if (this.#armed === armed) this.#setArmed(undefined);
        return 'skipped';
      }
      const outcome = await stopPostmaster(armed.pid, this.#opts.stopBounds);
      this.#fired++;
      this.#failedStop = !outcome.stopped;
      this.#opts.log(
        outcome.stopped ? 'warn' : 'error',
        outcome.stopped ? 'fence fired: postmaster stopped' : 'fence fired: processes survived SIGKILL',
        {
          ...base,
          ...outcome,
        },
      );
      // A renewal that raced with the kill is for a dead postmaster: disarm.
      if (this.#armed === armed || this.#armed?.pid === armed.pid) this.#setArmed(undefined);
      return outcome.stopped ? 'stopped' : 'not-stopped';
    }
  }

  /** stops the timer (for shutdown of a disarmed fence and for tests) */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
