/**
 * The two key lists (implemented: the schemas; accepted but not acted on: `*_NOT_IMPLEMENTED`)
 * against a Patroni 4.1 file and against docs/configuration.md. Nothing here names a key's
 * status: it is read from the lists, so a key that changes list needs no edit here.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  type ConfigPath,
  DYNAMIC_IMPLEMENTED,
  DYNAMIC_NOT_IMPLEMENTED,
  HapgError,
  type KeyPattern,
  NODE_IMPLEMENTED,
  NODE_NOT_IMPLEMENTED,
  NOT_ACTED_ON,
  parseDynamicConfig,
  parseNodeConfig,
  parseNodeConfigBytes,
} from '../src/index.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/config/patroni-4.1.yaml', import.meta.url));
const DOCS = fileURLToPath(new URL('../../../docs/configuration.md', import.meta.url));

const matches = (p: KeyPattern, path: ConfigPath) =>
  p.length === path.length && p.every((seg, i) => seg === '*' || seg === String(path[i]));
/** `path` is a pattern's key or one of its ancestors (a section, a slot, a list item). */
const reaches = (p: KeyPattern, path: ConfigPath) =>
  p.length >= path.length && matches(p.slice(0, path.length), path);
const isMap = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);
const show = (path: readonly (string | number)[]) => path.join('.');

interface Lists {
  readonly implemented: readonly KeyPattern[];
  readonly ignored: readonly KeyPattern[];
  /** keys no list names because their names are values (user tags, replica method sections) */
  readonly freeForm: readonly KeyPattern[];
}

/**
 * Every key of `doc` sorted by the lists, in document order, as the loader must: the
 * accepted-but-ignored ones (not looked into), and those on neither list.
 */
function sortByLists(doc: unknown, lists: Lists): { ignored: string[]; neither: string[] } {
  const ignored: string[] = [];
  const neither: string[] = [];
  const walk = (v: unknown, path: ConfigPath): void => {
    const entries: [string | number, unknown][] = Array.isArray(v)
      ? v.map((item, i) => [i, item])
      : isMap(v)
        ? Object.entries(v)
        : [];
    for (const [key, child] of entries) {
      const p = [...path, key];
      if (lists.ignored.some((pat) => matches(pat, p))) ignored.push(show(p));
      else if (lists.implemented.some((pat) => reaches(pat, p))) {
        if (lists.implemented.some((pat) => pat.length > p.length && reaches(pat, p))) walk(child, p);
      } else if (!lists.freeForm.some((pat) => matches(pat, p))) neither.push(show(p));
    }
  };
  walk(doc, []);
  return { ignored, neither };
}

describe('a Patroni 4.1 file', () => {
  const text = readFileSync(FIXTURE, 'utf8');
  const doc = parse(text) as Record<string, Record<string, unknown>>;
  const methods = (doc.postgresql!.create_replica_methods as string[]).filter((m) => m !== 'basebackup');
  const byLists = sortByLists(doc, {
    implemented: NODE_IMPLEMENTED,
    ignored: NODE_NOT_IMPLEMENTED,
    freeForm: [['tags', '*'], ...methods.map((m) => ['postgresql', m])],
  });

  it('has only keys on one of the two lists (the fixture is Patroni keys, nothing else)', () => {
    expect(byLists.neither).toEqual([]);
    expect(byLists.ignored.length).toBeGreaterThan(0);
  });

  it('loads without an error, with one warning naming exactly the keys not acted on', () => {
    const { config, warnings } = parseNodeConfigBytes(readFileSync(FIXTURE), { fileName: FIXTURE, env: {} });
    expect(warnings).toEqual([`${FIXTURE}: ${NOT_ACTED_ON}: ${byLists.ignored.join(', ')}`]);
    // what it sets and hapg acts on is read
    expect(config.scope).toBe('batman');
    expect(config.restapi.verifyClient).toBe('optional');
    expect(config.restapi.authentication).toEqual({ username: 'patroni', password: 'rest-secret' });
    expect(config.log.dir).toBe('/var/log/patroni');
    expect(config.watchdog).toEqual({ mode: 'required', device: '/dev/watchdog', safetyMarginMs: 5000 });
    expect(config.tags.replicatefrom).toBe('pg-node1');
    expect(config.tags.clonefrom).toBe(true);
    expect(config.tags.failoverPriority).toBe(2);
    expect(config.tags.all.datacenter).toBe('west');
    expect(config.postgresql.createReplicaMethods).toEqual(['pgbackrest', 'basebackup']);
    expect(config.bootstrap.dcs.ttlMs).toBe(30_000);
    expect(config.bootstrap.dcs.synchronousMode).toBe('on');
    expect(config.bootstrap.dcs.checkTimeline).toBe(true);
  });

  it('as the etcd config key: one warning naming exactly the dynamic keys not acted on', () => {
    const dcs = doc.bootstrap!.dcs;
    const expected = sortByLists(dcs, {
      implemented: DYNAMIC_IMPLEMENTED,
      ignored: DYNAMIC_NOT_IMPLEMENTED,
      freeForm: [],
    });
    expect(expected.neither).toEqual([]);
    const source = 'etcd /service/batman/config';
    const { config, warnings } = parseDynamicConfig(dcs, { source });
    expect(warnings).toEqual([`${source}: ${NOT_ACTED_ON}: ${expected.ignored.join(', ')}`]);
    expect(Object.keys(config.extra)).toEqual(expected.ignored);
  });

  it('keeps the permanent slots of a primary cluster: cluster_type standby is left out', () => {
    const { config } = parseNodeConfig(text, { fileName: 'p.yaml' });
    expect(config.bootstrap.dcs.slots).toEqual({
      debezium: { type: 'logical', database: 'app', plugin: 'pgoutput' },
      dr_site: { type: 'physical', database: null, plugin: null },
      archiver: { type: 'physical', database: null, plugin: null },
    });
  });
});

describe('unknown keys', () => {
  const BASE = 'scope: demo\nname: n1\npostgresql:\n  data_dir: /x\n';
  const errorOf = (text: string): string => {
    try {
      parseNodeConfig(text, { fileName: 'node.yaml' });
    } catch (e) {
      if (e instanceof HapgError && e.code === 'CONFIG_INVALID') return e.message;
      throw e;
    }
    throw new Error('expected CONFIG_INVALID');
  };

  it.each([
    // close to keys on either list: an error with a did-you-mean
    [
      'thread_pool_sise: 5\n',
      'node.yaml:5:1: thread_pool_sise: unknown key; did you mean "thread_pool_size"?',
    ],
    [
      'restapi:\n  request_queue_sise: 5\n',
      'node.yaml:6:3: restapi.request_queue_sise: unknown key; did you mean "request_queue_size"?',
    ],
    [
      'bootstrap:\n  dcs:\n    failsafe_mod: true\n',
      'node.yaml:7:5: bootstrap.dcs.failsafe_mod: unknown key; did you mean "failsafe_mode"?',
    ],
    [
      'bootstrap:\n  dcs:\n    slots:\n      s1:\n        cluster_typ: primary\n',
      'node.yaml:9:9: bootstrap.dcs.slots.s1.cluster_typ: unknown key; did you mean "cluster_type"?',
    ],
    [
      'postgresql:\n  data_dir: /x\n  authentication:\n    superuser:\n      sslmod: require\n',
      'node.yaml:7:7: postgresql.authentication.superuser.sslmod: unknown key; did you mean "sslmode"?',
    ],
    // close to nothing: an error all the same
    ['flux_capacitor: on\n', 'node.yaml:5:1: flux_capacitor: unknown key'],
  ])('%j', (yaml, message) => {
    const text = yaml.startsWith('postgresql:') ? `scope: demo\nname: n1\n${yaml}` : `${BASE}${yaml}`;
    expect(errorOf(text)).toBe(message);
  });

  it('in etcd are kept with a warning, a slot key too', () => {
    const { warnings, config } = parseDynamicConfig(
      { slots: { s1: { type: 'physical', cluster_typ: 'primary' } } },
      { source: 'etcd' },
    );
    expect(warnings).toEqual([
      'etcd: slots.s1.cluster_typ: unknown key, kept as is; did you mean "cluster_type"?',
    ]);
    expect(config.extra).toEqual({ 'slots.s1.cluster_typ': 'primary' });
  });
});

describe('values that decide a key is not acted on', () => {
  const BASE = 'scope: demo\nname: n1\npostgresql:\n  data_dir: /x\n';
  const load = (yaml: string) => parseNodeConfig(`${BASE}${yaml}`, { fileName: 'n.yaml' });

  it('bootstrap.method: initdb is hapg`s own way, another names a script not run', () => {
    expect(load('bootstrap:\n  method: initdb\n').warnings).toEqual([]);
    expect(load('bootstrap:\n  method: wal_g\n  wal_g:\n    command: x\n').warnings).toEqual([
      `n.yaml: ${NOT_ACTED_ON}: bootstrap.method, bootstrap.wal_g`,
    ]);
    // a method named like one of bootstrap's own keys does not hide that key
    const { config, warnings } = load('bootstrap:\n  method: dcs\n  dcs:\n    ttl: 20\n');
    expect(warnings).toEqual([`n.yaml: ${NOT_ACTED_ON}: bootstrap.method`]);
    expect(config.bootstrap.dcs.ttlMs).toBe(20_000);
  });

  it('slots.<name>.cluster_type: primary or standby; on a logical slot Patroni ignores it', () => {
    const slots = (body: string) =>
      load(`bootstrap:\n  dcs:\n    slots:\n${body}`).config.bootstrap.dcs.slots;
    expect(
      slots(
        '      a:\n        cluster_type: standby\n      b:\n        cluster_type: primary\n' +
          '      c:\n        type: logical\n        database: d\n        plugin: p\n        cluster_type: standby\n',
      ),
    ).toEqual({
      b: { type: 'physical', database: null, plugin: null },
      c: { type: 'logical', database: 'd', plugin: 'p' },
    });
    expect(() => slots('      a:\n        cluster_type: both\n')).toThrow(
      'bootstrap.dcs.slots.a.cluster_type: expected "primary" or "standby", got "both"',
    );
  });
});

describe('the two lists', () => {
  const overlap = (implemented: readonly KeyPattern[], ignored: readonly KeyPattern[]) =>
    ignored.filter((i) => implemented.some((p) => show(p) === show(i))).map(show);

  it('share no key: an implemented key on the ignored list would be ignored', () => {
    expect(overlap(NODE_IMPLEMENTED, NODE_NOT_IMPLEMENTED)).toEqual([]);
    expect(overlap(DYNAMIC_IMPLEMENTED, DYNAMIC_NOT_IMPLEMENTED)).toEqual([]);
  });

  it('bootstrap.dcs has the dynamic lists', () => {
    const dcs = (l: readonly KeyPattern[]) =>
      l.filter((p) => p[0] === 'bootstrap' && p[1] === 'dcs' && p.length > 2).map((p) => show(p.slice(2)));
    expect(dcs(NODE_IMPLEMENTED)).toEqual(DYNAMIC_IMPLEMENTED.map(show));
    expect(dcs(NODE_NOT_IMPLEMENTED)).toEqual(DYNAMIC_NOT_IMPLEMENTED.map(show));
  });
});

/**
 * docs/configuration.md's key tables are those whose header's first cell is `key`. A row's
 * first cell names its keys: the first in full, the others (`/ .password`, `/ keyfile`) by
 * their last segment. A row of a key not acted on says so: "not acted on".
 */
interface KeyRow {
  readonly keys: readonly KeyPattern[];
  readonly marked: boolean;
  readonly line: string;
}

function keyRows(section: string): KeyRow[] {
  const rows: KeyRow[] = [];
  let inKeyTable = false;
  let previous = '';
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (!line.startsWith('|')) inKeyTable = false;
    else if (!previous.startsWith('|')) inKeyTable = cells[1] === 'key';
    else if (inKeyTable && !/^\|[-| ]+\|$/.test(line)) {
      const names = [...(cells[1] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
      const first = names[0]?.split('.') ?? [];
      const keys = names.map((n) =>
        n.includes('.') && !n.startsWith('.') ? n.split('.') : [...first.slice(0, -1), n.replace(/^\./, '')],
      );
      rows.push({
        keys: keys.map((k) => k.map((seg) => (/^<.+>$/.test(seg) ? '*' : seg))),
        marked: line.includes('not acted on'),
        line,
      });
    }
    previous = line;
  }
  return rows;
}

describe('docs/configuration.md against the lists', () => {
  const docs = readFileSync(DOCS, 'utf8');
  const localStart = docs.indexOf('## Local config');
  const localEnd = docs.indexOf('\n## ', localStart + 1);
  const sections = {
    dynamic: {
      rows: keyRows(docs.slice(docs.indexOf('## Dynamic config'), localStart)),
      implemented: DYNAMIC_IMPLEMENTED,
      ignored: DYNAMIC_NOT_IMPLEMENTED,
    },
    local: {
      rows: keyRows(docs.slice(localStart, localEnd === -1 ? undefined : localEnd)),
      // bootstrap.dcs.<key> is documented once, in the dynamic section
      implemented: NODE_IMPLEMENTED.filter((p) => !(p[0] === 'bootstrap' && p[1] === 'dcs' && p.length > 2)),
      ignored: NODE_NOT_IMPLEMENTED.filter((p) => !(p[0] === 'bootstrap' && p[1] === 'dcs')),
    },
  };
  const same = (a: KeyPattern, b: KeyPattern) => show(a) === show(b);

  describe.each(Object.entries(sections))('%s section', (_, { rows, implemented, ignored }) => {
    const naming = (key: KeyPattern) => rows.filter((r) => r.keys.some((k) => same(k, key)));

    it('has key tables', () => {
      expect(rows.length).toBeGreaterThan(10);
    });

    it('marks every key not acted on "not acted on"', () => {
      const problems = ignored.flatMap((key) => {
        const found = naming(key);
        if (found.length === 0) return [`${show(key)}: no row`];
        return found.filter((r) => !r.marked).map((r) => `${show(key)}: not marked in ${r.line}`);
      });
      expect(problems).toEqual([]);
    });

    it('marks no implemented key "not acted on", and documents each (or its section)', () => {
      const problems = implemented.flatMap((key) => {
        const marked = naming(key)
          .filter((r) => r.marked)
          .map((r) => `${show(key)}: implemented, but marked in ${r.line}`);
        const leaf = !implemented.some((p) => p.length > key.length && reaches(p, key));
        const documented = key.some((_, i) => naming(key.slice(0, i + 1)).length > 0);
        return leaf && !documented ? [...marked, `${show(key)}: no row`] : marked;
      });
      expect(problems).toEqual([]);
    });

    it('documents no key that is on neither list', () => {
      const unify = (a: KeyPattern, b: KeyPattern) =>
        a.length <= b.length && a.every((seg, i) => seg === '*' || b[i] === '*' || seg === b[i]);
      const stray = rows
        .flatMap((r) => r.keys)
        .filter((k) => ![...implemented, ...ignored].some((p) => unify(k, p)))
        .map(show);
      expect(stray).toEqual([]);
    });
  });
});
