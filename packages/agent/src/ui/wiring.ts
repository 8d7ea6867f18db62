import type { ClusterView } from '@hapg/core';
import { systemClock } from '@hapg/platform';
import type { NodeSnapshot } from '../api/snapshot.js';
import type { EventJournal } from '../events/index.js';
import { UI_HUB_TIMING, UiHub } from './hub.js';
import { fetchUiPeer } from './peer.js';
import type { UiRoutesOptions } from './routes.js';
import type { UiReason } from './state.js';

/** The dashboard's hub and routes over the agent's loop and store (main.ts only wires). */
export function dashboard(p: {
  readonly ha: { snapshot(): NodeSnapshot; lastDecisionReason(): UiReason | null };
  readonly store: {
    view(): ClusterView | null;
    on(e: 'change', fn: () => void): unknown;
    off(e: 'change', fn: () => void): unknown;
  };
  readonly events: EventJournal;
}): UiRoutesOptions {
  const snapshot = () => p.ha.snapshot();
  const ownReason = () => p.ha.lastDecisionReason();
  const hub = new UiHub({
    snapshot,
    view: () => p.store.view(),
    onViewChange: (fn) => {
      p.store.on('change', fn);
      return () => p.store.off('change', fn);
    },
    journal: p.events,
    ownReason,
    fetchPeer: (apiUrl) => fetchUiPeer(apiUrl, UI_HUB_TIMING.peerTimeoutMs),
    clock: systemClock,
  });
  return { hub, snapshot, ownReason, clock: systemClock };
}
