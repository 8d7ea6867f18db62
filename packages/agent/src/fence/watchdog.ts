import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import type { FenceLog } from './log.js';
import { monoNowNs } from './mono.js';

/**
 * The Linux watchdog (`--watchdog /dev/watchdog`): a second line of defence for when the
 * fence itself cannot run (host frozen, fence killed or starved). As in Patroni
 * (`patroni/watchdog/linux.py`): the device is opened (`O_WRONLY`) when the fence is armed
 * (this node is a writable primary with a valid lease), petted with a write of `1`, and
 * closed with the magic `V` when it is disarmed (the node stops being one) and after a
 * firing that stopped Postgres. Petting stops, the device still open, when the deadline
 * passes or a firing leaves processes alive: the kernel then resets the host.
 *
 * When it is petted: on every arm (a lease renewal, Patroni's keepalive after a lock
 * update), every `intervalMs` while `now + timeout <= deadline + GRACE_MS`, and once more
 * exactly at `deadline + GRACE_MS − timeout`. So if the fence stops, the device fires at the
 * latest at the later of (last arm + timeout) and (deadline + 0.5 s) — before the lease can
 * expire on etcd (deadline = send time + ttl − max(1 s, ttl/5); last arm + timeout ≈ send
 * time + ttl − safety_margin, given a timeout of at most ttl − safety_margin). While the
 * fence runs, the device would fire no earlier than 0.5 s past the deadline, long after
 * the fence's own firing (a few ms) has closed it: a frozen *agent* is fenced by the fence,
 * not by a reset.
 *
 * The timeout: Node cannot issue ioctls, so unlike Patroni hapg cannot set
 * `WDIOC_SETTIMEOUT` (ttl − safety_margin); the driver's configured timeout applies
 * (`modprobe softdog soft_margin=<s>`, a driver option, or the BIOS). It is read from
 * sysfs (`/sys/class/watchdog/watchdogN/timeout`, or `--watchdog-timeout-file`) and
 * reported in the fence's state; the agent compares it with ttl − safety_margin. When it
 * cannot be read, the agent's expected timeout (ttl − safety_margin, sent with each arm)
 * bounds the interval petting instead.
 */
export interface WatchdogTarget {
  readonly leaseValid: boolean;
  readonly armed: boolean;
  readonly failedStop: boolean;
  /** the armed deadline (CLOCK_MONOTONIC ns); undefined when disarmed */
  readonly deadlineMonoNs: bigint | undefined;
  /** the timeout the agent expects (ttl − safety_margin, ms), sent with the arm; undefined: none */
  readonly watchdogTimeoutMs: number | undefined;
}

/** What the fence reports about its watchdog (`FenceState.watchdog`). */
export interface WatchdogStatus {
  readonly device: string;
  /** the device is open (being petted, or left to fire) */
  readonly open: boolean;
  /**
   * Patroni's `is_healthy`: the device exists and is writable by the fence, and the last
   * attempt to open it did not fail. An open failure sticks until an open succeeds (or the
   * fence restarts): a node whose device could not be opened must not take the key again.
   */
  readonly healthy: boolean;
  /** why it is not healthy */
  readonly error?: string;
  /** the device's configured timeout in seconds (sysfs), null when unknown */
  readonly timeoutS: number | null;
  /** writes of '1' since the fence started */
  readonly pets: number;
}

/**
 * The device is kept from firing until this long past the deadline: longer than the fence's
 * own firing takes (ms), shorter than the smallest lease margin (1 s).
 */
export const GRACE_MS = 500;

export interface WatchdogOptions {
  /** read the timeout from this file instead of looking the device up in sysfs */
  readonly timeoutFile?: string;
  readonly sysfsRoot?: string;
}

const NO_TARGET: WatchdogTarget = {
  leaseValid: false,
  armed: false,
  failedStop: false,
  deadlineMonoNs: undefined,
  watchdogTimeoutMs: undefined,
};

export class Watchdog {
  #fd: number | undefined;
  #interval: NodeJS.Timeout | undefined;
  #finalPet: NodeJS.Timeout | undefined;
  #target: WatchdogTarget = NO_TARGET;
  #openError: string | undefined;
  #timeoutS: number | null;
  #pets = 0;
  #loggedOpenError: string | undefined;

  constructor(
    private readonly path: string,
    private readonly intervalMs: number,
    private readonly log: FenceLog,
    private readonly opts: WatchdogOptions = {},
  ) {
    this.#timeoutS = this.#readTimeout();
  }

  status(): WatchdogStatus {
    const access = this.#accessError();
    const error = this.#openError ?? access;
    return {
      device: this.path,
      open: this.#fd !== undefined,
      healthy: error === undefined,
      ...(error === undefined ? {} : { error }),
      timeoutS: this.#timeoutS,
      pets: this.#pets,
    };
  }

  /** call on every state change of the fence (every arm, disarm and firing) */
  update(target: WatchdogTarget): void {
    this.#target = target;
    clearTimeout(this.#finalPet);
    this.#finalPet = undefined;
    if (target.armed && target.leaseValid) {
      this.#open();
      // an arm is a renewal: pet whatever the interval rule says (Patroni's keepalive)
      this.#pet();
      if (this.#interval === undefined && this.#fd !== undefined) {
        this.#interval = setInterval(() => this.#tick(), this.intervalMs);
      }
      return;
    }
    if (!target.armed && !target.failedStop) this.#magicClose();
  }

  /** stops the interval (fence exit); leaves an open device open: it fires unless closed */
  dispose(): void {
    clearInterval(this.#interval);
    this.#interval = undefined;
    clearTimeout(this.#finalPet);
    this.#finalPet = undefined;
  }

  #tick(): void {
    const t = this.#target;
    const deadline = t.deadlineMonoNs;
    if (!t.armed || !t.leaseValid || deadline === undefined) return;
    const timeoutMs = this.#timeoutS !== null ? this.#timeoutS * 1000 : t.watchdogTimeoutMs;
    if (timeoutMs === undefined) {
      this.#pet();
      return;
    }
    // the last moment a pet keeps the device from firing before deadline + GRACE_MS
    const lastPetNs = deadline + BigInt(GRACE_MS - Math.ceil(timeoutMs)) * 1_000_000n;
    const leftMs = Number(lastPetNs - monoNowNs()) / 1e6;
    if (leftMs < 0) return;
    this.#pet();
    // the next tick would be too late: pet once more exactly then (a renewal supersedes it)
    if (leftMs < this.intervalMs && this.#finalPet === undefined) {
      this.#finalPet = setTimeout(() => {
        this.#finalPet = undefined;
        if (this.#target === t && t.armed && t.leaseValid && t.deadlineMonoNs === deadline) this.#pet();
      }, leftMs);
    }
  }

  #open(): void {
    if (this.#fd !== undefined) return;
    try {
      // O_NONBLOCK: opening a FIFO without a reader must fail (ENXIO), never block the fence
      this.#fd = openSync(this.path, constants.O_WRONLY | constants.O_NONBLOCK);
      this.#openError = undefined;
      this.#loggedOpenError = undefined;
      this.#timeoutS = this.#readTimeout();
      this.log('info', 'watchdog opened', { path: this.path, timeoutS: this.#timeoutS });
    } catch (e) {
      const error = `cannot open ${this.path}: ${errText(e)}`;
      this.#openError = error;
      if (this.#loggedOpenError !== error) {
        this.#loggedOpenError = error;
        // warn: with watchdog.mode automatic (the default) a host without a device is normal; the
        // agent logs what it means for the node (an error in required mode)
        this.log('warn', 'cannot open watchdog', { path: this.path, error });
      }
    }
  }

  #pet(): void {
    if (this.#fd === undefined) return;
    // stop petting once the lease may have expired without a successful stop
    if (!this.#target.leaseValid) return;
    try {
      writeSync(this.#fd, '1');
      this.#pets++;
    } catch (e) {
      this.log('error', 'watchdog write failed', { error: errText(e) });
    }
  }

  #magicClose(): void {
    clearInterval(this.#interval);
    this.#interval = undefined;
    clearTimeout(this.#finalPet);
    this.#finalPet = undefined;
    if (this.#fd === undefined) return;
    try {
      writeSync(this.#fd, 'V');
      closeSync(this.#fd);
      this.log('info', 'watchdog closed (magic close)', { path: this.path, pets: this.#pets });
    } catch (e) {
      this.log('error', 'watchdog close failed', { error: errText(e) });
    }
    this.#fd = undefined;
  }

  /** Patroni's `os.path.exists(device) and os.access(device, os.W_OK)` */
  #accessError(): string | undefined {
    if (!existsSync(this.path)) return `${this.path} does not exist`;
    try {
      accessSync(this.path, constants.W_OK);
      return undefined;
    } catch (e) {
      return `${this.path} is not writable: ${errText(e)}`;
    }
  }

  #readTimeout(): number | null {
    const file = this.opts.timeoutFile ?? sysfsTimeoutFile(this.path, this.opts.sysfsRoot);
    if (file === undefined) return null;
    try {
      const n = Number(readFileSync(file, 'utf8').trim());
      return Number.isFinite(n) && n > 0 ? n : null;
    } catch {
      return null;
    }
  }
}

/**
 * The sysfs `timeout` file of a watchdog device: `/dev/watchdogN` is `watchdogN`, the
 * legacy `/dev/watchdog` is the first registered device `watchdog0`; any other name (a
 * udev link) is matched by its device number against `watchdog*\/dev`.
 */
export function sysfsTimeoutFile(device: string, root = '/sys/class/watchdog'): string | undefined {
  let real = device;
  try {
    real = realpathSync(device);
  } catch {
    // missing device: name-based lookup only
  }
  const name = basename(real);
  if (/^watchdog[0-9]+$/.test(name)) return join(root, name, 'timeout');
  if (name === 'watchdog') return join(root, 'watchdog0', 'timeout');
  try {
    const rdev = statSync(real, { bigint: true }).rdev;
    const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
    const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
    for (const d of readdirSync(root)) {
      if (readFileSync(join(root, d, 'dev'), 'utf8').trim() === `${major}:${minor}`)
        return join(root, d, 'timeout');
    }
  } catch {
    // no sysfs, or not a device
  }
  return undefined;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
