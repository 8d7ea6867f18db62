import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNodeConfigFile } from '@hapg/platform';
import { afterAll, describe, expect, it } from 'vitest';
import { planReload, reloadNodeConfig } from '../src/reload.js';

const dir = mkdtempSync(join(tmpdir(), 'hapg-reload-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const example = readFileSync(new URL('../../../configs/node1.example.yaml', import.meta.url), 'utf8');

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('reloading the node YAML', () => {
  const current = loadNodeConfigFile(file('current.yaml', example)).config;

  it('takes over the live keys and reports the rest as needing a restart, keeping them as they run', () => {
    const edited = example
      .replace('name: node1\n', 'name: node1\nlog:\n  level: DEBUG\n')
      .replace('  nofailover: false\n  failover_priority: 1\n', '  nofailover: true\n')
      .replace('shared_buffers: 256MB', 'shared_buffers: 256MB\n    work_mem: 8MB')
      .replace('data_dir: /var/lib/hapg/data', 'data_dir: /srv/elsewhere')
      .replace('ttl: 10', 'ttl: 20');
    const r = reloadNodeConfig(file('edited.yaml', edited), current);
    expect(r.ok ? '' : r.error).toBe('');
    if (!r.ok) return;
    expect(r.applied).toEqual([
      'log.level',
      'postgresql.parameters',
      'tags.all',
      'tags.failoverPriority',
      'tags.nofailover',
    ]);
    expect(r.needRestart).toEqual(['postgresql.dataDir']);
    expect(r.bootstrapOnly).toEqual(['bootstrap.dcs', 'bootstrap.dcsJson']);
    expect(r.config.log.level).toBe('debug');
    expect(r.config.tags.nofailover).toBe(true);
    expect(r.config.postgresql.parameters.work_mem).toBe('8MB');
    // not taken over: the loop must not run on a data directory Postgres does not use
    expect(r.config.postgresql.dataDir).toBe('/var/lib/hapg/data');
    expect(r.config.bootstrap).toBe(current.bootstrap);
  });

  it('a malformed file is refused with its line, and nothing changes', () => {
    const r = reloadNodeConfig(file('bad.yaml', example.replace('scope: demo', 'scope: [demo')), current);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatch(/bad\.yaml:\d+:\d+/);
  });

  it('an unreadable file is refused, saying why', () => {
    const r = reloadNodeConfig(join(dir, 'gone.yaml'), current);
    expect(r).toMatchObject({ ok: false, error: expect.stringMatching(/gone\.yaml/) });
  });

  it('the same file changes nothing', () => {
    expect(planReload(current, loadNodeConfigFile(file('same.yaml', example)).config)).toMatchObject({
      applied: [],
      needRestart: [],
      bootstrapOnly: [],
    });
  });

  it('REST credentials are live: a new password is taken over', () => {
    const r = reloadNodeConfig(
      file('auth.yaml', example.replace('password: change-me\n', 'password: rotated\n')),
      current,
    );
    expect(r.ok && r.applied).toEqual(['restapi.authentication']);
    expect(r.ok && r.config.restapi.authentication?.password).toBe('rotated');
  });

  it('the REST allow-list is live: the next unsafe request is checked against the new list', () => {
    const r = reloadNodeConfig(
      file(
        'allowlist.yaml',
        example.replace(
          'restapi:\n',
          "restapi:\n  allowlist: ['10.0.0.0/8', db1.example]\n  allowlist_include_members: true\n",
        ),
      ),
      current,
    );
    expect(r.ok ? '' : r.error).toBe('');
    expect(r.ok && r.applied).toEqual(['restapi.allowlist', 'restapi.allowlistIncludeMembers']);
    expect(r.ok && r.needRestart).toEqual([]);
    expect(r.ok && r.config.restapi.allowlist).toEqual(['10.0.0.0/8', 'db1.example']);
    expect(r.ok && r.config.restapi.allowlistIncludeMembers).toBe(true);
  });

  it('log.dir, log.file_size and log.file_num wait for a restart', () => {
    const r = reloadNodeConfig(
      file(
        'logdir.yaml',
        example.replace('name: node1\n', 'name: node1\nlog:\n  dir: /tmp/x\n  file_num: 2\n'),
      ),
      current,
    );
    expect(r.ok && r.needRestart).toEqual(['log.dir', 'log.fileNum']);
    expect(r.ok && r.config.log.dir).toBeNull();
  });
});
