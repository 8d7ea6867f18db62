/**
 * The only surface of etcd the store uses (stack-notes #17): etcd3 is
 * unmaintained, so everything above this interface must work unchanged over a
 * patched fork or another client. Revisions and lease ids are decimal strings
 * (int64 does not fit a JS number exactly).
 */

export interface Kv {
  readonly key: string;
  readonly value: string;
  readonly createRevision: string;
  readonly modRevision: string;
  /** '0' when the key is not bound to a lease */
  readonly lease: string;
}

export type Compare =
  | { readonly key: string; readonly target: 'create'; readonly revision: string }
  | { readonly key: string; readonly target: 'mod'; readonly revision: string }
  | { readonly key: string; readonly target: 'value'; readonly value: string }
  | { readonly key: string; readonly target: 'lease'; readonly lease: string };

export type Op =
  | { readonly op: 'put'; readonly key: string; readonly value: string; readonly lease?: string }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'deletePrefix'; readonly prefix: string }
  | { readonly op: 'get'; readonly key: string };

export interface TxnResult {
  readonly succeeded: boolean;
  /** store revision after the txn (the mod revision of what it wrote, if it wrote) */
  readonly revision: string;
  /** one entry per `get` op of the branch that ran: the key, or null when absent */
  readonly gets: readonly (Kv | null)[];
}

export interface ListResult {
  readonly revision: string;
  readonly kvs: readonly Kv[];
}

export interface LeaseGrant {
  readonly id: string;
  /** the TTL etcd granted; it raises small requests to its minimum */
  readonly ttlSeconds: number;
}

/** What etcd's LeaseTimeToLive says of a lease that exists. */
export interface LeaseRemaining {
  /** whole seconds left, rounded down: the lease expires in under remainingS + 1 s */
  readonly remainingS: number;
  /** the TTL the lease was granted with (each keepalive restarts it from this) */
  readonly grantedS: number;
}

/** One change the watch reports; a delete's `kv` has the key and the deletion's `modRevision`. */
export interface WatchEvent {
  readonly type: 'put' | 'delete';
  readonly kv: Kv;
}

export interface WatchHandlers {
  /** the watch is (re)established: events from now on will arrive */
  onConnected(): void;
  /**
   * One watch response: its events in revision order, and the store revision it was sent at.
   * Applied to the view between full lists (stack-notes #7: a watch can skip events around a
   * reconnect, so every reconnect and error is followed by a list).
   */
  onEvents(revision: string, events: readonly WatchEvent[]): void;
  /** the stream broke or the server cancelled the watch; the backend reconnects by itself */
  onBroken(error: unknown): void;
}

export interface WatchHandle {
  close(): Promise<void>;
}

/** Per-call limits; every call has a deadline (stack-notes #5). */
export interface CallLimits {
  readonly timeoutMs: number;
}

export interface EtcdBackend {
  grantLease(ttlSeconds: number, limits: CallLimits): Promise<LeaseGrant>;
  /** one keepalive; resolves with the TTL etcd reports — 0 means the lease no longer exists */
  keepAliveOnce(leaseId: string, limits: CallLimits): Promise<{ ttlSeconds: number }>;
  revokeLease(leaseId: string, limits: CallLimits): Promise<void>;
  /** LeaseTimeToLive of any lease: the seconds etcd says remain (whole, rounded down) and the TTL it was granted with; null when the lease does not exist (expired or revoked) */
  leaseTimeToLive(leaseId: string, limits: CallLimits): Promise<LeaseRemaining | null>;
  list(prefix: string, limits: CallLimits): Promise<ListResult>;
  txn(
    compares: readonly Compare[],
    success: readonly Op[],
    failure: readonly Op[],
    limits: CallLimits,
  ): Promise<TxnResult>;
  watchPrefix(prefix: string, handlers: WatchHandlers): WatchHandle;
  close(): void;
}

/** Errors the backend raises that the store treats specially. */
export class LeaseNotFoundError extends Error {
  constructor(leaseId: string, options?: { cause?: unknown }) {
    super(`etcd lease ${leaseId} not found`, options);
    this.name = 'LeaseNotFoundError';
  }
}

/** The end of a prefix range: the prefix with its last byte incremented. */
export function prefixEnd(prefix: string): Buffer {
  const buf = Buffer.from(prefix);
  for (let i = buf.length - 1; i >= 0; i--) {
    if (buf[i]! < 0xff) {
      const end = Buffer.from(buf.subarray(0, i + 1));
      end[i] = buf[i]! + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}
