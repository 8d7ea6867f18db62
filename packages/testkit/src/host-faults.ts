import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Faults of one host that are not about the network: its wall clock stepped, its disk full.
 */
const run = promisify(execFile);

/** Debian's libfaketime (package `faketime`). */
export const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

/**
 * A host's wall clock, steppable at run time: the agent (and the Postgres and fence it starts,
 * which inherit the environment) run with libfaketime reading its offset from `file`. Only
 * CLOCK_REALTIME moves (`FAKETIME_DONT_FAKE_MONOTONIC`): a stepped NTP clock, exactly what
 * the design's use of monotonic time for every deadline must withstand.
 */
export class ClockControl {
  readonly file: string;

  constructor(dir: string, name: string) {
    this.file = join(dir, `${name}.faketime`);
  }

  static available(): boolean {
    return existsSync(LIBFAKETIME);
  }

  /** The environment that puts a process under this clock. */
  env(): Record<string, string> {
    return {
      LD_PRELOAD: LIBFAKETIME,
      FAKETIME_TIMESTAMP_FILE: this.file,
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
      // re-read the offset every second (reading it on every clock call would cost a syscall each)
      FAKETIME_CACHE_DURATION: '1',
    };
  }

  /** Steps the wall clock to `offsetS` seconds from the real one (0: back to true time). */
  async step(offsetS: number): Promise<void> {
    const sign = offsetS < 0 ? '-' : '+';
    await writeFile(this.file, `${sign}${Math.abs(offsetS)}\n`, { mode: 0o644 });
  }
}

/**
 * A host whose data lives on a small tmpfs, so a test can fill it (ENOSPC for Postgres) and
 * free it again. Mounted over the node's directory before anything is written there.
 */
export class SmallDisk {
  readonly dir: string;
  readonly #filler: string;

  private constructor(dir: string) {
    this.dir = dir;
    this.#filler = join(dir, 'disk-filler');
  }

  static async mount(dir: string, sizeMb: number, owner: { uid: number; gid: number }): Promise<SmallDisk> {
    await run('mount', [
      '-t',
      'tmpfs',
      '-o',
      `size=${sizeMb}m,mode=0700,uid=${owner.uid},gid=${owner.gid}`,
      'hapg-test-disk',
      dir,
    ]);
    return new SmallDisk(dir);
  }

  /** Takes every free byte (`fallocate` of the free space, then a top-up write). */
  async fill(): Promise<void> {
    const { stdout } = await run('df', ['--output=avail', '-B1', this.dir]);
    const free = Number(stdout.trim().split('\n').at(-1));
    if (free > 0) await run('fallocate', ['-l', String(free), this.#filler]).catch(() => undefined);
  }

  async free(): Promise<void> {
    await rm(this.#filler, { force: true });
  }

  unmountSync(): void {
    try {
      execFileSync('umount', ['-l', this.dir], { stdio: 'ignore' });
    } catch {
      // not mounted
    }
  }
}

/** Unmounts every test disk left mounted by a crashed run (`npm run testkit -- cleanup`). */
export function cleanupTestDisks(): string[] {
  const out: string[] = [];
  let mounts = '';
  try {
    mounts = readFileSync('/proc/mounts', 'utf8');
  } catch {
    return out;
  }
  for (const line of mounts.split('\n')) {
    const [source, target] = line.split(' ');
    if (source !== 'hapg-test-disk' || target === undefined) continue;
    try {
      execFileSync('umount', ['-l', target], { stdio: 'ignore' });
      out.push(target);
    } catch {
      // busy or gone
    }
  }
  return out;
}
