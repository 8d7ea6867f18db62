export { type UiHubOptions, type UiHubTiming, UI_HUB_TIMING, UiHub, type UiListener } from './hub.js';
export { LagClock, type LeaderPosition } from './lag-clock.js';
export { fetchUiPeer, parsePeerReport } from './peer.js';
export { REDACTED, redactSecrets, redactText } from './redact.js';
export { type UiRoutesOptions, uiRoutes } from './routes.js';
export { type SseFrame, sseComment, sseFrame } from './sse.js';
export {
  buildUiState,
  UI_HISTORY_ROWS,
  type UiHistoryRow,
  type UiMember,
  type UiPeerReport,
  type UiReason,
  type UiState,
  type UiStateInput,
  uiUrlOf,
} from './state.js';
