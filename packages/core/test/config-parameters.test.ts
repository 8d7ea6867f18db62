import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkParameterKnown,
  checkParameterName,
  checkParameterValue,
  HapgError,
  MANAGED_PARAMETERS,
  PARAMETER_VALUE_MAX_CHARS,
  PG15_PARAMETERS,
  parameterWarnings,
  parameterWriteProblems,
  parseDynamicConfig,
  parseNodeConfig,
  splitParameters,
} from '../src/index.js';

const SOURCE = { source: 'etcd config key' };
const BASE = 'scope: demo\nname: node1\npostgresql:\n  data_dir: /var/lib/hapg/data\n';

function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (e) {
    if (e instanceof HapgError) return e.message;
    throw e;
  }
  throw new Error('expected CONFIG_INVALID');
}

/** A string with at least one control character (C0, DEL or C1) somewhere in it. */
const withControl = fc
  .tuple(
    fc.string(),
    fc.oneof(fc.integer({ min: 0, max: 0x1f }), fc.constant(0x7f), fc.integer({ min: 0x80, max: 0x9f })),
    fc.string(),
  )
  .map(([a, c, b]) => `${a}${String.fromCharCode(c)}${b}`);

describe('parameter names', () => {
  it.each(['work_mem', 'DateStyle', 'pg_stat_statements.max', '_x1', 'auto_explain.log_min_duration'])(
    '%s is a name',
    (name) => {
      expect(checkParameterName(name)).toBeNull();
    },
  );

  it.each([
    'bad name; x',
    'work_mem = 1',
    '1abc',
    '',
    'a.b.c',
    '.x',
    'x.',
    'wörk_mem',
    'x\ny',
    'x'.repeat(129),
  ])('%j is not a name', (name) => {
    expect(checkParameterName(name)?.code).toBe('BAD_NAME');
  });

  it('a hostile name is shown shortened, quoted, in the message', () => {
    const text = checkParameterName(`${'x'.repeat(200)} y`)!.text;
    expect(text.length).toBeLessThan(220);
    expect(text).toMatch(/^"x{64}…" is not a parameter name/);
  });

  it.each([
    ['port', 'set postgresql.listen instead'],
    ['PORT', 'set postgresql.listen instead'],
    ['listen_addresses', 'set postgresql.listen instead'],
    ['data_directory', 'set postgresql.data_dir instead'],
    ['hba_file', 'set postgresql.pg_hba instead'],
    ['config_file', 'postgresql.conf it writes'],
    ['primary_conninfo', 'current leader'],
    ['primary_slot_name', 'use_slots'],
    ['recovery_target_timeline', "'latest'"],
    ['recovery_target_action', 'without the leader key'],
    ['promote_trigger_file', 'only hapg promotes'],
  ])('%s is managed by hapg (%s)', (name, hint) => {
    const p = checkParameterName(name)!;
    expect(p.code).toBe('MANAGED');
    expect(p.text).toContain('managed by hapg; ');
    expect(p.text).toContain(hint);
  });

  it('synchronous_standby_names, ident_file and restore_command are the operator’s', () => {
    for (const name of ['synchronous_standby_names', 'ident_file', 'restore_command', 'cluster_name'])
      expect(checkParameterName(name)).toBeNull();
  });

  it('every managed name is a PostgreSQL 15 parameter (no typo in the list)', () => {
    // config_file exists but only on the command line: not among the names a file may set
    for (const name of MANAGED_PARAMETERS.keys())
      if (name !== 'config_file') expect(PG15_PARAMETERS.names.has(name), name).toBe(true);
  });

  it('unknown names, with a suggestion; extension placeholders always pass', () => {
    expect(checkParameterKnown('wrok_mem', PG15_PARAMETERS)?.text).toBe(
      'unknown parameter (not in PostgreSQL 15); did you mean "work_mem"?',
    );
    expect(checkParameterKnown('TimeZone', PG15_PARAMETERS)).toBeNull();
    expect(checkParameterKnown('pg_stat_statements.max', PG15_PARAMETERS)).toBeNull();
    expect(checkParameterKnown('zero_damaged_pages', PG15_PARAMETERS)).toBeNull();
    const server = { names: new Set(['work_mem', 'summarize_wal']), source: "the server's pg_settings" };
    expect(checkParameterKnown('summarize_wal', server)).toBeNull();
    expect(checkParameterKnown('nonsense', server)?.text).toBe(
      "unknown parameter (not in the server's pg_settings)",
    );
  });
});

describe('parameter values', () => {
  it('defect 1: a newline is refused, named by its code point and offset, the value not echoed', () => {
    const p = checkParameterValue('work_mem', '8MB\nfsync = off')!;
    expect(p).toEqual({
      name: 'work_mem',
      code: 'BAD_VALUE',
      text: 'value contains the control character U+000A at offset 3; postgresql.conf cannot hold newlines, tabs or other control characters in a value',
    });
    expect(p.text).not.toContain('fsync');
  });

  it.each([
    ['\r', 'U+000D'],
    ['\0', 'U+0000'],
    ['\t', 'U+0009'],
    ['\u007f', 'U+007F'],
    ['\u0085', 'U+0085'],
  ])('%j is refused', (c, code) => {
    expect(checkParameterValue('x', `a${c}`)?.text).toContain(code);
  });

  it('lone surrogates and over-long values are refused; numbers, booleans and quotes are fine', () => {
    expect(checkParameterValue('x', 'a\uD800b')?.text).toBe(
      'value is not valid Unicode text (a lone surrogate at offset 1)',
    );
    expect(checkParameterValue('x', '😀')).toBeNull();
    expect(checkParameterValue('x', 'x'.repeat(PARAMETER_VALUE_MAX_CHARS + 1))?.code).toBe('BAD_VALUE');
    expect(checkParameterValue('x', 'x'.repeat(PARAMETER_VALUE_MAX_CHARS))).toBeNull();
    expect(checkParameterValue('x', 12)).toBeNull();
    expect(checkParameterValue('x', true)).toBeNull();
    expect(checkParameterValue('x', "it's a \\ test # not a comment")).toBeNull();
  });

  it('property: any string with a control character is refused, wherever it sits', () => {
    fc.assert(
      fc.property(withControl, (v) => {
        expect(checkParameterValue('p', v)?.code).toBe('BAD_VALUE');
        expect(splitParameters({ p: v }, { known: null }).valid).toEqual({});
      }),
    );
  });

  it('property: a string without control characters or lone surrogates is accepted', () => {
    const clean = fc.string({ unit: 'grapheme', maxLength: 200 }).filter((s) => !/\p{Cc}/u.test(s));
    fc.assert(
      fc.property(clean, (v) => {
        expect(checkParameterValue('p', v)).toBeNull();
      }),
    );
  });
});

describe('splitParameters', () => {
  it('keeps the valid ones (names lower-cased) and lists the others in order', () => {
    const r = splitParameters(
      { Work_Mem: '8MB', port: 5433, 'bad name; x': 1, work_mem: '16MB', wrok_mem: 1, 'ext.x': 'y' },
      { known: PG15_PARAMETERS },
    );
    expect(r.valid).toEqual({ work_mem: '8MB', 'ext.x': 'y' });
    expect(r.problems.map((p) => [p.name, p.code])).toEqual([
      ['port', 'MANAGED'],
      ['bad name; x', 'BAD_NAME'],
      ['work_mem', 'DUPLICATE'],
      ['wrok_mem', 'UNKNOWN'],
    ]);
    expect(r.problems[2]!.text).toBe('also given as "Work_Mem" (parameter names ignore case)');
  });

  it('without a list of known names, unknown ones pass (the agent asks its server)', () => {
    expect(splitParameters({ wrok_mem: 1 }, { known: null }).valid).toEqual({ wrok_mem: 1 });
  });
});

describe('the dynamic config as stored (etcd config key)', () => {
  it('defect 2: bad parameters written by another tool are skipped; the others still apply', () => {
    const { config } = parseDynamicConfig(
      {
        postgresql: {
          parameters: {
            work_mem: '8MB',
            port: 5433,
            data_directory: '/x',
            'bad name; x': 1,
            shared_buffers: 'a\nb',
          },
        },
      },
      SOURCE,
    );
    expect(config.postgresql.parameters).toEqual({ work_mem: '8MB' });
    expect(config.postgresql.skippedParameters.map((p) => [p.name, p.code])).toEqual([
      ['port', 'MANAGED'],
      ['data_directory', 'MANAGED'],
      ['bad name; x', 'BAD_NAME'],
      ['shared_buffers', 'BAD_VALUE'],
    ]);
  });
});

describe('parameterWriteProblems (PATCH/PUT /config, hactl edit-config)', () => {
  const params = (p: Record<string, unknown>) => ({ postgresql: { parameters: p } });

  it('refuses a new or changed parameter with the reason, by its path', () => {
    expect(parameterWriteProblems(params({ work_mem: '8MB\nfsync = off' }), {}, PG15_PARAMETERS)).toEqual([
      {
        path: ['postgresql', 'parameters', 'work_mem'],
        message:
          'value contains the control character U+000A at offset 3; postgresql.conf cannot hold newlines, tabs or other control characters in a value',
      },
    ]);
    const next = params({ port: 5433, data_directory: '/x', 'bad name; x': 1, no_such: 1, 'ext.x': 1 });
    expect(parameterWriteProblems(next, {}, PG15_PARAMETERS).map((p) => p.path[2])).toEqual([
      'port',
      'data_directory',
      'bad name; x',
      'no_such',
    ]);
    expect(parameterWriteProblems(params({ port: 1 }), params({ port: 2 }), null)).toHaveLength(1);
  });

  it('does not hold a stored bad parameter against an unrelated change; removing it is fine', () => {
    const stored = params({ port: 5433, work_mem: '4MB' });
    expect(
      parameterWriteProblems({ ttl: 20, ...params({ port: 5433, work_mem: '8MB' }) }, stored, null),
    ).toEqual([]);
    expect(parameterWriteProblems(params({ work_mem: '8MB' }), stored, null)).toEqual([]);
  });

  it('leaves a value of the wrong type to the schema', () => {
    expect(parameterWriteProblems(params({ work_mem: { a: 1 } }), {}, null)).toEqual([]);
    expect(parameterWriteProblems({ postgresql: 'x' }, {}, null)).toEqual([]);
  });
});

describe('the node YAML (--validate-config)', () => {
  it('names PostgreSQL 15 does not know: 20 warned about by name, the rest counted', () => {
    const lines = Array.from({ length: 25 }, (_, i) => `    custom_${i}: 1\n`).join('');
    const { config } = parseNodeConfig(`${BASE}  parameters:\n${lines}`, { fileName: 'node.yaml' });
    const warnings = parameterWarnings(config);
    expect(warnings).toHaveLength(21);
    expect(warnings.at(-1)).toBe('postgresql.parameters: 5 more names PostgreSQL 15 does not know');
  });

  it('defect 1: a control character in a value is an error naming the key', () => {
    const yaml = `${BASE}  parameters:\n    work_mem: "8MB\\nfsync = off"\n`;
    expect(messageOf(() => parseNodeConfig(yaml, { fileName: 'node.yaml' }))).toBe(
      'node.yaml:6:15: postgresql.parameters.work_mem: value contains the control character U+000A at offset 3; postgresql.conf cannot hold newlines, tabs or other control characters in a value',
    );
  });

  it('a malformed name is an error, in bootstrap.dcs too', () => {
    const yaml = `${BASE}bootstrap:\n  dcs:\n    postgresql:\n      parameters:\n        "bad name; x": 1\n`;
    expect(messageOf(() => parseNodeConfig(yaml, { fileName: 'node.yaml' }))).toMatch(
      /^node\.yaml:\d+:\d+: bootstrap\.dcs\.postgresql\.parameters\.bad name; x: "bad name; x" is not a parameter name/,
    );
  });

  it('parameters hapg manages are ignored with a warning (as Patroni does); unknown names are warned about', () => {
    const yaml = `${BASE}  parameters:\n    port: 5433\n    Work_Mem: 8MB\n    wrok_mem: 1\nbootstrap:\n  dcs:\n    postgresql:\n      parameters:\n        listen_addresses: '*'\n        max_connections: 50\n`;
    const { config } = parseNodeConfig(yaml, { fileName: 'node.yaml' });
    expect(config.postgresql.parameters).toEqual({ work_mem: '8MB', wrok_mem: 1 });
    expect(config.bootstrap.dcs.postgresql.parameters).toEqual({ max_connections: 50 });
    expect(parameterWarnings(config)).toEqual([
      'postgresql.parameters.port: ignored: managed by hapg; set postgresql.listen instead',
      'postgresql.parameters.wrok_mem: unknown parameter (not in PostgreSQL 15); did you mean "work_mem"?',
      'bootstrap.dcs.postgresql.parameters.listen_addresses: ignored: managed by hapg; set postgresql.listen instead',
    ]);
  });
});
