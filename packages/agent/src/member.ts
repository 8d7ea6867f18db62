import {
  lsnToJson,
  walPosition,
  type Member,
  type MemberJson,
  type NodeConfig,
  type PgObservation,
  SYNC_PROMISE_VERSION,
  tagFlag,
} from '@hapg/core';
import type { NodeSnapshot } from './api/snapshot.js';
import { formatApiUrl, formatConnUrl, pgAddressOf } from './conn.js';

/** Where peers reach our Postgres and our REST API (the member key's, and failsafe rounds'). */
export function ownUrls(config: NodeConfig): { readonly connUrl: string; readonly apiUrl: string } {
  const { postgresql, restapi } = config;
  return {
    connUrl: formatConnUrl(postgresql.connectAddress.host, postgresql.connectAddress.port),
    apiUrl: formatApiUrl(restapi.connectAddress.host, restapi.connectAddress.port, restapi.certfile !== null),
  };
}

/** The member JSON this node publishes at `members/<name>` (the Patroni contract). */
export function memberJson(
  config: NodeConfig,
  pg: PgObservation,
  snap: NodeSnapshot,
  version: string,
  /** the member our WAL receiver streams from now (`streamingFrom`) */
  streamingFrom: string | null = null,
): MemberJson {
  const { connUrl, apiUrl } = ownUrls(config);
  const json: MemberJson = {
    conn_url: connUrl,
    api_url: apiUrl,
    state: snap.pgState,
    role: snap.role,
    version,
  };
  const tags = publishedTags(config.tags.all);
  if (Object.keys(tags).length > 0) json.tags = tags;
  const xlog = walPosition(pg);
  if (xlog !== null) json.xlog_location = lsnToJson(xlog);
  if (pg.receiveLsn !== null) json.receive_lsn = lsnToJson(pg.receiveLsn);
  if (pg.replayLsn !== null) json.replay_lsn = lsnToJson(pg.replayLsn);
  if (pg.timeline !== null) json.timeline = pg.timeline;
  if (pg.inRecovery === true) json.replication_state = pg.streaming ? 'streaming' : 'in archive recovery';
  if (snap.pendingRestart) {
    json.pending_restart = true;
    if (snap.pendingRestartReason) json.pending_restart_reason = { ...snap.pendingRestartReason };
  }
  if (snap.paused) json.pause = true;
  if (snap.statusReason !== null) json.status_reason = snap.statusReason;
  if (streamingFrom !== null) json.streaming_from = streamingFrom;
  // a primary run by this code keeps the sync key's promise (docs/fast-failover.md I1–I4),
  // unless commits may return without a synchronous standby: then it says why
  if (pg.inRecovery === false) {
    if (snap.syncPromiseWithheld === null) json.sync_promise = SYNC_PROMISE_VERSION;
    else json.sync_promise_withheld = snap.syncPromiseWithheld;
  }
  return json;
}

/** The member whose `conn_url` is the sender our WAL receiver streams from; null when none is. */
export function streamingFrom(
  receiver: {
    readonly status: string;
    readonly senderHost: string | null;
    readonly senderPort: number | null;
  } | null,
  members: Iterable<Member>,
): string | null {
  if (receiver === null || receiver.status !== 'streaming' || receiver.senderHost === null) return null;
  for (const m of members) {
    const addr = pgAddressOf(m);
    if (addr !== null && addr.host === receiver.senderHost && addr.port === receiver.senderPort)
      return m.name;
  }
  return null;
}

/** The boolean tags Patroni leaves out of what it publishes unless they are true. */
const OMITTED_WHEN_FALSE: ReadonlySet<string> = new Set([
  'clonefrom',
  'nofailover',
  'noloadbalance',
  'nosync',
]);

/**
 * The tags as Patroni publishes them (the member key, `/patroni`): the node YAML's tags as
 * written, user tags and `failover_priority` included, without `clonefrom`, `nofailover`,
 * `noloadbalance` or `nosync` when false (Patroni 3's `get_tags`), so a member whose YAML spells
 * out the false defaults shows no tags in `patronictl list`. No default is added. Readers lose
 * nothing: parseTags reads an absent boolean tag as false (a left-out `nofailover: false` beside
 * `failover_priority: 0` reads as nofailover, which priority 0 already means for hapg's election).
 */
export function publishedTags(all: Readonly<Record<string, unknown>>): Record<string, unknown> {
  // fromEntries defines own properties: a `__proto__` tag stays a tag, never a prototype
  return Object.fromEntries(
    Object.entries(all).filter(([key, value]) => !OMITTED_WHEN_FALSE.has(key) || tagFlag(value) === true),
  );
}
