import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A fake watchdog device: a FIFO in `dir` whose reader (the "kernel") the test holds. The
 * reader is non-blocking, so the test never hangs on an open; `drain` collects what the fence
 * wrote (pets, the magic 'V') and says whether the writer closed ('eof').
 */
export function fakeWatchdog(dir: string): {
  readonly fifo: string;
  readonly got: string[];
  drain(): 'eof' | 'more';
  close(): void;
} {
  const fifo = join(dir, 'watchdog');
  execFileSync('mkfifo', [fifo]);
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const got: string[] = [];
  const drain = (): 'eof' | 'more' => {
    const buf = Buffer.alloc(4096);
    for (;;) {
      try {
        const n = readSync(reader, buf);
        if (n === 0) return 'eof';
        got.push(buf.subarray(0, n).toString());
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return 'more';
        throw e;
      }
    }
  };
  return { fifo, got, drain, close: () => closeSync(reader) };
}
