/**
 * Careless and hostile config input (issue 11, items 9 and 10): secrets are
 * never echoed, wide encodings get one line, parsing is linear, and nesting
 * is bounded on every path into the dynamic config.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { CONFIG_DEPTH_MAX, depthProblem } from '../src/config/depth.js';
import { wideEncodingOf } from '../src/config/encoding.js';
import { describeValue, isSecretPath, redactText } from '../src/config/secrets.js';
import {
  HapgError,
  mergeDynamicConfig,
  parseDynamicConfig,
  parseNodeConfig,
  parseNodeConfigBytes,
} from '../src/index.js';

const BASE = 'scope: demo\nname: n1\npostgresql:\n  data_dir: /x\n';
const SOURCE = { source: 'etcd config key' };

/** The message of the CONFIG_INVALID the call throws. */
function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (e) {
    if (e instanceof HapgError && e.code === 'CONFIG_INVALID') return e.message;
    throw e;
  }
  throw new Error('expected CONFIG_INVALID, but it was accepted');
}

/** Every text a load produces: the error, or the warnings when it loads. */
function textsOf(yaml: string, env: Record<string, string> = {}): string {
  try {
    return parseNodeConfig(yaml, { fileName: 'node.yaml', env }).warnings.join('\n');
  } catch (e) {
    if (e instanceof HapgError) return e.message;
    throw e;
  }
}

/** `n` maps inside each other, the innermost holding `leaf`: depth `n` (the root is level 1). */
function nested(n: number, leaf: unknown = 1): Record<string, unknown> {
  let v: unknown = leaf;
  for (let i = 0; i < n; i++) v = { a: v };
  return v as Record<string, unknown>;
}

describe('secrets in messages', () => {
  it('a password given as a number is refused without echoing it', () => {
    const msg = messageOf(() =>
      parseNodeConfig(`${BASE}  authentication:\n    superuser:\n      password: 12345\n`, {
        fileName: 'node.yaml',
      }),
    );
    expect(msg).toBe(
      'node.yaml:7:17: postgresql.authentication.superuser.password: expected a string, got a number (secret, not shown)',
    );
  });

  it('the same from an environment variable, from restapi and etcd3, and for a whole authentication section', () => {
    const env = { HAPG_POSTGRESQL__AUTHENTICATION__REPLICATION__PASSWORD: '987654' };
    const yaml = `${BASE}restapi:\n  authentication:\n    password: true\netcd3:\n  password: 424242\n`;
    expect(messageOf(() => parseNodeConfig(yaml, { fileName: 'node.yaml', env }))).toBe(
      [
        'node.yaml:7:15: restapi.authentication.password: expected a string, got a boolean (secret, not shown)',
        'node.yaml:9:13: etcd3.password: expected a string, got a number (secret, not shown)',
        'env HAPG_POSTGRESQL__AUTHENTICATION__REPLICATION__PASSWORD: postgresql.authentication.replication.password: expected a string, got a number (secret, not shown)',
      ].join('\n'),
    );
    const section = messageOf(() =>
      parseNodeConfig(`${BASE}  authentication: hunter22hunter\n`, { fileName: 'node.yaml' }),
    );
    expect(section).toBe(
      'node.yaml:5:19: postgresql.authentication: expected a map, got a string (secret, not shown)',
    );
  });

  it('a YAML message that would quote the source does not (a tag, an alias)', () => {
    const tag = textsOf(`${BASE}  authentication:\n    superuser:\n      password: !s3cr3tTag [1]\n`);
    expect(tag).not.toContain('s3cr3tTag');
    const alias = textsOf(`${BASE}  authentication:\n    superuser:\n      password: *s3cr3tAlias\n`);
    expect(alias).toBe('node.yaml: YAML error: Unresolved alias (the anchor must be set before the alias)');
    const env = textsOf(BASE, { HAPG_POSTGRESQL__AUTHENTICATION__SUPERUSER__PASSWORD: '!s3cr3tEnv [1' });
    expect(env).toContain('not a valid YAML value');
    expect(env).not.toContain('s3cr3tEnv');
  });

  it('long values are cut to an excerpt and passwords in text are masked', () => {
    const long = 'x'.repeat(10_000);
    expect(describeValue(long, ['restapi', 'listen'])).toBe(`"${'x'.repeat(40)}…" (10000 characters)`);
    expect(describeValue('host=a password=hunter22 user=b', ['restapi', 'listen'])).toBe(
      '"host=a password=[redacted] user=b"',
    );
    expect(redactText("postgres://u:hunter22@db/x sslpassword='a b' PGPASSWORD=zz")).toBe(
      'postgres://u:[redacted]@db/x sslpassword=[redacted] PGPASSWORD=[redacted]',
    );
    const msg = messageOf(() =>
      parseNodeConfig(`${BASE}restapi:\n  listen: "postgres://u:hunter22@db:5432/x"\n`, {
        fileName: 'node.yaml',
      }),
    );
    expect(msg).not.toContain('hunter22');
  });

  it.each([
    [['postgresql', 'authentication', 'superuser', 'password'], true],
    [['restapi', 'authentication', 'username'], true],
    [['ctl', 'keyfile_password'], true],
    [['etcd3', 'key'], true],
    [['postgresql', 'parameters', 'primary_conninfo'], true],
    [['postgresql', 'parameters', 'ssl_passphrase_command'], true],
    [['PGPASSWORD'], true],
    [['postgresql', 'listen'], false],
    [['postgresql', 'parameters', 'work_mem'], false],
    [['tags', 'nofailover'], false],
  ] as const)('isSecretPath(%j) is %s', (path, secret) => {
    expect(isSecretPath(path)).toBe(secret);
  });

  /** Wrong types and shapes a secret can arrive in, under a password key. */
  function misplaced(secret: string): fc.Arbitrary<unknown> {
    return fc.constantFrom<unknown>(
      [secret],
      [[secret]],
      { [secret]: 1 },
      { value: secret },
      [{ password: secret }],
      { a: { b: [secret] } },
    );
  }

  const secretArb = fc
    .string({ minLength: 6, maxLength: 24, unit: 'grapheme-ascii' })
    .filter((s) => s.trim() === s);
  const passwordPath = fc.constantFrom(
    ['postgresql', 'authentication', 'superuser', 'password'],
    ['postgresql', 'authentication', 'replication', 'password'],
    ['postgresql', 'authentication', 'rewind', 'password'],
    ['restapi', 'authentication', 'password'],
    ['etcd3', 'password'],
    ['postgresql', 'wal_g', 'password'],
    ['postgresql', 'parameters', 'password'],
    ['bootstrap', 'dcs', 'postgresql', 'parameters', 'password'],
  );
  /** Other mistakes in the same file, so that a secret sits among other errors. */
  const otherMistakes = fc.subarray([
    ['restapi', 'listen', 8008],
    ['name', null],
    ['bootstrap', 'dcs', 'ttl', 'abc'],
    ['tags', 'nofailover', 'maybe'],
  ] as const);

  function setPath(root: Record<string, unknown>, path: readonly string[], value: unknown): void {
    let node = root;
    for (const seg of path.slice(0, -1)) {
      if (node[seg] === null || typeof node[seg] !== 'object') node[seg] = {};
      node = node[seg] as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = value;
  }

  function yamlWith(
    path: readonly string[],
    value: unknown,
    mistakes: readonly (readonly unknown[])[],
  ): string {
    const doc: Record<string, unknown> = { scope: 'demo', name: 'n1', postgresql: { data_dir: '/x' } };
    if (path[1] === 'wal_g') setPath(doc, ['postgresql', 'create_replica_methods'], ['wal_g', 'basebackup']);
    setPath(doc, path, value);
    for (const m of mistakes) setPath(doc, m.slice(0, -1) as string[], m[m.length - 1]);
    return stringify(doc);
  }

  it('property: no message for a config with a misplaced secret contains the secret', () => {
    const PLACEHOLDER = '\u2603\u2603\u2603\u2603\u2603\u2603';
    fc.assert(
      fc.property(
        secretArb.chain((secret) => fc.tuple(fc.constant(secret), misplaced(secret), misplaced(PLACEHOLDER))),
        passwordPath,
        otherMistakes,
        ([secret, value, neutral], path, mistakes) => {
          // a secret that the messages contain anyway ("expected") says nothing
          fc.pre(!textsOf(yamlWith(path, neutral, mistakes)).includes(secret));
          expect(textsOf(yamlWith(path, value, mistakes))).not.toContain(secret);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('property: the same for numbers, raw YAML forms and environment variables', () => {
    const word = fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{5,20}$/);
    const templates = [
      (s: string) => `${BASE}  authentication:\n    superuser:\n      password: !${s} [1]\n`,
      (s: string) => `${BASE}  authentication:\n    superuser:\n      password: *${s}\n`,
      (s: string) => `${BASE}  authentication:\n    superuser:\n      password: "\\${s}"\n`,
      (s: string) => `${BASE}  authentication:\n    superuser:\n      password: |${s}\n        x\n`,
      (s: string) => `${BASE}  authentication:\n    superuser: ${s}\n`,
      (s: string) => `${BASE}restapi:\n  authentication: [${s}]\n`,
    ];
    fc.assert(
      fc.property(word, fc.integer({ min: 0, max: templates.length - 1 }), (secret, i) => {
        expect(textsOf(templates[i]!(secret))).not.toContain(secret);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 100_000, max: 2 ** 40 }), (n) => {
        expect(textsOf(`${BASE}  authentication:\n    superuser:\n      password: ${n}\n`)).not.toContain(
          String(n),
        );
        const env = { HAPG_POSTGRESQL__AUTHENTICATION__SUPERUSER__PASSWORD: String(n) };
        expect(textsOf(BASE, env)).not.toContain(String(n));
      }),
      { numRuns: 100 },
    );
    fc.assert(
      fc.property(word, fc.constantFrom('[%s', '{%s', '%s: [1]', '[%s, 1]'), (secret, form) => {
        const env = { HAPG_POSTGRESQL__AUTHENTICATION__SUPERUSER__PASSWORD: form.replace('%s', secret) };
        expect(textsOf(BASE, env)).not.toContain(secret);
      }),
      { numRuns: 200 },
    );
  });

  it('property: dynamic config messages and warnings never carry a secret under a password key', () => {
    fc.assert(
      fc.property(
        secretArb.chain((s) => fc.tuple(fc.constant(s), misplaced(s))),
        fc.constantFrom(
          ['postgresql', 'parameters', 'password'],
          ['standby_cluster', 'password'],
          ['x', 'password'],
        ),
        ([secret, value], path) => {
          const doc: Record<string, unknown> = { ttl: 'bad' };
          setPath(doc, path, value);
          expect(messageOf(() => parseDynamicConfig(doc, SOURCE))).not.toContain(secret);
          delete doc.ttl;
          try {
            expect(parseDynamicConfig(doc, SOURCE).warnings.join('\n')).not.toContain(secret);
          } catch (e) {
            expect((e as Error).message).not.toContain(secret);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('files that are not UTF-8', () => {
  const text = `${BASE}  authentication:\n    superuser:\n      password: hunter22\n`;
  const utf16be = (s: string) => Buffer.from(s, 'utf16le').swap16();
  const utf32le = (s: string) => {
    const out = Buffer.alloc(s.length * 4);
    for (let i = 0; i < s.length; i++) out.writeUInt32LE(s.charCodeAt(i), i * 4);
    return out;
  };
  const cases: [string, Buffer, string][] = [
    [
      'UTF-16LE with a BOM',
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]),
      'file is UTF-16 (UTF-16LE with a byte order mark); save it as UTF-8 (iconv -f UTF-16 -t UTF-8)',
    ],
    [
      'UTF-16LE without a BOM',
      Buffer.from(text, 'utf16le'),
      'file is UTF-16 (UTF-16LE); save it as UTF-8 (iconv -f UTF-16LE -t UTF-8)',
    ],
    [
      'UTF-16BE with a BOM',
      Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be(text)]),
      'file is UTF-16 (UTF-16BE with a byte order mark); save it as UTF-8 (iconv -f UTF-16 -t UTF-8)',
    ],
    [
      'UTF-16BE without a BOM',
      utf16be(text),
      'file is UTF-16 (UTF-16BE); save it as UTF-8 (iconv -f UTF-16BE -t UTF-8)',
    ],
    [
      'UTF-32LE without a BOM',
      utf32le(text),
      'file is UTF-32 (UTF-32LE); save it as UTF-8 (iconv -f UTF-32LE -t UTF-8)',
    ],
  ];

  it.each(cases)('%s: one line naming the encoding, none of the content', (_name, bytes, expected) => {
    expect(messageOf(() => parseNodeConfigBytes(bytes, { fileName: 'node.yaml' }))).toBe(
      `node.yaml: ${expected}`,
    );
    // the same bytes decoded by someone else still say so, without content
    const decoded = messageOf(() => parseNodeConfig(bytes.toString('utf8'), { fileName: 'node.yaml' }));
    expect(decoded).toBe(
      'node.yaml: file contains NUL characters: it is UTF-16 or UTF-32, not UTF-8; save it as UTF-8',
    );
  });

  it('UTF-8, with or without a BOM, is not mistaken for a wide encoding', () => {
    expect(wideEncodingOf(Buffer.from(text))).toBeNull();
    expect(
      wideEncodingOf(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('scope: ü\n')])),
    ).toBeNull();
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(BASE)]);
    expect(parseNodeConfigBytes(withBom, { fileName: 'node.yaml' }).config.name).toBe('n1');
  });
});

describe('large files parse in linear time', () => {
  function manyKeys(n: number): string {
    const lines = [BASE, '  parameters:\n'];
    for (let i = 0; i < n; i++) lines.push(`    p${i}: ${i}\n`);
    return lines.join('');
  }

  // before: 18.4 s for 40 000 keys (the yaml package's uniqueKeys check, quadratic; 13-18 s);
  // after: ~0.6 s idle, 3.1 s seen on a loaded CI machine. The bound only tells linear from
  // quadratic, with room for load: speed itself is a benchmark's business.
  it('40 000 keys load in well under the quadratic 13-18 s (bound 8 s)', () => {
    const text = manyKeys(40_000);
    const started = performance.now();
    const { config } = parseNodeConfig(text, { fileName: 'node.yaml' });
    const elapsedMs = performance.now() - started;
    expect(Object.keys(config.postgresql.parameters)).toHaveLength(40_000);
    expect(elapsedMs).toBeLessThan(8000);
  });

  it('a duplicate key among 40 000 is still reported with its line and the first one', () => {
    const text = `${manyKeys(40_000)}    p17: again\n`;
    const msg = messageOf(() => parseNodeConfig(text, { fileName: 'node.yaml' }));
    expect(msg).toBe('node.yaml:40006:5: postgresql.parameters.p17: duplicate key (first set on line 23)');
  });

  it('duplicate keys at every level, in lists too, each once', () => {
    const text =
      'scope: a\nname: n\nscope: b\npostgresql:\n  data_dir: /x\n  pg_hba: [{a: 1, a: 2}]\ntags: {x: 1, x: 2, x: 3}\n';
    expect(messageOf(() => parseNodeConfig(text, { fileName: 'node.yaml' }))).toBe(
      [
        'node.yaml:3:1: scope: duplicate key (first set on line 1)',
        'node.yaml:6:19: postgresql.pg_hba[0].a: duplicate key (first set on line 6)',
        'node.yaml:7:14: tags.x: duplicate key (first set on line 7)',
        'node.yaml:7:20: tags.x: duplicate key (first set on line 7)',
      ].join('\n'),
    );
  });

  it('5 000 bad values: the error lists the first 100 problems and counts the rest', () => {
    const lines = [BASE, '  parameters:\n'];
    for (let i = 0; i < 5000; i++) lines.push(`    p${i}: [${i}]\n`);
    const out = messageOf(() => parseNodeConfig(lines.join(''), { fileName: 'node.yaml' })).split('\n');
    expect(out).toHaveLength(101);
    expect(out[0]).toBe(
      'node.yaml:6:9: postgresql.parameters.p0: expected a string, number or boolean, got a list',
    );
    expect(out[100]).toBe('… and 4900 more problems');
  });
});

describe('nesting depth', () => {
  const tooDeep = `nested more than ${CONFIG_DEPTH_MAX} levels deep (maps and lists inside each other)`;

  it('a 5 000-level document is refused by the parser, the merge (PATCH, PUT) and for the stored config', () => {
    const deep = nested(5000);
    expect(messageOf(() => parseDynamicConfig(deep, SOURCE))).toBe(`etcd config key: a.a.a: ${tooDeep}`);
    expect(messageOf(() => mergeDynamicConfig({}, deep))).toBe(`config patch: a.a.a: ${tooDeep}`);
    expect(messageOf(() => mergeDynamicConfig(deep, {}))).toBe(`config: a.a.a: ${tooDeep}`);
    const list = JSON.parse(`{"x":${'['.repeat(5000)}${']'.repeat(5000)}}`);
    expect(messageOf(() => parseDynamicConfig(list, SOURCE))).toBe(`etcd config key: x[0][0]: ${tooDeep}`);
  });

  it('30 levels are fine (kept as an unknown key), 32 are the bound, 33 are refused', () => {
    for (const n of [30, CONFIG_DEPTH_MAX]) {
      const doc = { ttl: 10, ...nested(n - 1) };
      const merged = mergeDynamicConfig({}, doc);
      expect(parseDynamicConfig(merged, SOURCE).config.extra.a).toEqual(nested(n - 2));
    }
    expect(depthProblem(nested(CONFIG_DEPTH_MAX + 1))).not.toBeNull();
    expect(depthProblem(nested(CONFIG_DEPTH_MAX))).toBeNull();
  });

  it('bootstrap.dcs and the rest of the YAML: too deep is an error at its line, never a stack overflow', () => {
    const deepDcs = `${BASE}bootstrap:\n  dcs:\n    slots: ${JSON.stringify(nested(40))}\n`;
    expect(messageOf(() => parseNodeConfig(deepDcs, { fileName: 'node.yaml' }))).toBe(
      `node.yaml:7:12: bootstrap.dcs.slots: ${tooDeep}`,
    );
    const veryDeep = `${BASE}tags:\n  x: ${'['.repeat(5000)}${']'.repeat(5000)}\n`;
    expect(messageOf(() => parseNodeConfig(veryDeep, { fileName: 'node.yaml' }))).toMatch(
      /^node\.yaml:6:\d+: YAML syntax error: nested too deeply \(hapg allows 32 levels of maps and lists\)/,
    );
    const env = { HAPG_TAGS__X: '['.repeat(40) + ']'.repeat(40) };
    expect(messageOf(() => parseNodeConfig(BASE, { fileName: 'node.yaml', env }))).toBe(
      `env HAPG_TAGS__X: tags.x[0]: ${tooDeep}`,
    );
  });
});

describe('docs/configuration.md', () => {
  const docs = readFileSync(
    fileURLToPath(new URL('../../../docs/configuration.md', import.meta.url)),
    'utf8',
  );
  it('states the depth bound and the secret rule', () => {
    expect(docs).toContain(`at most **${CONFIG_DEPTH_MAX} levels** deep`);
    expect(docs).toContain('### Secrets in messages');
    expect(docs).toContain('got a number (secret, not shown)');
  });
});
