import { open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * The longest promise this member ever gave (M4), kept beside the data directory
 * (`<data_dir>.hapg-failsafe.json`) so that a restarted agent — or one after a reboot, which
 * resets the monotonic clock — waits out any promise of an earlier run. Written with fsync
 * (file and directory) before the first answer that needs a longer one.
 */
export class LongestPromiseFile {
  readonly #path: string;

  constructor(dataDir: string) {
    this.#path = `${dataDir}.hapg-failsafe.json`;
  }

  get path(): string {
    return this.#path;
  }

  /** 0 when there is no file; an unreadable one counts as the longest promise we could give. */
  async load(fallbackMs: number): Promise<number> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      return fallbackMs;
    }
    try {
      const ms = (JSON.parse(text) as { longestPromiseMs?: unknown }).longestPromiseMs;
      return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? ms : fallbackMs;
    } catch {
      return fallbackMs;
    }
  }

  async save(longestPromiseMs: number): Promise<void> {
    const tmp = `${this.#path}.tmp`;
    const f = await open(tmp, 'w', 0o600);
    try {
      await f.writeFile(JSON.stringify({ longestPromiseMs }));
      await f.sync();
    } finally {
      await f.close();
    }
    await rename(tmp, this.#path);
    const dir = await open(dirname(this.#path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
