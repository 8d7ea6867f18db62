import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HapgError, type LoadedNodeConfig, parseNodeConfig, parseNodeConfigBytes } from '../src/index.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/config/${name}`, import.meta.url));
const example = (name: string) => fileURLToPath(new URL(`../../../configs/${name}`, import.meta.url));
/** A config file as the agent loads it, without its environment (the reading is @hapg/platform's). */
const parseFile = (path: string): LoadedNodeConfig =>
  parseNodeConfigBytes(readFileSync(path), { fileName: path, env: {} });

const BASE = 'scope: demo\nname: n1\npostgresql:\n  data_dir: /x\n';

function errorOf(text: string, env: Record<string, string> = {}): HapgError {
  try {
    parseNodeConfig(text, { fileName: 'node.yaml', env });
  } catch (e) {
    if (e instanceof HapgError) return e;
    throw e;
  }
  throw new Error('expected CONFIG_INVALID, but the config loaded');
}

// [case, yaml, env, exact message]
const INVALID: readonly (readonly [string, string, Record<string, string>, string])[] = [
  [
    'syntax: bad indentation',
    'scope: demo\nname: n1\n  bad: indent\n',
    {},
    'node.yaml:2:7: YAML syntax error: Nested mappings are not allowed in compact mappings\n' +
      'node.yaml:2:7: YAML syntax error: Implicit keys need to be on a single line',
  ],
  [
    'syntax: unclosed flow list',
    'scope: [demo\nname: n1\n',
    {},
    'node.yaml:2:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]',
  ],
  [
    'syntax: tab indentation',
    'scope: demo\nname: n1\npostgresql:\n\tdata_dir: /x\n',
    {},
    'node.yaml:4:1: YAML syntax error: Tabs are not allowed as indentation',
  ],
  [
    'syntax: duplicate key',
    'scope: a\nscope: b\n',
    {},
    'node.yaml:2:1: scope: duplicate key (first set on line 1)',
  ],
  ['top level is a list', '- 1\n', {}, 'node.yaml: expected a map at the top level, got a list'],
  [
    'wrong type: number for an address',
    `${BASE}restapi:\n  listen: 8008\n`,
    {},
    'node.yaml:6:11: restapi.listen: expected host:port with a port 1-65535, got 8008',
  ],
  [
    'allowlist: a CIDR block out of range',
    `${BASE}restapi:\n  allowlist: ['10.0.0.0/8', '10.0.0.0/33']\n`,
    {},
    'node.yaml:6:14: restapi.allowlist: expected a list of IP addresses, CIDR blocks or host names, got a list',
  ],
  [
    'allowlist: not a list',
    `${BASE}restapi:\n  allowlist: 10.0.0.0/8\n`,
    {},
    'node.yaml:6:14: restapi.allowlist: expected a list of IP addresses, CIDR blocks or host names, got "10.0.0.0/8"',
  ],
  [
    'port out of range',
    `${BASE}restapi:\n  listen: 127.0.0.1:70000\n`,
    {},
    'node.yaml:6:11: restapi.listen: expected host:port with a port 1-65535, got "127.0.0.1:70000"',
  ],
  [
    'port not a number',
    `${BASE}  listen: 127.0.0.1:abc\n`,
    {},
    'node.yaml:5:11: postgresql.listen: expected host[,host...]:port with a port 1-65535, got "127.0.0.1:abc"',
  ],
  [
    'typo with did-you-mean',
    `${BASE}  data_dri: /y\n`,
    {},
    'node.yaml:5:3: postgresql.data_dri: unknown key; did you mean "data_dir"?',
  ],
  [
    'top-level typo',
    `${BASE}restpai:\n  listen: 1.2.3.4:1\n`,
    {},
    'node.yaml:5:1: restpai: unknown key; did you mean "restapi"?',
  ],
  ['unknown key without suggestion', `${BASE}zzzzzz: 1\n`, {}, 'node.yaml:5:1: zzzzzz: unknown key'],
  [
    'timing rule violated',
    `${BASE}bootstrap:\n  dcs:\n    ttl: 10\n    retry_timeout: 5\n`,
    {},
    'node.yaml:7:10: bootstrap.dcs.ttl: must be at least loop_wait + 2*retry_timeout = 2 + 2*5 = 12, got 10',
  ],
  [
    'ttl below etcd minimum',
    `${BASE}bootstrap:\n  dcs:\n    ttl: 1\n    loop_wait: 1\n    retry_timeout: 1\n    primary_isolation_timeout: 0.5\n`,
    {},
    "node.yaml:7:10: bootstrap.dcs.ttl: must be at least 2 seconds (etcd's minimum lease TTL), got 1\n" +
      'node.yaml:7:10: bootstrap.dcs.ttl: must be at least loop_wait + 2*retry_timeout = 1 + 2*1 = 3, got 1',
  ],
  [
    'loop_wait zero',
    `${BASE}bootstrap:\n  dcs:\n    loop_wait: 0\n`,
    {},
    'node.yaml:7:16: bootstrap.dcs.loop_wait: must be at least 1 second, got 0',
  ],
  [
    'ttl not a number',
    `${BASE}bootstrap:\n  dcs:\n    ttl: abc\n`,
    {},
    'node.yaml:7:10: bootstrap.dcs.ttl: expected an integer number of seconds 0-2147483, got "abc"',
  ],
  [
    'bad size string',
    `${BASE}bootstrap:\n  dcs:\n    maximum_lag_on_failover: 1 XB\n`,
    {},
    'node.yaml:7:30: bootstrap.dcs.maximum_lag_on_failover: expected a size in bytes or with a unit (kB, MB, GB, TB), got "1 XB"',
  ],
  [
    'negative size',
    `${BASE}bootstrap:\n  dcs:\n    maximum_lag_on_failover: -5\n`,
    {},
    'node.yaml:7:30: bootstrap.dcs.maximum_lag_on_failover: expected a size in bytes or with a unit (kB, MB, GB, TB), got -5',
  ],
  [
    'missing name',
    'scope: demo\npostgresql:\n  data_dir: /x\n',
    {},
    'node.yaml: name: required key is missing',
  ],
  [
    'missing scope',
    'name: n\npostgresql:\n  data_dir: /x\n',
    {},
    'node.yaml: scope: required key is missing',
  ],
  [
    'missing postgresql.data_dir points at its section',
    'scope: demo\nname: n1\npostgresql:\n  listen: 127.0.0.1:5432\n',
    {},
    'node.yaml:3:1: postgresql.data_dir: required key is missing',
  ],
  [
    'everything missing in an empty file',
    '',
    {},
    'node.yaml: scope: required key is missing\nnode.yaml: name: required key is missing\n' +
      'node.yaml: postgresql.data_dir: required key is missing',
  ],
  [
    'empty name',
    'scope: demo\nname:\npostgresql:\n  data_dir: /x\n',
    {},
    'node.yaml:2:6: name: expected a non-empty string, got null',
  ],
  [
    'env override invalid (HAPG_)',
    BASE,
    { HAPG_RESTAPI__LISTEN: 'localhost' },
    'env HAPG_RESTAPI__LISTEN: restapi.listen: expected host:port with a port 1-65535, got "localhost"',
  ],
  [
    'env override invalid (PATRONI_)',
    BASE,
    { PATRONI_POSTGRESQL_LISTEN: 'x' },
    'env PATRONI_POSTGRESQL_LISTEN: postgresql.listen: expected host[,host...]:port with a port 1-65535, got "x"',
  ],
  [
    'env override with a typo in the key',
    BASE,
    { HAPG_POSTGRESQL__DATA_DRI: '/y' },
    'env HAPG_POSTGRESQL__DATA_DRI: postgresql.data_dri: unknown key; did you mean "data_dir"?',
  ],
  [
    'env override that is not YAML',
    BASE,
    { HAPG_BOOTSTRAP__DCS__TTL: '[1' },
    'env HAPG_BOOTSTRAP__DCS__TTL: bootstrap.dcs.ttl: not a valid YAML value: Flow sequence must end with a ]',
  ],
  [
    'synchronous_mode value',
    `${BASE}bootstrap:\n  dcs:\n    synchronous_mode: sometimes\n`,
    {},
    'node.yaml:7:23: bootstrap.dcs.synchronous_mode: expected false, true or "quorum", got "sometimes"',
  ],
  [
    'boolean value',
    `${BASE}fence:\n  enabled: maybe\n`,
    {},
    'node.yaml:6:12: fence.enabled: expected a boolean, got "maybe"',
  ],
  [
    'wildcard listen without connect_address',
    `${BASE}  listen: 0.0.0.0:5432\n`,
    {},
    'node.yaml:3:1: postgresql.connect_address: required when postgresql.listen is a wildcard address (0.0.0.0)',
  ],
  ['section of the wrong type', `${BASE}tags: [a]\n`, {}, 'node.yaml:5:7: tags: expected a map, got a list'],
  [
    'parameter value that is a map',
    `${BASE}  parameters:\n    work_mem: {a: 1}\n`,
    {},
    'node.yaml:6:15: postgresql.parameters.work_mem: expected a string, number or boolean, got a map',
  ],
  [
    'pg_hba as a string',
    `${BASE}  pg_hba: host all all 0/0 md5\n`,
    {},
    'node.yaml:5:11: postgresql.pg_hba: expected a list of strings, got "host all all 0/0 md5"',
  ],
  [
    'bootstrap.pg_hba as a string',
    `${BASE}bootstrap:\n  pg_hba: host all all 0/0 md5\n`,
    {},
    'node.yaml:6:11: bootstrap.pg_hba: expected a list of strings, got "host all all 0/0 md5"',
  ],
  [
    'bootstrap.pg_hba with a non-string line',
    `${BASE}bootstrap:\n  pg_hba:\n    - host all all 0/0 md5\n    - 5\n`,
    {},
    'node.yaml:7:5: bootstrap.pg_hba: expected a list of strings, got a list',
  ],
  [
    'use_unix_socket not a boolean',
    `${BASE}  use_unix_socket: sometimes\n`,
    {},
    'node.yaml:5:20: postgresql.use_unix_socket: expected a boolean, got "sometimes"',
  ],
  [
    'logical slot without plugin',
    `${BASE}bootstrap:\n  dcs:\n    slots:\n      s1:\n        type: logical\n`,
    {},
    'node.yaml:9:9: bootstrap.dcs.slots.s1: a logical slot needs both "database" and "plugin"',
  ],
  [
    'primary_isolation_timeout not below ttl',
    `${BASE}bootstrap:\n  dcs:\n    primary_isolation_timeout: 10\n`,
    {},
    'node.yaml:7:32: bootstrap.dcs.primary_isolation_timeout: must be less than ttl (10), got 10',
  ],
  [
    'negative failover_priority',
    `${BASE}tags:\n  failover_priority: -1\n`,
    {},
    'node.yaml:6:22: tags.failover_priority: expected an integer >= 0, got -1',
  ],
];

describe('parseNodeConfig: invalid configs', () => {
  it.each(INVALID)('%s', (_name, yaml, env, message) => {
    const e = errorOf(yaml, env);
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toBe(message);
  });

  it('has at least 15 cases', () => {
    expect(INVALID.length).toBeGreaterThanOrEqual(15);
  });

  it('lists every problem of a file, in file order, with the file name', () => {
    let caught: unknown;
    try {
      parseFile(fixture('many-problems.yaml'));
    } catch (e) {
      caught = e;
    }
    const f = fixture('many-problems.yaml');
    expect(caught).toBeInstanceOf(HapgError);
    expect((caught as HapgError).message).toBe(
      [
        `${f}:2:7: name: expected a non-empty string, got 5`,
        `${f}:5:11: postgresql.listen: expected host[,host...]:port with a port 1-65535, got "nope"`,
        `${f}:7:9: watchdog.mode: expected "off", "automatic" or "required", got "on"`,
        `${f}:8:3: watchdog.devise: unknown key; did you mean "device"?`,
      ].join('\n'),
    );
  });
});

describe('parseNodeConfig: defaults', () => {
  const { config, warnings } = parseFile(fixture('minimal.yaml'));

  it('loads a minimal file without warnings', () => {
    expect(warnings).toEqual([]);
  });

  it('fills every default', () => {
    expect(config.scope).toBe('demo');
    expect(config.namespace).toBe('service');
    expect(config.restapi.listen).toEqual({ host: '127.0.0.1', port: 8008 });
    expect(config.restapi.connectAddress).toEqual({ host: '127.0.0.1', port: 8008 });
    expect(config.restapi.authentication).toBeNull();
    expect(config.restapi.verifyClient).toBe('none');
    expect(config.restapi.allowlist).toEqual([]);
    expect(config.restapi.allowlistIncludeMembers).toBe(false);
    expect(config.etcd3.hosts).toEqual([{ host: '127.0.0.1', port: 2379 }]);
    expect(config.etcd3.protocol).toBe('http');
    expect(config.postgresql.listen).toEqual({ hosts: ['127.0.0.1'], port: 5432 });
    expect(config.postgresql.connectAddress).toEqual({ host: '127.0.0.1', port: 5432 });
    expect(config.postgresql.dataDir).toBe('/var/lib/hapg/data');
    expect(config.postgresql.binDir).toBeNull();
    expect(config.postgresql.osUser).toBe('postgres');
    expect(config.postgresql.authentication.superuser).toEqual({ username: 'postgres', password: null });
    expect(config.postgresql.authentication.replication).toEqual({ username: 'replicator', password: null });
    expect(config.postgresql.authentication.rewind).toBeNull();
    expect(config.postgresql.createReplicaMethods).toEqual(['basebackup']);
    expect(config.postgresql.pgHba).toBeNull();
    expect(config.postgresql.useUnixSocket).toBe(true);
    expect(config.bootstrap.pgHba).toBeNull();
    expect(config.tags).toMatchObject({
      nofailover: false,
      nosync: false,
      failoverPriority: 1,
      replicatefrom: null,
    });
    expect(config.log).toEqual({ level: 'info', dir: null, fileNum: 4, fileSizeBytes: 26214400n });
    expect(config.watchdog).toEqual({ mode: 'automatic', device: '/dev/watchdog', safetyMarginMs: 5000 });
    expect(config.fence.enabled).toBe(true);
  });

  it('uses the dynamic defaults for bootstrap.dcs', () => {
    expect(config.bootstrap.dcs).toMatchObject({
      ttlMs: 10_000,
      loopWaitMs: 2_000,
      retryTimeoutMs: 3_000,
      primaryStartTimeoutMs: 30_000,
      primaryIsolationTimeoutMs: 1_000,
      maximumLagOnFailoverBytes: 1048576n,
    });
    expect(config.bootstrap.dcsJson).toEqual({});
  });

  it('derives connect addresses, priorities and option arguments', () => {
    const { config: c } = parseNodeConfig(
      `${BASE}  listen: 10.0.0.5,127.0.0.1:5433\n  basebackup:\n    - verbose\n    - max-rate: 100M\n` +
        'etcd3:\n  hosts: a:1, b\nbootstrap:\n  initdb: {encoding: UTF8}\ntags:\n  nofailover: true\n  rack: r1\n',
      { fileName: 'node.yaml' },
    );
    expect(c.postgresql.listen).toEqual({ hosts: ['10.0.0.5', '127.0.0.1'], port: 5433 });
    expect(c.postgresql.connectAddress).toEqual({ host: '10.0.0.5', port: 5433 });
    expect(c.postgresql.basebackupArgs).toEqual(['--verbose', '--max-rate=100M']);
    expect(c.etcd3.hosts).toEqual([
      { host: 'a', port: 1 },
      { host: 'b', port: 2379 },
    ]);
    expect(c.bootstrap.initdbArgs).toEqual(['--encoding=UTF8']);
    expect(c.tags.failoverPriority).toBe(0);
    expect(c.tags.all).toEqual({ nofailover: true, rack: 'r1' });
  });
});

describe('parseNodeConfig: environment overrides', () => {
  it('applies PATRONI_ and HAPG_ variables, HAPG_ winning', () => {
    const { config } = parseNodeConfig('scope: demo\n', {
      fileName: 'node.yaml',
      env: {
        PATRONI_NAME: 'from-patroni',
        PATRONI_POSTGRESQL_DATA_DIR: '/patroni',
        HAPG_POSTGRESQL__DATA_DIR: '/hapg',
        PATRONI_RESTAPI_LISTEN: '10.0.0.1:8009',
        PATRONI_ETCD3_HOSTS: 'e1:2379,e2:2380',
        PATRONI_SUPERUSER_PASSWORD: '0123',
        HAPG_BOOTSTRAP__DCS__TTL: '20',
        HAPG_TAGS__NOFAILOVER: 'true',
        HAPG_CONFIG_FILE: '/etc/hapg.yaml',
      },
    });
    expect(config.name).toBe('from-patroni');
    expect(config.postgresql.dataDir).toBe('/hapg');
    expect(config.restapi.listen).toEqual({ host: '10.0.0.1', port: 8009 });
    expect(config.etcd3.hosts.map((h) => h.port)).toEqual([2379, 2380]);
    // PATRONI_ values stay strings: a numeric-looking password is not turned into 123
    expect(config.postgresql.authentication.superuser.password).toBe('0123');
    expect(config.bootstrap.dcs.ttlMs).toBe(20_000);
    expect(config.tags.nofailover).toBe(true);
  });

  it('overrides values the file sets', () => {
    const { config } = parseNodeConfig(`${BASE}restapi:\n  listen: 127.0.0.1:8008\n`, {
      fileName: 'node.yaml',
      env: { HAPG_RESTAPI__LISTEN: '127.0.0.2:9000', HAPG_NAME: 'n2' },
    });
    expect(config.restapi.listen).toEqual({ host: '127.0.0.2', port: 9000 });
    expect(config.name).toBe('n2');
  });
});

describe('restapi.allowlist', () => {
  it('takes IPv4 and IPv6 addresses, CIDR blocks and host names, as Patroni does', () => {
    const list = ['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', '::ffff:10.1.2.3', 'db1.example.com', 'db-2'];
    const { config, warnings } = parseNodeConfig(
      `${BASE}restapi:\n  allowlist: ${JSON.stringify(list)}\n  allowlist_include_members: true\n`,
      { fileName: 'node.yaml', env: {} },
    );
    expect(warnings).toEqual([]);
    expect(config.restapi.allowlist).toEqual(list);
    expect(config.restapi.allowlistIncludeMembers).toBe(true);
  });

  it.each([
    '10.0.0.0/33',
    'fd00::/129',
    '1:2:3',
    '1::2::3',
    '10.0.0.256',
    'db1.example/24',
    'a b',
    '',
    '300.1.1.1',
  ])('refuses %j', (entry) => {
    expect(errorOf(`${BASE}restapi:\n  allowlist: [${JSON.stringify(entry)}]\n`).message).toMatch(
      /restapi\.allowlist: expected a list of IP addresses, CIDR blocks or host names/,
    );
  });
});

describe('Patroni compatibility', () => {
  it('loads a real Patroni file with exactly one warning naming every ignored key', () => {
    const file = example('patroni-compat.example.yaml');
    const { config, warnings } = parseFile(file);
    expect(warnings).toEqual([
      `${file}: accepted but not acted on: log.traceback_level, log.format, ctl, ` +
        'bootstrap.dcs.master_start_timeout, bootstrap.dcs.postgresql.recovery_conf, bootstrap.users, ' +
        'bootstrap.post_bootstrap, postgresql.authentication.superuser.sslmode, ' +
        'postgresql.pg_ctl_timeout',
    ]);
    expect(config.postgresql.useUnixSocket).toBe(true);
    expect(config.scope).toBe('batman');
    expect(config.namespace).toBe('service');
    expect(config.bootstrap.dcs.ttlMs).toBe(30_000);
    expect(config.bootstrap.dcs.failsafeMode).toBe(true);
    expect(config.postgresql.basebackupArgs).toEqual(['--max-rate=100M', '--checkpoint=fast']);
    expect(config.tags.all.datacenter).toBe('west');
    expect(config.tags.replicatefrom).toBe('postgresql1');
    expect(config.postgresql.hooks).toEqual({
      callbacks: {
        on_role_change: '/usr/local/bin/on_role_change.sh',
        on_stop: '/usr/local/bin/on_stop.sh --quiet',
      },
      callbackTimeoutMs: 60_000,
      prePromote: '/usr/local/bin/fence_old_primary.sh',
      prePromoteTimeoutMs: 30_000,
      beforeStop: '/usr/local/bin/pause_pgbouncer.sh',
      beforeStopTimeoutMs: 30_000,
    });
    expect(config.log).toMatchObject({ dir: '/var/log/patroni', fileNum: 10 });
    expect(config.restapi.allowlistIncludeMembers).toBe(true);
    expect(config.watchdog.mode).toBe('automatic');
    expect(config.postgresql.createReplicaMethods).toEqual(['wal_e', 'basebackup']);
    expect(config.postgresql.replicaMethods).toEqual({
      wal_e: {
        command: ['patroni_wale_restore'],
        keepData: false,
        noParams: false,
        params: { no_master: '1' },
      },
    });
  });

  it('loads the hapg example without warnings', () => {
    const { config, warnings } = parseFile(example('node1.example.yaml'));
    expect(warnings).toEqual([]);
    expect(config.bootstrap.dcs.maximumLagOnFailoverBytes).toBe(1048576n);
  });

  it('ignores sections named by a custom bootstrap method', () => {
    const { warnings } = parseNodeConfig(`${BASE}bootstrap:\n  method: clone\n  clone:\n    command: x\n`, {
      fileName: 'n.yaml',
    });
    expect(warnings).toEqual(['n.yaml: accepted but not acted on: bootstrap.method, bootstrap.clone']);
  });

  it('honours a Patroni 3.x bootstrap.pg_hba and postgresql.use_unix_socket without a warning', () => {
    const { config, warnings } = parseNodeConfig(
      `${BASE}  use_unix_socket: false\n  use_unix_socket_repl: true\nbootstrap:\n  pg_hba:\n` +
        '    - host replication replicator 10.0.0.0/24 md5\n    - host all all 0.0.0.0/0 md5\n',
      { fileName: 'n.yaml' },
    );
    expect(warnings).toEqual(['n.yaml: accepted but not acted on: postgresql.use_unix_socket_repl']);
    expect(config.bootstrap.pgHba).toEqual([
      'host replication replicator 10.0.0.0/24 md5',
      'host all all 0.0.0.0/0 md5',
    ]);
    expect(config.postgresql.pgHba).toBeNull();
    expect(config.postgresql.useUnixSocket).toBe(false);
  });

  it('treats keys in tags and parameters as free-form', () => {
    const { config } = parseNodeConfig(`${BASE}  parameters:\n    anything_goes: 1\ntags:\n  whatever: x\n`, {
      fileName: 'n.yaml',
    });
    expect(config.postgresql.parameters).toEqual({ anything_goes: 1 });
    expect(config.tags.all).toEqual({ whatever: 'x' });
  });
});
