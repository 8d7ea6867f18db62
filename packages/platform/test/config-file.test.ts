import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isHapgError } from '@hapg/core';
import { afterAll, describe, expect, it } from 'vitest';
import { loadNodeConfigFile } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'hapg-platform-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const BASE = 'scope: demo\nname: n1\npostgresql:\n  data_dir: /x\n';

function file(name: string, bytes: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** The error the call throws. */
function errorOf(run: () => unknown): Error {
  try {
    run();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, but the config loaded');
}

describe('loadNodeConfigFile', () => {
  it('loads the hapg example without warnings', () => {
    const example = fileURLToPath(new URL('../../../configs/node1.example.yaml', import.meta.url));
    const { config, warnings } = loadNodeConfigFile(example, {});
    expect(warnings).toEqual([]);
    expect(config.name).toBe('node1');
  });

  it('applies overrides from the environment it is given', () => {
    expect(loadNodeConfigFile(file('env.yaml', BASE), { HAPG_NAME: 'n2' }).config.name).toBe('n2');
  });

  it('reports a file it cannot read as CONFIG_UNREADABLE, naming the path', () => {
    const path = join(dir, 'does-not-exist.yaml');
    const e = errorOf(() => loadNodeConfigFile(path, {}));
    expect(isHapgError(e, 'CONFIG_UNREADABLE')).toBe(true);
    expect(e.message).toMatch(new RegExp(`^${path}: .*ENOENT`));
  });

  it('refuses a UTF-16 file in one line that names the path', () => {
    const path = file('utf16.yaml', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(BASE, 'utf16le')]));
    const e = errorOf(() => loadNodeConfigFile(path, {}));
    expect(isHapgError(e, 'CONFIG_INVALID')).toBe(true);
    expect(e.message).toBe(
      `${path}: file is UTF-16 (UTF-16LE with a byte order mark); save it as UTF-8 (iconv -f UTF-16 -t UTF-8)`,
    );
  });

  it('loads UTF-8 with a byte order mark', () => {
    const path = file('bom.yaml', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(BASE)]));
    expect(loadNodeConfigFile(path, {}).config.name).toBe('n1');
  });
});
