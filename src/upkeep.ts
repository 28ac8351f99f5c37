import type { Acknowledger, DeliveryLedger, Hub, Publisher } from './hub/index.js';
import { PeriodicTasks } from './periodic-tasks.js';

/** How often replayed and mended delivery figures are written. */
const DELIVERY_FLUSH_MS = 5_000;
/** How long a first ack may wait in memory before it is written (with others). */
const ACK_FLUSH_MS = 500;
const HOUSEKEEPING_MS = 3_600_000;
const AUTH_EVENT_RETENTION_MS = 24 * 3_600_000;
/** How often a cluster node looks in the database for a code the broker never brought it. */
const MISSED_CHECK_MS = 2_000;

export interface UpkeepParts {
  readonly hub: Hub;
  readonly deliveries: DeliveryLedger;
  readonly acknowledger: Acknowledger;
  readonly publisher: Publisher;
  /** In a cluster: looks for codes the broker never brought (`BrokerReceiver.checkMissed`). */
  readonly checkMissed?: (ageMs: number) => Promise<void>;
  /** The store's auth events, of which a day is kept. */
  readonly authEvents: { forget(olderThanMs: number): Promise<void> };
  readonly heartbeatMs: number;
  readonly sweepMs: number;
  /** Hears how many stale connections a sweep closed, when it closed any. */
  readonly swept: (closed: number) => void;
  readonly failed: (error: unknown) => void;
}

/**
 * Everything the server does on a clock: heartbeats, the stale sweep, the
 * writes of delivery figures and acks, and hourly housekeeping. Answers the
 * tasks, to be stopped on stop.
 */
export function startUpkeep(parts: UpkeepParts): PeriodicTasks {
  const tasks = new PeriodicTasks(parts.failed);
  tasks.every(parts.heartbeatMs, () => parts.hub.heartbeat());
  tasks.every(parts.sweepMs, () => {
    const closed = parts.hub.sweep();
    if (closed > 0) parts.swept(closed);
  });
  tasks.every(DELIVERY_FLUSH_MS, () => parts.deliveries.flush());
  const { checkMissed } = parts;
  if (checkMissed) tasks.every(MISSED_CHECK_MS, () => checkMissed(MISSED_CHECK_MS));
  tasks.every(ACK_FLUSH_MS, () => parts.acknowledger.flushDue());
  tasks.every(HOUSEKEEPING_MS, async () => {
    await parts.publisher.forgetOldKeys();
    await parts.authEvents.forget(Date.now() - AUTH_EVENT_RETENTION_MS);
  });
  return tasks;
}
