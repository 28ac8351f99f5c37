import type { Acknowledger, DeliveryLedger, Hub } from './hub/index.js';
import { PeriodicTasks } from './periodic-tasks.js';
import { pruneOldRows, type PruneSteps, type Pruned, type RetentionPolicy } from './retention.js';

/** How often replayed and mended delivery figures are written. */
const DELIVERY_FLUSH_MS = 5_000;
/** How long a first ack may wait in memory before it is written (with others). */
const ACK_FLUSH_MS = 500;
const HOUSEKEEPING_MS = 3_600_000;
/**
 * The first housekeeping comes this soon after start, not an hour later: a
 * server restarted more often than hourly (deploys) must still prune. Not at
 * once: a start is when every client reconnects and replays.
 */
const FIRST_HOUSEKEEPING_MS = 60_000;
/** How often a cluster node looks in the database for a code the broker never brought it. */
const MISSED_CHECK_MS = 2_000;

export interface UpkeepParts {
  readonly hub: Hub;
  readonly deliveries: DeliveryLedger;
  readonly acknowledger: Acknowledger;
  /** In a cluster: looks for codes the broker never brought (`BrokerReceiver.checkMissed`). */
  readonly checkMissed?: (ageMs: number) => Promise<void>;
  /** The store's batches of deletes, and how long rows are kept. */
  readonly retention: PruneSteps;
  readonly policy: RetentionPolicy;
  /** Hears what a housekeeping run deleted, when it deleted anything. */
  readonly pruned: (pruned: Pruned) => void;
  readonly heartbeatMs: number;
  readonly sweepMs: number;
  /** Hears how many stale connections a sweep closed, when it closed any. */
  readonly swept: (closed: number) => void;
  readonly failed: (error: unknown) => void;
}

/**
 * Everything the server does on a clock: heartbeats, the stale sweep, the
 * writes of delivery figures and acks, and hourly housekeeping (retention).
 * Answers the tasks, to be stopped on stop.
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
  tasks.every(
    HOUSEKEEPING_MS,
    async (signal) => {
      const pruned = await pruneOldRows(parts.retention, parts.policy, Date.now(), { signal });
      if (Object.values(pruned).some((rows) => rows > 0)) parts.pruned(pruned);
    },
    FIRST_HOUSEKEEPING_MS,
  );
  return tasks;
}
