// A publish pipeline over fakes of the hub's ports: an in-memory code
// ledger, a recording broker and delivery records, a real hub and history
// (both in memory), and a real broker receiver that the broker delivers
// back to, as in a server. For unit tests of the publisher and of outages.
import { BrokerReceiver } from '../../src/broker-receiver.js';
import { DeliveryLedger, HistoryRing, Hub, Publisher, RuntimeSettings, type PublishResult } from '../../src/hub/index.js';
import { EventEncoder, FakeBroker, FakeCodeLedger, outage } from './fakes.js';

export interface CoreParts {
  readonly codes: FakeCodeLedger;
  readonly history: HistoryRing;
  readonly hub: Hub;
  readonly deliveries: DeliveryLedger;
  /** What the delivery ledger wrote: code id, counts, replayed. */
  readonly written: [number, Record<string, number>, number][];
  readonly broker: FakeBroker;
  /** This node's side of the broker; the publisher catches up through it unless told otherwise. */
  readonly receiver: BrokerReceiver;
  /** What the receiver said failed. */
  readonly receiverFailures: unknown[];
  /** Access changes the receiver applied, and how often it polled for more. */
  readonly access: { readonly applied: { kind: string; userId: number; tokenId: number | null }[]; polls: number };
  readonly settings: RuntimeSettings;
  readonly publisher: Publisher;
  /** What the publisher logged. */
  readonly logged: { published: PublishResult[]; failed: number[] };
  /** The runtime settings as stored; a test may change them behind the node's back. */
  readonly storedSettings: Record<string, unknown>;
  /** Makes the delivery records fail (an outage) until set back. */
  deliveriesDown: boolean;
}

export function coreParts(options: { dedupMs?: number; queueDeadlineMs?: number; fromDatabase?: () => Promise<void> } = {}): CoreParts {
  const codes = new FakeCodeLedger();
  const history = new HistoryRing(100);
  const written: CoreParts['written'] = [];
  const parts = { deliveriesDown: false } as { deliveriesDown: boolean };
  const deliveries = new DeliveryLedger({
    addDeliveries: async (id, counts, replayed) => {
      if (parts.deliveriesDown) throw outage();
      written.push([id, { ...counts }, replayed]);
    },
  });
  const hub = new Hub(
    { maxConnections: 100, maxConnectionsPerUser: 100, connectionQueue: 100, heartbeatMs: 60_000, staleMs: 120_000 },
    history,
    undefined,
    deliveries,
  );
  for (const transport of ['sse', 'ws', 'socketio'] as const) hub.useEncoder(new EventEncoder(transport));
  const broker = new FakeBroker();
  const stored: Record<string, unknown> = {};
  const settings = new RuntimeSettings({
    all: async () => ({ ...stored }),
    put: async (values) => void Object.assign(stored, values),
  });
  const receiverFailures: unknown[] = [];
  const access: CoreParts['access'] = { applied: [], polls: 0 };
  const receiver = new BrokerReceiver({
    hub,
    history,
    deliveries,
    codes,
    settings,
    access: {
      apply: async (change) => void access.applied.push(change),
      poll: async () => void access.polls++,
    },
    failed: (error) => void receiverFailures.push(error),
  });
  void broker.start(receiver);
  const logged: CoreParts['logged'] = { published: [], failed: [] };
  const publisher = new Publisher(
    { node: 'node-a', dedupMs: options.dedupMs ?? 2000, idempotencyMs: 86_400_000, queueDeadlineMs: options.queueDeadlineMs ?? 5_000 },
    codes,
    hub,
    deliveries,
    broker,
    settings,
    {
      published: (result) => void logged.published.push(result),
      bookkeepingFailed: (id) => void logged.failed.push(id),
      brokerFailed: (message) => void logged.failed.push(message.type === 'code' ? message.code.id : -1),
    },
    options.fromDatabase ?? (() => receiver.catchUp()),
  );
  return Object.assign(parts, {
    codes,
    history,
    hub,
    deliveries,
    written,
    broker,
    receiver,
    receiverFailures,
    access,
    settings,
    publisher,
    logged,
    storedSettings: stored,
  });
}
