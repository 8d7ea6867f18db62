import {
  classifyFileSettings,
  describeFileSettingError,
  type FileSettingError,
  knownParameterNames,
  type Queryable,
  reloadConfAndCheck,
} from '@hapg/postgres';
import { describe, expect, it } from 'vitest';

const CONF = '/data/postgresql.conf';
const row = (name: string | null, error: string, line = 7, file: string | null = CONF): FileSettingError => ({
  sourcefile: file,
  sourceline: line,
  name,
  error,
});

describe('classifyFileSettings (pg_file_settings after a reload)', () => {
  const NOT_APPLIED = 'setting could not be applied';
  const cases: [string, FileSettingError[], string[], 'all' | 'partly' | 'none', number, number][] = [
    ['no errors', [], [], 'all', 0, 0],
    [
      'a changed restart-only setting is pending, not an error',
      [row('max_connections', NOT_APPLIED)],
      ['max_connections'],
      'all',
      0,
      0,
    ],
    [
      'a restart-only setting removed from the file',
      [row(null, 'parameter "shared_buffers" cannot be changed without restarting the server', 0, null)],
      ['shared_buffers'],
      'all',
      0,
      0,
    ],
    ['an invalid value: the others were applied', [row('work_mem', NOT_APPLIED)], [], 'partly', 1, 0],
    ['pending is matched without case', [row('DateStyle', NOT_APPLIED)], ['datestyle'], 'all', 0, 0],
    ['a syntax error: nothing applied', [row(null, 'syntax error')], [], 'none', 0, 1],
    [
      'an unknown name: nothing applied',
      [row('no_such', 'unrecognized configuration parameter "no_such"'), row('work_mem', NOT_APPLIED)],
      [],
      'none',
      1,
      1,
    ],
  ];
  it.each(cases)('%s', (_what, rows, pending, applied, rejected, fileErrors) => {
    const r = classifyFileSettings(rows, new Set(pending));
    expect(r.applied).toBe(applied);
    expect(r.rejected).toHaveLength(rejected);
    expect(r.fileErrors).toHaveLength(fileErrors);
  });

  it('describes an error with the file, line and setting', () => {
    expect(describeFileSettingError(row('work_mem', NOT_APPLIED, 12))).toBe(
      'postgresql.conf:12: work_mem: setting could not be applied',
    );
    expect(describeFileSettingError(row(null, 'syntax error', 3))).toBe('postgresql.conf:3: syntax error');
    expect(describeFileSettingError(row(null, 'x', 0, null))).toBe('x');
  });
});

/** A fake session answering by the SQL it is sent; records the order of statements. */
function fakeSession(opts: {
  fileErrors: FileSettingError[];
  pending?: string[];
  /** load times the server reports, one per call (the last repeats) */
  loadTimes: string[];
}): Queryable & { sent: string[] } {
  const sent: string[] = [];
  let loads = 0;
  return {
    sent,
    async query<R>(text: string): Promise<R[]> {
      sent.push(text.split(/\s+/).slice(0, 3).join(' '));
      if (text.includes('pg_conf_load_time')) {
        const t = opts.loadTimes[Math.min(loads++, opts.loadTimes.length - 1)]!;
        return [{ t }] as R[];
      }
      if (text.includes('pg_reload_conf')) return [{ pg_reload_conf: true }] as R[];
      if (text.includes('pg_file_settings')) return opts.fileErrors as R[];
      if (text.includes('pending_restart')) return (opts.pending ?? []).map((name) => ({ name })) as R[];
      if (text.includes('FROM pg_settings')) return [{ name: 'DateStyle' }, { name: 'work_mem' }] as R[];
      throw new Error(`unexpected query ${text}`);
    },
  };
}

describe('reloadConfAndCheck (against a fake query function)', () => {
  it('defect 3: a file Postgres refused whole is reported at once, not waited for, never "applied"', async () => {
    // "contains errors; no changes were applied": pg_conf_load_time never moves
    const s = fakeSession({ fileErrors: [row(null, 'syntax error', 4)], loadTimes: ['1.0'] });
    const started = performance.now();
    const r = await reloadConfAndCheck(s, 5_000, 1);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(r.applied).toBe('none');
    expect(r.fileErrors.map(describeFileSettingError)).toEqual(['postgresql.conf:4: syntax error']);
  });

  it('an invalid value: waits for the reload, then tells a refusal from a pending restart', async () => {
    const s = fakeSession({
      fileErrors: [
        row('work_mem', 'setting could not be applied'),
        row('max_connections', 'setting could not be applied', 9),
      ],
      pending: ['max_connections'],
      loadTimes: ['1.0', '1.0', '2.0'],
    });
    const r = await reloadConfAndCheck(s, 5_000, 1);
    expect(r.applied).toBe('partly');
    expect(r.rejected.map((e) => e.name)).toEqual(['work_mem']);
    expect(s.sent.at(-1)).toBe('SELECT name FROM');
  });

  it('a clean reload waits until the backend re-read the files', async () => {
    const s = fakeSession({ fileErrors: [], loadTimes: ['1.0', '1.0', '1.0', '2.0'] });
    const r = await reloadConfAndCheck(s, 5_000, 1);
    expect(r).toEqual({ applied: 'all', rejected: [], fileErrors: [] });
    expect(s.sent.filter((q) => q.includes('extract')).length).toBe(4);
  });

  it('a reload the backend never picks up is a timeout', async () => {
    const s = fakeSession({ fileErrors: [], loadTimes: ['1.0'] });
    await expect(reloadConfAndCheck(s, 20, 1)).rejects.toThrow(/not reloaded within 20 ms/);
  });

  it('the server’s known names are lower-cased', async () => {
    const known = await knownParameterNames(fakeSession({ fileErrors: [], loadTimes: ['1'] }));
    expect([...known.names]).toEqual(['datestyle', 'work_mem']);
    expect(known.source).toBe("the server's pg_settings");
  });
});
