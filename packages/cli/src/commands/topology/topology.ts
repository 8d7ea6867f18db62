import { type ClusterView, upstreamOf } from '@hapg/core';
import { type Column, type OutputFormat, renderData, renderTable } from '../../output/index.js';
import { type ListRow, listRows } from '../list/rows.js';

export interface TopologyNode {
  readonly row: ListRow;
  readonly depth: number;
  /** the member it replicates from; null for the leader and orphans */
  readonly upstream: string | null;
}

/**
 * The cascade tree: the leader first, each member under the member it streams from — what its
 * WAL receiver is connected to, as its member key says (`streaming_from`), else by the agents'
 * own rule (core's `upstreamOf`: its `replicatefrom` member while that one runs, else the
 * leader) — children by name. Every member appears exactly once (a cycle hangs under the
 * leader). Pure.
 */
export function topology(view: ClusterView): TopologyNode[] {
  const rows = listRows(view);
  const leader = view.leader?.name ?? null;
  const names = new Set(rows.map((r) => r.member));
  const upstream = (r: ListRow): string | null => {
    if (r.member === leader || leader === null || !names.has(leader)) return null;
    const streaming = view.members.get(r.member)?.raw.streaming_from;
    const up =
      typeof streaming === 'string' && streaming !== r.member
        ? streaming
        : upstreamOf(view, r.member, leader);
    return names.has(up) ? up : leader;
  };
  const children = new Map<string | null, ListRow[]>();
  for (const r of rows) {
    const up = upstream(r);
    children.set(up, [...(children.get(up) ?? []), r]);
  }
  const out: TopologyNode[] = [];
  const seen = new Set<string>();
  const visit = (r: ListRow, depth: number, upstream: string | null) => {
    if (seen.has(r.member)) return;
    seen.add(r.member);
    out.push({ row: r, depth, upstream });
    for (const c of children.get(r.member) ?? []) visit(c, depth + 1, r.member);
  };
  for (const r of children.get(null) ?? []) visit(r, 0, null);
  // without a leader nothing hangs off anyone
  for (const r of rows) visit(r, leader === null ? 0 : 1, leader);
  return out;
}

export function renderTopology(view: ClusterView, format: OutputFormat): string {
  const nodes = topology(view);
  if (format !== 'table') {
    return renderData(
      format,
      nodes.map((n) => ({
        member: n.row.member,
        replicates_from: n.upstream,
        depth: n.depth,
        role: n.row.role,
        state: n.row.state,
        host: n.row.host,
        tl: n.row.tl,
      })),
    );
  }
  const columns: Column[] = [
    { header: 'Member' },
    { header: 'Host' },
    { header: 'Role' },
    { header: 'State' },
    { header: 'TL', align: 'right' },
  ];
  const cells = nodes.map((n) => [
    `${'  '.repeat(n.depth)}+ ${n.row.member}`,
    n.row.host,
    n.row.role,
    n.row.state,
    n.row.tl === null ? '' : String(n.row.tl),
  ]);
  const id = view.initialize === null || view.initialize === '' ? 'uninitialized' : view.initialize;
  return renderTable(columns, cells, { title: `Cluster: ${view.scope} (${id})` });
}
