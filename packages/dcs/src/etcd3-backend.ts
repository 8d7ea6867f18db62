import { EtcdLeaseInvalidError, Etcd3, type IKeyValue, type IRequestOp, type ICompare } from 'etcd3';
import {
  type CallLimits,
  type Compare,
  type EtcdBackend,
  type Kv,
  LeaseNotFoundError,
  type ListResult,
  type Op,
  prefixEnd,
  type TxnResult,
  type WatchHandle,
  type WatchHandlers,
} from './backend.js';
import { cappedBackoff, hostBreaker, passThroughPolicy } from './fault-policy.js';
import { type HostFailure, HostHealth, probeAwayHosts } from './host-health.js';
import { type Logger, silentLogger } from './logger.js';

export interface Etcd3BackendOptions {
  /** `host:port`, `http://host:port` accepted */
  readonly hosts: readonly string[];
  /** deadline of calls made without explicit limits (etcd3 internals) */
  readonly defaultCallTimeoutMs: number;
  /** gRPC keepalive; never below 5000 ms or etcd 3.4 answers with GOAWAY (stack-notes #6) */
  readonly grpcKeepaliveTimeMs?: number;
  readonly grpcKeepaliveTimeoutMs?: number;
  /**
   * with several hosts: a member gone away (host-health.ts) is first probed this long after,
   * then at doubling intervals (stack-notes #8: etcd3's own breaker stayed open 5 s)
   */
  readonly firstProbeAfterMs?: number;
  readonly watchBackoffMaxMs?: number;
  /** told when a member starts being skipped, and where the lease keepalive stream goes */
  readonly logger?: Logger;
}

/** The etcd3 backend, with what it knows of the members for diagnostics. */
export interface Etcd3Backend extends EtcdBackend {
  /** `host:port` of the member carrying the lease keepalive stream; null without one */
  keepAliveHost(): string | null;
}

const GRPC_KEEPALIVE_TIME_MS = 5000;
const GRPC_KEEPALIVE_TIMEOUT_MS = 2000;
const FIRST_PROBE_AFTER_MS = 1000;
const BREAKER_FAILURES_TO_OPEN = 3;
/** a member that stays away is probed at least this often (the intervals double from the first) */
const MAX_PROBE_INTERVAL_MS = 4000;
/** a probe (Status of that member) waits at most this long, never more than the call timeout */
const PROBE_TIMEOUT_MS = 1000;
const WATCH_BACKOFF_INITIAL_MS = 100;
const WATCH_BACKOFF_MAX_MS = 1000;

const COMPARE_TARGET = { create: 'Create', mod: 'Mod', value: 'Value', lease: 'Lease' } as const;

/** The etcd3 (1.1.2) implementation of {@link EtcdBackend}. */
export function createEtcd3Backend(opts: Etcd3BackendOptions): Etcd3Backend {
  const hosts = opts.hosts.map((h) => (h.includes('://') ? h : `http://${h}`));
  const log = opts.logger ?? silentLogger;
  let prober: { kick(): void; stop(): void } | null = null;
  const health = new HostHealth(hosts, {
    failuresToOpen: BREAKER_FAILURES_TO_OPEN,
    awayMs: opts.firstProbeAfterMs ?? FIRST_PROBE_AFTER_MS,
    maxAwayMs: MAX_PROBE_INTERVAL_MS,
    nowMs: () => performance.now(),
    onAway: (host, e) => {
      prober?.kick();
      // once per spell at warn; the failed probes of a member that stays away at debug
      log[e.again ? 'debug' : 'warn'](
        { etcdHost: bare(host), probeInMs: e.probeInMs, failure: e.how },
        'etcd member not answering: calls go to the others until it answers a probe',
      );
    },
    onBack: (host, e) =>
      log.info({ etcdHost: bare(host), awayMs: Math.round(e.awayMs) }, 'etcd member answers again'),
  });
  const clientFor = (members: string[], breakers: boolean) =>
    new Etcd3({
      hosts: members,
      // No call without a deadline (stack-notes #5); streams get theirs per call.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + opts.defaultCallTimeoutMs }),
      grpcOptions: {
        'grpc.keepalive_time_ms': opts.grpcKeepaliveTimeMs ?? GRPC_KEEPALIVE_TIME_MS,
        'grpc.keepalive_timeout_ms': opts.grpcKeepaliveTimeoutMs ?? GRPC_KEEPALIVE_TIMEOUT_MS,
      },
      faultHandling: {
        host: (host) => (breakers ? hostBreaker(host, health) : passThroughPolicy()),
        // the store retries with its own budget (retry_timeout)
        global: passThroughPolicy(),
        watchBackoff: cappedBackoff(WATCH_BACKOFF_INITIAL_MS, opts.watchBackoffMaxMs ?? WATCH_BACKOFF_MAX_MS),
      },
    });
  const client = clientFor(hosts, hosts.length > 1);
  const deadline = (limits: CallLimits) => ({ deadline: Date.now() + limits.timeoutMs });
  // One client per member for the keepalive stream and the probes, so that we, not etcd3's
  // random pick, choose the member they go to (etcd3 offers no way to pick a host).
  const perMember = hosts.length === 1 ? null : new Map(hosts.map((h) => [h, clientFor([h], false)]));
  if (perMember !== null) {
    const probeTimeoutMs = Math.min(PROBE_TIMEOUT_MS, opts.defaultCallTimeoutMs);
    prober = probeAwayHosts(health, async (h) => {
      const status = await perMember.get(h)!.maintenance.status({ deadline: Date.now() + probeTimeoutMs });
      // a member cut off from the others answers for itself but serves no request
      if (status.leader === '0') throw new Error(`etcd member ${bare(h)} has no leader`);
    });
  }
  const keepAlives = keepAliveStreams(
    perMember === null
      ? { members: new Map([[hosts[0]!, client]]), health: null }
      : { members: perMember, health },
    log,
  );

  return {
    keepAliveHost: () => keepAlives.host(),

    async grantLease(ttlSeconds, limits) {
      const res = await client.leaseClient.leaseGrant({ TTL: ttlSeconds }, deadline(limits));
      if (res.error) throw new Error(`lease grant failed: ${res.error}`);
      return { id: res.ID, ttlSeconds: Number(res.TTL) };
    },

    keepAliveOnce: (leaseId, limits) => keepAlives.once(leaseId, limits),

    async revokeLease(leaseId, limits) {
      keepAlives.close(leaseId);
      try {
        await client.leaseClient.leaseRevoke({ ID: leaseId }, deadline(limits));
      } catch (e) {
        if (e instanceof EtcdLeaseInvalidError) return; // already gone: the goal is reached
        throw e;
      }
    },

    async leaseTimeToLive(leaseId, limits) {
      try {
        const res = await client.leaseClient.leaseTimeToLive({ ID: leaseId }, deadline(limits));
        const remainingS = Number(res.TTL);
        // etcd 3.4 answers a lease it does not know with TTL -1 (grantedTTL 0), not an error
        if (remainingS < 0) return null;
        return { remainingS, grantedS: Number(res.grantedTTL) };
      } catch (e) {
        // other versions or proxies may send "lease not found" as an error instead; still not
        // LeaseNotFoundError: that means *our* lease is lost, and the store would say DCS_LEASE_LOST
        if (e instanceof EtcdLeaseInvalidError) return null;
        throw e;
      }
    },

    async list(prefix, limits): Promise<ListResult> {
      const res = await client.kv.range(
        { key: Buffer.from(prefix), range_end: prefixEnd(prefix) },
        deadline(limits),
      );
      return { revision: res.header.revision, kvs: res.kvs.map(toKv) };
    },

    async txn(compares, success, failure, limits): Promise<TxnResult> {
      try {
        const res = await client.kv.txn(
          {
            compare: compares.map(toCompare),
            success: success.map(toRequestOp),
            failure: failure.map(toRequestOp),
          },
          deadline(limits),
        );
        const branch = res.succeeded ? success : failure;
        const gets: (Kv | null)[] = [];
        branch.forEach((op, i) => {
          if (op.op !== 'get') return;
          const kv = res.responses[i]?.response_range?.kvs[0];
          gets.push(kv === undefined ? null : toKv(kv));
        });
        return { succeeded: res.succeeded, revision: res.header.revision, gets };
      } catch (e) {
        if (e instanceof EtcdLeaseInvalidError) {
          const lease = success.find((op) => op.op === 'put' && op.lease !== undefined);
          throw new LeaseNotFoundError(lease?.op === 'put' ? (lease.lease ?? '?') : '?', { cause: e });
        }
        throw e;
      }
    },

    watchPrefix: (prefix, handlers) => watchPrefix(client, prefix, handlers),

    close() {
      prober?.stop();
      keepAlives.close();
      for (const c of perMember?.values() ?? []) c.close();
      client.close();
    },
  };
}

function toKv(kv: IKeyValue): Kv {
  return {
    key: kv.key.toString(),
    value: kv.value.toString(),
    createRevision: kv.create_revision,
    modRevision: kv.mod_revision,
    lease: kv.lease,
  };
}

function toCompare(c: Compare): ICompare {
  const base: ICompare = { key: Buffer.from(c.key), target: COMPARE_TARGET[c.target], result: 'Equal' };
  switch (c.target) {
    case 'create':
      return { ...base, create_revision: c.revision };
    case 'mod':
      return { ...base, mod_revision: c.revision };
    case 'value':
      return { ...base, value: Buffer.from(c.value) };
    case 'lease':
      return { ...base, lease: c.lease };
  }
}

function toRequestOp(op: Op): IRequestOp {
  switch (op.op) {
    case 'put':
      return {
        request_put: { key: Buffer.from(op.key), value: Buffer.from(op.value), lease: op.lease ?? '0' },
      };
    case 'delete':
      return { request_delete_range: { key: Buffer.from(op.key) } };
    case 'deletePrefix':
      return { request_delete_range: { key: Buffer.from(op.prefix), range_end: prefixEnd(op.prefix) } };
    case 'get':
      return { request_range: { key: Buffer.from(op.key) } };
  }
}

type KeepAliveCall = Awaited<ReturnType<Etcd3['leaseClient']['leaseKeepAlive']>>;

interface PendingRenewal {
  readonly resolve: (r: { ttlSeconds: number }) => void;
  readonly reject: (e: unknown) => void;
  readonly timer: NodeJS.Timeout;
}

/** What a keepalive stream tells of its member. */
interface StreamReport {
  answered(): void;
  /** `hard`: a renewal unanswered within its deadline, or the stream broke */
  failed(how: HostFailure): void;
}

/**
 * One LeaseKeepAlive stream kept open for the node's lease: each renewal is a message on it,
 * not a new stream (issue 15: a stream per renewal cost etcd a stream start, a message and a
 * cancel every 250 ms on the leader). etcd answers one stream's keepalives in order, so an
 * answer goes to the oldest request waiting. Any doubt ends the stream — a request not
 * answered within its own deadline, an error, an end, an answer with no request waiting —
 * and fails every request still waiting on it; the next renewal opens a new stream. So a
 * stalled member still holds a renewal no longer than `limits.timeoutMs`, and an answer is
 * never counted for a request it may not belong to. etcd3's `Lease` class is not used: its
 * loss event comes about a TTL late (stack-notes #4).
 */
class KeepAliveStream {
  readonly #leaseId: string;
  readonly #open: Promise<KeepAliveCall>;
  readonly #pending: PendingRenewal[] = [];
  readonly #report: StreamReport;
  #ended = false;

  constructor(client: Etcd3, leaseId: string, report: StreamReport) {
    this.#leaseId = leaseId;
    this.#report = report;
    this.#open = client.leaseClient.leaseKeepAlive();
    this.#open.then(
      (stream) => {
        if (this.#ended) return stream.cancel();
        stream.on('data', (res: { TTL: string }) => {
          const head = this.#pending.shift();
          if (head === undefined)
            return this.end(new Error('lease keepalive answer with no request waiting'));
          clearTimeout(head.timer);
          this.#report.answered();
          head.resolve({ ttlSeconds: Number(res.TTL) });
        });
        stream.on('error', (err: unknown) => this.#broken(err, 'hard'));
        stream.on('end', () => this.#broken(new Error('lease keepalive stream ended'), 'soft'));
      },
      (err: unknown) => this.#broken(err, 'hard'),
    );
  }

  get leaseId(): string {
    return this.#leaseId;
  }

  get ended(): boolean {
    return this.#ended;
  }

  renew(limits: CallLimits): Promise<{ ttlSeconds: number }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.#broken(new Error(`lease keepalive timed out after ${limits.timeoutMs} ms`), 'hard'),
        limits.timeoutMs,
      );
      this.#pending.push({ resolve, reject, timer });
      this.#open.then(
        (stream) => {
          if (!this.#ended) stream.write({ ID: this.#leaseId });
        },
        () => undefined, // the stream's own handler ended it and failed this request
      );
    });
  }

  /** The member failed us (not our own end, whose cancel comes back as an error too). */
  #broken(why: unknown, how: HostFailure): void {
    if (this.#ended) return;
    this.#report.failed(how);
    this.end(why);
  }

  /** Fails every waiting request with `why` and cancels the stream; idempotent. */
  end(why: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const p of this.#pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(why);
    }
    // late errors (e.g. CANCELLED after cancel) stay handled by the listeners above
    this.#open.then(
      (stream) => stream.cancel(),
      () => undefined,
    );
  }
}

/**
 * The one open keepalive stream, replaced when it ended or the lease changed. A new stream
 * goes to the member `health` ranks first: the one the last stream was on while it has not
 * failed, else the member that answered anything last — never back to a member that just let
 * a renewal go unanswered while another is not known to be gone.
 */
function keepAliveStreams(
  clients: { members: ReadonlyMap<string, Etcd3>; health: HostHealth | null },
  log: Logger,
): {
  once(leaseId: string, limits: CallLimits): Promise<{ ttlSeconds: number }>;
  close(leaseId?: string): void;
  host(): string | null;
} {
  let current: KeepAliveStream | null = null;
  let host: string | null = null;
  const { members, health } = clients;
  const pick = () => health?.ranked(host)[0] ?? [...members.keys()][0]!;
  return {
    once(leaseId, limits) {
      if (current === null || current.ended || current.leaseId !== leaseId) {
        current?.end(new Error('lease keepalive stream replaced'));
        const next = pick();
        if (host !== null && next !== host)
          log.info(
            { from: bare(host), to: bare(next) },
            'lease keepalive stream moved to another etcd member',
          );
        host = next;
        current = new KeepAliveStream(members.get(next)!, leaseId, {
          answered: () => health?.succeeded(next),
          failed: (how) => health?.failed(next, how),
        });
      }
      return current.renew(limits);
    },
    close(leaseId) {
      if (current === null || (leaseId !== undefined && current.leaseId !== leaseId)) return;
      current.end(new Error('lease keepalive stream closed'));
      current = null;
    },
    host: () => (host === null ? null : bare(host)),
  };
}

/** `host:port` without etcd3's scheme prefix. */
function bare(host: string): string {
  return host.replace(/^[a-z]+:\/\//, '');
}

function watchPrefix(client: Etcd3, prefix: string, handlers: WatchHandlers): WatchHandle {
  let closed = false;
  let current: Awaited<ReturnType<ReturnType<Etcd3['watch']>['create']>> | null = null;
  let retryTimer: NodeJS.Timeout | undefined;

  // A watch the server cancelled (e.g. compaction) is not reconnected by
  // etcd3 and reports 'error': start a fresh one.
  const start = () => {
    if (closed) return;
    const watcher = client.watch().prefix(prefix).watcher();
    current = watcher;
    watcher.on('connected', () => handlers.onConnected());
    watcher.on('data', (res) =>
      handlers.onEvents(
        res.header.revision,
        res.events.map((ev) => ({ type: ev.type === 'Put' ? 'put' : 'delete', kv: toKv(ev.kv) })),
      ),
    );
    watcher.on('disconnected', (err) => handlers.onBroken(err));
    watcher.on('error', (err) => {
      handlers.onBroken(err);
      if (current === watcher) {
        current = null;
        watcher.cancel().catch(() => undefined);
        retryTimer = setTimeout(start, WATCH_BACKOFF_MAX_MS);
      }
    });
  };
  start();
  return {
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      const w = current;
      current = null;
      if (w !== null) await w.cancel().catch(() => undefined);
    },
  };
}
