import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { CURRENT_LOG_LINK, createLogger, type Logger, openLogFiles } from '../src/logger.js';

const root = mkdtempSync(join(tmpdir(), 'hapg-logfiles-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const FILE_SIZE = 4096;
const FILE_NUM = 3;
/** a file ends within one turn's lines of the size: 3 lines here, each under 300 bytes */
const SLACK = 3 * 300;

const logFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => /^hapg\.\d+\.log$/.test(f))
    .sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]));

async function settle(dir: string): Promise<string[]> {
  // the deletion of old files runs after the rotation, asynchronously
  for (let i = 0; i < 100 && logFiles(dir).length > FILE_NUM + 1; i++)
    await new Promise((r) => setTimeout(r, 20));
  return logFiles(dir);
}

/** Lines as the agent writes them: a few at a time, between turns of the event loop. */
async function writeLines(log: Logger, from: number, count: number) {
  for (let i = from; i < from + count; i++) {
    log.info({ component: 'ha', i, detail: 'x'.repeat(i % 120) }, `loop iteration ${i}`);
    if (i % 3 === 0) await nextTurn();
  }
}

const parse = (dir: string, f: string) =>
  readFileSync(join(dir, f), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { i?: number; level: string; member: string; msg: string });

describe('log.dir: rotated log files (pino-roll)', () => {
  const dir = join(root, 'logs', 'hapg'); // created, parents too

  it(`rotates at file_size ${FILE_SIZE} and keeps file_num ${FILE_NUM} files besides the current one`, async () => {
    const log = createLogger({
      member: 'n1',
      scope: 'demo',
      stream: await openLogFiles(dir, { fileSizeBytes: BigInt(FILE_SIZE), fileNum: FILE_NUM }),
    });
    await writeLines(log, 0, 1500); // ~200 KiB: ~50 rotations
    const files = await settle(dir);
    expect(files).toHaveLength(FILE_NUM + 1);
    const lines = files.flatMap((f) => {
      expect(statSync(join(dir, f)).size, f).toBeLessThanOrEqual(FILE_SIZE + SLACK);
      return parse(dir, f);
    });
    // pino-roll counts the lines of the rotating turn for the next file: it may rotate that much early
    for (const f of files.slice(0, -1))
      expect(statSync(join(dir, f)).size, f).toBeGreaterThanOrEqual(FILE_SIZE - SLACK);
    // every kept line valid JSON, in order with none missing in between, ending with the last one
    const numbers = lines.map((l) => l.i);
    expect(numbers.at(-1)).toBe(1499);
    expect(numbers).toEqual(numbers.map((_, k) => 1499 - (numbers.length - 1) + k));
    expect(lines[0]).toMatchObject({ level: 'info', member: 'n1', scope: 'demo' });
    expect(readlinkSync(join(dir, CURRENT_LOG_LINK))).toBe(files.at(-1));
  });

  it('a restarted agent appends to the newest file and still keeps file_num old ones', async () => {
    const before = logFiles(dir);
    const log = createLogger({
      member: 'n1',
      scope: 'demo',
      stream: await openLogFiles(dir, { fileSizeBytes: FILE_SIZE, fileNum: FILE_NUM }),
    });
    await writeLines(log, 2000, 1);
    expect(parse(dir, before.at(-1)!).at(-1)?.i).toBe(2000);
    await writeLines(log, 3000, 300);
    const files = await settle(dir);
    expect(files.length).toBeLessThanOrEqual(FILE_NUM + 1);
    expect(Number(files[0]!.split('.')[1])).toBeGreaterThan(Number(before.at(-1)!.split('.')[1]) - FILE_NUM);
    expect(files.flatMap((f) => parse(dir, f)).at(-1)?.i).toBe(3299);
  });

  it('the level set at run time (a reload) applies to the file too', async () => {
    const d = join(root, 'level');
    const log = createLogger({
      member: 'n1',
      scope: 'demo',
      stream: await openLogFiles(d, { fileSizeBytes: FILE_SIZE, fileNum: 1 }),
    });
    log.debug({ i: 1 }, 'hidden');
    log.level = 'debug';
    log.debug({ i: 2 }, 'shown');
    log.level = 'warn';
    log.info({ i: 3 }, 'hidden');
    log.warn({ i: 4 }, 'shown');
    const lines = logFiles(d).flatMap((f) => parse(d, f));
    expect(lines.map((l) => [l.i, l.level])).toEqual([
      [2, 'debug'],
      [4, 'warn'],
    ]);
  });

  it('a directory that cannot be made is an error naming it', async () => {
    await expect(openLogFiles('/dev/null/logs', { fileSizeBytes: FILE_SIZE, fileNum: 1 })).rejects.toThrow(
      /log\.dir \/dev\/null\/logs: cannot write log files there: ENOTDIR/,
    );
  });
});
