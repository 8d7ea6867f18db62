import { type Member, type MemberName, type PeerStatus, parseTags, toLsn, toTimeline } from '@hapg/core';
import { httpText } from './http-text.js';

/**
 * Reads peers' `/patroni` status during an election. Each request is bounded
 * by `timeoutMs`; an unreachable peer is reported as such and never blocks.
 * Only members whose key is bound to a lease take part: another tool's key
 * (issue 11) is no agent, and one copying a real member's `api_url` under a
 * name that sorts first would otherwise outrank it, and every node would wait
 * for a "better" candidate that never takes the key.
 */
export async function fetchPeerStatuses(
  members: Iterable<Member>,
  self: MemberName,
  timeoutMs: number,
): Promise<Map<MemberName, PeerStatus>> {
  const peers = [...members].filter((m) => m.name !== self && m.leaseId !== null);
  const results = await Promise.all(peers.map((m) => fetchPeer(m, timeoutMs)));
  return new Map(results.map((p) => [p.name, p]));
}

export async function fetchPeer(member: Member, timeoutMs: number): Promise<PeerStatus> {
  const unreachable: PeerStatus = {
    name: member.name,
    reachable: false,
    xlogLocation: null,
    timeline: null,
    role: null,
    state: null,
    ...tagFields(member.tags),
  };
  if (!member.apiUrl) return unreachable;
  try {
    const res = await httpText(member.apiUrl, { timeoutMs });
    if (res.status < 200 || res.status > 299) return unreachable;
    return parsePeerStatus(member.name, JSON.parse(res.text));
  } catch {
    return unreachable;
  }
}

/** Parses a `/patroni` body; tolerant of missing fields (older or foreign agents). */
export function parsePeerStatus(name: MemberName, body: unknown): PeerStatus {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const xlog = (b.xlog ?? {}) as Record<string, unknown>;
  const tags = (typeof b.tags === 'object' && b.tags !== null ? b.tags : {}) as Record<string, unknown>;
  const candidates = [xlog.location, xlog.received_location, xlog.replayed_location].filter(
    (v): v is number | string => typeof v === 'number' || typeof v === 'string',
  );
  let xlogLocation = null;
  for (const c of candidates) {
    try {
      const l = toLsn(c);
      if (xlogLocation === null || l > xlogLocation) xlogLocation = l;
    } catch {
      // ignore a malformed position
    }
  }
  let timeline = null;
  try {
    timeline = b.timeline === undefined || b.timeline === null ? null : toTimeline(b.timeline);
  } catch {
    timeline = null;
  }
  return {
    name,
    reachable: true,
    xlogLocation,
    timeline,
    role: typeof b.role === 'string' ? b.role : null,
    state: typeof b.state === 'string' ? b.state : null,
    ...tagFields(tags),
    // Patroni's `watchdog_failed`: its required watchdog is unusable, it is no candidate
    ...(b.watchdog_failed === true ? { watchdogFailed: true } : {}),
    ...(b.pre_promote_failed === true ? { prePromoteFailed: true } : {}),
  };
}

/** The election's tags of a peer: its `/patroni` body's, else its member key's. */
function tagFields(
  raw: Readonly<Record<string, unknown>>,
): Pick<PeerStatus, 'nofailover' | 'failoverPriority'> {
  const { nofailover, failoverPriority } = parseTags(raw);
  return { nofailover, failoverPriority };
}
