/**
 * The one HAProxy renderer. `hactl haproxy-config` feeds it the member keys,
 * testkit's `startHaproxy` a test cluster's nodes, and the shipped
 * deploy/haproxy/haproxy.cfg is its output for three sample members (a unit
 * test keeps them equal). Inputs are validated by the callers; anything that
 * would not be a single HAProxy word here is a programmer error and throws.
 */

/** One member as HAProxy sees it. */
export interface HaproxyServer {
  /** the member's name in etcd; the HAProxy server name is derived from it (see `haproxyServerNames`) */
  readonly member: string;
  /** where Postgres listens (from `conn_url`): a host name or an IP address, IPv6 without brackets */
  readonly host: string;
  readonly port: number;
  /** where the REST API listens (from `api_url`); `check addr` is written only when it is not `host` */
  readonly checkHost: string;
  readonly checkPort: number;
  /** the REST API is https: the check speaks TLS (`check-ssl verify none`: it only reads the status) */
  readonly checkTls: boolean;
}

/** How often a server is checked, and how many results flip it (HAProxy's `inter`, `fall`, `rise`). */
export interface HaproxyChecks {
  readonly intervalMs: number;
  readonly fall: number;
  readonly rise: number;
}

export interface HaproxyLayout {
  /** `ADDR:PORT` of the writes listener, e.g. `*:5000` */
  readonly primaryBind: string;
  /** `ADDR:PORT` of the reads listener, e.g. `*:5001` */
  readonly replicasBind: string;
  /** `ADDR:PORT` of the stats page; null for none */
  readonly statsBind: string | null;
  /** `?lag=` of the replica check (`16MB`, bytes or a Postgres memory unit); null for none */
  readonly replicaLag: string | null;
  readonly checks: HaproxyChecks;
  readonly maxconnGlobal: number;
  /** comment lines at the top, without the leading `# ` */
  readonly header: readonly string[];
}

/** deploy/haproxy/haproxy.cfg's settings (without its `?lag=16MB`). */
export const DEFAULT_HAPROXY_LAYOUT: HaproxyLayout = {
  primaryBind: '*:5000',
  replicasBind: '*:5001',
  statsBind: '127.0.0.1:7000',
  replicaLag: null,
  checks: { intervalMs: 1000, fall: 2, rise: 2 },
  maxconnGlobal: 1000,
  header: [],
};

const SERVER_MAXCONN = 100;
/** what HAProxy accepts in a proxy or server name */
const NAME_CHARS = /^[A-Za-z0-9_.:-]+$/;
const HOST_TEXT = /^[A-Za-z0-9_.-]+$/;
const IPV6_TEXT = /^[0-9A-Fa-f:.]+$/;
const BIND_TEXT = /^(\*|[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/;
const LAG_TEXT = /^\d+[A-Za-z]*$/;

/** A host name, an IPv4 address, or an IPv6 address (written without brackets). */
export function isHaproxyHost(host: string): boolean {
  return host.includes(':') ? IPV6_TEXT.test(host) : HOST_TEXT.test(host);
}

/** An IPv6 address in brackets (HAProxy reads `addr fd00::2` as `fd00:` and a port), others as they are. */
function bracketed(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** `host:port`, with brackets around an IPv6 address. */
export function haproxyAddress(host: string, port: number): string {
  return `${bracketed(host)}:${port}`;
}

/**
 * HAProxy server names for members, in order: the member name when HAProxy
 * accepts it (letters, digits, `_ . : -`), else the name with every other
 * character replaced by `_`, made unique with `-2`, `-3`, ... (a name that
 * needs no change is never the one renamed).
 */
export function haproxyServerNames(members: readonly string[]): string[] {
  const taken = new Set(members.filter((m) => NAME_CHARS.test(m)));
  return members.map((m) => {
    if (NAME_CHARS.test(m)) return m;
    const base = m.replace(/[^A-Za-z0-9_.:-]/g, '_') || 'member';
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
    taken.add(name);
    return name;
  });
}

/** `1s`, `500ms`: HAProxy's time format. */
function haproxyTime(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** A comment that stays one line whatever the text holds (control characters become spaces). */
function comment(text: string): string {
  const oneLine = [...text].map((c) => (c.charCodeAt(0) < 0x20 || c === '\u007f' ? ' ' : c)).join('');
  return `# ${oneLine}`;
}

function assertLayout(layout: HaproxyLayout): void {
  for (const bind of [layout.primaryBind, layout.replicasBind, layout.statsBind]) {
    if (bind !== null && !BIND_TEXT.test(bind)) throw new Error(`not an HAProxy bind address: ${bind}`);
  }
  if (layout.replicaLag !== null && !LAG_TEXT.test(layout.replicaLag))
    throw new Error(`not a lag size: ${layout.replicaLag}`);
  const { intervalMs, fall, rise } = layout.checks;
  if (![intervalMs, fall, rise, layout.maxconnGlobal].every((n) => Number.isSafeInteger(n) && n > 0))
    throw new Error(`check timing and maxconn must be positive integers: ${JSON.stringify(layout)}`);
}

function assertServer(s: HaproxyServer): void {
  if (!isHaproxyHost(s.host) || !isHaproxyHost(s.checkHost))
    throw new Error(`not a host HAProxy can use: ${JSON.stringify(s)}`);
  for (const port of [s.port, s.checkPort]) {
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new Error(`not a port: ${JSON.stringify(s)}`);
  }
}

function serverLines(servers: readonly HaproxyServer[]): string[] {
  const names = haproxyServerNames(servers.map((s) => s.member));
  return servers.flatMap((s, i) => {
    const name = names[i]!;
    const check = [
      'check',
      ...(s.checkHost === s.host ? [] : ['addr', bracketed(s.checkHost)]),
      'port',
      String(s.checkPort),
      ...(s.checkTls ? ['check-ssl', 'verify', 'none'] : []),
    ].join(' ');
    const line = `    server ${name} ${haproxyAddress(s.host, s.port)} maxconn ${SERVER_MAXCONN} ${check}`;
    return name === s.member ? [line] : [`    ${comment(`member ${JSON.stringify(s.member)}`)}`, line];
  });
}

function listener(name: string, bind: string, checkPath: string, layout: HaproxyLayout, servers: string[]) {
  const { intervalMs, fall, rise } = layout.checks;
  return [
    `listen ${name}`,
    `    bind ${bind}`,
    ...(name === 'replicas' ? ['    balance roundrobin'] : []),
    `    option httpchk OPTIONS ${checkPath}`,
    '    http-check expect status 200',
    `    default-server inter ${haproxyTime(intervalMs)} fall ${fall} rise ${rise} on-marked-down shutdown-sessions`,
    ...servers,
  ];
}

/**
 * deploy/haproxy/haproxy.cfg's shape: a stats page, a `primary` listener whose
 * servers are up while their `/primary` answers 200, and a `replicas`
 * listener (round robin) checking `/replica` (with `?lag=` when given). Every
 * server is a member's Postgres address, checked on its REST port.
 */
export function renderHaproxyConfig(servers: readonly HaproxyServer[], layout: HaproxyLayout): string {
  if (servers.length === 0) throw new Error('an HAProxy config needs at least one server');
  assertLayout(layout);
  servers.forEach(assertServer);
  const lines = serverLines(servers);
  const lag = layout.replicaLag;
  const stats =
    layout.statsBind === null
      ? []
      : [
          'listen stats',
          '    mode http',
          `    bind ${layout.statsBind}`,
          '    stats enable',
          '    stats uri /',
          '',
        ];
  return [
    ...layout.header.map(comment),
    'global',
    `    maxconn ${layout.maxconnGlobal}`,
    '',
    'defaults',
    '    mode tcp',
    '    log global',
    '    retries 2',
    '    timeout client 30m',
    '    timeout server 30m',
    '    timeout connect 4s',
    '    timeout check 2s',
    '',
    ...stats,
    comment(
      'Writes: only the node whose /primary answers 200 (holds the lease, Postgres running and writable).',
    ),
    ...listener('primary', layout.primaryBind, '/primary', layout, lines),
    '',
    comment(
      `Reads: streaming replicas${lag === null ? '' : ` within ${lag} of the leader`}, not tagged noloadbalance.`,
    ),
    ...listener(
      'replicas',
      layout.replicasBind,
      lag === null ? '/replica' : `/replica?lag=${lag}`,
      layout,
      lines,
    ),
    '',
  ].join('\n');
}
