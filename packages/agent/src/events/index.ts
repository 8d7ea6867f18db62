export {
  BOOT_ID_PATTERN,
  type EventId,
  type EventReason,
  formatEventId,
  HAPG_EVENT_TYPES,
  type HapgEvent,
  type HapgEventType,
  parseEventId,
  toWireEvent,
  type WireEvent,
} from './event.js';
export {
  DEFAULT_JOURNAL_CAPACITY,
  EventJournal,
  type EventInput,
  type EventJournalOptions,
  type EventSubscriber,
  type JournalLog,
  type RecentQuery,
} from './journal.js';
export {
  EVENTS_LIMIT_DEFAULT,
  EVENTS_LIMIT_MAX,
  type EventRoutesOptions,
  type EventsQuery,
  eventRoutes,
  type ParsedEventsQuery,
  parseEventsQuery,
} from './routes.js';
export {
  WEBHOOK_DEFAULTS,
  type WebhookLog,
  WebhookSender,
  type WebhookSenderOptions,
  type WebhookStats,
} from './webhook.js';
export { type EventState, transitions } from './transitions.js';
export { LoopEvents } from './loop-events.js';
