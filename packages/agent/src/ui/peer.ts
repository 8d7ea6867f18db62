import { httpText } from '../http-text.js';
import type { UiPeerReport, UiReason } from './state.js';
import { uiUrlOf } from './state.js';

/** A peer's `GET /ui/reason`, bounded by `timeoutMs`; null when it does not answer sensibly. */
export async function fetchUiPeer(apiUrl: string, timeoutMs: number): Promise<UiPeerReport | null> {
  const ui = uiUrlOf(apiUrl);
  if (ui === null) return null;
  try {
    const res = await httpText(`${ui}/reason`, { timeoutMs });
    return res.status === 200 ? parsePeerReport(JSON.parse(res.text)) : null;
  } catch {
    return null;
  }
}

/** Tolerant of anything: an older agent or another tool answers what it answers. */
export function parsePeerReport(body: unknown): UiPeerReport | null {
  if (typeof body !== 'object' || body === null) return null;
  const b = body as Record<string, unknown>;
  const lease = b.lease_remaining_ms;
  return {
    reason: parseReason(b.reason),
    leaseRemainingMs: typeof lease === 'number' && Number.isFinite(lease) && lease >= 0 ? lease : null,
  };
}

function parseReason(r: unknown): UiReason | null {
  if (typeof r !== 'object' || r === null) return null;
  const { code, text } = r as Record<string, unknown>;
  if (typeof code !== 'string' || typeof text !== 'string') return null;
  // a reason is a line of text; a peer's answer is no place for a novel
  return { code: code.slice(0, 100), text: text.slice(0, 1000) };
}
