import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterView } from '@hapg/core';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import { buildHaproxyConfig, runHaproxyConfig } from '../src/commands/haproxy-config/haproxy-config.js';
import {
  DEFAULT_HAPROXY_LAYOUT,
  type HaproxyServer,
  haproxyServerNames,
  renderHaproxyConfig,
} from '../src/commands/haproxy-config/render.js';
import { CliError } from '../src/errors.js';
import { memoryIo } from '../src/io.js';
import { fakeStore } from './action-fakes.js';
import { member, threeMembers, viewOf } from './fixtures.js';

const SHIPPED = join(import.meta.dirname, '../../../deploy/haproxy/haproxy.cfg');
const dir = mkdtempSync(join(tmpdir(), 'hactl-haproxy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const withoutComments = (cfg: string) => cfg.split('\n').filter((l) => !l.trimStart().startsWith('#'));

function server(memberName: string, host: string, extra: Partial<HaproxyServer> = {}): HaproxyServer {
  return {
    member: memberName,
    host,
    port: 5432,
    checkHost: host,
    checkPort: 8008,
    checkTls: false,
    ...extra,
  };
}

/** A view whose members have these conn_url / api_url pairs. */
function membersView(members: Record<string, { conn: string; api: string }>, leader?: string): ClusterView {
  const keys: Record<string, unknown> = leader === undefined ? {} : { leader };
  for (const [name, m] of Object.entries(members))
    keys[`members/${name}`] = member(5432, { conn_url: m.conn, api_url: m.api });
  return viewOf(keys);
}

const LAYOUT = { ...DEFAULT_HAPROXY_LAYOUT };

async function hactl(argv: string[], view: ClusterView) {
  const io = memoryIo();
  const code = await runCli(argv, {
    io,
    env: { HACTL_SCOPE: 'demo' },
    openReader: async () => fakeStore([view]),
    loadConfigFile: () => {
      throw new Error('no config file in this test');
    },
    interrupted: () => AbortSignal.abort(),
    wallMs: () => 0,
  });
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

describe('renderHaproxyConfig', () => {
  it('writes deploy/haproxy/haproxy.cfg for its three sample members (one renderer for both)', () => {
    const servers = ['node1', 'node2', 'node3'].map((n, i) => server(n, `127.0.0.${i + 1}`));
    const rendered = renderHaproxyConfig(servers, { ...LAYOUT, replicaLag: '16MB' });
    expect(withoutComments(rendered)).toEqual(withoutComments(readFileSync(SHIPPED, 'utf8')));
  });

  it('brackets IPv6 addresses, adds `addr` when the REST API is elsewhere, and TLS checks for https', () => {
    const cfg = renderHaproxyConfig(
      [
        server('a', 'fd00::1'),
        server('b', '10.0.0.2', { checkHost: '10.0.1.2', checkPort: 9008 }),
        server('d', 'fd00::4', { checkHost: 'fd00::5' }),
        server('c', 'db3.example', { checkTls: true, port: 6432 }),
      ],
      LAYOUT,
    );
    expect(cfg).toContain('    server a [fd00::1]:5432 maxconn 100 check port 8008\n');
    expect(cfg).toContain('    server b 10.0.0.2:5432 maxconn 100 check addr 10.0.1.2 port 9008\n');
    expect(cfg).toContain('    server d [fd00::4]:5432 maxconn 100 check addr [fd00::5] port 8008\n');
    expect(cfg).toContain(
      '    server c db3.example:6432 maxconn 100 check port 8008 check-ssl verify none\n',
    );
  });

  it('gives odd member names a name HAProxy accepts, unique, with the real name in a one-line comment', () => {
    expect(haproxyServerNames(['node 1', 'node_1', 'node/1', 'ok.name:1-x', 'ünï', ''])).toEqual([
      'node_1-2',
      'node_1',
      'node_1-3',
      'ok.name:1-x',
      '_n_',
      'member',
    ]);
    const cfg = renderHaproxyConfig([server('evil\nglobal\n  x', '10.0.0.1')], LAYOUT);
    expect(cfg).toContain('    # member "evil\\nglobal\\n  x"\n    server evil_global___x 10.0.0.1:5432');
  });

  it('writes the lag into the replica check only, and leaves out the stats page on request', () => {
    const cfg = renderHaproxyConfig([server('a', '10.0.0.1')], {
      ...LAYOUT,
      replicaLag: '1GB',
      statsBind: null,
    });
    expect(cfg).toContain('option httpchk OPTIONS /primary\n');
    expect(cfg).toContain('option httpchk OPTIONS /replica?lag=1GB\n');
    expect(cfg).not.toContain('listen stats');
  });

  it('refuses (programmer error) no servers and anything that is not one HAProxy word', () => {
    expect(() => renderHaproxyConfig([], LAYOUT)).toThrow(/at least one server/);
    expect(() => renderHaproxyConfig([server('a', 'h st')], LAYOUT)).toThrow(/not a host/);
    expect(() => renderHaproxyConfig([server('a', 'h', { port: 0 })], LAYOUT)).toThrow(/not a port/);
    expect(() => renderHaproxyConfig([server('a', 'h')], { ...LAYOUT, primaryBind: '*:1 ssl' })).toThrow(
      /bind/,
    );
  });
});

describe('hactl haproxy-config from the member keys', () => {
  it('takes host:port from conn_url and the check port from api_url, members by name', () => {
    const { config, servers, skipped } = buildHaproxyConfig(threeMembers(), LAYOUT);
    expect(skipped).toEqual([]);
    expect(servers.map((s) => s.member)).toEqual(['node1', 'node2', 'node3']);
    expect(config).toContain('    server node2 127.0.0.1:5433 maxconn 100 check port 8433\n');
    expect(
      config.startsWith('# HAProxy in front of hapg cluster "demo", written by `hactl haproxy-config`'),
    ).toBe(true);
  });

  it('does not change when the leader changes (no HAProxy reload per failover)', () => {
    const a = buildHaproxyConfig(threeMembers(), LAYOUT).config;
    const b = buildHaproxyConfig(threeMembers({ leader: 'node3' }), LAYOUT).config;
    expect(b).toBe(a);
  });

  it('handles IPv6 URLs and default API ports', () => {
    const view = membersView({
      v6: { conn: 'postgres://[fd00::5]:5433/postgres', api: 'https://[fd00::5]/patroni' },
      plain: { conn: 'postgres://db1', api: 'http://api1/patroni' },
    });
    const { config } = buildHaproxyConfig(view, LAYOUT);
    expect(config).toContain('    server plain db1:5432 maxconn 100 check addr api1 port 80\n');
    expect(config).toContain(
      '    server v6 [fd00::5]:5433 maxconn 100 check port 443 check-ssl verify none\n',
    );
  });

  it('no member → a clear error (exit 1); unusable members are left out with a warning', async () => {
    expect(() => buildHaproxyConfig(viewOf({}), LAYOUT)).toThrow(CliError);
    expect(() => buildHaproxyConfig(viewOf({}), LAYOUT)).toThrow(
      'cluster "demo" has no members (is the scope or namespace right?)',
    );
    const bad = membersView({ x: { conn: 'not a url', api: 'ftp://h/' } });
    expect(() => buildHaproxyConfig(bad, LAYOUT)).toThrow(
      'cluster "demo" has no member HAProxy can use (x: conn_url "not a url" is not a URL)',
    );
    const mixed = membersView({
      good: { conn: 'postgres://10.0.0.1:5432/postgres', api: 'http://10.0.0.1:8008/patroni' },
      noapi: { conn: 'postgres://10.0.0.2:5432/postgres', api: 'ftp://10.0.0.2/' },
    });
    const io = memoryIo();
    expect(await runHaproxyConfig(mixed, { layout: LAYOUT, file: null }, io, 'table')).toBe(0);
    expect(io.stderr()).toBe(
      'hactl: warning: member "noapi" left out: api_url "ftp://10.0.0.2/" is not http or https\n',
    );
    expect(io.stdout()).toContain('server good 10.0.0.1:5432');
    expect(io.stdout()).not.toContain('noapi');
    const r = await hactl(['haproxy-config'], viewOf({}));
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toContain('has no members');
  });

  it('parses ports, --lag and --no-stats; refuses bad values with the usage (exit 2)', async () => {
    const r = await hactl(
      [
        'haproxy-config',
        '--primary-port',
        '6000',
        '--replica-port',
        '10.0.0.9:6001',
        '--no-stats',
        '--lag',
        '16 MB',
      ],
      threeMembers(),
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('    bind *:6000\n');
    expect(r.stdout).toContain('    bind 10.0.0.9:6001\n');
    expect(r.stdout).toContain('OPTIONS /replica?lag=16MB\n');
    expect(r.stdout).not.toContain('stats');
    expect((await hactl(['haproxy-config', '--stats-port', '[::1]:7001'], threeMembers())).stdout).toContain(
      'bind [::1]:7001\n',
    );
    for (const argv of [
      ['--primary-port', '70000'],
      ['--primary-port', 'a b:5000'],
      ['--lag', 'lots'],
      ['--primary-port', '5001'],
      ['--no-stats', '--stats-port', '7001'],
      ['--template', 'x'],
    ]) {
      const bad = await hactl(['haproxy-config', ...argv], threeMembers());
      expect(bad.code, argv.join(' ')).toBe(2);
      expect(bad.stderr).toContain('usage: hactl haproxy-config');
    }
  });

  it('-f writes the file (by rename, mode 0644), leaves an unchanged file alone; -o json gives the servers', async () => {
    const file = join(dir, 'haproxy.cfg');
    const first = await hactl(['haproxy-config', '-f', file], threeMembers());
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toBe(`wrote ${file} (3 servers: node1, node2, node3)\n`);
    expect(readFileSync(file, 'utf8')).toBe(buildHaproxyConfig(threeMembers(), LAYOUT).config);
    expect(statSync(file).mode & 0o777).toBe(0o644);
    const again = await hactl(['haproxy-config', '--file', file, '-o', 'json'], threeMembers());
    const data = JSON.parse(again.stdout);
    expect(data).toMatchObject({ file, changed: false, skipped: [] });
    expect(data.servers[1]).toEqual({
      member: 'node2',
      server: 'node2',
      address: '127.0.0.1:5433',
      check: '127.0.0.1:8433',
      check_tls: false,
    });
    expect(data.config).toBe(readFileSync(file, 'utf8'));
    const missingDir = await hactl(['haproxy-config', '-f', join(dir, 'no/such/dir.cfg')], threeMembers());
    expect(missingDir.code).toBe(1);
    expect(missingDir.stderr).toMatch(/^hactl: cannot write .*no\/such\/dir\.cfg: /);
  });
});

const haproxyVersion = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
const haveHaproxy = haproxyVersion.status === 0;

describe(`haproxy -c accepts what hactl writes${haveHaproxy ? '' : ' (skipped: no haproxy binary on PATH; apt-get install haproxy)'}`, () => {
  /** haproxy's verdict on `cfg`: its exit status and everything it printed */
  const check = (name: string, cfg: string) => {
    const path = join(dir, name);
    writeFileSync(path, cfg);
    const r = spawnSync('haproxy', ['-c', '-f', path], { encoding: 'utf8' });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  };
  const accepted = (name: string, cfg: string) => {
    const r = check(name, cfg);
    expect(r.output).not.toMatch(/ALERT|WARNING/);
    expect(r).toMatchObject({ status: 0, output: expect.stringContaining('Configuration file is valid') });
  };

  it.skipIf(!haveHaproxy)('the default layout, for the fixture cluster', () => {
    accepted('default.cfg', buildHaproxyConfig(threeMembers(), LAYOUT).config);
  });

  it.skipIf(!haveHaproxy)('odd names, IPv6, a separate REST address, https checks, lag, no stats', () => {
    const view = membersView({
      'node 1': { conn: 'postgres://[::1]:5432/postgres', api: 'https://[::1]:8008/patroni' },
      node_1: { conn: 'postgres://127.0.0.1:5433/postgres', api: 'http://127.0.0.2:8009/patroni' },
      v6: { conn: 'postgres://[fd00::1]:5435/postgres', api: 'http://[fd00::2]:8011/patroni' },
      'ünï/2': { conn: 'postgres://localhost:5434/postgres', api: 'http://localhost:8010/patroni' },
    });
    const layout = { ...LAYOUT, primaryBind: '[::]:6000', statsBind: null, replicaLag: '16MB' };
    const cfg = buildHaproxyConfig(view, layout).config;
    accepted('odd.cfg', cfg);
    // and haproxy would refuse the raw member name: the renaming is needed
    const raw = check('raw.cfg', cfg.replace('server node_1-2 ', 'server node/1 '));
    expect(raw.status).not.toBe(0);
    expect(raw.output).toMatch(/character '\/' is not permitted/);
  });
});
