import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { errorText, HapgError } from '@hapg/core';
import pino from 'pino';

export type Logger = pino.Logger;

/**
 * One JSON logger per agent; components take `log.child({ component })`.
 * Passwords and connection strings (which may carry one) are redacted.
 * It writes to `stream` (see `openLogFiles`), else to `destination` (default stdout, fd 1),
 * synchronously: the last lines before an exit are never lost in a buffer.
 */
export function createLogger(opts: {
  member: string;
  scope: string;
  level?: string;
  destination?: number | string;
  stream?: pino.DestinationStream;
}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { member: opts.member, scope: opts.scope },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'password',
          '*.password',
          '*.*.password',
          'primary_conninfo',
          '*.primary_conninfo',
          'conninfo',
          '*.conninfo',
        ],
        censor: '[redacted]',
      },
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.stream ?? pino.destination({ dest: opts.destination ?? 1, sync: true }),
  );
}

/** `log.file_size`, `log.file_num` (NodeConfig['log']). */
export interface LogFiles {
  readonly fileSizeBytes: bigint | number;
  readonly fileNum: number;
}

/** The name of the log files in `log.dir`: `hapg.<n>.log`, the highest `n` the one being written. */
export const LOG_FILE_BASE = 'hapg';
/** The link in `log.dir` to the file being written (pino-roll's name). */
export const CURRENT_LOG_LINK = 'current.log';

type RollOptions = {
  file: string;
  extension: string;
  size: string;
  limit: { count: number; removeOtherLogFiles: boolean };
  mkdir: boolean;
  symlink: boolean;
  sync: boolean;
};
type RollStream = pino.DestinationStream & NodeJS.EventEmitter;
/** pino-roll (and the date library under it, ~2 MiB of heap) is loaded only by a node that logs to files. */
const loadRoll = () => createRequire(import.meta.url)('pino-roll') as (o: RollOptions) => Promise<RollStream>;

/**
 * Log files with size-based rotation (Patroni's `log.dir`, `file_size`, `file_num`), through
 * pino-roll: lines go to `<dir>/hapg.<n>.log`; once a file has reached `fileSizeBytes` the next
 * one (`n + 1`) is opened, and all but the newest `fileNum` files before it are deleted, files
 * of earlier runs of the agent included — at most `fileNum + 1` files, as Patroni keeps
 * `file_num` old files besides the current one. `current.log` links to the file being written.
 * A restarted agent appends to the newest file. Writes are synchronous; the rotation happens
 * on the next turn of the event loop after the write that crossed the size, so a file can be
 * larger than `fileSizeBytes` by the lines written in that same turn (a few, in practice).
 *
 * A failed write (a full disk) is reported on stderr, at most once a minute, and never stops
 * the agent.
 */
export async function openLogFiles(
  dir: string,
  files: LogFiles,
  stderr: (text: string) => void = (t) => process.stderr.write(t),
): Promise<pino.DestinationStream> {
  let stream: RollStream;
  try {
    // made and checked here: pino-roll (sonic-boom) does not fail its promise on a directory it cannot make
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK | constants.X_OK);
    stream = await loadRoll()({
      file: join(dir, LOG_FILE_BASE),
      extension: '.log',
      size: `${Number(files.fileSizeBytes)}b`,
      limit: { count: files.fileNum + 1, removeOtherLogFiles: true },
      mkdir: false,
      symlink: true,
      sync: true,
    });
  } catch (e) {
    throw new HapgError('CONFIG_INVALID', `log.dir ${dir}: cannot write log files there: ${errorText(e)}`);
  }
  let lastReportMs = Number.NEGATIVE_INFINITY;
  stream.on('error', (e: unknown) => {
    const now = Date.now();
    if (now - lastReportMs < 60_000) return;
    lastReportMs = now;
    stderr(`hapg: writing the log in ${dir} failed (lines are lost until it works again): ${errorText(e)}\n`);
  });
  return stream;
}
