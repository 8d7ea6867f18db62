import { type ClusterView, sortMembers } from '@hapg/core';
import { CliError } from '../../errors.js';
import { hostPortOf } from '../../member-host.js';

export type DsnRole = 'primary' | 'replica' | 'any';

/**
 * libpq's `target_session_attrs` per role. `standby` (PostgreSQL 14+ libpq)
 * rather than `prefer-standby`: a replica DSN that silently lands on the
 * primary would hide the very failure the caller asked to avoid.
 */
export const TARGET_SESSION_ATTRS: Readonly<Record<DsnRole, string>> = {
  primary: 'read-write',
  replica: 'standby',
  any: 'any',
};

/** Quotes a libpq keyword value when it needs it: `'...'` with `\` and `'` escaped. */
export function libpqValue(v: string): string {
  return v !== '' && !/[\s'\\]/.test(v) ? v : `'${v.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/**
 * A multi-host libpq string listing every member, so it keeps working after a
 * failover: libpq tries the hosts in order and keeps the first whose session
 * matches `target_session_attrs`. The leader comes first for `primary` and
 * `any`, last for `replica`, to save a wasted connection attempt.
 */
export function buildDsn(view: ClusterView, role: DsnRole, dbname: string): string {
  let members = sortMembers(view);
  if (role === 'replica' && view.leader !== null && members[0]?.name === view.leader.name) {
    members = [...members.slice(1), members[0]];
  }
  const hosts = members.map((m) => hostPortOf(m.connUrl)).filter((hp) => hp !== null);
  if (hosts.length === 0)
    throw new CliError(`cluster ${JSON.stringify(view.scope)} has no member with a conn_url`);
  return [
    `host=${libpqValue(hosts.map((h) => h.host).join(','))}`,
    `port=${hosts.map((h) => h.port).join(',')}`,
    `dbname=${libpqValue(dbname)}`,
    `target_session_attrs=${TARGET_SESSION_ATTRS[role]}`,
  ].join(' ');
}
