import {
  checkParameterNames,
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

  it('rejects managed, malformed and (when known) unknown parameter names', () => {
    expect(() => renderPostgresqlConf({ ...base, parameters: { port: 1 }, recovery: null })).toThrow(
      /port is managed/,
    );
    expect(checkParameterNames({ 'bad name': 1, primary_conninfo: 'x' })).toEqual([
      '"bad name" is not a valid parameter name',
      'primary_conninfo is managed by hapg and cannot be set',
    ]);
    const known = new Set(['work_mem']);
    expect(checkParameterNames({ work_mem: 1, wrok_mem: 2, 'pg_stat_statements.max': 3 }, known)).toEqual([
      'unknown parameter wrok_mem',
    ]);
    expect(checkParameterNames({ wrok_mem: 2 }, null)).toEqual([]);
  });
});

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
