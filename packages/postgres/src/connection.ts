import { HapgError } from '@hapg/core';
import pg from 'pg';

export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | null;
  readonly database?: string;
  readonly connectTimeoutMs: number;
  /** client-side: the query rejects and the connection is thrown away (stack-notes #12) */
  readonly queryTimeoutMs: number;
  readonly applicationName?: string;
}

export type QueryRow = Record<string, unknown>;

const NOT_RUNNING_CODES = new Set([
  'ECONNREFUSED',
  'ENOENT',
  'ECONNRESET',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
]);

/**
 * SQLSTATEs with which a running server refuses a new connection for a reason of its own
 * configuration (pg_hba.conf, passwords, roles, databases, connection slots): waiting does not
 * help until an operator changes something, so the agent must say so instead of "starting".
 */
const REJECTED_CODES = new Set([
  '28000', // invalid_authorization_specification: no pg_hba.conf entry, reject, peer/ident failed, no such role
  '28P01', // invalid_password
  '3D000', // invalid_catalog_name: the database does not exist
  '42501', // insufficient_privilege at connect (e.g. no CONNECT on the database)
  '53300', // too_many_connections
  '08004', // sqlserver_rejected_establishment_of_sqlconnection
  'EACCES', // the socket file exists but the OS refuses us
]);

/** Client-side authentication failures of the pg library (no SQLSTATE): the server asked for a password we lack. */
const CLIENT_AUTH_ERROR = /SASL|SCRAM|client password must be a string|password authentication/i;

/** Maps a pg/network error to the catalogue: "not running" is retryable and expected around restarts. */
export function classifyPgError(e: unknown, what: string): HapgError {
  if (e instanceof HapgError) return e;
  const err = e as { code?: string; message?: string };
  const msg = `${what}: ${err.message ?? String(e)}${err.code ? ` (${err.code})` : ''}`;
  const notRunning =
    (err.code !== undefined && NOT_RUNNING_CODES.has(err.code)) ||
    /Connection terminated|timeout expired|Query read timeout/i.test(err.message ?? '');
  return new HapgError(notRunning ? 'PG_NOT_RUNNING' : 'PG_QUERY_FAILED', msg, { cause: e });
}

/**
 * Like `classifyPgError`, for an error while opening a connection: a server that answered
 * and refused us is PG_CONNECTION_REJECTED, never "not running". (Only at connect time: a
 * 42501 from a query is an ordinary query failure.)
 */
export function classifyConnectError(e: unknown, what: string): HapgError {
  if (e instanceof HapgError) return e;
  const err = e as { code?: string; message?: string };
  const rejected =
    (err.code !== undefined && REJECTED_CODES.has(err.code)) ||
    (err.code === undefined && CLIENT_AUTH_ERROR.test(err.message ?? ''));
  if (!rejected) return classifyPgError(e, what);
  const msg = `${what}: ${err.message ?? String(e)}${err.code ? ` (${err.code})` : ''}`;
  return new HapgError('PG_CONNECTION_REJECTED', msg, { cause: e });
}

/** `host:port`, or the socket file for a Unix-socket directory (libpq's convention: a host starting with `/`). */
export function endpointText(host: string, port: number): string {
  return host.startsWith('/') ? `${host.replace(/\/+$/, '')}/.s.PGSQL.${port}` : `${host}:${port}`;
}

/**
 * Opens a connection with an `'error'` listener attached before anything can
 * fail: pg emits 'error' on every server death, sometimes twice, and an
 * unhandled one would crash the agent (stack-notes #12).
 */
export async function connect(opts: ConnectOptions): Promise<pg.Client> {
  const client = new pg.Client({
    host: opts.host,
    port: opts.port,
    user: opts.user,
    password: opts.password ?? undefined,
    database: opts.database ?? 'postgres',
    connectionTimeoutMillis: opts.connectTimeoutMs,
    query_timeout: opts.queryTimeoutMs,
    application_name: opts.applicationName ?? 'hapg',
    keepAlive: true,
  });
  client.on('error', () => {
    // the owner notices through its next query failing; see SqlSession
  });
  try {
    await client.connect();
  } catch (e) {
    void client.end().catch(() => {});
    throw classifyConnectError(e, `connect to ${endpointText(opts.host, opts.port)}`);
  }
  return client;
}

/**
 * Tries each candidate in order (the local Unix socket, then TCP) and returns the first
 * connection that opens. When all fail, the error names every attempt; it is
 * PG_CONNECTION_REJECTED when any server refused us (it runs: "not running" would mislead).
 */
export async function connectFirst(
  candidates: readonly ConnectOptions[],
): Promise<{ client: pg.Client; used: ConnectOptions }> {
  if (candidates.length === 0) throw new HapgError('INTERNAL', 'no address to connect to');
  const errors: HapgError[] = [];
  for (const c of candidates) {
    try {
      return { client: await connect(c), used: c };
    } catch (e) {
      errors.push(classifyConnectError(e, `connect to ${endpointText(c.host, c.port)}`));
    }
  }
  if (errors.length === 1) throw errors[0]!;
  const rejected = errors.some((e) => e.code === 'PG_CONNECTION_REJECTED');
  const code = rejected ? 'PG_CONNECTION_REJECTED' : (errors[0]?.code ?? 'PG_NOT_RUNNING');
  throw new HapgError(code, errors.map((e) => e.message).join('; '), { cause: errors[0] });
}

/** One short-lived connection for one job (promote, slots, checkpoint on a remote); several candidates are tried in order. */
export async function withConnection<T>(
  opts: ConnectOptions | readonly ConnectOptions[],
  fn: (c: pg.Client) => Promise<T>,
): Promise<T> {
  const { client, used } = await connectFirst(Array.isArray(opts) ? opts : [opts as ConnectOptions]);
  try {
    return await fn(client);
  } catch (e) {
    throw classifyPgError(e, `query on ${endpointText(used.host, used.port)}`);
  } finally {
    void client.end().catch(() => {});
  }
}

/** Where a session connects: fixed options, or candidates computed at each (re)connect (the socket dir can change). */
export type ConnectTarget = ConnectOptions | (() => Promise<readonly ConnectOptions[]>);

/**
 * A single reused connection that reconnects on demand. Any error or timeout
 * throws the connection away, so a half-dead socket is never reused.
 */
export class SqlSession {
  readonly #target: ConnectTarget;
  #client: pg.Client | null = null;
  #broken = false;
  /** the candidate that connected last: tried first next time, so a fallback costs one failed attempt once */
  #preferredHost: string | null = null;

  constructor(target: ConnectTarget) {
    this.#target = target;
  }

  async query<R extends QueryRow = QueryRow>(text: string, values: readonly unknown[] = []): Promise<R[]> {
    const client = await this.#ensure();
    try {
      const res = await client.query<R>(text, values as unknown[]);
      return res.rows;
    } catch (e) {
      this.#discard();
      throw classifyPgError(e, 'query');
    }
  }

  async #ensure(): Promise<pg.Client> {
    if (this.#client && !this.#broken) return this.#client;
    this.#discard();
    const { client, used } = await connectFirst(await this.#candidates());
    this.#preferredHost = used.host;
    // a discarded client may still emit later: only the current one marks the session broken
    const markBroken = () => {
      if (this.#client === client) this.#broken = true;
    };
    client.on('error', markBroken);
    client.on('end', markBroken);
    this.#client = client;
    this.#broken = false;
    return client;
  }

  async #candidates(): Promise<readonly ConnectOptions[]> {
    const all = typeof this.#target === 'function' ? await this.#target() : [this.#target];
    const preferred = all.filter((c) => c.host === this.#preferredHost);
    return [...preferred, ...all.filter((c) => c.host !== this.#preferredHost)];
  }

  #discard(): void {
    const c = this.#client;
    this.#client = null;
    if (c) void c.end().catch(() => {});
  }

  /** Closes the connection (it reopens on the next query). */
  close(): void {
    this.#discard();
  }
}
