import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { HapgError } from '@hapg/core';

/** Host name → its addresses (IPv4 and IPv6); default `dns.lookup`, which reads /etc/hosts too. */
export type ResolveHost = (host: string) => Promise<readonly string[]>;

export interface AllowListOptions {
  /** `restapi.allowlist`: IP addresses, CIDR blocks and host names */
  readonly entries: readonly string[];
  /** `restapi.allowlist_include_members`: the members' `api_url` hosts, read for each request */
  readonly memberApiUrls?: () => Iterable<string>;
  readonly resolve?: ResolveHost;
  /** a host name that did not resolve (the request is refused unless another entry allows it) */
  readonly onResolveError?: (host: string, error: unknown) => void;
}

/**
 * `restapi.allowlist` and `restapi.allowlist_include_members`: the peers allowed to use the
 * unsafe methods, as in Patroni. Addresses and CIDR blocks are parsed once, when the list is
 * built, so an unparsable entry is a config error at startup (or a refused reload) rather than
 * a silently open or closed API. Host names — the list's and the members' — are resolved for
 * each unsafe request (Patroni resolves the members' for each request too), so a changed DNS
 * record or member key applies to the next request.
 */
export class AllowList {
  readonly #list = new BlockList();
  #networks = 0;
  readonly #hostNames: string[] = [];
  readonly #memberApiUrls: (() => Iterable<string>) | null;
  readonly #resolve: ResolveHost;
  readonly #onResolveError: (host: string, error: unknown) => void;

  constructor(opts: AllowListOptions | readonly string[]) {
    const o: AllowListOptions = isStringList(opts) ? { entries: opts } : opts;
    for (const entry of o.entries) this.#add(entry);
    this.#memberApiUrls = o.memberApiUrls ?? null;
    this.#resolve = o.resolve ?? resolveAll;
    this.#onResolveError = o.onResolveError ?? (() => {});
  }

  /** Whether it restricts anything: Patroni allows every peer with no entries and no members. */
  get active(): boolean {
    return this.#networks > 0 || this.#hostNames.length > 0 || this.#memberApiUrls !== null;
  }

  /** What a refusal names, for the 403 body. */
  get description(): string {
    return this.#memberApiUrls === null
      ? 'restapi.allowlist'
      : "restapi.allowlist nor a member's api_url host (restapi.allowlist_include_members)";
  }

  #add(raw: string): void {
    const entry = raw.trim();
    const [address = '', prefixText, ...rest] = entry.split('/');
    const type = isIP(address);
    if (type === 0 && prefixText === undefined && isHostName(address)) {
      this.#hostNames.push(address.toLowerCase());
      return;
    }
    const maxPrefix = type === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? maxPrefix : Number(prefixText);
    const prefixOk = prefixText === undefined || /^\d{1,3}$/.test(prefixText);
    if (type === 0 || rest.length > 0 || !prefixOk || prefix > maxPrefix) {
      throw new HapgError(
        'CONFIG_INVALID',
        `restapi.allowlist: ${JSON.stringify(raw)} is not an IP address, CIDR block or host name`,
      );
    }
    this.#list.addSubnet(address, prefix, type === 4 ? 'ipv4' : 'ipv6');
    this.#networks += 1;
  }

  /** Whether a peer address (as the socket reports it) is allowed; always true when not `active`. */
  async allows(address: string | undefined): Promise<boolean> {
    if (!this.active) return true;
    const peer = plainAddress(address);
    if (peer === null) return false;
    if (this.#list.check(peer.address, peer.family)) return true;
    const hosts = [...this.#hostNames, ...this.#memberHosts()];
    for (const host of new Set(hosts)) {
      for (const a of await this.#addressesOf(host)) {
        const p = plainAddress(a);
        if (p !== null && p.family === peer.family && sameAddress(p, peer)) return true;
      }
    }
    return false;
  }

  #memberHosts(): string[] {
    if (this.#memberApiUrls === null) return [];
    const hosts: string[] = [];
    for (const url of this.#memberApiUrls()) {
      const host = urlHost(url);
      if (host !== null) hosts.push(host);
    }
    return hosts;
  }

  async #addressesOf(host: string): Promise<readonly string[]> {
    if (isIP(host) !== 0) return [host];
    try {
      return await this.#resolve(host);
    } catch (e) {
      this.#onResolveError(host, e);
      return [];
    }
  }
}

function isStringList(v: AllowListOptions | readonly string[]): v is readonly string[] {
  return Array.isArray(v);
}

const HOST_NAME_RE =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9_]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9_]{0,61}[a-z0-9])?)*\.?$/i;

function isHostName(s: string): boolean {
  return !/^[\d.]+$/.test(s) && HOST_NAME_RE.test(s);
}

async function resolveAll(host: string): Promise<readonly string[]> {
  return (await lookup(host, { all: true })).map((a) => a.address);
}

/** The host of a member's `api_url` (`http://10.0.0.1:8008/patroni`, `https://[fd00::1]:8008`); null if none. */
export function urlHost(url: string): string | null {
  try {
    const host = new URL(url).hostname;
    if (host === '') return null;
    return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  } catch {
    return null;
  }
}

type Peer = { readonly address: string; readonly family: 'ipv4' | 'ipv6' };

/** A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; such a peer is matched as IPv4. */
function plainAddress(address: string | undefined): Peer | null {
  if (address === undefined) return null;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const plain = mapped ? mapped[1]! : address;
  const type = isIP(plain);
  return type === 0 ? null : { address: plain, family: type === 4 ? 'ipv4' : 'ipv6' };
}

function sameAddress(a: Peer, b: Peer): boolean {
  const one = new BlockList();
  one.addAddress(a.address, a.family);
  return one.check(b.address, b.family);
}

/** The REST API keys of the node config (`NodeConfig['restapi']`) the allow-list is built from. */
export interface AllowListConfig {
  readonly allowlist: readonly string[];
  readonly allowlistIncludeMembers: boolean;
}

/**
 * The allow-list of the running config, for `buildApi`'s `allowlist` getter: built again when
 * the config object changes (a reload), null when neither key is set (every peer allowed).
 * An entry the agent cannot parse (the config validation let it through) refuses every peer
 * rather than opening the API.
 */
export function configuredAllowList(opts: {
  readonly config: () => AllowListConfig;
  /** the `api_url` of every member key */
  readonly memberApiUrls: () => Iterable<string>;
  readonly log: { error(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  readonly resolve?: ResolveHost;
}): () => AllowList | null {
  let built: { for: AllowListConfig; list: AllowList | null } | null = null;
  const build = (c: AllowListConfig): AllowList | null => {
    if (c.allowlist.length === 0 && !c.allowlistIncludeMembers) return null;
    const common = {
      ...(opts.resolve === undefined ? {} : { resolve: opts.resolve }),
      onResolveError: (host: string, e: unknown) =>
        opts.log.warn({ host, err: String(e) }, 'restapi.allowlist: could not resolve a host name'),
    };
    try {
      return new AllowList({
        entries: c.allowlist,
        ...(c.allowlistIncludeMembers ? { memberApiUrls: opts.memberApiUrls } : {}),
        ...common,
      });
    } catch (e) {
      opts.log.error(
        { err: String(e) },
        'restapi.allowlist not usable: unsafe methods refused to every peer',
      );
      return new AllowList({ entries: ['0.0.0.0/32', '::/128'], ...common });
    }
  };
  return () => {
    const c = opts.config();
    if (built === null || built.for !== c) built = { for: c, list: build(c) };
    return built.list;
  };
}
