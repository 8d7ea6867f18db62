import fc from 'fast-check';
import {
  DEFAULT_PARAMETERS,
  quoteGucValue,
  hostCidr,
  renderPgHba,
  renderPostgresqlConf,
  slotNameFor,
} from '@hapg/postgres';
import { describe, expect, it } from 'vitest';

describe('postgresql.conf rendering', () => {
  const base = { listenAddresses: '10.0.0.1,127.0.0.1', port: 5433, hbaFile: '/d/pg_hba.conf' };

  it('includes the base conf first, then defaults overridden by user parameters, then managed settings', () => {
    const text = renderPostgresqlConf({
      ...base,
      parameters: { max_wal_senders: 4, work_mem: '8MB' },
      recovery: null,
    });
    const lines = text.split('\n');
    expect(lines.find((l) => l.startsWith('include'))).toBe("include 'postgresql.base.conf'");
    expect(lines.findIndex((l) => l.startsWith('include'))).toBeLessThan(lines.indexOf('port = 5433'));
    expect(text).toContain("max_wal_senders = '4'\n");
    expect(text).toContain("work_mem = '8MB'\n");
    expect(text).toContain(`wal_level = '${DEFAULT_PARAMETERS.wal_level}'\n`);
    expect(text).toContain("listen_addresses = '10.0.0.1,127.0.0.1'\n");
    expect(text).toContain("hba_file = '/d/pg_hba.conf'\n");
    expect(text).not.toContain('primary_conninfo');
    // always present: removing a restart-only setting on promotion would leave pending_restart set
    expect(text).toContain("recovery_target_timeline = 'latest'\n");
  });

  it('a replica gets primary_conninfo, slot and timeline latest, GUC-quoted', () => {
    const text = renderPostgresqlConf({
      ...base,
      parameters: {},
      recovery: { primaryConninfo: "host=p user=r application_name='n 1'", primarySlotName: 'n_1' },
    });
    expect(text).toContain("primary_conninfo = 'host=p user=r application_name=''n 1'''\n");
    expect(text).toContain("primary_slot_name = 'n_1'\n");
    expect(text).toContain("recovery_target_timeline = 'latest'\n");
  });

  it('quotes GUC values', () => {
    expect(quoteGucValue("it's")).toBe("'it''s'");
    expect(quoteGucValue('a\\b')).toBe("'a\\\\b'");
    expect(quoteGucValue(true)).toBe("'on'");
    expect(quoteGucValue(12)).toBe("'12'");
  });

  it('refuses what the parsers should have kept out: managed names, malformed names, control characters', () => {
    const render = (parameters: Record<string, string | number | boolean>) =>
      renderPostgresqlConf({ ...base, parameters, recovery: null });
    expect(() => render({ port: 1 })).toThrow(/port \(managed by hapg; set postgresql.listen instead\)/);
    expect(() => render({ 'bad name': 1 })).toThrow(/"bad name" is not a parameter name/);
    expect(() => render({ work_mem: '8MB\nfsync = off' })).toThrow(/control character U\+000A/);
    expect(() => quoteGucValue('a\rb')).toThrow(/control character/);
    // a conninfo built from a hostile member key cannot add lines either
    expect(() =>
      renderPostgresqlConf({
        ...base,
        parameters: {},
        recovery: { primaryConninfo: "host='x\nfsync = off'", primarySlotName: null },
      }),
    ).toThrow(/control character/);
  });

  it('property: every valid value round-trips through the renderer and the config-file lexer', () => {
    const value = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 100 }).filter((v) => !/\p{Cc}/u.test(v)),
      fc.constantFrom("'", "''", '\\', "\\'", "'\\", '#', ' = ', "a' b = 'c", '\\n'),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
    );
    fc.assert(
      fc.property(value, (v) => {
        const text = renderPostgresqlConf({ ...base, parameters: { work_mem: v }, recovery: null });
        const settings = parseConf(text);
        expect(settings.get('work_mem')).toBe(typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v));
        // nothing else appeared, and hapg's own settings are intact
        expect(settings.get('port')).toBe('5433');
        expect([...settings.keys()].filter((k) => k === 'work_mem')).toHaveLength(1);
      }),
    );
  });
});

/**
 * postgresql.conf as Postgres's lexer reads it (guc-file.l: `name = 'string'`, the string
 * `'([^'\\\n]|\\.|'')*'`, then GUC_scanstr: `''` is a quote, `\x` escapes x, `\n` etc. are
 * control characters). Unquoted values and comments are accepted too; anything else fails.
 */
function parseConf(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
  for (const line of text.split('\n')) {
    const bare = line.trim();
    if (bare === '' || bare.startsWith('#') || bare.startsWith('include ')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_.]*) = (?:'((?:[^'\\\n]|\\.|'')*)'|([^\s'#]+))\s*(?:#.*)?$/.exec(bare);
    if (m === null) throw new Error(`syntax error: ${line}`);
    const raw = m[2];
    out.set(
      m[1]!,
      raw === undefined
        ? m[3]!
        : raw.replace(/''|\\(.)/gu, (all, c: string | undefined) =>
            all === "''" ? "'" : (ESCAPES[c!] ?? c!),
          ),
    );
  }
  return out;
}

describe('pg_hba.conf rendering', () => {
  it('allows replication and the superuser (for pg_rewind) from member networks with scram', () => {
    const text = renderPgHba({
      superuser: 'postgres',
      replicationUser: 'rep user',
      memberCidrs: ['10.0.0.0/24'],
    });
    expect(text).toContain('host replication "rep user" 10.0.0.0/24 scram-sha-256\n');
    expect(text).toContain('host all postgres 10.0.0.0/24 scram-sha-256\n');
    expect(text).toContain('host all all 127.0.0.1/32 scram-sha-256\n');
    expect(text).not.toMatch(/\btrust\b/);
    expect(text).not.toMatch(/^host .* 0\.0\.0\.0\/0/m);
  });

  it('uses postgresql.pg_hba verbatim when given', () => {
    const text = renderPgHba({
      superuser: 's',
      replicationUser: 'r',
      memberCidrs: ['1.2.3.4/32'],
      lines: ['host all all 0.0.0.0/0 md5'],
    });
    expect(text.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual(['host all all 0.0.0.0/0 md5']);
  });

  it('lets the superuser reach its own listen and connect addresses (not loopback, names or wildcards twice)', () => {
    const text = renderPgHba({
      superuser: 'postgres',
      replicationUser: 'replicator',
      memberCidrs: [],
      selfAddresses: ['10.0.0.11', '*', '0.0.0.0', '127.0.0.1', 'db1.example', '[fd00::11]', '10.0.0.11'],
    });
    const rules = text.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(rules).toEqual([
      'local all all peer',
      'host all all 127.0.0.1/32 scram-sha-256',
      'host replication all 127.0.0.1/32 scram-sha-256',
      'host all all ::1/128 scram-sha-256',
      'host replication all ::1/128 scram-sha-256',
      'host all postgres 10.0.0.11/32 scram-sha-256',
      'host all postgres fd00::11/128 scram-sha-256',
    ]);
  });

  it("appends bootstrap.pg_hba to the generated file, after hapg's own rules", () => {
    const text = renderPgHba({
      superuser: 'postgres',
      replicationUser: 'replicator',
      memberCidrs: [],
      selfAddresses: ['10.0.0.11'],
      extraLines: ['host replication replicator 10.0.0.0/24 md5', 'host all all 0.0.0.0/0 md5'],
    });
    expect(
      text.endsWith(
        'host all postgres 10.0.0.11/32 scram-sha-256\n# bootstrap.pg_hba\n' +
          'host replication replicator 10.0.0.0/24 md5\nhost all all 0.0.0.0/0 md5\n',
      ),
    ).toBe(true);
  });

  it('ignores bootstrap.pg_hba when postgresql.pg_hba is set (Patroni: the list replaces the file)', () => {
    const text = renderPgHba({
      superuser: 's',
      replicationUser: 'r',
      memberCidrs: [],
      lines: ['local all all trust'],
      extraLines: ['host all all 0.0.0.0/0 md5'],
    });
    expect(text.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual(['local all all trust']);
  });
});

describe('hostCidr', () => {
  it.each([
    ['10.1.2.3', '10.1.2.3/32'],
    ['::1', '::1/128'],
    ['[fd00::1]', 'fd00::1/128'],
    ['0.0.0.0', null],
    ['::', null],
    ['*', null],
    ['db.example', null],
  ])('%s → %s', (host, cidr) => {
    expect(hostCidr(host)).toBe(cidr);
  });
});

describe('slot names', () => {
  it.each([
    ['node1', 'node1'],
    ['Node-1.dc', 'node_1_dc'],
    ['x'.repeat(80), 'x'.repeat(63)],
  ])('%s → %s', (member, slot) => {
    expect(slotNameFor(member)).toBe(slot);
  });
});
