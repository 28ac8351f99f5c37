export { Hub, type HubOptions, type HubStats } from './hub.js';
export { DeliveryLedger, type DeliveryCounts, type DeliveryStats } from './delivery-ledger.js';
export { HistoryRing } from './history-ring.js';
export {
  TRANSPORTS,
  CLOSE_REASONS,
  type TransportName,
  type CloseReason,
  type Connection,
  type Encoder,
  type HubEvent,
  type HelloData,
} from './connection.js';
export { Publisher, type PublishResult, type PublishLog, type PublisherOptions } from './publisher.js';
export { RuntimeSettings, RUNTIME_DEFAULTS, type RuntimeSettingsValues } from './runtime-settings.js';
export { Acknowledger, type AckResult, type AckStats } from './acknowledger.js';
export { SILENT_OBSERVER, type HubObserver } from './hub-observer.js';
export { newConnectionId } from './connection-id.js';
export { InboundBudget, UserBudgets } from './inbound-budget.js';
export { isSlowConsumer, writesBehind } from './slow-consumer.js';
export type { AckLedger, CodeLedger, DeliveryRecords, SettingsRecord } from './ports.js';
