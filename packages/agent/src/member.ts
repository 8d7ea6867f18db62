import { lsnToJson, maxLsn, type MemberJson, type NodeConfig, type PgObservation } from '@hapg/core';
import type { NodeSnapshot } from './api/snapshot.js';
import { formatApiUrl, formatConnUrl } from './conn.js';

/** The member JSON this node publishes at `members/<name>` (the Patroni contract). */
export function memberJson(
  config: NodeConfig,
  pg: PgObservation,
  snap: NodeSnapshot,
  version: string,
): MemberJson {
  const pgAddr = config.postgresql.connectAddress;
  const api = config.restapi.connectAddress;
  const json: MemberJson = {
    conn_url: formatConnUrl(pgAddr.host, pgAddr.port),
    api_url: formatApiUrl(api.host, api.port, config.restapi.certfile !== null),
    state: snap.pgState,
    role: snap.role,
    version,
  };
  if (Object.keys(config.tags.all).length > 0) json.tags = { ...config.tags.all };
  const xlog = pg.inRecovery === false ? pg.flushLsn : maxLsn(pg.receiveLsn, pg.replayLsn);
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
  return json;
}
