import { type ParameterProblem, splitParameters } from '@hapg/core';
import type { FileSettingError, Parameters, ReloadResult } from '@hapg/postgres';
import { describe, expect, it } from 'vitest';
import { type ApplyInput, type ParameterNode, ParameterApplier } from '../src/duties/parameter-applier.js';
import { joinReasons } from '../src/snapshot-build.js';

const CONF = '/data/postgresql.conf';
const notApplied = (name: string, file = CONF): FileSettingError => ({
  sourcefile: file,
  sourceline: 9,
  name,
  error: 'setting could not be applied',
});

/**
 * A node that renders what it is given and "reloads" it like Postgres: values in `refuse`
 * (name → value) come back as "setting could not be applied", the rest are in force.
 */
class FakeNode implements ParameterNode {
  rendered: Parameters = {};
  inForce: Parameters = {};
  readonly refuse = new Map<string, unknown>();
  fileErrors: FileSettingError[] = [];
  unknown = new Set<string>();
  reloads = 0;
  renders = 0;

  async refreshKnownParameters(): Promise<void> {}

  async setParameters(params: Parameters): Promise<readonly ParameterProblem[]> {
    this.renders++;
    const known = {
      names: new Set(Object.keys(params).filter((n) => !this.unknown.has(n))),
      source: 'pg_settings',
    };
    const split = splitParameters(params, { known });
    this.rendered = split.valid;
    return split.problems;
  }

  async reload(): Promise<ReloadResult> {
    this.reloads++;
    const rejected = Object.entries(this.rendered)
      .filter(([n, v]) => this.refuse.get(n) === v)
      .map(([n]) => notApplied(n));
    if (this.fileErrors.length > 0)
      return { applied: 'none', rejected, fileErrors: this.fileErrors, pendingRestart: {} };
    this.inForce = Object.fromEntries(
      Object.entries(this.rendered).filter(([n, v]) => this.refuse.get(n) !== v),
    );
    return { applied: rejected.length > 0 ? 'partly' : 'all', rejected, fileErrors: [], pendingRestart: {} };
  }
}

function recordingLog() {
  const lines: { level: string; msg: string; obj: object }[] = [];
  const at = (level: string) => (obj: object, msg: string) => lines.push({ level, msg, obj });
  return { lines, log: { info: at('info'), warn: at('warn'), error: at('error') } };
}

const RUNNING: ApplyInput['reload'] = { role: 'primary', follow: () => null };
const input = (desired: Parameters, extra: Partial<ApplyInput> = {}): ApplyInput => ({
  desired,
  skipped: [],
  hba: null,
  hbaShadowed: false,
  reload: RUNNING,
  ...extra,
});
const PORT: ParameterProblem = {
  name: 'port',
  code: 'MANAGED',
  text: 'managed by hapg; set postgresql.listen instead',
};

describe('ParameterApplier', () => {
  it('applies a change once, and logs "applied" only when Postgres took it', async () => {
    const node = new FakeNode();
    const { lines, log } = recordingLog();
    const a = new ParameterApplier(node, log);
    expect(await a.apply(input({ work_mem: '8MB' }))).toBe(true);
    expect(await a.apply(input({ work_mem: '8MB' }))).toBe(true);
    expect(node.reloads).toBe(1);
    expect(node.inForce).toEqual({ work_mem: '8MB' });
    expect(lines.map((l) => l.msg)).toEqual(['applied Postgres parameters (reload)']);
    expect(a.problem).toBeNull();
  });

  it('defect 2: skipped parameters (stored bad, unknown to the server) never freeze the others; warned once per change', async () => {
    const node = new FakeNode();
    node.unknown.add('no_such');
    const { lines, log } = recordingLog();
    const a = new ParameterApplier(node, log);
    await a.apply(input({ work_mem: '8MB', no_such: 1 }, { skipped: [PORT] }));
    await a.apply(input({ work_mem: '8MB', no_such: 1 }, { skipped: [PORT] }));
    expect(node.inForce).toEqual({ work_mem: '8MB' });
    const warnings = lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toBe(
      'skipped Postgres parameters: port (managed by hapg; set postgresql.listen instead); no_such (unknown parameter (not in pg_settings))',
    );
    expect(a.problem).toContain('skipped Postgres parameters: port');
    // the later work_mem change of the issue: it takes effect
    await a.apply(input({ work_mem: '16MB', no_such: 1 }, { skipped: [PORT] }));
    expect(node.inForce).toEqual({ work_mem: '16MB' });
  });

  it('defect 2: a change of pg_hba is applied while bad parameters are stored', async () => {
    const node = new FakeNode();
    const a = new ParameterApplier(node, recordingLog().log);
    await a.apply(
      input({ work_mem: '8MB' }, { skipped: [PORT], hba: ['host all all 10.0.0.0/8 scram-sha-256'] }),
    );
    await a.apply(
      input({ work_mem: '8MB' }, { skipped: [PORT], hba: ['host all all 10.1.0.0/16 scram-sha-256'] }),
    );
    expect(node.reloads).toBe(2);
  });

  it('the dynamic pg_hba shadowed by the node’s own list is said once, not silently ignored', async () => {
    const { lines, log } = recordingLog();
    const a = new ParameterApplier(new FakeNode(), log);
    await a.apply(input({}, { hbaShadowed: true, hba: ['local all all peer'] }));
    await a.apply(input({}, { hbaShadowed: true, hba: ['local all all peer'] }));
    expect(lines.filter((l) => l.msg.includes('pg_hba')).map((l) => l.msg)).toEqual([
      "the dynamic postgresql.pg_hba is not used here: this node's own postgresql.pg_hba wins",
    ]);
  });

  it('defect 3: a value Postgres refuses is an error, never "applied"; the previous value is rendered again', async () => {
    const node = new FakeNode();
    const { lines, log } = recordingLog();
    const a = new ParameterApplier(node, log);
    await a.apply(input({ work_mem: '8MB', statement_timeout: '5s' }));
    node.refuse.set('work_mem', 'banana');
    lines.length = 0;
    await a.apply(input({ work_mem: 'banana', statement_timeout: '7s' }));
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [
        'error',
        'Postgres refused parameters; rendering their previous values instead: postgresql.conf:9: work_mem: setting could not be applied',
      ],
    ]);
    expect(lines.some((l) => l.msg.includes('applied Postgres parameters'))).toBe(false);
    // the file holds what starts Postgres: the last value it took, and the other change
    expect(node.rendered).toEqual({ work_mem: '8MB', statement_timeout: '7s' });
    expect(node.inForce).toEqual({ work_mem: '8MB', statement_timeout: '7s' });
    expect(a.problem).toBe(
      'Postgres refused parameters, their previous values stay: postgresql.conf:9: work_mem: setting could not be applied',
    );
    // nothing changes: nothing is retried
    const reloads = node.reloads;
    await a.apply(input({ work_mem: 'banana', statement_timeout: '7s' }));
    expect(node.reloads).toBe(reloads);
    // a new value gets its chance, and the problem is gone
    await a.apply(input({ work_mem: '32MB', statement_timeout: '7s' }));
    expect(node.inForce).toEqual({ work_mem: '32MB', statement_timeout: '7s' });
    expect(a.problem).toBeNull();
  });

  it('a refused value never set before is left out of the file', async () => {
    const node = new FakeNode();
    node.refuse.set('work_mem', 'banana');
    const a = new ParameterApplier(node, recordingLog().log);
    await a.apply(input({ work_mem: 'banana' }));
    expect(node.rendered).toEqual({});
  });

  it('defect 3: files Postgres refused whole are an error with its reason', async () => {
    const node = new FakeNode();
    node.fileErrors = [
      { sourcefile: '/data/postgresql.auto.conf', sourceline: 3, name: null, error: 'syntax error' },
    ];
    const { lines, log } = recordingLog();
    const a = new ParameterApplier(node, log);
    expect(await a.apply(input({ work_mem: '8MB' }))).toBe(true);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [
        'error',
        'Postgres applied no change of its configuration files: postgresql.auto.conf:3: syntax error',
      ],
    ]);
    expect(a.problem).toBe(
      'Postgres applied no change of its configuration files: postgresql.auto.conf:3: syntax error',
    );
  });

  it('a refusal of a setting not rendered by hapg (postgresql.auto.conf) is reported, not taken out', async () => {
    const node = new FakeNode();
    node.reload = async () => ({
      applied: 'partly',
      rejected: [notApplied('work_mem', '/data/postgresql.auto.conf')],
      fileErrors: [],
      pendingRestart: {},
    });
    const a = new ParameterApplier(node, recordingLog().log);
    await a.apply(input({ work_mem: '8MB' }));
    expect(node.rendered).toEqual({ work_mem: '8MB' });
    expect(a.problem).toBe(
      'Postgres did not apply everything of its configuration files: postgresql.auto.conf:9: work_mem: setting could not be applied',
    );
  });

  it('a failure part-way is retried at the next call', async () => {
    const node = new FakeNode();
    let fail = true;
    const reload = node.reload.bind(node);
    node.reload = async () => {
      if (fail) throw new Error('connection lost');
      return reload();
    };
    const { lines, log } = recordingLog();
    const a = new ParameterApplier(node, log);
    expect(await a.apply(input({ work_mem: '8MB' }))).toBe(false);
    expect(lines.at(-1)?.msg).toBe('could not apply Postgres parameters');
    fail = false;
    expect(await a.apply(input({ work_mem: '8MB' }))).toBe(true);
    expect(node.inForce).toEqual({ work_mem: '8MB' });
  });

  it('while Postgres does not run, only the file is written', async () => {
    const node = new FakeNode();
    const a = new ParameterApplier(node, recordingLog().log);
    await a.apply(input({ work_mem: '8MB' }, { reload: null }));
    expect(node.rendered).toEqual({ work_mem: '8MB' });
    expect(node.reloads).toBe(0);
  });
});

describe('status_reason', () => {
  it('carries the parameter problem next to a health reason', () => {
    expect(joinReasons(null, null)).toBeNull();
    expect(joinReasons(null, 'skipped x')).toBe('skipped x');
    expect(joinReasons('rejoin failed', 'skipped x')).toBe('rejoin failed; skipped x');
  });
});
